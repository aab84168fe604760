/* unit.h - a compilation unit: one rule file plus every module it `use`s.
 *
 * The unit owns the arena that holds sources, trees, symbols and
 * diagnostics; unit_free() releases all of it.  Loading reads and parses
 * files; modules named by `use` are looked up in the stdlib directories
 * first, then next to the rule file.
 */
#ifndef TD_UNIT_H
#define TD_UNIT_H

#include "ast.h"
#include "diag.h"
#include "lex.h"
#include "symtab.h"

typedef struct Module {
    const char *name;     /* module name; the main file's path for it */
    const char *path;     /* where it was read from */
    int file;             /* file index in the diagnostics */
    Node *root;           /* its FILE node (fmt keeps tokens; a unit needs none) */
    int is_main;          /* the rule file itself */
    int syntax_errors;    /* errors from lexing and parsing */
} Module;

typedef struct Model Model;  /* the checked rules, see check.h */

typedef struct Unit {
    Arena arena;          /* everything below lives here */
    Diags diags;          /* every problem found */
    const char **stdlib;  /* directories searched for modules, in order */
    int nstdlib;
    const char *main_dir; /* directory of the rule file, searched last */
    Module **mods;        /* main file first, then modules as loaded */
    int nmods, capmods;
    Symtab modtab;        /* module name -> Module */
    Model *model;         /* set by check_unit() */
} Unit;

/* stdlib_dirs: NULL-terminated list of directories (may be NULL). */
Unit *unit_new(const char *const *stdlib_dirs);
void unit_free(Unit *u);
/* Reads, parses and loads the modules of a rule file.  Returns 0 if the
 * file could be read (its problems are in u->diags), -1 if not. */
int unit_load_file(Unit *u, const char *path);
/* The same for text in memory, shown in diagnostics as `name`. */
int unit_load_text(Unit *u, const char *name, const char *text, size_t len);
/* Where the rule file looks for modules beside it, when its name (as
 * shown in diagnostics) is not where it is; call before loading. */
void unit_set_dir(Unit *u, const char *dir);
/* Modules found in the stdlib directories, for suggestions and docs. */
int unit_list_stdlib(Unit *u, const char ***names);

#endif
