/* ast.c - building and dumping syntax trees. */
#include "ast.h"

#include <string.h>

#include "lex.h"

static const char *kind_names[] = {
#define N(k, s) s,
    TD_NODE_KINDS(N)
#undef N
};

const char *ast_kind_name(NodeKind k) { return k < NODE__COUNT ? kind_names[k] : "?"; }

/* Node.kind is a byte, Node.depth 16 bits */
_Static_assert(NODE__COUNT <= 256, "a node kind no longer fits Node.kind");
_Static_assert(AST_MAX_DEPTH < 32767, "an expression's depth no longer fits Node.depth");

Node *ast_new(Arena *a, NodeKind k, Loc loc) {
    Node *n = arena_alloc(a, sizeof *n);
    n->kind = (uint8_t)k;
    n->ty = type_of_kind(TY_UNKNOWN);
    n->loc = loc;
    n->nloc = loc;
    n->sloc = loc;
    n->side = -1;
    return n;
}

void ast_append(Node *parent, Node *n) {
    if (!n) return;
    Node **p = &parent->list;
    while (*p) p = &(*p)->next;
    *p = n;
}

int ast_list_len(const Node *n) {
    int c = 0;
    for (; n; n = n->next) c++;
    return c;
}

Node *ast_clone(Arena *a, const Node *n) {
    if (!n) return NULL;
    Node *c = arena_alloc(a, sizeof *c);
    *c = *n;
    c->next = NULL;
    c->a = ast_clone(a, n->a);
    c->b = ast_clone(a, n->b);
    c->c = ast_clone(a, n->c);
    Node **tail = &c->list;
    *tail = NULL;
    for (const Node *k = n->list; k; k = k->next) {
        *tail = ast_clone(a, k);
        tail = &(*tail)->next;
    }
    return c;
}

Loc loc_join(Loc a, Loc b) {
    if (a.file < 0) return b;
    if (b.file < 0 || a.file != b.file) return a;
    uint32_t s = a.off < b.off ? a.off : b.off;
    uint32_t ea = a.off + a.len, eb = b.off + b.len;
    uint32_t e = ea > eb ? ea : eb;
    return (Loc){a.file, s, e - s};
}

/* Kinds whose op is a flag rather than a token code. */
static int op_is_flag(NodeKind k) {
    return k == NODE_INLIST || k == NODE_ISBLANK || k == NODE_FIELDDECL || k == NODE_FIELDREF;
}

static void put_token(Buf *out, int code) {
    const char *s = lex_token_name(code);
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '\'' && s[n - 1] == '\'') buf_putn(out, s + 1, n - 2);
    else buf_puts(out, s);
}

static void dump(const Node *n, Buf *out, int flags, int depth) {
    buf_indent(out, depth * 2);
    if (!n) { buf_puts(out, "()"); return; }
    buf_putc(out, '(');
    buf_puts(out, ast_kind_name(n->kind));
    if (n->kind == NODE_LIT) {
        /* (lit <kind> <value>) */
    } else if (n->kind == NODE_SELSINCE) {
        buf_puts(out, n->op == TK_OR ? " created-or-updated" : n->op == TK_CREATED ? " created" : " updated");
    } else if (n->kind == NODE_POLICY || (n->kind == NODE_CONV && n->op == TK_AS)) {
        if (n->op == TK_IF) buf_puts(out, " if-blank");
        else if (n->kind == NODE_POLICY) { buf_putc(out, ' '); put_token(out, n->op); }
    } else if (n->op) {
        buf_putc(out, ' ');
        if (op_is_flag(n->kind)) buf_puts(out, n->kind == NODE_FIELDDECL || n->kind == NODE_FIELDREF ? "quoted" : "not");
        else put_token(out, n->op);
    }
    if (n->name) {
        buf_putc(out, ' ');
        if (n->kind == NODE_FIELDDECL && n->op) buf_json_str(out, n->name, strlen(n->name));
        else buf_puts(out, n->name);
    }
    if (n->kind == NODE_LIT) {
        switch (n->op) {
        case TK_TRUE: case TK_FALSE: case TK_ON: case TK_OFF:
            buf_puts(out, n->num != 0 ? " bool true" : " bool false");
            break;
        case TK_NULL:
            buf_puts(out, " null");
            break;
        case TK_STRING:
            buf_puts(out, " string ");
            buf_json_str(out, n->str, strlen(n->str));
            break;
        case TK_NUMBER:
            buf_printf(out, " number %.17g", n->num);
            break;
        default:
            buf_putc(out, ' ');
            put_token(out, n->op);
            buf_putc(out, ' ');
            buf_puts(out, n->str ? n->str : "");
            break;
        }
    } else if (n->str) {
        buf_putc(out, ' ');
        buf_json_str(out, n->str, strlen(n->str));
    }
    if ((n->kind == NODE_TYPESPEC || n->kind == NODE_LIMIT) && n->num != 0)
        buf_printf(out, " %.17g", n->num);
    if (flags & DUMP_CHECKED) {
        if (n->ty->k != TY_UNKNOWN) { buf_puts(out, " :"); buf_puts(out, type_str(n->ty)); }
        if (n->side >= 0) buf_printf(out, " side=%d", n->side);
        if (n->kind == NODE_MAP && n->sym) {
            /* flags from the checker: flow bits, policy into each side, default */
            static const char *const pol[] = {"-", "always", "if-blank", "never"};
            int fl = n->flags;
            buf_printf(out, " flow=%s into-left=%s into-right=%s%s",
                       (fl & 3) == 3 ? "both" : (fl & 3) == 1 ? "right" : (fl & 3) == 2 ? "left" : "none",
                       pol[(fl >> 2) & 3], pol[(fl >> 4) & 3], (fl >> 6) & 1 ? " default" : "");
        }
    }
    const Node *kids[3] = {n->a, n->b, n->c};
    int any = n->list != NULL;
    for (int i = 0; i < 3; i++) any |= kids[i] != NULL;
    if (!any) { buf_putc(out, ')'); return; }
    for (int i = 0; i < 3; i++) {
        if (!kids[i]) continue;
        buf_putc(out, '\n');
        dump(kids[i], out, flags, depth + 1);
    }
    for (const Node *c = n->list; c; c = c->next) {
        buf_putc(out, '\n');
        dump(c, out, flags, depth + 1);
    }
    buf_putc(out, ')');
}

void ast_dump(const Node *n, Buf *out, int flags) {
    dump(n, out, flags, 0);
    buf_putc(out, '\n');
}
