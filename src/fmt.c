/* fmt.c - the canonical layout, printed from the token stream.
 *
 * Layout rules: one statement per line; four spaces per block level; a
 * statement broken by a comment continues four spaces deeper; at most one
 * blank line between statements and none after '{' or before '}'; single
 * spaces around operators and arrows, none inside brackets; trailing
 * comments two spaces after the code, never aligned (aligning makes one
 * changed line reflow its neighbours in every diff).  Blocks of statements always span lines; lists in braces
 * (value maps, `all { }`, `any { }`) stay on one line when they have one
 * entry per comma, no comment, and fit in 100 columns.
 */
#include "fmt.h"

#include <string.h>

#include "lex.h"
#include "parse.h"

enum { WIDTH = 100, INDENT = 4 };

typedef struct Line {
    int indent;            /* spaces before the code */
    const char *code;      /* may be empty for a comment-only line */
    const char *comment;   /* trailing or own-line comment, or NULL */
    int blank_before;      /* a blank line precedes it */
} Line;

typedef struct Block {
    int list;              /* a list block (value map, all/any), else statements */
    int inline_;           /* printed on one line */
    int paren;             /* bracket depth at the '{' */
} Block;

typedef struct F {
    const char *src;
    const Token *tok;
    int ntok;
    const Comment *cm;
    int ncm, ci;
    Arena *a;
    Line *lines;
    int nlines, cap;
    Buf cur;               /* the line being built */
    int cur_indent;
    int depth;             /* indentation level */
    Block stack[256];
    int sp;
    int prev;              /* last printed token code, 0 at line start */
    int stmt_open;         /* the current statement has printed tokens */
    const char *pending;   /* end-of-line comment waiting for the line end */
    uint32_t last_end;     /* end of the last real token or comment */
    int any_line;          /* something was printed */
    int cur_blank;         /* the line being built follows a blank line */
    int prev_unary;        /* the last token was a unary minus */
    int paren;             /* ( and [ depth */
} F;

static void push_line(F *f, const char *code, const char *comment, int indent, int blank) {
    if (f->nlines == f->cap) {
        int cap = f->cap ? f->cap * 2 : 256;
        Line *l = arena_alloc(f->a, (size_t)cap * sizeof *l);
        if (f->nlines) memcpy(l, f->lines, (size_t)f->nlines * sizeof *l);
        f->lines = l;
        f->cap = cap;
    }
    f->lines[f->nlines++] = (Line){indent, code, comment, blank};
    f->any_line = 1;
}

static void end_line(F *f) {
    if (!f->cur.n && !f->pending) return;
    push_line(f, arena_strdup(f->a, buf_str(&f->cur)), f->pending, f->cur_indent, f->cur_blank);
    f->cur.n = 0;
    if (f->cur.p) f->cur.p[0] = 0;
    f->pending = NULL;
    f->prev = 0;
}

/* Newlines in the source between the last printed item and off. */
static int newlines_before(F *f, uint32_t off) {
    int n = 0;
    for (uint32_t i = f->last_end; i < off; i++) if (f->src[i] == '\n') n++;
    return n;
}

static int last_line_opens(F *f) {
    if (!f->nlines) return 1;
    const char *c = f->lines[f->nlines - 1].code;
    size_t n = strlen(c);
    return n && c[n - 1] == '{';
}

static void start_line(F *f, uint32_t off, int closing) {
    int cont = f->stmt_open;
    f->cur_indent = (f->depth + (cont ? 1 : 0)) * INDENT;
    f->cur_blank = !cont && !closing && f->any_line && !last_line_opens(f) && newlines_before(f, off) >= 2;
}

static const char *comment_text(F *f, const Comment *c) {
    uint32_t n = c->len;
    while (n > 0 && (f->src[c->off + n - 1] == ' ' || f->src[c->off + n - 1] == '\t' || f->src[c->off + n - 1] == '\r')) n--;
    return arena_strndup(f->a, f->src + c->off, n);
}

static void emit_comments(F *f, uint32_t before) {
    while (f->ci < f->ncm && f->cm[f->ci].off < before) {
        const Comment *c = &f->cm[f->ci++];
        const char *text = comment_text(f, c);
        if (!c->own_line) {
            if (f->cur.n) f->pending = text;
            else if (f->nlines && !f->lines[f->nlines - 1].comment) f->lines[f->nlines - 1].comment = text;
            else { start_line(f, c->off, 0); push_line(f, "", text, f->cur_indent, f->cur_blank); }
        } else {
            end_line(f);
            start_line(f, c->off, 0);
            push_line(f, "", text, f->cur_indent, f->cur_blank);
        }
        f->last_end = c->off + c->len;
    }
}

