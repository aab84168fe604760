/* runner.c - runs the data-driven front-end tests (tests/check, tests/fmt,
 * tests/parse) and the formatter's promises over every shipped file.
 *
 * A .test file holds cases.  Lines before the first case are comments.
 *
 *   ### name of the case
 *   <rule file text, as test.sync>
 *   ---
 *   <expected output>
 *
 * The directory decides what the output is: tests/check - the diagnostics
 * of `tandem check` (no colour); tests/tree - those and the checked tree;
 * tests/fmt - the formatted file; tests/parse - the syntax tree and any
 * syntax errors; tests/code - the bytecode (explain without lines);
 * tests/vm - what `tandem eval` prints for the records given in sections
 * named by their side (`--- sf`), with optional `--- sync`, `--- base`,
 * `--- event` and `--- now` sections.  Every fmt case is also formatted
 * twice (idempotence) and its checked tree compared with the original's.
 *
 * usage: test-runner [--update] [--stdlib DIR] PATH...   (files or dirs)
 *        --update rewrites the expected outputs with what the code prints.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "compile.h"
#include "eval.h"
#include "fmt.h"
#include "parse.h"
#include "unit.h"
#include "util.h"

static const char *stdlib_dir = "stdlib";
static int update;
static int passed, failed;

enum { MAX_SECTIONS = 8 };

typedef struct Case {
    char *name;
    char *input;
    char *expected;
    int line;          /* line of the ### header */
    char *sect_name[MAX_SECTIONS]; /* "--- name" sections between input and expected */
    char *sect_body[MAX_SECTIONS];
    int nsect;
} Case;

/* ------------------------------------------------------------- diffing */

static void print_diff(const char *exp, const char *act) {
    Buf b;
    buf_init(&b);
    text_diff(exp, act, &b);
    fputs(buf_str(&b), stdout);
    buf_free(&b);
}

/* --------------------------------------------------------- running cases */

static void trim_end(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = 0;
}

/* Test cases may `use testsys` (tests/modules) besides the stdlib. */
static Unit *new_unit(void) {
    const char *dirs[3] = {stdlib_dir, "tests/modules", NULL};
    return unit_new(dirs);
}

static char *run_check(const char *input, int tree) {
    Unit *u = new_unit();
    unit_load_text(u, "test.sync", input, strlen(input));
    check_unit(u);
    Buf b;
    buf_init(&b);
    diags_render(&u->diags, &b, 0);
    if (tree && u->nmods) ast_dump(u->mods[0]->root, &b, DUMP_CHECKED);
    unit_free(u);
    return buf_take(&b);
}

static char *run_parse(const char *input) {
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    int f = diags_add_file(&d, "test.sync", input, strlen(input));
    TokenList tl;
    int nerr;
    Node *root = parse_file(&d, f, &a, &tl, &nerr);
    Buf b;
    buf_init(&b);
    ast_dump(root, &b, 0);
    diags_render(&d, &b, 0);
    diags_fini(&d);
    arena_free(&a);
    return buf_take(&b);
}

/* Formats text; NULL (with the diagnostics in *err) if it cannot. */
static char *run_fmt(const char *input, char **err) {
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    int f = diags_add_file(&d, "test.sync", input, strlen(input));
    Buf out;
    buf_init(&out);
    char *res = NULL;
    if (fmt_file(&d, f, &a, &out) == 0) {
        res = buf_take(&out);
    } else {
        Buf e;
        buf_init(&e);
        diags_render(&d, &e, 0);
        if (err) *err = buf_take(&e); else buf_free(&e);
    }
    buf_free(&out);
    diags_fini(&d);
    arena_free(&a);
    return res;
}

static void fail(const char *file, const Case *c, const char *what) {
    failed++;
    printf("FAIL %s:%d: %s: %s\n", file, c->line, c->name, what);
}

/* The formatter's promises for one text: idempotent, same checked tree. */
static int fmt_promises(const char *file, const Case *c, const char *input, const char *formatted) {
    char *again = run_fmt(formatted, NULL);
    int ok = 1;
    if (!again || strcmp(again, formatted) != 0) {
        fail(file, c, "formatting the formatted text changes it (not idempotent)");
        if (again) print_diff(formatted, again);
        ok = 0;
    }
    free(again);
    char *t1 = run_check(input, 1), *t2 = run_check(formatted, 1);
    /* Diagnostics carry line numbers; compare the trees only. */
    const char *s1 = strstr(t1, "(file"), *s2 = strstr(t2, "(file");
    if (!s1 || !s2 || strcmp(s1, s2) != 0) {
        fail(file, c, "the formatted text's checked tree differs from the original's");
        if (s1 && s2) print_diff(s1, s2);
        ok = 0;
    }
    free(t1);
    free(t2);
    return ok;
}

/* Compiles rule text; NULL with the diagnostics in *diags when it has errors. */
static Program *compile_text(const char *input, char **diags) {
    Unit *u = new_unit();
    unit_load_text(u, "test.sync", input, strlen(input));
    check_unit(u);
    Program *p = u->diags.errors ? NULL : compile_unit(u);
    Buf b;
    buf_init(&b);
    diags_render(&u->diags, &b, 0);
    *diags = buf_take(&b);
    unit_free(u);
    return p;
}

