/* parse.c - the parse driver and the tree builders the grammar calls. */
#include "parse.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* lemon's generated entry points (build/gen/parser.c). */
void *tdParserAlloc(void *(*mallocProc)(size_t));
void tdParserFree(void *p, void (*freeProc)(void *));
void tdParser(void *p, int major, Token minor, ParseCtx *px);

Loc p_loc(ParseCtx *px, Token t) { return (Loc){px->file, t.off, t.len}; }

Loc p_span(ParseCtx *px, Token from, Token to) {
    uint32_t end = to.off + to.len;
    return (Loc){px->file, from.off, end > from.off ? end - from.off : 0};
}

/* Names recur (a field, a source, in every sync), so each is kept once:
 * a rule file of many syncs held its identifiers 16 bytes apiece. */
const char *p_text(ParseCtx *px, Token t) {
    const char *s = px->src + t.off;
    char key[64];
    if (t.len >= sizeof key) return arena_strndup(px->arena, s, t.len);
    memcpy(key, s, t.len);
    key[t.len] = 0;
    const char *have = symtab_get(&px->words, key);
    if (have) return have;
    char *w = arena_strndup(px->arena, s, t.len);
    symtab_put(&px->words, w, w);
    return w;
}

static void put_utf8(char **o, unsigned long c) {
    char *p = *o;
    if (c < 0x80) *p++ = (char)c;
    else if (c < 0x800) { *p++ = (char)(0xC0 | (c >> 6)); *p++ = (char)(0x80 | (c & 0x3F)); }
    else if (c < 0x10000) {
        *p++ = (char)(0xE0 | (c >> 12)); *p++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *p++ = (char)(0x80 | (c & 0x3F));
    } else {
        *p++ = (char)(0xF0 | (c >> 18)); *p++ = (char)(0x80 | ((c >> 12) & 0x3F));
        *p++ = (char)(0x80 | ((c >> 6) & 0x3F)); *p++ = (char)(0x80 | (c & 0x3F));
    }
    *o = p;
}

/* Decodes a string token; the lexer already reported bad escapes, which
 * are kept literally here. */
const char *p_string(ParseCtx *px, Token t) {
    const char *s = px->src + t.off + 1;
    const char *e = px->src + t.off + t.len;
    if (t.len >= 2 && e[-1] == '"') e--;
    char *out = arena_alloc(px->arena, (size_t)(e - s) + 1);
    char *o = out;
    while (s < e) {
        if (*s != '\\' || s + 1 >= e) { *o++ = *s++; continue; }
        switch (s[1]) {
        case 'n': *o++ = '\n'; s += 2; continue;
        case 't': *o++ = '\t'; s += 2; continue;
        case 'r': *o++ = '\r'; s += 2; continue;
        case '"': *o++ = '"'; s += 2; continue;
        case '\\': *o++ = '\\'; s += 2; continue;
        case 'u':
            if (s + 2 < e && s[2] == '{') {
                char *end;
                unsigned long v = strtoul(s + 3, &end, 16);
                if (end < e && *end == '}' && end > s + 3 && v && v <= 0x10FFFF) {
                    put_utf8(&o, v);
                    s = end + 1;
                    continue;
                }
            }
            break;
        default: break;
        }
        *o++ = *s++;
    }
    *o = 0;
    return out;
}

Node *p_node(ParseCtx *px, NodeKind k, Token at) { return ast_new(px->arena, k, p_loc(px, at)); }

Node *p_named(ParseCtx *px, NodeKind k, Token at, Token name) {
    Node *n = ast_new(px->arena, k, p_loc(px, at));
    n->name = p_text(px, name);
    n->nloc = p_loc(px, name);
    return n;
}

static double duration_seconds(const char *s, size_t n) {
    double v = strtod(s, NULL);
    switch (s[n - 1]) {
    case 's': return v;
    case 'm': return v * 60;
    case 'h': return v * 3600;
    case 'd': return v * 86400;
    case 'w': return v * 7 * 86400;
    default: return v;
    }
}

