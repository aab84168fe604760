/* salesforce.c - the Salesforce REST connector (docs/connectors/salesforce.md).
 *
 * Logs in with the OAuth2 refresh-token flow and again once when the
 * session expires.  Reads with SOQL: changes by SystemModstamp through
 * queryAll (so deleted records come back with IsDeleted), records by id
 * and by match key with IN lists, following nextRecordsUrl.  Writes
 * through sObject Collections, 200 records a request, each record's
 * result mapped back to its change.  Every value placed in a query is a
 * quoted, escaped SOQL literal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "types.h"

enum { SF_BATCH = 200, SF_IN = 100 };

typedef struct Sf {
    Live L;
    const char *instance;  /* where data calls go (the token answer's instance_url) */
    const char *token_url;
    const char *version;   /* "60.0" */
    const char *client_id, *client_secret, *refresh_token;
} Sf;

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *j) { return cJSON_IsString(j) ? j->valuestring : NULL; }

/* "errorCode: message; ..." of an error array, or an OAuth error object. */
static void sf_failure(const cJSON *a, Buf *out) {
    const cJSON *e;
    if (cJSON_IsObject(a) && str(get(a, "error"))) {
        buf_printf(out, "%s", str(get(a, "error")));
        if (str(get(a, "error_description"))) buf_printf(out, ": %s", str(get(a, "error_description")));
        return;
    }
    int n = 0;
    const cJSON *list = cJSON_IsArray(a) ? a : get(a, "errors");
    cJSON_ArrayForEach(e, list) {
        const char *code = str(get(e, "errorCode")) ? str(get(e, "errorCode")) : str(get(e, "statusCode"));
        const char *msg = str(get(e, "message"));
        buf_printf(out, "%s%s%s%s", n++ ? "; " : "", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
    }
}

static int sf_login(Live *L, Buf *err) {
    Sf *S = (Sf *)L;
    Buf form;
    buf_init(&form);
    live_form(&form, "grant_type", "refresh_token");
    live_form(&form, "client_id", S->client_id);
    live_form(&form, "client_secret", S->client_secret);
    live_form(&form, "refresh_token", S->refresh_token);
    const char *what = arena_printf(&L->a, "source %s: Salesforce login (POST %s)", L->base.name, S->token_url);
    cJSON *a = NULL;
    int rc = live_oauth(L, S->token_url, &form, what, "the auth settings client_id, client_secret and refresh_token", &a, err);
    /* the org's own host, which data calls must use */
    const char *inst = str(get(a, "instance_url"));
    if (rc == 0 && inst && *inst) S->instance = arena_strdup(&L->a, inst);
    cJSON_Delete(a);
    buf_free(&form);
    return rc;
}

static const char *sf_base(Sf *S) { return arena_printf(&S->L.a, "%s/services/data/v%s", S->instance, S->version); }

/* A SOQL literal: quoted, with the escapes SOQL defines, so a value can
 * never end the literal and add a condition. */
static void soql_literal(Buf *b, const PField *f, const char *v) {
    char fam = type_family((TypeKind)f->type);
    if ((fam == 'n' || fam == 'b') && *v && strspn(v, "0123456789.-+eEtrufals") == strlen(v)) {
        buf_puts(b, v);
        return;
    }
    buf_putc(b, '\'');
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '\'': buf_puts(b, "\\'"); break;
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        case '\b': buf_puts(b, "\\b"); break;
        case '\f': buf_puts(b, "\\f"); break;
        default: buf_putc(b, *p);
        }
    }
    buf_putc(b, '\'');
}

static const PField *field_of(const Program *p, uint32_t object, int f) {
    return &p->fields[p->objects[object].first_field + (uint32_t)f];
}

/* SELECT every field the rules know of the object. */
static void soql_select(const Program *p, uint32_t object, Buf *q) {
    const PObject *o = &p->objects[object];
    buf_puts(q, "SELECT ");
    for (uint32_t i = 0; i < o->nfields; i++)
        buf_printf(q, "%s%s", i ? ", " : "", program_str(p, p->fields[o->first_field + i].name));
    buf_printf(q, " FROM %s", program_str(p, o->name));
}

