/* status.h - the sync health report (B31) from the state. */
#ifndef TD_STATUS_H
#define TD_STATUS_H

#include "buf.h"
#include "bytecode.h"
#include "store.h"

typedef struct StatusOptions {
    int json;              /* the JSON form (every record in error) */
    int64_t since;         /* records in error since then (ms); INT64_MIN every one */
    int page;              /* text: which page of records in error (STATUS_PAGE a page), from 1 */
} StatusOptions;

enum { STATUS_PAGE = 50 };

/* Writes the report for the program's syncs.  *healthy is cleared when
 * the last run failed or had errors.  -1 with err when the state cannot
 * be read. */
int status_report(const Program *p, Store *st, const char *state_path, int64_t now, const StatusOptions *o, Buf *out,
                  int *healthy, Buf *err);

#endif