Node *p_lit(ParseCtx *px, Token t) {
    Node *n = ast_new(px->arena, NODE_LIT, p_loc(px, t));
    n->op = t.code;
    switch (t.code) {
    case TK_STRING: n->str = p_string(px, t); break;
    case TK_NUMBER: n->str = p_text(px, t); n->num = strtod(n->str, NULL); break;
    case TK_DURATION: n->str = p_text(px, t); n->num = duration_seconds(n->str, t.len); break;
    case TK_TRUE: case TK_ON: n->str = p_text(px, t); n->num = 1; break;
    default: n->str = p_text(px, t); break;
    }
    return n;
}

Node *p_binary(ParseCtx *px, int op, Node *a, Node *b) {
    Node *n = ast_new(px->arena, NODE_BINARY, loc_join(a->loc, b->loc));
    n->op = op;
    n->a = a;
    n->b = b;
    n->depth = (a->depth > b->depth ? a->depth : b->depth) + 1;
    if (n->depth > AST_MAX_DEPTH && !px->too_long) {
        px->too_long = 1;
        diag_error(px->diags, b->loc, "expression too long: more than %d operators in a row; "
                   "split it (an all { } or any { } block takes one condition per line)", AST_MAX_DEPTH);
    }
    return n;
}

Node *p_unary(ParseCtx *px, Token op, Node *a) {
    Node *n = ast_new(px->arena, NODE_UNARY, loc_join(p_loc(px, op), a->loc));
    n->op = op.code;
    n->a = a;
    return n;
}

Node *p_fieldref(ParseCtx *px, const Token *qual, Token name, int quoted, Token end) {
    Node *n = ast_new(px->arena, NODE_FIELDREF, p_span(px, qual ? *qual : name, end));
    if (qual) {
        n->name = p_text(px, *qual);
        n->nloc = p_loc(px, *qual);
    }
    n->str = quoted ? p_string(px, name) : p_text(px, name);
    n->sloc = p_loc(px, name);
    n->op = quoted;
    if (quoted && !qual) n->loc = (Loc){px->file, n->loc.off, end.off + end.len - n->loc.off};
    return n;
}

Node *p_endpoint(ParseCtx *px, Token src, Token obj, const Token *list, Token end) {
    Node *n = ast_new(px->arena, NODE_ENDPOINT, p_span(px, src, end));
    n->name = p_text(px, src);
    n->nloc = p_loc(px, src);
    n->str = p_text(px, obj);
    n->sloc = p_loc(px, obj);
    if (list) n->c = p_lit(px, *list);
    return n;
}

void p_extend(Node *n, Token end, ParseCtx *px) { n->loc = loc_join(n->loc, p_loc(px, end)); }

void p_list(Node *n, NodeList l) { n->list = l.head; }

NodeList nl_empty(void) { return (NodeList){NULL, NULL}; }

void nl_push(NodeList *l, Node *n) {
    if (!n) return;
    n->next = NULL;
    if (l->tail) l->tail->next = n; else l->head = n;
    l->tail = n;
}

/* ---------------------------------------------------------- syntax errors */

static int has(const int *e, int n, int code) {
    for (int i = 0; i < n; i++) if (e[i] == code) return 1;
    return 0;
}

static int drop(int *e, int n, const int *codes, int ncodes) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        int keep = 1;
        for (int j = 0; j < ncodes; j++) if (e[i] == codes[j]) keep = 0;
        if (keep) e[k++] = e[i];
    }
    return k;
}

static const int expr_start[] = {TK_ID, TK_STRING, TK_NUMBER, TK_LPAREN, TK_NOT, TK_MINUS, TK_TRUE,
                                 TK_FALSE, TK_ON, TK_OFF, TK_NULL, TK_DATE, TK_DATETIME,
                                 TK_DURATION, TK_TIME, TK_TAGGED, TK_FIELD};
static const int item_start[] = {TK_MATCH, TK_SKIP, TK_FROM, TK_USE, TK_MAP, TK_ON, TK_RESURRECT,
                                 TK_PREFER, TK_AFTER, TK_NEW, TK_ACCOUNT, TK_TRACK, TK_PAUSED,
                                 TK_SCHEDULE, TK_INITIAL};