/* Runs a query and every page behind it into the sink. */
static int sf_query(Sf *S, uint32_t object, const char *endpoint, const char *soql, LiveSink *ls, Buf *err) {
    Live *L = &S->L;
    Connector *c = &L->base;
    const char *oname = program_str(c->p, c->p->objects[object].name);
    Buf url, next;
    buf_init(&url);
    buf_init(&next);
    buf_printf(&url, "%s/%s?q=", sf_base(S), endpoint);
    http_escape(&url, soql);
    const char *hv[] = {"Accept: application/json", "Sforce-Query-Options: batchSize=2000", NULL};
    int rc = 0;
    for (int page = 1; rc == 0; page++) {
        const char *what = arena_printf(&L->a, "source %s: GET %s %s page %d", c->name, endpoint, oname, page);
        buf_reset(&next);
        if (live_read_page(L, object, buf_str(&url), hv, what, &ls->sink, &next, err) != 0) rc = -1;
        if (rc == 0) live_page_end(ls);
        if (rc || !next.n) break;
        /* nextRecordsUrl is a path on the instance */
        buf_reset(&url);
        buf_printf(&url, "%s%s", S->instance, buf_str(&next));
    }
    buf_free(&url);
    buf_free(&next);
    return rc;
}

static int sf_changed(Connector *c, uint32_t object, ChangeCursor *cur, RecordSink *sink, Buf *err) {
    int64_t since = cur->since, *newest = &cur->newest;
    Sf *S = (Sf *)c;
    const Program *p = c->p;
    const PObject *o = &p->objects[object];
    Buf q;
    buf_init(&q);
    soql_select(p, object, &q);
    const char *mod = o->modified >= 0 ? program_str(p, field_of(p, object, o->modified)->name) : "SystemModstamp";
    if (since != INT64_MIN) {
        buf_printf(&q, " WHERE %s > ", mod);
        live_time(since, TIME_Z, &q);
    }
    buf_printf(&q, " ORDER BY %s ASC", mod);
    LiveSink ls;
    live_sink_init(&ls, &S->L, sink);
    /* queryAll also returns what was deleted since (IsDeleted), which a
     * first read has no use for */
    int rc = sf_query(S, object, since == INT64_MIN ? "query" : "queryAll", buf_str(&q), &ls, err);
    if (rc == 0 && ls.newest != INT64_MIN && ls.newest > *newest) *newest = ls.newest;
    /* find and get query the same rows (not the deleted) */
    cur->whole = rc == 0 && since == INT64_MIN;
    live_sink_free(&ls);
    buf_free(&q);
    return rc;
}

/* Records whose field is one of values, SF_IN values a query. */
static int sf_where_in(Live *L, uint32_t object, int field, const char *const *values, uint32_t n, LiveSink *ls,
                       Buf *err) {
    Sf *S = (Sf *)L;
    const Program *p = S->L.base.p;
    const PField *f = field_of(p, object, field);
    for (uint32_t i = 0; i < n; i += SF_IN) {
        Buf q;
        buf_init(&q);
        soql_select(p, object, &q);
        buf_printf(&q, " WHERE %s IN (", program_str(p, f->name));
        for (uint32_t k = i; k < n && k < i + SF_IN; k++) {
            if (k > i) buf_puts(&q, ", ");
            soql_literal(&q, f, values[k]);
        }
        buf_puts(&q, ")");
        int rc = sf_query(S, object, "query", buf_str(&q), ls, err);
        buf_free(&q);
        if (rc) return -1;
    }
    return 0;
}

static int sf_get(Connector *c, uint32_t object, const char *const *ids, uint32_t n, RecordSink *sink, Buf *err) {
    const PObject *o = &c->p->objects[object];
    LiveSink ls;
    live_sink_init(&ls, (Live *)c, sink);
    int rc = sf_where_in((Live *)c, object, o->key >= 0 ? o->key : 0, ids, n, &ls, err);
    live_sink_free(&ls);
    return rc;
}

static int sf_find(Connector *c, uint32_t object, int field, const char *const *values, uint32_t n, ConnectorKeyFn key,
                   void *kctx, RecordSink *sink, Buf *err) {
    /* SOQL compares text without case; the key function decides exactly */
    return live_find((Live *)c, object, field, values, n, key, kctx, sink, sf_where_in, err);
}

/* ------------------------------------------------------------ writing */

typedef struct Group {
    const char *method;    /* POST, PATCH, DELETE */
    const char *object;
    const char *header;    /* Sforce-Auto-Assign, or NULL */
    uint32_t first, n;     /* into the pending arrays */
} Group;

typedef struct Pending {
    uint32_t i;            /* index into idx/res */
    cJSON *record;         /* POST/PATCH: the record; DELETE: NULL */
    const char *id;
} Pending;

/* Sends one collection request for pend[0..n) and maps each answer to its
 * change.  A request refused as a whole (a 4xx naming no record) is split
 * in two and each half sent again, down to single records, so the good
 * ones go through and only a bad one is refused, with its own reason: a
 * create refused so was not made (the answer says so), so sending it
 * again in a smaller request makes nothing twice. */
