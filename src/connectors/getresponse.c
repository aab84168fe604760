/* getresponse.c - the GetResponse API v3 connector
 * (docs/connectors/getresponse.md).
 *
 * The key goes in the X-Auth-Token header (and the domain in X-Domain for
 * GetResponse MAX); requests are spaced to the API's 80 a second.  The
 * names behind ids (custom fields, tags, campaigns) are read once, when
 * the source opens.  Contacts are listed in pages of 1000 sorted by
 * changedOn, but a list omits their tags and custom field values, so each
 * contact listed is then read whole by its id.  Only the campaigns (lists)
 * the syncs use are read when every sync of the source names one.  New
 * contacts without tags go in imports of up to 1,000 (POST /contacts/batch);
 * the rest go one request a change, as the API answers per contact.  A
 * create is processed later by the API and answers no id;
 * the engine pairs the new contact by its e-mail on the next run.  Tags a
 * rule names are created when the account lacks them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "util.h"
#include "value.h"

/* Page size (the API's largest); up to this many values, find asks for
 * each e-mail apart, past it listing every contact costs fewer requests. */
enum { GR_PAGE = 1000, GR_FIND_ONE_BY_ONE = 20 };

typedef struct GrList {
    uint32_t object;
    const char *name;      /* the campaign a sync of this source reads */
} GrList;

typedef struct Gr {
    Live L;
    const char *base;      /* the API URL, e.g. https://api.getresponse.com/v3 */
    const char *domain;    /* "X-Domain: <domain>", or NULL */
    const char *key_hint;  /* how the key is given, for a refused one: never the key */
    uint8_t *whole;        /* per program object: a sync reads it without a list */
    GrList *lists;
    uint32_t nlists;
    Buf ensure_err;        /* why the last ensure gave no id */
    int ensure_fatal;      /* ... because the API failed, not the name */
} Gr;

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *j) { return cJSON_IsString(j) ? j->valuestring : NULL; }

/* "code 1008: message".  The answer's context can echo the key sent
 * (context.sentToken), so only code and message are read. */
static void gr_failure(const cJSON *a, Buf *out) {
    const cJSON *code = get(a, "code");
    const char *msg = str(get(a, "message")), *desc = str(get(a, "codeDescription"));
    if (!msg) msg = desc;
    if (cJSON_IsNumber(code)) buf_printf(out, "code %d%s%s", code->valueint, msg ? ": " : "", msg ? msg : "");
    else if (msg) buf_puts(out, msg);
    /* Validation errors name the fields in "context" (not in the
     * published schema, so read only where present): which field, why. */
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, get(a, "context")) {
        const char *why = str(get(c, "errorDescription"));
        if (!why) continue;
        buf_puts(out, n++ ? "; " : " (");
        const cJSON *f;
        int nf = 0;
        cJSON_ArrayForEach(f, get(c, "fieldName")) if (str(f)) buf_printf(out, "%s%s", nf++ ? ", " : "", str(f));
        buf_printf(out, "%s%s", nf ? ": " : "", why);
    }
    if (n) buf_putc(out, ')');
}

/* Sends with the key and reads the answer (NULL for an empty body) of any
 * status but 401, which is an error that says which setting holds the
 * key.  -1 with err also when no answer came or a 2xx answer is not JSON. */
static int gr_call(Gr *S, const char *method, const char *url, const char *body, int flags, const char *what,
                   HttpResponse *r, cJSON **answer, Buf *err) {
    Live *L = &S->L;
    const char *hv[] = {"Accept: application/json", body ? "Content-Type: application/json" : S->domain,
                        body ? S->domain : NULL, NULL};
    *answer = NULL;
    if (live_send(L, method, url, hv, body, flags, what, r, err) != 0) return -1;
    Buf perr;
    buf_init(&perr);
    cJSON *a = live_parse(r, what, &perr);
    int rc = 0;
    if (r->status == 401) {
        live_failed(L, r, a, what, err);
        buf_printf(err, " (check %s)", S->key_hint);
        rc = -1;
    } else if (r->status >= 200 && r->status < 300 && perr.n) {
        buf_puts(err, buf_str(&perr));
        rc = -1;
    }
    if (rc == 0) *answer = a;
    else cJSON_Delete(a);
    buf_free(&perr);
    return rc;
}

/* The same, with a 2xx status required. */
static int gr_json(Gr *S, const char *method, const char *url, const char *body, int flags, const char *what,
                   HttpResponse *r, cJSON **answer, Buf *err) {
    if (gr_call(S, method, url, body, flags, what, r, answer, err) != 0) return -1;
    if (r->status >= 200 && r->status < 300) return 0;
    live_failed(&S->L, r, *answer, what, err);
    cJSON_Delete(*answer);
    *answer = NULL;
    return -1;
}

