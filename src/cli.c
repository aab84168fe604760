/* cli.c - the tandem command line: argument parsing, output and exit codes.
 *
 * The only layer that prints, reads the environment for its own options, or
 * exits.  Exit codes: 0 success, 1 problems found (errors, or warnings with
 * --strict, or files fmt would change), 2 usage.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bytecode.h"
#include "check.h"
#include "compile.h"
#include "engine.h"
#include "eval.h"
#include "fmt.h"
#include "ruletest.h"
#include "connector.h"
#include "status.h"
#include "store.h"
#include "unit.h"
#include "util.h"
#include "value.h"

#ifndef TD_VERSION
#define TD_VERSION "0.0.0"
#endif
#ifndef TD_STDLIB_DIR
#define TD_STDLIB_DIR "/usr/local/share/tandem/stdlib"
#endif

/* EXIT_BUSY: another run holds the state (sysexits' EX_TEMPFAIL: a
 * scheduler's wrapper knows to try again later, not to page anyone). */
enum { EXIT_OK = 0, EXIT_PROBLEMS = 1, EXIT_USAGE = 2, EXIT_BUSY = 75 };

static const char *stdlib_opt;   /* --stdlib DIR */

static const char usage_main[] =
    "usage: tandem <command> [options] [FILE...]\n"
    "\n"
    "tandem keeps a CRM and a marketing platform in two-way sync, following\n"
    "rules written in .sync files.\n"
    "\n"
    "commands:\n"
    "  check    check rule files and report every problem\n"
    "  fmt      print rule files in the canonical layout\n"
    "  build    compile a rule file into a program file (.tbc)\n"
    "  explain  show the bytecode of a rule file or program\n"
    "  eval     run one sync's rules on records given by hand\n"
    "  plan     show what a run would change, and why (changes nothing)\n"
    "  run      sync: apply the changes and record them\n"
    "  status   the sync health report: runs, errors, records waiting\n"
    "  test     run rule test cases (rules, recorded answers, expected plans)\n"
    "  help     show help for a command\n"
    "\n"
    "options for every command:\n"
    "  --stdlib DIR   where the standard modules are (also: TANDEM_STDLIB)\n"
    "  --help         help for the command\n"
    "  --version      print the version\n"
    "\n"
    "Run 'tandem help <command>' for a command's options.\n";

static const char usage_check[] =
    "usage: tandem check [--strict] [--format text|json] [--tree] FILE...\n"
    "\n"
    "Checks each rule file and the modules it uses: syntax, names against the\n"
    "system schemas, types of maps and comparisons, required fields, policies,\n"
    "criteria that can never match, plan limits and credentials written in the\n"
    "file.  Every problem is reported, GCC-style, with the source line.\n"
    "\n"
    "  --strict         warnings count as problems (exit 1)\n"
    "  --format json    print the diagnostics as a JSON array on stdout\n"
    "  --tree           print the checked syntax tree on stdout\n"
    "\n"
    "exit status: 0 clean, 1 errors (or warnings with --strict), 2 usage\n";

static const char usage_fmt[] =
    "usage: tandem fmt [--check | --write] FILE...\n"
    "\n"
    "Prints each rule file in the canonical layout (comments kept).  Only\n"
    "blanks and line breaks change; the file means exactly what it meant.\n"
    "\n"
    "  --check   print the names of files that are not in canonical layout\n"
    "            and exit 1 if there are any; change nothing\n"
    "  --write   rewrite files in place where the layout differs\n"
    "\n"
    "exit status: 0 done, 1 a file has syntax errors or (--check) differs, 2 usage\n";

static const char usage_build[] =
    "usage: tandem build FILE [-o PROGRAM]\n"
    "\n"
    "Checks and compiles a rule file into a program file, by default FILE with\n"
    "the extension .tbc.  explain and eval take a program file wherever they\n"
    "take a rule file.\n"
    "\n"
    "exit status: 0 built, 1 errors, 2 usage\n";

static const char usage_explain[] =
    "usage: tandem explain [--json] [--no-lines] FILE\n"
    "       tandem explain --opcodes\n"
    "\n"
    "Prints the bytecode of each sync of a rule file (or program file), entry\n"
    "point by entry point: address, opcode, operands, synopsis and the rule's\n"
    "source line, like SQLite's EXPLAIN.\n"
    "\n"
    "  --json       the same as JSON, for tools\n"
    "  --no-lines   leave the source lines out (to compare two layouts of a file)\n"
    "  --opcodes    print the instruction reference (docs/opcodes.md)\n";

static const char usage_plan[] =
    "usage: tandem plan FILE [--replay DIR | --record DIR] [--json] [--state FILE] [--at DATETIME]\n"
    "\n"
    "The dry run: reads what changed in each source since the last run and\n"
    "prints every change a run would make, each field before -> after with\n"
    "the rule that decided it, and the records skipped, in conflict, waiting\n"
    "or in error, with their reasons.  Changes nothing, the state included.\n"
    "Every sync that is not paused is planned, due or not.  The sources are\n"
    "the live APIs, with the credentials the rule file's settings name\n"
    "(docs/connectors/), unless --replay gives recorded answers.\n"
    "\n"
    "  --replay DIR   read recorded API answers from DIR/<source>/ (docs/replay.md)\n"
    "  --record DIR   save every API answer in DIR, credentials stripped, to\n"
    "                 replay later\n"
    "  --json         the plan as JSON (docs/plan.md)\n"
    "  --state FILE   the state file (default: .tandem/<name>.db beside the\n"
    "                 rule file <name>.sync)\n"
    "  --outbox DIR   where earlier replayed runs wrote (default\n"
    "                 .tandem/<name>.outbox beside the rule file)\n"
    "  --at DATETIME  plan as if it were this time (default: now)\n"
    "\n"
    "exit status: 0 nothing to do, 2 changes pending, 1 error\n";