static char *run_explain(const char *input) {
    char *diags;
    Program *p = compile_text(input, &diags);
    if (!p) return diags;
    Buf b;
    buf_init(&b);
    buf_puts(&b, diags);
    free(diags);
    program_explain(p, &b, 0);
    program_free(p);
    return buf_take(&b);
}

/* tests/vm: the rule text, then sections: one per record (named by its
 * side), and optionally sync, base, event, now. */
static char *run_vm(const Case *c) {
    char *diags;
    Program *p = compile_text(c->input, &diags);
    if (!p) return diags;
    Buf b, err;
    buf_init(&b);
    buf_init(&err);
    buf_puts(&b, diags);
    free(diags);
    EvalInput in;
    memset(&in, 0, sizeof in);
    parse_datetime("2026-06-01T00:00:00Z", 20, &in.now);
    char *trimmed[MAX_SECTIONS] = {0};
    const char *rside[MAX_SECTIONS], *rjson[MAX_SECTIONS];
    int nr = 0;
    for (int i = 0; i < c->nsect; i++) {
        const char *n = c->sect_name[i];
        trimmed[i] = strdup(c->sect_body[i]);
        trim_end(trimmed[i]);
        if (!strcmp(n, "sync")) in.sync = trimmed[i];
        else if (!strcmp(n, "base")) in.base = trimmed[i];
        else if (!strcmp(n, "event")) in.event = trimmed[i];
        else if (!strcmp(n, "now")) parse_datetime(trimmed[i], strlen(trimmed[i]), &in.now);
        else { rside[nr] = n; rjson[nr++] = trimmed[i]; }
    }
    /* Two records of two sides are a pair; otherwise each runs alone (a
     * truth table: one rule, many records). */
    int pair = nr == 2 && strcmp(rside[0], rside[1]) != 0;
    for (int i = 0; i < (pair ? 1 : nr); i++) {
        in.nrecords = pair ? 2 : 1;
        for (int k = 0; k < in.nrecords; k++) {
            in.side[k] = rside[i + k];
            in.record[k] = rjson[i + k];
        }
        buf_free(&err);
        buf_init(&err);
        if (eval_program(p, &in, &b, &err) < 0) buf_printf(&b, "error: %s\n", buf_str(&err));
    }
    for (int i = 0; i < c->nsect; i++) free(trimmed[i]);
    buf_free(&err);
    program_free(p);
    return buf_take(&b);
}

static char *actual_for(const char *kind, const Case *c) {
    const char *input = c->input;
    if (strcmp(kind, "vm") == 0) return run_vm(c);
    if (strcmp(kind, "code") == 0) return run_explain(input);
    if (strcmp(kind, "check") == 0) return run_check(input, 0);
    if (strcmp(kind, "tree") == 0) return run_check(input, 1);
    if (strcmp(kind, "parse") == 0) return run_parse(input);
    char *err = NULL;
    char *r = run_fmt(input, &err);
    if (!r) return err ? err : strdup("(fmt failed)\n");
    return r;
}

static int parse_cases(char *text, Case **out) {
    int cap = 16, n = 0, line = 1;
    Case *v = calloc((size_t)cap, sizeof *v);
    char *p = text;
    Case *cur = NULL;
    Buf in, ex, sec;
    buf_init(&in);
    buf_init(&ex);
    buf_init(&sec);
    int section = 0; /* 0 preamble, 1 input, 2 expected, 3 a named section */
#define END_SECTION()                                                          \
    do {                                                                       \
        if (section == 3) cur->sect_body[cur->nsect - 1] = buf_take(&sec);     \
    } while (0)
    while (*p) {
        char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= 4 && strncmp(p, "### ", 4) == 0) {
            if (cur) { END_SECTION(); cur->input = buf_take(&in); cur->expected = buf_take(&ex); }
            if (n == cap) { cap *= 2; v = realloc(v, (size_t)cap * sizeof *v); }
            cur = &v[n++];
            memset(cur, 0, sizeof *cur);
            cur->name = strndup(p + 4, len - 4);
            cur->line = line;
            section = 1;
        } else if ((section == 1 || section == 3) && len == 3 && strncmp(p, "---", 3) == 0) {
            END_SECTION();
            section = 2;
        } else if ((section == 1 || section == 3) && len > 4 && strncmp(p, "--- ", 4) == 0 && cur->nsect < MAX_SECTIONS) {
            END_SECTION();
            cur->sect_name[cur->nsect++] = strndup(p + 4, len - 4);
            section = 3;
        } else if (section == 1) {
            buf_putn(&in, p, len);
            buf_putc(&in, '\n');
        } else if (section == 3) {
            buf_putn(&sec, p, len);
            buf_putc(&sec, '\n');
        } else if (section == 2) {
            buf_putn(&ex, p, len);
            buf_putc(&ex, '\n');
        }
        p += len + (e ? 1 : 0);
        line++;
    }
    if (cur) { END_SECTION(); cur->input = buf_take(&in); cur->expected = buf_take(&ex); }
    else { buf_free(&in); buf_free(&ex); }
    buf_free(&sec);
