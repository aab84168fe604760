/* live.c - the shared part of the HTTP connectors (live.h). */
#include "live.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "value.h"

int live_init(Live *L, const ConnectorOps *ops, const Program *p, const PSource *src, const LiveOptions *o,
              long min_interval_ms, Buf *err) {
    Connector *c = &L->base;
    c->ops = ops;
    c->p = p;
    c->name = program_str(p, src->name);
    c->system = program_str(p, src->system);
    c->codec = codec_for(c->system);
    arena_init(&c->meta_arena);
    meta_init(&c->meta, &c->meta_arena);
    c->cx.p = p;
    c->cx.meta = &c->meta;
    arena_init(&c->scratch_arena);
    c->cx.scratch = &c->scratch_arena;
    arena_init(&L->a);
    buf_init(&L->record_err);
    L->src = src;
    if (o) L->o = *o;
    HttpOptions ho = {0};
    ho.timeout_ms = L->o.timeout_ms;
    ho.max_retries = L->o.max_retries;
    ho.min_interval_ms = min_interval_ms;
    L->http = http_new(&ho);
    if (!L->http) {
        buf_printf(err, "source %s: cannot start the HTTP client", c->name);
        return -1;
    }
    if (L->o.record) {
        L->record_dir = arena_printf(&L->a, "%s/%s", L->o.record, c->name);
        if (make_dirs(L->record_dir, err) != 0) return -1;
    }
    return 0;
}

void live_close(Live *L) {
    live_progress(L, 1);
    http_free(L->http);
    if (L->auth) {
        /* the credential does not outlive its use in freed memory */
        memset(L->auth, 0, strlen(L->auth));
        free(L->auth);
    }
    arena_free(&L->a);
    arena_free(&L->base.meta_arena);
    arena_free(&L->base.scratch_arena);
    buf_free(&L->record_err);
}

/* ---------------------------------------------------------- settings */

/* A secret from a file: DIR/NAME, readable by its owner alone. */
static char *secret_file(Live *L, const char *dir, const char *name, Buf *err) {
    char *path = arena_printf(&L->a, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    if (st.st_mode & 077) {
        buf_printf(err, "source %s: the secret file for %s can be read by others than its owner (chmod 600 it)", L->base.name, name);
        close(fd);
        return NULL;
    }
    Buf b;
    buf_init(&b);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) buf_putn(&b, chunk, (size_t)n);
    close(fd);
    while (b.n && (b.p[b.n - 1] == '\n' || b.p[b.n - 1] == '\r')) b.n--;
    char *s = arena_strndup(&L->a, b.p ? b.p : "", b.n);
    if (b.p) memset(b.p, 0, b.cap);
    buf_free(&b);
    return s;
}

const char *live_setting(Live *L, const char *name, Buf *err) {
    const Program *p = L->base.p;
    const PSetting *s = program_setting(p, L->src, name);
    if (!s) return NULL;
    if (s->kind == SET_VALUE) {
        Value v = p->consts[s->value];
        if (v.t == VT_STR) return arena_strndup(&L->a, v.u.s, v.len);
        Buf b;
        buf_init(&b);
        value_format(v, &b);
        const char *r = arena_strdup(&L->a, buf_str(&b));
        buf_free(&b);
        return r;
    }
    const char *var = program_str(p, s->value), *v = getenv(var);
    if (v && *v) return arena_strdup(&L->a, v);
    if (s->kind == SET_SECRET) {
        const char *dirs[] = {getenv("TANDEM_SECRETS_DIR"), getenv("CREDENTIALS_DIRECTORY")};
        for (int i = 0; i < 2; i++) {
            if (!dirs[i] || !*dirs[i]) continue;
            size_t had = err->n;
            char *f = secret_file(L, dirs[i], var, err);
            if (f) return f;
            if (err->n != had) return NULL;
        }
        buf_printf(err, "source %s: %s needs the secret %s: set the environment variable, or put it in a file "
                        "%s in $TANDEM_SECRETS_DIR", L->base.name, name, var, var);
        return NULL;
    }
    buf_printf(err, "source %s: %s needs the environment variable %s, which is not set", L->base.name, name, var);
    return NULL;
}

