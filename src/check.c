/* check.c - the checker: schemas, sources, expressions, syncs.
 *
 * Order of work: declarations from every module (systems, objects, value
 * maps, mappings), then the rule file's sources and `extend`s, then every
 * sync, then whole-file checks (unused sources, plan limits, `after`
 * cycles).  Every problem is reported and checking goes on, so one run shows
 * them all; a node whose type cannot be known gets TY_UNKNOWN, which fits
 * anywhere and stops cascades.
 */
#include "check.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "lex.h"
#include "util.h"
#include "value.h"

typedef struct Ck {
    Unit *u;
    Arena *a;
    Diags *d;
    Model *m;
    Module *mod;        /* module being checked */
    int mute;           /* >0: drop diagnostics (re-checking a used mapping) */
    Arena *tmp;         /* what a sync's checks use while they run (fields written,
                         * conditions taken apart): reset for each sync, so a file of
                         * many syncs does not keep them all */
} Ck;

#define VPUSH(ck, arr, n, cap, item) VPUSH_IN((ck)->a, arr, n, cap, item)
#define VPUSH_IN(arena, arr, n, cap, item)                                      \
    do {                                                                        \
        if ((n) == (cap)) {                                                     \
            int nc_ = (cap) ? (cap) * 2 : 8;                                    \
            void *na_ = arena_alloc((arena), (size_t)nc_ * sizeof *(arr));      \
            if (n) memcpy(na_, (arr), (size_t)(n) * sizeof *(arr));             \
            (arr) = na_;                                                        \
            (cap) = nc_;                                                        \
        }                                                                       \
        (arr)[(n)++] = (item);                                                  \
    } while (0)

/* --------------------------------------------------------- diagnostics */

static void emit(Ck *ck, DiagLevel lv, Loc loc, const char *fmt, va_list ap) {
    if (ck->mute) return;
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (lv == DIAG_ERROR) diag_error(ck->d, loc, "%s", buf);
    else if (lv == DIAG_WARNING) diag_warning(ck->d, loc, "%s", buf);
    else diag_note(ck->d, loc, "%s", buf);
}

__attribute__((format(printf, 3, 4)))
static void err(Ck *ck, Loc loc, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); emit(ck, DIAG_ERROR, loc, fmt, ap); va_end(ap);
}
__attribute__((format(printf, 3, 4)))
static void warn(Ck *ck, Loc loc, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); emit(ck, DIAG_WARNING, loc, fmt, ap); va_end(ap);
}
__attribute__((format(printf, 3, 4)))
static void note(Ck *ck, Loc loc, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); emit(ck, DIAG_NOTE, loc, fmt, ap); va_end(ap);
}

/* " (did you mean 'x'?)" or "" */
static const char *dym(Ck *ck, const Suggest *s) {
    return s->best ? arena_printf(ck->a, " (did you mean '%s'?)", s->best) : "";
}

static const char *tyname(Ck *ck, Type t) { return arena_strdup(ck->a, type_str(&t)); }

/* A name declared a second time: reported with the first; returns 1. */
static int redeclared(Ck *ck, const char *what, Node *decl, const char *name, Node *first) {
    if (!first) return 0;
    err(ck, decl->nloc, "%s '%s' is already declared", what, name);
    note(ck, first->nloc, "first declared here");
    return 1;
}

/* ------------------------------------------------------------- schemas */

/* What an expression may read: the objects of the two sides, named by
 * source (or system) name.  only >= 0 restricts reads to one side. */
typedef struct Scope {
    Object *obj[2];
    const char *qual[2];    /* source names */
    const char *qual2[2];   /* system names, also accepted */
    int only;               /* -1: either side */
    int settings;           /* env(), secret(), oauth2() allowed */
    Sync *sync;             /* the sync being checked, or NULL */
} Scope;

static void check_cond(Ck *ck, const Scope *sc, Node *n, const char *ctx);
static Field *resolve_fieldref(Ck *ck, const Scope *sc, Node *n);

static Type resolve_type(Ck *ck, Node *ts, int for_setting) {
    Type t;
    memset(&t, 0, sizeof t);
    int k = type_lookup(ts->name);
    if (k < 0 || (!for_setting && (k == TY_CREDENTIAL || k == TY_OAUTH2)) ||
        k == TY_NULL || k == TY_DURATION || k == TY_TIME) {
        Suggest sg;
        suggest_init(&sg, ts->name);
        for (int i = 1; i < TY__COUNT; i++) {
            if (i == TY_NULL || i == TY_DURATION || i == TY_TIME) continue;
            if (!for_setting && (i == TY_CREDENTIAL || i == TY_OAUTH2)) continue;
            suggest_try(&sg, type_name((TypeKind)i));
        }
        err(ck, ts->nloc, "unknown type '%s'%s", ts->name, dym(ck, &sg));
        return t;
    }
    t.k = (TypeKind)k;
    if (ts->num != 0) {
        if (!type_is_text(t.k) || t.k == TY_REFERENCE || t.k == TY_ID)
            err(ck, ts->loc, "only text types take a length; %s does not", ts->name);
        else if (ts->num < 1 || ts->num > 1e9 || ts->num != floor(ts->num))
            err(ck, ts->loc, "a length must be a whole number from 1 up");
        else
            t.size = (uint32_t)ts->num;
    }
    if (ts->str) {
        if (t.k != TY_REFERENCE) err(ck, ts->loc, "only 'reference' names an object in parentheses");
        else t.ref = ts->str;
    } else if (t.k == TY_REFERENCE) {
        err(ck, ts->loc, "a reference names the object it points to, like reference(Account)");
    }
    if (ts->list) {
        if (t.k != TY_PICKLIST && t.k != TY_MULTIPICKLIST) {
            err(ck, ts->loc, "only picklists list their values; %s does not", ts->name);
        } else {
            int n = ast_list_len(ts->list);
            t.values = arena_alloc(ck->a, (size_t)n * sizeof *t.values);
            for (Node *v = ts->list; v; v = v->next) {
                for (int i = 0; i < t.nvalues; i++)
                    if (strcmp(t.values[i], v->str) == 0) err(ck, v->loc, "value \"%s\" is listed twice", v->str);
                t.values[t.nvalues++] = v->str;
            }
        }
    }
    return t;
}

static const char *const field_attrs[] = {"required", "readonly", "custom", "default", NULL};

static int lit_fits(TypeKind k, const Node *lit) {
    switch (lit->op) {
    case TK_STRING: return type_is_text(k) && k != TY_ID && k != TY_REFERENCE;
    case TK_NUMBER: return type_is_numeric(k);
    case TK_TRUE: case TK_FALSE: case TK_ON: case TK_OFF: return k == TY_BOOLEAN;
    default: return 0;
    }
}

/* A text constant longer than the field keeps (text(80)) can never be
 * written: the system refuses it on every record (the run checks computed
 * values, docs/plan.md).  1 and an error at the constant when so. */
static int lit_too_long(Ck *ck, const Field *f, const Node *v) {
    if (v->kind != NODE_LIT || v->op != TK_STRING || !v->str || !type_is_text(f->ty.k) || !f->ty.size) return 0;
    uint32_t n = 0;
    for (const char *p = v->str; *p; p++) n += ((unsigned char)*p & 0xC0) != 0x80;
    if (n <= f->ty.size) return 0;
    err(ck, v->loc, "this text is %u characters; %s.%s takes at most %u", n, f->obj ? f->obj->name : "the object",
        f->name, f->ty.size);
    return 1;
}

/* May this value be written into a field of type dst?  Constants get a
 * closer look than their types: 5 fits an integer, "https://x" a url. */
static int value_fits(TypeKind dst, const Node *v, TypeKind vt) {
    if (type_assignable(dst, vt)) return 1;
    const Node *lit = v;
    int neg = 0;
    if (v->kind == NODE_UNARY && v->op == TK_MINUS && v->a->kind == NODE_LIT) { lit = v->a; neg = 1; }
    if (lit->kind != NODE_LIT) return 0;
    if (lit->op == TK_NUMBER) return dst == TY_INTEGER && lit->num == floor(lit->num);
    if (lit->op != TK_STRING || neg) return 0;
    const char *s = lit->str;
    switch (dst) {
    case TY_URL: return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
    case TY_EMAIL: return strchr(s, '@') != NULL && !strchr(s, ' ');
    case TY_PHONE:
        for (const char *p = s; *p; p++)
            if (!isdigit((unsigned char)*p) && !strchr(" +-().", *p)) return 0;
        return *s != 0;
    case TY_MULTIPICKLIST: return 1;
    default: return 0;
    }
}

static void field_attrs_apply(Ck *ck, Field *f, Node *decl) {
    for (Node *at = decl->list; at; at = at->next) {
        const char *n = at->name;
        if (strcmp(n, "required") == 0 && !at->a) f->required = 1;
        else if (strcmp(n, "readonly") == 0 && !at->a) f->readonly = 1;
        else if (strcmp(n, "custom") == 0 && !at->a) f->custom = 1;
        else if (strcmp(n, "default") == 0 && at->a) {
            f->deflt = at->a;
            if (f->ty.k != TY_UNKNOWN && !lit_fits(f->ty.k, at->a))
                err(ck, at->a->loc, "default value does not fit %s (%s)", f->name, tyname(ck, f->ty));
        } else if (strcmp(n, "default") == 0) {
            err(ck, at->loc, "'default' needs a value: default = \"...\"");
        } else {
            Suggest sg;
            suggest_init(&sg, n);
            for (int i = 0; field_attrs[i]; i++) suggest_try(&sg, field_attrs[i]);
            if (at->a && strcmp(n, "default") != 0)
                err(ck, at->loc, "only 'default' takes a value, not '%s'%s", n, dym(ck, &sg));
            else
                err(ck, at->nloc, "unknown field attribute '%s'%s", n, dym(ck, &sg));
        }
    }
}