#undef END_SECTION
    *out = v;
    return n;
}

static const char *kind_of(const char *path) {
    if (strstr(path, "/fmt/") || strncmp(path, "fmt/", 4) == 0) return "fmt";
    if (strstr(path, "/parse/") || strncmp(path, "parse/", 6) == 0) return "parse";
    if (strstr(path, "/tree/") || strncmp(path, "tree/", 5) == 0) return "tree";
    if (strstr(path, "/vm/") || strncmp(path, "vm/", 3) == 0) return "vm";
    if (strstr(path, "/code/") || strncmp(path, "code/", 5) == 0) return "code";
    return "check";
}

static void run_file(const char *path) {
    char *text = read_file(path, NULL);
    if (!text) { printf("FAIL %s: cannot read\n", path); failed++; return; }
    const char *kind = kind_of(path);
    Case *cases;
    int n = parse_cases(text, &cases);
    Buf rewritten;
    buf_init(&rewritten);
    if (update) {
        /* Keep the preamble as it is. */
        char *first = strstr(text, "### ");
        while (first && first != text && first[-1] != '\n') first = strstr(first + 1, "### ");
        if (first) buf_putn(&rewritten, text, (size_t)(first - text));
        else buf_puts(&rewritten, text);
    }
    for (int i = 0; i < n; i++) {
        Case *c = &cases[i];
        char *act = actual_for(kind, c);
        char *exp = strdup(c->expected);
        trim_end(act);
        trim_end(exp);
        int ok = strcmp(act, exp) == 0;
        if (ok && strcmp(kind, "fmt") == 0) {
            /* The expected output formats to itself and means the same. */
            char *canon = run_fmt(c->input, NULL);
            if (canon) ok = fmt_promises(path, c, c->input, canon);
            free(canon);
            if (ok) passed++;
        } else if (ok) {
            passed++;
        } else if (!update) {
            fail(path, c, "output differs (- expected, + actual)");
            print_diff(exp, act);
        } else {
            passed++;
        }
        if (update) {
            buf_printf(&rewritten, "### %s\n%s", c->name, c->input);
            for (int k = 0; k < c->nsect; k++) buf_printf(&rewritten, "--- %s\n%s", c->sect_name[k], c->sect_body[k]);
            buf_printf(&rewritten, "---\n%s\n\n", act);
        }
        free(act);
        free(exp);
    }
    if (update) {
        char *s = buf_take(&rewritten);
        trim_end(s);
        FILE *f = fopen(path, "w");
        if (f) { fputs(s, f); fputc('\n', f); fclose(f); }
        free(s);
    } else {
        buf_free(&rewritten);
    }
    for (int i = 0; i < n; i++) {
        free(cases[i].name);
        free(cases[i].input);
        free(cases[i].expected);
        for (int k = 0; k < cases[i].nsect; k++) { free(cases[i].sect_name[k]); free(cases[i].sect_body[k]); }
    }
    free(cases);
    free(text);
}

/* Every shipped rule file and module: formatted is canonical, formatting
 * keeps its checked tree, and fmt of the fmt output is the same. */
static void run_shipped(const char *path) {
    char *text = read_file(path, NULL);
    Case c;
    memset(&c, 0, sizeof c);
    c.name = (char *)path;
    c.line = 1;
    if (!text) { fail(path, &c, "cannot read"); return; }
    char *err = NULL;
    char *formatted = run_fmt(text, &err);
    if (!formatted) {
        fail(path, &c, "cannot be formatted");
        if (err) printf("%s", err);
    } else if (fmt_promises(path, &c, text, formatted)) {
        /* ...and the same bytecode, source lines aside. */
        char *e1 = run_explain(text), *e2 = run_explain(formatted);
        if (strcmp(e1, e2) != 0) {
            fail(path, &c, "formatting changes the bytecode");
            print_diff(e1, e2);
        } else {
            passed++;
        }
        free(e1);
        free(e2);
    }
    free(err);
    free(formatted);
    free(text);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void run_path(const char *path, int shipped) {
    struct stat st;
    if (stat(path, &st) != 0) { printf("FAIL %s: no such file\n", path); failed++; return; }
    if (!S_ISDIR(st.st_mode)) {
        if (shipped) run_shipped(path); else run_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) return;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        const char *ext = shipped ? ".sync" : ".test";
        if (l < 6 || strcmp(e->d_name + l - 5, ext) != 0) continue;
        if (n == cap) { cap = cap ? cap * 2 : 16; names = realloc(names, (size_t)cap * sizeof *names); }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        if (shipped) run_shipped(full); else run_file(full);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv) {
    int shipped = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--update") == 0) update = 1;
        else if (strcmp(argv[i], "--stdlib") == 0 && i + 1 < argc) stdlib_dir = argv[++i];
        else if (strcmp(argv[i], "--shipped") == 0) shipped = 1;
        else run_path(argv[i], shipped);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
