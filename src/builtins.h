/* builtins.h - ids and signatures of builtin functions and named
 * conversions (src/builtins.def), shared by the checker, compiler and VM.
 */
#ifndef TD_BUILTINS_H
#define TD_BUILTINS_H

#include "types.h"
#include "value.h"

typedef enum BuiltinId {
#define FN(id, name, mn, mx, args, ret, syn) FN_##id,
#include "builtins.def"
#undef FN
    FN__COUNT
} BuiltinId;

typedef enum ConvId {
#define CV(id, name, from, to, rev, syn) CV_##id,
#include "builtins.def"
#undef CV
    CV__COUNT
} ConvId;

typedef struct Builtin {
    const char *name;      /* as written in rule files */
    int min, max;          /* argument count */
    const char *args;      /* parameter kinds, the last one repeats */
    TypeKind ret;          /* TY_UNKNOWN: type of the first value argument */
    const char *synopsis;  /* one line for docs and errors */
} Builtin;

typedef struct Conversion {
    const char *name;      /* `as name` */
    const char *from;      /* source families accepted ("t", "n", ...) */
    TypeKind to;           /* resulting type */
    int reversible;        /* usable on a two-way map */
    const char *synopsis;
} Conversion;

extern const Builtin builtins[FN__COUNT];
extern const Conversion conversions[CV__COUNT];

int builtin_lookup(const char *name);     /* -1 if unknown */
int conversion_lookup(const char *name);  /* -1 if unknown */

/* Run-time semantics, shared by the VM and the compiler's constant folding.
 * Results may point into s; errors leave a message in *err and return -1. */
int builtin_call(int id, const Value *args, int n, Value *out, Scratch *s, const char **err);

typedef struct ConvParams {
    int kind;                 /* ConvId */
    int decimals;             /* as text: digits after the mark, -1 as needed */
    const char *thousands;    /* as text / as number: grouping mark, NULL default */
    const char *decimal;      /* decimal mark, NULL default "." */
    const char *prefix;       /* as text: before the number */
    const char *suffix;       /* as text: after the number */
} ConvParams;

int conversion_apply(const ConvParams *c, Value in, Value *out, Scratch *s, const char **err);

/* Text helpers the VM uses directly. */
Value text_lower(Value v, Scratch *s);
Value text_upper(Value v, Scratch *s);
Value text_trim(Value v);
/* The match key: trimmed, case-folded. */
Value text_key(Value v, Scratch *s);
/* A value as text (numbers, dates, booleans written out). */
Value value_as_text(Value v, Scratch *s);

#endif