static Field *add_field(Ck *ck, Object *o, Node *decl, int custom) {
    Field *prev = symtab_get(&o->ftab, decl->name);
    if (prev) {
        err(ck, decl->nloc, "field '%s' is already declared on %s", decl->name, o->name);
        note(ck, prev->decl->nloc, "first declared here");
        return NULL;
    }
    Field *f = arena_alloc(ck->a, sizeof *f);
    f->name = decl->name;
    f->decl = decl;
    f->obj = o;
    f->quoted = 0;
    for (const char *c = decl->name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_') f->quoted = 1;
    if (!decl->name[0] || isdigit((unsigned char)decl->name[0])) f->quoted = 1;
    f->custom = custom;
    f->ty = resolve_type(ck, decl->a, 0);
    field_attrs_apply(ck, f, decl);
    f->index = o->nfields;
    decl->ty = &f->ty;
    decl->sym = f;
    VPUSH(ck, o->fields, o->nfields, o->capfields, f);
    symtab_put(&o->ftab, f->name, f);
    return f;
}

static Field *object_field(Ck *ck, Object *o, Node *name, const char *what) {
    Field *f = symtab_get(&o->ftab, name->name);
    if (!f) {
        Suggest sg;
        suggest_init(&sg, name->name);
        for (int i = 0; i < o->nfields; i++) suggest_try(&sg, o->fields[i]->name);
        err(ck, name->loc, "%s: unknown field '%s' on %s%s", what, name->name, o->name, dym(ck, &sg));
    }
    return f;
}

static void declare_object(Ck *ck, System *sys, Node *decl) {
    Object *prev = symtab_get(&sys->objtab, decl->name);
    if (prev) {
        err(ck, decl->nloc, "object '%s' is already declared in system '%s'", decl->name, sys->name);
        note(ck, prev->decl->nloc, "first declared here");
        return;
    }
    Object *o = arena_alloc(ck->a, sizeof *o);
    o->name = decl->name;
    o->sys = sys;
    o->decl = decl;
    decl->sym = o;
    symtab_init(&o->ftab, ck->a);
    VPUSH(ck, sys->objects, sys->nobjects, sys->capobjects, o);
    symtab_put(&sys->objtab, o->name, o);
    for (Node *it = decl->list; it; it = it->next)
        if (it->kind == NODE_FIELDDECL) add_field(ck, o, it, 0);
}

/* Object properties refer to fields and other objects: resolved once every
 * object of the system is declared. */
static void object_props(Ck *ck, Object *o) {
    int key_given = 0;
    for (Node *it = o->decl->list; it; it = it->next) {
        if (it->kind == NODE_PROP && it->op == TK_KEY) key_given = 1;
        if (it->kind == NODE_PROP) {
            if (it->op == TK_HAS) {
                for (Node *n = it->list; n; n = n->next) {
                    if (strcmp(n->name, "tags") == 0) o->has_tags = 1;
                    else if (strcmp(n->name, "lists") == 0) o->has_lists = 1;
                    else if (strcmp(n->name, "automations") == 0) o->has_automations = 1;
                    else {
                        Suggest sg;
                        suggest_init(&sg, n->name);
                        suggest_try(&sg, "tags");
                        suggest_try(&sg, "lists");
                        suggest_try(&sg, "automations");
                        err(ck, n->loc, "unknown capability '%s' (an object has tags, lists or automations)%s",
                            n->name, dym(ck, &sg));
                    }
                }
                continue;
            }
            Node *name = it->list;
            const char *what = it->op == TK_KEY ? "key" : it->op == TK_CREATED ? "created"
                             : it->op == TK_MODIFIED ? "modified" : it->op == TK_LIST ? "list" : "deleted";
            Field *f = object_field(ck, o, name, what);
            if (!f) continue;
            name->sym = f;
            Field **slot = it->op == TK_KEY ? &o->key : it->op == TK_CREATED ? &o->created
                         : it->op == TK_MODIFIED ? &o->modified : it->op == TK_LIST ? &o->list_field : &o->deleted;
            if (*slot) err(ck, it->loc, "'%s' is given twice for %s", what, o->name);
            *slot = f;
            if ((it->op == TK_CREATED || it->op == TK_MODIFIED) && !type_is_temporal(f->ty.k))
                err(ck, name->loc, "'%s' must name a date or datetime field; %s is %s", what, f->name,
                    tyname(ck, f->ty));
            if (it->op == TK_DELETED && f->ty.k != TY_BOOLEAN)
                err(ck, name->loc, "'deleted' must name a boolean field; %s is %s", f->name, tyname(ck, f->ty));
        } else if (it->kind == NODE_CONVERTS) {
            if (o->converts) err(ck, it->loc, "%s already declares what it converts to", o->name);
            o->converts = it;
            Object *to = symtab_get(&o->sys->objtab, it->name);
            if (!to) {
                Suggest sg;
                suggest_init(&sg, it->name);
                for (int i = 0; i < o->sys->nobjects; i++) suggest_try(&sg, o->sys->objects[i]->name);
                err(ck, it->nloc, "unknown object '%s' in system '%s'%s", it->name, o->sys->name, dym(ck, &sg));
            }
            o->converts_to = to;
            /* The condition reads the record itself; 'by' names the field
             * holding the new record's id, here or (qualified) on the new
             * record pointing back. */
            Scope sc;
            memset(&sc, 0, sizeof sc);
            sc.obj[0] = o;
            sc.qual[0] = o->name;
            sc.qual[1] = to ? to->name : NULL;
            sc.obj[1] = to;
            sc.only = -1;
            Scope self = sc;
            self.only = 0;
            check_cond(ck, &self, it->a, "'converts when'");
            if (to) {
                Field *by = resolve_fieldref(ck, it->b->name ? &sc : &self, it->b);
                if (by && by->ty.k != TY_REFERENCE && by->ty.k != TY_ID)
                    err(ck, it->b->loc, "'by' names the field holding the converted record's id; %s is %s", by->name,
                        tyname(ck, by->ty));
            }
        }
    }
    if (!key_given) err(ck, o->decl->nloc, "object '%s' needs 'key <field>' naming its record id", o->name);
}

static const char *const limit_words[] = {"maps", "custom maps", "account maps", NULL};

static void declare_system(Ck *ck, Node *decl) {
    System *prev = symtab_get(&ck->m->systab, decl->name);
    if (redeclared(ck, "system", decl, decl->name, prev ? prev->decl : NULL)) return;
    System *s = arena_alloc(ck->a, sizeof *s);
    s->name = decl->name;
    s->decl = decl;
    s->module = ck->mod;
    decl->sym = s;
    symtab_init(&s->objtab, ck->a);
    symtab_init(&s->settab, ck->a);
    symtab_init(&s->plantab, ck->a);
    symtab_put(&ck->m->systab, s->name, s);
    for (Node *it = decl->list; it; it = it->next) {
        switch (it->kind) {
        case NODE_PROP: {
            const char *k = it->list->name;
            if (s->kind) err(ck, it->loc, "'kind' is given twice for system '%s'", s->name);
            if (strcmp(k, "crm") != 0 && strcmp(k, "marketing") != 0)
                err(ck, it->list->loc, "unknown kind '%s' (a system is 'crm' or 'marketing')", k);
            s->kind = k;
            break;
        }
        case NODE_SETTINGDECL: {
            if (symtab_get(&s->settab, it->name)) {
                err(ck, it->nloc, "setting '%s' is already declared", it->name);
                break;
            }
            Field *f = arena_alloc(ck->a, sizeof *f);
            f->name = it->name;
            f->decl = it;
            f->ty = resolve_type(ck, it->a, 1);
            field_attrs_apply(ck, f, it);
            VPUSH(ck, s->settings, s->nsettings, s->capsettings, f);
            symtab_put(&s->settab, f->name, f);
            break;
        }
        case NODE_OBJECT:
            declare_object(ck, s, it);
            break;
        case NODE_PLAN:
            if (symtab_put(&s->plantab, it->name, it)) err(ck, it->nloc, "plan '%s' is already declared", it->name);
            break;
        default:
            break;
        }
    }
    if (!s->kind) err(ck, decl->nloc, "system '%s' needs 'kind crm' or 'kind marketing'", s->name);
    for (int i = 0; i < s->nobjects; i++) {
        object_props(ck, s->objects[i]);
        if (s->objects[i]->has_lists && !s->list_object) s->list_object = s->objects[i];
    }
    /* Plans count things the checker knows; validate their words now. */
    for (Node *it = decl->list; it; it = it->next) {
        if (it->kind != NODE_PLAN) continue;
        for (Node *l = it->list; l; l = l->next) {
            char words[128] = "";
            for (Node *w = l->list; w; w = w->next) {
                if (words[0]) strncat(words, " ", sizeof words - strlen(words) - 1);
                strncat(words, w->name, sizeof words - strlen(words) - 1);
            }
            int ok = 0;
            Suggest sg;
            suggest_init(&sg, words);
            for (int i = 0; limit_words[i]; i++) {
                if (strcmp(words, limit_words[i]) == 0) ok = 1;
                suggest_try(&sg, limit_words[i]);
            }
            if (!ok)
                err(ck, l->list->loc, "a limit counts 'maps', 'custom maps' or 'account maps', not '%s'%s", words,
                    dym(ck, &sg));
            if (l->str && !symtab_get(&s->objtab, l->str))
                err(ck, l->sloc, "unknown object '%s' in system '%s'", l->str, s->name);
            if (l->num < 0 || l->num != floor(l->num)) err(ck, l->loc, "a limit is a whole number");
            l->flags = ok;
        }
    }
}

/* ---------------------------------------------------------- value maps */

/* A date or date-time literal as milliseconds UTC; 0 if it is not one. */
static int lit_instant(const Node *n, int64_t *ms) {
    if (n->op != TK_DATE && n->op != TK_DATETIME) return 0;
    return parse_datetime(n->str, strlen(n->str), ms) == 0;
}

static int lit_is_bool(const Node *n) {
    return n->op == TK_TRUE || n->op == TK_FALSE || n->op == TK_ON || n->op == TK_OFF;
}

static int lit_equal(const Node *x, const Node *y) {
    if (!x || !y) return 0;
    int64_t a, b;
    if (lit_instant(x, &a) && lit_instant(y, &b)) return a == b;
    if (lit_is_bool(x) && lit_is_bool(y)) return (x->num != 0) == (y->num != 0);
    int tx = x->op, ty = y->op;
    if (tx != ty) return 0;
    if (tx == TK_NUMBER) return x->num == y->num;
    if (tx == TK_TRUE || tx == TK_FALSE || tx == TK_NULL) return 1;
    return x->str && y->str && strcmp(x->str, y->str) == 0;
}

static TypeKind lit_type(const Node *l) {
    switch (l->op) {
    case TK_STRING: return TY_TEXT;
    case TK_NUMBER: return TY_NUMBER;
    case TK_TRUE: case TK_FALSE: case TK_ON: case TK_OFF: return TY_BOOLEAN;
    case TK_NULL: return TY_NULL;
    case TK_DATE: return TY_DATE;
    case TK_DATETIME: return TY_DATETIME;
    case TK_DURATION: return TY_DURATION;
    case TK_TIME: return TY_TIME;
    default: return TY_UNKNOWN;
    }
}

static const char *lit_show(Ck *ck, const Node *l) {
    if (l->op == TK_STRING) return arena_printf(ck->a, "\"%s\"", l->str);
    if (l->op == TK_NUMBER) return arena_printf(ck->a, "%.15g", l->num);
    return l->str ? l->str : "?";
}

static ValueMap *build_values(Ck *ck, const char *name, Node *decl) {
    ValueMap *vm = arena_alloc(ck->a, sizeof *vm);
    vm->name = name;
    vm->decl = decl;
    vm->from = vm->to = TY_UNKNOWN;
    vm->injective = 1;
    Node *els = NULL;
    int npairs = 0;
    for (Node *p = decl->list; p; p = p->next) {
        if (p->kind == NODE_VELSE) {
            if (els) {
                err(ck, p->loc, "a value map has at most one 'else'");
                note(ck, els->loc, "first 'else' here");
            }
            els = p;
            TypeKind t = lit_type(p->a);
            if (vm->to == TY_UNKNOWN) vm->to = t;
            else if (t != vm->to) err(ck, p->a->loc, "'else' gives %s but the map's values are %s", type_name(t), type_name(vm->to));
            continue;
        }
        npairs++;
        TypeKind kt = lit_type(p->a), vt = lit_type(p->b);
        if (vm->from == TY_UNKNOWN) vm->from = kt;
        else if (kt != vm->from)
            err(ck, p->a->loc, "keys of a value map are all of one type: %s is %s, the first key is %s",
                lit_show(ck, p->a), type_name(kt), type_name(vm->from));
        if (vm->to == TY_UNKNOWN) vm->to = vt;
        else if (vt != vm->to)
            err(ck, p->b->loc, "values of a value map are all of one type: %s is %s, the first value is %s",
                lit_show(ck, p->b), type_name(vt), type_name(vm->to));
        for (Node *q = decl->list; q != p; q = q->next) {
            if (q->kind != NODE_VPAIR) continue;
            if (lit_equal(q->a, p->a)) {
                err(ck, p->a->loc, "%s is mapped twice", lit_show(ck, p->a));
                note(ck, q->a->loc, "first mapped here");
            } else if (lit_equal(q->b, p->b)) {
                vm->injective = 0;
            }
        }
    }
    if (npairs == 0) err(ck, decl->loc, "a value map needs at least one \"from\" = \"to\" pair");
    vm->has_else = els != NULL;
    return vm;
}

static void declare_values(Ck *ck, Node *decl) {
    ValueMap *prev = symtab_get(&ck->m->valtab, decl->name);
    if (redeclared(ck, "value map", decl, decl->name, prev ? prev->decl : NULL)) return;
    if (conversion_lookup(decl->name) >= 0)
        err(ck, decl->nloc, "'%s' is the name of a conversion, so 'as %s' could never mean this value map; rename it",
            decl->name, decl->name);
    ValueMap *vm = build_values(ck, decl->name, decl);
    decl->sym = vm;
    symtab_put(&ck->m->valtab, decl->name, vm);
}

/* --------------------------------------------------------------- scopes */


static int side_named(const Scope *sc, const char *name) {
    for (int i = 0; i < 2; i++) {
        if (sc->qual[i] && strcmp(sc->qual[i], name) == 0) return i;
    }
    for (int i = 0; i < 2; i++) {
        if (sc->qual2[i] && strcmp(sc->qual2[i], name) == 0 &&
            !(sc->qual2[0] && sc->qual2[1] && strcmp(sc->qual2[0], sc->qual2[1]) == 0))
            return i;
    }
    return -1;
}

static const char *side_name(const Scope *sc, int i) {
    return sc->qual[i] ? sc->qual[i] : sc->qual2[i] ? sc->qual2[i] : "?";
}

static void bad_side(Ck *ck, const Scope *sc, Loc loc, const char *name) {
    Suggest sg;
    suggest_init(&sg, name);
    suggest_try(&sg, side_name(sc, 0));
    suggest_try(&sg, side_name(sc, 1));
    err(ck, loc, "'%s' is not a side here (the sides are '%s' and '%s')%s", name, side_name(sc, 0),
        side_name(sc, 1), dym(ck, &sg));
}

static Field *resolve_fieldref(Ck *ck, const Scope *sc, Node *n) {
    n->ty = type_of_kind(TY_UNKNOWN);
    int want = sc->only;
    if (n->name) {
        int s = side_named(sc, n->name);
        if (s < 0) { bad_side(ck, sc, n->nloc, n->name); return NULL; }
        if (sc->only >= 0 && s != sc->only) {
            err(ck, n->loc, "only %s can be read here, not %s", side_name(sc, sc->only), side_name(sc, s));
            return NULL;
        }
        want = s;
    }
    Field *found = NULL;
    int fside = -1;
    for (int i = 0; i < 2; i++) {
        if (want >= 0 && i != want) continue;
        if (!sc->obj[i]) continue;
        Field *f = symtab_get(&sc->obj[i]->ftab, n->str);
        if (!f) continue;
        if (found) {
            err(ck, n->loc, "'%s' is a field of both %s and %s: write %s.%s or %s.%s", n->str, sc->obj[0]->name,
                sc->obj[1]->name, side_name(sc, 0), n->str, side_name(sc, 1), n->str);
            return NULL;
        }
        found = f;
        fside = i;
    }
    if (!found) {
        Suggest sg;
        suggest_init(&sg, n->str);
        const char *objs = NULL;
        for (int i = 0; i < 2; i++) {
            if (want >= 0 && i != want) continue;
            if (!sc->obj[i]) continue;
            for (int k = 0; k < sc->obj[i]->nfields; k++) suggest_try(&sg, sc->obj[i]->fields[k]->name);
            objs = objs ? arena_printf(ck->a, "%s or %s", objs, sc->obj[i]->name) : sc->obj[i]->name;
        }
        if (!objs) return NULL;
        const char *hint = dym(ck, &sg);
        if (sg.best && n->op == 0) {
            /* A quoted name must be written field("..."). */
            for (int i = 0; i < 2; i++) {
                if (want >= 0 && i != want) continue;
                Field *f = sc->obj[i] ? symtab_get(&sc->obj[i]->ftab, sg.best) : NULL;
                if (f && f->quoted) hint = arena_printf(ck->a, " (did you mean field(\"%s\")?)", sg.best);
            }
        }
        err(ck, n->op ? n->sloc : n->loc, "unknown field '%s' on %s%s", n->str, objs, hint);
        return NULL;
    }
    n->sym = found;
    n->side = fside;
    n->ty = &found->ty;
    return found;
}

/* ----------------------------------------------------------- expressions */

static Type check_expr(Ck *ck, const Scope *sc, Node *n);

static Type mk(TypeKind k) {
    Type t;
    memset(&t, 0, sizeof t);
    t.k = k;
    return t;
}

static int merge_side(int a, int b) {
    if (a < 0) return b;
    if (b < 0) return a;
    return a == b ? a : 2;
}

/* A short description of an expression for messages. */
static const char *expr_desc(Ck *ck, const Node *n) {
    switch (n->kind) {
    case NODE_FIELDREF: return arena_printf(ck->a, "'%s'", n->str);
    case NODE_LIT: return lit_show(ck, n);
    case NODE_CALL: return arena_printf(ck->a, "%s(...)", n->name);
    default: return "this expression";
    }
}

static void need_bool(Ck *ck, Node *n, Type t, const char *ctx) {
    if (t.k == TY_BOOLEAN || t.k == TY_UNKNOWN) return;
    if (n->kind == NODE_FIELDREF)
        err(ck, n->loc, "%s needs a condition, but %s is %s (did you mean '%s is not blank'?)", ctx,
            expr_desc(ck, n), tyname(ck, t), n->str);
    else
        err(ck, n->loc, "%s needs a condition, but %s is %s", ctx, expr_desc(ck, n), tyname(ck, t));
}

static void check_picklist_value(Ck *ck, Node *field, Node *lit) {
    if (field->kind != NODE_FIELDREF || lit->kind != NODE_LIT || lit->op != TK_STRING) return;
    Field *f = field->sym;
    if (!f || !f->ty.values) return;
    for (int i = 0; i < f->ty.nvalues; i++)
        if (strcmp(f->ty.values[i], lit->str) == 0) return;
    Suggest sg;
    suggest_init(&sg, lit->str);
    for (int i = 0; i < f->ty.nvalues; i++) suggest_try(&sg, f->ty.values[i]);
    warn(ck, lit->loc, "\"%s\" is not a value of %s%s", lit->str, f->name,
         sg.best ? arena_printf(ck->a, " (did you mean \"%s\"?)", sg.best) : "");
}

static Type check_call(Ck *ck, const Scope *sc, Node *n) {
    int nargs = ast_list_len(n->list);
    if (strcmp(n->name, "env") == 0 || strcmp(n->name, "secret") == 0) {
        if (!sc->settings) {
            err(ck, n->nloc, "%s() reads the environment and is allowed only in source settings", n->name);
            return mk(TY_UNKNOWN);
        }
        Node *arg = n->list;
        if (nargs != 1 || arg->name || arg->a->kind != NODE_LIT || arg->a->op != TK_STRING) {
            err(ck, n->loc, "%s() takes one name in quotes, like %s(\"AC_API_KEY\")", n->name, n->name);
            return mk(TY_UNKNOWN);
        }
        const char *v = arg->a->str;
        int ok = *v && !isdigit((unsigned char)*v);
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_') ok = 0;
        if (!ok) err(ck, arg->a->loc, "'%s' is not a variable name (letters, digits and '_')", v);
        n->flags = -1;
        return mk(TY_UNKNOWN);
    }
    if (strcmp(n->name, "oauth2") == 0) {
        err(ck, n->nloc, "oauth2(...) describes a source's auth setting and is allowed only there");
        return mk(TY_UNKNOWN);
    }
    int id = builtin_lookup(n->name);
    if (id < 0) {
        Suggest sg;
        suggest_init(&sg, n->name);
        for (int i = 0; i < FN__COUNT; i++) suggest_try(&sg, builtins[i].name);
        const char *hint = dym(ck, &sg);
        if (!sg.best && conversion_lookup(n->name) >= 0)
            hint = arena_printf(ck->a, " (a conversion is written after a map: 'map X -> Y as %s')", n->name);
        err(ck, n->nloc, "unknown function '%s'%s", n->name, hint);
        for (Node *a = n->list; a; a = a->next) check_expr(ck, sc, a->a);
        return mk(TY_UNKNOWN);
    }
    const Builtin *b = &builtins[id];
    n->flags = id + 1;
    if (nargs < b->min || nargs > b->max) {
        if (b->min == b->max)
            err(ck, n->loc, "%s() takes %d argument%s, not %d", b->name, b->min, b->min == 1 ? "" : "s", nargs);
        else if (b->max >= 64)
            err(ck, n->loc, "%s() takes at least %d arguments, not %d", b->name, b->min, nargs);
        else
            err(ck, n->loc, "%s() takes %d to %d arguments, not %d", b->name, b->min, b->max, nargs);
    }
    Type first = mk(TY_UNKNOWN), second = mk(TY_UNKNOWN);
    int i = 0, side = -1;
    size_t nk = strlen(b->args);
    for (Node *a = n->list; a; a = a->next, i++) {
        if (a->name) err(ck, a->nloc, "%s() takes no named arguments", b->name);
        Type t = check_expr(ck, sc, a->a);
        side = merge_side(side, a->a->side);
        char kind = nk ? b->args[(size_t)i < nk ? (size_t)i : nk - 1] : 'a';
        int ok = 1;
        switch (kind) {
        case 't': ok = type_is_text(t.k) || t.k == TY_UNKNOWN || t.k == TY_NULL; break;
        case 'n': ok = type_is_numeric(t.k) || t.k == TY_UNKNOWN || t.k == TY_NULL; break;
        case 'b': ok = t.k == TY_BOOLEAN || t.k == TY_UNKNOWN; break;
        case 'd': ok = type_is_temporal(t.k) || t.k == TY_UNKNOWN || t.k == TY_NULL; break;
        default: break;
        }
        if (!ok) {
            const char *want = kind == 't' ? "text" : kind == 'n' ? "a number" : kind == 'b' ? "a condition" : "a date";
            err(ck, a->a->loc, "argument %d of %s() must be %s, not %s", i + 1, b->name, want, tyname(ck, t));
        }
        if (i == 0) first = t;
        if (i == 1) second = t;
        if (b->ret == TY_UNKNOWN && i > 0) {
            Type ref = id == FN_IF ? second : first;
            if ((id == FN_COALESCE || i >= 2) && !type_comparable(ref.k, t.k))
                err(ck, a->a->loc, "%s() mixes %s and %s", b->name, tyname(ck, ref), tyname(ck, t));
        }
    }
    n->side = side;
    if (b->ret != TY_UNKNOWN) return mk(b->ret);
    return id == FN_IF ? second : first;
}

static Type check_binary(Ck *ck, const Scope *sc, Node *n) {
    Type l = check_expr(ck, sc, n->a);
    Type r = check_expr(ck, sc, n->b);
    n->side = merge_side(n->a->side, n->b->side);
    const char *opname = lex_token_name(n->op);
    switch (n->op) {
    case TK_AND: case TK_OR:
        need_bool(ck, n->a, l, opname);
        need_bool(ck, n->b, r, opname);
        return mk(TY_BOOLEAN);
    case TK_EQEQ: case TK_NE: case TK_LT: case TK_LE: case TK_GT: case TK_GE:
        if (!type_comparable(l.k, r.k)) {
            err(ck, n->loc, "cannot compare %s (%s) with %s (%s)", expr_desc(ck, n->a), tyname(ck, l),
                expr_desc(ck, n->b), tyname(ck, r));
        } else if (n->op != TK_EQEQ && n->op != TK_NE && (l.k == TY_BOOLEAN || r.k == TY_BOOLEAN)) {
            err(ck, n->loc, "true and false have no order; use == or !=");
        } else if ((l.k == TY_NULL || r.k == TY_NULL)) {
            err(ck, n->loc, "compare with 'is blank' or 'is not blank' instead of null");
        }
        check_picklist_value(ck, n->a, n->b);
        check_picklist_value(ck, n->b, n->a);
        return mk(TY_BOOLEAN);
    case TK_CONTAINS: case TK_STARTS: case TK_ENDS:
        if (!(type_is_text(l.k) || l.k == TY_UNKNOWN))
            err(ck, n->a->loc, "%s needs text on its left, not %s", opname, tyname(ck, l));
        if (!(type_is_text(r.k) || r.k == TY_UNKNOWN))
            err(ck, n->b->loc, "%s needs text on its right, not %s", opname, tyname(ck, r));
        return mk(TY_BOOLEAN);
    case TK_PLUS: case TK_MINUS: case TK_STAR: case TK_SLASH:
        if (l.k == TY_UNKNOWN || r.k == TY_UNKNOWN) return mk(TY_UNKNOWN);
        if (type_is_numeric(l.k) && type_is_numeric(r.k)) {
            if ((n->op == TK_PLUS || n->op == TK_MINUS) && (l.k == TY_CURRENCY || r.k == TY_CURRENCY))
                return mk(TY_CURRENCY);
            return mk(TY_NUMBER);
        }
        if ((n->op == TK_PLUS || n->op == TK_MINUS) && type_is_temporal(l.k) && r.k == TY_DURATION) return l;
        if (n->op == TK_PLUS && type_is_temporal(r.k) && l.k == TY_DURATION) return r;
        if (n->op == TK_PLUS && type_is_text(l.k) && type_is_text(r.k)) {
            err(ck, n->loc, "'+' adds numbers; join text with concat(a, b)");
            return mk(TY_UNKNOWN);
        }
        err(ck, n->loc, "cannot apply %s to %s and %s", opname, tyname(ck, l), tyname(ck, r));
        return mk(TY_UNKNOWN);
    default:
        return mk(TY_UNKNOWN);
    }
}

/* Where a node keeps the type check_expr found: a field's own, or the
 * kind's (nearly all the rest), else a copy. */
static const Type *keep_type(Ck *ck, Type t) {
    if (!t.ref && !t.size && !t.values && !t.nvalues) return type_of_kind(t.k);
    Type *k = arena_alloc(ck->a, sizeof *k);
    *k = t;
    return k;
}

static Type check_expr(Ck *ck, const Scope *sc, Node *n) {
    Type t = mk(TY_UNKNOWN);
    const Type *field = NULL;
    switch (n->kind) {
    case NODE_LIT:
        t = mk(lit_type(n));
        break;
    case NODE_FIELDREF: {
        Field *f = resolve_fieldref(ck, sc, n);
        if (f) t = *(field = &f->ty);
        break;
    }
    case NODE_TAGGED: {
        int s = -1;
        if (n->name) {
            s = side_named(sc, n->name);
            if (s < 0) { bad_side(ck, sc, n->nloc, n->name); break; }
            if (sc->obj[s] && !sc->obj[s]->has_tags)
                err(ck, n->loc, "%s records carry no tags", sc->obj[s]->name);
        } else {
            int cand[2] = {0, 0};
            for (int i = 0; i < 2; i++)
                cand[i] = sc->obj[i] && sc->obj[i]->has_tags && (sc->only < 0 || sc->only == i);
            if (cand[0] && cand[1]) err(ck, n->loc, "both sides carry tags: write 'tagged %s \"...\"'", side_name(sc, 1));
            else if (cand[0]) s = 0;
            else if (cand[1]) s = 1;
            else if (sc->only >= 0 && sc->obj[sc->only])
                err(ck, n->loc, "%s records carry no tags", sc->obj[sc->only]->name);
            else
                err(ck, n->loc, "neither %s nor %s records carry tags", sc->obj[0] ? sc->obj[0]->name : "?",
                    sc->obj[1] ? sc->obj[1]->name : "?");
        }
        if (s >= 0 && sc->only >= 0 && s != sc->only)
            err(ck, n->loc, "only %s can be read here, not %s", side_name(sc, sc->only), side_name(sc, s));
        if (!n->str[0]) err(ck, n->sloc, "a tag name cannot be empty");
        n->side = s;
        t = mk(TY_BOOLEAN);
        break;
    }
    case NODE_CALL:
        t = check_call(ck, sc, n);
        break;
    case NODE_UNARY: {
        Type a = check_expr(ck, sc, n->a);
        n->side = n->a->side;
        if (n->op == TK_NOT) {
            need_bool(ck, n->a, a, "'not'");
            t = mk(TY_BOOLEAN);
        } else {
            if (!(type_is_numeric(a.k) || a.k == TY_DURATION || a.k == TY_UNKNOWN))
                err(ck, n->loc, "'-' needs a number, not %s", tyname(ck, a));
            t = a.k == TY_DURATION ? a : type_is_numeric(a.k) ? a : mk(TY_UNKNOWN);
        }
        break;
    }
    case NODE_BINARY:
        t = check_binary(ck, sc, n);
        break;
    case NODE_INLIST: {
        Type a = check_expr(ck, sc, n->a);
        n->side = n->a->side;
        if (!n->list) err(ck, n->loc, "an empty list: '%s []' never matches", n->op ? "not in" : "in");
        for (Node *e = n->list; e; e = e->next) {
            Type et = check_expr(ck, sc, e);
            n->side = merge_side(n->side, e->side);
            if (!type_comparable(a.k, et.k))
                err(ck, e->loc, "%s is %s, but %s is %s", expr_desc(ck, e), tyname(ck, et), expr_desc(ck, n->a),
                    tyname(ck, a));
            else
                check_picklist_value(ck, n->a, e);
            for (Node *p = n->list; p != e; p = p->next)
                if (p->kind == NODE_LIT && e->kind == NODE_LIT && lit_equal(p, e))
                    warn(ck, e->loc, "%s is listed twice", lit_show(ck, e));
        }
        t = mk(TY_BOOLEAN);
        break;
    }
    case NODE_ISBLANK:
        check_expr(ck, sc, n->a);
        n->side = n->a->side;
        t = mk(TY_BOOLEAN);
        break;
    case NODE_ALL: case NODE_ANY:
        for (Node *c = n->list; c; c = c->next) {
            Type ct = check_expr(ck, sc, c);
            n->side = merge_side(n->side, c->side);
            need_bool(ck, c, ct, n->kind == NODE_ALL ? "'all'" : "'any'");
        }
        if (!n->list) err(ck, n->loc, "an empty '%s { }' block", n->kind == NODE_ALL ? "all" : "any");
        t = mk(TY_BOOLEAN);
        break;
    default:
        break;
    }
    n->ty = field ? field : keep_type(ck, t);
    return t;
}

/* ------------------------------------------------ criteria that never match */

enum { AT_EQ, AT_NE, AT_IN, AT_NOTIN, AT_BLANK, AT_NOTBLANK, AT_LT, AT_LE, AT_GT, AT_GE, AT_TAGGED, AT_UNTAGGED };

typedef struct Atom {
    const void *key;   /* Field* or tag text */
    int side;
    int kind;          /* AT_* */
    Node *lit;         /* the constant (AT_EQ ... AT_GE) */
    Node *list;        /* the elements (AT_IN, AT_NOTIN) */
    Node *node;        /* the whole condition */
} Atom;

static int is_const(const Node *n) {
    return n->kind == NODE_LIT && n->op != TK_NULL && n->op != TK_DURATION && n->op != TK_TIME;
}

static int flip_cmp(int op) {
    switch (op) {
    case TK_LT: return TK_GT;
    case TK_LE: return TK_GE;
    case TK_GT: return TK_LT;
    case TK_GE: return TK_LE;
    default: return op;
    }
}

static int atom_of(Node *n, Atom *out) {
    memset(out, 0, sizeof *out);
    out->node = n;
    if (n->kind == NODE_TAGGED) {
        out->key = n->str; out->side = n->side; out->kind = AT_TAGGED;
        return n->str != NULL;
    }
    if (n->kind == NODE_UNARY && n->op == TK_NOT && n->a->kind == NODE_TAGGED) {
        out->key = n->a->str; out->side = n->a->side; out->kind = AT_UNTAGGED;
        return 1;
    }
    if (n->kind == NODE_ISBLANK && n->a->kind == NODE_FIELDREF && n->a->sym) {
        out->key = n->a->sym; out->side = n->a->side; out->kind = n->op ? AT_NOTBLANK : AT_BLANK;
        return 1;
    }
    if (n->kind == NODE_INLIST && n->a->kind == NODE_FIELDREF && n->a->sym) {
        for (Node *e = n->list; e; e = e->next) if (!is_const(e)) return 0;
        out->key = n->a->sym; out->side = n->a->side; out->kind = n->op ? AT_NOTIN : AT_IN; out->list = n->list;
        return 1;
    }
    if (n->kind == NODE_BINARY) {
        Node *f = NULL, *c = NULL;
        int op = n->op;
        if (n->a->kind == NODE_FIELDREF && n->a->sym && is_const(n->b)) { f = n->a; c = n->b; }
        else if (n->b->kind == NODE_FIELDREF && n->b->sym && is_const(n->a)) { f = n->b; c = n->a; op = flip_cmp(op); }
        if (!f) return 0;
        out->key = f->sym; out->side = f->side; out->lit = c;
        switch (op) {
        case TK_EQEQ: out->kind = AT_EQ; return 1;
        case TK_NE: out->kind = AT_NE; return 1;
        case TK_LT: out->kind = AT_LT; return 1;
        case TK_LE: out->kind = AT_LE; return 1;
        case TK_GT: out->kind = AT_GT; return 1;
        case TK_GE: out->kind = AT_GE; return 1;
        default: return 0;
        }
    }
    return 0;
}

/* Compares two constants of one kind: <0, 0, >0; 2 when not comparable. */
static int lit_cmp(const Node *a, const Node *b) {
    if (a->op == TK_NUMBER && b->op == TK_NUMBER) return (a->num > b->num) - (a->num < b->num);
    int64_t x, y;
    if (lit_instant(a, &x) && lit_instant(b, &y)) return (x > y) - (x < y);
    if (lit_is_bool(a) && lit_is_bool(b)) return (a->num != 0) - (b->num != 0);
    if (a->op == TK_STRING && b->op == TK_STRING) {
        int c = strcmp(a->str, b->str);
        return (c > 0) - (c < 0);
    }
    return 2;
}

static int in_list(const Node *lit, const Node *list) {
    for (; list; list = list->next) if (lit_equal(lit, list)) return 1;
    return 0;
}

/* Does x hold for the value v? (x a comparison atom) */
static int atom_admits(const Atom *x, const Node *v) {
    int c = lit_cmp(v, x->lit);
    if (c == 2) return 1;
    switch (x->kind) {
    case AT_EQ: return c == 0;
    case AT_NE: return c != 0;
    case AT_LT: return c < 0;
    case AT_LE: return c <= 0;
    case AT_GT: return c > 0;
    case AT_GE: return c >= 0;
    default: return 1;
    }
}

/* Why x and y cannot both hold, or NULL. */
static int is_tag_atom(const Atom *x) { return x->kind == AT_TAGGED || x->kind == AT_UNTAGGED; }

static const char *clash(Ck *ck, const Atom *x, const Atom *y, const char *fname) {
    if (x->side != y->side || is_tag_atom(x) != is_tag_atom(y)) return NULL;
    if (is_tag_atom(x) ? strcmp(x->key, y->key) != 0 : x->key != y->key) return NULL;
    int a = x->kind, b = y->kind;
    if (a == AT_TAGGED && b == AT_UNTAGGED) return arena_printf(ck->a, "a record cannot both carry and lack tag \"%s\"", (const char *)x->key);
    if (b == AT_TAGGED && a == AT_UNTAGGED) return arena_printf(ck->a, "a record cannot both carry and lack tag \"%s\"", (const char *)x->key);
    if (a == AT_TAGGED || a == AT_UNTAGGED || b == AT_TAGGED || b == AT_UNTAGGED) return NULL;
    if ((a == AT_BLANK && b == AT_NOTBLANK) || (a == AT_NOTBLANK && b == AT_BLANK))
        return arena_printf(ck->a, "%s cannot be blank and not blank", fname);
    if (a == AT_BLANK || b == AT_BLANK) {
        const Atom *o = a == AT_BLANK ? y : x;
        if (o->kind == AT_EQ && !(o->lit->op == TK_STRING && !o->lit->str[0]))
            return arena_printf(ck->a, "%s cannot be blank and equal %s", fname, lit_show(ck, o->lit));
        if (o->kind == AT_IN) return arena_printf(ck->a, "%s cannot be blank and in a list of values", fname);
        return NULL;
    }
    if (a == AT_NOTBLANK || b == AT_NOTBLANK) return NULL;
    if (a == AT_IN && b == AT_IN) {
        for (Node *e = x->list; e; e = e->next) if (in_list(e, y->list)) return NULL;
        return arena_printf(ck->a, "the two lists for %s have no value in common", fname);
    }
    if (a == AT_IN || b == AT_IN) {
        const Atom *l = a == AT_IN ? x : y, *o = a == AT_IN ? y : x;
        if (o->kind == AT_NOTIN) {
            for (Node *e = l->list; e; e = e->next) if (!in_list(e, o->list)) return NULL;
            return arena_printf(ck->a, "every value listed for %s is also excluded", fname);
        }
        for (Node *e = l->list; e; e = e->next) if (atom_admits(o, e)) return NULL;
        return arena_printf(ck->a, "no value listed for %s satisfies the other condition", fname);
    }
    if (a == AT_NOTIN || b == AT_NOTIN) {
        const Atom *l = a == AT_NOTIN ? x : y, *o = a == AT_NOTIN ? y : x;
        if (o->kind == AT_EQ && in_list(o->lit, l->list))
            return arena_printf(ck->a, "%s cannot equal %s and not be in a list holding it", fname, lit_show(ck, o->lit));
        return NULL;
    }
    if (a == AT_EQ && b == AT_EQ) {
        if (lit_equal(x->lit, y->lit)) return NULL;
        if (lit_cmp(x->lit, y->lit) == 2 && x->lit->op != y->lit->op) return NULL;
        return arena_printf(ck->a, "%s cannot equal both %s and %s", fname, lit_show(ck, x->lit), lit_show(ck, y->lit));
    }
    if (a == AT_EQ || b == AT_EQ) {
        const Atom *e = a == AT_EQ ? x : y, *o = a == AT_EQ ? y : x;
        if (o->kind == AT_NE) {
            if (lit_equal(e->lit, o->lit))
                return arena_printf(ck->a, "%s cannot both equal and differ from %s", fname, lit_show(ck, e->lit));
            return NULL;
        }
        if (lit_cmp(e->lit, o->lit) == 2) return NULL;
        if (!atom_admits(o, e->lit))
            return arena_printf(ck->a, "%s = %s is outside the other bound", fname, lit_show(ck, e->lit));
        return NULL;
    }
    /* Two bounds: one lower, one upper. */
    const Atom *lo = NULL, *hi = NULL;
    if ((a == AT_GT || a == AT_GE) && (b == AT_LT || b == AT_LE)) { lo = x; hi = y; }
    if ((b == AT_GT || b == AT_GE) && (a == AT_LT || a == AT_LE)) { lo = y; hi = x; }
    if (!lo) return NULL;
    int c = lit_cmp(lo->lit, hi->lit);
    if (c == 2) return NULL;
    if (c > 0 || (c == 0 && (lo->kind == AT_GT || hi->kind == AT_LT)))
        return arena_printf(ck->a, "no %s is %s %s and %s %s", fname, lo->kind == AT_GT ? "above" : "at least",
                            lit_show(ck, lo->lit), hi->kind == AT_LT ? "below" : "at most", lit_show(ck, hi->lit));
    return NULL;
}

static void collect_conjuncts(Node *n, Node ***v, int *nv, int *cap, Ck *ck) {
    if (n->kind == NODE_ALL) {
        for (Node *c = n->list; c; c = c->next) collect_conjuncts(c, v, nv, cap, ck);
        return;
    }
    if (n->kind == NODE_BINARY && n->op == TK_AND) {
        collect_conjuncts(n->a, v, nv, cap, ck);
        collect_conjuncts(n->b, v, nv, cap, ck);
        return;
    }
    VPUSH_IN(ck->tmp, *v, *nv, *cap, n);
}

static int is_tag_kind(int kind) { return kind == AT_TAGGED || kind == AT_UNTAGGED; }

/* Atoms about the same field (or tag) sort next to each other; within a
 * group, source order. */
static int same_subject(const Atom *a, const Atom *b) {
    if (is_tag_kind(a->kind) != is_tag_kind(b->kind) || a->side != b->side) return 0;
    return is_tag_kind(a->kind) ? strcmp(a->key, b->key) == 0 : a->key == b->key;
}

static int cmp_atom(const void *x, const void *y) {
    const Atom *a = x, *b = y;
    int ta = is_tag_kind(a->kind), tb = is_tag_kind(b->kind);
    if (ta != tb) return ta - tb;
    if (ta) {
        int c = strcmp(a->key, b->key);
        if (c) return c;
    } else if (a->key != b->key) {
        return (uintptr_t)a->key < (uintptr_t)b->key ? -1 : 1;
    }
    if (a->side != b->side) return a->side - b->side;
    return (a->node->loc.off > b->node->loc.off) - (a->node->loc.off < b->node->loc.off);
}

/* Reports conjunctions that can never hold, like x == "a" and x == "b".
 * Only atoms about one field can clash, so they are grouped first. */
static void check_never(Ck *ck, Node *cond) {
    Node **v = NULL;
    int n = 0, cap = 0;
    collect_conjuncts(cond, &v, &n, &cap, ck);
    Atom *at = arena_alloc(ck->tmp, (size_t)(n ? n : 1) * sizeof *at);
    int na = 0;
    for (int i = 0; i < n; i++) if (atom_of(v[i], &at[na])) na++;
    qsort(at, (size_t)na, sizeof *at, cmp_atom);
    const Atom *bi = NULL, *bj = NULL;
    const char *bwhy = NULL;
    for (int g = 0; g < na;) {
        int e = g + 1;
        while (e < na && same_subject(&at[g], &at[e])) e++;
        for (int j = g + 1; j < e; j++) {
            for (int i = g; i < j; i++) {
                const char *fname = is_tag_kind(at[i].kind) ? "" : ((const Field *)at[i].key)->name;
                const char *why = clash(ck, &at[i], &at[j], fname);
                if (!why) continue;
                if (!bj || at[j].node->loc.off < bj->node->loc.off) {
                    bi = &at[i];
                    bj = &at[j];
                    bwhy = why;
                }
                break;
            }
        }
        g = e;
    }
    if (bj) {
        err(ck, bj->node->loc, "criteria can never match: %s", bwhy);
        note(ck, bi->node->loc, "the other condition");
        return;
    }
    /* Nested blocks and alternatives get their own look. */
    for (int i = 0; i < n; i++) {
        if (v[i]->kind == NODE_ANY)
            for (Node *c = v[i]->list; c; c = c->next) check_never(ck, c);
        else if (v[i]->kind == NODE_BINARY && v[i]->op == TK_OR) {
            check_never(ck, v[i]->a);
            check_never(ck, v[i]->b);
        }
    }
}

static void check_cond(Ck *ck, const Scope *sc, Node *n, const char *ctx) {
    Type t = check_expr(ck, sc, n);
    need_bool(ck, n, t, ctx);
    if (t.k == TY_BOOLEAN) check_never(ck, n);
}

/* ------------------------------------------------------------ settings */

static const struct OAuthParam { const char *name; int credential; } oauth2_params[] = {
    {"client_id", 0}, {"client_secret", 1}, {"refresh_token", 1}, {"tenant_id", 0},
    {"login_url", 0}, {"token_url", 0}, {"scope", 0}, {"username", 0}, {"password", 1},
    {"private_key", 1}, {"access_token", 1}, {NULL, 0},
};

static int is_env_call(const Node *n) {
    return n->kind == NODE_CALL && (strcmp(n->name, "env") == 0 || strcmp(n->name, "secret") == 0);
}

/* A literal that looks like a key or token: long, no blanks, letters and
 * digits mixed.  Only a warning: it may be an id. */
static int looks_secret(const char *s) {
    size_t n = strlen(s);
    if (n < 24 || strstr(s, "://")) return 0;
    int digits = 0, alpha = 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p)) digits++;
        else if (isalpha((unsigned char)*p)) alpha++;
        else if (*p != '-' && *p != '_' && *p != '.' && *p != '=' && *p != '+' && *p != '/') return 0;
    }
    return digits >= 4 && alpha >= 4;
}

