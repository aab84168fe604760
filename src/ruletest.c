/* ruletest.c - parsing and running .test files of rule test cases.
 *
 *   ### B02: a lead without an e-mail is skipped
 *   rules ../../rules/activecampaign-salesforce.sync
 *   --- run 2026-11-02T10:00:00Z
 *   --- sf/Lead.json
 *   {"totalSize": 1, "done": true, "records": [...]}
 *   --- ac/contact.json
 *   {"contacts": [], "meta": {"total": "0"}}
 *   --- plan
 *   <the plan the run makes>
 *
 * Each case runs in a fresh temporary directory holding its state, its
 * replay answers and its outbox; answer files carry over from run to run
 * until a later run gives the same file again.  docs/testing.md is the
 * reference.
 */
#include "ruletest.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "compile.h"
#include "engine.h"
#include "status.h"
#include "store.h"
#include "unit.h"
#include "util.h"

enum { SEC_FILE, SEC_PLAN, SEC_STATUS, SEC_REQUESTS };

typedef struct Section {
    int kind;
    char *name;            /* SEC_FILE: "sf/Lead.json" */
    char *body;
    int first, last;       /* body lines, 0-based [first, last) in the file */
} Section;

typedef struct Run {
    int line;              /* 1-based line of its header */
    int64_t at;
    int force, crash, dry, paused;
    Section *sec;
    int nsec, capsec;
} Run;

typedef struct Case {
    char *name;
    int line;
    char *rules_path;      /* as written */
    char *rules_text;      /* inline */
    Run *runs;
    int nruns, capruns;
    char *error;           /* a malformed case */
} Case;

typedef struct File {
    char **lines;
    int nlines;
    Case *cases;
    int ncases;
} File;

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) { fputs("tandem: out of memory\n", stderr); abort(); }
    return q;
}

static char *join(char **lines, int from, int to) {
    Buf b;
    buf_init(&b);
    for (int i = from; i < to; i++) {
        buf_puts(&b, lines[i]);
        buf_putc(&b, '\n');
    }
    /* trailing blank lines separate cases; they are not part of a body */
    while (b.n >= 2 && b.p[b.n - 1] == '\n' && b.p[b.n - 2] == '\n') b.p[--b.n] = 0;
    return buf_take(&b);
}

static int is_header(const char *l) { return !strncmp(l, "### ", 4) || !strncmp(l, "--- ", 4); }

static char *case_error(Case *c, int line, const char *msg) {
    Buf b;
    buf_init(&b);
    buf_printf(&b, "line %d: %s", line, msg);
    free(c->error);
    c->error = buf_take(&b);
    return c->error;
}

static void parse(File *f) {
    int i = 0;
    while (i < f->nlines && strncmp(f->lines[i], "### ", 4) != 0) i++;
    while (i < f->nlines) {
        f->cases = xrealloc(f->cases, (size_t)(f->ncases + 1) * sizeof *f->cases);
        Case *c = &f->cases[f->ncases++];
        memset(c, 0, sizeof *c);
        c->name = strdup(f->lines[i] + 4);
        c->line = i + 1;
        i++;
        for (; i < f->nlines && !is_header(f->lines[i]); i++) {
            const char *l = f->lines[i];
            if (!strncmp(l, "rules ", 6)) c->rules_path = strdup(l + 6);
            else if (*l && *l != '#') case_error(c, i + 1, "expected 'rules PATH', a comment or a '--- ' section");
        }
        Run *run = NULL;
        while (i < f->nlines && !strncmp(f->lines[i], "--- ", 4)) {
            const char *h = f->lines[i] + 4;
            int hl = i + 1;
            int start = ++i;
            while (i < f->nlines && !is_header(f->lines[i])) i++;
            if (!strcmp(h, "rules")) {
                c->rules_text = join(f->lines, start, i);
                continue;
            }
            if (!strncmp(h, "run ", 4) || !strncmp(h, "dry-run ", 8)) {
                c->runs = xrealloc(c->runs, (size_t)(c->nruns + 1) * sizeof *c->runs);
                run = &c->runs[c->nruns++];
                memset(run, 0, sizeof *run);
                run->line = hl;
                run->dry = h[0] == 'd';
                char *args = strdup(strchr(h, ' ') + 1);
                char *save = NULL;
                char *tok = strtok_r(args, " ", &save);
                if (!tok || parse_datetime(tok, strlen(tok), &run->at) != 0)
                    case_error(c, hl, "a run needs its time: '--- run 2026-11-02T10:00:00Z'");
                while ((tok = strtok_r(NULL, " ", &save))) {
                    if (!strcmp(tok, "now")) run->force = 1;
                    else if (!strcmp(tok, "crash")) run->crash = 1;
                    else if (!strcmp(tok, "paused")) run->paused = 1;
                    else case_error(c, hl, "a run takes 'now' (every sync, due or not), 'paused' (as if the rules said paused) or 'crash' (stop after sending)");
                }
                free(args);
                continue;
            }
            if (!run) {
                case_error(c, hl, "a section before the first '--- run'");
                continue;
            }
            run->sec = xrealloc(run->sec, (size_t)(run->nsec + 1) * sizeof *run->sec);
            Section *s = &run->sec[run->nsec++];
            memset(s, 0, sizeof *s);
            s->first = start;
            s->last = i;
            s->body = join(f->lines, start, i);
            if (!strcmp(h, "plan")) s->kind = SEC_PLAN;
            else if (!strcmp(h, "status")) s->kind = SEC_STATUS;
            else if (!strncmp(h, "requests ", 9) && h[9] && !strchr(h + 9, '/')) {
                s->kind = SEC_REQUESTS;
                s->name = strdup(h + 9);
            }
            else if (strchr(h, '/') && strlen(h) > 5 && !strcmp(h + strlen(h) - 5, ".json") && !strstr(h, "..") && h[0] != '/') {
                s->kind = SEC_FILE;
                s->name = strdup(h);
            } else {
                case_error(c, hl, "sections are 'plan', 'status', 'requests SOURCE', or an answer file 'SOURCE/NAME.json'");
                run->nsec--;
                free(s->body);
            }
        }
        if (!c->error && !c->rules_path && !c->rules_text) case_error(c, c->line, "no rules: add 'rules PATH' or a '--- rules' section");
        if (!c->error && !c->nruns) case_error(c, c->line, "no '--- run' section");
        while (i < f->nlines && strncmp(f->lines[i], "### ", 4) != 0) i++;
    }
}

