/* compile.c - code generation from the checked tree (see compile.h).
 *
 * One pass per sync, one entry point at a time.  Registers are handed out
 * like a stack and given back after each statement; conditions compile to
 * jumps (short-circuit `and`, `or`, `all`, `any`), values to registers.
 * Tables (strings, constants, objects, tags, sets, value maps) are built in
 * growable arrays here and copied into the Program's arena at the end.
 */
#include "compile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "check.h"
#include "lex.h"
#include "util.h"

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) { fputs("tandem: out of memory\n", stderr); abort(); }
    return q;
}

#define PUSH(v, n, cap, item)                                                  \
    do {                                                                       \
        if ((n) == (cap)) {                                                    \
            (cap) = (cap) ? (cap) * 2 : 16;                                    \
            (v) = xrealloc((v), (size_t)(cap) * sizeof *(v));                  \
        }                                                                      \
        (v)[(n)++] = (item);                                                   \
    } while (0)

typedef struct Patches { uint32_t *v; uint32_t n, cap; } Patches;

typedef struct Cc {
    Unit *u;
    Model *m;
    Diags *d;
    Arena *a;              /* the unit's arena, for keys */
    int failed;

    Buf pool;              /* strings */
    Symtab strs;           /* text -> offset + 1 */
    Value *consts; uint32_t nconsts, capconsts;
    uint32_t *const_off;   /* string constants: pool offset (pointers fixed at the end) */
    Symtab constab;        /* serialized constant -> index + 1 */
    PField *fields; uint32_t nfields, capfields;
    PObject *objects; uint32_t nobjects, capobjects;
    Symtab objtab;         /* "system.object" -> index + 1 */
    Object **objsrc; uint32_t nobjsrc, capobjsrc; /* checker Object per program object */
    PMap *maps; uint32_t nmaps, capmaps;
    uint32_t *tags; uint32_t ntags, captags;
    Symtab tagtab;
    PSkip *skips; uint32_t nskips, capskips;
    PConv *convs; uint32_t nconvs, capconvs;
    PHash *sets; uint32_t nsets, capsets;
    PHash *vmaps; uint32_t nvmaps, capvmaps;
    uint32_t *u32; uint32_t nu32, capu32;
    Instr *code; uint32_t ncode, capcode;
    uint32_t *lines, *files;
    uint32_t capline;
    uint32_t *filenames; uint32_t nfiles, capfiles;
    PSync *syncs; uint32_t nsyncs;
    PSource *sources; uint32_t nsources, capsources;
    PSetting *settings; uint32_t nsettings, capsettings;

    /* while compiling a sync */
    Sync *sy;
    PSync *ps;
    uint32_t top, maxregs; /* register stack */
    uint32_t line, file;   /* source position of what is being emitted */
    Loc loc;               /* the same, for an error there */
    int side_map[2];       /* checker side -> sync side (object conditions run on either side) */
    Scratch scratch;       /* constant folding */
    int quiet;             /* folding only to see whether it can: no errors */
    const Node **reported; /* constant expressions already reported as failing */
    uint32_t nreported, capreported;
} Cc;

/* --------------------------------------------------------------- tables */

static uint32_t str_id(Cc *cc, const char *s, size_t n) {
    char *key = arena_strndup(cc->a, s, n);
    uintptr_t v = (uintptr_t)symtab_get(&cc->strs, key);
    if (v) return (uint32_t)(v - 1);
    uint32_t off = (uint32_t)cc->pool.n;
    buf_putn(&cc->pool, s, n);
    buf_putc(&cc->pool, 0);
    symtab_put(&cc->strs, key, (void *)(uintptr_t)(off + 1));
    return off;
}

static uint32_t cstr_id(Cc *cc, const char *s) { return str_id(cc, s, strlen(s)); }

static uint32_t const_id(Cc *cc, Value v) {
    Buf k;
    buf_init(&k);
    buf_printf(&k, "%d:", v.t);
    if (v.t == VT_STR) buf_putn(&k, v.u.s, v.len);
    else if (v.t == VT_NUM) buf_printf(&k, "%.17g", v.u.n);
    else if (v.t == VT_BOOL) buf_printf(&k, "%d", v.u.b);
    else buf_printf(&k, "%lld", (long long)v.u.i);
    char *key = arena_strndup(cc->a, buf_str(&k), k.n);
    buf_free(&k);
    uintptr_t found = (uintptr_t)symtab_get(&cc->constab, key);
    if (found) return (uint32_t)(found - 1);
    uint32_t off = 0;
    if (v.t == VT_STR) off = str_id(cc, v.u.s, v.len);
    uint32_t capoff = cc->capconsts;
    PUSH(cc->consts, cc->nconsts, cc->capconsts, v);
    if (cc->capconsts != capoff) cc->const_off = xrealloc(cc->const_off, cc->capconsts * sizeof *cc->const_off);
    cc->const_off[cc->nconsts - 1] = off;
    symtab_put(&cc->constab, key, (void *)(uintptr_t)cc->nconsts);
    return cc->nconsts - 1;
}

static uint32_t tag_id(Cc *cc, const char *name) {
    uintptr_t v = (uintptr_t)symtab_get(&cc->tagtab, name);
    if (v) return (uint32_t)(v - 1);
    PUSH(cc->tags, cc->ntags, cc->captags, cstr_id(cc, name));
    symtab_put(&cc->tagtab, arena_strdup(cc->a, name), (void *)(uintptr_t)cc->ntags);
    return cc->ntags - 1;
}

static uint32_t file_id(Cc *cc, int diag_file) {
    SrcFile *f = diags_file(cc->d, diag_file);
    uint32_t sid = cstr_id(cc, f ? f->path : "?");
    for (uint32_t i = 0; i < cc->nfiles; i++) if (cc->filenames[i] == sid) return i;
    PUSH(cc->filenames, cc->nfiles, cc->capfiles, sid);
    return cc->nfiles - 1;
}

static uint32_t lit_const_of(Cc *cc, const Node *lit);

static uint32_t obj_id(Cc *cc, Object *o) {
    char *key = arena_printf(cc->a, "%s.%s", o->sys->name, o->name);
    uintptr_t v = (uintptr_t)symtab_get(&cc->objtab, key);
    if (v) return (uint32_t)(v - 1);
    PObject po;
    memset(&po, 0, sizeof po);
    po.system = cstr_id(cc, o->sys->name);
    po.name = cstr_id(cc, o->name);
    po.first_field = cc->nfields;
    po.nfields = (uint32_t)o->nfields;
    for (int i = 0; i < o->nfields; i++) {
        Field *f = o->fields[i];
        PField pf = {cstr_id(cc, f->name), (uint8_t)f->ty.k,
                     (uint8_t)((f->required ? PF_REQUIRED : 0) | (f->readonly ? PF_READONLY : 0) | (f->custom ? PF_CUSTOM : 0)),
                     f->deflt ? lit_const_of(cc, f->deflt) + 1 : 0, type_is_text(f->ty.k) ? f->ty.size : 0};
        PUSH(cc->fields, cc->nfields, cc->capfields, pf);
    }
    po.key = o->key ? o->key->index : -1;
    po.created = o->created ? o->created->index : -1;
    po.modified = o->modified ? o->modified->index : -1;
    po.deleted = o->deleted ? o->deleted->index : -1;
    po.list_field = o->list_field ? o->list_field->index : -1;
    po.converts_to = -1;
    po.converted_by = -1;
    po.caps = (uint8_t)((o->has_tags ? CAP_TAGS : 0) | (o->has_lists ? CAP_LISTS : 0) | (o->has_automations ? CAP_AUTOMATIONS : 0));
    PUSH(cc->objects, cc->nobjects, cc->capobjects, po);
    PUSH(cc->objsrc, cc->nobjsrc, cc->capobjsrc, o);
    uint32_t id = cc->nobjects - 1;
    symtab_put(&cc->objtab, key, (void *)(uintptr_t)(id + 1));
    if (o->converts && o->converts_to) {
        uint32_t to = obj_id(cc, o->converts_to);
        Node *by = o->converts->b;
        Field *bf = by->sym;
        cc->objects[id].converts_to = (int32_t)to;
        cc->objects[id].converted_by = bf ? bf->index : -1;
        cc->objects[id].by_other = bf && bf->obj != o;
    }
    return id;
}

