/* lexer.re - the .sync lexer; re2c turns this into build/gen/lexer.c.
 *
 * Raw tokens come from one re2c block; lex_file() wraps it with the
 * separator insertion described in src/lex.h and checks literal contents
 * (dates that exist, valid UTF-8 in strings).  Token codes are lemon's.
 */
#include <stdlib.h>
#include <string.h>

#include "lex.h"
#include "value.h"

/* Pseudo-codes the raw scanner returns besides TK_* (lemon codes are > 0). */
enum { RAW_EOF = 0, RAW_NEWLINE = -1, RAW_COMMENT = -2, RAW_STRAY = -3,
       RAW_STRING_START = -4, RAW_IDENT = -5 };

static const struct Keyword { const char *s; int code; } keywords[] = {
#define KW(T, S) {S, TK_##T},
#include "keywords.def"
#undef KW
};
enum { NKEYWORDS = sizeof keywords / sizeof keywords[0] };

static int kwcmp(const char *s, size_t n, const char *kw) {
    int c = strncmp(s, kw, n);
    if (c) return c;
    return kw[n] ? -1 : 0;
}

static int keyword(const char *s, size_t n) {
    int lo = 0, hi = NKEYWORDS - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = kwcmp(s, n, keywords[mid].s);
        if (c == 0) return keywords[mid].code;
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return 0;
}

int lex_is_keyword(int code) {
    for (int i = 0; i < NKEYWORDS; i++) if (keywords[i].code == code) return 1;
    return 0;
}

const char *lex_token_name(int code) {
    for (int i = 0; i < NKEYWORDS; i++) {
        if (keywords[i].code == code) {
            static char buf[NKEYWORDS][24];
            if (!buf[i][0]) {
                size_t n = strlen(keywords[i].s);
                buf[i][0] = '\'';
                memcpy(buf[i] + 1, keywords[i].s, n);
                buf[i][n + 1] = '\'';
                buf[i][n + 2] = 0;
            }
            return buf[i];
        }
    }
    switch (code) {
    case 0: return "end of file";
    case TK_SEMI: return "end of statement";
    case TK_ID: return "identifier";
    case TK_STRING: return "string";
    case TK_NUMBER: return "number";
    case TK_DATE: return "date";
    case TK_DATETIME: return "date-time";
    case TK_DURATION: return "duration";
    case TK_TIME: return "time of day";
    case TK_LBRACE: return "'{'";
    case TK_RBRACE: return "'}'";
    case TK_LPAREN: return "'('";
    case TK_RPAREN: return "')'";
    case TK_LBRACKET: return "'['";
    case TK_RBRACKET: return "']'";
    case TK_COMMA: return "','";
    case TK_DOT: return "'.'";
    case TK_COLON: return "':'";
    case TK_EQ: return "'='";
    case TK_EQEQ: return "'=='";
    case TK_NE: return "'!='";
    case TK_LT: return "'<'";
    case TK_LE: return "'<='";
    case TK_GT: return "'>'";
    case TK_GE: return "'>='";
    case TK_PLUS: return "'+'";
    case TK_MINUS: return "'-'";
    case TK_STAR: return "'*'";
    case TK_SLASH: return "'/'";
    case TK_BOTH: return "'<->'";
    case TK_RARROW: return "'->'";
    case TK_LARROW: return "'<-'";
    default: return "token";
    }
}

typedef struct Scanner {
    const unsigned char *base;  /* start of the text */
    const unsigned char *cur;   /* re2c cursor */
    const unsigned char *mar;   /* re2c backtracking marker */
    const unsigned char *tok;   /* start of the current token */
    const unsigned char *lim;   /* the terminating NUL */
} Scanner;

static int scan_raw(Scanner *s) {
    for (;;) {
        s->tok = s->cur;
        /*!re2c
            re2c:define:YYCTYPE = "unsigned char";
            re2c:define:YYCURSOR = "s->cur";
            re2c:define:YYMARKER = "s->mar";
            re2c:yyfill:enable = 0;

            digit = [0-9];
            d2 = digit digit;
            ident = [a-zA-Z_][a-zA-Z0-9_]*;
            date = digit{4} "-" d2 "-" d2;
            zone = "Z" | [+-] d2 ":"? d2;

            "\x00"  { if (s->tok >= s->lim) { s->cur = s->lim; return RAW_EOF; }
                      return RAW_STRAY; }
            [ \t\r\f\v]+ { continue; }
            "\n"    { return RAW_NEWLINE; }
            "#" [^\n\x00]* { return RAW_COMMENT; }
            ident   { return RAW_IDENT; }
            date    { return TK_DATE; }
            date "T" d2 ":" d2 (":" d2 ("." digit+)?)? zone? { return TK_DATETIME; }
            digit{1,2} ":" d2 { return TK_TIME; }
            digit+ [smhdw] / [^a-zA-Z0-9_] { return TK_DURATION; }
            digit+ ("." digit+)? { return TK_NUMBER; }
            ["]     { return RAW_STRING_START; }
            "<->"   { return TK_BOTH; }
            "->"    { return TK_RARROW; }
            "<-"    { return TK_LARROW; }
            "=="    { return TK_EQEQ; }
            "!="    { return TK_NE; }
            "<="    { return TK_LE; }
            ">="    { return TK_GE; }
            "<"     { return TK_LT; }
            ">"     { return TK_GT; }
            "="     { return TK_EQ; }
            "+"     { return TK_PLUS; }
            "-"     { return TK_MINUS; }
            "*"     { return TK_STAR; }
            "/"     { return TK_SLASH; }
            "{"     { return TK_LBRACE; }
            "}"     { return TK_RBRACE; }
            "("     { return TK_LPAREN; }
            ")"     { return TK_RPAREN; }
            "["     { return TK_LBRACKET; }
            "]"     { return TK_RBRACKET; }
            ","     { return TK_COMMA; }
            "."     { return TK_DOT; }
            ":"     { return TK_COLON; }
            ";"     { return TK_SEMI; }
            *       { return RAW_STRAY; }
        */
    }
}

