/* symtab.c - insertion-ordered string hash table in an arena. */
#include "symtab.h"

#include <string.h>

#include "util.h"

void symtab_init(Symtab *t, Arena *a) {
    memset(t, 0, sizeof *t);
    t->arena = a;
}

static int find(const Symtab *t, const char *key, unsigned h, int *slot) {
    if (!t->nslots) return -1;
    unsigned mask = (unsigned)t->nslots - 1;
    unsigned i = h & mask;
    for (;;) {
        const SymSlot *s = &t->slots[i];
        if (s->e == 0) { if (slot) *slot = (int)i; return -1; }
        if (s->hash == h && strcmp(t->order[s->e - 1].key, key) == 0) { if (slot) *slot = (int)i; return (int)s->e - 1; }
        i = (i + 1) & mask;
    }
}

static void rehash(Symtab *t) {
    int ns = t->nslots ? t->nslots * 2 : 16;
    SymSlot *old = t->slots;
    int nold = t->nslots;
    t->slots = arena_alloc(t->arena, (size_t)ns * sizeof *t->slots);
    t->nslots = ns;
    unsigned mask = (unsigned)ns - 1;
    for (int k = 0; k < nold; k++) {
        if (!old[k].e) continue;
        unsigned i = old[k].hash & mask;
        while (t->slots[i].e) i = (i + 1) & mask;
        t->slots[i] = old[k];
    }
    arena_release(t->arena, old, (size_t)nold * sizeof *old);
}

void *symtab_get(const Symtab *t, const char *key) {
    if (!t->n) return NULL;
    int e = find(t, key, hash_str(key, strlen(key)), NULL);
    return e < 0 ? NULL : t->order[e].val;
}

void *symtab_put(Symtab *t, const char *key, void *val) {
    if ((t->n + 1) * 2 > t->nslots) rehash(t);
    int slot;
    unsigned h = hash_str(key, strlen(key));
    int e = find(t, key, h, &slot);
    if (e >= 0) return t->order[e].val;
    if ((uint32_t)t->n == t->cap) t->order = arena_grow(t->arena, t->order, (uint32_t)t->n, &t->cap, 8, sizeof *t->order);
    t->order[t->n] = (SymEntry){key, val};
    t->slots[slot] = (SymSlot){(unsigned)++t->n, h};
    return NULL;
}