static const char usage_run[] =
    "usage: tandem run FILE [--replay DIR | --record DIR] [--now] [--state FILE] [--outbox DIR] [--wait[=SECONDS]]\n"
    "                [--at DATETIME]\n"
    "\n"
    "Runs the syncs that are due: plans them, sends the changes, and records\n"
    "links, base values, cursors, statuses, errors and an audit log in the\n"
    "state.  Prints the plan it applied and what the systems refused.  The\n"
    "sources are the live APIs (docs/connectors/) unless --replay is given.\n"
    "\n"
    "  --replay DIR   read recorded API answers from DIR/<source>/; the\n"
    "                 requests go to the outbox instead of the systems\n"
    "  --record DIR   save every API answer in DIR, credentials stripped\n"
    "  --now          run every sync that is not paused, due or not\n"
    "  --state FILE   the state file (default: .tandem/<name>.db beside the\n"
    "                 rule file <name>.sync)\n"
    "  --outbox DIR   replay: where requests and their effects go\n"
    "                 (default .tandem/<name>.outbox beside the rule file)\n"
    "  --wait[=SECONDS]  when another run holds the state, wait for it\n"
    "                 (for ever, or that long) instead of giving up at once\n"
    "  --at DATETIME  run as if it were this time (default: now)\n"
    "\n"
    "exit status: 0 done, 1 errors (records refused or the run failed), 2 usage,\n"
    "75 another run holds the state (nothing was done)\n";

static const char usage_status[] =
    "usage: tandem status FILE [--json] [--state FILE] [--since DATETIME] [--page N] [--at DATETIME]\n"
    "\n"
    "The sync health report (B31): the last runs with their counts, each\n"
    "sync's last run, next due time, links and records waiting, the errors\n"
    "of the last run grouped by reason, and every record in error now with\n"
    "its reason and rule (an error stays until its record syncs).\n"
    "\n"
    "  --json         the report as JSON (every record in error)\n"
    "  --since DATETIME  only records in error since then\n"
    "  --page N       the Nth page of 50 records in error (text)\n"
    "  --state FILE   the state file (default: .tandem/<name>.db beside the\n"
    "                 rule file <name>.sync)\n"
    "\n"
    "exit status: 0 healthy, 1 the last run had errors or the state cannot be read\n";

static const char usage_test[] =
    "usage: tandem test [--update] [--keep] PATH...\n"
    "\n"
    "Runs rule test cases: each .test file holds cases of a rule file, the\n"
    "recorded answers of each source per run, and the plan each run must\n"
    "make (docs/testing.md).  A directory runs every .test file in it.\n"
    "Prints a diff for each failure and ends with 'N passed, N failed'.\n"
    "\n"
    "  --update   rewrite the expected plans with what the runs made\n"
    "  --keep     keep each case's state, answers and outbox, and say where\n"
    "\n"
    "exit status: 0 all passed, 1 a case failed, 2 usage\n";

static const char usage_eval[] =
    "usage: tandem eval FILE [--sync NAME] --record SIDE=JSON [--record SIDE=JSON]\n"
    "                        [--base JSON] [--event EVENT] [--now DATETIME]\n"
    "\n"
    "Runs one sync's rules on one or two records and prints what would happen,\n"
    "with the rule behind each action: the smallest dry run.  FILE is a rule\n"
    "file or a program file.\n"
    "\n"
    "  --sync NAME        the sync (needed when the file has several)\n"
    "  --record SIDE=JSON a record of the side named by its source (or left,\n"
    "                     right), as a JSON object of field names; @FILE reads it\n"
    "                     from a file.  One record: what creating it on the other\n"
    "                     side does.  Two: what updating the pair does.\n"
    "  --base JSON        the values of the last sync, {\"SIDE\": {\"Field\": value}};\n"
    "                     without it the pair has never synced\n"
    "  --event EVENT      run the handlers of 'create in X', 'update in X',\n"
    "                     'delete in X', 'convert' or 'remove from list'\n"
    "  --now DATETIME     the time of the run (default: now)\n"
    "\n"
    "exit status: 0 done, 1 errors (in the rules or a record), 2 usage\n";

static int want_color(FILE *f) {
    const char *nc = getenv("NO_COLOR");
    if (nc && *nc) return 0;
    const char *term = getenv("TERM");
    if (term && strcmp(term, "dumb") == 0) return 0;
    return isatty(fileno(f));
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Where the standard modules are: --stdlib, $TANDEM_STDLIB, next to the
 * binary (build tree or relocated install), then the configured prefix. */
static const char *find_stdlib(char *buf, size_t n) {
    if (stdlib_opt) return stdlib_opt;
    const char *env = getenv("TANDEM_STDLIB");
    if (env && *env) return env;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        static const char *const rel[] = {"/../stdlib", "/../../stdlib", "/../share/tandem/stdlib"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(buf, n, "%s%s", exe, rel[i]);
            if (is_dir(buf)) return buf;
        }
    }
    return TD_STDLIB_DIR;
}