/* Length of the UTF-8 sequence starting at p, or 0 if it is not valid. */
static int utf8_len(const unsigned char *p, const unsigned char *lim) {
    unsigned c = p[0];
    int n;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) { n = 2; min = 0x80; c &= 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 3; min = 0x800; c &= 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if (p + n > lim) return 0;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return n;
}

/* Scans the rest of a string literal; s->cur is just past the opening
 * quote.  Escapes are checked here and decoded by the parser. */
static void scan_string(Scanner *s, Diags *d, int file) {
    const unsigned char *p = s->cur;
    for (;;) {
        if (p >= s->lim || *p == '\n') {
            diag_error(d, (Loc){file, (uint32_t)(s->tok - s->base), (uint32_t)(p - s->tok)},
                       "unterminated string (strings end on the line they start)");
            break;
        }
        if (*p == '"') { p++; break; }
        if (*p == 0) {
            diag_error(d, (Loc){file, (uint32_t)(p - s->base), 1}, "NUL byte in string");
            p++;
            continue;
        }
        if (*p == '\\') {
            const unsigned char *e = p;
            p++;
            if (*p == 'n' || *p == 't' || *p == 'r' || *p == '"' || *p == '\\') { p++; continue; }
            if (*p == 'u' && p[1] == '{') {
                const unsigned char *q = p + 2;
                unsigned long v = 0;
                int nd = 0;
                while (nd < 7 && ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F'))) {
                    v = v * 16 + (unsigned long)(*q <= '9' ? *q - '0' : (*q | 0x20) - 'a' + 10);
                    q++; nd++;
                }
                if (*q == '}' && nd > 0 && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF) && v != 0) {
                    p = q + 1;
                    continue;
                }
                diag_error(d, (Loc){file, (uint32_t)(e - s->base), (uint32_t)(q - e + (*q == '}'))},
                           "invalid unicode escape (write \\u{XXXX} with 1 to 6 hex digits)");
                p = q;
                continue;
            }
            diag_error(d, (Loc){file, (uint32_t)(e - s->base), 2},
                       "unknown escape '\\%c' in string (use \\n, \\t, \\r, \\\", \\\\ or \\u{XXXX})",
                       (*p >= 0x20 && *p < 0x7f) ? *p : '?');
            if (p < s->lim && *p != '\n') p++;
            continue;
        }
        int n = utf8_len(p, s->lim);
        if (n == 0) {
            diag_error(d, (Loc){file, (uint32_t)(p - s->base), 1}, "invalid UTF-8 byte in string");
            n = 1;
        }
        p += n;
    }
    s->cur = p;
}