static void free_file(File *f) {
    for (int i = 0; i < f->ncases; i++) {
        Case *c = &f->cases[i];
        for (int r = 0; r < c->nruns; r++) {
            for (int s = 0; s < c->runs[r].nsec; s++) {
                free(c->runs[r].sec[s].name);
                free(c->runs[r].sec[s].body);
            }
            free(c->runs[r].sec);
        }
        free(c->runs);
        free(c->name);
        free(c->rules_path);
        free(c->rules_text);
        free(c->error);
    }
    free(f->cases);
    for (int i = 0; i < f->nlines; i++) free(f->lines[i]);
    free(f->lines);
}

/* ------------------------------------------------------------ running */

static int write_file(const char *dir, const char *name, const char *text) {
    Buf b;
    buf_init(&b);
    buf_printf(&b, "%s/%s", dir, name);
    char *path = buf_take(&b);
    for (char *s = path + strlen(dir) + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        mkdir(path, 0700);
        *s = '/';
    }
    FILE *f = fopen(path, "w");
    free(path);
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* a/b/../c -> a/c, lexically: how the rule file is shown does not depend
 * on where tandem test runs from only when the test names it relatively. */
static char *rules_file(const char *test_path, const char *rel) {
    if (rel[0] == '/') return strdup(rel);
    const char *slash = strrchr(test_path, '/');
    Buf b;
    buf_init(&b);
    if (slash) buf_printf(&b, "%.*s/", (int)(slash - test_path), test_path);
    buf_puts(&b, rel);
    return buf_take(&b);
}

static Program *compile_case(const Case *c, const char *test_path, const RuleTestOptions *o, Buf *out) {
    const char *dirs[2] = {o->stdlib, NULL};
    Unit *u = unit_new(dirs);
    if (c->rules_text) {
        const char *slash = strrchr(test_path, '/');
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - test_path) : 1, slash ? test_path : ".");
        unit_set_dir(u, dir);
        unit_load_text(u, "rules.sync", c->rules_text, strlen(c->rules_text));
    } else {
        /* Shown as the test writes it, so plans read the same from any
         * directory; read from beside the test file. */
        char *path = rules_file(test_path, c->rules_path);
        size_t n;
        char *text = read_file(path, &n);
        if (!text) {
            buf_printf(out, "cannot read rules '%s': %s\n", path, strerror(errno));
            free(path);
            unit_free(u);
            return NULL;
        }
        const char *slash = strrchr(path, '/');
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        unit_set_dir(u, dir);
        unit_load_text(u, c->rules_path, text, n);
        free(text);
        free(path);
    }
    check_unit(u);
    Program *p = u->diags.errors ? NULL : compile_unit(u);
    if (!p) diags_render(&u->diags, out, 0);
    unit_free(u);
    return p;
}

typedef struct Actual {
    char **text;           /* per run, per section: what the run produced (NULL for files) */
} Actual;