const char *live_require(Live *L, const char *name, Buf *err) {
    size_t had = err->n;
    const char *v = live_setting(L, name, err);
    if (!v && err->n == had) buf_printf(err, "source %s: the setting %s is required", L->base.name, name);
    return v;
}

/* ------------------------------------------------------------ requests */

int live_send(Live *L, const char *method, const char *url, const char *const *headers, const char *body, int flags,
              const char *what, HttpResponse *r, Buf *err) {
    if (L->record_err.n) {
        buf_printf(err, "source %s: %s", L->base.name, buf_str(&L->record_err));
        return -1;
    }
    const char *hv[24];
    for (int attempt = 0;; attempt++) {
        int n = 0;
        if (L->auth) hv[n++] = L->auth;
        for (const char *const *h = headers; h && *h && n < 22; h++) hv[n++] = *h;
        hv[n] = NULL;
        if (http_send(L->http, method, url, hv, body, flags, what, r, err) != 0) {
            live_progress(L, 0);
            return -1;
        }
        live_progress(L, 0);
        /* a token that expired: log in again, once */
        if (r->status != 401 || !L->login || attempt) return 0;
        if (L->login(L, err) != 0) return -1;
    }
}

cJSON *live_parse(const HttpResponse *r, const char *what, Buf *err) {
    size_t n = r->body.n;
    const char *s = r->body.p;
    while (n && isspace((unsigned char)*s)) s++, n--;
    if (!n) return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!j) {
        /* the body is the customer's data: its size is told, not its text */
        buf_printf(err, "%s: the answer (HTTP %ld, %zu bytes) is not valid JSON%s", what, r->status, r->body.n,
                   end && (size_t)(end - s) >= n ? "; it looks cut short" : "");
        return NULL;
    }
    return j;
}

void live_failed(Live *L, const HttpResponse *r, const cJSON *answer, const char *what, Buf *err) {
    buf_printf(err, "%s: HTTP %ld", what, r->status);
    Buf m;
    buf_init(&m);
    if (answer && L->failure) L->failure(answer, &m);
    if (m.n) buf_printf(err, ": %s", buf_str(&m));
    buf_free(&m);
}

int live_json(Live *L, const char *method, const char *url, const char *const *headers, const char *body, int flags,
              const char *what, cJSON **answer, Buf *err) {
    *answer = NULL;
    HttpResponse r;
    http_response_init(&r);
    int rc = -1;
    if (live_send(L, method, url, headers, body, flags, what, &r, err) == 0) {
        Buf perr;
        buf_init(&perr);
        cJSON *j = live_parse(&r, what, &perr);
        if (r.status >= 200 && r.status < 300) {
            if (perr.n) buf_puts(err, buf_str(&perr));
            else {
                *answer = j;
                j = NULL;
                rc = 0;
            }
        } else {
            live_failed(L, &r, j, what, err);
        }
        cJSON_Delete(j);
        buf_free(&perr);
    }
    http_response_free(&r);
    return rc;
}

void live_form(Buf *b, const char *k, const char *v) {
    if (b->n) buf_putc(b, '&');
    buf_puts(b, k);
    buf_putc(b, '=');
    http_escape(b, v);
}

int live_oauth(Live *L, const char *token_url, Buf *form, const char *what, const char *hint, cJSON **answer,
               Buf *err) {
    const char *hv[] = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json", NULL};
    HttpResponse r;
    http_response_init(&r);
    *answer = NULL;
    int rc = -1;
    /* not live_send: the token request carries no token, and a 401 here is final */
    if (http_send(L->http, "POST", token_url, hv, buf_str(form), 0, what, &r, err) == 0) {
        Buf perr;
        buf_init(&perr);
        cJSON *a = live_parse(&r, what, &perr);
        cJSON *t = a ? cJSON_GetObjectItemCaseSensitive(a, "access_token") : NULL;
        if (r.status == 200 && cJSON_IsString(t) && *t->valuestring) {
            if (L->auth) {
                memset(L->auth, 0, strlen(L->auth));
                free(L->auth);
            }
            size_t n = strlen(t->valuestring) + 32;
            L->auth = malloc(n);
            if (!L->auth) abort();
            snprintf(L->auth, n, "Authorization: Bearer %s", t->valuestring);
            memset(t->valuestring, 0, strlen(t->valuestring));
            *answer = a;
            a = NULL;
            rc = 0;
        } else if (perr.n) {
            buf_puts(err, buf_str(&perr));
        } else {
            live_failed(L, &r, a, what, err);
            if (hint) buf_printf(err, " (check %s)", hint);
        }
        cJSON_Delete(a);
        buf_free(&perr);
        if (r.body.p) memset(r.body.p, 0, r.body.cap);   /* the answer held the token */
    }
    if (form->p) memset(form->p, 0, form->cap);          /* the form held the secrets */
    http_response_free(&r);
    return rc;
}

