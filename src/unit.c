/* unit.c - loading a rule file and the modules it uses. */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "util.h"

Unit *unit_new(const char *const *stdlib_dirs) {
    Unit *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    arena_init(&u->arena);
    diags_init(&u->diags, &u->arena);
    symtab_init(&u->modtab, &u->arena);
    int n = 0;
    while (stdlib_dirs && stdlib_dirs[n]) n++;
    u->stdlib = arena_alloc(&u->arena, (size_t)(n + 1) * sizeof *u->stdlib);
    for (int i = 0; i < n; i++) u->stdlib[i] = arena_strdup(&u->arena, stdlib_dirs[i]);
    u->nstdlib = n;
    return u;
}

void unit_free(Unit *u) {
    if (!u) return;
    diags_fini(&u->diags);
    free(u->mods);
    arena_free(&u->arena);
    free(u);
}

static Module *add_module(Unit *u, const char *name, const char *path, const char *text, size_t len,
                          int is_main) {
    if (u->nmods == u->capmods) {
        int cap = u->capmods ? u->capmods * 2 : 8;
        Module **m = realloc(u->mods, (size_t)cap * sizeof *m);
        if (!m) { fputs("tandem: out of memory\n", stderr); abort(); }
        u->mods = m;
        u->capmods = cap;
    }
    Module *m = arena_alloc(&u->arena, sizeof *m);
    m->name = arena_strdup(&u->arena, name);
    m->path = arena_strdup(&u->arena, path);
    m->is_main = is_main;
    m->file = diags_add_file(&u->diags, path, text, len);
    u->mods[u->nmods++] = m;
    m->root = parse_file(&u->diags, m->file, &u->arena, NULL, &m->syntax_errors);
    return m;
}

static int valid_module_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

int unit_list_stdlib(Unit *u, const char ***out) {
    int n = 0, cap = 16;
    const char **v = arena_alloc(&u->arena, (size_t)cap * sizeof *v);
    for (int i = 0; i < u->nstdlib; i++) {
        DIR *d = opendir(u->stdlib[i]);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 6 || strcmp(e->d_name + l - 5, ".sync") != 0) continue;
            if (n + 1 >= cap) {
                cap *= 2;
                const char **w = arena_alloc(&u->arena, (size_t)cap * sizeof *w);
                memcpy(w, v, (size_t)n * sizeof *v);
                v = w;
            }
            v[n++] = arena_strndup(&u->arena, e->d_name, l - 5);
        }
        closedir(d);
    }
    *out = v;
    return n;
}

static void load_uses(Unit *u, Module *m);

static void load_module(Unit *u, Node *name_node) {
    const char *name = name_node->name;
    if (symtab_get(&u->modtab, name)) return;
    if (!valid_module_name(name)) {
        diag_error(&u->diags, name_node->loc,
                   "'%s' is not a module name (modules are named by one identifier, like 'salesforce')", name);
        return;
    }
    const char *dirs[64];
    int nd = 0;
    for (int i = 0; i < u->nstdlib && nd < 63; i++) dirs[nd++] = u->stdlib[i];
    if (u->main_dir) dirs[nd++] = u->main_dir;
    for (int i = 0; i < nd; i++) {
        char *path = arena_printf(&u->arena, "%s/%s.sync", dirs[i], name);
        size_t len;
        char *text = read_file(path, &len);
        if (!text) continue;
        Module *m = add_module(u, name, path, text, len, 0);
        free(text);
        symtab_put(&u->modtab, m->name, m); /* before its own uses: cycles end here */
        load_uses(u, m);
        return;
    }
    const char **names;
    int n = unit_list_stdlib(u, &names);
    Suggest sg;
    suggest_init(&sg, name);
    for (int i = 0; i < n; i++) suggest_try(&sg, names[i]);
    if (sg.best)
        diag_error(&u->diags, name_node->loc, "unknown module '%s' (did you mean '%s'?)", name, sg.best);
    else if (u->nstdlib == 0)
        diag_error(&u->diags, name_node->loc, "unknown module '%s' (no stdlib directory is set; use --stdlib)", name);
    else
        diag_error(&u->diags, name_node->loc, "unknown module '%s'", name);
}

static void load_uses(Unit *u, Module *m) {
    for (Node *s = m->root->list; s; s = s->next) {
        if (s->kind != NODE_USE) continue;
        for (Node *n = s->list; n; n = n->next) load_module(u, n);
    }
}

static void set_main_dir(Unit *u, const char *path) {
    const char *slash = strrchr(path, '/');
    u->main_dir = slash ? arena_strndup(&u->arena, path, (size_t)(slash - path)) : ".";
    if (slash == path) u->main_dir = "/";
}

void unit_set_dir(Unit *u, const char *dir) { u->main_dir = arena_strdup(&u->arena, dir); }

int unit_load_text(Unit *u, const char *name, const char *text, size_t len) {
    if (!u->main_dir) set_main_dir(u, name);
    Module *m = add_module(u, name, name, text, len, 1);
    /* A rule file that names itself in `use` does not load itself again. */
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t bl = strlen(base);
    if (bl > 5 && strcmp(base + bl - 5, ".sync") == 0)
        symtab_put(&u->modtab, arena_strndup(&u->arena, base, bl - 5), m);
    load_uses(u, m);
    return 0;
}

int unit_load_file(Unit *u, const char *path) {
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        diag_error(&u->diags, NOLOC, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    int r = unit_load_text(u, path, text, len);
    free(text);
    return r;
}
