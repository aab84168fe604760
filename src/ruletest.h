/* ruletest.h - `tandem test`: rule test cases, the format users write to
 * test their own rules in CI (docs/testing.md).
 *
 * A .test file holds cases; each names a rule file (or holds one inline)
 * and a sequence of runs.  A run gives the recorded API answers of each
 * source at that time, in the systems' own JSON, and the plan the run must
 * make; optionally the health report after it.  Runs of a case share one
 * state and outbox, so scenarios over several runs (echo suppression,
 * conflicts, conversions, deletes then edits, a crash between sending and
 * recording) can be written without C.
 */
#ifndef TD_RULETEST_H
#define TD_RULETEST_H

#include <stdio.h>

typedef struct RuleTestOptions {
    const char *stdlib;    /* standard module directory */
    int update;            /* rewrite expected sections with what the runs made */
    int color;
    int keep;              /* keep each case's directory (state, replay, outbox) and name it */
    unsigned stream_batch; /* EngineOptions.stream_batch */
    unsigned apply_part;   /* EngineOptions.apply_part */
    size_t replay_hold;    /* replay_open_all's hold */
} RuleTestOptions;

/* Runs a .test file, or every .test file under a directory, printing
 * failures (with a diff) to out and adding to the counts. */
void ruletest_path(const char *path, const RuleTestOptions *o, FILE *out, int *passed, int *failed);

#endif
