/* fmt.h - the canonical layout of a .sync file (`tandem fmt`).
 *
 * The formatter works on the token stream, not the tree: every token is
 * printed again in order with canonical spacing, one statement per line,
 * four spaces per block, comments kept where they were.  Since only blanks
 * and line breaks change, formatting cannot change what a file means; the
 * formatter re-lexes its own output and refuses to return it if the tokens
 * differ.
 */
#ifndef TD_FMT_H
#define TD_FMT_H

#include "buf.h"
#include "diag.h"

/* Formats file `file` of d into out.  Returns 0, or -1 when the file has
 * syntax errors (reported to d) and cannot be formatted. */
int fmt_file(Diags *d, int file, Arena *a, Buf *out);

#endif