/* Runs one case; 0 when every expectation holds.  report gets the failure. */
static int run_case(const Case *c, const char *test_path, const RuleTestOptions *o, char ***actual, Buf *report) {
    if (c->error) {
        buf_printf(report, "%s\n", c->error);
        return -1;
    }
    Program *p = compile_case(c, test_path, o, report);
    if (!p) return -1;
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tandem-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        buf_printf(report, "cannot make a temporary directory: %s\n", strerror(errno));
        program_free(p);
        return -1;
    }
    char replay[4200], outbox[4200], state[4200];
    snprintf(replay, sizeof replay, "%s/replay", dir);
    snprintf(outbox, sizeof outbox, "%s/outbox", dir);
    snprintf(state, sizeof state, "%s/state.db", dir);
    mkdir(replay, 0700);
    int failed = 0;
    for (int ri = 0; ri < c->nruns && !failed; ri++) {
        const Run *run = &c->runs[ri];
        actual[ri] = calloc((size_t)run->nsec + 1, sizeof *actual[ri]);
        for (int s = 0; s < run->nsec; s++)
            if (run->sec[s].kind == SEC_FILE && write_file(replay, run->sec[s].name, run->sec[s].body) != 0) {
                buf_printf(report, "line %d: cannot write %s\n", run->sec[s].first, run->sec[s].name);
                failed = 1;
            }
        /* every source of the rules answers, even with no file yet */
        for (uint32_t si = 0; si < p->nsyncs && !failed; si++)
            for (int k = 0; k < 2; k++) {
                char sd[4400];
                snprintf(sd, sizeof sd, "%s/%s", replay, program_str(p, p->syncs[si].side[k].source));
                mkdir(sd, 0700);
            }
        if (failed) break;
        long before[64];
        for (int s = 0; s < run->nsec && s < 64; s++) {
            before[s] = 0;
            if (run->sec[s].kind != SEC_REQUESTS) continue;
            char rq[4400];
            snprintf(rq, sizeof rq, "%s/%s/requests.jsonl", outbox, run->sec[s].name);
            struct stat sb;
            if (stat(rq, &sb) == 0) before[s] = (long)sb.st_size;
        }
        Buf err, out;
        buf_init(&err);
        buf_init(&out);
        Store *st = store_open(state, run->dry ? STORE_READONLY : 0, &err);
        Connector **src = NULL;
        uint32_t nsrc = 0;
        Plan pl;
        plan_init(&pl, p, run->at);
        EngineResult res;
        memset(&res, 0, sizeof res);
        buf_init(&res.failures);
        int rc = -1;
        if (st && replay_open_all(p, replay, outbox, run->at, o->replay_hold, &src, &nsrc, &err) == 0) {
            EngineOptions eo;
            memset(&eo, 0, sizeof eo);
            eo.rules = c->rules_path ? c->rules_path : "rules.sync";
            eo.now = run->at;
            eo.apply = !run->dry;
            eo.force = run->force || run->dry;
            eo.crash_after_send = run->crash;
            eo.pause_all = run->paused;
            eo.stream_batch = o->stream_batch;
            eo.apply_part = o->apply_part;
            rc = engine_run(p, st, src, nsrc, &eo, &pl, &res, &err);
        }
        plan_text(&pl, &out);
        if (rc != 0) buf_printf(&out, "error: %s\n", buf_str(&err));
        else if (!run->dry) {
            engine_result_text(&res, &out);
        }
        if (src) connectors_close(src, nsrc);
        for (int s = 0; s < run->nsec; s++) {
            const Section *sec = &run->sec[s];
            if (sec->kind == SEC_PLAN) actual[ri][s] = strdup(buf_str(&out));
            if (sec->kind == SEC_REQUESTS) {
                /* what this run appended to the source's requests.jsonl */
                char rq[4400];
                snprintf(rq, sizeof rq, "%s/%s/requests.jsonl", outbox, sec->name);
                size_t n = 0;
                char *all = read_file(rq, &n);
                long from = s < 64 ? before[s] : 0;
                actual[ri][s] = strdup(all && (long)n >= from ? all + from : "");
                free(all);
            }
            if (sec->kind == SEC_STATUS) {
                Buf so, se;
                buf_init(&so);
                buf_init(&se);
                int healthy;
                StatusOptions sopt = {0, INT64_MIN, 1};
                if (st && status_report(p, st, "state.db", run->at, &sopt, &so, &healthy, &se) != 0) buf_printf(&so, "error: %s\n", buf_str(&se));
                actual[ri][s] = buf_take(&so);
                buf_free(&se);
            }
        }
        store_close(st);
        if (!st) {
            buf_printf(report, "run at line %d: %s\n", run->line, buf_str(&err));
            failed = 1;
        }
        buf_free(&res.failures);
        plan_free(&pl);
        buf_free(&err);
        buf_free(&out);
        for (int s = 0; s < run->nsec && !failed; s++) {
            const Section *sec = &run->sec[s];
            if (sec->kind == SEC_FILE || o->update) continue;
            if (strcmp(sec->body, actual[ri][s]) != 0) {
                buf_printf(report, "run at line %d, '--- %s%s%s' differs (- expected, + actual):\n", run->line,
                           sec->kind == SEC_PLAN ? "plan" : sec->kind == SEC_STATUS ? "status" : "requests",
                           sec->kind == SEC_REQUESTS ? " " : "", sec->kind == SEC_REQUESTS ? sec->name : "");
                text_diff(sec->body, actual[ri][s], report);
                failed = 1;
            }
        }
    }
    if (o->keep) printf("kept %s (state.db, replay/, outbox/)\n", dir);
    else remove_tree(dir);
    program_free(p);
    return failed ? -1 : 0;
}