static int days_in_month(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

static int num2(const unsigned char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

/* Dates and times must exist: 2026-02-30 or 25:00 is an error here. */
static void check_datetime(Diags *d, int file, const unsigned char *base, const unsigned char *p,
                           uint32_t len, int code) {
    Loc loc = {file, (uint32_t)(p - base), len};
    if (code == TK_TIME) {
        const unsigned char *c = memchr(p, ':', len);
        int h = (c - p == 1) ? p[0] - '0' : num2(p);
        int m = num2(c + 1);
        if (h > 23 || m > 59)
            diag_error(d, loc, "invalid time of day '%.*s' (use 00:00 to 23:59)", (int)len, p);
        return;
    }
    int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    int mo = num2(p + 5), dd = num2(p + 8);
    if (mo < 1 || mo > 12 || dd < 1 || dd > days_in_month(y, mo)) {
        diag_error(d, loc, "invalid date '%.10s'", p);
        return;
    }
    int64_t ms;
    if (code == TK_DATETIME && parse_datetime((const char *)p, len, &ms) != 0)
        diag_error(d, loc, "invalid date-time '%.*s' (hours 00-23, minutes and seconds 00-59, zone Z or +HH:MM up to 14:00)",
                   (int)len, p);
}

/* Tokens after which a newline does not end the statement (lex.h). */
int lex_continues(int code) {
    switch (code) {
    case 0: case TK_SEMI:
    case TK_LBRACE: case TK_LPAREN: case TK_LBRACKET: case TK_COMMA: case TK_DOT:
    case TK_COLON: case TK_EQ: case TK_EQEQ: case TK_NE: case TK_LT: case TK_LE:
    case TK_GT: case TK_GE: case TK_PLUS: case TK_MINUS: case TK_STAR: case TK_SLASH:
    case TK_BOTH: case TK_RARROW: case TK_LARROW: case TK_AND: case TK_OR: case TK_NOT:
    case TK_IN: case TK_IS: case TK_CONTAINS: case TK_STARTS: case TK_ENDS: case TK_WITH:
        return 1;
    default:
        return 0;
    }
}

static void push(const LexSink *o, int code, uint32_t off, uint32_t len) { o->token(o->ctx, (Token){code, off, len}); }

static void push_comment(const LexSink *o, uint32_t off, uint32_t len, int own_line) {
    if (o->comment) o->comment(o->ctx, (Comment){off, len, own_line});
}

void lex_scan(Diags *d, int file, const LexSink *o) {
    SrcFile *f = diags_file(d, file);
    Scanner s;
    s.base = (const unsigned char *)f->text;
    s.cur = s.base;
    s.lim = s.base + f->len;
    s.mar = s.cur;
    if (f->len >= 3 && memcmp(s.cur, "\xEF\xBB\xBF", 3) == 0) s.cur += 3;

    int last = 0, depth = 0;
    const unsigned char *line_start = s.cur;
    int line_has_token = 0;

    for (;;) {
        int r = scan_raw(&s);
        uint32_t off = (uint32_t)(s.tok - s.base);
        uint32_t len = (uint32_t)(s.cur - s.tok);
        if (r == RAW_NEWLINE) {
            if (depth == 0 && !lex_continues(last)) {
                push(o, TK_SEMI, off, 0);
                last = TK_SEMI;
            }
            line_start = s.cur;
            line_has_token = 0;
            continue;
        }
        if (r == RAW_COMMENT) {
            const unsigned char *p = line_start;
            while (p < s.tok && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
            push_comment(o, off, len, p == s.tok && !line_has_token);
            continue;
        }
        if (r == RAW_STRAY) {
            int n = utf8_len(s.tok, s.lim);
            if (n > 1) {
                s.cur = s.tok + n;
                diag_error(d, (Loc){file, off, (uint32_t)n}, "stray character '%.*s' in rule file",
                           n, (const char *)s.tok);
            } else if (*s.tok >= 0x20 && *s.tok < 0x7f) {
                diag_error(d, (Loc){file, off, 1}, "stray character '%c' in rule file", *s.tok);
            } else {
                diag_error(d, (Loc){file, off, 1}, "stray byte 0x%02x in rule file", *s.tok);
            }
            continue;
        }
        if (r == RAW_EOF) {
            if (last != 0 && last != TK_SEMI) push(o, TK_SEMI, off, 0);
            break;
        }
        line_has_token = 1;
        int code = r;
        if (r == RAW_IDENT) {
            code = keyword((const char *)s.tok, len);
            if (!code) code = TK_ID;
        } else if (r == RAW_STRING_START) {
            scan_string(&s, d, file);
            len = (uint32_t)(s.cur - s.tok);
            code = TK_STRING;
        } else if (r == TK_DATE || r == TK_DATETIME || r == TK_TIME) {
            check_datetime(d, file, s.base, s.tok, len, r);
        }
        switch (code) {
        case TK_LPAREN: case TK_LBRACKET: depth++; break;
        case TK_RPAREN: case TK_RBRACKET: if (depth > 0) depth--; break;
        case TK_LBRACE: depth = 0; break;
        case TK_RBRACE:
            depth = 0;
            if (last != TK_SEMI && last != TK_LBRACE && last != 0) push(o, TK_SEMI, off, 0);
            break;
        default: break;
        }
        push(o, code, off, len);
        last = code;
    }
    push(o, 0, f->len, 0);
}

typedef struct Out {
    Arena *a;
    TokenList *tl;
    uint32_t cap, ccap;
} Out;

static void keep_token(void *ctx, Token t) {
    Out *o = ctx;
    TokenList *tl = o->tl;
    if ((uint32_t)tl->ntok == o->cap) tl->tok = arena_grow(o->a, tl->tok, (uint32_t)tl->ntok, &o->cap, 256, sizeof *tl->tok);
    tl->tok[tl->ntok++] = t;
}

static void keep_comment(void *ctx, Comment c) {
    Out *o = ctx;
    TokenList *tl = o->tl;
    if ((uint32_t)tl->ncomments == o->ccap)
        tl->comments = arena_grow(o->a, tl->comments, (uint32_t)tl->ncomments, &o->ccap, 32, sizeof *tl->comments);
    tl->comments[tl->ncomments++] = c;
}

void lex_file(Diags *d, int file, Arena *a, TokenList *tl) {
    tl->tok = NULL;
    tl->ntok = 0;
    tl->comments = NULL;
    tl->ncomments = 0;
    Out o = {a, tl, 0, 0};
    LexSink sink = {keep_token, keep_comment, &o};
    lex_scan(d, file, &sink);
    tl->ntok--; /* the end token is present but not counted */
}
