/* arena.h - bump allocator for everything that lives as long as one
 * compilation (tokens, AST, symbols, diagnostics) or one run batch.
 *
 * Ownership rule: memory from an arena is never freed piecemeal; the owner of
 * the arena frees all of it at once with arena_free().  Nothing allocated from
 * an arena may be handed to free().
 */
#ifndef TD_ARENA_H
#define TD_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct ArenaBlock ArenaBlock;

typedef struct Arena {
    ArenaBlock *head;   /* newest block; older blocks hang off ->prev */
    ArenaBlock *spare;  /* blocks a reset emptied, for reuse */
    size_t total;       /* bytes handed out, for benchmarks and tests */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Zeroed memory aligned for any object; aborts only if malloc fails. */
/* An arena array of n elements of size bytes, full at *cap, doubled (first
 * elements when it has none): the new block holds v's elements; the old
 * one is released (arena_release: freed when large, else kept in the arena
 * until it is reset or freed). */
void *arena_grow(Arena *a, const void *v, uint32_t n, uint32_t *cap, uint32_t first, size_t size);
/* Gives back p, an allocation of n bytes no longer used (an array a table
 * outgrew), where it is alone in its block: one larger than a block is
 * (arena_raw gives it its own), freed at once instead of at the arena's
 * end.  Anything else stays till then. */
void arena_release(Arena *a, const void *p, size_t n);
void *arena_alloc(Arena *a, size_t n);
/* The same, not zeroed: for text that is written over at once. */
void *arena_raw(Arena *a, size_t n);
/* Forgets everything allocated but keeps the newest block for reuse, so an
 * arena reset per record allocates nothing once it has grown. */
void arena_reset(Arena *a);
/* Bytes of every block the arena has, in use or kept by a reset. */
size_t arena_held(const Arena *a);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_strdup(Arena *a, const char *s);
/* printf into the arena. */
char *arena_printf(Arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
