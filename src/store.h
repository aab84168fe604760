/* store.h - tandem's state in SQLite: what it must remember between runs.
 *
 * Links between the ids of paired records, per sync; the value of every
 * mapped field after the last sync (the base of the three-way merge);
 * cursors per source and object; run history; per-record sync status and
 * errors (B27, B31); the queue of flagged records (B13); an audit log of
 * every applied change; and a journal of changes sent but not yet
 * recorded, so a run that dies between sending and recording is finished,
 * not repeated, by the next one.  docs/state.md describes the schema.
 *
 * Every function returns 0 on success and -1 with a message in the
 * store's error (store_error) on failure; none prints or exits.  Times
 * are milliseconds since 1970 UTC.  Values are kept as JSON text (null
 * for none), as value_json writes them.  Text returned by the store lives
 * in the arena the caller passes.
 */
#ifndef TD_STORE_H
#define TD_STORE_H

#include <stdint.h>

#include "arena.h"
#include "buf.h"

typedef struct Store Store;

enum { STORE_READONLY = 1 };

/* Opens (creating it, mode 0600, when it does not exist and the store is
 * not read-only) and migrates the state file.  A read-only store of a file
 * that does not exist is an empty in-memory one: `plan` changes nothing on
 * disk.  NULL with the reason in err on failure. */
Store *store_open(const char *path, int flags, Buf *err);
void store_close(Store *s);
const char *store_error(const Store *s);
/* The schema version the file is at (PRAGMA user_version). */
int store_version(Store *s);

int store_begin(Store *s);
int store_commit(Store *s);
/* A read-only store reads one snapshot for its whole life: a plan or a
 * status report made while a run records parts sees the state as one of
 * the run's commits left it, never a mix of two (WAL keeps the snapshot). */

/* ---- the run lock (docs/state.md): one run at a time per state file.
 * An exclusive flock on "<state>.lock", beside the state and named through
 * the directory's real path, so two spellings of one state take one lock.
 * wait_ms: 0 gives up at once, -1 waits for as long as it takes.  0 with
 * *fd set: held until closed (or the process ends, however it ends).
 * 1: another run holds it; err says which (its pid and start).  -1: the
 * lock file cannot be made; err says why. */
int store_lock(const char *path, int64_t wait_ms, int64_t now, int *fd, Buf *err);
int store_rollback(Store *s);

/* ---- links */

typedef struct Link {
    int64_t id;
    const char *sync;
    const char *object[2];  /* object of each side, e.g. "Lead", "contact" */
    const char *rid[2];     /* record id of each side */
    int64_t deleted[2];     /* when each side was seen deleted; 0 when it was not */
    int64_t created, synced;/* when linked; when last synced */
    int64_t written[2];     /* the change time each side's system gave tandem's last write (ms); 0 not known */
} Link;

/* The link of sync whose side holds id.  1 found, 0 not, -1 error. */
int store_link_find(Store *s, const char *sync, int side, const char *id, Arena *a, Link *out);
/* The same for ids[0..n) in one query: found[i] says whether out[i] was
 * filled.  0, or -1 on error. */
int store_links_find(Store *s, const char *sync, int side, const char *const *ids, uint32_t n, Arena *a, Link *out,
                     uint8_t *found);
/* What a pair's sync leaves on its link: its base values (below; NULL
 * none, or keep them), when it was synced (0 keep) and the change time
 * each side's system gave tandem's write (Link.written; 0 keep). */
typedef struct LinkSync {
    const char *base;
    int64_t synced;
    int64_t written[2];
} LinkSync;

/* A new link made at `at`, with what its sync left (NULL: nothing yet);
 * its id in *id. */
int store_link_add(Store *s, const char *sync, const char *lobj, const char *lid, const char *robj, const char *rid,
                   int64_t at, const LinkSync *with, int64_t *id);
/* Moves a link (B17): to another sync, with a new object and id on side. */
int store_link_move(Store *s, int64_t link, const char *sync, int side, const char *object, const char *id);
/* Marks side deleted at `at` (0 clears it: the record came back). */
int store_link_deleted(Store *s, int64_t link, int side, int64_t at);
/* What syncing the pair changed, in one write; a row found as it was is
 * left alone. */
int store_link_sync(Store *s, int64_t link, const LinkSync *with);
/* Forgets a link and its base values. */
int store_link_drop(Store *s, int64_t link);
/* Every link of a sync, in id order; each() returns non-zero to stop. */
int store_links_each(Store *s, const char *sync, Arena *a, void *ctx, int (*each)(void *ctx, const Link *l));
int64_t store_link_count(Store *s, const char *sync);

/* ---- base values: in the link's row, one JSON object naming each map by
 * its key, {"Email <-> email": [left, right], ...}; the engine writes
 * (store_link_sync) and reads it whole.  1 with the text in *json, 0 when
 * the link has none. */

int store_bases_get(Store *s, int64_t link, Arena *a, const char **json);

/* ---- cursors: how far each source's object has been read */

int store_cursor_get(Store *s, const char *source, const char *object, Arena *a, const char **value);
int store_cursor_put(Store *s, const char *source, const char *object, const char *value, int64_t at);

/* ---- syncs: first and last runs, for `since first run`, B30 and schedules */

typedef struct SyncState {
    int64_t first_run;      /* 0: never ran */
    int64_t last_run;       /* start of the last run that finished */
    int64_t last_ok;        /* ... that finished without errors */
} SyncState;

