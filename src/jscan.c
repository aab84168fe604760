/* jscan.c - the pull scanner of jscan.h: RFC 8259 JSON, strings decoded
 * (escapes, surrogate pairs to UTF-8), containers walked without being
 * built. */
#include "jscan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void js_init(JScan *s, const char *text, size_t n) {
    s->p = s->start = text;
    s->end = text + n;
    s->err = NULL;
    s->depth = 0;
}

static int fail(JScan *s, const char *why) {
    if (!s->err) s->err = why;
    return -1;
}

static void ws(JScan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

JType js_peek(JScan *s) {
    if (s->err) return J_ERROR;
    ws(s);
    if (s->p >= s->end) return J_END;
    switch (*s->p) {
    case 'n': return J_NULL;
    case 'f': return J_FALSE;
    case 't': return J_TRUE;
    case '"': return J_STRING;
    case '[': return J_ARRAY;
    case '{': return J_OBJECT;
    case ']': case '}': return J_END;
    default: return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) ? J_NUMBER : J_ERROR;
    }
}

int js_enter(JScan *s, char open) {
    if (s->err) return -1;
    ws(s);
    if (s->p >= s->end || *s->p != open) return fail(s, open == '{' ? "expected an object" : "expected an array");
    s->p++;
    return 0;
}

/* After a member or element: a comma (and more), or the closing bracket. */
static int next_item(JScan *s, char close, int first) {
    if (s->err) return -1;   /* a caller that read on past an error must not loop on it */
    ws(s);
    if (s->p >= s->end) return fail(s, "the text ends inside a container");
    if (*s->p == close) {
        s->p++;
        return 1;
    }
    if (!first) {
        if (*s->p != ',') return fail(s, "expected ',' between items");
        s->p++;
        ws(s);
    }
    return 0;
}

/* Whether the container's first item is next: the byte before is its opening bracket. */
static int at_first(const JScan *s, char open) {
    const char *q = s->p;
    while (q > s->start && (q[-1] == ' ' || q[-1] == '\n' || q[-1] == '\r' || q[-1] == '\t')) q--;
    return q > s->start && q[-1] == open;
}

int js_member(JScan *s, Buf *key) {
    int r = next_item(s, '}', at_first(s, '{'));
    if (r) return r;
    buf_reset(key);
    if (js_string(s, key) != 0) return -1;
    ws(s);
    if (s->p >= s->end || *s->p != ':') return fail(s, "expected ':' after a key");
    s->p++;
    return 0;
}

/* The end of the run of bytes from q that a string holds as they are: up
 * to a quote, a backslash or a control byte.  Eight bytes at a time, as
 * most of a page's text is such runs: a word holds one of those bytes where
 * a byte of (x ^ '"') or (x ^ '\\') is zero or one of x is below 0x20.
 * The borrow trick: (y - 0x01..) & ~y has a byte's top bit set where y's
 * byte was zero, (x - 0x20..) & ~x where x's was below 0x20, and maybe in
 * bytes after a true hit (the borrow), so on a little-endian machine the
 * lowest bit set is the first such byte. */
static const char *plain_run(const char *q, const char *end) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    while (end - q >= 8) {
        uint64_t x;
        memcpy(&x, q, 8);
        uint64_t a = x ^ (ones * '"'), b = x ^ (ones * '\\');
        uint64_t hit = ((a - ones) & ~a) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x);
        if ((hit &= high) != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return q + __builtin_ctzll(hit) / 8;
#else
            break;
#endif
        }
        q += 8;
    }
    while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
    return q;
}

int js_text(JScan *s, Buf *scratch, const char **out, size_t *n) {
    ws(s);
    if (s->p >= s->end || *s->p != '"') return fail(s, "expected a string");
    const char *q = plain_run(s->p + 1, s->end);
    if (q < s->end && *q == '"') {
        *out = s->p + 1;
        *n = (size_t)(q - *out);
        s->p = q + 1;
        return 0;
    }
    /* an escape (or an error) inside: decoded the long way */
    buf_reset(scratch);
    if (js_string(s, scratch) != 0) return -1;
    *out = buf_str(scratch);
    *n = scratch->n;
    return 0;
}

int js_key(JScan *s, Buf *scratch, const char **key, size_t *n) {
    int r = next_item(s, '}', at_first(s, '{'));
    if (r) return r;
    if (js_text(s, scratch, key, n) != 0) return -1;
    /* a decoded \u0000 ends a key, as in cJSON (and as the field index's
     * names are C strings) */
    if (*key == scratch->p) *n = strlen(*key);
    ws(s);
    if (s->p >= s->end || *s->p != ':') return fail(s, "expected ':' after a key");
    s->p++;
    return 0;
}