/* Did the file being checked name this module in a `use`? */
static int uses_directly(Ck *ck, const char *module) {
    for (Node *s = ck->mod->root->list; s; s = s->next) {
        if (s->kind != NODE_USE) continue;
        for (Node *n = s->list; n; n = n->next)
            if (strcmp(n->name, module) == 0) return 1;
    }
    return 0;
}

static void literal_credential(Ck *ck, Node *v, const char *what) {
    err(ck, v->loc, "credential '%s' is written in the rule file; read it with env(\"...\") or secret(\"...\")", what);
}

static void check_oauth2(Ck *ck, const Scope *sc, Node *call) {
    if (call->kind != NODE_CALL || strcmp(call->name, "oauth2") != 0) {
        if (call->kind == NODE_LIT && call->op == TK_STRING) literal_credential(ck, call, "auth");
        else err(ck, call->loc, "auth is described with oauth2(client_id = ..., ...)");
        return;
    }
    for (Node *a = call->list; a; a = a->next) {
        if (!a->name) { err(ck, a->loc, "oauth2() arguments are named, like client_id = env(\"SF_CLIENT_ID\")"); continue; }
        const struct OAuthParam *p = NULL;
        Suggest sg;
        suggest_init(&sg, a->name);
        for (int i = 0; oauth2_params[i].name; i++) {
            if (strcmp(oauth2_params[i].name, a->name) == 0) p = &oauth2_params[i];
            suggest_try(&sg, oauth2_params[i].name);
        }
        if (!p) { err(ck, a->nloc, "unknown oauth2() argument '%s'%s", a->name, dym(ck, &sg)); continue; }
        for (Node *b = call->list; b != a; b = b->next)
            if (b->name && strcmp(b->name, a->name) == 0) err(ck, a->nloc, "'%s' is given twice", a->name);
        if (is_env_call(a->a)) { check_expr(ck, sc, a->a); continue; }
        if (p->credential && a->a->kind == NODE_LIT) { literal_credential(ck, a->a, a->name); continue; }
        Type t = check_expr(ck, sc, a->a);
        if (!(type_is_text(t.k) || t.k == TY_UNKNOWN))
            err(ck, a->a->loc, "oauth2() argument '%s' is text, not %s", a->name, tyname(ck, t));
    }
}