/* Whether a list answer has pages after `page`: its TotalPages header
 * says, else a short page is the last. */
static int more_pages(const HttpResponse *r, int page, int rows) {
    Buf b;
    buf_init(&b);
    const char *tp = http_header(r, "totalpages", &b);
    char *end = NULL;
    long total = tp ? strtol(tp, &end, 10) : -1;
    int known = tp && end != tp;
    buf_free(&b);
    if (!rows) return 0;
    return known ? page < total : rows >= GR_PAGE;
}

/* ----------------------------------------------------------- metadata */

/* What each page of a list (an array of rows) goes to. */
typedef int (*RowFn)(Gr *S, uint32_t object, const cJSON *page, void *ctx, Buf *err);

/* Every page of GET /<list>?<query> to each(). */
static int gr_pages(Gr *S, const char *list, uint32_t object, const char *query, RowFn each, void *ctx, Buf *err) {
    Live *L = &S->L;
    int rc = 0;
    for (int page = 1; rc == 0; page++) {
        const char *what = arena_printf(&L->a, "source %s: GET /%s page %d", L->base.name, list, page);
        char *url = arena_printf(&L->a, "%s/%s?%s%sperPage=%d&page=%d", S->base, list, query, *query ? "&" : "",
                                 GR_PAGE, page);
        HttpResponse r;
        http_response_init(&r);
        cJSON *a = NULL;
        if (gr_json(S, "GET", url, NULL, 0, what, &r, &a, err) != 0) rc = -1;
        else if (!cJSON_IsArray(a)) {
            buf_printf(err, "%s: the answer is not a JSON array", what);
            rc = -1;
        }
        int more = rc ? 0 : more_pages(&r, page, cJSON_GetArraySize(a));
        http_response_free(&r);
        if (rc == 0) rc = each(S, object, a, ctx, err);
        cJSON_Delete(a);
        if (!more) break;
    }
    return rc;
}

/* Every page of a metadata list (campaigns, tags, custom-fields), as one
 * array: the codec reads it, and --record keeps it as one answer. */
static int collect_rows(Gr *S, uint32_t object, const cJSON *page, void *ctx, Buf *err) {
    (void)S, (void)object, (void)err;
    cJSON *all = ctx;
    for (const cJSON *row = page->child; row; row = row->next) cJSON_AddItemToArray(all, cJSON_Duplicate(row, 1));
    return 0;
}

static int gr_meta(Gr *S, const char *what_name, Buf *err) {
    Live *L = &S->L;
    Connector *c = &L->base;
    cJSON *all = cJSON_CreateArray();
    int rc = gr_pages(S, what_name, 0, "", collect_rows, all, err);
    if (rc == 0) {
        live_record_meta(L, what_name, all);
        Buf why;
        buf_init(&why);
        if (c->codec->decode_meta(&c->cx, what_name, all, &why) != 0) {
            buf_printf(err, "source %s: GET /%s: %s", c->name, what_name, buf_str(&why));
            rc = -1;
        }
        buf_free(&why);
    }
    cJSON_Delete(all);
    return rc;
}

/* ------------------------------------------------------------ reading */

/* Reads one contact whole (with tags and custom field values) into the
 * sink.  *found 0 when the API has no such contact. */
static int gr_fetch(Gr *S, uint32_t object, const char *id, RecordSink *sink, int *found, Buf *err) {
    Live *L = &S->L;
    Connector *c = &L->base;
    const char *oname = program_str(c->p, c->p->objects[object].name);
    *found = 0;
    if (!codec_id_ok(id)) {
        buf_printf(err, "source %s: \"%s\" is not a GetResponse contact id", c->name, id ? id : "");
        return -1;
    }
    /* one of many: its strings are not kept in the connector's arena */
    Buf wb, ub;
    buf_init(&wb);
    buf_init(&ub);
    buf_printf(&wb, "source %s: GET /contacts/%s", c->name, id);
    buf_printf(&ub, "%s/contacts/%s", S->base, id);
    const char *what = buf_str(&wb), *url = buf_str(&ub);
    HttpResponse r;
    http_response_init(&r);
    cJSON *a = NULL;
    int rc = gr_call(S, "GET", url, NULL, 0, what, &r, &a, err);
    if (rc == 0 && r.status == 404) {
        /* deleted since it was listed, or never there: left out */
    } else if (rc == 0 && (r.status < 200 || r.status >= 300)) {
        live_failed(L, &r, a, what, err);
        rc = -1;
    } else if (rc == 0 && !cJSON_IsObject(a)) {
        buf_printf(err, "%s: the answer is not a contact", what);
        rc = -1;
    } else if (rc == 0) {
        /* the codec reads contact arrays; a recording keeps the same */
        cJSON *one = cJSON_CreateArray();
        cJSON_AddItemToArray(one, a);
        a = NULL;
        live_record_page(L, oname, one);
        Buf next;
        buf_init(&next);
        if (live_decode(L, object, one, sink, &next, what, err) != 0) {
            rc = -1;
        } else {
            *found = 1;
        }
        buf_free(&next);
        cJSON_Delete(one);
    }
    cJSON_Delete(a);
    http_response_free(&r);
    buf_free(&wb);
    buf_free(&ub);
    return rc;
}

