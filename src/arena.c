/* arena.c - the bump allocator behind every compilation and run batch. */
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ArenaBlock {
    ArenaBlock *prev;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

enum { ARENA_MIN_BLOCK = 64 * 1024 };

void arena_init(Arena *a) { a->head = a->spare = NULL; a->total = 0; }

static void free_chain(ArenaBlock *b) {
    while (b) {
        ArenaBlock *p = b->prev;
        free(b);
        b = p;
    }
}

void arena_free(Arena *a) {
    free_chain(a->head);
    free_chain(a->spare);
    a->head = a->spare = NULL;
    a->total = 0;
}

/* The blocks are kept for the next use: an arena reset per page of records
 * would otherwise free and malloc its blocks again every page.  (So an
 * arena that is reset keeps its peak size until freed.) */
void arena_reset(Arena *a) {
    ArenaBlock *b = a->head;
    if (!b) return;
    ArenaBlock *c = b->prev;
    while (c) {
        ArenaBlock *p = c->prev;
        c->prev = a->spare;
        a->spare = c;
        c = p;
    }
    b->prev = NULL;
    b->used = 0;
    a->total = 0;
}

size_t arena_held(const Arena *a) {
    size_t n = 0;
    for (const ArenaBlock *b = a->head; b; b = b->prev) n += b->cap;
    for (const ArenaBlock *b = a->spare; b; b = b->prev) n += b->cap;
    return n;
}

void *arena_raw(Arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    ArenaBlock *b = a->head;
    if (!b || b->cap - b->used < n) {
        /* a kept block that fits (first fit: an arena reset again and
         * again, a part or a page at a time, would otherwise add a block
         * each time a large array outgrows the first spare) */
        for (ArenaBlock **at = &a->spare; *at; at = &(*at)->prev) {
            if ((*at)->cap < n) continue;
            b = *at;
            *at = b->prev;
            b->prev = a->head;
            b->used = 0;
            a->head = b;
            goto take;
        }
        size_t cap = n > ARENA_MIN_BLOCK ? n : ARENA_MIN_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b) {
            /* Out of memory leaves no sane way to report; this is the one
             * place below the CLI that stops the process. */
            fputs("tandem: out of memory\n", stderr);
            abort();
        }
        b->prev = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
take:;
    void *p = b->data + b->used;
    b->used += n;
    a->total += n;
    return p;
}

void *arena_alloc(Arena *a, size_t n) {
    void *p = arena_raw(a, n);
    memset(p, 0, n);
    return p;
}

void *arena_grow(Arena *a, const void *v, uint32_t n, uint32_t *cap, uint32_t first, size_t size) {
    uint32_t nc = *cap ? *cap * 2 : first;
    unsigned char *w = arena_raw(a, (size_t)nc * size);
    if (n) memcpy(w, v, (size_t)n * size);
    memset(w + (size_t)n * size, 0, (size_t)(nc - n) * size);   /* as arena_alloc's */
    if (v) arena_release(a, v, (size_t)*cap * size);
    *cap = nc;
    return w;
}

void arena_release(Arena *a, const void *p, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!p || n <= ARENA_MIN_BLOCK) return;
    for (ArenaBlock **at = &a->head; *at; at = &(*at)->prev) {
        ArenaBlock *b = *at;
        if ((const void *)b->data != p) continue;
        if (b->used != n) return; /* shares its block: stays */
        *at = b->prev;
        a->total -= n;
        free(b);
        return;
    }
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_strdup(Arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(Arena *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return arena_strdup(a, "");
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