int live_encode(Live *L, CodecCtx *cx, const Plan *pl, const uint32_t *idx, ApplyResult *res, uint32_t i,
                RequestList *rl) {
    const Change *ch = &pl->changes[idx[i]];
    memset(&res[i], 0, sizeof res[i]);
    const char *id = connector_target(pl, idx, res, i, &res[i].error);
    if (ch->created >= 0 && !id) return 0;
    Buf why;
    buf_init(&why);
    int rc = L->base.codec->encode(cx, ch, ch->kind == CH_CREATE ? NULL : id, rl, &why);
    if (rc != 0) res[i].error = arena_strdup(&L->a, buf_str(&why));   /* the system could not take it */
    else if (!rl->n) res[i].ok = 1;                                   /* nothing to write */
    buf_free(&why);
    return rc == 0 && rl->n;
}

int live_decode(Live *L, uint32_t object, const cJSON *answer, RecordSink *sink, Buf *next, const char *what, Buf *err) {
    Connector *c = &L->base;
    Buf why;
    buf_init(&why);
    int rc = c->codec->decode_page(&c->cx, object, answer, sink, next, &why);
    if (rc != 0) buf_printf(err, "%s: %s", what, buf_str(&why));
    buf_free(&why);
    return rc;
}

/* ------------------------------------------------------------- record */

/* Keys that may hold a credential: never written to a recording. */
static int secret_key(const char *k) {
    static const char *const bad[] = {"token", "secret", "password", "api_key", "apikey", "authorization", "signature"};
    char low[64];
    size_t n = 0;
    for (; k[n] && n < sizeof low - 1; n++) low[n] = (char)tolower((unsigned char)k[n]);
    low[n] = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(low, bad[i])) return 1;
    return 0;
}

static void strip(cJSON *j) {
    cJSON *e = j ? j->child : NULL;
    while (e) {
        cJSON *next = e->next;
        if (cJSON_IsObject(j) && e->string && secret_key(e->string)) cJSON_Delete(cJSON_DetachItemViaPointer(j, e));
        else strip(e);
        e = next;
    }
}

static void record_write(Live *L, const char *path, const cJSON *answer) {
    cJSON *copy = cJSON_Duplicate(answer, 1);
    strip(copy);
    char *text = cJSON_Print(copy);
    cJSON_Delete(copy);
    if (!text) return;
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0) ok = 0;
    /* the next request fails with it: a recording with holes would replay wrong */
    if (!ok && !L->record_err.n) buf_printf(&L->record_err, "--record: cannot write %s: %s", path, strerror(errno));
    cJSON_free(text);
}

/* A sink that counts what reaches it, and passes it on. */
typedef struct Counted {
    RecordSink *out;
    uint32_t rows;
} Counted;

static void counted_record(void *ctx, Record *r) {
    Counted *c = ctx;
    c->rows++;
    c->out->record(c->out->ctx, r);
}

static void counted_bad(void *ctx, const char *id, const char *why) {
    Counted *c = ctx;
    c->rows++;
    c->out->bad(c->out->ctx, id, why);
}