/* gr_pages over the campaigns the syncs read, or over every contact when
 * a sync reads the object without a list.  A contact is on one campaign,
 * so no contact comes twice.  query: more conditions, escaped, or "". */
static int gr_contacts(Gr *S, uint32_t object, const char *query, RowFn each, void *ctx, Buf *err) {
    Connector *c = &S->L.base;
    int lists = 0, rc = 0;
    for (uint32_t i = 0; i < S->nlists; i++) lists |= S->lists[i].object == object;
    if (S->whole[object] || !lists) return gr_pages(S, "contacts", object, query, each, ctx, err);
    for (uint32_t i = 0; i < S->nlists && rc == 0; i++) {
        if (S->lists[i].object != object) continue;
        int seen = 0;
        for (uint32_t k = 0; k < i; k++) seen |= S->lists[k].object == object && !strcmp(S->lists[k].name, S->lists[i].name);
        /* a campaign the account lacks has no members yet */
        const MetaEntry *m = meta_by_name(&c->meta, META_LIST, S->lists[i].name);
        if (seen || !m) continue;
        Buf q;
        buf_init(&q);
        buf_printf(&q, "%s%squery%%5BcampaignId%%5D=", query, *query ? "&" : "");
        http_escape(&q, m->id);
        rc = gr_pages(S, "contacts", object, buf_str(&q), each, ctx, err);
        buf_free(&q);
    }
    return rc;
}

/* Each listed contact read whole, into the sink. */
static int fetch_rows(Gr *S, uint32_t object, const cJSON *page, void *ctx, Buf *err) {
    RecordSink *sink = ctx;
    const cJSON *row;
    cJSON_ArrayForEach(row, page) {
        const char *id = str(get(row, "contactId"));
        if (!codec_id_ok(id)) {
            sink->bad(sink->ctx, id, "a listed contact has no usable contactId");
            continue;
        }
        int found;
        if (gr_fetch(S, object, id, sink, &found, err) != 0) return -1;
    }
    return 0;
}

static int only_contacts(Connector *c, uint32_t object, Buf *err) {
    if (!strcmp(program_str(c->p, c->p->objects[object].name), "contact")) return 0;
    buf_printf(err, "source %s: tandem reads only GetResponse contacts, not %s", c->name,
               program_str(c->p, c->p->objects[object].name));
    return -1;
}

/* Deletes are not read: the API lists no deleted contacts.  The engine
 * looks up every linked member it did not read, and one that is gone has
 * left the list. */
static int gr_changed(Connector *c, uint32_t object, ChangeCursor *cur, RecordSink *sink, Buf *err) {
    int64_t since = cur->since, *newest = &cur->newest;
    Gr *S = (Gr *)c;
    if (only_contacts(c, object, err) != 0) return -1;
    Buf q;
    buf_init(&q);
    if (since != INT64_MIN) {
        Buf t;
        buf_init(&t);
        live_time(since, TIME_GR, &t);
        buf_puts(&q, "query%5BchangedOn%5D%5Bfrom%5D=");
        http_escape(&q, buf_str(&t));   /* the + of the offset too */
        buf_putc(&q, '&');
        buf_free(&t);
    }
    buf_puts(&q, "sort%5BchangedOn%5D=ASC");
    LiveSink ls;
    live_sink_init(&ls, &S->L, sink);
    int rc = gr_contacts(S, object, buf_str(&q), fetch_rows, &ls.sink, err);
    if (rc == 0 && ls.newest != INT64_MIN && ls.newest > *newest) *newest = ls.newest;
    live_sink_free(&ls);
    buf_free(&q);
    return rc;
}

static int gr_get(Connector *c, uint32_t object, const char *const *ids, uint32_t n, RecordSink *sink, Buf *err) {
    Gr *S = (Gr *)c;
    if (only_contacts(c, object, err) != 0) return -1;
    LiveSink ls;
    live_sink_init(&ls, &S->L, sink);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        int found;
        rc = gr_fetch(S, object, ids[i], &ls.sink, &found, err);   /* 404: not there, left out */
    }
    live_sink_free(&ls);
    return rc;
}

