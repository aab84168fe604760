/* symtab.c - insertion-ordered string hash table in an arena. */
#include "symtab.h"

#include <string.h>

#include "util.h"

void symtab_init(Symtab *t, Arena *a) {
    memset(t, 0, sizeof *t);
    t->arena = a;
}

static int find(const Symtab *t, const char *key, int *slot) {
    if (!t->nslots) return -1;
    unsigned mask = (unsigned)t->nslots - 1;
    unsigned i = hash_str(key, strlen(key)) & mask;
    for (;;) {
        int e = t->slots[i];
        if (e == 0) { if (slot) *slot = (int)i; return -1; }
        if (strcmp(t->order[e - 1].key, key) == 0) { if (slot) *slot = (int)i; return e - 1; }
        i = (i + 1) & mask;
    }
}

static void rehash(Symtab *t) {
    int ns = t->nslots ? t->nslots * 2 : 16;
    t->slots = arena_alloc(t->arena, (size_t)ns * sizeof *t->slots);
    t->nslots = ns;
    for (int k = 0; k < t->n; k++) {
        int slot;
        find(t, t->order[k].key, &slot);
        t->slots[slot] = k + 1;
    }
}

void *symtab_get(const Symtab *t, const char *key) {
    int e = find(t, key, NULL);
    return e < 0 ? NULL : t->order[e].val;
}

void *symtab_put(Symtab *t, const char *key, void *val) {
    if ((t->n + 1) * 2 > t->nslots) rehash(t);
    int slot;
    int e = find(t, key, &slot);
    if (e >= 0) return t->order[e].val;
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        SymEntry *o = arena_alloc(t->arena, (size_t)cap * sizeof *o);
        if (t->n) memcpy(o, t->order, (size_t)t->n * sizeof *o);
        t->order = o;
        t->cap = cap;
    }
    t->order[t->n] = (SymEntry){key, val};
    t->slots[slot] = ++t->n;
    return NULL;
}