int live_read_page(Live *L, uint32_t object, const char *url, const char *const *headers, const char *what,
                   RecordSink *sink, Buf *next, Buf *err) {
    Connector *c = &L->base;
    if (!c->codec->scan_page || L->record_dir) {
        cJSON *a = NULL;
        if (live_json(L, "GET", url, headers, NULL, 0, what, &a, err) != 0) return -1;
        live_record_page(L, program_str(c->p, c->p->objects[object].name), a);
        int rc = live_decode(L, object, a, sink, next, what, err);
        cJSON_Delete(a);
        return rc;
    }
    HttpResponse r;
    http_response_init(&r);
    int rc = -1;
    if (live_send(L, "GET", url, headers, NULL, 0, what, &r, err) == 0) {
        Buf why;
        buf_init(&why);
        Counted cn = {sink, 0};
        RecordSink counting = {&cn, counted_record, counted_bad, NULL};
        if (r.status >= 200 && r.status < 300 &&
            c->codec->scan_page(&c->cx, object, r.body.p, r.body.n, &counting, next, &why) == 0) {
            rc = 0;
        } else {
            /* the error says what live_json and live_decode would */
            Buf perr;
            buf_init(&perr);
            cJSON *j = live_parse(&r, what, &perr);
            if (j && !perr.n && r.status >= 200 && r.status < 300 && !cn.rows) {
                /* cJSON reads a little more than JSON (control bytes in
                 * strings, 01): a page it reads whose scan gave nothing
                 * yet is decoded from its tree */
                buf_reset(next);
                rc = live_decode(L, object, j, sink, next, what, err);
            } else if (r.status < 200 || r.status >= 300) live_failed(L, &r, j, what, err);
            else if (perr.n) buf_puts(err, buf_str(&perr));
            else if (j) buf_printf(err, "%s: %s", what, buf_str(&why));
            else buf_printf(err, "%s: the answer is empty", what);
            cJSON_Delete(j);
            buf_free(&perr);
        }
        buf_free(&why);
    }
    http_response_free(&r);
    return rc;
}

void live_record_page(Live *L, const char *object, const cJSON *answer) {
    if (!L->record_dir || !answer) return;
    Buf err;
    buf_init(&err);
    char *dir = arena_printf(&L->a, "%s/%s", L->record_dir, object);
    if (make_dirs(dir, &err) == 0) {
        /* pages in the order they were read: the replay source reads them in name order */
        char *path = arena_printf(&L->a, "%s/%06u.json", dir, ++L->record_seq);
        record_write(L, path, answer);
    }
    buf_free(&err);
}

void live_record_meta(Live *L, const char *what, const cJSON *answer) {
    if (!L->record_dir || !answer) return;
    record_write(L, arena_printf(&L->a, "%s/%s.json", L->record_dir, what), answer);
}

/* ----------------------------------------------------------- progress */

/* The line is transient: it shows while requests go, and is erased when
 * the source closes, before the plan is printed. */
void live_progress(Live *L, int end) {
    if (!L->o.progress) return;
    int64_t now = mono_ms();
    if (end) {
        if (L->drawn) fputs("\r\033[K", stderr);
        L->drawn = 0;
        return;
    }
    if (now - L->shown_ms < 250) return;
    L->shown_ms = now;
    const HttpStats *st = http_stats(L->http);
    fprintf(stderr, "\r%s: %lld read, %lld written, %lld requests", L->base.name, (long long)L->read,
            (long long)L->written, (long long)st->requests);
    if (st->retries) fprintf(stderr, ", %lld retried", (long long)st->retries);
    if (st->waited_ms >= 1000) fprintf(stderr, ", %lld s waiting for the rate limit", (long long)(st->waited_ms / 1000));
    fputs("\033[K", stderr);
    L->drawn = 1;
    fflush(stderr);
}

/* -------------------------------------------------------------- times */

void live_time(int64_t ms, int style, Buf *out) {
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char b[48];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_puts(out, b);
    buf_puts(out, style == TIME_AC ? "-00:00" : style == TIME_GR ? "+0000" : "Z");
}

/* -------------------------------------------------------------- sinks */

static int sink_wants(LiveSink *s, const Record *rec) {
    if (!s->want) return 1;
    buf_reset(&s->kb);
    if (s->key) {
        if (s->key(s->kctx, rec, &s->kb) != 0) return 0;
    } else {
        if (s->field < 0 || (uint32_t)s->field >= rec->vm.nf || value_blank(rec->fields[s->field])) return 0;
        value_format(rec->fields[s->field], &s->kb);
    }
    return symtab_get(s->want, buf_str(&s->kb)) != NULL;
}

