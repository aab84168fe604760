/* buf.c - growable output buffer. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(Buf *b) { b->p = NULL; b->n = b->cap = 0; }

void buf_free(Buf *b) { free(b->p); buf_init(b); }

static void grow(Buf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) { fputs("tandem: out of memory\n", stderr); abort(); }
    b->p = p;
    b->cap = cap;
}

void buf_reserve(Buf *b, size_t extra) { grow(b, extra); }

void buf_putn(Buf *b, const char *s, size_t n) {
    grow(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void buf_puts(Buf *b, const char *s) { buf_putn(b, s, strlen(s)); }

void buf_putc(Buf *b, char c) {
    if (b->n + 2 > b->cap) grow(b, 1);
    b->p[b->n++] = c;
    b->p[b->n] = 0;
}

void buf_printf(Buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void buf_indent(Buf *b, int n) {
    while (n-- > 0) buf_putc(b, ' ');
}

void buf_json_str(Buf *b, const char *s, size_t n) {
    /* Plain runs are copied whole: a plan writes every value it maps, and
     * almost none of them hold a byte that needs escaping. */
    grow(b, n + 2);
    b->p[b->n++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (i > run) buf_putn(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_putn(b, "\\\"", 2); break;
        case '\\': buf_putn(b, "\\\\", 2); break;
        case '\n': buf_putn(b, "\\n", 2); break;
        case '\r': buf_putn(b, "\\r", 2); break;
        case '\t': buf_putn(b, "\\t", 2); break;
        default: buf_printf(b, "\\u%04x", c);
        }
    }
    if (n > run) buf_putn(b, s + run, n - run);
    buf_putc(b, '"');
}

char *buf_take(Buf *b) {
    char *p = b->p;
    if (!p) { p = malloc(1); if (!p) abort(); p[0] = 0; }
    buf_init(b);
    return p;
}

const char *buf_str(const Buf *b) { return b->p ? b->p : ""; }

void buf_reset(Buf *b) {
    b->n = 0;
    if (b->p) b->p[0] = 0;
}
