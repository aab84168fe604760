/* activecampaign.c - the ActiveCampaign API v3 connector
 * (docs/connectors/activecampaign.md).
 *
 * The key goes in the Api-Token header.  Requests are spaced to the
 * account's rate (5 a second unless the source says otherwise), since the
 * API answers 429 past it.  Reads are offset pages of 100 with the
 * sideloads the codec needs (field values, tags, lists, accounts), sorted
 * by udate so a cursor never skips a record.  Writes go one request a
 * change, as the API has no batch endpoint that answers per-record ids:
 * contacts are upserted by e-mail through /contact/sync, which makes a
 * repeated create harmless.  Tags and custom fields a rule names are
 * created when the account lacks them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "types.h"

enum { AC_PAGE = 100, AC_IDS = 100, AC_FIND_ONE_BY_ONE = 20 };

typedef struct Ac {
    Live L;
    const char *base;      /* <url>/api/3 */
} Ac;

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *j) { return cJSON_IsString(j) ? j->valuestring : NULL; }

static void ac_failure(const cJSON *a, Buf *out) {
    const cJSON *e, *errors = get(a, "errors");
    int n = 0;
    cJSON_ArrayForEach(e, errors) {
        const char *t = str(get(e, "title")) ? str(get(e, "title")) : str(get(e, "detail"));
        if (t) buf_printf(out, "%s%s", n++ ? "; " : "", t);
    }
    if (!n && str(get(a, "message"))) buf_puts(out, str(get(a, "message")));
}

/* What the list endpoint of an object is called, and what to sideload. */
static int ac_endpoint(const char *object, const char **plural, const char **include) {
    if (!strcmp(object, "contact")) {
        *plural = "contacts";
        *include = "fieldValues,contactTags,contactLists,accountContacts";
    } else if (!strcmp(object, "deal")) {
        *plural = "deals";
        *include = "dealCustomFieldData";
    } else if (!strcmp(object, "account")) {
        *plural = "accounts";
        *include = NULL;
    } else {
        return -1;
    }
    return 0;
}

static int digits(const char *s) { return s && *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 20; }

/* Reads every page of a list request (query: its filters) into the sink.
 * Offsets move by the rows a page held, until a short page, or (newest
 * first) until a page reaches records older than ls->since. */
static int ac_list(Ac *A, uint32_t object, const char *query, LiveSink *ls, Buf *err) {
    Live *L = &A->L;
    Connector *c = &L->base;
    const char *oname = program_str(c->p, c->p->objects[object].name), *plural, *include;
    if (ac_endpoint(oname, &plural, &include) != 0) {
        buf_printf(err, "source %s: tandem reads only ActiveCampaign contacts, deals and accounts, not %s", c->name, oname);
        return -1;
    }
    const char *hv[] = {"Accept: application/json", NULL};
    for (long offset = 0, page = 1;; page++) {
        Buf url, next;
        buf_init(&url);
        buf_init(&next);
        const char *dir = ls->since != INT64_MIN ? "desc" : "asc";   /* the spec's enum is lower case */
        buf_printf(&url, "%s/%s?%s%sorders%%5Budate%%5D=%s&orders%%5Bid%%5D=%s&limit=%d&offset=%ld", A->base, plural,
                   query ? query : "", query ? "&" : "", dir, dir, AC_PAGE, offset);
        if (include) buf_printf(&url, "&include=%s", include);
        const char *what = arena_printf(&L->a, "source %s: GET /%s page %ld", c->name, plural, page);
        /* scanned, not built (unless --record keeps the page); its size is
         * what the codec reported, read or refused */
        uint32_t before = ls->rows;
        int rc = live_read_page(L, object, buf_str(&url), hv, what, &ls->sink, &next, err);
        buf_free(&url);
        buf_free(&next);
        if (rc) return -1;
        uint32_t rows = ls->rows - before;
        live_page_end(ls);
        if (rows < AC_PAGE || ls->older) return 0;
        offset += rows;
    }
}