static uint32_t conv_id(Cc *cc, int kind, const Node *args, int parse_only) {
    PConv c;
    memset(&c, 0, sizeof c);
    c.kind = (uint8_t)kind;
    c.decimals = -1;
    for (const Node *a = args; a; a = a->next) {
        if (!a->name || a->a->kind != NODE_LIT) continue;
        if (strcmp(a->name, "decimals") == 0) { if (!parse_only) c.decimals = (int8_t)a->a->num; continue; }
        uint32_t id = cstr_id(cc, a->a->str) + 1;
        if (strcmp(a->name, "thousands") == 0) c.thousands = id;
        else if (strcmp(a->name, "decimal") == 0) c.decimal = id;
        else if (!parse_only && strcmp(a->name, "prefix") == 0) c.prefix = id;
        else if (!parse_only && strcmp(a->name, "suffix") == 0) c.suffix = id;
    }
    for (uint32_t i = 0; i < cc->nconvs; i++)
        if (memcmp(&cc->convs[i], &c, sizeof c) == 0) return i;
    PUSH(cc->convs, cc->nconvs, cc->capconvs, c);
    return cc->nconvs - 1;
}

/* ------------------------------------------------------------ constants */

static Value lit_value(Cc *cc, const Node *n) {
    switch (n->op) {
    case TK_STRING: return v_str(n->str, strlen(n->str));
    case TK_NUMBER: return v_num(n->num);
    case TK_TRUE: case TK_FALSE: case TK_ON: case TK_OFF: return v_bool(n->num != 0);
    case TK_DATE: {
        int64_t d = 0;
        parse_date(n->str, strlen(n->str), &d);
        return v_int(VT_DATE, d);
    }
    case TK_DATETIME: {
        int64_t ms = 0;
        parse_datetime(n->str, strlen(n->str), &ms);
        return v_int(VT_DATETIME, ms);
    }
    case TK_DURATION: return v_int(VT_DURATION, (int64_t)(n->num * 1000));
    case TK_TIME: return v_str(n->str, strlen(n->str));
    default: (void)cc; return v_null();
    }
}

static uint32_t lit_const_of(Cc *cc, const Node *lit) { return const_id(cc, lit_value(cc, lit)); }

static const char *binop_char(int op) {
    switch (op) {
    case TK_PLUS: return "+";
    case TK_MINUS: return "-";
    case TK_STAR: return "*";
    case TK_SLASH: return "/";
    default: return NULL;
    }
}

static void here(Cc *cc, const Node *n);

/* A constant expression that fails is reported once, however often it is
 * folded. */
static void fold_error(Cc *cc, const Node *n, const char *fmt, const char *a, const char *b) {
    if (cc->quiet) return;
    cc->failed = 1;
    for (uint32_t i = 0; i < cc->nreported; i++) if (cc->reported[i] == n) return;
    PUSH(cc->reported, cc->nreported, cc->capreported, n);
    diag_error(cc->d, n->loc, fmt, a, b);
}