static const int top_start[] = {TK_USE, TK_SOURCE, TK_SCHEDULE, TK_INITIAL, TK_PAUSED, TK_SYNC,
                                TK_VALUES, TK_EXTEND, TK_SYSTEM, TK_MAPPING};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void describe_token(ParseCtx *px, Token t, Buf *b) {
    if (t.code == 0) { buf_puts(b, "end of file"); return; }
    if (t.code == TK_SEMI) {
        if (t.len == 0 && px->src[t.off] == '}') buf_puts(b, "'}'");
        else if (t.len == 0) buf_puts(b, "end of line");
        else buf_puts(b, "';'");
        return;
    }
    const char *s = px->src + t.off;
    int n = (int)(t.len > 40 ? 40 : t.len);
    switch (t.code) {
    case TK_ID: buf_printf(b, "identifier '%.*s'", n, s); return;
    case TK_STRING: buf_printf(b, "string %.*s%s", n, s, t.len > 40 ? "..." : ""); return;
    case TK_NUMBER: buf_printf(b, "number %.*s", n, s); return;
    case TK_DATE: case TK_DATETIME: case TK_DURATION: case TK_TIME:
        buf_printf(b, "%s %.*s", lex_token_name(t.code), n, s); return;
    default: buf_puts(b, lex_token_name(t.code)); return;
    }
}

void parse_report_syntax_error(ParseCtx *px, Token tok, int major, const int *expected, int n) {
    (void)major;
    px->syntax_errors++;
    int e[256];
    if (n > 256) n = 256;
    memcpy(e, expected, (size_t)n * sizeof *e);

    const char *parts[64];
    int np = 0;

    /* Did-you-mean over the keywords that would have fitted. */
    Suggest sg;
    const char *word = NULL;
    if (tok.code == TK_ID || lex_is_keyword(tok.code)) {
        word = p_text(px, tok);
        suggest_init(&sg, word);
        for (int i = 0; i < n; i++) {
            if (!lex_is_keyword(e[i])) continue;
            const char *k = lex_token_name(e[i]);
            size_t kl = strlen(k);
            char *plain = arena_strndup(px->arena, k + 1, kl - 2);
            suggest_try(&sg, plain);
        }
    }

    if (has(e, n, TK_MAP) && has(e, n, TK_MATCH)) {
        for (int i = 0; i < COUNT(top_start); i++) {
            if (tok.code != top_start[i] || tok.code == TK_USE || tok.code == TK_SCHEDULE ||
                tok.code == TK_INITIAL || tok.code == TK_PAUSED)
                continue;
            diag_error(px->diags, p_loc(px, tok), "%s statements belong at the top of the file, not inside a sync block",
                       lex_token_name(tok.code));
            return;
        }
        parts[np++] = "a sync statement ('map', 'match', 'skip', 'from', 'on', ...)";
        n = drop(e, n, item_start, COUNT(item_start));
    }
    if (has(e, n, TK_SYNC) && has(e, n, TK_SOURCE)) {
        parts[np++] = "a statement ('use', 'source', 'sync', 'schedule', ...)";
        n = drop(e, n, top_start, COUNT(top_start));
    }
    if (has(e, n, TK_ID) && has(e, n, TK_STRING) && has(e, n, TK_LPAREN)) {
        int cond = has(e, n, TK_ALL) && has(e, n, TK_ANY);
        parts[np++] = cond ? "a condition" : "an expression";
        n = drop(e, n, expr_start, COUNT(expr_start));
        if (cond) { static const int aa[] = {TK_ALL, TK_ANY}; n = drop(e, n, aa, 2); }
    }
    static const int operators[] = {TK_OR, TK_AND, TK_NOT, TK_EQEQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
                                    TK_IN, TK_IS, TK_CONTAINS, TK_STARTS, TK_ENDS, TK_PLUS, TK_MINUS,
                                    TK_STAR, TK_SLASH};
    int nops = n;
    n = drop(e, n, operators, COUNT(operators));
    int had_ops = n < nops;
    int statement = np > 0; /* an empty statement is no useful suggestion */
    for (int i = 0; i < n && np < 60; i++) {
        if (e[i] == TK_SEMI) { if (!statement) parts[np++] = "end of line"; continue; }
        parts[np++] = lex_token_name(e[i]);
    }
    if (had_ops) parts[np++] = "an operator";

    Buf b;
    buf_init(&b);
    if (np == 0) {
        buf_puts(&b, "unexpected ");
        describe_token(px, tok, &b);
    } else {
        buf_puts(&b, "expected ");
        int shown = np > 8 ? 7 : np;
        for (int i = 0; i < shown; i++) {
            if (i > 0) buf_puts(&b, i == np - 1 ? " or " : ", ");
            buf_puts(&b, parts[i]);
        }
        if (shown < np) buf_printf(&b, " or one of %d more", np - shown);
        if (tok.code == 0) buf_puts(&b, " at end of file");
        else if (tok.code == TK_SEMI && tok.len == 0 && px->src[tok.off] != '}') buf_puts(&b, " at end of line");
        else {
            buf_puts(&b, " before ");
            describe_token(px, tok, &b);
        }
    }
    if (word && sg.best) buf_printf(&b, " (did you mean '%s'?)", sg.best);
    Loc loc = p_loc(px, tok);
    diag_error(px->diags, loc, "%s", buf_str(&b));
    buf_free(&b);
}

