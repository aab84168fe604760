/* fuzz_front.c - libFuzzer target over the front end: lexer, parser,
 * checker (with the stdlib, when the input uses it) and formatter.
 *
 * Besides "no crash, no sanitizer report", it checks the formatter's
 * promises: a file that parses formats, and formatting is idempotent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fmt.h"
#include "unit.h"

static const char *stdlib_dir(void) {
    const char *s = getenv("TANDEM_STDLIB");
    return s && *s ? s : "stdlib";
}

static int format(const char *text, size_t n, Buf *out, int *parsed) {
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    int f = diags_add_file(&d, "fuzz.sync", text, n);
    int rc = fmt_file(&d, f, &a, out);
    /* fmt fails on syntax errors only; an internal error is a bug. */
    *parsed = 1;
    for (Diag *g = d.head; g; g = g->next)
        if (strncmp(g->msg, "internal error:", 15) == 0) abort();
    if (rc != 0) *parsed = 0;
    diags_fini(&d);
    arena_free(&a);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    const char *dirs[2] = {stdlib_dir(), NULL};
    Unit *u = unit_new(dirs);
    unit_load_text(u, "fuzz.sync", (const char *)data, size);
    check_unit(u);
    Buf b;
    buf_init(&b);
    diags_render(&u->diags, &b, 0);
    diags_render_json(&u->diags, &b);
    if (u->nmods) ast_dump(u->mods[0]->root, &b, DUMP_CHECKED);
    buf_free(&b);
    unit_free(u);

    Buf once, twice;
    buf_init(&once);
    buf_init(&twice);
    int parsed;
    if (format((const char *)data, size, &once, &parsed) == 0) {
        if (format(buf_str(&once), once.n, &twice, &parsed) != 0) abort();
        if (once.n != twice.n || memcmp(buf_str(&once), buf_str(&twice), once.n) != 0) abort();
    }
    buf_free(&once);
    buf_free(&twice);
    return 0;
}