/* The stdlib as a path relative to the working directory when it lies
 * inside it, so messages and explain read stdlib/salesforce.sync. */
static const char *shorten(const char *dir, char *buf, size_t n) {
    char real[PATH_MAX], cwd[PATH_MAX];
    if (!realpath(dir, real) || !getcwd(cwd, sizeof cwd)) return dir;
    size_t cl = strlen(cwd);
    if (strncmp(real, cwd, cl) == 0 && real[cl] == '/') {
        snprintf(buf, n, "%s", real + cl + 1);
        return buf;
    }
    snprintf(buf, n, "%s", real);
    return buf;
}

static Unit *load(const char *path) {
    char buf[PATH_MAX + 64], shortbuf[PATH_MAX + 64];
    const char *dirs[2] = {shorten(find_stdlib(buf, sizeof buf), shortbuf, sizeof shortbuf), NULL};
    Unit *u = unit_new(dirs);
    if (!u) { fputs("tandem: out of memory\n", stderr); exit(EXIT_PROBLEMS); }
    unit_load_file(u, path);
    return u;
}

static void print_diags(Unit *u) {
    Buf b;
    buf_init(&b);
    diags_render(&u->diags, &b, want_color(stderr) ? RENDER_COLOR : 0);
    fputs(buf_str(&b), stderr);
    buf_free(&b);
}

static int usage_error(const char *cmd_usage, const char *fmt, const char *arg) {
    fprintf(stderr, "tandem: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    fputs(cmd_usage, stderr);
    return EXIT_USAGE;
}

/* Options every command takes.  Returns 1 if argv[*i] was one of them. */
static int common_option(int argc, char **argv, int *i, const char *usage, int *rc) {
    const char *a = argv[*i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        fputs(usage, stdout);
        *rc = EXIT_OK;
        return 2;
    }
    if (strcmp(a, "--version") == 0) {
        printf("tandem %s\n", TD_VERSION);
        *rc = EXIT_OK;
        return 2;
    }
    if (strcmp(a, "--stdlib") == 0) {
        if (*i + 1 >= argc) { *rc = usage_error(usage, "%s needs a directory", a); return 2; }
        stdlib_opt = argv[++*i];
        return 1;
    }
    if (strncmp(a, "--stdlib=", 9) == 0) {
        stdlib_opt = a + 9;
        return 1;
    }
    return 0;
}

static int cmd_check(int argc, char **argv) {
    int strict = 0, json = 0, tree = 0, rc = EXIT_OK;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_option(argc, argv, &i, usage_check, &rc);
        if (c == 2) { free(files); return rc; }
        if (c == 1) continue;
        if (strcmp(a, "--strict") == 0) strict = 1;
        else if (strcmp(a, "--tree") == 0) tree = 1;
        else if (strcmp(a, "--format") == 0 || strncmp(a, "--format=", 9) == 0) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) { free(files); return usage_error(usage_check, "%s needs text or json", a); }
            if (strcmp(v, "json") == 0) json = 1;
            else if (strcmp(v, "text") == 0) json = 0;
            else { free(files); return usage_error(usage_check, "unknown format '%s' (text or json)", v); }
        } else if (a[0] == '-' && a[1]) {
            free(files);
            return usage_error(usage_check, "unknown option '%s'", a);
        } else {
            files[nfiles++] = a;
        }
    }
    if (nfiles == 0) { free(files); return usage_error(usage_check, "%s", "no rule file given"); }
    if (json) fputc('[', stdout);
    int first = 1;
    for (int f = 0; f < nfiles; f++) {
        Unit *u = load(files[f]);
        check_unit(u);
        if (u->diags.errors || (strict && u->diags.warnings)) rc = EXIT_PROBLEMS;
        if (json) {
            Buf b;
            buf_init(&b);
            diags_render_json(&u->diags, &b);
            /* Splice each file's array into one. */
            const char *s = buf_str(&b);
            size_t n = strlen(s);
            if (n > 2) {
                if (!first) fputc(',', stdout);
                fwrite(s + 1, 1, n - 2, stdout);
                first = 0;
            }
            buf_free(&b);
        } else {
            print_diags(u);
        }
        if (tree && u->nmods) {
            Buf b;
            buf_init(&b);
            ast_dump(u->mods[0]->root, &b, DUMP_CHECKED);
            fputs(buf_str(&b), stdout);
            buf_free(&b);
        }
        unit_free(u);
    }
    if (json) fputs("]\n", stdout);
    free(files);
    return rc;
}

