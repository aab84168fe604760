/* dynamics365.c - the Dynamics 365 (Dataverse Web API, OData v4) connector
 * (docs/connectors/dynamics365.md).
 *
 * Logs in with the OAuth2 client-credentials flow of Entra ID, and again
 * once when the token expires.  Reads with OData queries: changes through
 * change tracking (the only way Dataverse reports deletes), or by
 * modifiedon where a table has none; records by id and by match key with
 * `or` lists of `eq`, following @odata.nextLink.  Writes go
 * through $batch, 100 requests a batch, each part's answer mapped back to
 * its change.  Every value placed in a filter is a typed OData literal,
 * and an id is placed only once it is seen to be a GUID.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "live.h"
#include "types.h"

/* Page size (the Web API's largest), ids or values a filter, requests a
 * $batch (the API takes 1000; a smaller batch loses less to one failure). */
enum { D365_PAGE = 5000, D365_IN = 50, D365_BATCH = 100 };

typedef struct D365 {
    Live L;
    const char *url;       /* the org, e.g. https://acme.crm4.dynamics.com */
    const char *base;      /* <url>/api/data/v9.2 */
    const char *origin;    /* scheme://host[:port] of url: where the token may go */
    const char *token_url;
    const char *client_id, *client_secret, *scope;
    uint32_t batches;      /* sent so far: part of each boundary */
} D365;

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *j) { return cJSON_IsString(j) ? j->valuestring : NULL; }

