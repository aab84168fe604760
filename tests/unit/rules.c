/* rules.c - compiles a rule text for the unit tests, against the stdlib
 * and the test modules, printing the diagnostics when it does not. */
#include "check.h"
#include "compile.h"
#include "unit.h"
#include "unit_test.h"

Program *unit_compile(const char *name, const char *text) {
    const char *dirs[3] = {"stdlib", "tests/modules", NULL};
    Unit *u = unit_new(dirs);
    unit_load_text(u, name, text, strlen(text));
    check_unit(u);
    Program *p = compile_unit(u);
    if (!p) {
        Buf b;
        buf_init(&b);
        diags_render(&u->diags, &b, 0);
        printf("compile failed:\n%s", buf_str(&b));
        buf_free(&b);
    }
    unit_free(u);
    return p;
}