static int write_atomic(const char *path, const char *text, size_t n) {
    struct stat st;
    mode_t mode = 0644;
    if (stat(path, &st) == 0) mode = st.st_mode & 07777;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return -1;
    snprintf(tmp, plen + 16, "%s.tandem-tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) { free(tmp); return -1; }
    int ok = fwrite(text, 1, n, f) == n;
    ok &= fflush(f) == 0;
    ok &= fclose(f) == 0;
    if (ok) ok = chmod(tmp, mode) == 0;
    if (ok) ok = rename(tmp, path) == 0;
    if (!ok) unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

static int cmd_fmt(int argc, char **argv) {
    int check = 0, write = 0, rc = EXIT_OK;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_option(argc, argv, &i, usage_fmt, &rc);
        if (c == 2) { free(files); return rc; }
        if (c == 1) continue;
        if (strcmp(a, "--check") == 0) check = 1;
        else if (strcmp(a, "--write") == 0 || strcmp(a, "-w") == 0) write = 1;
        else if (a[0] == '-' && a[1]) { free(files); return usage_error(usage_fmt, "unknown option '%s'", a); }
        else files[nfiles++] = a;
    }
    if (check && write) { free(files); return usage_error(usage_fmt, "%s", "--check and --write exclude each other"); }
    if (nfiles == 0) { free(files); return usage_error(usage_fmt, "%s", "no rule file given"); }
    for (int f = 0; f < nfiles; f++) {
        Arena a;
        arena_init(&a);
        Diags d;
        diags_init(&d, &a);
        size_t len;
        char *text = read_file(files[f], &len);
        if (!text) {
            fprintf(stderr, "tandem: cannot read '%s': %s\n", files[f], strerror(errno));
            rc = EXIT_PROBLEMS;
            diags_fini(&d);
            arena_free(&a);
            continue;
        }
        int file = diags_add_file(&d, files[f], text, len);
        Buf out;
        buf_init(&out);
        if (fmt_file(&d, file, &a, &out) != 0) {
            Buf b;
            buf_init(&b);
            diags_render(&d, &b, want_color(stderr) ? RENDER_COLOR : 0);
            fputs(buf_str(&b), stderr);
            buf_free(&b);
            rc = EXIT_PROBLEMS;
        } else {
            int same = out.n == len && memcmp(buf_str(&out), text, len) == 0;
            if (check) {
                if (!same) { printf("%s\n", files[f]); rc = EXIT_PROBLEMS; }
            } else if (write) {
                if (!same && write_atomic(files[f], buf_str(&out), out.n) != 0) {
                    fprintf(stderr, "tandem: cannot write '%s': %s\n", files[f], strerror(errno));
                    rc = EXIT_PROBLEMS;
                }
            } else {
                fputs(buf_str(&out), stdout);
            }
        }
        buf_free(&out);
        free(text);
        diags_fini(&d);
        arena_free(&a);
    }
    free(files);
    return rc;
}

/* A rule file compiled, or a program file loaded: whichever the file is. */
static Program *load_program(const char *path) {
    size_t len;
    char *data = read_file(path, &len);
    if (!data) {
        fprintf(stderr, "tandem: cannot read '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    Program *p = NULL;
    if (len >= 6 && memcmp(data, "TNDMBC", 6) == 0) {
        Buf err;
        buf_init(&err);
        p = program_load((const unsigned char *)data, len, &err);
        if (!p) fprintf(stderr, "tandem: %s: %s\n", path, buf_str(&err));
        buf_free(&err);
        free(data);
        return p;
    }
    free(data);
    Unit *u = load(path);
    check_unit(u);
    if (!u->diags.errors) p = compile_unit(u);
    if (u->diags.errors || u->diags.warnings) print_diags(u);
    unit_free(u);
    return p;
}

static int cmd_build(int argc, char **argv) {
    const char *file = NULL, *out = NULL;
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_option(argc, argv, &i, usage_build, &rc);
        if (c == 2) return rc;
        if (c == 1) continue;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc) return usage_error(usage_build, "%s needs a file name", a);
            out = argv[++i];
        } else if (a[0] == '-' && a[1]) return usage_error(usage_build, "unknown option '%s'", a);
        else if (file) return usage_error(usage_build, "%s", "one rule file at a time");
        else file = a;
    }
    if (!file) return usage_error(usage_build, "%s", "no rule file given");
    Program *p = load_program(file);
    if (!p) return EXIT_PROBLEMS;
    char *def = NULL;
    if (!out) {
        size_t n = strlen(file);
        def = malloc(n + 5);
        if (!def) { program_free(p); return EXIT_PROBLEMS; }
        memcpy(def, file, n + 1);
        if (n > 5 && !strcmp(def + n - 5, ".sync")) def[n - 5] = 0;
        strcat(def, ".tbc");
        out = def;
    }
    Buf b;
    buf_init(&b);
    program_save(p, &b);
    FILE *f = fopen(out, "wb");
    int ok = f && fwrite(buf_str(&b), 1, b.n, f) == b.n;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) {
        fprintf(stderr, "tandem: cannot write '%s': %s\n", out, strerror(errno));
        rc = EXIT_PROBLEMS;
    }
    buf_free(&b);
    free(def);
    program_free(p);
    return rc;
}

static int cmd_explain(int argc, char **argv) {
    int json = 0, lines = 1, ops = 0, rc = EXIT_OK;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_option(argc, argv, &i, usage_explain, &rc);
        if (c == 2) return rc;
        if (c == 1) continue;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--no-lines")) lines = 0;
        else if (!strcmp(a, "--opcodes")) ops = 1;
        else if (a[0] == '-' && a[1]) return usage_error(usage_explain, "unknown option '%s'", a);
        else if (file) return usage_error(usage_explain, "%s", "one file at a time");
        else file = a;
    }
    Buf b;
    buf_init(&b);
    if (ops) {
        opcodes_markdown(&b);
        fputs(buf_str(&b), stdout);
        buf_free(&b);
        return EXIT_OK;
    }
    if (!file) return usage_error(usage_explain, "%s", "no rule file given");
    Program *p = load_program(file);
    if (!p) return EXIT_PROBLEMS;
    if (json) program_explain_json(p, &b);
    else program_explain(p, &b, lines);
    fputs(buf_str(&b), stdout);
    buf_free(&b);
    program_free(p);
    return EXIT_OK;
}

