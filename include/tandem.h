/* tandem.h - the public API of libtandem.
 *
 * The library checks and formats .sync rule files; later stages (compiler,
 * VM, engine, connectors) add to this header as they land.  Every function
 * returns a status and never exits; strings it returns are malloc'd and the
 * caller frees them with free().
 */
#ifndef TANDEM_H
#define TANDEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, e.g. "0.1.0". */
const char *tandem_version(void);

enum {
    TANDEM_DIAG_COLOR = 1,   /* ANSI colours in rendered diagnostics */
    TANDEM_DIAG_JSON = 2     /* diagnostics as a JSON array instead of text */
};

/* Checks the rule file at path and the modules it uses, looking modules up
 * in stdlib_dir (may be NULL) and next to the file.  Returns the number of
 * errors (0: clean), or -1 if the file cannot be read.  If diagnostics is
 * not NULL it receives every diagnostic rendered per flags; warnings (may
 * be NULL) receives the number of warnings. */
int tandem_check_file(const char *path, const char *stdlib_dir, int flags, char **diagnostics,
                      int *warnings);

/* The same for rule text in memory, named `name` in diagnostics. */
int tandem_check_text(const char *name, const char *text, size_t len, const char *stdlib_dir,
                      int flags, char **diagnostics, int *warnings);

/* Formats rule text in the canonical layout.  Returns 0 and sets *out, or
 * -1 when the text has syntax errors (rendered into *diagnostics when not
 * NULL). */
int tandem_format(const char *name, const char *text, size_t len, char **out, char **diagnostics);

#ifdef __cplusplus
}
#endif

#endif
