/* types.c - type names and the rules of what may be written into what. */
#include "types.h"

#include <stdio.h>
#include <string.h>

static const struct { const char *name; char family; } info[] = {
#define T(k, s, f) {s, f},
    TD_TYPE_KINDS(T)
#undef T
};

static const Type kinds[TY__COUNT] = {
#define T(kind, s, f) {.k = TY_##kind},
    TD_TYPE_KINDS(T)
#undef T
};

const Type *type_of_kind(TypeKind k) { return &kinds[k < TY__COUNT ? k : TY_UNKNOWN]; }

const char *type_name(TypeKind k) { return k < TY__COUNT ? info[k].name : "?"; }

char type_family(TypeKind k) { return k < TY__COUNT ? info[k].family : 'x'; }

int type_lookup(const char *name) {
    for (int i = 1; i < TY__COUNT; i++)
        if (strcmp(info[i].name, name) == 0) return i;
    return -1;
}

const char *type_str(const Type *t) {
    static char buf[160];
    if (t->k == TY_REFERENCE && t->ref) {
        snprintf(buf, sizeof buf, "reference(%s)", t->ref);
        return buf;
    }
    return type_name(t->k);
}

int type_is_text(TypeKind k) { return type_family(k) == 't'; }
int type_is_numeric(TypeKind k) { return type_family(k) == 'n'; }
int type_is_temporal(TypeKind k) { return type_family(k) == 'd'; }

int type_assignable(TypeKind dst, TypeKind src) {
    if (dst == TY_UNKNOWN || src == TY_UNKNOWN || src == TY_NULL) return 1;
    if (dst == src) return dst != TY_REFERENCE && dst != TY_ID;
    switch (dst) {
    case TY_TEXT:
    case TY_TEXTAREA:
        /* Anything that already is text keeps its characters; a multi-select
         * needs a separator chosen, and ids differ between systems. */
        return type_is_text(src) && src != TY_MULTIPICKLIST && src != TY_ID && src != TY_REFERENCE;
    case TY_PICKLIST:
        return src == TY_TEXT || src == TY_COUNTRY;
    case TY_MULTIPICKLIST:
        return src == TY_PICKLIST;
    case TY_NUMBER:
        return type_is_numeric(src);
    case TY_CURRENCY:
    case TY_PERCENT:
        return src == TY_NUMBER || src == TY_INTEGER;
    case TY_DATETIME:
        return src == TY_DATE;
    default:
        return 0;
    }
}

int type_comparable(TypeKind a, TypeKind b) {
    if (a == TY_UNKNOWN || b == TY_UNKNOWN || a == TY_NULL || b == TY_NULL) return 1;
    char fa = type_family(a), fb = type_family(b);
    if (fa != fb) return 0;
    if (fa == 'x') return a == b;
    return 1;
}