int store_sync_get(Store *s, const char *sync, SyncState *out);
int store_sync_ran(Store *s, const char *sync, int64_t started, int ok);

/* ---- runs */

typedef struct RunCounts {
    int64_t read, created, updated, deleted, tagged, skipped, conflicts, waiting, errors;
} RunCounts;

typedef struct RunInfo {
    int64_t id, started, finished;
    const char *rules;      /* the rule file */
    const char *status;     /* running, ok, errors, failed */
    RunCounts n;
} RunInfo;

int store_run_begin(Store *s, const char *rules, int64_t started, int64_t *run);
/* Runs still marked running when a new one starts died on the way: they
 * become "stopped". */
int store_runs_stopped(Store *s);
int store_run_end(Store *s, int64_t run, const char *status, const RunCounts *n, int64_t finished);
/* The last `limit` runs, newest first. */
int store_runs_each(Store *s, int limit, Arena *a, void *ctx, int (*each)(void *ctx, const RunInfo *r));

/* ---- per-record status (B27) and errors (B31) */

int store_status_put(Store *s, const char *sync, int side, const char *object, const char *id, const char *status,
                     const char *reason, int64_t at);
/* The records of a sync waiting (for a partner, an id), oldest first. */
int store_waiting_each(Store *s, const char *sync, Arena *a, void *ctx,
                       int (*each)(void *ctx, int side, const char *object, const char *id, const char *reason,
                                   int64_t at));
int64_t store_waiting_count(Store *s, const char *sync);

/* Every record in error now (its status is "error": an error stays until
 * the record syncs), since a time, oldest first, with the rule of its
 * last error. */
typedef struct RecordError {
    const char *sync, *object, *id, *reason, *rule;
    int side;
    int64_t since;
} RecordError;
int store_record_errors_each(Store *s, int64_t since, Arena *a, void *ctx, int (*each)(void *ctx, const RecordError *e));

int store_error_add(Store *s, int64_t run, const char *sync, int side, const char *object, const char *id,
                    const char *reason, const char *rule, int64_t at);
/* Errors of the last run that had any, grouped by reason, most frequent first. */
int store_errors_each(Store *s, int64_t run, Arena *a, void *ctx,
                      int (*each)(void *ctx, const char *reason, int64_t count, const char *example_id));

/* ---- the queue of flagged records (B13) */

int store_queue_add(Store *s, const char *sync, int side, const char *id, const char *reason, int64_t at);
int store_queue_remove(Store *s, const char *sync, int side, const char *id);
int store_queue_each(Store *s, const char *sync, Arena *a, void *ctx,
                     int (*each)(void *ctx, int side, const char *id, const char *reason, int64_t at));

/* ---- audit log of applied changes */

typedef struct AuditEntry {
    int64_t run;
    const char *sync, *source, *object, *id;
    const char *action;     /* create, update, delete, tag, untag, list add, list remove, automation */
    const char *field;      /* the field, tag, list or automation; NULL for create and delete */
    const char *before, *after; /* JSON values */
    const char *rule;       /* file:line of the rule that decided it */
    int64_t at;
} AuditEntry;

int store_audit_add(Store *s, const AuditEntry *e);
int store_audit_each(Store *s, int64_t run, Arena *a, void *ctx, int (*each)(void *ctx, const AuditEntry *e));

/* ---- the journal: changes sent to a system, until their result is recorded */

typedef struct Intent {
    int64_t id, run;
    const char *sync, *source, *object;
    int side;
    const char *action;     /* create, update, delete... */
    const char *id_rec;     /* the record written (NULL for a create) */
    const char *partner;    /* the record on the other side it came from */
    const char *key;        /* its match key, to find a create that happened */
    const char *body;       /* what was sent, as JSON */
    int64_t at;
    const char *name;       /* an action's tag, list or automation */
    const char *rule;       /* file:line of the rule behind it */
} Intent;

/* Journals a change before it is sent (committed at once by the caller). */
int store_intent_add(Store *s, const Intent *in, int64_t *id);
/* The change is recorded (its result stored elsewhere in the same
 * transaction): the intent is done. */
int store_intent_done(Store *s, int64_t id);
/* Intents of earlier runs still pending, oldest first. */
int store_intents_each(Store *s, Arena *a, void *ctx, int (*each)(void *ctx, const Intent *in));

/* ---- owed actions: a tag, list or automation action a record is owed,
 * kept until it is sent or shown unnecessary (docs/state.md).  The
 * record is named by its id where known, else by its partner on the
 * other side and its match key (a create whose id is not known yet). */
typedef struct Owed {
    int64_t id;
    const char *sync;
    int side;
    const char *object;
    const char *id_rec;     /* NULL: not known yet */
    const char *partner;    /* the record on the other side it came from */
    const char *key;        /* its match key */
    const char *action;     /* as plan_action_name says: tag, untag, list add, list remove, automation */
    const char *name;
    const char *rule;       /* file:line, as it was when decided */
    int64_t since;
} Owed;

/* The same action owed twice to one record is kept once. */
int store_owed_add(Store *s, const Owed *o);
int store_owed_done(Store *s, int64_t id);
int store_owed_each(Store *s, const char *sync, Arena *a, void *ctx, int (*each)(void *ctx, const Owed *o));

#endif