static void run_file(const char *path, const RuleTestOptions *o, FILE *out, int *passed, int *failed) {
    size_t n;
    char *text = read_file(path, &n);
    if (!text) {
        fprintf(out, "FAIL %s: cannot read: %s\n", path, strerror(errno));
        (*failed)++;
        return;
    }
    File f;
    memset(&f, 0, sizeof f);
    int cap = 0;
    for (char *s = text; *s;) {
        char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (f.nlines == cap) {
            cap = cap ? cap * 2 : 256;
            f.lines = xrealloc(f.lines, (size_t)cap * sizeof *f.lines);
        }
        f.lines[f.nlines++] = strndup(s, len);
        s += len + (nl ? 1 : 0);
    }
    free(text);
    parse(&f);
    /* --update: the file again, expected sections replaced */
    Buf upd;
    buf_init(&upd);
    int next = 0;
    for (int ci = 0; ci < f.ncases; ci++) {
        Case *c = &f.cases[ci];
        char ***actual = calloc((size_t)c->nruns + 1, sizeof *actual);
        Buf report;
        buf_init(&report);
        int rc = run_case(c, path, o, (char ***)actual, &report);
        if (rc == 0) {
            (*passed)++;
        } else {
            (*failed)++;
            fprintf(out, "FAIL %s:%d: %s\n%s", path, c->line, c->name, buf_str(&report));
        }
        if (o->update) {
            for (int ri = 0; ri < c->nruns; ri++)
                for (int s = 0; s < c->runs[ri].nsec; s++) {
                    Section *sec = &c->runs[ri].sec[s];
                    if (sec->kind == SEC_FILE || !actual[ri] || !actual[ri][s]) continue;
                    for (; next < sec->first; next++) buf_printf(&upd, "%s\n", f.lines[next]);
                    buf_puts(&upd, actual[ri][s]);
                    /* keep the blank lines that separated it from what follows */
                    int last = sec->last;
                    while (last > sec->first && !*f.lines[last - 1]) last--;
                    next = last;
                }
        }
        for (int ri = 0; ri < c->nruns; ri++) {
            if (actual[ri])
                for (int s = 0; s < c->runs[ri].nsec; s++) free(actual[ri][s]);
            free(actual[ri]);
        }
        free(actual);
        buf_free(&report);
    }
    if (o->update) {
        for (; next < f.nlines; next++) buf_printf(&upd, "%s\n", f.lines[next]);
        FILE *w = fopen(path, "w");
        if (!w || fputs(buf_str(&upd), w) < 0) fprintf(out, "FAIL %s: cannot rewrite: %s\n", path, strerror(errno));
        if (w) fclose(w);
    }
    buf_free(&upd);
    free_file(&f);
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void ruletest_path(const char *path, const RuleTestOptions *o, FILE *out, int *passed, int *failed) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(out, "FAIL %s: %s\n", path, strerror(errno));
        (*failed)++;
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        run_file(path, o, out, passed, failed);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(out, "FAIL %s: %s\n", path, strerror(errno));
        (*failed)++;
        return;
    }
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.') continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        struct stat ss;
        if (stat(sub, &ss) != 0) continue;
        if (!S_ISDIR(ss.st_mode) && (l < 6 || strcmp(e->d_name + l - 5, ".test") != 0)) continue;
        names = xrealloc(names, (size_t)(n + 1) * sizeof *names);
        names[n++] = strdup(sub);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    for (int i = 0; i < n; i++) {
        ruletest_path(names[i], o, out, passed, failed);
        free(names[i]);
    }
    free(names);
}