/* "code: message" of an OData error, or an OAuth error object. */
static void d365_failure(const cJSON *a, Buf *out) {
    const cJSON *e = get(a, "error");
    if (cJSON_IsObject(e)) {
        const char *code = str(get(e, "code")), *msg = str(get(e, "message"));
        buf_printf(out, "%s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
    } else if (str(e)) {
        buf_puts(out, str(e));
        if (str(get(a, "error_description"))) buf_printf(out, ": %s", str(get(a, "error_description")));
    }
}

static int d365_login(Live *L, Buf *err) {
    D365 *S = (D365 *)L;
    Buf form;
    buf_init(&form);
    live_form(&form, "grant_type", "client_credentials");
    live_form(&form, "client_id", S->client_id);
    live_form(&form, "client_secret", S->client_secret);
    live_form(&form, "scope", S->scope);
    const char *what = arena_printf(&L->a, "source %s: Dynamics 365 login (POST %s)", L->base.name, S->token_url);
    cJSON *a = NULL;
    int rc = live_oauth(L, S->token_url, &form, what, "the auth settings tenant_id, client_id and client_secret", &a, err);
    cJSON_Delete(a);
    buf_free(&form);
    return rc;
}

/* ------------------------------------------------------------ reading */

static const char *const d365_track_hv[] = {"Accept: application/json", "OData-MaxVersion: 4.0", "OData-Version: 4.0",
                                            "Prefer: odata.track-changes, odata.maxpagesize=5000", NULL};
static const char *const d365_read_hv[] = {"Accept: application/json", "OData-MaxVersion: 4.0", "OData-Version: 4.0",
                                           "Prefer: odata.maxpagesize=5000", NULL};

static const PField *field_of(const Program *p, uint32_t object, int f) {
    return &p->fields[p->objects[object].first_field + (uint32_t)f];
}

/* A column as queries name it: a lookup is read and filtered as
 * _<name>_value (the codec maps it back). */
static void d365_column(const Program *p, const PField *f, Buf *out) {
    if (f->type == TY_REFERENCE) buf_printf(out, "_%s_value", program_str(p, f->name));
    else buf_puts(out, program_str(p, f->name));
}

static int is_guid(const char *s) {
    if (!s || strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return 0;
    }
    return 1;
}

/* -?digits[.digits][e[+-]digits]: what OData reads as a number. */
static int is_number(const char *s) {
    const char *p = s;
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    return !*p;
}

/* Digits where the pattern has 'd', the pattern's own character elsewhere. */
static const char *shaped(const char *s, const char *pattern) {
    for (; *pattern; s++, pattern++)
        if (*pattern == 'd' ? !isdigit((unsigned char)*s) : *s != *pattern) return NULL;
    return s;
}

/* 2026-11-02, or 2026-11-02T08:00[:00[.000]] with Z or +01:00: the dates
 * and times OData reads unquoted. */
static int is_time(const char *s) {
    if (!(s = shaped(s, "dddd-dd-dd"))) return 0;
    if (!*s) return 1;
    if (!(s = shaped(s, "Tdd:dd"))) return 0;
    if (*s == ':') {
        if (!(s = shaped(s, ":dd"))) return 0;
        if (*s == '.' && isdigit((unsigned char)s[1]))
            for (s++; isdigit((unsigned char)*s); s++) {}
    }
    if (*s == 'Z') return !s[1];
    return (*s == '+' || *s == '-') && (s = shaped(s + 1, "dd:dd")) && !*s;
}

/* An OData literal of the field's type, or -1 when the value cannot be
 * one, so no row can hold it.  Only what looks exactly like a number,
 * boolean, time or GUID goes unquoted, into a column of that type: a
 * mismatched literal would fail the whole query.  Text is quoted with its
 * quotes doubled, so a value can never end the literal and add a
 * condition. */
static int odata_literal(Buf *b, const PField *f, const char *v) {
    char fam = type_family((TypeKind)f->type);
    int ok = f->type == TY_ID || f->type == TY_REFERENCE ? is_guid(v)
             : fam == 'n'                                ? is_number(v)
             : fam == 'b'                                ? !strcmp(v, "true") || !strcmp(v, "false")
             : fam == 'd'                                ? is_time(v)
                                                         : -1;
    if (ok == 0) return -1;
    if (ok == 1) {
        buf_puts(b, v);
        return 0;
    }
    buf_putc(b, '\'');
    for (const char *p = v; *p; p++) {
        if (*p == '\'') buf_putc(b, '\'');
        buf_putc(b, *p);
    }
    buf_putc(b, '\'');
    return 0;
}

/* The address of the next page, only on the org's own host: the token
 * goes with it. */
static int d365_next(D365 *S, const char *link, Buf *url, const char *what, Buf *err) {
    size_t n = strlen(S->origin);
    buf_reset(url);
    if (link[0] == '/') {
        buf_printf(url, "%s%s", S->origin, link);
        return 0;
    }
    if (!strncasecmp(link, S->origin, n) && (link[n] == '/' || link[n] == '?')) {
        buf_puts(url, link);
        return 0;
    }
    buf_printf(err, "%s: the next page's address is not on %s; not followed", what, S->origin);
    return -1;
}

/* Runs a query and every page behind it into the sink.  filter and order
 * may be NULL.  With delta (change tracking), the query starts at from
 * when given (the delta link of the last read) and the new delta link the
 * last page hands out goes to delta.  -2 when the API refused the query
 * itself (a 4xx: a table without change tracking, a delta link too old),
 * which a caller may answer by asking otherwise. */
static int d365_query(D365 *S, uint32_t object, const char *from, const char *filter, const char *order, Buf *delta,
                      LiveSink *ls, Buf *err) {
    Live *L = &S->L;
    Connector *c = &L->base;
    const Program *p = c->p;
    const PObject *o = &p->objects[object];
    const char *oname = program_str(p, o->name), *set = d365_entity_set(&L->a, oname);
    Buf sel, url, next;
    buf_init(&sel);
    buf_init(&url);
    buf_init(&next);
    int rc = 0;
    if (from) {
        rc = d365_next(S, from, &url, arena_printf(&L->a, "source %s: the delta link of %s", c->name, set), err);
    } else {
        for (uint32_t i = 0; i < o->nfields; i++) {
            if (i) buf_putc(&sel, ',');
            d365_column(p, &p->fields[o->first_field + i], &sel);
        }
        buf_printf(&url, "%s/%s?$select=", S->base, set);
        http_escape(&url, buf_str(&sel));
        if (filter) {
            buf_puts(&url, "&$filter=");
            http_escape(&url, filter);
        }
        if (order) {
            buf_puts(&url, "&$orderby=");
            http_escape(&url, order);
        }
    }
    for (int page = 1; rc == 0; page++) {
        const char *what = arena_printf(&L->a, "source %s: GET %s%s page %d", c->name, set, delta ? " (changes)" : "", page);
        HttpResponse r;
        http_response_init(&r);
        if (live_send(L, "GET", buf_str(&url), delta ? d365_track_hv : d365_read_hv, NULL, 0, what, &r, err) != 0) {
            http_response_free(&r);
            rc = -1;
            break;
        }
        Buf perr;
        buf_init(&perr);
        cJSON *a = live_parse(&r, what, &perr);
        if (r.status >= 300 || perr.n || !a) {
            if (r.status >= 300) live_failed(L, &r, a, what, err);
            else buf_puts(err, perr.n ? buf_str(&perr) : "the answer is empty");
            rc = r.status >= 400 && r.status < 500 && r.status != 401 && r.status != 403 && r.status != 429 ? -2 : -1;
        }
        buf_free(&perr);
        http_response_free(&r);
        if (rc == 0) {
            live_record_page(L, oname, a);
            buf_reset(&next);
            if (live_decode(L, object, a, &ls->sink, &next, what, err) != 0) rc = -1;
            const cJSON *dl = cJSON_GetObjectItemCaseSensitive(a, "@odata.deltaLink");
            if (delta && cJSON_IsString(dl)) {
                buf_reset(delta);
                buf_puts(delta, dl->valuestring);
            }
        }
        cJSON_Delete(a);
        if (rc == 0) live_page_end(ls);
        if (rc || !next.n) break;
        rc = d365_next(S, buf_str(&next), &url, what, err);
    }
    buf_free(&sel);
    buf_free(&url);
    buf_free(&next);
    return rc;
}

/* Changes come through change tracking where the table has it, since it
 * is the only way Dataverse reports deletes: the first read takes every
 * row (rows older than the cursor are passed over) and keeps the delta
 * link the last page hands out; the next reads follow it and get what
 * changed, deleted rows included.  A table without change tracking, or a
 * delta link the API no longer takes, is read by modifiedon instead. */
static int d365_changed(Connector *c, uint32_t object, ChangeCursor *cur, RecordSink *sink, Buf *err) {
    D365 *S = (D365 *)c;
    const Program *p = c->p;
    const PObject *o = &p->objects[object];
    const char *mod = o->modified >= 0 ? program_str(p, field_of(p, object, o->modified)->name) : "modifiedon";
    LiveSink ls;
    live_sink_init(&ls, &S->L, sink);
    Buf why;
    buf_init(&why);
    int rc = -2;
    if (cur->token) rc = d365_query(S, object, cur->token, NULL, NULL, &cur->next, &ls, &why);
    if (rc == -2 && !ls.n) {
        buf_reset(&why);
        buf_reset(&cur->next);
        ls.since = cur->since;
        rc = d365_query(S, object, NULL, NULL, NULL, &cur->next, &ls, &why);
    }
    if (rc == -2 && !ls.n) {
        Buf f, ord;
        buf_init(&f);
        buf_init(&ord);
        if (cur->since != INT64_MIN) {
            buf_printf(&f, "%s gt ", mod);
            live_time(cur->since, TIME_Z, &f);
        }
        buf_printf(&ord, "%s asc", mod);
        buf_reset(&why);
        buf_reset(&cur->next);
        ls.since = INT64_MIN;
        rc = d365_query(S, object, NULL, f.n ? buf_str(&f) : NULL, buf_str(&ord), NULL, &ls, &why);
        buf_free(&f);
        buf_free(&ord);
    }
    if (rc != 0) buf_puts(err, buf_str(&why));
    if (rc == 0 && ls.newest != INT64_MIN && ls.newest > cur->newest) cur->newest = ls.newest;
    cur->whole = rc == 0 && cur->since == INT64_MIN && !cur->token;
    live_sink_free(&ls);
    buf_free(&why);
    return rc ? -1 : 0;
}

/* Rows whose field is one of values, D365_IN values a query; a value the
 * column's type cannot hold matches nothing and is left out. */
static int d365_where_in(Live *L, uint32_t object, int field, const char *const *values, uint32_t n, LiveSink *ls,
                         Buf *err) {
    D365 *S = (D365 *)L;
    const Program *p = S->L.base.p;
    const PField *f = field_of(p, object, field);
    Buf col, q;
    buf_init(&col);
    buf_init(&q);
    d365_column(p, f, &col);
    int rc = 0;
    for (uint32_t i = 0, in = 0; i < n && rc == 0; i++) {
        size_t had = q.n;
        buf_printf(&q, "%s%s eq ", in ? " or " : "", buf_str(&col));
        if (odata_literal(&q, f, values[i]) == 0) {
            in++;
        } else {   /* taken back */
            q.n = had;
            q.p[had] = 0;
        }
        if (in && (in == D365_IN || i + 1 == n)) {
            rc = d365_query(S, object, NULL, buf_str(&q), NULL, NULL, ls, err);
            buf_reset(&q);
            in = 0;
        }
    }
    buf_free(&col);
    buf_free(&q);
    return rc;
}

static int d365_get(Connector *c, uint32_t object, const char *const *ids, uint32_t n, RecordSink *sink, Buf *err) {
    const PObject *o = &c->p->objects[object];
    /* an id goes into a filter unquoted, so it must be nothing but a GUID */
    for (uint32_t i = 0; i < n; i++)
        if (!is_guid(ids[i])) {
            buf_printf(err, "source %s: \"%s\" is not a Dynamics 365 id (a GUID)", c->name, ids[i]);
            return -1;
        }
    LiveSink ls;
    live_sink_init(&ls, (Live *)c, sink);
    int rc = d365_where_in((Live *)c, object, o->key >= 0 ? o->key : 0, ids, n, &ls, err);
    live_sink_free(&ls);
    return rc;
}

static int d365_find(Connector *c, uint32_t object, int field, const char *const *values, uint32_t n,
                     ConnectorKeyFn key, void *kctx, RecordSink *sink, Buf *err) {
    /* Dataverse compares text without case; the key function decides exactly */
    return live_find((Live *)c, object, field, values, n, key, kctx, sink, d365_where_in, err);
}

/* ------------------------------------------------------------ writing */

typedef struct Part {
    uint32_t i;            /* the change: index into idx/res */
    int last;              /* its change's last request */
    const char *method, *url, *body, *headers;   /* in the apply's arena */
} Part;

typedef struct Batch {
    Part *v;
    uint32_t n, cap;
    int creates;           /* a create is among them: the batch is sent once */
} Batch;

/* One part of a batch answer: the inner HTTP answer. */
typedef struct Answer {
    long status;
    const char *head, *body;   /* its header lines and body, within the answer */
    size_t nhead, nbody;
} Answer;

/* The next line of s[*at..n): its start and length without CR LF; *at
 * moves past it.  0 at the end. */
static int next_line(const char *s, size_t n, size_t *at, const char **line, size_t *len) {
    if (*at >= n) return 0;
    const char *p = s + *at, *nl = memchr(p, '\n', n - *at);
    size_t l = nl ? (size_t)(nl - p) : n - *at;
    *at += l + (nl ? 1 : 0);
    if (l && p[l - 1] == '\r') l--;
    *line = p;
    *len = l;
    return 1;
}

/* The header of a part's answer, trimmed, into out; NULL when absent. */
static const char *answer_header(const Answer *ans, const char *name, Buf *out) {
    size_t at = 0, len, n = strlen(name);
    const char *line;
    while (next_line(ans->head, ans->nhead, &at, &line, &len)) {
        if (len <= n || line[n] != ':' || strncasecmp(line, name, n)) continue;
        const char *v = line + n + 1, *e = line + len;
        while (v < e && (*v == ' ' || *v == '\t')) v++;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
        buf_reset(out);
        buf_putn(out, v, (size_t)(e - v));
        return buf_str(out);
    }
    return NULL;
}

/* Reads one part: MIME headers, a blank line, the status line, headers, a
 * blank line, the body.  -1 when it is not an application/http answer. */
static int read_part(const char *s, size_t n, Answer *ans) {
    size_t at = 0, len;
    const char *line;
    /* the part's own headers (Content-Type: application/http ...) */
    while (next_line(s, n, &at, &line, &len) && len) {}
    /* answers separate parts with blank lines too */
    do {
        if (!next_line(s, n, &at, &line, &len)) return -1;
    } while (!len);
    if (len < 12 || strncmp(line, "HTTP/", 5)) return -1;
    const char *sp = memchr(line, ' ', len);
    if (!sp || sp + 4 > line + len || !isdigit((unsigned char)sp[1]) || !isdigit((unsigned char)sp[2]) ||
        !isdigit((unsigned char)sp[3]))
        return -1;
    ans->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    size_t hstart = at, hend = at;
    for (;;) {
        size_t before = at;
        if (!next_line(s, n, &at, &line, &len)) { hend = at; break; }
        if (!len) { hend = before; break; }
    }
    ans->head = s + hstart;
    ans->nhead = hend - hstart;
    ans->body = s + at;
    ans->nbody = n - at;
    while (ans->nbody && isspace((unsigned char)ans->body[0])) ans->body++, ans->nbody--;
    while (ans->nbody && isspace((unsigned char)ans->body[ans->nbody - 1])) ans->nbody--;
    return 0;
}

/* The boundary parameter of a multipart Content-Type, into out. */
static int boundary_of(const char *ctype, Buf *out) {
    if (!ctype || strncasecmp(ctype, "multipart/mixed", 15)) return -1;
    for (const char *p = ctype; (p = strchr(p, ';'));) {
        p++;
        while (*p == ' ' || *p == '\t') p++;
        if (strncasecmp(p, "boundary=", 9)) continue;
        p += 9;
        size_t n;
        if (*p == '"') {
            p++;
            n = strcspn(p, "\"");
        } else {
            n = strcspn(p, "; \t");
        }
        buf_reset(out);
        buf_putn(out, p, n);
        return n ? 0 : -1;
    }
    return -1;
}

/* Splits a multipart/mixed answer at its boundary into answers, at most
 * max; the count read goes to *count.  -1 when it cannot be read.  Lines
 * may end with CR LF or LF alone. */
static int read_batch(const char *s, size_t n, const char *boundary, Answer *out, uint32_t max, uint32_t *count) {
    size_t bl = strlen(boundary), at = 0, len, start = 0;
    const char *line;
    int open = 0, closed = 0;
    *count = 0;
    while (!closed) {
        size_t line_at = at;
        if (!next_line(s, n, &at, &line, &len)) break;
        if (len < bl + 2 || line[0] != '-' || line[1] != '-' || strncmp(line + 2, boundary, bl)) continue;
        const char *rest = line + 2 + bl;
        size_t nrest = len - 2 - bl;
        int end = nrest >= 2 && rest[0] == '-' && rest[1] == '-';
        /* after the boundary: "--" at the end, then only padding blanks
         * (a longer boundary that starts alike is no delimiter) */
        size_t k = end ? 2 : 0;
        while (k < nrest && (rest[k] == ' ' || rest[k] == '\t')) k++;
        if (k < nrest) continue;
        if (open) {
            /* the line break before a delimiter belongs to it */
            size_t e = line_at;
            if (e > start && s[e - 1] == '\n') e--;
            if (e > start && s[e - 1] == '\r') e--;
            if (*count >= max || read_part(s + start, e - start, &out[*count]) != 0) return -1;
            (*count)++;
        }
        open = 1;
        closed = end;
        start = at;
    }
    return closed ? 0 : -1;
}

/* The GUID in an OData-EntityId header: .../leads(<guid>). */
static int entity_id(const char *h, Buf *id) {
    const char *o = h ? strrchr(h, '(') : NULL, *e = o ? strchr(o, ')') : NULL;
    if (!o || !e || e - o - 1 != 36) return -1;
    buf_reset(id);
    buf_putn(id, o + 1, 36);
    return is_guid(buf_str(id)) ? 0 : -1;
}

/* The request text of a batch: each part an application/http request. */
static void batch_body(const Batch *b, const char *boundary, Buf *out) {
    for (uint32_t k = 0; k < b->n; k++) {
        const Part *pt = &b->v[k];
        buf_printf(out, "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n", boundary);
        buf_printf(out, "%s %s HTTP/1.1\r\nAccept: application/json\r\n", pt->method, pt->url);
        if (pt->body) buf_puts(out, "Content-Type: application/json\r\n");
        for (const char *h = pt->headers; h && *h;) {
            size_t l = strcspn(h, "\r\n");
            if (l) {
                buf_putn(out, h, l);
                buf_puts(out, "\r\n");
            }
            h += l;
            h += strspn(h, "\r\n");
        }
        buf_printf(out, "\r\n%s\r\n", pt->body ? pt->body : "");
    }
    buf_printf(out, "--%s--\r\n", boundary);
}

/* A boundary no part contains: no line of the request can be taken for it. */
static const char *batch_boundary(D365 *S, const Batch *b, Buf *out) {
    for (uint32_t salt = 0;; salt++) {
        buf_reset(out);
        buf_printf(out, "batch_tandem_%ld_%lld_%u_%u", (long)getpid(), (long long)time(NULL), ++S->batches, salt);
        int clash = 0;
        for (uint32_t k = 0; k < b->n && !clash; k++)
            clash = (b->v[k].body && strstr(b->v[k].body, out->p)) || strstr(b->v[k].url, out->p) ||
                    (b->v[k].headers && strstr(b->v[k].headers, out->p));
        if (!clash) return buf_str(out);
    }
}

/* What became of one part's change. */
static void settle(D365 *S, CodecCtx *cx, const Plan *pl, const uint32_t *idx, ApplyResult *res, const Part *pt,
                   const Answer *ans, Buf *err_unread, const char *what) {
    Live *L = &S->L;
    ApplyResult *out = &res[pt->i];
    const Change *ch = &pl->changes[idx[pt->i]];
    if (out->error) return;   /* an earlier request of its change failed */
    cJSON *j = ans->nbody ? cJSON_ParseWithLength(ans->body, ans->nbody) : NULL;
    int ok = ans->status >= 200 && ans->status < 300;
    Buf id, why, h;
    buf_init(&id);
    buf_init(&why);
    buf_init(&h);
    if (ok && ans->nbody && !j) {
        /* done, but what it answered cannot be read: for a create, its id
         * is lost, so the run stops and the next one settles it */
        if (ch->kind == CH_CREATE && !err_unread->n)
            buf_printf(err_unread, "%s: the answer to a create is not valid JSON (%zu bytes)", what, ans->nbody);
        else if (pt->last) out->ok = 1;
    } else if (ch->kind == CH_CREATE && pt->last && ok && !j &&
               entity_id(answer_header(ans, "OData-EntityId", &h), &id) == 0) {
        /* 204 without the row: the id is in the header */
        out->ok = 1;
        out->id = arena_strdup(&L->a, buf_str(&id));
    } else if (ch->kind == CH_CREATE && pt->last) {
        if (!ok) buf_printf(&why, "HTTP %ld: ", ans->status);
        if (S->L.base.codec->created_id(cx, ch, (int)ans->status, j, &id, &why) == 0) {
            out->ok = 1;
            out->id = arena_strdup(&L->a, buf_str(&id));
        } else {
            out->error = arena_strdup(&L->a, buf_str(&why));
        }
    } else if (ok || (ans->status == 404 && !strcmp(pt->method, "DELETE"))) {
        /* a row already gone is as deleted as it can be */
        if (pt->last) out->ok = 1;
    } else {
        buf_printf(&why, "HTTP %ld", ans->status);
        Buf m;
        buf_init(&m);
        d365_failure(j, &m);
        if (m.n) buf_printf(&why, ": %s", buf_str(&m));
        buf_free(&m);
        out->error = arena_strdup(&L->a, buf_str(&why));
    }
    if (out->error) out->ok = 0;
    if (out->ok && pt->last) L->written++;
    cJSON_Delete(j);
    buf_free(&id);
    buf_free(&why);
    buf_free(&h);
}

/* Sends the pending parts as one $batch and maps each answer to its change. */
static int d365_flush(D365 *S, CodecCtx *cx, const Plan *pl, const uint32_t *idx, ApplyResult *res, Batch *b, Buf *err) {
    Live *L = &S->L;
    Connector *c = &L->base;
    if (!b->n) return 0;
    Buf bnd, body, ctype, rb, hb, unread;
    buf_init(&bnd);
    buf_init(&body);
    buf_init(&ctype);
    buf_init(&rb);
    buf_init(&hb);
    buf_init(&unread);
    const char *boundary = batch_boundary(S, b, &bnd);
    batch_body(b, boundary, &body);
    buf_printf(&ctype, "Content-Type: multipart/mixed; boundary=%s", boundary);
    const char *hv[] = {buf_str(&ctype), "Accept: application/json", "OData-MaxVersion: 4.0", "OData-Version: 4.0",
                        "Prefer: odata.continue-on-error", NULL};
    const char *what = arena_printf(&L->a, "source %s: POST $batch (%u request%s)", c->name, b->n, b->n == 1 ? "" : "s");
    char *url = arena_printf(&L->a, "%s/$batch", S->base);
    HttpResponse r;
    http_response_init(&r);
    /* a create sent twice makes two rows: a batch with one is not retried
     * once it may have been done */
    int rc = live_send(L, "POST", url, hv, buf_str(&body), b->creates ? HTTP_ONCE : 0, what, &r, err);
    Answer *ans = NULL;
    uint32_t got = 0;
    if (rc != 0) goto done;
    if (r.status >= 500 || r.status == 401 || r.status == 403 || r.status == 429) {
        /* the system, not a record, failed (or throttles past the retries):
         * what happened to these records is not known, so the run stops
         * and the next one settles them (docs/state.md) */
        Buf perr;
        buf_init(&perr);
        cJSON *a = live_parse(&r, what, &perr);
        live_failed(L, &r, a, what, err);
        cJSON_Delete(a);
        buf_free(&perr);
        rc = -1;
        goto done;
    }
    if (r.status >= 300 && b->n > 1) {
        /* refused as a whole, naming no part: each half is sent again, down
         * to single requests, so the good ones go through and a bad one is
         * refused with its own reason (a refused batch made nothing) */
        uint32_t half = b->n / 2;
        Batch lo = {b->v, half, half, b->creates}, hi = {b->v + half, b->n - half, b->n - half, b->creates};
        rc = d365_flush(S, cx, pl, idx, res, &lo, err);
        if (rc == 0) rc = d365_flush(S, cx, pl, idx, res, &hi, err);
        goto done;
    }
    if (r.status >= 300) {
        /* the batch of one request was refused: its change is */
        Buf perr, m;
        buf_init(&perr);
        buf_init(&m);
        cJSON *a = live_parse(&r, what, &perr);
        live_failed(L, &r, a, what, &m);
        for (uint32_t k = 0; k < b->n; k++)
            if (!res[b->v[k].i].error) {
                res[b->v[k].i].ok = 0;
                res[b->v[k].i].error = arena_strdup(&L->a, buf_str(&m));
            }
        cJSON_Delete(a);
        buf_free(&perr);
        buf_free(&m);
        goto done;
    }
    ans = calloc(b->n + 1, sizeof *ans);
    if (!ans) abort();
    const char *ct = http_header(&r, "content-type", &hb);
    if (boundary_of(ct, &rb) != 0 || read_batch(buf_str(&r.body), r.body.n, buf_str(&rb), ans, b->n, &got) != 0 ||
        got != b->n) {
        buf_printf(err, "%s: the answer (HTTP %ld, %zu bytes) is not a batch answer of %u parts", what, r.status, r.body.n,
                   b->n);
        rc = -1;
        goto done;
    }
    for (uint32_t k = 0; k < b->n; k++) settle(S, cx, pl, idx, res, &b->v[k], &ans[k], &unread, what);
    if (unread.n) {
        buf_puts(err, buf_str(&unread));
        rc = -1;
    }
done:
    free(ans);
    http_response_free(&r);
    buf_free(&hb);
    buf_free(&unread);
    buf_free(&bnd);
    buf_free(&body);
    buf_free(&ctype);
    buf_free(&rb);
    b->n = 0;
    b->creates = 0;
    return rc;
}

static void batch_add(Batch *b, const Part *pt) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
        if (!b->v) abort();
    }
    b->v[b->n++] = *pt;
}