/* JSON given inline, or @file. */
static char *json_arg(const char *v) {
    if (v[0] != '@') return strdup(v);
    char *s = read_file(v + 1, NULL);
    if (!s) fprintf(stderr, "tandem: cannot read '%s': %s\n", v + 1, strerror(errno));
    return s;
}

static int cmd_eval(int argc, char **argv) {
    const char *file = NULL, *sides[2] = {NULL, NULL}, *rec[2] = {NULL, NULL};
    char *owned[4] = {NULL, NULL, NULL, NULL};
    EvalInput in;
    memset(&in, 0, sizeof in);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    in.now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int nrec = 0, rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_option(argc, argv, &i, usage_eval, &rc);
        if (c == 2) goto out;
        if (c == 1) continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--sync") || !strcmp(a, "--record") || !strcmp(a, "--base") || !strcmp(a, "--event") ||
            !strcmp(a, "--now")) {
            if (!v) { rc = usage_error(usage_eval, "%s needs a value", a); goto out; }
            i++;
        }
        if (!strcmp(a, "--sync")) in.sync = v;
        else if (!strcmp(a, "--event")) in.event = v;
        else if (!strcmp(a, "--base")) {
            if (!(owned[2] = json_arg(v))) { rc = EXIT_PROBLEMS; goto out; }
            in.base = owned[2];
        } else if (!strcmp(a, "--now")) {
            if (parse_datetime(v, strlen(v), &in.now) != 0) { rc = usage_error(usage_eval, "'%s' is not a date-time", v); goto out; }
        } else if (!strcmp(a, "--record")) {
            const char *eq = strchr(v, '=');
            if (nrec == 2) { rc = usage_error(usage_eval, "%s", "at most two records"); goto out; }
            if (!eq || (eq[1] != '{' && eq[1] != '@')) { rc = usage_error(usage_eval, "%s", "--record takes SIDE=JSON or SIDE=@FILE"); goto out; }
            sides[nrec] = strndup(v, (size_t)(eq - v));
            if (!(owned[nrec] = json_arg(eq + 1))) { rc = EXIT_PROBLEMS; goto out; }
            rec[nrec] = owned[nrec];
            nrec++;
        } else if (a[0] == '-' && a[1]) { rc = usage_error(usage_eval, "unknown option '%s'", a); goto out; }
        else if (file) { rc = usage_error(usage_eval, "%s", "one file at a time"); goto out; }
        else file = a;
    }
    if (!file) { rc = usage_error(usage_eval, "%s", "no rule file given"); goto out; }
    if (!nrec) { rc = usage_error(usage_eval, "%s", "give a record with --record SIDE=JSON"); goto out; }
    Program *p = load_program(file);
    if (!p) { rc = EXIT_PROBLEMS; goto out; }
    Buf o, e;
    buf_init(&o);
    buf_init(&e);
    in.nrecords = nrec;
    for (int k = 0; k < nrec; k++) {
        in.side[k] = sides[k];
        in.record[k] = rec[k];
    }
    int r = 0;
    if (r == 0) r = eval_program(p, &in, &o, &e);
    fputs(buf_str(&o), stdout);
    if (r < 0) fprintf(stderr, "tandem: %s\n", buf_str(&e));
    rc = r == 0 ? EXIT_OK : EXIT_PROBLEMS;
    buf_free(&o);
    buf_free(&e);
    program_free(p);
out:
    for (int k = 0; k < 4; k++) free(owned[k]);
    for (int k = 0; k < 2; k++) free((char *)sides[k]);
    return rc;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* <dir>/.tandem/<stem><ext> for <dir>/<stem>.sync: one state (and one
 * replay outbox) per rule file, beside it, so two rule files of one name
 * in different directories never share one, and a run from another
 * directory (cron's is $HOME) finds the same state. */
static char *beside_rules(const char *file, const char *ext) {
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t n = strlen(base), dn = (size_t)(base - file);
    if (n > 5 && !strcmp(base + n - 5, ".sync")) n -= 5;
    else if (n > 4 && !strcmp(base + n - 4, ".tbc")) n -= 4;
    size_t len = dn + n + strlen(ext) + 16;
    char *s = malloc(len);
    if (!s) abort();
    snprintf(s, len, "%.*s.tandem/%.*s%s", (int)dn, file, (int)n, base, ext);
    return s;
}

typedef struct LegacyRun {
    const char *rules;
} LegacyRun;

static int legacy_each(void *ctx, const RunInfo *r) {
    ((LegacyRun *)ctx)->rules = r->rules;
    return 1;
}

/* tandem 0.1 kept the default state as .tandem/<stem>.db in the directory
 * tandem ran from.  A state there whose last run was this rule file's is
 * not left behind in silence: a run beside a new, empty state would sync
 * everything again.  1 (and a message) when one is found. */
static int legacy_state(const char *file, const char *state) {
    char *old = beside_rules(strrchr(file, '/') ? strrchr(file, '/') + 1 : file, ".db");
    struct stat sb;
    int found = 0;
    char a[PATH_MAX], b[PATH_MAX];
    /* (where the rule file is in the directory tandem runs from, the two
     * are one path, and the first stat finds it) */
    if (stat(state, &sb) != 0 && stat(old, &sb) == 0) {
        Buf err;
        buf_init(&err);
        Store *st = store_open(old, STORE_READONLY, &err);
        Arena ar;
        arena_init(&ar);
        LegacyRun lr = {NULL};
        if (st && store_runs_each(st, 1, &ar, &lr, legacy_each) == 0 && lr.rules && realpath(lr.rules, a) &&
            realpath(file, b) && !strcmp(a, b)) {
            fprintf(stderr,
                    "tandem: the state of %s is now %s, beside the rule file; the older one at %s is this file's:\n"
                    "  move it there (with its -wal and -shm files, when no run is going), or name it with --state\n",
                    file, state, old);
            found = 1;
        }
        arena_free(&ar);
        store_close(st);
        buf_free(&err);
    }
    free(old);
    return found;
}

static int ensure_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return 0;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    Buf err;
    buf_init(&err);
    int rc = make_dirs(dir, &err);
    if (rc != 0) fprintf(stderr, "tandem: %s\n", buf_str(&err));
    buf_free(&err);
    return rc;
}

