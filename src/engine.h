/* engine.h - runs a program's syncs over the records of its sources.
 *
 * Per sync, in run order: read what changed since the cursor, select,
 * pair by link then by match key, decide every field with the VM (base,
 * left, right, policies, prefer), run the event handlers, and put the
 * outcome in a Plan.  With apply set, the plan of each sync is then sent
 * through its sources and recorded in the state before the next sync
 * runs, so a sync sees the links an earlier one made.  Without it (plan),
 * nothing is written anywhere; links an earlier sync would make are kept
 * in memory so the plan shows what the run would do.
 */
#ifndef TD_ENGINE_H
#define TD_ENGINE_H

#include "bytecode.h"
#include "plan.h"
#include "connector.h"
#include "store.h"

typedef struct EngineOptions {
    const char *rules;     /* the rule file, for the run history */
    int64_t now;           /* the time of the run (ms UTC) */
    int apply;             /* run: send and record; 0: plan only */
    int force;             /* every sync that is not paused, due or not */
    /* Test hook: stop after sending the first sync's changes (its last
     * part: earlier ones are recorded), before recording them, as a crash
     * would (tests of the journal). */
    int crash_after_send;
    /* As if the rule file said `paused` (B29): tests switch it per run. */
    int pause_all;
    /* Left records decided per batch in a streamed sync; 0: the default
     * (2,000).  The tests run every case again at 1, so that a decision
     * that needs another left record than its own is caught. */
    uint32_t stream_batch;
    /* A run applies and records a streamed sync a part at a time, once
     * this many outcomes (or changes) wait; 0: the default (10,000).  The
     * tests run every case again at 1. */
    uint32_t apply_part;
} EngineOptions;

/* What a run did, beyond the plan. */
typedef struct EngineResult {
    int64_t run;           /* run id in the state (apply), 0 for a plan */
    int64_t applied, failed;
    Buf failures;          /* one line per change the systems refused */
    int crashed;           /* the crash hook fired */
    /* actions on records whose system creates them later (GetResponse):
     * not sent, kept owed to them for the run that finds them */
    int64_t owed;
} EngineResult;

/* The closing lines of a run: "Applied N changes." with what was owed and
 * what the systems refused (tandem run and tandem test print the same). */
void engine_result_text(const EngineResult *res, Buf *out);

/* Runs every sync; sources[i] is the source named by the program's sides
 * (looked up by name).  0 when the run went through (records may still
 * have failed: see the plan's notes and res->failed), -1 with err when it
 * could not (the state or a source failed). */
int engine_run(const Program *p, Store *st, Connector *const *sources, uint32_t nsources, const EngineOptions *o,
               Plan *pl, EngineResult *res, Buf *err);

/* When a sync is next due after its last run (ms), or INT64_MAX when its
 * schedule is off; the sync's own schedule, else the file's. */
int64_t engine_next_due(const Program *p, uint32_t sync, int64_t last_run);

#endif
