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
 * syntax errors.  Every fmt case is also formatted
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
#include "fmt.h"
#include "parse.h"
#include "unit.h"
#include "util.h"

static const char *stdlib_dir = "stdlib";
static int update;
static int passed, failed;

typedef struct Case {
    char *name;
    char *input;
    char *expected;
    int line;          /* line of the ### header */
} Case;

/* ------------------------------------------------------------- diffing */

static void split_lines(const char *s, char ***out, int *n) {
    int cap = 16, k = 0;
    char **v = malloc((size_t)cap * sizeof *v);
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (k == cap) { cap *= 2; v = realloc(v, (size_t)cap * sizeof *v); }
        v[k] = malloc(len + 1);
        memcpy(v[k], p, len);
        v[k][len] = 0;
        k++;
        p += len + (e ? 1 : 0);
    }
    *out = v;
    *n = k;
}

static void free_lines(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* A line diff (longest common subsequence), "-" expected, "+" actual. */
static void print_diff(const char *exp, const char *act) {
    char **a, **b;
    int n, m;
    split_lines(exp, &a, &n);
    split_lines(act, &b, &m);
    if ((long)n * m > 4000000) {
        printf("  (outputs too long to diff)\n");
        free_lines(a, n);
        free_lines(b, m);
        return;
    }
    int *L = calloc((size_t)(n + 1) * (size_t)(m + 1), sizeof *L);
#define LL(i, j) L[(size_t)(i) * (size_t)(m + 1) + (size_t)(j)]
    for (int i = n - 1; i >= 0; i--)
        for (int j = m - 1; j >= 0; j--)
            LL(i, j) = strcmp(a[i], b[j]) == 0 ? LL(i + 1, j + 1) + 1
                       : (LL(i + 1, j) > LL(i, j + 1) ? LL(i + 1, j) : LL(i, j + 1));
    int i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && strcmp(a[i], b[j]) == 0) { printf("   %s\n", a[i]); i++; j++; }
        else if (j < m && (i == n || LL(i, j + 1) >= LL(i + 1, j))) { printf("  +%s\n", b[j]); j++; }
        else { printf("  -%s\n", a[i]); i++; }
    }
#undef LL
    free(L);
    free_lines(a, n);
    free_lines(b, m);
}

/* --------------------------------------------------------- running cases */

static void trim_end(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = 0;
}

static Unit *new_unit(void) {
    const char *dirs[2] = {stdlib_dir, NULL};
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

static char *actual_for(const char *kind, const char *input) {
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
    Buf in, ex;
    buf_init(&in);
    buf_init(&ex);
    int section = 0; /* 0 preamble, 1 input, 2 expected */
    while (*p) {
        char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= 4 && strncmp(p, "### ", 4) == 0) {
            if (cur) { cur->input = buf_take(&in); cur->expected = buf_take(&ex); }
            if (n == cap) { cap *= 2; v = realloc(v, (size_t)cap * sizeof *v); }
            cur = &v[n++];
            memset(cur, 0, sizeof *cur);
            cur->name = strndup(p + 4, len - 4);
            cur->line = line;
            section = 1;
        } else if (section == 1 && len == 3 && strncmp(p, "---", 3) == 0) {
            section = 2;
        } else if (section == 1) {
            buf_putn(&in, p, len);
            buf_putc(&in, '\n');
        } else if (section == 2) {
            buf_putn(&ex, p, len);
            buf_putc(&ex, '\n');
        }
        p += len + (e ? 1 : 0);
        line++;
    }
    if (cur) { cur->input = buf_take(&in); cur->expected = buf_take(&ex); }
    else { buf_free(&in); buf_free(&ex); }
    *out = v;
    return n;
}

static const char *kind_of(const char *path) {
    if (strstr(path, "/fmt/") || strncmp(path, "fmt/", 4) == 0) return "fmt";
    if (strstr(path, "/parse/") || strncmp(path, "parse/", 6) == 0) return "parse";
    if (strstr(path, "/tree/") || strncmp(path, "tree/", 5) == 0) return "tree";
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
        char *act = actual_for(kind, c->input);
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
            buf_printf(&rewritten, "### %s\n%s---\n%s\n\n", c->name, c->input, act);
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
    for (int i = 0; i < n; i++) { free(cases[i].name); free(cases[i].input); free(cases[i].expected); }
    free(cases);
    free(text);
}

/* Every shipped rule file and module: formatted is canonical, formatting
 * keeps its checked tree, and fmt of the fmt output is the same. */
static void run_shipped(const char *path) {
    char *text = read_file(path, NULL);
    Case c = {(char *)path, NULL, NULL, 1};
    if (!text) { fail(path, &c, "cannot read"); return; }
    char *err = NULL;
    char *formatted = run_fmt(text, &err);
    if (!formatted) {
        fail(path, &c, "cannot be formatted");
        if (err) printf("%s", err);
    } else if (fmt_promises(path, &c, text, formatted)) {
        passed++;
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