/* find over listed contacts: a row whose field is one of the values, or
 * that leaves the field out (custom fields are not listed), is read whole;
 * the LiveSink's filter then decides on the whole contact. */
typedef struct Find {
    LiveSink *ls;
    Arena *a;              /* the ids of done */
    Symtab done;           /* contacts read whole already */
    int field;
    const char **ids;      /* rows of a page to read whole */
    uint32_t nids, cap;
} Find;

static void row_record(void *ctx, Record *r) {
    Find *f = ctx;
    LiveSink *ls = f->ls;
    int present = (uint32_t)f->field < r->vm.nf && (r->present[f->field / 64] >> (f->field % 64) & 1);
    if (present) {
        /* what the LiveSink keeps, asked of the row */
        buf_reset(&ls->kb);
        if (ls->key) {
            if (ls->key(ls->kctx, r, &ls->kb) != 0) return;
        } else {
            if (value_blank(r->fields[f->field])) return;
            value_format(r->fields[f->field], &ls->kb);
        }
        if (!symtab_get(ls->want, buf_str(&ls->kb))) return;
    }
    if (!r->vm.id || symtab_get(&f->done, r->vm.id)) return;
    if (f->nids == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->ids = realloc(f->ids, f->cap * sizeof *f->ids);
        if (!f->ids) abort();
    }
    const char *id = arena_strdup(f->a, r->vm.id);
    symtab_put(&f->done, id, (void *)id);
    f->ids[f->nids++] = id;
}

static void row_bad(void *ctx, const char *id, const char *reason) {
    (void)ctx, (void)id, (void)reason;   /* told when it is read whole */
}

static int find_rows(Gr *S, uint32_t object, const cJSON *page, void *ctx, Buf *err) {
    Find *f = ctx;
    Connector *c = &S->L.base;
    RecordSink rows = {f, row_record, row_bad, NULL};
    Buf next, why;
    buf_init(&next);
    buf_init(&why);
    Arena *keep = c->cx.a;
    Arena scratch;
    arena_init(&scratch);
    c->cx.a = &scratch;
    f->nids = 0;
    int rc = c->codec->decode_page(&c->cx, object, page, &rows, &next, &why);
    c->cx.a = keep;
    arena_free(&scratch);
    if (rc != 0) buf_printf(err, "source %s: GET /contacts: %s", c->name, buf_str(&why));
    for (uint32_t i = 0; i < f->nids && rc == 0; i++) {
        int found;
        rc = gr_fetch(S, object, f->ids[i], &f->ls->sink, &found, err);
    }
    buf_free(&next);
    buf_free(&why);
    return rc;
}

/* The API matches e-mails without case (the sink's key function decides
 * exactly): one query a value for a few, else every contact listed. */
static int gr_where_in(Live *L, uint32_t object, int field, const char *const *values, uint32_t n, LiveSink *ls,
                       Buf *err) {
    Gr *S = (Gr *)L;
    const Program *p = L->base.p;
    const char *fname = program_str(p, p->fields[p->objects[object].first_field + (uint32_t)field].name);
    Arena a;
    arena_init(&a);
    Find f;
    memset(&f, 0, sizeof f);
    f.ls = ls;
    f.a = &a;
    f.field = field;
    symtab_init(&f.done, &a);
    int rc = 0;
    if (!strcmp(fname, "email") && n <= GR_FIND_ONE_BY_ONE) {
        for (uint32_t i = 0; i < n && rc == 0; i++) {
            Buf q;
            buf_init(&q);
            buf_puts(&q, "query%5Bemail%5D=");
            http_escape(&q, values[i]);
            rc = gr_pages(S, "contacts", object, buf_str(&q), find_rows, &f, err);
            buf_free(&q);
        }
    } else {
        rc = gr_contacts(S, object, "", find_rows, &f, err);
    }
    free(f.ids);
    arena_free(&a);
    return rc;
}

static int gr_find(Connector *c, uint32_t object, int field, const char *const *values, uint32_t n, ConnectorKeyFn key,
                   void *kctx, RecordSink *sink, Buf *err) {
    if (field >= 0 && n && only_contacts(c, object, err) != 0) return -1;
    return live_find((Live *)c, object, field, values, n, key, kctx, sink, gr_where_in, err);
}

/* Keeps contacts that carry one of the tags. */
typedef struct TagSink {
    RecordSink sink;
    RecordSink *out;
    const char *const *tags;
    uint32_t n;
} TagSink;