/* TANDEM_STREAM_BATCH: left records decided a batch in a streamed sync
 * (docs/performance.md); for tests and measurements. */
static unsigned stream_batch(void) {
    const char *b = getenv("TANDEM_STREAM_BATCH");
    long n = b ? strtol(b, NULL, 10) : 0;
    return n > 0 && n < 1000000000 ? (unsigned)n : 0;
}

/* TANDEM_APPLY_PART: outcomes a run records a part (EngineOptions). */
static unsigned apply_part(void) {
    const char *b = getenv("TANDEM_APPLY_PART");
    long n = b ? strtol(b, NULL, 10) : 0;
    return n > 0 && n < 1000000000 ? (unsigned)n : 0;
}

/* TANDEM_REPLAY_HOLD: a smaller budget for replay's held answers, for
 * the tests to cover a budget exhausted half-way through a read. */
static size_t replay_hold(void) {
    const char *b = getenv("TANDEM_REPLAY_HOLD");
    long n = b ? strtol(b, NULL, 10) : -1;
    return n >= 0 && n < REPLAY_HOLD ? (size_t)n : REPLAY_HOLD;
}

/* plan (apply 0) and run (apply 1). */
static int cmd_sync(int argc, char **argv, int apply) {
    const char *usage = apply ? usage_run : usage_plan;
    /* plan's exit 2 means "changes pending", so its usage errors are 1 */
    int bad = apply ? EXIT_USAGE : EXIT_PROBLEMS;
    const char *file = NULL, *replay = NULL, *state = NULL, *outbox = NULL, *record = NULL;
    int json = 0, force = 0, rc = EXIT_OK;
    int64_t at = now_ms(), wait_ms = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_option(argc, argv, &i, usage, &rc);
        if (c == 2) return rc == EXIT_USAGE ? bad : rc;
        if (c == 1) continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--replay") || !strcmp(a, "--state") || !strcmp(a, "--outbox") || !strcmp(a, "--at") ||
            !strcmp(a, "--record")) {
            if (!v) { usage_error(usage, "%s needs a value", a); return bad; }
            i++;
        }
        if (!strcmp(a, "--replay")) replay = v;
        else if (!strcmp(a, "--record")) record = v;
        else if (!strcmp(a, "--state")) state = v;
        else if (!strcmp(a, "--outbox")) outbox = v;
        else if (!strcmp(a, "--at")) {
            if (parse_datetime(v, strlen(v), &at) != 0) { usage_error(usage, "'%s' is not a date-time", v); return bad; }
        } else if (!strcmp(a, "--json") && !apply) json = 1;
        else if (!strcmp(a, "--now") && apply) force = 1;
        else if (!strcmp(a, "--wait") && apply) wait_ms = -1;
        else if (!strncmp(a, "--wait=", 7) && apply) {
            char *end;
            double sec = strtod(a + 7, &end);
            if (end == a + 7 || *end || !(sec >= 0 && sec <= 1e9)) {
                usage_error(usage, "--wait=%s is not a number of seconds", a + 7);
                return bad;
            }
            wait_ms = (int64_t)(sec * 1000);
        } else if (a[0] == '-' && a[1]) { usage_error(usage, "unknown option '%s'", a); return bad; }
        else if (file) { usage_error(usage, "%s", "one rule file at a time"); return bad; }
        else file = a;
    }
    if (!file) { usage_error(usage, "%s", "no rule file given"); return bad; }
    if (replay && record) { usage_error(usage, "%s", "--record saves live answers; it cannot go with --replay"); return bad; }
    Program *p = load_program(file);
    if (!p) return EXIT_PROBLEMS;
    char *def_state = state ? NULL : beside_rules(file, ".db");
    char *def_outbox = outbox ? NULL : beside_rules(file, ".outbox");
    if (!state) state = def_state;
    if (!outbox) outbox = def_outbox;
    int lock = -1;
    Buf err;
    buf_init(&err);
    Store *st = NULL;
    Connector **src = NULL;
    uint32_t nsrc = 0;
    Plan pl;
    plan_init(&pl, p, at);
    EngineResult res;
    memset(&res, 0, sizeof res);
    buf_init(&res.failures);
    if (def_state && legacy_state(file, state)) { rc = EXIT_PROBLEMS; goto out; }
    if (apply && ensure_parent(state) != 0) { rc = EXIT_PROBLEMS; goto out; }
    /* One run at a time: the second of two overlapping runs would send
     * what the first is sending, and settle its journal under it. */
    if (apply) {
        int lr = store_lock(state, wait_ms, at, &lock, &err);
        if (lr != 0) {
            fprintf(stderr, "tandem: %s%s\n", buf_str(&err), lr == 1 && !wait_ms ? " (--wait waits for it)" : "");
            rc = lr == 1 ? EXIT_BUSY : EXIT_PROBLEMS;
            goto out;
        }
    }
    st = store_open(state, apply ? 0 : STORE_READONLY, &err);
    if (!st) { fprintf(stderr, "tandem: %s\n", buf_str(&err)); rc = EXIT_PROBLEMS; goto out; }
    LiveOptions lo;
    memset(&lo, 0, sizeof lo);
    lo.record = record;
    lo.progress = isatty(2) && !getenv("CI");
    /* how long one request may take (seconds), for slow networks and for
     * the fault tests' slow answers */
    const char *tmo = getenv("TANDEM_HTTP_TIMEOUT");
    if (tmo && atof(tmo) > 0) lo.timeout_ms = (long)(atof(tmo) * 1000);
    if (replay ? replay_open_all(p, replay, outbox, at, replay_hold(), &src, &nsrc, &err) : live_open_all(p, &lo, &src, &nsrc, &err)) {
        fprintf(stderr, "tandem: %s\n", buf_str(&err));
        rc = EXIT_PROBLEMS;
        goto out;
    }
    EngineOptions o;
    memset(&o, 0, sizeof o);
    o.rules = file;
    o.now = at;
    o.apply = apply;
    o.force = force || !apply;
    const char *crash = getenv("TANDEM_TEST_CRASH");
    o.crash_after_send = apply && crash && !strcmp(crash, "after-send");
    /* A plan goes out as the engine decides it (a run's: as it applies
     * each part), so its size does not bound what can be planned or run;
     * the text form keeps a sync's changes in a temporary file until the
     * sync is over, as its header comes first. */
    if (json) plan_stream(&pl, stdout);
    else plan_stream_text(&pl, stdout);
    o.stream_batch = stream_batch();
    o.apply_part = apply_part();
    int r = engine_run(p, st, src, nsrc, &o, &pl, &res, &err);
    /* done with the systems: their progress lines go before the plan shows */
    connectors_close(src, nsrc);
    src = NULL;
    if (json) plan_json_file(&pl, stdout);
    else plan_text_file(&pl, stdout);
    if (r != 0) {
        fprintf(stderr, "tandem: %s\n", buf_str(&err));
        rc = EXIT_PROBLEMS;
    } else if (apply) {
        Buf applied;
        buf_init(&applied);
        engine_result_text(&res, &applied);
        fputs(buf_str(&applied), stdout);
        buf_free(&applied);
        int64_t errors = res.failed;
        for (uint32_t i = 0; i < p->nsyncs; i++) errors += pl.sum[i].errors;
        rc = errors ? EXIT_PROBLEMS : EXIT_OK;
    } else {
        int64_t errors = 0;
        for (uint32_t i = 0; i < p->nsyncs; i++) errors += pl.sum[i].errors;
        rc = errors ? EXIT_PROBLEMS : plan_pending(&pl) ? 2 : EXIT_OK;
    }