static void check_source(Ck *ck, Node *decl) {
    Model *m = ck->m;
    Source *prev = symtab_get(&m->srctab, decl->name);
    if (redeclared(ck, "source", decl, decl->name, prev ? prev->decl : NULL)) return;
    Source *s = arena_alloc(ck->a, sizeof *s);
    s->name = decl->name;
    s->decl = decl;
    decl->sym = s;
    symtab_put(&m->srctab, s->name, s);
    System *sys = symtab_get(&m->systab, decl->a->name);
    if (!sys) {
        Suggest sg;
        suggest_init(&sg, decl->a->name);
        for (int i = 0; i < m->systab.n; i++) suggest_try(&sg, m->systab.order[i].key);
        const char **names;
        int n = unit_list_stdlib(ck->u, &names), in_stdlib = 0;
        for (int i = 0; i < n; i++) if (strcmp(names[i], decl->a->name) == 0) in_stdlib = 1;
        if (in_stdlib)
            err(ck, decl->a->loc, "unknown system '%s' (add 'use %s' at the top of the file)", decl->a->name, decl->a->name);
        else
            err(ck, decl->a->loc, "unknown system '%s'%s", decl->a->name, dym(ck, &sg));
        return;
    }
    s->sys = sys;
    if (!sys->module->is_main && !uses_directly(ck, sys->module->name))
        err(ck, decl->a->loc, "system '%s' is declared in module '%s', which this file does not use (add 'use %s')",
            sys->name, sys->module->name, sys->module->name);
    Scope sc;
    memset(&sc, 0, sizeof sc);
    sc.only = -1;
    sc.settings = 1;
    for (Node *st = decl->list; st; st = st->next) {
        Field *def = symtab_get(&sys->settab, st->name);
        for (Node *p = decl->list; p != st; p = p->next)
            if (strcmp(p->name, st->name) == 0) {
                err(ck, st->nloc, "setting '%s' is given twice", st->name);
                note(ck, p->nloc, "first given here");
            }
        if (!def) {
            Suggest sg;
            suggest_init(&sg, st->name);
            for (int i = 0; i < sys->nsettings; i++) suggest_try(&sg, sys->settings[i]->name);
            err(ck, st->nloc, "unknown setting '%s' for %s%s", st->name, sys->name, dym(ck, &sg));
            check_expr(ck, &sc, st->a);
            continue;
        }
        st->sym = def;
        Node *v = st->a;
        switch (def->ty.k) {
        case TY_CREDENTIAL:
            if (is_env_call(v)) check_expr(ck, &sc, v);
            else if (v->kind == NODE_LIT) literal_credential(ck, v, st->name);
            else err(ck, v->loc, "credential '%s' must come from env(\"...\") or secret(\"...\")", st->name);
            break;
        case TY_OAUTH2:
            check_oauth2(ck, &sc, v);
            break;
        default: {
            Type t = check_expr(ck, &sc, v);
            if (is_env_call(v)) break;
            if (v->kind == NODE_LIT && v->op == TK_STRING && looks_secret(v->str))
                warn(ck, v->loc, "this looks like a key or token; keep secrets out of rule files with secret(\"...\")");
            if (def->ty.k == TY_URL && v->kind == NODE_LIT && v->op == TK_STRING && !value_fits(TY_URL, v, t.k))
                err(ck, v->loc, "'%s' is not a URL (it starts with https://)", v->str);
            else if (!value_fits(def->ty.k, v, t.k))
                err(ck, v->loc, "setting '%s' is %s, not %s", st->name, tyname(ck, def->ty), tyname(ck, t));
            if (def->ty.values && v->kind == NODE_LIT && v->op == TK_STRING) {
                int ok = 0;
                Suggest sg;
                suggest_init(&sg, v->str);
                for (int i = 0; i < def->ty.nvalues; i++) {
                    if (strcmp(def->ty.values[i], v->str) == 0) ok = 1;
                    suggest_try(&sg, def->ty.values[i]);
                }
                if (!ok) err(ck, v->loc, "\"%s\" is not a value of '%s'%s", v->str, st->name, dym(ck, &sg));
            }
            if (strcmp(st->name, "plan") == 0 && v->kind == NODE_LIT && v->op == TK_STRING) {
                Node *plan = symtab_get(&sys->plantab, v->str);
                if (!plan) {
                    Suggest sg;
                    suggest_init(&sg, v->str);
                    for (int i = 0; i < sys->plantab.n; i++) suggest_try(&sg, sys->plantab.order[i].key);
                    err(ck, v->loc, "unknown plan \"%s\" for %s%s", v->str, sys->name, dym(ck, &sg));
                }
                s->plan = plan;
                s->plan_setting = st;
            }
        }
        }
    }
    /* Required settings that are missing, named together. */
    char missing[512] = "";
    int nmissing = 0;
    for (int i = 0; i < sys->nsettings; i++) {
        Field *f = sys->settings[i];
        if (!f->required || f->deflt) continue;
        int given = 0;
        for (Node *st = decl->list; st; st = st->next) if (strcmp(st->name, f->name) == 0) given = 1;
        if (given) continue;
        if (nmissing++) strncat(missing, ", ", sizeof missing - strlen(missing) - 1);
        strncat(missing, f->name, sizeof missing - strlen(missing) - 1);
    }
    if (nmissing)
        err(ck, decl->nloc, "source '%s' lacks required setting%s %s", s->name, nmissing > 1 ? "s" : "", missing);
}

/* ------------------------------------------------------------- extends */

static Object *endpoint_object(Ck *ck, Node *ep, Source **src_out, int for_sync);

static void check_extend(Ck *ck, Node *decl) {
    if (decl->a->c) {
        err(ck, decl->a->loc, "extend names an object, like sf.Lead");
        return;
    }
    Object *o = endpoint_object(ck, decl->a, NULL, 0);
    if (!o) return;
    for (Node *f = decl->list; f; f = f->next) add_field(ck, o, f, 1);
}

/* ------------------------------------------------------------- endpoints */

/* Resolves `x.Object` (or `x.list("...")`): x is a source, or in a mapping
 * or extend also a system. */
static Object *endpoint_object(Ck *ck, Node *ep, Source **src_out, int for_sync) {
    Model *m = ck->m;
    System *sys = NULL;
    Source *src = symtab_get(&m->srctab, ep->name);
    if (src) {
        sys = src->sys;
        src->used |= for_sync;
        if (!sys) return NULL;
    } else if (!for_sync) {
        sys = symtab_get(&m->systab, ep->name);
    }
    if (!sys) {
        Suggest sg;
        suggest_init(&sg, ep->name);
        for (int i = 0; i < m->srctab.n; i++) suggest_try(&sg, m->srctab.order[i].key);
        if (!for_sync) for (int i = 0; i < m->systab.n; i++) suggest_try(&sg, m->systab.order[i].key);
        if (for_sync && symtab_get(&m->systab, ep->name))
            err(ck, ep->nloc, "'%s' is a system; a sync names a source declared with 'source x = %s { ... }'",
                ep->name, ep->name);
        else
            err(ck, ep->nloc, "unknown %s '%s'%s", for_sync ? "source" : "source or system", ep->name, dym(ck, &sg));
        return NULL;
    }
    if (src_out) *src_out = src;
    if (ep->c) {
        if (!sys->list_object) {
            err(ck, ep->sloc, "%s has no lists", sys->name);
            return NULL;
        }
        ep->sym = sys->list_object;
        return sys->list_object;
    }
    Object *o = symtab_get(&sys->objtab, ep->str);
    if (!o) {
        Suggest sg;
        suggest_init(&sg, ep->str);
        for (int i = 0; i < sys->nobjects; i++) suggest_try(&sg, sys->objects[i]->name);
        err(ck, ep->sloc, "unknown object '%s' in %s%s", ep->str, sys->name, dym(ck, &sg));
        return NULL;
    }
    ep->sym = o;
    return o;
}

