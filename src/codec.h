/* codec.h - between a system's own JSON and normalized records.
 *
 * One codec per system (src/codecs/<system>.c) knows the shapes of that
 * API's answers: Salesforce query pages, ActiveCampaign lists with their
 * sideloaded fieldValues, contactTags and tags, Dynamics 365 OData pages,
 * GetResponse contact arrays.  Decoding turns an answer into Records of a
 * program object; what a codec needs to name things (custom field titles,
 * tag and list names behind ids) comes from the source's metadata answers,
 * kept in a Meta.  The replay source and the HTTP connectors both feed
 * answers through these functions, so they read records the same way.
 *
 * A record that cannot be read (a value that does not fit its field, no
 * id) is reported to the sink's bad() with its id and the reason, and
 * decoding goes on with the next one; only an answer of the wrong shape
 * fails the whole call.
 */
#ifndef TD_CODEC_H
#define TD_CODEC_H

#include <cJSON.h>

#include "arena.h"
#include "buf.h"
#include "bytecode.h"
#include "plan.h"
#include "record.h"
#include "symtab.h"

/* Names behind the ids a system uses. */
typedef enum MetaKind {
    META_FIELD,            /* custom contact fields: ActiveCampaign /fields, GetResponse /custom-fields */
    META_DEAL_FIELD,       /* ActiveCampaign /dealCustomFieldMeta */
    META_TAG,              /* ActiveCampaign /tags, GetResponse /tags */
    META_LIST,             /* ActiveCampaign /lists, GetResponse /campaigns */
    META_AUTOMATION,       /* ActiveCampaign /automations */
    META__COUNT
} MetaKind;

typedef struct MetaEntry {
    const char *id, *name, *type;   /* type: the system's own (e.g. "dropdown"), or NULL */
} MetaEntry;

typedef struct Meta {
    Arena *a;
    Symtab by_id[META__COUNT], by_name[META__COUNT];   /* -> MetaEntry */
} Meta;

void meta_init(Meta *m, Arena *a);
/* Adds or replaces an entry (strings are copied). */
void meta_put(Meta *m, MetaKind k, const char *id, const char *name, const char *type);
const MetaEntry *meta_by_id(const Meta *m, MetaKind k, const char *id);
const MetaEntry *meta_by_name(const Meta *m, MetaKind k, const char *name);

/* The id of a named thing a change needs (a tag, list, automation or
 * custom field), created in the system when it lacks one; NULL when it
 * cannot be had.  The source supplies it: the replay source makes up ids
 * and writes the creating request to its outbox, a connector sends it. */
typedef const char *(*MetaEnsureFn)(void *ctx, MetaKind kind, const char *name);

typedef struct CodecCtx {
    const Program *p;
    Arena *a;              /* records and their text go here (the batch arena) */
    Meta *meta;            /* the source's names and ids */
    MetaEnsureFn ensure;   /* for encode */
    void *ensure_ctx;
    int assign_leads;      /* Salesforce: run lead assignment rules on created leads (B34) */
    /* What a page needs only while it is read (a scanner's sideload
     * groups), where records go straight into the batch arena: the
     * source's own arena, reset after each page so its blocks serve the
     * next; NULL, or busy (a page read inside a page), for one per page. */
    Arena *scratch;
    int scratch_busy;
} CodecCtx;

/* One request as the API takes it. */
typedef struct Request {
    const char *method;    /* "POST", "PATCH", "PUT", "DELETE" */
    const char *path;      /* under the API base, query included: "/sobjects/Lead/00Q1" */
    const char *body;      /* JSON text, or NULL */
    const char *headers;   /* extra headers as "Name: value" lines, or NULL */
} Request;

typedef struct RequestList {
    Request *v;            /* in the CodecCtx's arena */
    uint32_t n, cap;
} RequestList;

/* Appends a request (its strings are copied into a). */
void request_add(RequestList *l, Arena *a, const char *method, const char *path, const char *body, const char *headers);

/* Where decoded records go.  bad() gets the record's id (NULL when it has
 * none) and why it could not be read. */