static int ac_changed(Connector *c, uint32_t object, ChangeCursor *cur, RecordSink *sink, Buf *err) {
    int64_t since = cur->since, *newest = &cur->newest;
    Ac *A = (Ac *)c;
    Buf q;
    buf_init(&q);
    LiveSink ls;
    live_sink_init(&ls, &A->L, sink);
    if (since != INT64_MIN) {
        /* The API takes a date here (YYYY-MM-DD, in the account's time
         * zone), so the day before the cursor's is asked for, which no time
         * zone can put after the cursor; newest first, the read stops at
         * the first page that reaches back past the cursor. */
        Buf t;
        buf_init(&t);
        live_time(since - 86400000, TIME_Z, &t);
        buf_puts(&q, "filters%5Bupdated_after%5D=");
        buf_putn(&q, buf_str(&t), 10);
        buf_free(&t);
        ls.since = since;
    }
    int rc = ac_list(A, object, q.n ? buf_str(&q) : NULL, &ls, err);
    if (rc == 0 && ls.newest != INT64_MIN && ls.newest > *newest) *newest = ls.newest;
    /* find lists the same endpoint with an e-mail filter */
    cur->whole = rc == 0 && since == INT64_MIN;
    live_sink_free(&ls);
    buf_free(&q);
    return rc;
}

static int ac_get(Connector *c, uint32_t object, const char *const *ids, uint32_t n, RecordSink *sink, Buf *err) {
    Ac *A = (Ac *)c;
    LiveSink ls;
    live_sink_init(&ls, &A->L, sink);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i += AC_IDS) {
        Buf q;
        buf_init(&q);
        buf_puts(&q, "ids=");
        uint32_t k0 = q.n;
        for (uint32_t k = i; k < n && k < i + AC_IDS; k++) {
            /* an id that is not a number cannot be one of the API's */
            if (!digits(ids[k])) continue;
            if (q.n > k0) buf_puts(&q, ",");
            buf_puts(&q, ids[k]);
        }
        if (q.n > k0) rc = ac_list(A, object, buf_str(&q), &ls, err);
        buf_free(&q);
    }
    live_sink_free(&ls);
    return rc;
}

/* How many records the object has (meta.total), -1 when not known. */
static long ac_total(Ac *A, const char *plural, Buf *err) {
    Live *L = &A->L;
    const char *url = arena_printf(&L->a, "%s/%s?limit=1", A->base, plural);
    const char *what = arena_printf(&L->a, "source %s: GET /%s?limit=1", L->base.name, plural);
    const char *hv[] = {"Accept: application/json", NULL};
    cJSON *a = NULL;
    if (live_json(L, "GET", url, hv, NULL, 0, what, &a, err) != 0) return -2;
    const cJSON *t = get(get(a, "meta"), "total");
    long n = live_count(t);
    cJSON_Delete(a);
    return n;
}

/* One request a value, or every page of the list: whichever is fewer. */
static int ac_where_in(Live *L, uint32_t object, int field, const char *const *values, uint32_t n, LiveSink *ls,
                       Buf *err) {
    Ac *A = (Ac *)L;
    const Program *p = L->base.p;
    const PObject *o = &p->objects[object];
    const char *fname = program_str(p, p->fields[o->first_field + (uint32_t)field].name);
    const char *oname = program_str(p, o->name), *plural, *include;
    int rc = 0, one_by_one = !strcmp(oname, "contact") && !strcmp(fname, "email");
    if (one_by_one && n > AC_FIND_ONE_BY_ONE && ac_endpoint(oname, &plural, &include) == 0) {
        long total = ac_total(A, plural, err);
        if (total < -1) rc = -1;
        else if (total >= 0 && (total + AC_PAGE - 1) / AC_PAGE < (long)n) one_by_one = 0;
    }
    if (rc == 0 && one_by_one) {
        for (uint32_t i = 0; i < n && rc == 0; i++) {
            Buf q;
            buf_init(&q);
            buf_puts(&q, "email=");
            http_escape(&q, values[i]);
            rc = ac_list(A, object, buf_str(&q), ls, err);
            buf_free(&q);
        }
    } else if (rc == 0) {
        rc = ac_list(A, object, NULL, ls, err);
    }
    return rc;
}

static int ac_find(Connector *c, uint32_t object, int field, const char *const *values, uint32_t n, ConnectorKeyFn key,
                   void *kctx, RecordSink *sink, Buf *err) {
    return live_find((Live *)c, object, field, values, n, key, kctx, sink, ac_where_in, err);
}