static void sink_record(void *ctx, Record *r) {
    LiveSink *s = ctx;
    s->rows++;
    /* one at the cursor's own second is kept: it may have changed after
     * the read that set the cursor, within the same second */
    if (s->since != INT64_MIN && r->vm.modified != INT64_MIN && r->vm.modified < s->since) {
        s->older = 1;
        return;
    }
    if (!sink_wants(s, r)) return;
    if (r->vm.modified != INT64_MIN && r->vm.modified > s->newest) s->newest = r->vm.modified;
    s->n++;
    s->L->read++;
    s->out->record(s->out->ctx, r);
}

static void sink_bad(void *ctx, const char *id, const char *reason) {
    LiveSink *s = ctx;
    s->rows++;
    s->out->bad(s->out->ctx, id, reason);
}

void live_page_end(LiveSink *s) {
    if (s->out->page_end) s->out->page_end(s->out->ctx);
}

void live_sink_init(LiveSink *s, Live *L, RecordSink *out) {
    memset(s, 0, sizeof *s);
    s->sink.ctx = s;
    s->sink.record = sink_record;
    s->sink.bad = sink_bad;
    s->out = out;
    s->L = L;
    s->newest = INT64_MIN;
    s->since = INT64_MIN;
    s->field = -1;
    buf_init(&s->kb);
}

void live_sink_free(LiveSink *s) { buf_free(&s->kb); }

void live_sink_filter(LiveSink *s, Arena *a, Symtab *want, int field, const char *const *values, uint32_t n,
                      ConnectorKeyFn key, void *kctx) {
    symtab_init(want, a);
    for (uint32_t i = 0; i < n; i++) symtab_put(want, values[i], (void *)values[i]);
    s->want = want;
    s->field = field;
    s->key = key;
    s->kctx = kctx;
}

int live_find(Live *L, uint32_t object, int field, const char *const *values, uint32_t n, ConnectorKeyFn key,
              void *kctx, RecordSink *sink, LiveWhereIn where_in, Buf *err) {
    if (field < 0 || !n) return 0;
    Arena a;
    arena_init(&a);
    Symtab want;
    LiveSink ls;
    live_sink_init(&ls, L, sink);
    live_sink_filter(&ls, &a, &want, field, values, n, key, kctx);
    int rc = where_in(L, object, field, values, n, &ls, err);
    live_sink_free(&ls);
    arena_free(&a);
    return rc;
}

/* ---------------------------------------------------------------- all */

int live_open_all(const Program *p, const LiveOptions *o, Connector ***out, uint32_t *n, Buf *err) {
    *out = calloc(p->nsources + 1, sizeof **out);
    *n = 0;
    if (!*out) abort();
    for (uint32_t si = 0; si < p->nsyncs; si++)
        for (int k = 0; k < 2; k++) {
            const char *name = program_str(p, p->syncs[si].side[k].source);
            int have = 0;
            for (uint32_t i = 0; i < *n; i++) if (!strcmp((*out)[i]->name, name)) have = 1;
            if (have) continue;
            const PSource *src = program_source(p, name);
            Connector *c = NULL;
            const char *sys = src ? program_str(p, src->system) : "";
            if (!src) buf_printf(err, "no source named %s", name);
            else if (!strcmp(sys, "salesforce")) c = salesforce_open(p, src, o, err);
            else if (!strcmp(sys, "dynamics365")) c = dynamics365_open(p, src, o, err);
            else if (!strcmp(sys, "activecampaign")) c = activecampaign_open(p, src, o, err);
            else if (!strcmp(sys, "getresponse")) c = getresponse_open(p, src, o, err);
            else buf_printf(err, "source %s: tandem has no connector for %s", name, sys);
            if (!c) {
                connectors_close(*out, *n);
                *out = NULL;
                *n = 0;
                return -1;
            }
            (*out)[(*n)++] = c;
        }
    return 0;
}

long live_count(const cJSON *t) {
    double d;
    if (cJSON_IsNumber(t)) d = t->valuedouble;
    else if (cJSON_IsString(t) && t->valuestring[0] && strspn(t->valuestring, "0123456789") == strlen(t->valuestring) &&
             strlen(t->valuestring) <= 15)
        d = strtod(t->valuestring, NULL);
    else return -1;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(long long)d) return -1;
    return (long)d;
}