static int d365_apply(Connector *c, const Plan *pl, const uint32_t *idx, uint32_t n, ApplyResult *res, Buf *err) {
    D365 *S = (D365 *)c;
    Live *L = &S->L;
    Arena a;
    arena_init(&a);
    CodecCtx cx = c->cx;
    cx.a = &a;
    Batch b = {NULL, 0, 0, 0};
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const Change *ch = &pl->changes[idx[i]];
        /* an action on a row this call creates: its create must have answered */
        if (ch->created >= 0 && (rc = d365_flush(S, &cx, pl, idx, res, &b, err)) != 0) break;
        RequestList rl = {NULL, 0, 0};
        if (!live_encode(L, &cx, pl, idx, res, i, &rl)) continue;
        if (b.n + rl.n > D365_BATCH && (rc = d365_flush(S, &cx, pl, idx, res, &b, err)) != 0) break;
        for (uint32_t k = 0; k < rl.n; k++) {
            const Request *rq = &rl.v[k];
            Part pt = {i, k + 1 == rl.n, rq->method, arena_printf(&a, "%s%s", S->base, rq->path), rq->body, rq->headers};
            batch_add(&b, &pt);
        }
        if (ch->kind == CH_CREATE) b.creates = 1;
    }
    if (rc == 0) rc = d365_flush(S, &cx, pl, idx, res, &b, err);
    free(b.v);
    arena_free(&a);
    return rc;
}

