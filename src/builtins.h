/* builtins.h - ids and signatures of builtin functions and named
 * conversions (src/builtins.def), shared by the checker, compiler and VM.
 */
#ifndef TD_BUILTINS_H
#define TD_BUILTINS_H

#include "types.h"

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

#endif