/* The parser fed one token at a time, as the lexer makes them or from a
 * kept list. */
typedef struct Feed {
    ParseCtx px;
    void *parser;
    int skipping, depth, stopped;
} Feed;

static void feed(void *ctx, Token t) {
    Feed *fd = ctx;
    if (fd->stopped) return;
    ParseCtx *px = &fd->px;
    /* After a syntax error the grammar's error rules skip to the next ';'
     * (end of line).  A bracketed group in the skipped text would end that
     * early and its '}' would then close the wrong block, so the driver
     * skips whole groups itself and feeds the parser only what is outside
     * them: one error per broken statement, no cascade. */
    int opener = t.code == TK_LBRACE || t.code == TK_LPAREN || t.code == TK_LBRACKET;
    int closer = t.code == TK_RBRACE || t.code == TK_RPAREN || t.code == TK_RBRACKET;
    if (fd->skipping && t.code != 0) {
        if (opener) { fd->depth++; return; }
        if (closer && fd->depth > 0) { fd->depth--; return; }
        if (fd->depth > 0) return;
        if (t.code == TK_SEMI) fd->skipping = 0;
    }
    int errs = px->syntax_errors;
    tdParser(fd->parser, t.code, t, px);
    if (px->syntax_errors > errs && t.code != TK_SEMI && t.code != 0) {
        fd->skipping = 1;
        fd->depth = opener;
    }
    if (px->too_deep) {
        diag_error(px->diags, p_loc(px, t), "nesting too deep: simplify this expression");
        fd->stopped = 1;
    }
    if (px->too_long) fd->stopped = 1;
}

Node *parse_file(Diags *d, int file, Arena *a, TokenList *tl, int *nerrors) {
    SrcFile *f = diags_file(d, file);
    int before = d->errors;
    Feed fd;
    memset(&fd, 0, sizeof fd);
    fd.px.arena = a;
    fd.px.diags = d;
    fd.px.file = file;
    fd.px.src = f->text;
    symtab_init(&fd.px.words, a);
    fd.parser = tdParserAlloc(malloc);
    if (!fd.parser) return NULL;
    if (tl) {
        lex_file(d, file, a, tl);
        for (int i = 0; i <= tl->ntok && !fd.stopped; i++) feed(&fd, tl->tok[i]);
    } else {
        LexSink sink = {feed, NULL, &fd};
        lex_scan(d, file, &sink);
    }
    tdParserFree(fd.parser, free);
    if (nerrors) *nerrors = d->errors - before;
    Node *root = fd.px.root;
    if (!root) root = ast_new(a, NODE_FILE, (Loc){file, 0, 0});
    return root;
}