int js_element(JScan *s) { return next_item(s, ']', at_first(s, '[')); }

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static void utf8(Buf *b, unsigned c) {
    if (c < 0x80) buf_putc(b, (char)c);
    else if (c < 0x800) {
        buf_putc(b, (char)(0xC0 | (c >> 6)));
        buf_putc(b, (char)(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        buf_putc(b, (char)(0xE0 | (c >> 12)));
        buf_putc(b, (char)(0x80 | ((c >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (c & 0x3F)));
    } else {
        buf_putc(b, (char)(0xF0 | (c >> 18)));
        buf_putc(b, (char)(0x80 | ((c >> 12) & 0x3F)));
        buf_putc(b, (char)(0x80 | ((c >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (c & 0x3F)));
    }
}

int js_string(JScan *s, Buf *out) {
    ws(s);
    if (s->p >= s->end || *s->p != '"') return fail(s, "expected a string");
    s->p++;
    for (;;) {
        /* copy the plain run at once */
        const char *q = plain_run(s->p, s->end);
        if (out) buf_putn(out, s->p, (size_t)(q - s->p));
        s->p = q;
        if (q >= s->end) return fail(s, "the text ends inside a string");
        if (*q == '"') {
            s->p++;
            return 0;
        }
        if ((unsigned char)*q < 0x20) return fail(s, "a control character inside a string");
        if (q + 1 >= s->end) return fail(s, "the text ends inside an escape");
        char e = q[1];
        s->p = q + 2;
        unsigned c;
        switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u':
            if (s->end - s->p < 4 || hex4(s->p, &c) != 0) return fail(s, "a bad \\u escape");
            s->p += 4;
            if (c >= 0xD800 && c <= 0xDBFF) {
                unsigned lo;
                if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || hex4(s->p + 2, &lo) != 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return fail(s, "an unpaired surrogate in a \\u escape");
                s->p += 6;
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
            } else if (c >= 0xDC00 && c <= 0xDFFF) {
                return fail(s, "an unpaired surrogate in a \\u escape");
            }
            break;
        default: return fail(s, "an unknown escape in a string");
        }
        if (out) utf8(out, c);
    }
}

int js_number(JScan *s, double *out) {
    ws(s);
    const char *q = s->p;
    if (q < s->end && *q == '-') q++;
    if (q >= s->end || *q < '0' || *q > '9') return fail(s, "expected a number");
    if (*q == '0') q++;
    else while (q < s->end && *q >= '0' && *q <= '9') q++;
    if (q < s->end && *q == '.') {
        q++;
        if (q >= s->end || *q < '0' || *q > '9') return fail(s, "a number ends after '.'");
        while (q < s->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < s->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < s->end && (*q == '+' || *q == '-')) q++;
        if (q >= s->end || *q < '0' || *q > '9') return fail(s, "a number's exponent has no digits");
        while (q < s->end && *q >= '0' && *q <= '9') q++;
    }
    char tmp[64];
    size_t n = (size_t)(q - s->p);
    if (n >= sizeof tmp) return fail(s, "a number too long");
    memcpy(tmp, s->p, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    s->p = q;
    return 0;
}

int js_literal(JScan *s, JType *t) {
    ws(s);
    static const struct { const char *w; JType t; } lits[] = {{"null", J_NULL}, {"true", J_TRUE}, {"false", J_FALSE}};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lits[i].w);
        if ((size_t)(s->end - s->p) >= n && !memcmp(s->p, lits[i].w, n)) {
            s->p += n;
            *t = lits[i].t;
            return 0;
        }
    }
    return fail(s, "expected a value");
}

/* The object or array that comes next, not looked into; js_skip counts
 * the depth. */
static int skip_container(JScan *s, JType t) {
    int r;
    if (t == J_OBJECT) {
        if (js_enter(s, '{') != 0) return -1;
        while ((r = next_item(s, '}', at_first(s, '{'))) == 0) {
            if (js_string(s, NULL) != 0) return -1;
            ws(s);
            if (s->p >= s->end || *s->p != ':') return fail(s, "expected ':' after a key");
            s->p++;
            if (js_skip(s) != 0) return -1;
        }
        return r < 0 ? -1 : 0;
    }
    if (js_enter(s, '[') != 0) return -1;
    while ((r = js_element(s)) == 0)
        if (js_skip(s) != 0) return -1;
    return r < 0 ? -1 : 0;
}

int js_skip(JScan *s) {
    JType t = js_peek(s), lit;
    double d;
    switch (t) {
    case J_STRING: return js_string(s, NULL);
    case J_NUMBER: return js_number(s, &d);
    case J_NULL: case J_TRUE: case J_FALSE: return js_literal(s, &lit);
    case J_OBJECT: case J_ARRAY: {
        if (s->depth >= JS_MAX_DEPTH) return fail(s, "nested too deeply");
        s->depth++;
        int r = skip_container(s, t);
        s->depth--;
        return r;
    }
    default: return fail(s, "expected a value");
    }
}

void js_error(const JScan *s, Buf *out) {
    buf_printf(out, "at byte %ld: %s", (long)(s->p - s->start), s->err ? s->err : "bad JSON");
}