/* Folds an expression made of constants; 1 and *out when it is one. */
static int fold(Cc *cc, const Node *n, Value *out) {
    Value a, b;
    const char *err = NULL;
    switch (n->kind) {
    case NODE_LIT:
        *out = lit_value(cc, n);
        return 1;
    case NODE_UNARY:
        if (!fold(cc, n->a, &a)) return 0;
        if (n->op == TK_NOT) { *out = v_bool(!(a.t == VT_BOOL && a.u.b)); return 1; }
        if (a.t == VT_NUM) { *out = v_num(-a.u.n); return 1; }
        if (a.t == VT_DURATION) { *out = v_int(VT_DURATION, -a.u.i); return 1; }
        *out = v_null();
        return value_blank(a);
    case NODE_BINARY: {
        if (!fold(cc, n->a, &a) || !fold(cc, n->b, &b)) return 0;
        const char *op = binop_char(n->op);
        if (op) {
            *out = value_arith(*op, a, b, &err);
            if (err) fold_error(cc, n, "%s%s in a constant expression", err, "");
            return 1;
        }
        switch (n->op) {
        case TK_EQEQ: *out = v_bool(value_equal(a, b)); return 1;
        case TK_NE: *out = v_bool(!value_equal(a, b)); return 1;
        case TK_LT: *out = v_bool(value_cmp(a, b) == -1); return 1;
        case TK_LE: { int c = value_cmp(a, b); *out = v_bool(c == -1 || c == 0); return 1; }
        case TK_GT: *out = v_bool(value_cmp(a, b) == 1); return 1;
        case TK_GE: { int c = value_cmp(a, b); *out = v_bool(c == 1 || c == 0); return 1; }
        case TK_AND: *out = v_bool(a.t == VT_BOOL && a.u.b && b.t == VT_BOOL && b.u.b); return 1;
        case TK_OR: *out = v_bool((a.t == VT_BOOL && a.u.b) || (b.t == VT_BOOL && b.u.b)); return 1;
        default: return 0;
        }
    }
    case NODE_CALL: {
        int id = n->flags - 1;
        if (id < 0 || id == FN_TODAY || id == FN_NOW) return 0;
        Value args[64];
        int k = 0;
        for (const Node *x = n->list; x && k < 64; x = x->next, k++)
            if (!fold(cc, x->a, &args[k])) return 0;
        if (builtin_call(id, args, k, out, &cc->scratch, &err) != 0) {
            fold_error(cc, n, "%s(): %s", builtins[id].name, err);
            *out = v_null();
        }
        return 1;
    }
    case NODE_ISBLANK:
        if (!fold(cc, n->a, &a)) return 0;
        *out = v_bool(value_blank(a) != (n->op != 0));
        return 1;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------- emitting */

static void here(Cc *cc, const Node *n) {
    if (!n || n->loc.file < 0) return;
    cc->loc = n->loc;
    int line, col;
    SrcFile *f = diags_file(cc->d, n->loc.file);
    if (!f) return;
    src_linecol(f, n->loc.off, &line, &col);
    cc->line = (uint32_t)line;
    cc->file = file_id(cc, n->loc.file);
}

static uint32_t emit(Cc *cc, int op, uint32_t a, uint32_t b, uint32_t c) {
    if (a > 0xFFFF || b > 0xFFFF || c > 0xFFFF) {
        if (!cc->failed) diag_error(cc->d, cc->loc, "sync '%s' is too large to compile (an operand passes 65535)", cc->sy->name);
        cc->failed = 1;
    }
    Instr in = {(uint8_t)op, 0, (uint16_t)a, (uint16_t)b, (uint16_t)c};
    uint32_t cap = cc->capcode;
    PUSH(cc->code, cc->ncode, cc->capcode, in);
    if (cc->capcode != cap) {
        cc->lines = xrealloc(cc->lines, cc->capcode * sizeof *cc->lines);
        cc->files = xrealloc(cc->files, cc->capcode * sizeof *cc->files);
    }
    cc->lines[cc->ncode - 1] = cc->line;
    cc->files[cc->ncode - 1] = cc->file;
    return cc->ncode - 1;
}

static void set_target(Cc *cc, uint32_t at, uint32_t target) {
    cc->code[at].b = (uint16_t)(target & 0xFFFF);
    cc->code[at].c = (uint16_t)(target >> 16);
}

static uint32_t emit_jump(Cc *cc, int op, uint32_t reg) { return emit(cc, op, reg, 0, 0); }

static void patch_here(Cc *cc, Patches *p) {
    for (uint32_t i = 0; i < p->n; i++) set_target(cc, p->v[i], cc->ncode);
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

static void add_patch(Patches *p, uint32_t at) { PUSH(p->v, p->n, p->cap, at); }

static uint32_t reg(Cc *cc) {
    uint32_t r = cc->top++;
    if (cc->top > cc->maxregs) cc->maxregs = cc->top;
    return r;
}

static uint32_t side_of(Cc *cc, int s) { return (uint32_t)cc->side_map[s & 1]; }

static void load_const(Cc *cc, Value v, uint32_t dst) {
    if (v.t == VT_NULL) emit(cc, OP_LOADNULL, dst, 0, 0);
    else if (v.t == VT_BOOL) emit(cc, OP_LOADBOOL, dst, (uint32_t)v.u.b, 0);
    else emit(cc, OP_LOADK, dst, const_id(cc, v), 0);
}

/* ---------------------------------------------------------- expressions */

static void expr(Cc *cc, const Node *n, uint32_t dst);
static void cond(Cc *cc, const Node *n, int when, Patches *to);

/* Are all elements constants?  (Folding quietly: errors come later.) */
static int list_const(Cc *cc, const Node *list) {
    for (const Node *e = list; e; e = e->next) {
        if (e->kind == NODE_LIT) continue;
        int was = cc->quiet;
        cc->quiet = 1;
        Value v;
        int ok = fold(cc, e, &v);
        cc->quiet = was;
        if (!ok) return 0;
    }
    return 1;
}

/* A constant set for `in [...]`, or -1 when an element is not constant. */
static int set_of(Cc *cc, const Node *list) {
    uint32_t first = cc->nu32, n = 0;
    for (const Node *e = list; e; e = e->next) {
        Value v;
        if (!fold(cc, e, &v)) { cc->nu32 = first; return -1; }
        PUSH(cc->u32, cc->nu32, cc->capu32, const_id(cc, v));
        n++;
    }
    PHash h;
    memset(&h, 0, sizeof h);
    h.first = first;
    h.n = n;
    PUSH(cc->sets, cc->nsets, cc->capsets, h);
    return (int)cc->nsets - 1;
}

static void bool_of_cond(Cc *cc, const Node *n, uint32_t dst) {
    Patches f = {0};
    cond(cc, n, 0, &f);
    emit(cc, OP_LOADBOOL, dst, 1, 0);
    uint32_t j = emit_jump(cc, OP_JMP, 0);
    patch_here(cc, &f);
    emit(cc, OP_LOADBOOL, dst, 0, 0);
    set_target(cc, j, cc->ncode);
}

static void expr(Cc *cc, const Node *n, uint32_t dst) {
    Value v;
    if (fold(cc, n, &v)) { load_const(cc, v, dst); return; }
    uint32_t save = cc->top;
    switch (n->kind) {
    case NODE_FIELDREF: {
        Field *f = n->sym;
        emit(cc, OP_FIELD, dst, side_of(cc, n->side), f ? (uint32_t)f->index : 0);
        break;
    }
    case NODE_TAGGED:
        emit(cc, OP_HASTAG, dst, side_of(cc, n->side), tag_id(cc, n->str));
        break;
    case NODE_CALL: {
        int id = n->flags - 1;
        if (id == FN_TODAY) { emit(cc, OP_TODAY, dst, 0, 0); break; }
        if (id == FN_NOW) { emit(cc, OP_NOW, dst, 0, 0); break; }
        if (id == FN_IF) {
            Patches f = {0};
            cond(cc, n->list->a, 0, &f);
            expr(cc, n->list->next->a, dst);
            uint32_t j = emit_jump(cc, OP_JMP, 0);
            patch_here(cc, &f);
            expr(cc, n->list->next->next->a, dst);
            set_target(cc, j, cc->ncode);
            break;
        }
        uint32_t base = cc->top, k = 0;
        for (const Node *a = n->list; a; a = a->next, k++) expr(cc, a->a, reg(cc));
        uint32_t at = emit(cc, OP_CALL, dst, (uint32_t)(id < 0 ? 0 : id), base);
        cc->code[at].n = (uint8_t)k;
        break;
    }
    case NODE_UNARY: {
        uint32_t r = reg(cc);
        expr(cc, n->a, r);
        emit(cc, n->op == TK_NOT ? OP_NOT : OP_NEG, dst, r, 0);
        break;
    }
    case NODE_BINARY: {
        if (n->op == TK_AND || n->op == TK_OR) { bool_of_cond(cc, n, dst); break; }
        uint32_t ra = reg(cc), rb = reg(cc);
        expr(cc, n->a, ra);
        expr(cc, n->b, rb);
        switch (n->op) {
        case TK_EQEQ: emit(cc, OP_EQ, dst, ra, rb); break;
        case TK_NE: emit(cc, OP_NE, dst, ra, rb); break;
        case TK_LT: emit(cc, OP_LT, dst, ra, rb); break;
        case TK_LE: emit(cc, OP_LE, dst, ra, rb); break;
        case TK_GT: emit(cc, OP_LT, dst, rb, ra); break;
        case TK_GE: emit(cc, OP_LE, dst, rb, ra); break;
        case TK_CONTAINS: emit(cc, OP_CONTAINS, dst, ra, rb); break;
        case TK_STARTS: emit(cc, OP_STARTS, dst, ra, rb); break;
        case TK_ENDS: emit(cc, OP_ENDS, dst, ra, rb); break;
        case TK_PLUS: emit(cc, OP_ADD, dst, ra, rb); break;
        case TK_MINUS: emit(cc, OP_SUB, dst, ra, rb); break;
        case TK_STAR: emit(cc, OP_MUL, dst, ra, rb); break;
        case TK_SLASH: emit(cc, OP_DIV, dst, ra, rb); break;
        default: emit(cc, OP_LOADNULL, dst, 0, 0); break;
        }
        break;
    }
    case NODE_INLIST: {
        int set = set_of(cc, n->list);
        if (set >= 0) {
            uint32_t r = reg(cc);
            expr(cc, n->a, r);
            emit(cc, OP_INSET, dst, r, (uint32_t)set);
            if (n->op) emit(cc, OP_NOT, dst, dst, 0);
        } else {
            bool_of_cond(cc, n, dst);
        }
        break;
    }
    case NODE_ISBLANK: {
        uint32_t r = reg(cc);
        expr(cc, n->a, r);
        emit(cc, OP_ISBLANK, dst, r, 0);
        if (n->op) emit(cc, OP_NOT, dst, dst, 0);
        break;
    }
    case NODE_ALL: case NODE_ANY:
        bool_of_cond(cc, n, dst);
        break;
    default:
        emit(cc, OP_LOADNULL, dst, 0, 0);
        break;
    }
    cc->top = save;
}

/* Jumps to `to` when the condition's truth equals `when`; falls through
 * otherwise.  `and`/`or`/`all`/`any`/`not` short-circuit. */
static void cond(Cc *cc, const Node *n, int when, Patches *to) {
    Value v;
    if (fold(cc, n, &v)) {
        int t = v.t == VT_BOOL && v.u.b;
        if (t == when) add_patch(to, emit_jump(cc, OP_JMP, 0));
        return;
    }
    int is_and = (n->kind == NODE_BINARY && n->op == TK_AND) || n->kind == NODE_ALL;
    int is_or = (n->kind == NODE_BINARY && n->op == TK_OR) || n->kind == NODE_ANY;
    if (is_and || is_or) {
        const Node *items[2] = {n->a, n->b};
        const Node *first = n->kind == NODE_ALL || n->kind == NODE_ANY ? n->list : NULL;
        /* and: any false decides; or: any true decides. */
        int decides = is_and ? 0 : 1;
        if (when == decides) {
            if (first) for (const Node *c = first; c; c = c->next) cond(cc, c, when, to);
            else { cond(cc, items[0], when, to); cond(cc, items[1], when, to); }
        } else {
            Patches out = {0};
            if (first) {
                const Node *c = first;
                for (; c->next; c = c->next) cond(cc, c, decides, &out);
                cond(cc, c, when, to);
            } else {
                cond(cc, items[0], decides, &out);
                cond(cc, items[1], when, to);
            }
            patch_here(cc, &out);
        }
        return;
    }
    if (n->kind == NODE_UNARY && n->op == TK_NOT) { cond(cc, n->a, !when, to); return; }
    if (n->kind == NODE_INLIST && !list_const(cc, n->list)) {
        /* x in [a, b] with values known only at run time: x == a or x == b */
        Patches hit = {0};
        uint32_t save = cc->top, rx = reg(cc), re = reg(cc), rt = reg(cc);
        expr(cc, n->a, rx);
        for (const Node *e = n->list; e; e = e->next) {
            expr(cc, e, re);
            emit(cc, OP_EQ, rt, rx, re);
            add_patch(&hit, emit_jump(cc, OP_JMPIF, rt));
        }
        cc->top = save;
        int in_when = n->op ? !when : when; /* jump target for "x is in the list" */
        if (in_when) {
            for (uint32_t i = 0; i < hit.n; i++) add_patch(to, hit.v[i]);
            free(hit.v);
        } else {
            add_patch(to, emit_jump(cc, OP_JMP, 0));
            patch_here(cc, &hit);
        }
        return;
    }
    uint32_t save = cc->top, r = reg(cc);
    expr(cc, n, r);
    add_patch(to, emit_jump(cc, when ? OP_JMPIF : OP_JMPIFNOT, r));
    cc->top = save;
}

/* ------------------------------------------------------------------ maps */

/* The value map for one direction: as written, or read backwards. */
static uint32_t vmap_id(Cc *cc, ValueMap *vm, int reverse) {
    uint32_t first = cc->nu32, n = 0, els = 0;
    for (Node *p = vm->decl->list; p; p = p->next) {
        if (p->kind == NODE_VELSE) { els = lit_const_of(cc, p->a) + 1; continue; }
        uint32_t k = lit_const_of(cc, p->a), v = lit_const_of(cc, p->b);
        PUSH(cc->u32, cc->nu32, cc->capu32, reverse ? v : k);
        PUSH(cc->u32, cc->nu32, cc->capu32, reverse ? k : v);
        n++;
    }
    PHash h;
    memset(&h, 0, sizeof h);
    h.first = first;
    h.n = n;
    h.els = reverse ? 0 : els;
    PUSH(cc->vmaps, cc->nvmaps, cc->capvmaps, h);
    return cc->nvmaps - 1;
}

/* The value of src made fit for writing into side t of map, in dst (or in
 * src itself when nothing needs converting and `in_place` allows). */
static uint32_t convert_into(Cc *cc, Node *map, int t, uint32_t src, uint32_t dst, int in_place) {
    MapSem *ms = map->sym;
    Node *conv = map->c;
    int reverse = map->op == TK_BOTH && t == 0;
    if (ms->via) {
        /* The id belongs to the referenced object (or, for an id field, to
         * its own); that object is one side of the via sync. */
        Node *from = t ? map->a : map->b;
        Field *ff = from->kind == NODE_FIELDREF ? from->sym : NULL;
        const char *objname = ff ? (ff->ty.k == TY_REFERENCE ? ff->ty.ref : ff->obj->name) : NULL;
        int k = 0;
        for (int i = 0; i < 2; i++) {
            Object *o = ms->via->side[i].obj;
            if (o && ff && objname && strcmp(o->name, objname) == 0 && o->sys == ff->obj->sys) { k = i; break; }
        }
        uint32_t at = emit(cc, OP_VIA, dst, src, (uint32_t)ms->via->order);
        cc->code[at].n = (uint8_t)k;
        return dst;
    }
    if (ms->values) {
        emit(cc, OP_VMAP, dst, src, vmap_id(cc, ms->values, reverse));
        return dst;
    }
    if (ms->conv[t]) {
        int kind = ms->conv[t] - 1;
        /* The way back reads what the way there wrote: same marks. */
        emit(cc, OP_CONV, dst, src, conv_id(cc, kind, conv ? conv->list : NULL, reverse));
        return dst;
    }
    if (in_place) return src;
    if (src != dst) emit(cc, OP_MOVE, dst, src, 0);
    return dst;
}

/* A map end as written, blanks collapsed: `join(" ", FirstName, LastName)`. */
static void end_text(Cc *cc, const Node *n, Buf *out) {
    SrcFile *f = diags_file(cc->d, n->loc.file);
    if (!f) return;
    const char *s = f->text + n->loc.off;
    /* field("X") is located at its name, for diagnostics; the key names it whole */
    if (n->kind == NODE_FIELDREF && n->op && !n->name) buf_puts(out, "field(");
    int blank = 0;
    for (uint32_t i = 0; i < n->loc.len; i++) {
        char ch = s[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') { blank = 1; continue; }
        if (blank && out->n) buf_putc(out, ' ');
        blank = 0;
        buf_putc(out, ch);
    }
}

/* The name a map's base values go by in the state: its two ends, so that
 * editing other maps of the file (or reordering them) keeps every base. */
static uint32_t map_key(Cc *cc, const Node *map) {
    Buf b;
    buf_init(&b);
    end_text(cc, map->a, &b);
    buf_puts(&b, " <-> ");
    end_text(cc, map->b, &b);
    uint32_t id = str_id(cc, buf_str(&b), b.n);
    buf_free(&b);
    return id;
}

static uint32_t map_index(Cc *cc, Node *map, int account) {
    MapSem *ms = map->sym;
    PMap pm;
    memset(&pm, 0, sizeof pm);
    pm.key = map_key(cc, map);
    for (int t = 0; t < 2; t++) pm.field[t] = ms->field[t] ? (uint16_t)ms->field[t]->index : NO_FIELD;
    pm.flow = (uint8_t)ms->flow;
    pm.policy[0] = (uint8_t)ms->policy[0];
    pm.policy[1] = (uint8_t)ms->policy[1];
    if (ms->split) {
        /* a join merged with the maps that split it back: both ways */
        pm.flow = (uint8_t)(3 | (ms->split == 1 ? MAP_SPLIT_LEFT : MAP_SPLIT_RIGHT));
        pm.policy[ms->split - 1] = (uint8_t)ms->split_policy;
    }
    pm.is_default = (uint8_t)ms->is_default;
    pm.account = (uint8_t)account;
    here(cc, ms->is_default ? ms->use : map);
    pm.line = cc->line;
    pm.file = cc->file;
    PUSH(cc->maps, cc->nmaps, cc->capmaps, pm);
    return cc->nmaps - 1 - cc->ps->first_map;
}

/* The merge of one map: both ends, both converted values, both bases. */
static void merge_map(Cc *cc, Node *map, uint32_t k) {
    MapSem *ms = map->sym;
    /* A default mapping's code stands at the `use` that brought it: the
     * rule file's line, not the stdlib's. */
    here(cc, ms->is_default ? ms->use : map);
    uint32_t save = cc->top, w = cc->top;
    for (int i = 0; i < 6; i++) reg(cc);
    expr(cc, map->a, w);
    expr(cc, map->b, w + 1);
    if (ms->flow & 1) convert_into(cc, map, 1, w, w + 2, 0);
    else emit(cc, OP_LOADNULL, w + 2, 0, 0);
    if (ms->flow & 2) convert_into(cc, map, 0, w + 1, w + 3, 0);
    else emit(cc, OP_LOADNULL, w + 3, 0, 0);
    emit(cc, OP_BASE, w + 4, 0, k);
    emit(cc, OP_BASE, w + 5, 1, k);
    emit(cc, OP_MERGE, w, k, 0);
    cc->top = save;
}

/* ---------------------------------------------------------- entry points */

static void begin(Cc *cc, Entry e, const Node *at) {
    here(cc, at);
    cc->ps->entry[e] = cc->ncode;
    cc->top = 0;
}

static void ret_bool(Cc *cc, int b) {
    uint32_t r = reg(cc);
    emit(cc, OP_LOADBOOL, r, (uint32_t)b, 0);
    emit(cc, OP_RET, r, 0, 0);
    cc->top--;
}

static void compile_select(Cc *cc, int side) {
    Side *sd = &cc->sy->side[side];
    if (!sd->nselects) return;
    begin(cc, side ? EP_SELECT_R : EP_SELECT_L, sd->selects[0]);
    for (int i = 0; i < sd->nselects; i++) {
        Node *it = sd->selects[i], *sel = it->a;
        here(cc, it);
        Patches no = {0};
        uint32_t save = cc->top;
        switch (sel->kind) {
        case NODE_SELNONE:
            ret_bool(cc, 0);
            break;
        case NODE_SELALL:
            break;
        case NODE_SELSINCE: {
            uint32_t when = reg(cc), r = reg(cc), ok = reg(cc);
            if (sel->a) load_const(cc, lit_value(cc, sel->a), when);
            else emit(cc, OP_FIRSTRUN, when, 0, 0);
            Patches yes = {0};
            int fields[2] = {-1, -1};
            if (sel->op == TK_CREATED || sel->op == TK_OR) fields[0] = sd->obj->created->index;
            if (sel->op == TK_UPDATED || sel->op == TK_OR) fields[1] = sd->obj->modified->index;
            for (int k = 0; k < 2; k++) {
                if (fields[k] < 0) continue;
                emit(cc, OP_FIELD, r, (uint32_t)side, (uint32_t)fields[k]);
                emit(cc, OP_LE, ok, when, r);
                add_patch(&yes, emit_jump(cc, OP_JMPIF, ok));
            }
            add_patch(&no, emit_jump(cc, OP_JMP, 0));
            patch_here(cc, &yes);
            break;
        }
        case NODE_SELFLAGGED: {
            /* Linked records stay selected: their edits keep flowing. */
            uint32_t r = reg(cc), v = reg(cc), ok = reg(cc);
            Patches yes = {0};
            emit(cc, OP_LINKED, ok, (uint32_t)side, 0);
            add_patch(&yes, emit_jump(cc, OP_JMPIF, ok));
            expr(cc, sel->a, r);
            expr(cc, sel->b, v);
            emit(cc, OP_EQ, ok, r, v);
            add_patch(&no, emit_jump(cc, OP_JMPIFNOT, ok));
            patch_here(cc, &yes);
            break;
        }
        case NODE_SELWHEN:
            cond(cc, sel->a, 0, &no);
            break;
        default:
            break;
        }
        cc->top = save;
        if (no.n) {
            /* Not selected: return false, at this rule's line. */
            uint32_t j = emit_jump(cc, OP_JMP, 0);
            patch_here(cc, &no);
            ret_bool(cc, 0);
            set_target(cc, j, cc->ncode);
        }
    }
    here(cc, cc->sy->decl);
    ret_bool(cc, 1);
}

static uint32_t skip_rule(Cc *cc, Node *it) {
    SrcFile *f = diags_file(cc->d, it->loc.file);
    PSkip s;
    s.text = f ? str_id(cc, f->text + it->loc.off, it->loc.len) : cstr_id(cc, "skip");
    here(cc, it);
    s.line = cc->line;
    s.file = cc->file;
    PUSH(cc->skips, cc->nskips, cc->capskips, s);
    return cc->nskips - 1;
}

static void compile_skip(Cc *cc) {
    int any = 0;
    for (Node *it = cc->sy->decl->list; it; it = it->next) {
        if (it->kind != NODE_SKIP) continue;
        if (!any) begin(cc, EP_SKIP, it);
        any = 1;
        here(cc, it);
        Patches pass = {0};
        /* skip when C: C false passes; skip unless C: C true passes */
        cond(cc, it->a, it->op == TK_WHEN ? 0 : 1, &pass);
        emit(cc, OP_SKIP, skip_rule(cc, it), 0, 0);
        patch_here(cc, &pass);
    }
    if (any) emit(cc, OP_HALT, 0, 0, 0);
}

static Node *match_item(Sync *sy) {
    for (Node *it = sy->decl->list; it; it = it->next) if (it->kind == NODE_MATCH) return it;
    return NULL;
}

static void compile_key(Cc *cc, int side) {
    Node *m = match_item(cc->sy);
    if (!m) return;
    Node *e = side ? m->b : m->a;
    begin(cc, side ? EP_KEY_R : EP_KEY_L, m);
    uint32_t r = reg(cc);
    expr(cc, e, r);
    if (type_is_text(e->ty->k)) emit(cc, OP_KEY, r, r, 0);
    emit(cc, OP_RET, r, 0, 0);
}

static void compile_converted(Cc *cc, int side) {
    Object *o = cc->sy->side[side].obj;
    if (!o->converts) return;
    begin(cc, side ? EP_CONVERTED_R : EP_CONVERTED_L, o->converts);
    cc->side_map[0] = side;
    uint32_t r = reg(cc);
    expr(cc, o->converts->a, r);
    emit(cc, OP_RET, r, 0, 0);
    cc->side_map[0] = 0;
}

/* A join merged with the maps that split its joined end back
 * (check.c, split_groups): the joined value against the whole, one base;
 * when the merge writes the joined side, each split map writes its field
 * from the whole. */
static void merge_split(Cc *cc, Node *join, uint32_t k) {
    MapSem *ms = join->sym;
    Sync *sy = cc->sy;
    int src = ms->split - 1, t = 1 - src;
    here(cc, ms->is_default ? ms->use : join);
    uint32_t save = cc->top, w = cc->top;
    for (int i = 0; i < 6; i++) reg(cc);
    expr(cc, join->a, w);
    expr(cc, join->b, w + 1);
    /* into the whole: the joined value converted; into the joined side,
     * for the merge to compare, the whole as it is (the split maps write) */
    convert_into(cc, join, t, w + src, w + 2 + (t ? 0 : 1), 0);
    emit(cc, OP_MOVE, w + 2 + (src ? 0 : 1), w + t, 0);
    emit(cc, OP_BASE, w + 4, 0, k);
    emit(cc, OP_BASE, w + 5, 1, k);
    emit(cc, OP_MERGE, w, k, 0);
    /* MERGE leaves in w whether it wrote the joined side */
    uint32_t skip = emit_jump(cc, OP_JMPIFNOT, w);
    for (int i = 0; i < sy->nmaps; i++) {
        Node *sm = sy->maps[i];
        MapSem *ss = sm->sym;
        if (ss->join != join) continue;
        here(cc, ss->is_default ? ss->use : sm);
        uint32_t r = reg(cc), v = reg(cc);
        expr(cc, t ? sm->b : sm->a, r);
        convert_into(cc, sm, src, r, v, 0);
        emit(cc, OP_PUT, (uint32_t)src, (uint32_t)ss->field[src]->index, v);
    }
    set_target(cc, skip, cc->ncode);
    cc->top = save;
}

static void compile_update(Cc *cc, uint32_t *map_k) {
    Sync *sy = cc->sy;
    int any = 0;
    for (int i = 0; i < sy->nmaps; i++) {
        MapSem *ms = sy->maps[i]->sym;
        if (!ms->flow || ms->join) continue;   /* a split map merges with its join */
        if (!any) begin(cc, EP_UPDATE, sy->maps[i]);
        any = 1;
        if (ms->split) merge_split(cc, sy->maps[i], map_k[i]);
        else merge_map(cc, sy->maps[i], map_k[i]);
    }
    if (any) emit(cc, OP_HALT, 0, 0, 0);
}

/* Field id on the object created on side t for a field of the synced object. */
static int created_field(Cc *cc, int t, Field *f) {
    Object *as = cc->sy->side[t].create_as ? cc->sy->side[t].create_as : cc->sy->side[t].obj;
    if (f->obj == as) return f->index;
    Field *g = symtab_get(&as->ftab, f->name);
    return g ? g->index : -1;
}

static void compile_create(Cc *cc, int t) {
    Sync *sy = cc->sy;
    Side *sd = &sy->side[t];
    if (!(sy->flow & (t ? 1 : 2)) || sd->never_create) return;
    Object *as = sd->create_as ? sd->create_as : sd->obj;
    begin(cc, t ? EP_CREATE_R : EP_CREATE_L, sd->new_item ? sd->new_item : sy->decl);
    char *written = calloc((size_t)as->nfields + 1, 1);
    for (int i = 0; i < sy->nmaps; i++) {
        Node *map = sy->maps[i];
        MapSem *ms = map->sym;
        if (!(ms->flow & (t ? 1 : 2)) || ms->policy[t] == POL_NEVER || !ms->field[t]) continue;
        int fid = created_field(cc, t, ms->field[t]);
        if (fid < 0) continue;
        here(cc, ms->is_default ? ms->use : map);
        uint32_t save = cc->top, r = reg(cc), v = reg(cc);
        expr(cc, t ? map->a : map->b, r);
        v = convert_into(cc, map, t, r, v, 1);
        uint32_t at = emit(cc, OP_PUT, (uint32_t)t, (uint32_t)fid, v);
        cc->code[at].n = 1;
        written[fid] = 1;
        cc->top = save;
    }
    /* The match key goes across as it is. */
    Node *m = match_item(sy);
    if (m) {
        Node *to = t ? m->b : m->a, *from = t ? m->a : m->b;
        int fid = to->kind == NODE_FIELDREF && to->sym ? created_field(cc, t, to->sym) : -1;
        if (fid >= 0 && !written[fid]) {
            here(cc, m);
            uint32_t save = cc->top, r = reg(cc);
            expr(cc, from, r);
            uint32_t at = emit(cc, OP_PUT, (uint32_t)t, (uint32_t)fid, r);
            cc->code[at].n = 1;
            written[fid] = 1;
            cc->top = save;
        }
    }
    if (sd->new_item) {
        for (Node *as_ = sd->new_item->list; as_; as_ = as_->next) {
            Field *f = as_->a->sym;
            if (!f) continue;
            here(cc, as_);
            uint32_t save = cc->top, r = reg(cc);
            expr(cc, as_->b, r);
            uint32_t at = emit(cc, OP_PUT, (uint32_t)t, (uint32_t)f->index, r);
            cc->code[at].n = 1;
            written[f->index] = 1;
            cc->top = save;
        }
    }
    /* B05: what is created must have its required fields. */
    here(cc, sd->new_item ? sd->new_item : sy->decl);
    for (int k = 0; k < as->nfields; k++) {
        Field *f = as->fields[k];
        if (!f->required || f->readonly || f->deflt) continue;
        if (sd->list && f == as->list_field) continue;
        emit(cc, OP_REQUIRE, (uint32_t)t, (uint32_t)f->index, 0);
    }
    emit(cc, OP_HALT, 0, 0, 0);
    free(written);
}

static int event_entry(const Node *ev) {
    int s = ev->side;
    switch (ev->op) {
    case TK_CREATE: return s ? EP_ON_CREATE_R : EP_ON_CREATE_L;
    case TK_UPDATE: return s ? EP_ON_UPDATE_R : EP_ON_UPDATE_L;
    case TK_DELETE: return s ? EP_ON_DELETE_R : EP_ON_DELETE_L;
    case TK_CONVERT: return EP_ON_CONVERT;
    case TK_REMOVE: return EP_ON_REMOVE;
    default: return -1;
    }
}

/* The list or automation an action names, NULL for other actions:
 * ListAdd, ListRemove and Automate carry it as its place in the string
 * table, in 16 bits. */
static const char *action_name(const Sync *sy, const Node *act) {
    uint32_t s = act->side >= 0 ? (uint32_t)act->side : 0;
    switch (act->op) {
    case TK_REMOVE: return act->str ? act->str : sy->side[s].list ? sy->side[s].list : "";
    case TK_ADD: case TK_START: return act->str;
    default: return NULL;
    }
}

/* Those names go first into the string table, before any literal, so a
 * literal of any length leaves them within reach.  (Their own bytes could
 * still pass 64 KB: compile_action says so where.) */
static void intern_action_names(Cc *cc, Model *m) {
    for (int i = 0; i < m->nsyncs; i++) {
        const Sync *sy = m->order[i];
        for (const Node *it = sy->decl->list; it; it = it->next) {
            if (it->kind != NODE_ON) continue;
            for (const Node *act = it->list; act; act = act->next) {
                const char *name = action_name(sy, act);
                if (name) cstr_id(cc, name);
            }
        }
    }
}

static uint32_t action_name_id(Cc *cc, const Node *act) {
    uint32_t id = cstr_id(cc, action_name(cc->sy, act));
    if (id > 0xFFFF) {
        if (!cc->failed)
            diag_error(cc->d, act->loc, "list and automation names take more than 64 KB together; tandem cannot reach "
                       "this one (shorten them)");
        cc->failed = 1;
        return 0;
    }
    return id;
}

static void compile_action(Cc *cc, Node *act) {
    here(cc, act);
    uint32_t s = act->side >= 0 ? (uint32_t)act->side : 0;
    switch (act->op) {
    case TK_TAG: emit(cc, OP_TAG, s, tag_id(cc, act->str), 0); break;
    case TK_UNTAG: emit(cc, OP_UNTAG, s, tag_id(cc, act->str), 0); break;
    case TK_SET: {
        Field *f = act->a->sym;
        uint32_t save = cc->top, r = reg(cc);
        expr(cc, act->b, r);
        emit(cc, OP_PUT, s, f ? (uint32_t)f->index : 0, r);
        cc->top = save;
        break;
    }
    case TK_DELETE: emit(cc, OP_DELETE, s, 0, 0); break;
    case TK_KEEP: emit(cc, OP_KEEP, s, 0, 0); break;
    case TK_REMOVE: emit(cc, OP_LISTDEL, s, action_name_id(cc, act), 0); break;
    case TK_ADD: emit(cc, OP_LISTADD, s, action_name_id(cc, act), 0); break;
    case TK_START: emit(cc, OP_AUTOMATE, s, action_name_id(cc, act), 0); break;
    default: break;
    }
}

static void compile_events(Cc *cc) {
    Sync *sy = cc->sy;
    for (int e = EP_ON_CREATE_L; e <= EP_ON_REMOVE; e++) {
        int any = 0;
        for (Node *it = sy->decl->list; it; it = it->next) {
            if (it->kind != NODE_ON || event_entry(it->a) != e) continue;
            if (!any) begin(cc, (Entry)e, it);
            any = 1;
            here(cc, it);
            /* keep after a delete stays on the side that was deleted */
            for (Node *act = it->list; act; act = act->next)
                if (act->op == TK_KEEP) act->side = it->a->side >= 0 ? it->a->side : 0;
            Patches skip = {0};
            if (it->b) cond(cc, it->b, 0, &skip);
            for (Node *act = it->list; act; act = act->next) compile_action(cc, act);
            patch_here(cc, &skip);
        }
        if (any) emit(cc, OP_HALT, 0, 0, 0);
    }
}

static void compile_resurrect(Cc *cc) {
    for (Node *it = cc->sy->decl->list; it; it = it->next) {
        if (it->kind != NODE_RESURRECT || it->side < 0) continue;
        begin(cc, it->side ? EP_RESURRECT_R : EP_RESURRECT_L, it);
        uint32_t r = reg(cc);
        expr(cc, it->a, r);
        emit(cc, OP_RET, r, 0, 0);
    }
}

static void compile_account(Cc *cc, Node *acc) {
    begin(cc, EP_ACCOUNT, acc);
    for (Node *m = acc->list; m; m = m->next) {
        if (m->kind != NODE_MAP || !m->sym || !((MapSem *)m->sym)->flow) continue;
        merge_map(cc, m, map_index(cc, m, 1));
    }
    emit(cc, OP_HALT, 0, 0, 0);
}

static void schedule_of(const Node *n, uint8_t *kind, uint32_t *value) {
    if (!n) { *kind = SCHED_INHERIT; *value = 0; return; }
    if (n->op == TK_OFF) { *kind = SCHED_OFF; *value = 0; return; }
    if (n->op == TK_EVERY) { *kind = SCHED_EVERY; *value = (uint32_t)n->a->num; return; }
    const char *t = n->a->str;
    const char *colon = strchr(t, ':');
    *kind = SCHED_DAILY;
    *value = (uint32_t)(atoi(t) * 60 + (colon ? atoi(colon + 1) : 0));
}

static void track_of(const Node *it, int32_t out[2]) {
    out[0] = -1;
    out[1] = -1;
    if (!it || !it->a->sym) return;
    out[0] = it->a->side;
    out[1] = ((Field *)it->a->sym)->index;
}

static void compile_sync(Cc *cc, Sync *sy, PSync *ps) {
    cc->sy = sy;
    cc->ps = ps;
    cc->maxregs = 1;
    cc->top = 0;
    cc->side_map[0] = 0;
    cc->side_map[1] = 1;
    memset(ps, 0, sizeof *ps);
    for (int e = 0; e < EP__COUNT; e++) ps->entry[e] = NO_ENTRY;
    ps->name = cstr_id(cc, sy->name);
    here(cc, sy->decl);
    ps->line = cc->line;
    ps->file = cc->file;
    for (int k = 0; k < 2; k++) {
        Side *sd = &sy->side[k];
        PSide *d = &ps->side[k];
        d->source = cstr_id(cc, sd->src->name);
        d->object = obj_id(cc, sd->obj);
        d->create_as = obj_id(cc, sd->create_as ? sd->create_as : sd->obj);
        d->list = sd->list ? cstr_id(cc, sd->list) + 1 : 0;
        d->never_create = (uint8_t)sd->never_create;
        d->account = -1;
    }
    Node *acc = NULL, *track_s = NULL, *track_l = NULL;
    for (Node *it = sy->decl->list; it; it = it->next) {
        if (it->kind == NODE_ACCOUNT && !acc) acc = it;
        if (it->kind == NODE_TRACK && it->op == TK_STATUS && !track_s) track_s = it;
        if (it->kind == NODE_TRACK && it->op == TK_LAST && !track_l) track_l = it;
    }
    for (int k = 0; k < 2; k++) ps->match_field[k] = ps->account_ref[k] = -1;
    if (acc && acc->a->sym && acc->b->sym) {
        Object *ao[2] = {acc->a->sym, acc->b->sym};
        for (int k = 0; k < 2; k++) {
            ps->side[k].account = (int32_t)obj_id(cc, ao[k]);
            /* The person's field that points at its account: the reference
             * to the account object (Contact.AccountId, contact.account). */
            Object *po = sy->side[k].obj;
            for (int i = 0; i < po->nfields; i++) {
                const Type *t = &po->fields[i]->ty;
                if (t->k == TY_REFERENCE && t->ref && !strcmp(t->ref, ao[k]->name)) { ps->account_ref[k] = i; break; }
            }
        }
    }
    Node *mi = match_item(sy);
    if (mi) {
        Node *ends[2] = {mi->a, mi->b};
        for (int k = 0; k < 2; k++)
            if (ends[k]->kind == NODE_FIELDREF && ends[k]->sym) ps->match_field[k] = ((Field *)ends[k]->sym)->index;
    }
    ps->flow = (uint8_t)sy->flow;
    ps->prefer = (int8_t)(sy->prefer >= 0 && sy->prefer <= 2 ? sy->prefer : -1);
    ps->paused = (uint8_t)sy->paused;
    ps->initial = (int8_t)sy->initial;
    schedule_of(sy->schedule, &ps->sched_kind, &ps->sched_value);
    track_of(track_s, ps->track_status);
    track_of(track_l, ps->track_last);
    ps->first_after = cc->nu32;
    for (int i = 0; i < sy->nafter; i++) PUSH(cc->u32, cc->nu32, cc->capu32, (uint32_t)sy->after[i]->order);
    ps->nafter = cc->nu32 - ps->first_after;
    ps->code_start = cc->ncode;
    ps->first_map = cc->nmaps;
    uint32_t *map_k = calloc((size_t)sy->nmaps + 1, sizeof *map_k);
    for (int i = 0; i < sy->nmaps; i++) map_k[i] = map_index(cc, sy->maps[i], 0);

    compile_select(cc, 0);
    compile_select(cc, 1);
    compile_skip(cc);
    compile_key(cc, 0);
    compile_key(cc, 1);
    compile_converted(cc, 0);
    compile_converted(cc, 1);
    compile_update(cc, map_k);
    compile_create(cc, 0);
    compile_create(cc, 1);
    compile_events(cc);
    compile_resurrect(cc);
    if (acc) compile_account(cc, acc);

    ps->nmaps = cc->nmaps - ps->first_map;
    ps->code_end = cc->ncode;
    ps->nregs = cc->maxregs;
    free(map_k);
}

/* ---------------------------------------------------------- sources */

static void add_setting(Cc *cc, const char *name, const Node *v) {
    PSetting s;
    memset(&s, 0, sizeof s);
    s.name = cstr_id(cc, name);
    if (v->kind == NODE_CALL && (!strcmp(v->name, "env") || !strcmp(v->name, "secret"))) {
        const Node *arg = v->list ? v->list->a : NULL;
        if (!arg || arg->kind != NODE_LIT || arg->op != TK_STRING) return;
        s.kind = v->name[0] == 'e' ? SET_ENV : SET_SECRET;
        s.value = cstr_id(cc, arg->str);
    } else if (v->kind == NODE_CALL && !strcmp(v->name, "oauth2")) {
        for (const Node *a = v->list; a; a = a->next) {
            if (!a->name || !a->a) continue;
            char *sub = arena_printf(cc->a, "%s.%s", name, a->name);
            add_setting(cc, sub, a->a);
        }
        return;
    } else {
        Value val;
        if (!fold(cc, v, &val)) return;
        s.kind = SET_VALUE;
        s.value = const_id(cc, val);
    }
    PUSH(cc->settings, cc->nsettings, cc->capsettings, s);
}

/* Every source with its settings, given or defaulted, for the connectors. */
static void compile_sources(Cc *cc) {
    Model *m = cc->m;
    for (int i = 0; i < m->srctab.n; i++) {
        Source *src = m->srctab.order[i].val;
        if (!src->sys) continue;
        PSource ps;
        ps.name = cstr_id(cc, src->name);
        ps.system = cstr_id(cc, src->sys->name);
        ps.first_setting = cc->nsettings;
        for (Node *st = src->decl->list; st; st = st->next)
            if (st->kind == NODE_SETTING && st->a) add_setting(cc, st->name, st->a);
        for (int k = 0; k < src->sys->nsettings; k++) {
            Field *f = src->sys->settings[k];
            int given = 0;
            for (Node *st = src->decl->list; st; st = st->next)
                if (st->kind == NODE_SETTING && !strcmp(st->name, f->name)) given = 1;
            if (!given && f->deflt) add_setting(cc, f->name, f->deflt);
        }
        ps.nsettings = cc->nsettings - ps.first_setting;
        PUSH(cc->sources, cc->nsources, cc->capsources, ps);
    }
}

/* ---------------------------------------------------------- the program */

#define COPY(dst, src, n)                                                         \
    do {                                                                          \
        (dst) = (n) ? arena_alloc(&p->arena, (size_t)(n) * sizeof *(src)) : NULL; \
        if (n) memcpy((dst), (src), (size_t)(n) * sizeof *(src));                 \
    } while (0)

Program *compile_unit(Unit *u) {
    if (!u->model || u->diags.errors) return NULL;
    Cc cc;
    memset(&cc, 0, sizeof cc);
    cc.u = u;
    cc.m = u->model;
    cc.d = &u->diags;
    cc.a = &u->arena;
    buf_init(&cc.pool);
    buf_putc(&cc.pool, 0); /* offset 0: the empty string */
    symtab_init(&cc.strs, cc.a);
    symtab_init(&cc.constab, cc.a);
    symtab_init(&cc.objtab, cc.a);
    symtab_init(&cc.tagtab, cc.a);
    scratch_init(&cc.scratch);
    symtab_put(&cc.strs, "", (void *)(uintptr_t)1);

    Model *m = u->model;
    cc.nsyncs = (uint32_t)m->nsyncs;
    cc.syncs = calloc(cc.nsyncs ? cc.nsyncs : 1, sizeof *cc.syncs);
    intern_action_names(&cc, m);
    for (int i = 0; i < m->nsyncs; i++) compile_sync(&cc, m->order[i], &cc.syncs[i]);
    compile_sources(&cc);

    Program *p = NULL;
    if (!cc.failed) {
        p = program_new();
        p->pool_len = (uint32_t)cc.pool.n;
        COPY(p->pool, cc.pool.p, cc.pool.n);
        p->nconsts = cc.nconsts;
        COPY(p->consts, cc.consts, cc.nconsts);
        for (uint32_t i = 0; i < cc.nconsts; i++)
            if (p->consts[i].t == VT_STR) p->consts[i].u.s = p->pool + cc.const_off[i];
        p->nfields = cc.nfields; COPY(p->fields, cc.fields, cc.nfields);
        p->nobjects = cc.nobjects; COPY(p->objects, cc.objects, cc.nobjects);
        p->nsyncs = cc.nsyncs; COPY(p->syncs, cc.syncs, cc.nsyncs);
        p->nsources = cc.nsources; COPY(p->sources, cc.sources, cc.nsources);
        p->nsettings = cc.nsettings; COPY(p->settings, cc.settings, cc.nsettings);
        p->nmaps = cc.nmaps; COPY(p->maps, cc.maps, cc.nmaps);
        p->ntags = cc.ntags; COPY(p->tags, cc.tags, cc.ntags);
        p->nskips = cc.nskips; COPY(p->skips, cc.skips, cc.nskips);
        p->nconvs = cc.nconvs; COPY(p->convs, cc.convs, cc.nconvs);
        p->nsets = cc.nsets; COPY(p->sets, cc.sets, cc.nsets);
        p->nvmaps = cc.nvmaps; COPY(p->vmaps, cc.vmaps, cc.nvmaps);
        p->nu32 = cc.nu32; COPY(p->u32, cc.u32, cc.nu32);
        p->ncode = cc.ncode; COPY(p->code, cc.code, cc.ncode);
        COPY(p->lines, cc.lines, cc.ncode);
        COPY(p->files, cc.files, cc.ncode);
        p->nfiles = cc.nfiles; COPY(p->filenames, cc.filenames, cc.nfiles);
        schedule_of(m->schedule, &p->sched_kind, &p->sched_value);
        p->paused = (uint8_t)m->paused;
        p->initial = (uint8_t)m->initial;
        program_index(p);
    }
    buf_free(&cc.pool);
    free(cc.consts); free(cc.const_off); free(cc.fields); free(cc.objects); free(cc.objsrc);
    free(cc.maps); free(cc.tags); free(cc.skips); free(cc.convs); free(cc.sets); free(cc.vmaps);
    free(cc.sources); free(cc.settings);
    free(cc.u32); free(cc.code); free(cc.lines); free(cc.files); free(cc.filenames); free(cc.syncs);
    scratch_free(&cc.scratch);
    free(cc.reported);
    return p;
}