static void tag_record(void *ctx, Record *r) {
    TagSink *t = ctx;
    for (uint32_t i = 0; i < r->ntag_names; i++)
        for (uint32_t k = 0; k < t->n; k++)
            if (str_ieq(r->tag_names[i], t->tags[k])) {
                t->out->record(t->out->ctx, r);
                return;
            }
}

static void tag_bad(void *ctx, const char *id, const char *reason) {
    TagSink *t = ctx;
    t->out->bad(t->out->ctx, id, reason);
}

/* The API cannot list contacts by tag: GET /contacts has no tag condition,
 * and a list omits tags.  So every contact of the lists read is read whole
 * and kept when it carries a tag: a read of the whole account, done only
 * when the account has one of the tags at all. */
static int gr_tagged(Connector *c, uint32_t object, const char *const *tags, uint32_t n, RecordSink *sink, Buf *err) {
    Gr *S = (Gr *)c;
    if (only_contacts(c, object, err) != 0) return -1;
    const Symtab *names = &c->meta.by_name[META_TAG];
    int any = 0;
    for (uint32_t k = 0; k < n && !any; k++)
        for (int i = 0; i < names->n && !any; i++) any = str_ieq(names->order[i].key, tags[k]);
    if (!any) return 0;   /* no contact can carry a tag the account does not have */
    LiveSink ls;
    live_sink_init(&ls, &S->L, sink);
    TagSink ts = {{NULL, tag_record, tag_bad, NULL}, &ls.sink, tags, n};
    ts.sink.ctx = &ts;
    int rc = gr_contacts(S, object, "", fetch_rows, &ts.sink, err);
    live_sink_free(&ls);
    return rc;
}

/* ------------------------------------------------------------ writing */

/* A tag of the account by its name, whatever its capitals: GetResponse
 * takes two names that differ only so for the same tag. */
static const char *tag_named(Connector *c, const char *name) {
    const Symtab *names = &c->meta.by_name[META_TAG];
    for (int i = 0; i < names->n; i++)
        if (str_ieq(names->order[i].key, name)) return ((const MetaEntry *)names->order[i].val)->id;
    return NULL;
}

/* cx.ensure: a tag a change names that the account lacks is created.
 * Custom fields are not: their type and values are set up in GetResponse,
 * and tandem cannot know them; campaigns are lists with their own sender
 * and consent settings, never made by tandem. */
static const char *gr_ensure(void *ctx, MetaKind kind, const char *name) {
    Gr *S = ctx;
    Live *L = &S->L;
    Connector *c = &L->base;
    const MetaEntry *have = meta_by_name(&c->meta, kind, name);
    const char *id = NULL;
    if (have) return have->id;
    buf_reset(&S->ensure_err);
    if (kind == META_TAG && (id = tag_named(c, name))) return id;
    if (kind != META_TAG) {
        buf_printf(&S->ensure_err, "create the %s \"%s\" in GetResponse first",
                   kind == META_FIELD ? "custom field" : kind == META_LIST ? "list (campaign)" : "automation", name);
        return NULL;
    }
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "name", name);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    const char *what = arena_printf(&L->a, "source %s: POST /tags (\"%s\")", c->name, name);
    HttpResponse r;
    http_response_init(&r);
    cJSON *a = NULL;
    /* a tag made twice is refused the second time, never doubled */
    if (gr_call(S, "POST", arena_printf(&L->a, "%s/tags", S->base), body, 0, what, &r, &a, &S->ensure_err) != 0) {
        S->ensure_fatal = 1;
    } else if (r.status >= 500 || r.status == 403 || r.status == 429) {
        live_failed(L, &r, a, what, &S->ensure_err);
        S->ensure_fatal = 1;
    } else if (r.status == 409) {
        /* made meanwhile (by hand, or another run): the account's
         * tags are read again, and one of the same name taken */
        buf_reset(&S->ensure_err);
        if (gr_meta(S, "tags", &S->ensure_err) != 0) S->ensure_fatal = 1;
        else id = tag_named(c, name);
        if (!id && !S->ensure_fatal) live_failed(L, &r, a, what, &S->ensure_err);
    } else if (r.status >= 300) {
        live_failed(L, &r, a, what, &S->ensure_err);
    } else if (!str(get(a, "tagId"))) {
        buf_printf(&S->ensure_err, "%s: the answer names no tagId", what);
    } else {
        meta_put(&c->meta, META_TAG, str(get(a, "tagId")), name, NULL);
        have = meta_by_name(&c->meta, META_TAG, name);
        id = have ? have->id : NULL;
    }
    cJSON_Delete(a);
    cJSON_free(body);
    http_response_free(&r);
    return id;
}

