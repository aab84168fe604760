/* spill.h - an append-only file of byte strings, read back by offset.
 *
 * A streamed sync keeps its right side's records here instead of in
 * memory (docs/performance.md): each record is packed (record_pack) and
 * appended, and read back when a left record pairs with it.  The file is
 * a temporary one, created in TMPDIR (else /tmp) readable by its owner
 * only and unlinked at once, so it holds customer data no longer than the
 * run and leaves nothing behind when the process dies.  Where no file can
 * be made, the bytes stay in memory and everything works the same.
 */
#ifndef TD_SPILL_H
#define TD_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct Spill {
    int fd;                /* -1: in memory (mem) */
    uint64_t size;         /* bytes appended so far */
    uint64_t flushed;      /* of them, in the file */
    Buf wb;                /* appended, not yet written */
    Buf mem;               /* the whole store, when there is no file */
    int ahead;             /* reads go forward: read a window at a time */
    Buf rb;                /* the window */
    uint64_t rb_off;       /* where it starts */
    uint64_t last;         /* the end of the entry read last */
    Buf err;
} Spill;

/* A temporary file as spill_open makes it (owner-only, unlinked), open
 * for reading and writing; -1 when none can be made. */
int spill_temp_fd(void);
/* Opens an empty spill; never fails (a file it cannot make: memory). */
void spill_open(Spill *s);
void spill_close(Spill *s);
/* Appends n bytes; their offset in *off.  0, or -1 (spill_error). */
int spill_put(Spill *s, const void *data, uint32_t n, uint64_t *off);
/* The bytes put at off, into out (replacing its contents).  0, or -1. */
int spill_get(Spill *s, uint64_t off, Buf *out);
/* Reads from now on go mostly forward (1) or anywhere (0): forward, the
 * file is read a window of a few hundred kilobytes at a time, not an entry
 * at a time, while each read starts near where the one before ended (a
 * read far ahead reads its entry alone: the entries wanted may be few). */
void spill_ahead(Spill *s, int on);
/* Whether the bytes are in a file (1) or in memory (0). */
int spill_on_disk(const Spill *s);
const char *spill_error(const Spill *s);

#endif