/* ------------------------------------------------------------------ maps */

static int flow_of_arrow(int arrow) { return arrow == TK_BOTH ? 3 : arrow == TK_RARROW ? 1 : 2; }

static const char *flow_desc(Ck *ck, const Scope *sc, int flow) {
    if (flow == 3) return arena_printf(ck->a, "%s <-> %s", side_name(sc, 0), side_name(sc, 1));
    if (flow == 1) return arena_printf(ck->a, "%s -> %s", side_name(sc, 0), side_name(sc, 1));
    return arena_printf(ck->a, "%s -> %s", side_name(sc, 1), side_name(sc, 0));
}

/* The conversion that brings a value of type src to type dst, or -1. */
static int conversion_to(TypeKind dst, TypeKind src) {
    for (int i = 0; i < CV__COUNT; i++) {
        const Conversion *c = &conversions[i];
        if (!strchr(c->from, type_family(src))) continue;
        if (c->to == dst || type_assignable(dst, c->to)) return i;
    }
    return -1;
}

static const char *const text_conv_args[] = {"decimals", "thousands", "decimal", "prefix", "suffix", NULL};
static const char *const number_conv_args[] = {"decimal", "thousands", NULL};

static void check_conv_args(Ck *ck, Node *conv, int cv) {
    const char *const *allowed = cv == CV_TEXT ? text_conv_args : cv == CV_NUMBER ? number_conv_args : NULL;
    for (Node *a = conv->list; a; a = a->next) {
        if (!allowed) { err(ck, a->loc, "'as %s' takes no arguments", conv->name); return; }
        if (!a->name) { err(ck, a->loc, "arguments of 'as %s' are named, like decimals = 2", conv->name); continue; }
        int ok = 0;
        Suggest sg;
        suggest_init(&sg, a->name);
        for (int i = 0; allowed[i]; i++) {
            if (strcmp(allowed[i], a->name) == 0) ok = 1;
            suggest_try(&sg, allowed[i]);
        }
        if (!ok) { err(ck, a->nloc, "unknown argument '%s' of 'as %s'%s", a->name, conv->name, dym(ck, &sg)); continue; }
        if (a->a->kind != NODE_LIT) { err(ck, a->a->loc, "'%s' takes a constant", a->name); continue; }
        if (strcmp(a->name, "decimals") == 0) {
            if (a->a->op != TK_NUMBER || a->a->num < 0 || a->a->num > 12 || a->a->num != floor(a->a->num))
                err(ck, a->a->loc, "decimals is a whole number from 0 to 12");
        } else if (a->a->op != TK_STRING) {
            err(ck, a->a->loc, "'%s' takes text in quotes", a->name);
        } else if ((strcmp(a->name, "decimal") == 0) && strlen(a->a->str) != 1) {
            err(ck, a->a->loc, "the decimal mark is one character, like \".\" or \",\"");
        }
    }
}

/* Checks writing a value of type src into field dst through conv; dir is
 * the index of the side written.  Returns the conversion id + 1, or 0. */
static int check_write(Ck *ck, const Scope *sc, Node *map, Node *target, Node *source, Type src, Field *dst,
                       int reverse, MapSem *ms) {
    Node *conv = map ? map->c : NULL;
    (void)sc;
    if (!conv) {
        if (type_assignable(dst->ty.k, src.k)) {
            /* Picklist values that the target does not know. */
            Field *sf = source->kind == NODE_FIELDREF ? source->sym : NULL;
            if (sf && sf->ty.values && dst->ty.values && dst->ty.k == TY_PICKLIST && !reverse) {
                for (int i = 0; i < sf->ty.nvalues; i++) {
                    int ok = 0;
                    for (int j = 0; j < dst->ty.nvalues; j++)
                        if (strcmp(sf->ty.values[i], dst->ty.values[j]) == 0) ok = 1;
                    if (!ok) {
                        warn(ck, source->loc, "\"%s\" of %s is not a value of %s; add a value map ('as values { ... }')",
                             sf->ty.values[i], sf->name, dst->name);
                        break;
                    }
                }
            }
            return 0;
        }
        if (src.k == TY_REFERENCE || src.k == TY_ID) {
            if (dst->ty.k == TY_REFERENCE)
                err(ck, target->loc, "ids differ between systems: translate %s with 'via <sync>'", expr_desc(ck, source));
            else
                err(ck, target->loc, "cannot write %s (%s) into '%s' (%s)", expr_desc(ck, source), tyname(ck, src), dst->name,
                    tyname(ck, dst->ty));
            return 0;
        }
        int cv = conversion_to(dst->ty.k, src.k);
        const char *hint;
        if (dst->ty.k == TY_COUNTRY || (dst->ty.k == TY_PHONE && cv < 0))
            hint = arena_printf(ck->a, "; map it to a text field instead, since %s checks %s values",
                                dst->obj ? dst->obj->sys->name : "the system", type_name(dst->ty.k));
        else if (cv >= 0)
            hint = arena_printf(ck->a, " (add 'as %s')", conversions[cv].name);
        else
            hint = "";
        err(ck, target->loc, "cannot write %s (%s) into '%s' (%s) without a conversion%s", expr_desc(ck, source),
            tyname(ck, src), dst->name, tyname(ck, dst->ty), hint);
        return 0;
    }
    if (conv->op == TK_VIA) {
        Sync *via = symtab_get(&ck->m->synctab, conv->name);
        if (!via) {
            Suggest sg;
            suggest_init(&sg, conv->name);
            for (int i = 0; i < ck->m->synctab.n; i++) suggest_try(&sg, ck->m->synctab.order[i].key);
            if (!reverse) err(ck, conv->nloc, "unknown sync '%s'%s", conv->name, dym(ck, &sg));
            return 0;
        }
        ms->via = via;
        if (!(src.k == TY_REFERENCE || src.k == TY_ID || src.k == TY_UNKNOWN) || dst->ty.k != TY_REFERENCE) {
            if (!reverse)
                err(ck, conv->loc, "'via' translates record ids: it needs an id or reference on both ends, not %s and %s",
                    tyname(ck, src), tyname(ck, dst->ty));
            return 0;
        }
        Field *sf = source->kind == NODE_FIELDREF ? source->sym : NULL;
        const char *from_obj = src.k == TY_ID && sf ? sf->obj->name : src.ref;
        System *from_sys = sf ? sf->obj->sys : NULL;
        System *to_sys = dst->obj ? dst->obj->sys : NULL;
        int ok = 0;
        for (int i = 0; i < 2; i++) {
            Object *a = via->side[i].obj, *b = via->side[1 - i].obj;
            if (a && b && from_obj && strcmp(a->name, from_obj) == 0 && dst->ty.ref && strcmp(b->name, dst->ty.ref) == 0 &&
                (!from_sys || a->sys == from_sys) && (!to_sys || b->sys == to_sys))
                ok = 1;
        }
        if (!ok && via->side[0].obj && via->side[1].obj && !reverse)
            err(ck, conv->loc, "sync '%s' links %s.%s and %s.%s, not %s.%s and %s.%s", via->name,
                via->side[0].obj->sys->name, via->side[0].obj->name, via->side[1].obj->sys->name, via->side[1].obj->name,
                from_sys ? from_sys->name : "?", from_obj ? from_obj : "?", to_sys ? to_sys->name : "?",
                dst->ty.ref ? dst->ty.ref : "?");
        return 0;
    }
    ValueMap *vm = NULL;
    int cv = -1;
    if (conv->op == TK_VALUES) {
        vm = conv->sym ? conv->sym : build_values(ck, NULL, conv);
        conv->sym = vm;
    } else {
        cv = conversion_lookup(conv->name);
        if (cv < 0) {
            vm = symtab_get(&ck->m->valtab, conv->name);
            if (!vm) {
                Suggest sg;
                suggest_init(&sg, conv->name);
                for (int i = 0; i < CV__COUNT; i++) suggest_try(&sg, conversions[i].name);
                for (int i = 0; i < ck->m->valtab.n; i++) suggest_try(&sg, ck->m->valtab.order[i].key);
                if (!reverse) err(ck, conv->nloc, "unknown conversion or value map '%s'%s", conv->name, dym(ck, &sg));
                return 0;
            }
            conv->sym = vm;
            if (conv->list && !reverse) err(ck, conv->list->loc, "a value map takes no arguments");
        }
    }
    if (vm) {
        ms->values = vm;
        TypeKind from = reverse ? vm->to : vm->from, to = reverse ? vm->from : vm->to;
        if (reverse && vm->has_else) {
            err(ck, conv->loc, "value map%s%s%s has an 'else', whose value has no single key to go back to; "
                "write '->' and '<-' maps", vm->name ? " '" : "", vm->name ? vm->name : "", vm->name ? "'" : "");
            return 0;
        }
        if (reverse && !vm->injective) {
            err(ck, conv->loc, "value map%s%s%s is not one-to-one, so it cannot be read backwards; write '->' and '<-' maps",
                vm->name ? " '" : "", vm->name ? vm->name : "", vm->name ? "'" : "");
            return 0;
        }
        if (from != TY_UNKNOWN && !type_comparable(from, src.k))
            err(ck, conv->loc, "value map%s%s%s takes %s, but %s is %s", vm->name ? " '" : "", vm->name ? vm->name : "",
                vm->name ? "'" : "", type_name(from), expr_desc(ck, source), tyname(ck, src));
        if (to != TY_UNKNOWN && !type_assignable(dst->ty.k, to) &&
            !(to == TY_NUMBER && type_is_numeric(dst->ty.k)) && !(to == TY_TEXT && dst->ty.k == TY_PICKLIST))
            err(ck, conv->loc, "value map%s%s%s gives %s, which does not fit '%s' (%s)", vm->name ? " '" : "",
                vm->name ? vm->name : "", vm->name ? "'" : "", type_name(to), dst->name, tyname(ck, dst->ty));
        /* Declared picklist values the map forgets. */
        Field *sf = source->kind == NODE_FIELDREF ? source->sym : NULL;
        int has_else = 0;
        for (Node *p = vm->decl->list; p; p = p->next) if (p->kind == NODE_VELSE) has_else = 1;
        if (!reverse && sf && sf->ty.values && !has_else) {
            for (int i = 0; i < sf->ty.nvalues; i++) {
                int found = 0;
                for (Node *p = vm->decl->list; p; p = p->next)
                    if (p->kind == NODE_VPAIR && p->a->op == TK_STRING && strcmp(p->a->str, sf->ty.values[i]) == 0)
                        found = 1;
                if (!found) {
                    warn(ck, conv->loc, "value map has no entry for \"%s\" of %s (such values leave %s unchanged)",
                         sf->ty.values[i], sf->name, dst->name);
                    break;
                }
            }
        }
        return 0;
    }
    /* A named conversion. */
    if (!reverse) check_conv_args(ck, conv, cv);
    if (reverse) {
        if (!conversions[cv].reversible) {
            err(ck, conv->loc, "'as %s' cannot be undone, so this two-way map has no way back; write '->' and '<-' maps",
                conv->name);
            return 0;
        }
        if (type_assignable(dst->ty.k, src.k)) return 0;
        int back = conversion_to(dst->ty.k, src.k);
        if (back < 0) {
            err(ck, conv->loc, "no conversion turns %s back into '%s' (%s)", tyname(ck, src), dst->name, tyname(ck, dst->ty));
            return 0;
        }
        return back + 1;
    }
    const Conversion *c = &conversions[cv];
    if (src.k != TY_UNKNOWN && src.k != TY_NULL && !strchr(c->from, type_family(src.k)))
        err(ck, conv->loc, "'as %s' cannot convert %s (%s)", conv->name, expr_desc(ck, source), tyname(ck, src));
    else if (!type_assignable(dst->ty.k, c->to) && dst->ty.k != c->to)
        err(ck, conv->loc, "'as %s' gives %s, which does not fit '%s' (%s)", conv->name, type_name(c->to), dst->name,
            tyname(ck, dst->ty));
    return cv + 1;
}

/* The checked tree shows what a map ended up doing (see ast_dump). */
static void map_flags(Node *map) {
    MapSem *ms = map->sym;
    map->flags = ms->flow | ms->policy[0] << 2 | ms->policy[1] << 4 | ms->is_default << 6;
}

static int policy_of(int tok) { return tok == TK_ALWAYS ? POL_ALWAYS : tok == TK_NEVER ? POL_NEVER : POL_IF_BLANK; }

/* Checks one map line against the scope's two objects.  sync_flow limits
 * the directions (a default map silently narrows, an explicit one errs). */
static MapSem *check_map(Ck *ck, const Scope *sc, Node *map, int sync_flow, int is_default, int in_account) {
    MapSem *ms = arena_alloc(ck->a, sizeof *ms);
    map->sym = ms;
    ms->is_default = is_default;
    map->flags = 0; /* filled in at the end of check_map */
    ms->flow = flow_of_arrow(map->op);
    if (ms->flow & ~sync_flow) {
        if (is_default || ck->mute) {
            ms->flow &= sync_flow;
        } else {
            err(ck, map->nloc, "this map writes %s, but the sync only flows %s", side_name(sc, (ms->flow & ~sync_flow) == 1 ? 1 : 0),
                flow_desc(ck, sc, sync_flow));
            ms->flow &= sync_flow;
        }
    }
    Scope left = *sc, right = *sc;
    left.only = 0;
    right.only = 1;
    Type lt = check_expr(ck, &left, map->a);
    Type rt = check_expr(ck, &right, map->b);
    Node *ends[2] = {map->a, map->b};
    Type tys[2] = {lt, rt};
    for (int i = 0; i < 2; i++) ms->field[i] = ends[i]->kind == NODE_FIELDREF ? ends[i]->sym : NULL;
    int flow_all = flow_of_arrow(map->op);
    for (int t = 0; t < 2; t++) {
        ms->policy[t] = (ms->flow & (t ? 1 : 2)) ? POL_ALWAYS : POL_NONE;
    }
    /* Policies. */
    int seen[2] = {0, 0};
    for (Node *p = map->list; p; p = p->next) {
        if (in_account) {
            err(ck, p->loc, "account mappings take no policy: account fields always follow the account");
            continue;
        }
        if (!p->name) {
            for (int t = 0; t < 2; t++) if (ms->flow & (t ? 1 : 2)) ms->policy[t] = policy_of(p->op);
            seen[0] = seen[1] = 1;
            continue;
        }
        int from = side_named(sc, p->name), to = side_named(sc, p->str);
        if (from < 0) { bad_side(ck, sc, p->nloc, p->name); continue; }
        if (to < 0) { bad_side(ck, sc, p->sloc, p->str); continue; }
        if (from == to) { err(ck, p->loc, "a policy goes from one side to the other, not %s -> %s", p->name, p->str); continue; }
        if (!(flow_all & (to ? 1 : 2))) {
            err(ck, p->loc, "this map never writes %s, so the policy '%s -> %s' has no effect", p->str, p->name, p->str);
            continue;
        }
        if (seen[to]) {
            err(ck, p->loc, "the policy for %s -> %s is given twice", p->name, p->str);
            continue;
        }
        seen[to] = 1;
        if (ms->flow & (to ? 1 : 2)) ms->policy[to] = policy_of(p->op);
    }
    /* Each direction: the target must be a writable field and the value fit. */
    for (int t = 0; t < 2; t++) {
        if (!(ms->flow & (t ? 1 : 2))) continue;
        Node *target = ends[t], *source = ends[1 - t];
        if (target->kind != NODE_FIELDREF) {
            if (!is_default)
                err(ck, target->loc, "%s can only be read, so this map cannot write %s; write it as '%s'", expr_desc(ck, target),
                    side_name(sc, t), t ? "<-" : "->");
            ms->flow &= ~(t ? 1 : 2);
            ms->policy[t] = POL_NONE;
            continue;
        }
        Field *f = target->sym;
        if (!f) continue;
        if (f->readonly) {
            err(ck, target->loc, "%s on %s is read-only (set by %s)", f->name, f->obj->name, f->obj->sys->name);
            continue;
        }
        int reverse = (flow_all == 3) && t == 0;
        ms->conv[t] = check_write(ck, sc, map, target, source, tys[1 - t], f, reverse, ms);
    }
    map_flags(map);
    return ms;
}