/* Sends one change's requests in order; the first refused ends it (one
 * before it may have been done: an update's custom fields go apart). */
static int gr_send(Gr *S, CodecCtx *cx, const Change *ch, const RequestList *rl, ApplyResult *out, Buf *err) {
    Live *L = &S->L;
    Connector *c = &L->base;
    for (uint32_t k = 0; k < rl->n; k++) {
        const Request *rq = &rl->v[k];
        char *what = arena_printf(cx->a, "source %s: %s %s", c->name, rq->method, rq->path);
        char *url = arena_printf(cx->a, "%s%s", S->base, rq->path);
        int create = ch->kind == CH_CREATE && !strcmp(rq->method, "POST") && !strcmp(rq->path, "/contacts");
        HttpResponse r;
        http_response_init(&r);
        cJSON *a = NULL;
        /* a create sent twice could add the contact twice: sent once */
        if (gr_call(S, rq->method, url, rq->body, create ? HTTP_ONCE : 0, what, &r, &a, err) != 0) {
            http_response_free(&r);
            return -1;
        }
        int rc = 0, ok = r.status >= 200 && r.status < 300;
        if (r.status >= 500 || r.status == 403 || r.status == 429) {
            /* the system, not the contact, failed: what became of it is
             * not known, so the run stops and the next one settles it */
            live_failed(L, &r, a, what, err);
            rc = -1;
        } else if (ok && create && str(get(a, "contactId"))) {
            Buf id, why;
            buf_init(&id);
            buf_init(&why);
            if (c->codec->created_id(cx, ch, (int)r.status, a, &id, &why) == 0) out->id = arena_strdup(&L->a, buf_str(&id));
            else out->error = arena_strdup(&L->a, buf_str(&why));
            buf_free(&id);
            buf_free(&why);
        } else if (ok || (r.status == 404 && !strcmp(rq->method, "DELETE"))) {
            /* 202 for a create: made later, its id read on the next sync;
             * a contact already gone is as deleted as it can be */
        } else {
            /* refused: 409 "Contact already added", 400 validation, 404 */
            Buf m;
            buf_init(&m);
            live_failed(L, &r, a, what, &m);
            out->error = arena_strdup(&L->a, buf_str(&m));
            buf_free(&m);
        }
        cJSON_Delete(a);
        http_response_free(&r);
        if (rc) return -1;
        if (out->error) return 0;
    }
    out->ok = 1;
    L->written++;
    return 0;
}

/* Creates without tags go in imports of up to GR_BATCH contacts
 * (POST /contacts/batch: an import takes e-mail, name and custom fields,
 * no tags), one campaign a request.  A lone create goes by itself, which
 * keeps its own answer (409 when it is there already). */
enum { GR_BATCH = 1000 };

typedef struct Import {
    char *campaign;        /* NULL: nothing pending */
    cJSON **rows;          /* each contact as an import takes it */
    uint32_t *at;          /* the changes' indices into res */
    cJSON **single;        /* each contact's own create body, for a lone one */
    uint32_t n;
} Import;

/* A create this import can take: the contact (from the create's body) and
 * its campaign; NULL when it must go alone (tags, another request). */
static cJSON *importable(const Change *ch, const RequestList *rl, const char **campaign) {
    if (ch->kind != CH_CREATE || rl->n != 1 || strcmp(rl->v[0].method, "POST") || strcmp(rl->v[0].path, "/contacts") ||
        !rl->v[0].body)
        return NULL;
    cJSON *b = cJSON_Parse(rl->v[0].body);
    const cJSON *tags = get(b, "tags"), *camp = get(get(b, "campaign"), "campaignId");
    if (!cJSON_IsObject(b) || (tags && cJSON_GetArraySize(tags) > 0) || !str(camp) || !str(get(b, "email"))) {
        cJSON_Delete(b);
        return NULL;
    }
    *campaign = str(camp);
    return b;
}

/* Sends contacts [lo, hi) of the import: one alone as its own create
 * (which keeps its own answer: 409 when it is there already), more as one
 * import.  GetResponse refuses an import with one bad contact whole (400,
 * naming none): it is split in two and each half sent again, down to
 * single creates, so every good contact arrives and only a bad one is
 * refused, with its own reason (about 2 log2(n) requests for one bad
 * contact in n). */
