/* util.h - small helpers shared by the stages: "did you mean" suggestions,
 * string hashing and reading whole files.
 */
#ifndef TD_UTIL_H
#define TD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Finds the candidate closest to a misspelled name.  A candidate differing
 * only in case always wins; otherwise the edit distance (with
 * transpositions) must be at most a third of the name's length. */
typedef struct Suggest {
    const char *name;   /* what the user wrote */
    const char *best;   /* best candidate so far, or NULL */
    int dist;           /* its distance */
} Suggest;

void suggest_init(Suggest *s, const char *name);
void suggest_try(Suggest *s, const char *candidate);

uint32_t hash_str(const char *s, size_t n);

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL with errno
 * set on failure. */
char *read_file(const char *path, size_t *len);
/* Opens path for reading only if it is a regular file (symlinks followed),
 * without blocking: opening a FIFO would wait for a writer for good.  Its
 * size in *size unless NULL; -1 with errno, EINVAL for anything else (a
 * directory, a FIFO, a device). */
int open_regular(const char *path, size_t *size);
/* read_file for data files (recorded answers, an outbox): a regular file
 * or an error, as open_regular. */
char *read_regular(const char *path, size_t *len);
/* A regular file's bytes mapped read-only, not NUL-terminated (for the
 * scanners, which take a length): a page of answers is not copied out of
 * the page cache (a 1M plan spent a tenth of its time in that copy).  As
 * with any mapping, a file cut short by another process while mapped
 * faults.  NULL with errno on failure, as open_regular; release with
 * unmap_file. */
const char *map_file(const char *path, size_t *len);
void unmap_file(const char *p, size_t len);
/* What failed, for a message after the path: errno's text, or "not a
 * regular file" for the EINVAL of open_regular and the functions on it
 * ("Invalid argument" says nothing). */
const char *file_error(int e);

/* Creates dir and the directories above it (0700); -1 with err naming the
 * one that could not be made. */
int make_dirs(const char *dir, Buf *err);

/* Milliseconds on a clock that never goes back: for intervals, not dates. */
int64_t mono_ms(void);

int str_ieq(const char *a, const char *b);

/* A line diff of two texts (longest common subsequence): lines only in
 * `expected` start with "-", only in `actual` with "+", common ones with
 * " "; each line indented by two spaces. */
void text_diff(const char *expected, const char *actual, Buf *out);

#endif