out:
    buf_free(&res.failures);
    plan_free(&pl);
    if (src) connectors_close(src, nsrc);
    store_close(st);
    buf_free(&err);
    free(def_state);
    free(def_outbox);
    if (lock >= 0) close(lock);   /* after the state is closed */
    program_free(p);
    return rc;
}

static int cmd_status(int argc, char **argv) {
    const char *file = NULL, *state = NULL;
    int rc = EXIT_OK;
    int64_t at = now_ms();
    StatusOptions so = {0, INT64_MIN, 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_option(argc, argv, &i, usage_status, &rc);
        if (c == 2) return rc;
        if (c == 1) continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--state") || !strcmp(a, "--at") || !strcmp(a, "--since") || !strcmp(a, "--page")) {
            if (!v) return usage_error(usage_status, "%s needs a value", a);
            i++;
        }
        if (!strcmp(a, "--state")) state = v;
        else if (!strcmp(a, "--at")) {
            if (parse_datetime(v, strlen(v), &at) != 0) return usage_error(usage_status, "'%s' is not a date-time", v);
        } else if (!strcmp(a, "--since")) {
            if (parse_datetime(v, strlen(v), &so.since) != 0)
                return usage_error(usage_status, "'%s' is not a date-time", v);
        } else if (!strcmp(a, "--page")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000000000) return usage_error(usage_status, "--page %s: a page number from 1", v);
            so.page = (int)n;
        } else if (!strcmp(a, "--json")) so.json = 1;
        else if (a[0] == '-' && a[1]) return usage_error(usage_status, "unknown option '%s'", a);
        else if (file) return usage_error(usage_status, "%s", "one rule file at a time");
        else file = a;
    }
    if (!file) return usage_error(usage_status, "%s", "no rule file given");
    Program *p = load_program(file);
    if (!p) return EXIT_PROBLEMS;
    char *def_state = state ? NULL : beside_rules(file, ".db");
    if (!state) state = def_state;
    if (def_state && legacy_state(file, state)) {
        free(def_state);
        program_free(p);
        return EXIT_PROBLEMS;
    }
    Buf err, out;
    buf_init(&err);
    buf_init(&out);
    struct stat sb;
    Store *st = NULL;
    if (stat(state, &sb) != 0) {
        fprintf(stderr, "tandem: %s: no state yet: nothing has run ('tandem run %s')\n", state, file);
        rc = EXIT_PROBLEMS;
    } else if (!(st = store_open(state, STORE_READONLY, &err))) {
        fprintf(stderr, "tandem: %s\n", buf_str(&err));
        rc = EXIT_PROBLEMS;
    } else {
        int healthy = 1;
        if (status_report(p, st, state, at, &so, &out, &healthy, &err) != 0) {
            fprintf(stderr, "tandem: %s\n", buf_str(&err));
            rc = EXIT_PROBLEMS;
        } else {
            fputs(buf_str(&out), stdout);
            rc = healthy ? EXIT_OK : EXIT_PROBLEMS;
        }
    }
    store_close(st);
    buf_free(&err);
    buf_free(&out);
    free(def_state);
    program_free(p);
    return rc;
}

