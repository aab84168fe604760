/* diag.h - source files and diagnostics.
 *
 * Every stage reports problems here instead of printing or exiting: a
 * diagnostic is a value (level, location, message, notes) collected in a
 * Diags list that the CLI renders GCC-style or as JSON.  Locations are byte
 * spans into a source file; line and column are computed only when a
 * diagnostic is rendered.
 *
 * Ownership: SrcFile texts and every Diag live in the Arena passed to
 * diags_init(); the Diags owner frees that arena.
 */
#ifndef TD_DIAG_H
#define TD_DIAG_H

#include <stdint.h>
#include <stddef.h>

#include "arena.h"
#include "buf.h"

typedef struct SrcFile {
    const char *path;     /* path as displayed in diagnostics */
    const char *text;     /* contents, NUL-terminated */
    uint32_t len;         /* bytes in text */
    uint32_t *lines;      /* offsets of line starts, built on first use */
    uint32_t nlines;      /* entries in lines */
} SrcFile;

/* A span of source: file index into Diags.files, byte offset and length. */
typedef struct Loc {
    int file;             /* -1: no location */
    uint32_t off;         /* byte offset of the first byte */
    uint32_t len;         /* bytes covered; 0 marks a point */
} Loc;

#define NOLOC ((Loc){-1, 0, 0})

typedef enum { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

typedef struct Diag Diag;
struct Diag {
    DiagLevel level;      /* severity */
    Loc loc;              /* where; file -1 for whole-run problems */
    const char *msg;      /* the message, no trailing newline */
    Diag *notes;          /* notes attached to this diagnostic */
    Diag *next;           /* next diagnostic (or next note) */
    unsigned seq;         /* order of report, keeps sorting stable */
};

typedef struct Diags {
    Arena *arena;         /* where files and diagnostics live */
    SrcFile **files;      /* sources known so far, index = Loc.file */
    int nfiles, capfiles;
    Diag *head, *tail;    /* diagnostics in report order */
    Diag *last;           /* last top-level diagnostic, target of notes */
    int errors, warnings; /* counts of top-level diagnostics */
    unsigned seq;         /* report counter */
} Diags;

void diags_init(Diags *d, Arena *a);
void diags_fini(Diags *d);   /* frees the file table (not the arena) */
/* Registers a source text (copied into the arena); returns its file index. */
int diags_add_file(Diags *d, const char *path, const char *text, size_t len);
SrcFile *diags_file(Diags *d, int file);

Diag *diag_error(Diags *d, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
Diag *diag_warning(Diags *d, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Attaches a note to the most recent error or warning. */
Diag *diag_note(Diags *d, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1-based line and column (in characters) of a byte offset. */
void src_linecol(SrcFile *f, uint32_t off, int *line, int *col);

enum { RENDER_COLOR = 1, RENDER_NO_SOURCE = 2 };
/* Renders all diagnostics sorted by file and position, GCC-style. */
void diags_render(Diags *d, Buf *out, int flags);
/* Renders all diagnostics as a JSON array. */
void diags_render_json(Diags *d, Buf *out);
/* Sorts the list once; render functions call it. */
void diags_sort(Diags *d);

#endif