static int sf_send(Sf *S, const Plan *pl, const uint32_t *idx, ApplyResult *res, const Group *g, Pending *pend,
                   uint32_t n, Buf *err) {
    Live *L = &S->L;
    Connector *c = &L->base;
    Buf url;
    buf_init(&url);
    buf_printf(&url, "%s/composite/sobjects", sf_base(S));
    char *body = NULL;
    if (!strcmp(g->method, "DELETE")) {
        buf_puts(&url, "?allOrNone=false&ids=");
        for (uint32_t k = 0; k < n; k++) {
            if (k) buf_puts(&url, ",");
            http_escape(&url, pend[k].id);
        }
    } else {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddFalseToObject(root, "allOrNone");
        cJSON *recs = cJSON_AddArrayToObject(root, "records");
        /* references: the records stay the caller's, for a split */
        for (uint32_t k = 0; k < n; k++) cJSON_AddItemReferenceToArray(recs, pend[k].record);
        body = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
    }
    const char *hv[] = {"Content-Type: application/json", "Accept: application/json", g->header, NULL};
    const char *what = arena_printf(&L->a, "source %s: %s composite/sobjects (%u %s)", c->name, g->method, n, g->object);
    HttpResponse r;
    http_response_init(&r);
    int rc = live_send(L, g->method, buf_str(&url), hv, body, !strcmp(g->method, "POST") ? HTTP_ONCE : 0, what, &r, err);
    cJSON_free(body);
    buf_free(&url);
    if (rc != 0) {
        http_response_free(&r);
        return -1;
    }
    Buf perr;
    buf_init(&perr);
    cJSON *a = live_parse(&r, what, &perr);
    int split = 0;
    if (r.status >= 500 || r.status == 401 || r.status == 403 || (r.status < 300 && (perr.n || !cJSON_IsArray(a)))) {
        /* the system, not a record, failed (or its answer cannot be read):
         * what happened to these records is not known, so the run stops
         * and the next one settles them (docs/state.md) */
        if (perr.n) buf_puts(err, buf_str(&perr));
        else if (r.status < 300) buf_printf(err, "%s: the answer is not a list of results", what);
        else live_failed(L, &r, a, what, err);
        rc = -1;
    } else if (r.status >= 300 && n > 1) {
        split = 1;
    } else if (r.status >= 300) {
        /* the request of one record was refused: that record is */
        Buf m;
        buf_init(&m);
        live_failed(L, &r, a, what, &m);
        res[pend[0].i].error = arena_strdup(&L->a, buf_str(&m));
        buf_free(&m);
    } else {
        cJSON *e = a->child;
        for (uint32_t k = 0; k < n; k++, e = e ? e->next : NULL) {
            ApplyResult *out = &res[pend[k].i];
            const Change *ch = &pl->changes[idx[pend[k].i]];
            Buf id, why;
            buf_init(&id);
            buf_init(&why);
            if (!e) {
                out->error = "Salesforce gave no result for this record";
            } else if (ch->kind == CH_CREATE) {
                if (c->codec->created_id(&c->cx, ch, 200, e, &id, &why) == 0) {
                    out->ok = 1;
                    out->id = arena_strdup(&L->a, buf_str(&id));
                } else {
                    out->error = arena_strdup(&L->a, buf_str(&why));
                }
            } else if (cJSON_IsTrue(get(e, "success"))) {
                out->ok = 1;
            } else {
                sf_failure(get(e, "errors"), &why);
                out->error = arena_strdup(&L->a, why.n ? buf_str(&why) : "Salesforce refused it");
            }
            if (out->ok) L->written++;
            buf_free(&id);
            buf_free(&why);
        }
    }
    cJSON_Delete(a);
    buf_free(&perr);
    http_response_free(&r);
    if (split) {
        uint32_t half = n / 2;
        rc = sf_send(S, pl, idx, res, g, pend, half, err);
        if (rc == 0) rc = sf_send(S, pl, idx, res, g, pend + half, n - half, err);
    }
    return rc;
}

/* Sends the pending group. */
static int sf_flush(Sf *S, const Plan *pl, const uint32_t *idx, ApplyResult *res, Group *g, Pending *pend, Buf *err) {
    if (!g->n) return 0;
    int rc = sf_send(S, pl, idx, res, g, pend + g->first, g->n, err);
    g->first += g->n;
    g->n = 0;
    return rc;
}

