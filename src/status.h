/* status.h - the sync health report (B31) from the state. */
#ifndef TD_STATUS_H
#define TD_STATUS_H

#include "buf.h"
#include "bytecode.h"
#include "store.h"

/* Writes the report (text, or JSON with json set) for the program's syncs.
 * *healthy is cleared when the last run failed or had errors.  -1 with
 * err when the state cannot be read. */
int status_report(const Program *p, Store *st, const char *state_path, int64_t now, int json, Buf *out, int *healthy,
                  Buf *err);

#endif
