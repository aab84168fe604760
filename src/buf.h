/* buf.h - growable byte buffer for building output text (diagnostics,
 * formatter output, dumps).  A Buf owns its heap memory; buf_free() releases
 * it, buf_take() hands it to the caller, who then frees it with free().
 */
#ifndef TD_BUF_H
#define TD_BUF_H

#include <stddef.h>

typedef struct Buf {
    char *p;      /* NUL-terminated contents (NULL while empty) */
    size_t n;     /* length, not counting the NUL */
    size_t cap;   /* allocated bytes */
} Buf;

void buf_init(Buf *b);
void buf_free(Buf *b);
void buf_putn(Buf *b, const char *s, size_t n);
void buf_puts(Buf *b, const char *s);
void buf_putc(Buf *b, char c);
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_indent(Buf *b, int n);          /* n spaces */
void buf_json_str(Buf *b, const char *s, size_t n); /* quoted, escaped */
void buf_reset(Buf *b);                 /* empty, keeping the memory */
void buf_reserve(Buf *b, size_t extra); /* room for extra more bytes and the NUL */
char *buf_take(Buf *b);                  /* never NULL; caller frees */
const char *buf_str(const Buf *b);       /* "" while empty */

#endif
