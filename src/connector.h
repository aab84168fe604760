/* connector.h - where records come from and changes go: one per `source` of
 * a rule file.
 *
 * The engine asks a Connector for the records of an object changed since a
 * time, for records by id, and for records by match key; and hands it the
 * changes of a plan to apply.  Two kinds exist: the replay source
 * (replay.c), which answers from recorded API answers in a directory and
 * writes what it would send to an outbox, and the HTTP connectors.  Both
 * read answers through the system's codec (codec.h), so a record reads the
 * same either way.
 *
 * Records go to a RecordSink and live in the CodecCtx's arena: the
 * engine's batch.  Errors are values: -1 with a message in err.
 */
#ifndef TD_CONNECTOR_H
#define TD_CONNECTOR_H

#include "codec.h"
#include "plan.h"

typedef struct Connector Connector;

/* The match key of a record, as the sync computes it (trimmed, case-folded),
 * written into out; 0 when it has one. */
typedef int (*ConnectorKeyFn)(void *ctx, const Record *r, Buf *out);

/* What became of one change: done (with the id of a created record), or
 * failed with the system's reason. */
typedef struct ApplyResult {
    int ok;
    const char *id;        /* create: the new record's id */
    const char *error;     /* when not ok */
    const char *request;   /* what was sent (JSON), for the journal */
    /* The record's change time after the write, as its system keeps it
     * (ms); 0 when the answer does not say.  A record read again at that
     * time is the write coming back (Link.written). */
    int64_t modified;
} ApplyResult;

/* Where a read of changes starts, and where the next will: the time of
 * the newest change read, and for a system that hands out its own resume
 * token (Dynamics change tracking: the only way it reports deletes), the
 * token.  The engine keeps both in the state's cursor. */
typedef struct ChangeCursor {
    int64_t since;         /* in: changes after this (ms UTC; INT64_MIN: every record) */
    const char *token;     /* in: the token the last read handed out, or NULL */
    int64_t newest;        /* out: the newest change time delivered (the caller sets it to since) */
    Buf next;              /* out: the token for the next read; empty: none */
    /* out: the read delivered every record of the object there is (a first
     * read, no cursor), so a record it did not deliver does not exist and
     * the engine need not ask get or find for partners.  0 when unsure. */
    int whole;
} ChangeCursor;

typedef struct ConnectorOps {
    /* Records of object changed after cur->since (or cur->token), deleted
     * ones with Record.deleted set; cur->newest and cur->next are what to
     * store afterwards. */
    int (*changed)(Connector *s, uint32_t object, ChangeCursor *cur, RecordSink *sink, Buf *err);
    /* Records of object with these ids; an id the system does not have is
     * left out (the engine treats it as deleted). */
    int (*get)(Connector *s, uint32_t object, const char *const *ids, uint32_t n, RecordSink *sink, Buf *err);
    /* Records of object whose field equals one of the values (after the
     * key function, when given: match keys compare trimmed and folded). */
    int (*find)(Connector *s, uint32_t object, int field, const char *const *values, uint32_t n, ConnectorKeyFn key,
                void *kctx, RecordSink *sink, Buf *err);
    /* Records of object that carry one of the tags, changed or not: a tag
     * an automation adds may not change the record (B13).  NULL where the
     * system has no tags. */
    int (*tagged)(Connector *s, uint32_t object, const char *const *tags, uint32_t n, RecordSink *sink, Buf *err);
    /* Applies changes idx[0..n) of the plan, all of this source, in order;
     * an action on a record created by the plan comes after that create in
     * the same call, which resolves its id.  res[i] gets the outcome of
     * idx[i].  -1 only when the source itself fails (unreachable, refused
     * credentials); a record the system refuses is a result. */
    int (*apply)(Connector *s, const Plan *pl, const uint32_t *idx, uint32_t n, ApplyResult *res, Buf *err);
    void (*close)(Connector *s);
} ConnectorOps;

struct Connector {
    const ConnectorOps *ops;
    const char *name;      /* the rule file's source name, e.g. "sf" */
    const char *system;    /* "salesforce" */
    const Codec *codec;
    const Program *p;
    Meta meta;             /* names behind ids, read once per run */
    Arena meta_arena;
    Arena scratch_arena;   /* cx.scratch */
    CodecCtx cx;           /* cx.a is set by the engine to its batch arena */
};

/* The id change idx[i] of an apply call writes: its own, or, for an action
 * on a record the same call created, the id that create got (NULL with
 * *why set when it got none).  Every source's apply resolves ids so. */
const char *connector_target(const Plan *pl, const uint32_t *idx, const ApplyResult *res, uint32_t i,
                             const char **why);

/* A replay source: answers from dir/<name>/, writes to outbox/<name>/
 * (outbox NULL: a plan, which writes nothing).  It keeps up to `hold`
 * bytes of decoded answers per object for lookups (REPLAY_HOLD unless a
 * test asks for less).  NULL with err when the directory cannot be used. */
enum { REPLAY_HOLD = 64 << 20 };
Connector *replay_open(const Program *p, const char *name, const char *system, const char *dir, const char *outbox,
                       int64_t now, size_t hold, Buf *err);
/* Replay sources for every source the program's syncs use (an array the
 * caller releases with connectors_close). */
int replay_open_all(const Program *p, const char *dir, const char *outbox, int64_t now, size_t hold, Connector ***out,
                    uint32_t *n, Buf *err);
void connectors_close(Connector **v, uint32_t n);

/* The HTTP connectors (connectors/): one per source the syncs use, each
 * talking to its system's API with the credentials its settings name. */
typedef struct LiveOptions {
    const char *record;    /* --record DIR: save every answer in the replay layout */
    int progress;          /* draw a progress line on stderr (a terminal) */
    long timeout_ms;       /* per request; 0: 60 s */
    int max_retries;       /* 0: 5 */
} LiveOptions;

int live_open_all(const Program *p, const LiveOptions *o, Connector ***out, uint32_t *n, Buf *err);

#endif