static int cmd_test(int argc, char **argv) {
    int update = 0, keep = 0, rc = EXIT_OK, n = 0;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    if (!paths) return EXIT_PROBLEMS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_option(argc, argv, &i, usage_test, &rc);
        if (c == 2) { free(paths); return rc; }
        if (c == 1) continue;
        if (!strcmp(a, "--update")) update = 1;
        else if (!strcmp(a, "--keep")) keep = 1;
        else if (a[0] == '-' && a[1]) { free(paths); return usage_error(usage_test, "unknown option '%s'", a); }
        else paths[n++] = a;
    }
    if (!n) { free(paths); return usage_error(usage_test, "%s", "no test file or directory given"); }
    char buf[PATH_MAX + 64], shortbuf[PATH_MAX + 64];
    RuleTestOptions o;
    memset(&o, 0, sizeof o);
    o.stdlib = shorten(find_stdlib(buf, sizeof buf), shortbuf, sizeof shortbuf);
    o.update = update;
    o.keep = keep;
    o.color = want_color(stdout);
    o.stream_batch = stream_batch();
    o.apply_part = apply_part();
    o.replay_hold = replay_hold();
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) ruletest_path(paths[i], &o, stdout, &passed, &failed);
    printf("%d passed, %d failed\n", passed, failed);
    free(paths);
    return failed ? EXIT_PROBLEMS : EXIT_OK;
}

static int cmd_help(int argc, char **argv) {
    if (argc < 2) { fputs(usage_main, stdout); return EXIT_OK; }
    if (strcmp(argv[1], "check") == 0) fputs(usage_check, stdout);
    else if (strcmp(argv[1], "fmt") == 0) fputs(usage_fmt, stdout);
    else if (strcmp(argv[1], "build") == 0) fputs(usage_build, stdout);
    else if (strcmp(argv[1], "explain") == 0) fputs(usage_explain, stdout);
    else if (strcmp(argv[1], "eval") == 0) fputs(usage_eval, stdout);
    else if (strcmp(argv[1], "plan") == 0) fputs(usage_plan, stdout);
    else if (strcmp(argv[1], "run") == 0) fputs(usage_run, stdout);
    else if (strcmp(argv[1], "status") == 0) fputs(usage_status, stdout);
    else if (strcmp(argv[1], "test") == 0) fputs(usage_test, stdout);
    else if (strcmp(argv[1], "help") == 0) fputs(usage_main, stdout);
    else return usage_error(usage_main, "unknown command '%s'", argv[1]);
    return EXIT_OK;
}

int main(int argc, char **argv) {
    /* A plan of a million records is hundreds of megabytes: written a
     * stdio buffer (4 KB) at a time, that was 50,000 system calls.  A
     * terminal keeps its line buffering. */
    static char outbuf[1 << 20]; /* glibc sizes a buffer it allocates itself by the file's block */
    if (!isatty(STDOUT_FILENO)) setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    if (argc < 2) { fputs(usage_main, stderr); return EXIT_USAGE; }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) { fputs(usage_main, stdout); return EXIT_OK; }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) { printf("tandem %s\n", TD_VERSION); return EXIT_OK; }
    if (strcmp(cmd, "check") == 0) return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "fmt") == 0) return cmd_fmt(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0) return cmd_help(argc - 1, argv + 1);
    if (strcmp(cmd, "build") == 0) return cmd_build(argc - 1, argv + 1);
    if (strcmp(cmd, "explain") == 0) return cmd_explain(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "plan") == 0) return cmd_sync(argc - 1, argv + 1, 0);
    if (strcmp(cmd, "run") == 0) return cmd_sync(argc - 1, argv + 1, 1);
    if (strcmp(cmd, "status") == 0) return cmd_status(argc - 1, argv + 1);
    if (strcmp(cmd, "test") == 0) return cmd_test(argc - 1, argv + 1);
    Suggest sg;
    suggest_init(&sg, cmd);
    static const char *const cmds[] = {"check", "fmt", "build", "explain", "eval", "plan", "run", "status", "test", "help", NULL};
    for (int i = 0; cmds[i]; i++) suggest_try(&sg, cmds[i]);
    fprintf(stderr, "tandem: unknown command '%s'%s%s%s\n", cmd, sg.best ? " (did you mean '" : "",
            sg.best ? sg.best : "", sg.best ? "'?)" : "");
    fputs(usage_main, stderr);
    return EXIT_USAGE;
}