static int import_send(Gr *S, CodecCtx *cx, const Plan *pl, const uint32_t *idx, ApplyResult *res, Import *im,
                       uint32_t lo, uint32_t hi, Buf *err) {
    Live *L = &S->L;
    if (hi - lo == 1) {
        char *body = cJSON_PrintUnformatted(im->single[lo]);
        RequestList rl = {NULL, 0, 0};
        request_add(&rl, cx->a, "POST", "/contacts", body, NULL);
        cJSON_free(body);
        return gr_send(S, cx, &pl->changes[idx[im->at[lo]]], &rl, &res[im->at[lo]], err);
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "campaignId", im->campaign);
    cJSON *rows = cJSON_AddArrayToObject(root, "contacts");
    for (uint32_t k = lo; k < hi; k++) cJSON_AddItemReferenceToArray(rows, im->rows[k]);
    char *body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);   /* the references only: the rows stay the import's */
    const char *what = arena_printf(cx->a, "source %s: POST /contacts/batch (%u contacts)", L->base.name, hi - lo);
    HttpResponse r;
    http_response_init(&r);
    cJSON *a = NULL;
    int rc = 0, split = 0;
    if (gr_call(S, "POST", arena_printf(cx->a, "%s/contacts/batch", S->base), body, HTTP_ONCE, what, &r, &a, err) != 0) {
        rc = -1;
    } else if (r.status >= 500 || r.status == 401 || r.status == 403 || r.status == 429) {
        /* what became of the import is not known: the run stops, the next settles it */
        live_failed(L, &r, a, what, err);
        rc = -1;
    } else if (r.status >= 300) {
        split = 1;
    } else {
        /* accepted: each contact is made later, and paired by e-mail */
        for (uint32_t k = lo; k < hi; k++) res[im->at[k]].ok = 1;
        L->written += hi - lo;
    }
    cJSON_Delete(a);
    http_response_free(&r);
    cJSON_free(body);
    if (split) {
        uint32_t mid = lo + (hi - lo) / 2;
        rc = import_send(S, cx, pl, idx, res, im, lo, mid, err);
        if (rc == 0) rc = import_send(S, cx, pl, idx, res, im, mid, hi, err);
    }
    return rc;
}

static int import_flush(Gr *S, CodecCtx *cx, const Plan *pl, const uint32_t *idx, ApplyResult *res, Import *im,
                        Buf *err) {
    int rc = im->n ? import_send(S, cx, pl, idx, res, im, 0, im->n, err) : 0;
    for (uint32_t k = 0; k < im->n; k++) {
        cJSON_Delete(im->single[k]);
        cJSON_Delete(im->rows[k]);
    }
    free(im->campaign);
    im->campaign = NULL;
    im->n = 0;
    return rc;
}

static int gr_apply(Connector *c, const Plan *pl, const uint32_t *idx, uint32_t n, ApplyResult *res, Buf *err) {
    Gr *S = (Gr *)c;
    Live *L = &S->L;
    Arena a;
    arena_init(&a);
    CodecCtx cx = c->cx;
    cx.a = &a;
    cx.ensure = gr_ensure;
    cx.ensure_ctx = S;
    int rc = 0;
    Import im = {NULL, calloc(n + 1, sizeof(cJSON *)), calloc(n + 1, sizeof(uint32_t)), calloc(n + 1, sizeof(cJSON *)), 0};
    if (!im.rows || !im.at || !im.single) abort();
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const Change *ch = &pl->changes[idx[i]];
        memset(&res[i], 0, sizeof res[i]);
        /* its create must have answered before an action on its record is judged */
        if (ch->created >= 0 && im.n && (rc = import_flush(S, &cx, pl, idx, res, &im, err)) != 0) break;
        /* an action on a contact this call creates has no id to go to:
         * the create answers none (GetResponse makes the contact later) */
        const char *id = connector_target(pl, idx, res, i, &res[i].error);
        if (ch->created >= 0 && !id) continue;
        RequestList rl = {NULL, 0, 0};
        Buf why;
        buf_init(&why);
        buf_reset(&S->ensure_err);
        S->ensure_fatal = 0;
        if (c->codec->encode(&cx, ch, ch->kind == CH_CREATE ? NULL : id, &rl, &why) != 0) {
            if (S->ensure_fatal) {
                buf_puts(err, buf_str(&S->ensure_err));
                rc = -1;
            } else if (S->ensure_err.n) {
                res[i].error = arena_printf(&L->a, "%s: %s", buf_str(&why), buf_str(&S->ensure_err));
            } else {
                res[i].error = arena_strdup(&L->a, buf_str(&why));
            }
            buf_free(&why);
            continue;
        }
        buf_free(&why);
        const char *camp = NULL;
        cJSON *one = importable(ch, &rl, &camp);
        if (im.n && (!one || strcmp(im.campaign, camp) || im.n == GR_BATCH) &&
            (rc = import_flush(S, &cx, pl, idx, res, &im, err)) != 0) {
            cJSON_Delete(one);
            break;
        }
        if (!one) {
            rc = gr_send(S, &cx, ch, &rl, &res[i], err);
            continue;
        }
        if (!im.n) {
            im.campaign = strdup(camp);
            if (!im.campaign) abort();
        }
        /* an import's contact: e-mail, name, custom fields */
        cJSON *row = cJSON_CreateObject();
        static const char *const keep[] = {"email", "name", "dayOfCycle", "customFieldValues"};
        for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
            const cJSON *v = get(one, keep[k]);
            if (v) cJSON_AddItemToObject(row, keep[k], cJSON_Duplicate(v, 1));
        }
        im.rows[im.n] = row;
        im.single[im.n] = one;
        im.at[im.n++] = i;
    }
    if (rc == 0) rc = import_flush(S, &cx, pl, idx, res, &im, err);
    else {
        for (uint32_t k = 0; k < im.n; k++) {
            cJSON_Delete(im.single[k]);
            cJSON_Delete(im.rows[k]);
        }
        free(im.campaign);
    }
    free(im.rows);
    free(im.at);
    free(im.single);
    arena_free(&a);
    return rc;
}