static int expr_intro(int code) {
    switch (code) {
    case TK_AND: case TK_OR: case TK_NOT: case TK_WHEN: case TK_UNLESS: case TK_CONTAINS:
    case TK_WITH: case TK_MATCH: case TK_MAP: case TK_ELSE:
        return 1;
    default:
        return 0;
    }
}

static int operand_end(int code) {
    switch (code) {
    case TK_ID: case TK_STRING: case TK_NUMBER: case TK_DATE: case TK_DATETIME: case TK_DURATION:
    case TK_TIME: case TK_RPAREN: case TK_RBRACKET: case TK_TRUE: case TK_FALSE: case TK_NULL:
        return 1;
    default:
        return lex_is_keyword(code) && !expr_intro(code);
    }
}

static int need_space(F *f, int c) {
    int p = f->prev;
    if (!f->cur.n) return 0;
    if (p == TK_LPAREN || p == TK_LBRACKET || p == TK_DOT) return 0;
    if (p == TK_MINUS && f->prev_unary) return 0;
    if (c == TK_RPAREN || c == TK_RBRACKET || c == TK_COMMA || c == TK_DOT || c == TK_COLON) return 0;
    if (c == TK_RBRACE && p == TK_LBRACE) return 0;  /* {} */
    if (c == TK_LPAREN) return !(p == TK_ID || (lex_is_keyword(p) && !expr_intro(p)));
    if (c == TK_LBRACKET) return p != TK_ID;
    return 1;
}

static void put_token(F *f, const Token *t) {
    if (f->pending) {
        /* A comment ended the line inside a statement: continue below. */
        end_line(f);
        f->stmt_open = 1;
    }
    if (!f->cur.n) start_line(f, t->off, t->code == TK_RBRACE);
    int unary = t->code == TK_MINUS && !operand_end(f->prev);
    if (need_space(f, t->code)) buf_putc(&f->cur, ' ');
    buf_putn(&f->cur, f->src + t->off, t->len);
    f->prev_unary = unary;
    f->prev = t->code;
    f->stmt_open = 1;
    f->last_end = t->off + t->len;
}

/* The index of the '}' matching the '{' at i. */
static int matching(F *f, int i) {
    int d = 0;
    for (int k = i; k < f->ntok; k++) {
        if (f->tok[k].code == TK_LBRACE) d++;
        else if (f->tok[k].code == TK_RBRACE && --d == 0) return k;
    }
    return f->ntok;
}

static Block open_block(F *f, int i) {
    Block b = {0, 0, f->paren};
    int p = i > 0 ? f->tok[i - 1].code : 0;
    int pp = i > 1 ? f->tok[i - 2].code : 0;
    b.list = p == TK_ALL || p == TK_ANY || p == TK_VALUES || (p == TK_ID && pp == TK_VALUES);
    int j = matching(f, i);
    int commented = 0;
    for (int k = f->ci; k < f->ncm && j < f->ntok && f->cm[k].off < f->tok[j].off; k++) commented = 1;
    if (j == i + 1) { b.inline_ = !commented; return b; } /* {} */
    if (!b.list || j >= f->ntok) return b;
    int d = 0, width = (int)f->cur.n + f->cur_indent;
    for (int k = i; k <= j; k++) {
        int c = f->tok[k].code;
        if (c == TK_LBRACE) d++;
        if (c == TK_RBRACE) d--;
        /* A separator inside, at any depth, makes some list span lines. */
        if (c == TK_SEMI && k + 1 <= j && f->tok[k + 1].code != TK_RBRACE) return b;
        width += (int)f->tok[k].len + 1;
    }
    b.inline_ = !commented && width <= WIDTH;
    return b;
}

static void render(F *f, Buf *out) {
    for (int i = 0; i < f->nlines; i++) {
        Line *m = &f->lines[i];
        if (m->blank_before) buf_putc(out, '\n');
        buf_indent(out, m->indent);
        buf_puts(out, m->code);
        if (m->comment) {
            if (m->code[0]) buf_puts(out, "  ");
            buf_puts(out, m->comment);
        }
        buf_putc(out, '\n');
    }
}

