/* merge.h - the three-way decision for one mapped field.
 *
 * Given the value at each end now, the value each end had after the last
 * sync (the base), the value each end would receive (the other end,
 * converted), the map's directions and policies and the sync's `prefer`,
 * decide what to write where.  This is where B06 (policies), B22
 * (preferred side, initial sync and conflicts) and B23 (no echo: a value
 * tandem wrote is the base, so it is no change) are decided.
 */
#ifndef TD_MERGE_H
#define TD_MERGE_H

#include <stdint.h>

#include "value.h"

enum { MERGE_PREFER_NONE = -1, MERGE_PREFER_NEWEST = 2 };

typedef struct MergeIn {
    Value cur[2];       /* each end now (left, right) */
    Value give[2];      /* what side t would receive: the other end, converted */
    Value base[2];      /* each end after the last sync */
    int has_base;       /* the pair has synced before */
    int flow;           /* bit 0: into right, bit 1: into left */
    int policy[2];      /* into each side: POL_ALWAYS, POL_IF_BLANK, POL_NEVER (check.h) */
    int prefer;         /* MERGE_PREFER_NONE, 0, 1, MERGE_PREFER_NEWEST */
    int64_t modified[2];/* change time of each record (ms), INT64_MIN unknown */
} MergeIn;

typedef struct MergeOut {
    int write[2];       /* write give[t] into side t */
    int conflict;       /* both changed, nothing to settle it */
} MergeOut;

MergeOut merge_decide(const MergeIn *in);

#endif