static int ac_tagged(Connector *c, uint32_t object, const char *const *tags, uint32_t n, RecordSink *sink, Buf *err) {
    Ac *A = (Ac *)c;
    LiveSink ls;
    live_sink_init(&ls, &A->L, sink);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const MetaEntry *t = meta_by_name(&c->meta, META_TAG, tags[i]);
        if (!t || !digits(t->id)) continue;   /* a tag the account lacks is on no one */
        char q[64];
        snprintf(q, sizeof q, "tagid=%s", t->id);
        rc = ac_list(A, object, q, &ls, err);
    }
    live_sink_free(&ls);
    return rc;
}

/* ------------------------------------------------------------ writing */

typedef struct Ensure {
    Ac *A;
    Buf *err;              /* a failure of the source itself */
} Ensure;

/* Tags and custom fields a change names, created when missing; lists and
 * automations are built in ActiveCampaign's own screens. */
static const char *ac_ensure(void *ctx, MetaKind kind, const char *name) {
    Ensure *en = ctx;
    Ac *A = en->A;
    Live *L = &A->L;
    const MetaEntry *have = meta_by_name(&L->base.meta, kind, name);
    if (have) return have->id;
    if (kind != META_TAG && kind != META_FIELD) return NULL;
    cJSON *root = cJSON_CreateObject();
    if (kind == META_TAG) {
        cJSON *t = cJSON_AddObjectToObject(root, "tag");
        cJSON_AddStringToObject(t, "tag", name);
        cJSON_AddStringToObject(t, "tagType", "contact");
        cJSON_AddStringToObject(t, "description", "");
    } else {
        cJSON *f = cJSON_AddObjectToObject(root, "field");
        cJSON_AddStringToObject(f, "type", "text");
        cJSON_AddStringToObject(f, "title", name);
    }
    char *body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    const char *path = kind == META_TAG ? "tags" : "fields", *wrap = kind == META_TAG ? "tag" : "field";
    const char *url = arena_printf(&L->a, "%s/%s", A->base, path);
    const char *what = arena_printf(&L->a, "source %s: POST /%s", L->base.name, path);
    const char *hv[] = {"Content-Type: application/json", "Accept: application/json", NULL};
    cJSON *a = NULL;
    const char *id = NULL;
    Buf err;
    buf_init(&err);
    if (live_json(L, "POST", url, hv, body, HTTP_ONCE, what, &a, &err) == 0) {
        char b[32];
        const cJSON *j = get(get(a, wrap), "id");
        const char *s = str(j);
        if (!s && cJSON_IsNumber(j)) {
            snprintf(b, sizeof b, "%.0f", j->valuedouble);
            s = b;
        }
        if (s && *s) {
            meta_put(&L->base.meta, kind, s, name, kind == META_FIELD ? "text" : NULL);
            id = meta_by_name(&L->base.meta, kind, name)->id;
        }
    }
    if (err.n && !en->err->n) buf_puts(en->err, buf_str(&err));
    buf_free(&err);
    cJSON_Delete(a);
    cJSON_free(body);
    if (id && kind == META_FIELD) {
        /* a field shows on contacts once related to lists; relid 0 is every list */
        char *rel = NULL;
        cJSON *r = cJSON_CreateObject(), *fr = cJSON_AddObjectToObject(r, "fieldRel");
        cJSON_AddStringToObject(fr, "field", id);
        cJSON_AddNumberToObject(fr, "relid", 0);
        rel = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
        Buf ignore;
        buf_init(&ignore);
        cJSON *ra = NULL;
        live_json(L, "POST", arena_printf(&L->a, "%s/fieldRels", A->base), hv, rel, 0,
                  arena_printf(&L->a, "source %s: POST /fieldRels", L->base.name), &ra, &ignore);
        cJSON_Delete(ra);
        buf_free(&ignore);
        cJSON_free(rel);
    }
    return id;
}

/* The record's change time after the write, where an answer carries the
 * record ({"contact": {..., "udate": ...}}): the latest of the change's
 * requests (ApplyResult.modified).  An answer about something else (a
 * field value, a tagging) leaves it; a later one that bumps the record
 * without saying so only makes the next read a change again. */