/* Statement separators in a row, or right after '{' or ',', mean nothing
 * more than one; the comparison looks past them. */
static int next_meaningful(const TokenList *t, int i, int *prev) {
    while (i < t->ntok && t->tok[i].code == TK_SEMI &&
           (*prev == 0 || *prev == TK_SEMI || *prev == TK_LBRACE || *prev == TK_COMMA))
        i++;
    if (i < t->ntok) *prev = t->tok[i].code;
    return i;
}

static int same_tokens(const TokenList *a, const TokenList *b, const char *sa, const char *sb) {
    if (a->ncomments != b->ncomments) return 0;
    int i = 0, j = 0, pa = 0, pb = 0;
    for (;;) {
        i = next_meaningful(a, i, &pa);
        j = next_meaningful(b, j, &pb);
        if (i >= a->ntok || j >= b->ntok) return i >= a->ntok && j >= b->ntok;
        const Token *x = &a->tok[i], *y = &b->tok[j];
        if (x->code != y->code) return 0;
        if (x->code != TK_SEMI && (x->len != y->len || memcmp(sa + x->off, sb + y->off, x->len) != 0)) return 0;
        i++;
        j++;
    }
}

int fmt_file(Diags *d, int file, Arena *a, Buf *out) {
    TokenList tl;
    int nerr = 0;
    parse_file(d, file, a, &tl, &nerr);
    if (nerr) return -1;
    SrcFile *sf = diags_file(d, file);
    F f;
    memset(&f, 0, sizeof f);
    f.src = sf->text;
    f.tok = tl.tok;
    f.ntok = tl.ntok;
    f.cm = tl.comments;
    f.ncm = tl.ncomments;
    f.a = a;
    buf_init(&f.cur);
    for (int i = 0; i < f.ntok; i++) {
        const Token *t = &f.tok[i];
        emit_comments(&f, t->off);
        Block *top = f.sp ? &f.stack[f.sp - 1] : NULL;
        switch (t->code) {
        case TK_SEMI:
            if (top && top->inline_) break;
            /* A statement ending in a word that usually continues one
             * (`url = contains`, a name) keeps its ';': a bare line break
             * there would join it with the next line. */
            if (f.cur.n && lex_continues(f.prev) && i + 1 < f.ntok && f.tok[i + 1].code != TK_RBRACE)
                buf_putc(&f.cur, ';');
            end_line(&f);
            f.stmt_open = 0;
            break;
        case TK_LBRACE: {
            Block b = open_block(&f, i);
            put_token(&f, t);
            if (f.sp < 256) f.stack[f.sp++] = b;
            if (!b.inline_) {
                end_line(&f);
                f.depth++;
                f.stmt_open = 0;
            }
            break;
        }
        case TK_RBRACE: {
            Block b = f.sp ? f.stack[--f.sp] : (Block){0, 0, 0};
            if (!b.inline_) {
                end_line(&f);
                if (f.depth > 0) f.depth--;
                f.stmt_open = 0;
            }
            put_token(&f, t);
            break;
        }
        case TK_COMMA:
            put_token(&f, t);
            if (top && top->list && !top->inline_ && f.paren == top->paren) {
                end_line(&f);
                f.stmt_open = 0;
            }
            break;
        default:
            if (t->code == TK_LPAREN || t->code == TK_LBRACKET) f.paren++;
            if ((t->code == TK_RPAREN || t->code == TK_RBRACKET) && f.paren > 0) f.paren--;
            put_token(&f, t);
            break;
        }
    }
    emit_comments(&f, sf->len + 1);
    end_line(&f);
    buf_free(&f.cur);

    Buf res;
    buf_init(&res);
    render(&f, &res);

    /* The promise: same tokens, same comments. */
    int check = diags_add_file(d, sf->path, buf_str(&res), res.n);
    TokenList again;
    lex_file(d, check, a, &again);
    if (!same_tokens(&tl, &again, sf->text, diags_file(d, check)->text)) {
        diag_error(d, (Loc){file, 0, 0}, "internal error: the formatted text would not mean the same; file left as is "
                   "(please report this)");
        buf_free(&res);
        return -1;
    }
    buf_putn(out, buf_str(&res), res.n);
    buf_free(&res);
    return 0;
}