/* ------------------------------------------------------------ mappings */

static void declare_mapping(Ck *ck, Node *decl) {
    Mapping *mp = arena_alloc(ck->a, sizeof *mp);
    mp->name = decl->name;
    mp->qname = ck->mod->is_main ? decl->name : arena_printf(ck->a, "%s.%s", ck->mod->name, decl->name);
    mp->decl = decl;
    decl->sym = mp;
    Mapping *prev = symtab_get(&ck->m->maptab, mp->qname);
    if (redeclared(ck, "mapping", decl, mp->qname, prev ? prev->decl : NULL)) return;
    symtab_put(&ck->m->maptab, mp->qname, mp);
    if (strcmp(mp->qname, mp->name) != 0) {
        Mapping *same = symtab_put(&ck->m->maptab, mp->name, mp);
        if (same && same != mp) symtab_put(&ck->m->mapambig, mp->name, mp);
    }
    Node *eps[2] = {decl->a, decl->b};
    for (int i = 0; i < 2; i++) {
        if (eps[i]->c) { err(ck, eps[i]->loc, "a mapping names objects, like salesforce.Lead"); return; }
        mp->obj[i] = endpoint_object(ck, eps[i], NULL, 0);
    }
    if (!mp->obj[0] || !mp->obj[1]) return;
    Scope sc;
    memset(&sc, 0, sizeof sc);
    sc.only = -1;
    for (int i = 0; i < 2; i++) {
        sc.obj[i] = mp->obj[i];
        sc.qual[i] = eps[i]->name;
        sc.qual2[i] = mp->obj[i]->sys->name;
    }
    for (Node *it = decl->list; it; it = it->next) {
        if (it->kind != NODE_MAP) {
            err(ck, it->loc, "a mapping holds only 'map' lines");
            continue;
        }
        check_map(ck, &sc, it, flow_of_arrow(decl->op), 0, 0);
    }
}

/* ---------------------------------------------------------------- syncs */

typedef struct SyncCk {
    Sync *sy;
    Scope sc;
    Symtab written[2];   /* "field" -> map Node, per side written */
    Node *on_keep;
    Node *resurrect[2];
    int has_match;
    Node **accounts;
    int naccounts, capaccounts;
    Node *track_status, *track_last;
} SyncCk;

static void add_after(Ck *ck, Sync *sy, Sync *dep) {
    for (int i = 0; i < sy->nafter; i++) if (sy->after[i] == dep) return;
    VPUSH(ck, sy->after, sy->nafter, sy->capafter, dep);
}

static int side_arg(Ck *ck, SyncCk *sk, const char *name, Loc loc) {
    int s = side_named(&sk->sc, name);
    if (s < 0) bad_side(ck, &sk->sc, loc, name);
    return s;
}

static int flows_into(const Sync *sy, int side) { return (sy->flow & (side ? 1 : 2)) != 0; }

static void check_schedule(Ck *ck, Node *n) {
    if (n->op != TK_EVERY) return;
    const char *s = n->a->str;
    size_t len = strlen(s);
    double hours = n->a->num / 3600.0;
    int ok = s[len - 1] == 'h' && (hours == 1 || hours == 2 || hours == 3 || hours == 4 || hours == 6 ||
                                   hours == 8 || hours == 12);
    if (!ok)
        err(ck, n->a->loc, "'every %s' is not a schedule tandem offers: use every 1h, 2h, 3h, 4h, 6h, 8h or 12h, "
            "or 'daily at HH:MM'", s);
}

/* tab holds, per field of side t, the map that claims writing it.  An
 * explicit map claims every direction it names, even with `never`, so it
 * overrides a default there; two maps that both write a field clash. */
static void record_write(Ck *ck, SyncCk *sk, Node *map, Field *f, int t, Symtab *tab) {
    MapSem *ms = map->sym;
    Node *prev = symtab_get(tab, f->name);
    if (!prev) { symtab_put(tab, f->name, map); return; }
    MapSem *pm = prev->sym;
    if (ms->is_default && !pm->is_default) {
        ms->flow &= ~(t ? 1 : 2);
        ms->policy[t] = POL_NONE;
        map_flags(map);
        return;
    }
    if (ms->policy[t] == POL_NEVER) return;
    if (pm->policy[t] == POL_NEVER) {
        for (int k = 0; k < tab->n; k++)
            if (tab->order[k].val == prev && strcmp(tab->order[k].key, f->name) == 0) tab->order[k].val = map;
        return;
    }
    err(ck, ms->is_default ? ms->use->loc : map->loc, "%s on %s is written by two maps from %s",
        f->name, f->obj->name, side_name(&sk->sc, 1 - t));
    note(ck, pm->is_default ? pm->use->loc : prev->loc, "first written here");
}

/* Records which fields each map writes, for the "written twice" check. */
static void note_writes(Ck *ck, SyncCk *sk, Node *map, Symtab *tabs) {
    MapSem *ms = map->sym;
    for (int t = 0; t < 2; t++) {
        if (!(ms->flow & (t ? 1 : 2))) continue;
        if (ms->is_default && ms->policy[t] == POL_NEVER) continue;
        Node *target = t ? map->b : map->a;
        if (target->kind == NODE_FIELDREF && target->sym) record_write(ck, sk, map, target->sym, t, &tabs[t]);
    }
}

/* The fields of side `side` expression n reads (at most max), and how
 * many fields of the other side it reads (in *other). */
static int fields_read(const Node *n, int side, Field **out, int nout, int max, int *other) {
    if (!n) return nout;
    if (n->kind == NODE_FIELDREF && n->sym) {
        if (n->side != side) {
            (*other)++;
            return nout;
        }
        for (int i = 0; i < nout; i++) if (out[i] == n->sym) return nout;
        if (nout < max) out[nout++] = n->sym;
        else (*other)++;    /* more than we track: never a group */
        return nout;
    }
    nout = fields_read(n->a, side, out, nout, max, other);
    nout = fields_read(n->b, side, out, nout, max, other);
    nout = fields_read(n->c, side, out, nout, max, other);
    for (const Node *x = n->list; x; x = x->next) nout = fields_read(x, side, out, nout, max, other);
    return nout;
}

/* A one-way map that joins fields of one side into a field of the other
 * (`join(" ", FirstName, LastName) -> name`) and the one-way maps back
 * that split that field into those fields (`FirstName <- first_name(name)`)
 * write each other's sources.  Merged apart, each kept its own base, so
 * where the two sides differed (Ann Lee, Anna Leeds) every run swapped
 * them back and forth and `prefer` was never asked.  As a group they
 * merge as one value, the joined one against the whole, with one base,
 * and prefer decides (compile.c).  Maps that split back only some of the
 * joined fields can never settle: an error. */
/* Whether map sm writes a field of side src from the one field the join
 * js writes on the other side, and nothing else. */
static int splits_back(const Node *sm, const MapSem *js, int src) {
    const MapSem *ss = sm->sym;
    int t = 1 - src;
    if (ss->flow != (src ? 1 : 2) || !ss->field[src] || ss->field[t]) return 0;
    Field *whole[1];
    int other = 0, n = fields_read(t ? sm->b : sm->a, t, whole, 0, 1, &other);
    return n == 1 && !other && whole[0] == js->field[t];
}

static void split_groups(Ck *ck, Sync *sy) {
    enum { MAXJ = 8 };
    for (int j = 0; j < sy->nmaps; j++) {
        Node *jm = sy->maps[j];
        MapSem *js = jm->sym;
        if (js->flow != 1 && js->flow != 2) continue;
        int src = js->flow == 1 ? 0 : 1, t = 1 - src;
        if (js->field[src] || !js->field[t]) continue;
        Field *joined[MAXJ];
        int other = 0, nj = fields_read(src ? jm->b : jm->a, src, joined, 0, MAXJ, &other);
        if (!nj || other) continue;
        int covered[MAXJ] = {0}, nsplit = 0, policy = -1, mixed = 0;
        Node *first = NULL;
        for (int s = 0; s < sy->nmaps; s++) {
            Node *sm = sy->maps[s];
            MapSem *ss = sm->sym;
            if (s == j || !splits_back(sm, js, src)) continue;
            int hit = -1;
            for (int i = 0; i < nj; i++) if (joined[i] == ss->field[src]) hit = i;
            if (hit < 0) continue;
            covered[hit] = 1;
            if (policy >= 0 && policy != ss->policy[src]) mixed = 1;
            policy = ss->policy[src];
            if (!first) first = sm;
            nsplit++;
        }
        if (!nsplit) continue;
        int all = 1;
        for (int i = 0; i < nj; i++) all &= covered[i];
        Node *at = js->is_default ? js->use : jm;
        if (!all || mixed) {
            Field *missing = NULL;
            for (int i = 0; i < nj && !missing; i++) if (!covered[i]) missing = joined[i];
            if (missing)
                err(ck, at->loc, "%s is joined from %s fields and split back, but no map splits it back into %s: the "
                    "maps would undo each other every run; split it back into every field the join reads, or into none",
                    js->field[t]->name, sy->side[src].src->name, missing->name);
            else
                err(ck, at->loc, "the maps that split %s back have different policies: they merge as one value "
                    "and need one", js->field[t]->name);
            note(ck, (first->sym && ((MapSem *)first->sym)->is_default ? ((MapSem *)first->sym)->use : first)->loc,
                 "split back here");
            continue;
        }
        js->split = src + 1;
        js->split_policy = policy;
        for (int s = 0; s < sy->nmaps; s++) {
            Node *sm = sy->maps[s];
            MapSem *ss = sm->sym;
            if (s == j || !splits_back(sm, js, src)) continue;
            for (int i = 0; i < nj; i++)
                if (joined[i] == ss->field[src]) ss->join = jm;
        }
    }
}

static void check_action(Ck *ck, SyncCk *sk, Node *on, Node *act, int event_side) {
    Sync *sy = sk->sy;
    const Scope *sc = &sk->sc;
    switch (act->op) {
    case TK_TAG: case TK_UNTAG: {
        int s = -1;
        if (act->name) {
            s = side_arg(ck, sk, act->name, act->nloc);
        } else {
            int c0 = sc->obj[0] && sc->obj[0]->has_tags, c1 = sc->obj[1] && sc->obj[1]->has_tags;
            if (c0 && c1) err(ck, act->loc, "both sides carry tags: write '%s %s \"...\"'", act->op == TK_TAG ? "tag" : "untag", side_name(sc, 1));
            s = c0 ? 0 : c1 ? 1 : -1;
            if (!c0 && !c1) { err(ck, act->loc, "neither %s nor %s records carry tags", sc->obj[0]->name, sc->obj[1]->name); break; }
        }
        /* Tags mark sync state (B15), so a sync may tag a side it only reads. */
        if (s >= 0 && !sc->obj[s]->has_tags) err(ck, act->loc, "%s records carry no tags", sc->obj[s]->name);
        if (!act->str[0]) err(ck, act->sloc, "a tag name cannot be empty");
        else if (isspace((unsigned char)act->str[0]) || isspace((unsigned char)act->str[strlen(act->str) - 1]))
            warn(ck, act->sloc, "tag \"%s\" starts or ends with a blank", act->str);
        act->side = s;
        break;
    }
    case TK_SET: {
        Scope any = *sc;
        any.only = -1;
        Field *f = resolve_fieldref(ck, &any, act->a);
        Type vt = check_expr(ck, &any, act->b);
        act->side = act->a->side;
        if (!f) break;
        if (act->side >= 0 && !flows_into(sy, act->side)) {
            err(ck, act->loc, "sync '%s' never writes %s (it flows %s)", sy->name, side_name(sc, act->side),
                flow_desc(ck, sc, sy->flow));
            break;
        }
        if (f->readonly) err(ck, act->a->loc, "%s on %s is read-only (set by %s)", f->name, f->obj->name, f->obj->sys->name);
        else if (!value_fits(f->ty.k, act->b, vt.k))
            err(ck, act->b->loc, "cannot set %s (%s) to %s (%s)", f->name, tyname(ck, f->ty), expr_desc(ck, act->b), tyname(ck, vt));
        else lit_too_long(ck, f, act->b);
        break;
    }
    case TK_DELETE: {
        int s;
        if (act->name) s = side_arg(ck, sk, act->name, act->nloc);
        else if (event_side >= 0) s = 1 - event_side;
        else { err(ck, act->loc, "say which record to delete: 'delete %s' or 'delete %s'", side_name(sc, 0), side_name(sc, 1)); break; }
        if (s >= 0 && !flows_into(sy, s))
            err(ck, act->loc, "sync '%s' never writes %s, so it cannot delete there", sy->name, side_name(sc, s));
        act->side = s;
        break;
    }
    case TK_KEEP:
        if (on->a->op != TK_DELETE) err(ck, act->loc, "'keep' answers 'on delete in ...'; here it does nothing");
        if (ast_list_len(on->list) > 1) err(ck, act->loc, "'keep' means do nothing, so it stands alone");
        break;
    case TK_REMOVE: case TK_ADD: {
        int s = sc->obj[0]->has_lists ? 0 : sc->obj[1]->has_lists ? 1 : -1;
        if (s < 0) { err(ck, act->loc, "neither %s nor %s records belong to lists", sc->obj[0]->name, sc->obj[1]->name); break; }
        if (act->op == TK_REMOVE && !act->str && !sy->side[s].list)
            err(ck, act->loc, "which list? this sync is not on a list: write 'remove from list \"...\"'");
        if (act->str && !act->str[0]) err(ck, act->sloc, "a list name cannot be empty");
        if (!flows_into(sy, s))
            err(ck, act->loc, "sync '%s' never writes %s (it flows %s)", sy->name, side_name(sc, s), flow_desc(ck, sc, sy->flow));
        act->side = s;
        break;
    }
    case TK_START: {
        int s = sc->obj[0]->has_automations ? 0 : sc->obj[1]->has_automations ? 1 : -1;
        if (s < 0) err(ck, act->loc, "neither %s nor %s can start automations", sc->obj[0]->sys->name, sc->obj[1]->sys->name);
        else if (!flows_into(sy, s))
            err(ck, act->loc, "sync '%s' never writes %s (it flows %s)", sy->name, side_name(sc, s), flow_desc(ck, sc, sy->flow));
        if (!act->str[0]) err(ck, act->sloc, "an automation name cannot be empty");
        act->side = s;
        break;
    }
    default:
        break;
    }
}

