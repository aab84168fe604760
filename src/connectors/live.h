/* live.h - what the four HTTP connectors share: credentials from the
 * environment or secret files, authenticated requests that log in again
 * once when a token expires, JSON answers that fail with the request's
 * name, `--record` (every answer saved in the replay layout, credentials
 * stripped), and the progress line.
 *
 * Each system's connector (connectors/<system>.c) embeds a Live as its
 * first member and fills in what differs: how it logs in, how its errors
 * read, how it reads and writes (docs/connectors/).
 */
#ifndef TD_LIVE_H
#define TD_LIVE_H

#include <cJSON.h>

#include "connector.h"
#include "http.h"

typedef struct Live Live;

struct Live {
    Connector base;
    Http *http;
    LiveOptions o;
    const PSource *src;
    Arena a;               /* strings that live as long as the connector */
    /* The header that carries the credential ("Authorization: Bearer .."):
     * a secret, so it goes to libcurl and nowhere else. */
    char *auth;
    int (*login)(Live *L, Buf *err);   /* (re)obtains auth; NULL: a fixed key */
    /* The API's own words for a failed answer (its error body), appended to out. */
    void (*failure)(const cJSON *answer, Buf *out);
    char *record_dir;      /* --record: DIR/<source>, else NULL */
    uint32_t record_seq;
    Buf record_err;        /* why a recording could not be written: fails the next request */
    int64_t read, written; /* records, for the progress line */
    int64_t shown_ms;      /* when the progress line was last drawn */
    int drawn;             /* a progress line is on the terminal */
};

/* Sets up the shared part; min_interval_ms spaces requests (the API's rate). */
int live_init(Live *L, const ConnectorOps *ops, const Program *p, const PSource *src, const LiveOptions *o,
              long min_interval_ms, Buf *err);
void live_close(Live *L);

/* A setting of the source, resolved: a literal, env("X") or secret("X")
 * (the environment, else a file X in $TANDEM_SECRETS_DIR or systemd's
 * $CREDENTIALS_DIRECTORY).  NULL when the rule file does not set it, or
 * with err when it names a variable or secret that is not there. */
const char *live_setting(Live *L, const char *name, Buf *err);
/* The same, an error when absent. */
const char *live_require(Live *L, const char *name, Buf *err);

/* Sends with the credential, logging in again once on a 401.  0 with the
 * answer (any status); -1 when no answer came. */
int live_send(Live *L, const char *method, const char *url, const char *const *headers, const char *body, int flags,
              const char *what, HttpResponse *r, Buf *err);
/* The answer as JSON, or NULL with err naming the request (a truncated or
 * malformed answer).  An empty body is NULL with err left empty. */
cJSON *live_parse(const HttpResponse *r, const char *what, Buf *err);
/* "what: HTTP 400: <the API's message>" onto err. */
void live_failed(Live *L, const HttpResponse *r, const cJSON *answer, const char *what, Buf *err);
/* Appends k=v (v URL-encoded) to an x-www-form-urlencoded body. */
void live_form(Buf *b, const char *k, const char *v);
/* An OAuth2 token request with the form (which holds secrets: it is wiped
 * afterwards).  0 with L->auth set to the bearer header and *answer the
 * token answer (the caller frees it; its token is wiped); -1 with err,
 * the hint (which settings to check) appended. */
int live_oauth(Live *L, const char *token_url, Buf *form, const char *what, const char *hint, cJSON **answer,
               Buf *err);

/* The requests of change idx[i] of an apply call, through the codec: 1
 * with them in rl; 0 when the change is settled without sending (refused,
 * or nothing to write), as res[i] says. */
int live_encode(Live *L, CodecCtx *cx, const Plan *pl, const uint32_t *idx, ApplyResult *res, uint32_t i,
                RequestList *rl);

/* A count an answer gives (a number, or text of digits), or -1 when it
 * gives none, or one no API would (negative, fractional, past 2^53): a
 * broken answer's 1e300 is no count, and never cast. */
long live_count(const cJSON *t);

/* Sends and reads a JSON answer with a 2xx status; -1 with err otherwise. */
int live_json(Live *L, const char *method, const char *url, const char *const *headers, const char *body, int flags,
              const char *what, cJSON **answer, Buf *err);

/* Decodes a page of object's records through the codec into sink; next
 * gets the next page's address if the answer names one.  -1 with err,
 * naming the request (what), when the answer is not of the API's shape. */
int live_decode(Live *L, uint32_t object, const cJSON *answer, RecordSink *sink, Buf *next, const char *what, Buf *err);

/* GETs a page of object's records into sink, as live_json then
 * live_decode (recorded with --record) would; where the codec has a
 * scanner (Codec.scan_page) and nothing is recorded, the records are read
 * from the answer's text, no tree built: the hot path of a large read. */
int live_read_page(Live *L, uint32_t object, const char *url, const char *const *headers, const char *what,
                   RecordSink *sink, Buf *next, Buf *err);

/* --record: a page of object's records, or a metadata answer (tags, fields). */
void live_record_page(Live *L, const char *object, const cJSON *answer);
void live_record_meta(Live *L, const char *what, const cJSON *answer);

/* Draws the progress line (at most a few times a second; end: the last time). */
void live_progress(Live *L, int end);

/* Times as each API writes them in filters, to the second (ms is floored:
 * a filter "after" a floored time reads again what it had, never less). */
enum { TIME_Z, TIME_AC, TIME_GR };
void live_time(int64_t ms, int style, Buf *out);

/* Records of a page that the caller's filter keeps go on to the sink; the
 * newest change time is tracked for the cursor. */
typedef struct LiveSink {
    RecordSink sink;       /* what the codec decodes into: points here */
    RecordSink *out;
    Live *L;
    int64_t newest;
    uint32_t n;            /* records delivered */
    uint32_t rows;         /* rows the codec reported, read or refused: a page's size */
    int64_t since;         /* changes: records older are passed over (INT64_MIN: none) */
    int older;             /* a record older than since was met */
    /* find: only records whose field's key is one of values */
    int field;
    ConnectorKeyFn key;
    void *kctx;
    Symtab *want;
    Buf kb;
} LiveSink;

void live_sink_init(LiveSink *s, Live *L, RecordSink *out);
void live_sink_free(LiveSink *s);
/* A page read and decoded: tells the engine it may drop what the page's
 * records took (RecordSink.page_end).  Called after the page's last use. */
void live_page_end(LiveSink *s);
/* Keep only records whose field (after key) is one of values[0..n). */
void live_sink_filter(LiveSink *s, Arena *a, Symtab *want, int field, const char *const *values, uint32_t n,
                      ConnectorKeyFn key, void *kctx);

/* find() over a query by values: where_in reads the records whose field
 * is one of values (the API compares as it does, often without case) and
 * the sink keeps those whose match key is exactly one asked for. */
typedef int (*LiveWhereIn)(Live *L, uint32_t object, int field, const char *const *values, uint32_t n, LiveSink *ls,
                           Buf *err);
int live_find(Live *L, uint32_t object, int field, const char *const *values, uint32_t n, ConnectorKeyFn key,
              void *kctx, RecordSink *sink, LiveWhereIn where_in, Buf *err);

/* Each system's connector. */
Connector *salesforce_open(const Program *p, const PSource *src, const LiveOptions *o, Buf *err);
Connector *dynamics365_open(const Program *p, const PSource *src, const LiveOptions *o, Buf *err);
Connector *activecampaign_open(const Program *p, const PSource *src, const LiveOptions *o, Buf *err);
Connector *getresponse_open(const Program *p, const PSource *src, const LiveOptions *o, Buf *err);

#endif
