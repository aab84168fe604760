/* api.c - the public API (include/tandem.h) over the internal stages. */
#include "tandem.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fmt.h"
#include "unit.h"

#ifndef TD_VERSION
#define TD_VERSION "0.0.0"
#endif

const char *tandem_version(void) { return TD_VERSION; }

static int finish(Unit *u, int flags, char **diagnostics, int *warnings) {
    if (diagnostics) {
        Buf b;
        buf_init(&b);
        if (flags & TANDEM_DIAG_JSON) diags_render_json(&u->diags, &b);
        else diags_render(&u->diags, &b, (flags & TANDEM_DIAG_COLOR) ? RENDER_COLOR : 0);
        *diagnostics = buf_take(&b);
    }
    if (warnings) *warnings = u->diags.warnings;
    int errors = u->diags.errors;
    unit_free(u);
    return errors;
}

static Unit *new_unit(const char *stdlib_dir) {
    const char *dirs[2] = {stdlib_dir, NULL};
    return unit_new(stdlib_dir ? dirs : NULL);
}

int tandem_check_file(const char *path, const char *stdlib_dir, int flags, char **diagnostics, int *warnings) {
    Unit *u = new_unit(stdlib_dir);
    if (!u) return -1;
    if (unit_load_file(u, path) != 0) {
        finish(u, flags, diagnostics, warnings);
        return -1;
    }
    check_unit(u);
    return finish(u, flags, diagnostics, warnings);
}

int tandem_check_text(const char *name, const char *text, size_t len, const char *stdlib_dir, int flags,
                      char **diagnostics, int *warnings) {
    Unit *u = new_unit(stdlib_dir);
    if (!u) return -1;
    unit_load_text(u, name, text, len);
    check_unit(u);
    return finish(u, flags, diagnostics, warnings);
}

int tandem_format(const char *name, const char *text, size_t len, char **out, char **diagnostics) {
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    int f = diags_add_file(&d, name, text, len);
    Buf b;
    buf_init(&b);
    int rc = fmt_file(&d, f, &a, &b);
    if (rc == 0 && out) *out = buf_take(&b);
    if (rc != 0 && diagnostics) {
        Buf e;
        buf_init(&e);
        diags_render(&d, &e, 0);
        *diagnostics = buf_take(&e);
    }
    buf_free(&b);
    diags_fini(&d);
    arena_free(&a);
    return rc;
}
