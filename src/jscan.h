/* jscan.h - a pull scanner over JSON text, for the hot path: reading a
 * page of records without building a tree of it.
 *
 * cJSON builds every value of an answer as a node (a malloc each) before a
 * codec looks at any; a page of 2,000 leads is some 60,000 nodes, most of
 * them for fields no rule reads.  A codec that knows its answer's shape
 * walks the text with these calls instead: values it wants come out as
 * text or numbers, the rest are skipped without being built.  cJSON stays
 * where answers are small or irregular (metadata, errors, writes).
 */
#ifndef TD_JSCAN_H
#define TD_JSCAN_H

#include <stddef.h>

#include "buf.h"

typedef struct JScan {
    const char *p, *end;
    const char *err;       /* the first error, or NULL */
    const char *start;     /* for the offset in messages */
    int depth;             /* containers js_skip is inside */
} JScan;

/* cJSON's nesting limit: a deeper text is refused, not walked to the end
 * of the stack. */
#define JS_MAX_DEPTH 1000

typedef enum JType { J_ERROR, J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT, J_END } JType;

void js_init(JScan *s, const char *text, size_t n);
/* What the next value is (J_END: the closing bracket of the container being
 * read, or the end of the text), without taking it. */
JType js_peek(JScan *s);
/* Enters the object or array that comes next; 0 on success. */
int js_enter(JScan *s, char open);
/* The next member of the object being read: its key (decoded) in key;
 * 0 when there is one, 1 at the object's end (which it leaves), -1 on error. */
int js_member(JScan *s, Buf *key);
/* js_member without a copy: the key points into the text, or into scratch
 * where it holds an escape (then *n ends at a decoded \u0000, as cJSON's
 * keys do). */
int js_key(JScan *s, Buf *scratch, const char **key, size_t *n);
/* Takes a string: *out points into the text where it has no escape (not
 * NUL-terminated then), else into scratch, decoded; *n counts every byte,
 * a decoded \u0000 included. */
int js_text(JScan *s, Buf *scratch, const char **out, size_t *n);
/* The next element of the array being read: 0 when there is one, 1 at the
 * array's end (which it leaves), -1 on error. */
int js_element(JScan *s);
/* Takes a string (decoded, UTF-8) into out. */
int js_string(JScan *s, Buf *out);
/* Takes a number. */
int js_number(JScan *s, double *out);
/* Takes any value, not looking inside. */
int js_skip(JScan *s);
/* Takes a literal null, true or false. */
int js_literal(JScan *s, JType *t);
/* "at byte N: why", once an error happened. */
void js_error(const JScan *s, Buf *out);

#endif
