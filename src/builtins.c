/* builtins.c - the builtin tables, expanded from src/builtins.def. */
#include "builtins.h"

#include <string.h>

const Builtin builtins[FN__COUNT] = {
#define FN(id, name, mn, mx, args, ret, syn) {name, mn, mx, args, ret, syn},
#include "builtins.def"
#undef FN
};

const Conversion conversions[CV__COUNT] = {
#define CV(id, name, from, to, rev, syn) {name, from, to, rev, syn},
#include "builtins.def"
#undef CV
};

int builtin_lookup(const char *name) {
    for (int i = 0; i < FN__COUNT; i++)
        if (strcmp(builtins[i].name, name) == 0) return i;
    return -1;
}

int conversion_lookup(const char *name) {
    for (int i = 0; i < CV__COUNT; i++)
        if (strcmp(conversions[i].name, name) == 0) return i;
    return -1;
}