static void check_on(Ck *ck, SyncCk *sk, Node *on) {
    Sync *sy = sk->sy;
    Node *ev = on->a;
    int es = -1;
    switch (ev->op) {
    case TK_CREATE: case TK_UPDATE:
        es = side_arg(ck, sk, ev->name, ev->nloc);
        if (es >= 0 && !flows_into(sy, es))
            err(ck, ev->loc, "sync '%s' never %s records in %s (it flows %s)", sy->name,
                ev->op == TK_CREATE ? "creates" : "updates", ev->name, flow_desc(ck, &sk->sc, sy->flow));
        if (es >= 0 && ev->op == TK_CREATE && sy->side[es].never_create)
            err(ck, ev->loc, "records are never created in %s ('new in %s never')", ev->name, ev->name);
        break;
    case TK_DELETE:
        es = side_arg(ck, sk, ev->name, ev->nloc);
        break;
    case TK_CONVERT: {
        int s = -1;
        for (int i = 0; i < 2; i++) if (sy->side[i].obj && sy->side[i].obj->converts) s = i;
        if (s < 0) {
            err(ck, ev->loc, "neither %s nor %s converts ('on convert' needs an object whose schema says 'converts to')",
                sy->side[0].obj->name, sy->side[1].obj->name);
            break;
        }
        Object *to = sy->side[s].obj->converts_to;
        if (ev->name && to && strcmp(ev->name, to->name) != 0) {
            Suggest sg;
            suggest_init(&sg, ev->name);
            suggest_try(&sg, to->name);
            err(ck, ev->nloc, "%s converts to %s, not %s%s", sy->side[s].obj->name, to->name, ev->name, dym(ck, &sg));
        }
        es = s;
        ev->side = s;
        break;
    }
    case TK_REMOVE:
        if (!sy->side[0].list && !sy->side[1].list)
            err(ck, ev->loc, "'on remove from list' needs a list sync, like gr.list(\"Newsletter\")");
        es = sy->side[0].list ? 0 : 1;
        break;
    default:
        break;
    }
    ev->side = es;
    if (on->b) check_cond(ck, &sk->sc, on->b, "'when'");
    for (Node *act = on->list; act; act = act->next) check_action(ck, sk, on, act, ev->op == TK_DELETE ? es : -1);
}

static void check_new(Ck *ck, SyncCk *sk, Node *it) {
    Sync *sy = sk->sy;
    int s = side_arg(ck, sk, it->name, it->nloc);
    if (s < 0) return;
    Side *sd = &sy->side[s];
    if (sd->new_item) {
        err(ck, it->loc, "'new in %s' is given twice", it->name);
        note(ck, sd->new_item->loc, "first given here");
        return;
    }
    sd->new_item = it;
    if (!flows_into(sy, s)) {
        err(ck, it->loc, "sync '%s' never creates records in %s (it flows %s)", sy->name, it->name,
            flow_desc(ck, &sk->sc, sy->flow));
        return;
    }
    if (it->op == TK_NEVER) { sd->never_create = 1; return; }
    System *sys = sd->obj->sys;
    Object *o = symtab_get(&sys->objtab, it->a->name);
    if (!o) {
        Suggest sg;
        suggest_init(&sg, it->a->name);
        for (int i = 0; i < sys->nobjects; i++) suggest_try(&sg, sys->objects[i]->name);
        err(ck, it->a->loc, "unknown object '%s' in %s%s", it->a->name, sys->name, dym(ck, &sg));
        return;
    }
    it->a->sym = o;
    sd->create_as = o;
    Scope from = sk->sc;
    from.only = 1 - s;
    Scope target = sk->sc;
    target.obj[s] = o;
    target.only = s;
    for (Node *as = it->list; as; as = as->next) {
        Field *f = resolve_fieldref(ck, &target, as->a);
        Type vt = check_expr(ck, &from, as->b);
        if (!f) continue;
        if (f->readonly) err(ck, as->a->loc, "%s on %s is read-only (set by %s)", f->name, o->name, sys->name);
        else if (!value_fits(f->ty.k, as->b, vt.k))
            err(ck, as->b->loc, "cannot set %s (%s) to %s (%s)", f->name, tyname(ck, f->ty), expr_desc(ck, as->b), tyname(ck, vt));
        else lit_too_long(ck, f, as->b);
        for (Node *p = it->list; p != as; p = p->next)
            if (p->a->sym == f) err(ck, as->a->loc, "%s is set twice", f->name);
    }
}

static void check_select(Ck *ck, SyncCk *sk, Node *it) {
    Sync *sy = sk->sy;
    int s = side_arg(ck, sk, it->name, it->nloc);
    if (s < 0) return;
    it->side = s;
    Side *sd = &sy->side[s];
    Node *sel = it->a;
    if (!(sy->flow & (s ? 2 : 1))) {
        err(ck, it->loc, "records of %s never flow out in sync '%s' (it flows %s), so selecting them has no effect",
            it->name, sy->name, flow_desc(ck, &sk->sc, sy->flow));
    }
    for (int i = 0; i < sd->nselects; i++) {
        if (sd->selects[i]->a->kind == NODE_SELNONE || sel->kind == NODE_SELNONE) {
            err(ck, it->loc, "'select none' excludes every record of %s; it cannot be combined with another selection", it->name);
            note(ck, sd->selects[i]->loc, "other selection for %s", it->name);
            break;
        }
    }
    VPUSH(ck, sd->selects, sd->nselects, sd->capselects, it);
    Scope one = sk->sc;
    one.only = s;
    switch (sel->kind) {
    case NODE_SELSINCE:
        if ((sel->op == TK_CREATED || sel->op == TK_OR) && !sd->obj->created)
            err(ck, sel->loc, "%s has no creation time in its schema ('created <field>')", sd->obj->name);
        if ((sel->op == TK_UPDATED || sel->op == TK_OR) && !sd->obj->modified)
            err(ck, sel->loc, "%s has no change time in its schema ('modified <field>')", sd->obj->name);
        break;
    case NODE_SELFLAGGED: {
        Field *f = resolve_fieldref(ck, &one, sel->a);
        Type vt = check_expr(ck, &one, sel->b);
        if (f && !type_comparable(f->ty.k, vt.k))
            err(ck, sel->b->loc, "cannot compare %s (%s) with %s (%s)", f->name, tyname(ck, f->ty), expr_desc(ck, sel->b), tyname(ck, vt));
        if (f && f->readonly)
            err(ck, sel->a->loc, "a flag is cleared after the sync, so %s must be writable", f->name);
        check_picklist_value(ck, sel->a, sel->b);
        break;
    }
    case NODE_SELWHEN:
        check_cond(ck, &one, sel->a, "'select when'");
        break;
    default:
        break;
    }
}

static void check_account(Ck *ck, SyncCk *sk, Node *it) {
    Sync *sy = sk->sy;
    Node *eps[2] = {it->a, it->b};
    Object *acc[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        Source *src = NULL;
        if (eps[i]->c) { err(ck, eps[i]->loc, "an account mapping names account objects, like sf.Account"); return; }
        acc[i] = endpoint_object(ck, eps[i], &src, 1);
        if (!acc[i]) return;
        if (src != sy->side[i].src) {
            err(ck, eps[i]->nloc, "the %s side of an account mapping is %s, the sync's %s side", i ? "right" : "left",
                sy->side[i].src->name, i ? "right" : "left");
            return;
        }
        /* The person must point at its account. */
        Object *person = sy->side[i].obj;
        Field *ref = NULL;
        for (int k = 0; k < person->nfields; k++) {
            Field *f = person->fields[k];
            if (f->ty.k == TY_REFERENCE && !f->readonly && f->ty.ref && strcmp(f->ty.ref, acc[i]->name) == 0) { ref = f; break; }
        }
        if (!ref)
            err(ck, eps[i]->loc, "%s has no reference to %s, so its records are never linked to one", person->name, acc[i]->name);
    }
    if (it->op != TK_BOTH && flow_of_arrow(it->op) != sy->flow)
        warn(ck, it->loc, "account fields flow %s here, the people %s", it->op == TK_RARROW ? "->" : "<-",
             flow_desc(ck, &sk->sc, sy->flow));
    Scope sc = sk->sc;
    sc.obj[0] = acc[0];
    sc.obj[1] = acc[1];
    Symtab tabs[2];
    symtab_init(&tabs[0], ck->a);
    symtab_init(&tabs[1], ck->a);
    int flow = flow_of_arrow(it->op) & sy->flow;
    for (Node *m = it->list; m; m = m->next) {
        if (m->kind != NODE_MAP) { err(ck, m->loc, "an account block holds only 'map' lines"); continue; }
        check_map(ck, &sc, m, flow, 0, 1);
        note_writes(ck, sk, m, tabs);
    }
    VPUSH(ck, sk->accounts, sk->naccounts, sk->capaccounts, it);
}

static Mapping *find_default_mapping(Ck *ck, Object *a, Object *b, int *flipped) {
    for (int i = 0; i < ck->m->maptab.n; i++) {
        Mapping *mp = ck->m->maptab.order[i].val;
        if (strcmp(mp->qname, ck->m->maptab.order[i].key) != 0) continue;
        if (mp->obj[0] == a && mp->obj[1] == b) { *flipped = 0; return mp; }
        if (mp->obj[0] == b && mp->obj[1] == a) { *flipped = 1; return mp; }
    }
    return NULL;
}

/* `use name` / `use defaults`: the mapping's maps join the sync as
 * defaults, oriented to the sync's sides; explicit maps override them. */
static void expand_use(Ck *ck, SyncCk *sk, Node *it, Node ***defaults, int *nd, int *capd) {
    Sync *sy = sk->sy;
    Mapping *mp = NULL;
    int flipped = 0;
    if (!it->a) {
        mp = find_default_mapping(ck, sy->side[0].obj, sy->side[1].obj, &flipped);
        if (!mp) {
            err(ck, it->loc, "no default mapping between %s.%s and %s.%s in the modules this file uses",
                sy->side[0].obj->sys->name, sy->side[0].obj->name, sy->side[1].obj->sys->name, sy->side[1].obj->name);
            return;
        }
    } else {
        mp = symtab_get(&ck->m->maptab, it->a->name);
        if (mp && symtab_get(&ck->m->mapambig, it->a->name)) {
            err(ck, it->a->loc, "more than one module declares mapping '%s': name it with its module, like %s",
                it->a->name, mp->qname);
            return;
        }
        if (!mp) {
            Suggest sg;
            suggest_init(&sg, it->a->name);
            for (int i = 0; i < ck->m->maptab.n; i++) suggest_try(&sg, ck->m->maptab.order[i].key);
            err(ck, it->a->loc, "unknown mapping '%s'%s", it->a->name, dym(ck, &sg));
            return;
        }
        if (mp->obj[0] == sy->side[0].obj && mp->obj[1] == sy->side[1].obj) flipped = 0;
        else if (mp->obj[0] == sy->side[1].obj && mp->obj[1] == sy->side[0].obj) flipped = 1;
        else {
            if (mp->obj[0] && mp->obj[1])
                err(ck, it->a->loc, "mapping '%s' maps %s.%s and %s.%s, not %s.%s and %s.%s", it->a->name,
                    mp->obj[0]->sys->name, mp->obj[0]->name, mp->obj[1]->sys->name, mp->obj[1]->name,
                    sy->side[0].obj->sys->name, sy->side[0].obj->name, sy->side[1].obj->sys->name,
                    sy->side[1].obj->name);
            return;
        }
    }
    it->sym = mp;
    for (Node *m = mp->decl->list; m; m = m->next) {
        if (m->kind != NODE_MAP) continue;
        Node *c = ast_clone(ck->a, m);
        if (flipped) {
            Node *t = c->a; c->a = c->b; c->b = t;
            c->op = c->op == TK_RARROW ? TK_LARROW : c->op == TK_LARROW ? TK_RARROW : c->op;
        }
        /* Problems in the mapping itself were reported at its declaration. */
        ck->mute++;
        check_map(ck, &sk->sc, c, sy->flow, 1, 0);
        ck->mute--;
        ((MapSem *)c->sym)->use = it;
        ast_append(it, c);
        VPUSH(ck, *defaults, *nd, *capd, c);
    }
}

static void check_track(Ck *ck, SyncCk *sk, Node *it) {
    Scope any = sk->sc;
    any.only = -1;
    Field *f = resolve_fieldref(ck, &any, it->a);
    if (!f) return;
    it->side = it->a->side;
    if (f->readonly) { err(ck, it->a->loc, "%s on %s is read-only (set by %s)", f->name, f->obj->name, f->obj->sys->name); return; }
    if (it->op == TK_STATUS && !(f->ty.k == TY_TEXT || f->ty.k == TY_PICKLIST || f->ty.k == TY_TEXTAREA))
        err(ck, it->a->loc, "the sync status is text; %s is %s", f->name, tyname(ck, f->ty));
    if (it->op == TK_LAST && !type_is_temporal(f->ty.k))
        err(ck, it->a->loc, "the last sync time is a datetime; %s is %s", f->name, tyname(ck, f->ty));
    /* Status is written back even on the side data only flows out of. */
}

/* Required fields of what gets created on side t must be written. */
static void check_required(Ck *ck, SyncCk *sk, Node *match) {
    Sync *sy = sk->sy;
    for (int t = 0; t < 2; t++) {
        Side *sd = &sy->side[t];
        if (!flows_into(sy, t) || sd->never_create || !sd->obj) continue;
        Object *o = sd->create_as ? sd->create_as : sd->obj;
        for (int k = 0; k < o->nfields; k++) {
            Field *f = o->fields[k];
            if (!f->required || f->readonly || f->deflt) continue;
            if (sd->list && f == o->list_field) continue; /* the list the sync is on */
            int written = 0;
            for (int i = 0; i < sy->nmaps && !written; i++) {
                MapSem *ms = sy->maps[i]->sym;
                if (!(ms->flow & (t ? 1 : 2)) || ms->policy[t] == POL_NEVER) continue;
                Field *tf = ms->field[t];
                if (tf && strcmp(tf->name, f->name) == 0) written = 1;
            }
            if (match) {
                Node *end = t ? match->b : match->a;
                if (end->kind == NODE_FIELDREF && end->sym && strcmp(((Field *)end->sym)->name, f->name) == 0) written = 1;
            }
            if (sd->new_item)
                for (Node *as = sd->new_item->list; as; as = as->next)
                    if (as->a->sym == f) written = 1;
            if (written) continue;
            Loc at = sd->new_item ? sd->new_item->loc : sy->decl->nloc;
            err(ck, at, "required field %s of %s is never written when sync '%s' creates %s records in %s "
                "(map it, or set it with 'new in %s become %s with %s = ...')",
                f->name, o->name, sy->name, o->name, sd->src->name, sd->src->name, o->name, f->name);
        }
        /* New records of another object take the mapped fields by name. */
        if (o != sd->obj) {
            for (int i = 0; i < sy->nmaps; i++) {
                MapSem *ms = sy->maps[i]->sym;
                if (!(ms->flow & (t ? 1 : 2)) || !ms->field[t] || ms->policy[t] == POL_NEVER) continue;
                Field *g = symtab_get(&o->ftab, ms->field[t]->name);
                Node *m = sy->maps[i];
                if (!g)
                    err(ck, ms->is_default ? ms->use->loc : (t ? m->b : m->a)->loc,
                        "%s is not a field of %s, which new records in %s become", ms->field[t]->name, o->name,
                        sd->src->name);
                else if (!type_assignable(g->ty.k, ms->field[t]->ty.k) && g->ty.k != ms->field[t]->ty.k)
                    err(ck, (t ? m->b : m->a)->loc, "%s is %s on %s but %s on %s", g->name, tyname(ck, g->ty), o->name,
                        tyname(ck, ms->field[t]->ty), sd->obj->name);
            }
        }
    }
}

/* The two sides of every sync are known before any sync is checked, since
 * a map may translate ids through another sync ('via'). */
static void resolve_sides(Ck *ck, Sync *sy) {
    Node *decl = sy->decl;
    Node *eps[2] = {decl->a, decl->b};
    for (int i = 0; i < 2; i++) {
        Source *src = NULL;
        sy->side[i].ep = eps[i];
        sy->side[i].obj = endpoint_object(ck, eps[i], &src, 1);
        sy->side[i].src = src;
        sy->side[i].list = eps[i]->c ? eps[i]->c->str : NULL;
        if (eps[i]->c && !eps[i]->c->str[0]) err(ck, eps[i]->c->loc, "a list name cannot be empty");
    }
    sy->flow = flow_of_arrow(decl->op);
    if (sy->side[0].obj && sy->side[1].obj && sy->side[0].src == sy->side[1].src) {
        err(ck, decl->b->nloc, "both sides of sync '%s' are source '%s'", sy->name, sy->side[0].src->name);
        sy->side[1].obj = NULL;
    }
}

