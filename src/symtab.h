/* symtab.h - string-keyed hash table of pointers, for name lookups in the
 * checker (objects, fields, syncs...).  Memory comes from the compilation
 * arena (a grown table releases its old arrays: arena_release frees the
 * large ones), so a Symtab is never freed on its own.  Keys are not copied: they must live in that arena too.
 * Insertion order is kept so iteration is deterministic.
 */
#ifndef TD_SYMTAB_H
#define TD_SYMTAB_H

#include <stddef.h>

#include "arena.h"

typedef struct SymEntry { const char *key; void *val; } SymEntry;

/* A slot holds its entry's hash: a probe compares text only when the
 * hashes agree, and growing rehashes nothing. */
typedef struct SymSlot { unsigned e, hash; } SymSlot;

typedef struct Symtab {
    Arena *arena;       /* where the arrays live */
    SymEntry *order;    /* entries in insertion order */
    int n;
    uint32_t cap;
    SymSlot *slots;     /* open addressing: e is index+1 into order, 0 empty */
    int nslots;
} Symtab;

void symtab_init(Symtab *t, Arena *a);
void *symtab_get(const Symtab *t, const char *key);
/* Adds key; returns the existing value instead if key is present. */
void *symtab_put(Symtab *t, const char *key, void *val);

#endif