static void written_at(Connector *c, const Change *ch, const cJSON *answer, ApplyResult *out) {
    const Program *p = c->p;
    if (ch->kind == CH_DELETE || ch->object >= p->nobjects) return;
    const PObject *o = &p->objects[ch->object];
    if (o->modified < 0 || p->fields[o->first_field + (uint32_t)o->modified].type != TY_DATETIME) return;
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(answer, program_str(p, o->name));
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, program_str(p, p->fields[o->first_field + (uint32_t)o->modified].name));
    int64_t ms;
    if (cJSON_IsString(t) && parse_datetime(t->valuestring, strlen(t->valuestring), &ms) == 0 && ms > out->modified)
        out->modified = ms;
}

/* Sends the requests of one change (their strings in the change's arena
 * scratch); 1 when the source failed (stop), 0 otherwise with the outcome in
 * out. */
static int ac_send(Ac *A, Arena *scratch, const Change *ch, const RequestList *rl, ApplyResult *out, Buf *err) {
    Live *L = &A->L;
    Connector *c = &L->base;
    for (uint32_t k = 0; k < rl->n; k++) {
        const Request *rq = &rl->v[k];
        const char *url = arena_printf(scratch, "%s%s", A->base, rq->path);
        const char *what = arena_printf(scratch, "source %s: %s %s", c->name, rq->method, rq->path);
        const char *hv[] = {"Content-Type: application/json", "Accept: application/json", NULL};
        /* /contact/sync upserts by e-mail, so only other creates must not repeat */
        int once = !strcmp(rq->method, "POST") && strcmp(rq->path, "/contact/sync") != 0;
        HttpResponse r;
        http_response_init(&r);
        if (live_send(L, rq->method, url, hv, rq->body, once ? HTTP_ONCE : 0, what, &r, err) != 0) {
            http_response_free(&r);
            return 1;
        }
        Buf perr;
        buf_init(&perr);
        cJSON *a = live_parse(&r, what, &perr);
        int stop = 0;
        if (r.status >= 500 || r.status == 401 || r.status == 403 || r.status == 429 ||
            (r.status < 300 && perr.n)) {
            /* the account, not the record, failed: the run stops here */
            if (perr.n) buf_puts(err, buf_str(&perr));
            else live_failed(L, &r, a, what, err);
            stop = 1;
        } else if (r.status >= 300) {
            Buf m;
            buf_init(&m);
            live_failed(L, &r, a, what, &m);
            out->error = arena_strdup(&L->a, buf_str(&m));
            buf_free(&m);
        } else if (ch->kind == CH_CREATE && k + 1 == rl->n) {
            Buf id, why;
            buf_init(&id);
            buf_init(&why);
            if (c->codec->created_id(&c->cx, ch, (int)r.status, a, &id, &why) == 0) out->id = arena_strdup(&L->a, buf_str(&id));
            else out->error = arena_strdup(&L->a, buf_str(&why));
            buf_free(&id);
            buf_free(&why);
        }
        if (!stop && !out->error && r.status < 300) written_at(c, ch, a, out);
        cJSON_Delete(a);
        buf_free(&perr);
        http_response_free(&r);
        if (stop) return 1;
        if (out->error) return 0;
    }
    out->ok = 1;
    L->written++;
    return 0;
}

static int ac_apply(Connector *c, const Plan *pl, const uint32_t *idx, uint32_t n, ApplyResult *res, Buf *err) {
    Ac *A = (Ac *)c;
    Live *L = &A->L;
    Arena a;
    arena_init(&a);
    Buf ensure_err;
    buf_init(&ensure_err);
    Ensure en = {A, &ensure_err};
    CodecCtx cx = c->cx;
    cx.a = &a;
    cx.ensure = ac_ensure;
    cx.ensure_ctx = &en;
    int rc = 0;
    for (uint32_t i = 0; i < n; i++) {
        const Change *ch = &pl->changes[idx[i]];
        ApplyResult *out = &res[i];
        memset(out, 0, sizeof *out);
        const char *id = connector_target(pl, idx, res, i, &out->error);
        if (ch->created >= 0 && !id) continue;
        RequestList rl = {NULL, 0, 0};
        Buf why;
        buf_init(&why);
        int enc = c->codec->encode(&cx, ch, ch->kind == CH_CREATE ? NULL : id, &rl, &why);
        if (ensure_err.n) {   /* creating a tag or field failed: the account, not the change */
            buf_puts(err, buf_str(&ensure_err));
            buf_free(&why);
            rc = -1;
            break;
        }
        if (enc != 0) {
            out->error = arena_strdup(&L->a, buf_str(&why));
            buf_free(&why);
            continue;
        }
        buf_free(&why);
        if (ac_send(A, &a, ch, &rl, out, err)) {
            rc = -1;
            break;
        }
        arena_reset(&a);
    }
    buf_free(&ensure_err);
    arena_free(&a);
    return rc;
}