static void check_sync(Ck *ck, Sync *sy) {
    Node *decl = sy->decl;
    SyncCk sk;
    memset(&sk, 0, sizeof sk);
    sk.sy = sy;
    if (!sy->side[0].obj || !sy->side[1].obj) return;
    Scope *sc = &sk.sc;
    sc->only = -1;
    sc->sync = sy;
    for (int i = 0; i < 2; i++) {
        sc->obj[i] = sy->side[i].obj;
        sc->qual[i] = sy->side[i].src->name;
        sc->qual2[i] = sy->side[i].src->sys->name;
    }
    arena_reset(ck->tmp);
    symtab_init(&sk.written[0], ck->tmp);
    symtab_init(&sk.written[1], ck->tmp);

    /* First the items that others depend on: new, prefer. */
    for (Node *it = decl->list; it; it = it->next) {
        if (it->kind == NODE_NEW) check_new(ck, &sk, it);
        if (it->kind == NODE_PREFER) {
            if (sy->prefer_item) {
                err(ck, it->loc, "'prefer' is given twice");
                note(ck, sy->prefer_item->loc, "first given here");
                continue;
            }
            sy->prefer_item = it;
            if (sy->flow != 3)
                warn(ck, it->loc, "'prefer' settles changes made on both sides; sync '%s' flows one way only", sy->name);
            if (it->op == TK_NEWEST) sy->prefer = 2;
            else {
                int s = side_arg(ck, &sk, it->name, it->nloc);
                sy->prefer = s >= 0 ? s : 3; /* 3: broken, but said: no ping-pong warnings */
            }
        }
    }
    Node **defaults = NULL;
    int nd = 0, capd = 0;
    Node *match = NULL;
    for (Node *it = decl->list; it; it = it->next) {
        switch (it->kind) {
        case NODE_MATCH: {
            Scope l = *sc, r = *sc;
            l.only = 0;
            r.only = 1;
            Type lt = check_expr(ck, &l, it->a), rt = check_expr(ck, &r, it->b);
            if (!type_comparable(lt.k, rt.k))
                err(ck, it->loc, "cannot match %s (%s) with %s (%s)", expr_desc(ck, it->a), tyname(ck, lt),
                    expr_desc(ck, it->b), tyname(ck, rt));
            if (match) {
                err(ck, it->loc, "a sync has one match key");
                note(ck, match->loc, "first match key");
            }
            match = it;
            break;
        }
        case NODE_SKIP:
            check_cond(ck, sc, it->a, it->op == TK_WHEN ? "'skip when'" : "'skip unless'");
            break;
        case NODE_SELECT:
            check_select(ck, &sk, it);
            break;
        case NODE_USE:
            expand_use(ck, &sk, it, &defaults, &nd, &capd);
            break;
        case NODE_MAP:
            check_map(ck, sc, it, sy->flow, 0, 0);
            note_writes(ck, &sk, it, sk.written);
            VPUSH(ck, sy->maps, sy->nmaps, sy->capmaps, it);
            break;
        case NODE_ON:
            check_on(ck, &sk, it);
            break;
        case NODE_RESURRECT: {
            int s = side_arg(ck, &sk, it->name, it->nloc);
            if (s >= 0) {
                if (sk.resurrect[s]) err(ck, it->loc, "'resurrect in %s' is given twice", it->name);
                sk.resurrect[s] = it;
                if (!flows_into(sy, s)) err(ck, it->loc, "sync '%s' never writes %s, so it cannot re-create there", sy->name, it->name);
            }
            it->side = s;
            check_cond(ck, sc, it->a, "'resurrect when'");
            break;
        }
        case NODE_AFTER:
            for (Node *n = it->list; n; n = n->next) {
                Sync *dep = symtab_get(&ck->m->synctab, n->name);
                if (!dep) {
                    Suggest sg;
                    suggest_init(&sg, n->name);
                    for (int i = 0; i < ck->m->synctab.n; i++) suggest_try(&sg, ck->m->synctab.order[i].key);
                    err(ck, n->loc, "unknown sync '%s'%s", n->name, dym(ck, &sg));
                } else if (dep == sy) {
                    err(ck, n->loc, "a sync cannot run after itself");
                } else {
                    n->sym = dep;
                    add_after(ck, sy, dep);
                }
            }
            break;
        case NODE_ACCOUNT:
            if (sk.naccounts) {
                err(ck, it->loc, "a sync has one account block");
                note(ck, sk.accounts[0]->loc, "first account block");
                break;
            }
            check_account(ck, &sk, it);
            break;
        case NODE_TRACK: {
            Node **slot = it->op == TK_STATUS ? &sk.track_status : &sk.track_last;
            if (*slot) {
                err(ck, it->loc, "'track %s' is given twice", it->op == TK_STATUS ? "status" : "last sync");
                note(ck, (*slot)->loc, "first given here");
                break;
            }
            *slot = it;
            check_track(ck, &sk, it);
            break;
        }
        case NODE_PAUSED:
            if (sy->paused) warn(ck, it->loc, "'paused' is given twice");
            sy->paused = 1;
            break;
        case NODE_SCHEDULE:
            if (sy->schedule) {
                err(ck, it->loc, "sync '%s' has two schedules", sy->name);
                note(ck, sy->schedule->loc, "first schedule");
            }
            sy->schedule = it;
            check_schedule(ck, it);
            break;
        case NODE_INITIAL:
            if (sy->initial >= 0) err(ck, it->loc, "'initial sync' is given twice");
            sy->initial = it->a->num != 0;
            break;
        case NODE_NEW: case NODE_PREFER: case NODE_ERROR:
            break;
        default:
            err(ck, it->loc, "'%s' does not belong in a sync block", ast_kind_name(it->kind));
            break;
        }
    }
    /* Defaults come after explicit maps so that the explicit ones win. */
    for (int i = 0; i < nd; i++) {
        note_writes(ck, &sk, defaults[i], sk.written);
        VPUSH(ck, sy->maps, sy->nmaps, sy->capmaps, defaults[i]);
    }
    split_groups(ck, sy);
    /* Both directions always, nothing to settle a conflict: warn once per line. */
    if (sy->prefer < 0) {
        Node *warned_use = NULL;
        for (int i = 0; i < sy->nmaps; i++) {
            MapSem *ms = sy->maps[i]->sym;
            /* a split group merges both ways too */
            int p0 = ms->split == 1 ? ms->split_policy : ms->policy[0], p1 = ms->split == 2 ? ms->split_policy : ms->policy[1];
            if ((ms->flow != 3 && !ms->split) || p0 != POL_ALWAYS || p1 != POL_ALWAYS) continue;
            if (ms->is_default) {
                if (warned_use == ms->use) continue;
                warned_use = ms->use;
                warn(ck, ms->use->loc, "these maps are 'always' in both directions and sync '%s' has no 'prefer': "
                     "a field changed on both sides would ping-pong; add 'prefer %s', 'prefer %s' or 'prefer newest'",
                     sy->name, sc->qual[0], sc->qual[1]);
            } else {
                Node *m = sy->maps[i];
                warn(ck, m->loc, "%s is 'always' in both directions and sync '%s' has no 'prefer': a field changed on "
                     "both sides would ping-pong; add 'prefer %s', 'prefer %s' or 'prefer newest'",
                     expr_desc(ck, m->a), sy->name, sc->qual[0], sc->qual[1]);
            }
        }
    }
    if (!match) {
        int e0 = 0, e1 = 0;
        for (int k = 0; k < sy->side[0].obj->nfields; k++) e0 |= sy->side[0].obj->fields[k]->ty.k == TY_EMAIL;
        for (int k = 0; k < sy->side[1].obj->nfields; k++) e1 |= sy->side[1].obj->fields[k]->ty.k == TY_EMAIL;
        if (e0 && e1)
            warn(ck, decl->nloc, "sync '%s' has no 'match' key: people already on both sides would be created twice "
                 "on the first run (add 'match Email = email')", sy->name);
    }
    check_required(ck, &sk, match);
    decl->sym = sy;
}

/* -------------------------------------------------------- whole-file checks */

static void order_visit(Ck *ck, Sync *sy, Sync ***out, int *n, int *cap) {
    if (sy->marked == 2) return;
    if (sy->marked == 1) return;
    sy->marked = 1;
    for (int i = 0; i < sy->nafter; i++) {
        Sync *d = sy->after[i];
        if (d->marked == 1) {
            err(ck, sy->decl->nloc, "syncs '%s' and '%s' wait for each other ('after' makes a cycle)", sy->name, d->name);
            continue;
        }
        order_visit(ck, d, out, n, cap);
    }
    sy->marked = 2;
    sy->order = *n;
    VPUSH(ck, *out, *n, *cap, sy);
}

static int count_limit(Ck *ck, Source *src, Node *limit, Node **over_at) {
    (void)ck;
    const char *w = limit->list->name;
    int account = strcmp(w, "account") == 0;
    int custom = strcmp(w, "custom") == 0;
    int n = 0;
    *over_at = NULL;
    for (int i = 0; i < ck->m->nsyncs; i++) {
        Sync *sy = ck->m->order[i];
        for (int s = 0; s < 2; s++) {
            if (sy->side[s].src != src || !sy->side[s].obj) continue;
            if (account) {
                for (Node *it = sy->decl->list; it; it = it->next) {
                    if (it->kind != NODE_ACCOUNT) continue;
                    for (Node *m = it->list; m; m = m->next) {
                        if (m->kind != NODE_MAP) continue;
                        if (++n > limit->num && !*over_at) *over_at = m;
                    }
                }
                continue;
            }
            if (limit->str && strcmp(sy->side[s].obj->name, limit->str) != 0) continue;
            for (int k = 0; k < sy->nmaps; k++) {
                MapSem *ms = sy->maps[k]->sym;
                if (!ms->flow) continue;
                if (custom && !(ms->field[s] && ms->field[s]->custom)) continue;
                if (++n > limit->num && !*over_at) *over_at = ms->is_default ? ms->use : sy->maps[k];
            }
        }
    }
    return n;
}

static void check_plans(Ck *ck) {
    for (int i = 0; i < ck->m->srctab.n; i++) {
        Source *src = ck->m->srctab.order[i].val;
        if (!src->plan) continue;
        for (Node *l = src->plan->list; l; l = l->next) {
            if (!l->flags) continue;
            Node *over;
            int n = count_limit(ck, src, l, &over);
            if (n <= l->num) continue;
            char what[96] = "";
            for (Node *w = l->list; w; w = w->next) {
                if (what[0]) strncat(what, " ", sizeof what - strlen(what) - 1);
                strncat(what, w->name, sizeof what - strlen(what) - 1);
            }
            if (l->num == 1 && strlen(what) > 1) what[strlen(what) - 1] = 0; /* "maps" -> "map" */
            err(ck, src->plan_setting->a->loc, "plan \"%s\" of %s allows at most %.0f %s%s%s; this file has %d%s%s%s",
                src->plan->name, src->sys->name, l->num, what, l->str ? " on " : "", l->str ? l->str : "", n,
                l->b ? " (" : "", l->b ? l->b->str : "", l->b ? ")" : "");
            if (over) note(ck, over->loc, "first one over the limit");
        }
    }
}

int check_unit(Unit *u) {
    Ck ck;
    memset(&ck, 0, sizeof ck);
    ck.u = u;
    ck.a = &u->arena;
    ck.d = &u->diags;
    Arena tmp;
    arena_init(&tmp);
    ck.tmp = &tmp;
    Model *m = arena_alloc(ck.a, sizeof *m);
    ck.m = m;
    u->model = m;
    symtab_init(&m->systab, ck.a);
    symtab_init(&m->srctab, ck.a);
    symtab_init(&m->synctab, ck.a);
    symtab_init(&m->maptab, ck.a);
    symtab_init(&m->mapambig, ck.a);
    symtab_init(&m->valtab, ck.a);
    int before = u->diags.errors;
    /* A tree with syntax errors has holes; checking it would mostly report
     * the holes again.  Syntax first, then meaning (as Go does). */
    for (int i = 0; i < u->nmods; i++)
        if (u->mods[i]->syntax_errors) return u->diags.errors - before;

    /* Modules load after the rule file that uses them; declarations go in
     * dependency order: modules first, the rule file last. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < u->nmods; i++) {
            Module *mod = u->mods[i];
            if ((pass == 0) == mod->is_main) continue;
            ck.mod = mod;
            for (Node *s = mod->root->list; s; s = s->next) {
                if (s->kind == NODE_SYSTEM) declare_system(&ck, s);
                else if (s->kind == NODE_VALUES) declare_values(&ck, s);
                else if (!mod->is_main && (s->kind == NODE_SOURCE || s->kind == NODE_SYNC || s->kind == NODE_SCHEDULE ||
                                           s->kind == NODE_PAUSED || s->kind == NODE_INITIAL))
                    err(&ck, s->loc, "'%s' belongs in a rule file, not in module '%s'", ast_kind_name(s->kind), mod->name);
            }
        }
    }
    Module *main = NULL;
    for (int i = 0; i < u->nmods; i++) if (u->mods[i]->is_main) main = u->mods[i];
    if (main) {
        ck.mod = main;
        for (Node *s = main->root->list; s; s = s->next)
            if (s->kind == NODE_SOURCE) check_source(&ck, s);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < u->nmods; i++) {
            Module *mod = u->mods[i];
            if ((pass == 0) == mod->is_main) continue;
            ck.mod = mod;
            for (Node *s = mod->root->list; s; s = s->next)
                if (s->kind == NODE_EXTEND) check_extend(&ck, s);
        }
    }
    /* Sync names first: maps may refer to later syncs with 'via'. */
    Sync **syncs = NULL;
    int nsyncs = 0, capsyncs = 0;
    if (main) {
        ck.mod = main;
        for (Node *s = main->root->list; s; s = s->next) {
            if (s->kind != NODE_SYNC) continue;
            Sync *prev = symtab_get(&m->synctab, s->name);
            if (redeclared(&ck, "sync", s, s->name, prev ? prev->decl : NULL)) continue;
            Sync *sy = arena_alloc(ck.a, sizeof *sy);
            sy->name = s->name;
            sy->decl = s;
            sy->prefer = -1;
            sy->initial = -1;
            symtab_put(&m->synctab, sy->name, sy);
            VPUSH(&ck, syncs, nsyncs, capsyncs, sy);
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < u->nmods; i++) {
            Module *mod = u->mods[i];
            if ((pass == 0) == mod->is_main) continue;
            ck.mod = mod;
            for (Node *s = mod->root->list; s; s = s->next)
                if (s->kind == NODE_MAPPING) declare_mapping(&ck, s);
        }
    }
    for (int i = 0; i < nsyncs; i++) resolve_sides(&ck, syncs[i]);
    for (int i = 0; i < nsyncs; i++) check_sync(&ck, syncs[i]);
    /* 'via' needs the other sync's links first. */
    for (int i = 0; i < nsyncs; i++)
        for (int k = 0; k < syncs[i]->nmaps; k++) {
            MapSem *ms = syncs[i]->maps[k]->sym;
            if (ms->via && ms->via != syncs[i]) add_after(&ck, syncs[i], ms->via);
        }
    Sync **order = NULL;
    int norder = 0, caporder = 0;
    for (int i = 0; i < nsyncs; i++) order_visit(&ck, syncs[i], &order, &norder, &caporder);
    m->order = order;
    m->nsyncs = norder;

    if (main) {
        ck.mod = main;
        Node *paused = NULL, *initial = NULL;
        for (Node *s = main->root->list; s; s = s->next) {
            switch (s->kind) {
            case NODE_SCHEDULE:
                if (m->schedule) {
                    err(&ck, s->loc, "the file has two schedules");
                    note(&ck, m->schedule->loc, "first schedule");
                }
                m->schedule = s;
                check_schedule(&ck, s);
                break;
            case NODE_PAUSED:
                if (paused) warn(&ck, s->loc, "'paused' is given twice");
                paused = s;
                m->paused = 1;
                break;
            case NODE_INITIAL:
                if (initial) {
                    err(&ck, s->loc, "'initial sync' is given twice");
                    note(&ck, initial->loc, "first given here");
                }
                initial = s;
                m->initial = s->a->num != 0;
                break;
            default:
                break;
            }
        }
        for (int i = 0; i < m->srctab.n; i++) {
            Source *src = m->srctab.order[i].val;
            if (!src->used && src->sys)
                warn(&ck, src->decl->nloc, "source '%s' is not used by any sync", src->name);
        }
        check_plans(&ck);
    }
    arena_free(&tmp);
    return u->diags.errors - before;
}