static void gr_close(Connector *c) {
    Gr *S = (Gr *)c;
    live_close(&S->L);
    free(S->whole);
    free(S->lists);
    buf_free(&S->ensure_err);
    free(S);
}

static const ConnectorOps gr_ops = {gr_changed, gr_get, gr_find, gr_tagged, gr_apply, gr_close};

/* The campaigns the syncs of this source read, per object; an object a
 * sync reads without a list is read whole. */
static void gr_sides(Gr *S) {
    const Program *p = S->L.base.p;
    S->whole = calloc(p->nobjects + 1, 1);
    S->lists = calloc(2 * p->nsyncs + 1, sizeof *S->lists);
    if (!S->whole || !S->lists) abort();
    for (uint32_t si = 0; si < p->nsyncs; si++)
        for (int k = 0; k < 2; k++) {
            const PSide *sd = &p->syncs[si].side[k];
            if (strcmp(program_str(p, sd->source), S->L.base.name)) continue;
            if (!sd->list) S->whole[sd->object] = 1;
            else S->lists[S->nlists++] = (GrList){sd->object, program_str(p, sd->list - 1)};
        }
}

/* A setting that goes into a header: one line. */
static int one_line(const char *s) { return !strpbrk(s, "\r\n"); }

Connector *getresponse_open(const Program *p, const PSource *src, const LiveOptions *o, Buf *err) {
    Gr *S = calloc(1, sizeof *S);
    if (!S) abort();
    Live *L = &S->L;
    buf_init(&S->ensure_err);
    /* GetResponse takes 80 requests a second */
    if (live_init(L, &gr_ops, p, src, o, 15, err) != 0) goto fail;
    L->failure = gr_failure;
    L->base.cx.a = &L->base.meta_arena;
    const char *key, *url, *domain;
    if (!(key = live_require(L, "api_key", err))) goto fail;
    size_t had = err->n;
    url = live_setting(L, "url", err);
    domain = live_setting(L, "domain", err);
    if (err->n != had) goto fail;
    const PSetting *ks = program_setting(p, src, "api_key");
    const char *var = ks && ks->kind != SET_VALUE ? program_str(p, ks->value) : NULL;
    S->key_hint = var ? arena_printf(&L->a, "the setting api_key: %s %s", ks->kind == SET_SECRET ? "the secret" : "the environment variable", var)
                      : "the setting api_key";
    if (!one_line(key) || (domain && !one_line(domain))) {
        buf_printf(err, "source %s: the setting %s holds a line break", L->base.name, one_line(key) ? "domain" : "api_key");
        goto fail;
    }
    size_t n = strlen(key) + 32;
    L->auth = malloc(n);
    if (!L->auth) abort();
    snprintf(L->auth, n, "X-Auth-Token: api-key %s", key);
    /* the setting's copy is not needed any more */
    memset((char *)key, 0, strlen(key));
    if (!url) url = "https://api.getresponse.com/v3";
    size_t ul = strlen(url);
    while (ul && url[ul - 1] == '/') ul--;
    S->base = arena_strndup(&L->a, url, ul);
    if (domain && *domain) S->domain = arena_printf(&L->a, "X-Domain: %s", domain);
    gr_sides(S);
    for (const char *const *m = L->base.codec->meta; *m; m++)
        if (gr_meta(S, *m, err) != 0) goto fail;
    return &L->base;
fail:
    if (L->http) live_close(L);
    free(S->whole);
    free(S->lists);
    buf_free(&S->ensure_err);
    free(S);
    return NULL;
}