static int sf_apply(Connector *c, const Plan *pl, const uint32_t *idx, uint32_t n, ApplyResult *res, Buf *err) {
    Sf *S = (Sf *)c;
    Live *L = &S->L;
    Arena a;
    arena_init(&a);
    CodecCtx cx = c->cx;
    cx.a = &a;
    Pending *pend = calloc(n + 1, sizeof *pend);
    if (!pend) abort();
    Group g = {NULL, NULL, NULL, 0, 0};
    uint32_t np = 0;
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const Change *ch = &pl->changes[idx[i]];
        /* an update of a record this call creates: its create must have answered */
        if (ch->created >= 0 && (rc = sf_flush(S, pl, idx, res, &g, pend, err)) != 0) break;
        RequestList rl = {NULL, 0, 0};
        if (!live_encode(L, &cx, pl, idx, res, i, &rl)) continue;
        const Request *rq = &rl.v[0];
        const char *object = program_str(c->p, c->p->objects[ch->object].name);
        char *header = NULL;
        if (rq->headers) {
            header = arena_strdup(&a, rq->headers);
            header[strcspn(header, "\n")] = 0;
        }
        int same = g.n && g.n < SF_BATCH && !strcmp(g.method, rq->method) && !strcmp(g.object, object) &&
                   ((!g.header && !header) || (g.header && header && !strcmp(g.header, header)));
        if (!same && (rc = sf_flush(S, pl, idx, res, &g, pend, err)) != 0) break;
        if (!g.n) {
            g.method = rq->method;
            g.object = object;
            g.header = header;
            g.first = np;
        }
        const char *why = NULL, *id = connector_target(pl, idx, res, i, &why);
        Pending *pd = &pend[np++];
        pd->i = i;
        pd->id = id;
        if (strcmp(rq->method, "DELETE")) {
            cJSON *rec = cJSON_Parse(rq->body ? rq->body : "{}");
            if (!cJSON_IsObject(rec)) {
                cJSON_Delete(rec);
                rec = cJSON_CreateObject();
            }
            cJSON *attr = cJSON_CreateObject();
            cJSON_AddStringToObject(attr, "type", object);
            cJSON_AddItemToObject(rec, "attributes", attr);
            if (id && ch->kind != CH_CREATE) cJSON_AddStringToObject(rec, "id", id);
            pd->record = rec;
        }
        g.n++;
    }
    if (rc == 0) rc = sf_flush(S, pl, idx, res, &g, pend, err);
    for (uint32_t k = 0; k < np; k++) cJSON_Delete(pend[k].record);
    free(pend);
    arena_free(&a);
    return rc;
}

static void sf_close(Connector *c) {
    Sf *S = (Sf *)c;
    live_close(&S->L);
    free(S);
}

static const ConnectorOps sf_ops = {sf_changed, sf_get, sf_find, NULL, sf_apply, sf_close};

Connector *salesforce_open(const Program *p, const PSource *src, const LiveOptions *o, Buf *err) {
    Sf *S = calloc(1, sizeof *S);
    if (!S) abort();
    Live *L = &S->L;
    if (live_init(L, &sf_ops, p, src, o, 0, err) != 0) goto fail;
    L->login = sf_login;
    L->failure = sf_failure;
    const PSetting *as = program_setting(p, src, "assignment_rules");
    L->base.cx.assign_leads = as && as->kind == SET_VALUE && p->consts[as->value].t == VT_BOOL && p->consts[as->value].u.b;
    if (!(S->instance = live_require(L, "instance", err))) goto fail;
    if (!(S->client_id = live_require(L, "auth.client_id", err))) goto fail;
    if (!(S->client_secret = live_require(L, "auth.client_secret", err))) goto fail;
    if (!(S->refresh_token = live_require(L, "auth.refresh_token", err))) goto fail;
    size_t had = err->n;
    S->version = live_setting(L, "api_version", err);
    const char *token = live_setting(L, "auth.token_url", err), *login = live_setting(L, "auth.login_url", err);
    if (!login) login = live_setting(L, "login_url", err);
    if (err->n != had) goto fail;
    if (!S->version) S->version = "60.0";
    if (S->version[0] == 'v') S->version++;
    /* the org's own host takes the refresh-token flow too, so the
     * instance serves when no login URL is given */
    size_t il = strlen(S->instance);
    while (il && S->instance[il - 1] == '/') il--;
    S->instance = arena_strndup(&L->a, S->instance, il);
    S->token_url = token ? token : arena_printf(&L->a, "%s/services/oauth2/token", login ? login : S->instance);
    if (sf_login(L, err) != 0) goto fail;
    return &L->base;
fail:
    if (L->http) live_close(L);
    free(S);
    return NULL;
}