typedef struct RecordSink {
    void *ctx;
    void (*record)(void *ctx, Record *r);
    void (*bad)(void *ctx, const char *id, const char *reason);
    /* Optional (NULL): the source is done with a page, and with whatever it
     * decoded for it in the CodecCtx's arena; the records delivered so far
     * may be dropped, arena and all (the engine's streamed reads). */
    void (*page_end)(void *ctx);
} RecordSink;

typedef struct Codec {
    const char *system;    /* as stdlib names it: "salesforce" */
    /* The metadata answers the codec reads, NULL-terminated, e.g. "fields",
     * "tags", "lists"; the replay layout keeps each in <name>.json. */
    const char *const *meta;
    /* Reads one metadata answer (what is one of meta[]) into cx->meta. */
    int (*decode_meta)(CodecCtx *cx, const char *what, const cJSON *answer, Buf *err);
    /* Reads one answer of the object's list or query endpoint.  Every
     * record goes to the sink; next gets the next page's address when the
     * answer names one (Salesforce nextRecordsUrl, OData @odata.nextLink),
     * and stays empty otherwise.  -1 with err when the answer is not of the
     * shape the API gives. */
    int (*decode_page)(CodecCtx *cx, uint32_t object, const cJSON *answer, RecordSink *sink, Buf *next, Buf *err);
    /* Reads an answer listing deleted records (Salesforce getDeleted;
     * ActiveCampaign, Dynamics 365 and GetResponse report deletes inside
     * their pages, and leave this NULL): ids() gets each deleted id. */
    int (*decode_deleted)(CodecCtx *cx, uint32_t object, const cJSON *answer, void *ctx,
                          void (*ids)(void *ctx, const char *id, int64_t when), Buf *err);
    /* The requests that carry one change of a plan (plan.h), in the order
     * they must be sent.  id is the record written (for an action on a
     * record the plan creates, the id its create got); NULL for a create.
     * Names the change needs ids for go through cx->ensure.  -1 with err
     * when the change cannot be expressed in this API. */
    int (*encode)(CodecCtx *cx, const Change *c, const char *id, RequestList *out, Buf *err);
    /* The id of the record a create made, from the answer to its last
     * request (status: the HTTP status).  -1 with err when the answer
     * reports a failure or names no id. */
    int (*created_id)(CodecCtx *cx, const Change *c, int status, const cJSON *answer, Buf *id, Buf *err);
    /* decode_page straight from the answer's text, never building its tree
     * (jscan.h): the hot path of a large read.  NULL where a codec has
     * none, and decode_page serves. */
    int (*scan_page)(CodecCtx *cx, uint32_t object, const char *text, size_t n, RecordSink *sink, Buf *next, Buf *err);
    /* The system makes a created record after answering, and the answer
     * names no id (GetResponse's 202): replay answers the same way, so a
     * plan over recorded answers does what a live run can. */
    int creates_later;
} Codec;

/* The codec of a system, or NULL when tandem has none. */
const Codec *codec_for(const char *system);

/* How errors name a change: "create Lead", "update contact 7",
 * "tag \"vip\" on contact 7" (in cx's arena). */
const char *codec_what(CodecCtx *cx, const Change *c, const char *id);
/* Whether a record id may go into a request's path (or an OData bind):
 * only letters, digits, '-', '_' and '.', which every system's ids are made
 * of, at most 128, and not "." or "..", so none can reach another
 * resource. */
int codec_id_ok(const char *id);

/* A scanner's memory of the keys of a page's last record, in order: an API
 * answers every record of a page with the same keys in the same order, so
 * a key is compared with the one at its place before it is hashed.  The
 * keys point into the page's text, which outlives the scan; zero it per
 * page. */
#define CODEC_SHAPE 64
typedef struct CodecShape {
    const char *key[CODEC_SHAPE];
    size_t len[CODEC_SHAPE];
    int fid[CODEC_SHAPE];
} CodecShape;
/* The field of object named by key k (n bytes), the i-th of its record;
 * -1 for none.  keep: k points into the page's text (not a scratch
 * buffer), so it may be remembered. */
int codec_field_at(const Program *p, uint32_t object, CodecShape *sh, int i, const char *k, size_t n, int keep);

/* Dynamics 365: the entity set of a table's logical name (lead -> leads),
 * which its codec writes to and its connector reads from. */
const char *d365_entity_set(Arena *a, const char *logical);

#endif