/* ----------------------------------------------------------- metadata */

/* Every page of a metadata list, as one answer for the codec. */
static int ac_meta(Ac *A, const char *what, Buf *err) {
    Live *L = &A->L;
    Connector *c = &L->base;
    cJSON *all = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(all, what);
    const char *hv[] = {"Accept: application/json", NULL};
    int rc = 0;
    for (long offset = 0;;) {
        const char *url = arena_printf(&L->a, "%s/%s?limit=%d&offset=%ld", A->base, what, AC_PAGE, offset);
        const char *name = arena_printf(&L->a, "source %s: GET /%s", c->name, what);
        cJSON *a = NULL;
        if (live_json(L, "GET", url, hv, NULL, 0, name, &a, err) != 0) { rc = -1; break; }
        cJSON *page = cJSON_DetachItemFromObjectCaseSensitive(a, what);
        int got = cJSON_IsArray(page) ? cJSON_GetArraySize(page) : -1;
        cJSON_Delete(a);
        if (got < 0) {
            buf_printf(err, "%s: the answer has no \"%s\" list", name, what);
            cJSON_Delete(page);
            rc = -1;
            break;
        }
        while (page->child) cJSON_AddItemToArray(rows, cJSON_DetachItemViaPointer(page, page->child));
        cJSON_Delete(page);
        if (got < AC_PAGE) break;
        offset += got;
    }
    if (rc == 0) {
        live_record_meta(L, what, all);
        c->cx.a = &c->meta_arena;
        rc = c->codec->decode_meta(&c->cx, what, all, err);
        c->cx.a = NULL;
    }
    cJSON_Delete(all);
    return rc;
}

/* Does a sync of the program read this object of this source? */
static int uses(const Program *p, const char *source, const char *object) {
    for (uint32_t i = 0; i < p->nsyncs; i++)
        for (int k = 0; k < 2; k++) {
            const PSide *s = &p->syncs[i].side[k];
            if (!strcmp(program_str(p, s->source), source) && !strcmp(program_str(p, p->objects[s->object].name), object))
                return 1;
        }
    return 0;
}

static void ac_close(Connector *c) {
    Ac *A = (Ac *)c;
    live_close(&A->L);
    free(A);
}

static const ConnectorOps ac_ops = {ac_changed, ac_get, ac_find, ac_tagged, ac_apply, ac_close};

Connector *activecampaign_open(const Program *p, const PSource *src, const LiveOptions *o, Buf *err) {
    Ac *A = calloc(1, sizeof *A);
    if (!A) abort();
    Live *L = &A->L;
    /* the rate is known before the first request, so read it first */
    long rps = 5;
    const PSetting *rs = program_setting(p, src, "requests_per_second");
    if (rs && rs->kind == SET_VALUE && p->consts[rs->value].t == VT_NUM && p->consts[rs->value].u.n >= 1)
        rps = (long)p->consts[rs->value].u.n;
    if (live_init(L, &ac_ops, p, src, o, (1000 + rps - 1) / rps + 5, err) != 0) goto fail;
    L->failure = ac_failure;
    const char *url = live_require(L, "url", err), *key = url ? live_require(L, "api_key", err) : NULL;
    if (!key) goto fail;
    size_t ul = strlen(url);
    while (ul && url[ul - 1] == '/') ul--;
    A->base = arena_printf(&L->a, "%.*s/api/3", (int)ul, url);
    size_t n = strlen(key) + 16;
    L->auth = malloc(n);
    if (!L->auth) abort();
    snprintf(L->auth, n, "Api-Token: %s", key);
    for (const char *const *m = L->base.codec->meta; *m; m++) {
        /* deal fields only where deals sync: accounts without deals refuse the call */
        if (!strcmp(*m, "dealCustomFieldMeta") && !uses(p, L->base.name, "deal")) continue;
        if (ac_meta(A, *m, err) != 0) goto fail;
    }
    return &L->base;
fail:
    if (L->http) live_close(L);
    free(A);
    return NULL;
}
