/* value.h - run-time values: what a field holds, what a register holds.
 *
 * A Value is 16 bytes, passed by value.  Text is a view (pointer, length)
 * into memory someone else owns: a record's buffer, the program's constant
 * pool, or the VM's scratch space for the record being run.  Nothing here
 * allocates.
 *
 * Blank means null or empty text.  Dates count days since 1970-01-01,
 * date-times milliseconds since 1970-01-01T00:00:00Z, durations
 * milliseconds; all in UTC.
 */
#ifndef TD_VALUE_H
#define TD_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"

typedef enum ValueType {
    VT_NULL = 0,    /* no value */
    VT_BOOL,        /* u.b */
    VT_NUM,         /* u.n: numbers, currency, percent */
    VT_STR,         /* u.s, len: text of every kind (email, picklist, id...) */
    VT_DATE,        /* u.i: days since the epoch */
    VT_DATETIME,    /* u.i: milliseconds since the epoch, UTC */
    VT_DURATION,    /* u.i: milliseconds */
    VT_NONE         /* "no value from a value map": leave the target alone */
} ValueType;

typedef struct Value {
    uint8_t t;          /* ValueType */
    uint32_t len;       /* VT_STR: bytes */
    union {
        int b;
        double n;
        int64_t i;
        const char *s;
    } u;
} Value;

static inline Value v_null(void) { Value v = {VT_NULL, 0, {0}}; return v; }
static inline Value v_bool(int b) { Value v = {VT_BOOL, 0, {0}}; v.u.b = b != 0; return v; }
static inline Value v_num(double n) { Value v = {VT_NUM, 0, {0}}; v.u.n = n; return v; }
static inline Value v_str(const char *s, size_t n) { Value v = {VT_STR, (uint32_t)n, {0}}; v.u.s = s; return v; }
static inline Value v_int(ValueType t, int64_t i) { Value v = {(uint8_t)t, 0, {0}}; v.u.i = i; return v; }

/* Scratch space for text made while running one record (concat, lower...):
 * an arena the VM resets before each run (arena_reset keeps its block), so
 * the common path does not allocate. */
typedef struct Scratch {
    Arena a;
} Scratch;

static inline void scratch_init(Scratch *s) { arena_init(&s->a); }
static inline void scratch_reset(Scratch *s) { arena_reset(&s->a); }
static inline void scratch_free(Scratch *s) { arena_free(&s->a); }
static inline char *scratch_alloc(Scratch *s, size_t n) { return arena_raw(&s->a, n); }
Value scratch_str(Scratch *s, const char *p, size_t n);

int value_blank(Value v);
/* Equality as rule files see it: both blank, or same type and value (a
 * date equals the date-time of its midnight). */
int value_equal(Value a, Value b);
/* Order of two values of comparable types: -1, 0, 1; 2 if not comparable
 * or either is blank. */
int value_cmp(Value a, Value b);
/* + - * / on numbers, and dates moved by durations; blank gives blank.
 * op is one of '+', '-', '*', '/'.  On error *err is set. */
Value value_arith(int op, Value a, Value b, const char **err);

/* Text form, as written into a text field and shown in plans. */
void value_format(Value v, Buf *out);
/* JSON form (strings quoted, null, numbers, ISO dates as strings). */
void value_json(Value v, Buf *out);

/* Civil calendar <-> days since the epoch (proleptic Gregorian). */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Parses YYYY-MM-DD into days; 0 on success, -1 if malformed or impossible. */
int parse_date(const char *s, size_t n, int64_t *days);
/* Parses an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+HH:MM|+HHMM]
 * or a space for T) into milliseconds UTC; a missing zone means UTC.
 * Also accepts a bare date (midnight UTC). 0 on success, -1 otherwise. */
int parse_datetime(const char *s, size_t n, int64_t *ms);
void format_date(int64_t days, Buf *out);
void format_datetime(int64_t ms, Buf *out);

#endif