static void d365_close(Connector *c) {
    D365 *S = (D365 *)c;
    live_close(&S->L);
    free(S);
}

/* Dynamics has no tags: tagged is NULL. */
static const ConnectorOps d365_ops = {d365_changed, d365_get, d365_find, NULL, d365_apply, d365_close};

/* The URL without trailing slashes. */
static const char *trimmed(Arena *a, const char *s) {
    size_t n = strlen(s);
    while (n && s[n - 1] == '/') n--;
    return arena_strndup(a, s, n);
}

Connector *dynamics365_open(const Program *p, const PSource *src, const LiveOptions *o, Buf *err) {
    D365 *S = calloc(1, sizeof *S);
    if (!S) abort();
    Live *L = &S->L;
    if (live_init(L, &d365_ops, p, src, o, 0, err) != 0) goto fail;
    L->login = d365_login;
    L->failure = d365_failure;
    const char *url, *tenant, *version;
    if (!(url = live_require(L, "url", err))) goto fail;
    if (!(tenant = live_require(L, "auth.tenant_id", err))) goto fail;
    if (!(S->client_id = live_require(L, "auth.client_id", err))) goto fail;
    if (!(S->client_secret = live_require(L, "auth.client_secret", err))) goto fail;
    size_t had = err->n;
    version = live_setting(L, "api_version", err);
    const char *token = live_setting(L, "auth.token_url", err), *login = live_setting(L, "auth.login_url", err);
    const char *scope = live_setting(L, "auth.scope", err);
    if (err->n != had) goto fail;
    if (!version) version = "9.2";
    if (version[0] == 'v') version++;
    S->url = trimmed(&L->a, url);
    const char *sep = strstr(S->url, "://");
    if (!sep || !sep[3]) {
        buf_printf(err, "source %s: url \"%s\" is not an address (https://<org>.crm.dynamics.com)", L->base.name, S->url);
        goto fail;
    }
    S->origin = arena_strndup(&L->a, S->url, (size_t)(sep + 3 - S->url) + strcspn(sep + 3, "/?#"));
    S->base = arena_printf(&L->a, "%s/api/data/v%s", S->url, version);
    S->scope = scope ? scope : arena_printf(&L->a, "%s/.default", S->url);
    if (token) {
        S->token_url = token;
    } else {
        Buf t;
        buf_init(&t);
        buf_printf(&t, "%s/", trimmed(&L->a, login ? login : "https://login.microsoftonline.com"));
        http_escape(&t, tenant);   /* a path segment, whatever the setting holds */
        buf_puts(&t, "/oauth2/v2.0/token");
        S->token_url = arena_strdup(&L->a, buf_str(&t));
        buf_free(&t);
    }
    if (d365_login(L, err) != 0) goto fail;
    return &L->base;
fail:
    if (L->http) live_close(L);
    free(S);
    return NULL;
}
