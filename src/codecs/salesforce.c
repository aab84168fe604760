/* salesforce.c - Salesforce REST.  Reading: query pages (/query,
 * /queryAll) into records, getDeleted answers into deleted ids.  Writing:
 * a create, update or delete of one record as one /sobjects request, and
 * the id of a created record from its answer.  Salesforce names fields as
 * the schema does, so a row maps key by key both ways.  It has no tags,
 * lists or automations: such changes are refused. */
#include <math.h>
#include <string.h>

#include "codec.h"
#include "jscan.h"
#include "types.h"

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *j) { return cJSON_IsString(j) ? j->valuestring : NULL; }

static const char *const sf_meta[] = {NULL};

static int sf_decode_meta(CodecCtx *cx, const char *what, const cJSON *answer, Buf *err) {
    (void)cx, (void)answer;
    buf_printf(err, "Salesforce has no metadata answer '%s'", what);
    return -1;
}

/* A row, or NULL with the reason in why. */
static Record *sf_record(CodecCtx *cx, uint32_t object, const cJSON *row, Buf *why) {
    if (!cJSON_IsObject(row)) { buf_puts(why, "a record is not a JSON object"); return NULL; }
    Record *r = arena_alloc(cx->a, sizeof *r);
    record_init(cx->p, object, cx->a, r);
    const cJSON *e;
    /* attributes (type, url), relationship objects (Owner: {Name}) and
     * subquery results are named like no field, so they are passed over */
    cJSON_ArrayForEach(e, row)
        if (record_set_json(cx->p, r, cx->a, e->string, e, why) < 0) return NULL;
    record_finish(cx->p, r, cx->a);
    return r;
}

static int sf_decode_page(CodecCtx *cx, uint32_t object, const cJSON *answer, RecordSink *sink, Buf *next, Buf *err) {
    const PObject *o = &cx->p->objects[object];
    const char *key = o->key >= 0 ? program_str(cx->p, cx->p->fields[o->first_field + (uint32_t)o->key].name) : "Id";
    const cJSON *rows = get(answer, "records");
    if (!cJSON_IsArray(rows)) { buf_puts(err, "a Salesforce query answer has a \"records\" array"); return -1; }
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        Buf why;
        buf_init(&why);
        const char *id = str(get(row, key));
        Record *r = sf_record(cx, object, row, &why);
        if (r && !r->vm.id) buf_printf(&why, "no %s", key);
        if (why.n) sink->bad(sink->ctx, id, buf_str(&why));
        else sink->record(sink->ctx, r);
        buf_free(&why);
    }
    /* done is false while more pages wait behind nextRecordsUrl */
    const char *url = str(get(answer, "nextRecordsUrl"));
    if (cJSON_IsFalse(get(answer, "done")) && url) buf_puts(next, url);
    return 0;
}

static int sf_decode_deleted(CodecCtx *cx, uint32_t object, const cJSON *answer, void *ctx,
                             void (*ids)(void *ctx, const char *id, int64_t when), Buf *err) {
    (void)cx, (void)object;
    const cJSON *rows = get(answer, "deletedRecords");
    if (!cJSON_IsArray(rows)) { buf_puts(err, "a Salesforce getDeleted answer has a \"deletedRecords\" array"); return -1; }
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        const char *id = str(get(row, "id")), *date = str(get(row, "deletedDate"));
        int64_t when = INT64_MIN;
        if (!id || !*id) continue;
        if (date && parse_datetime(date, strlen(date), &when) != 0) when = INT64_MIN;
        ids(ctx, id, when);
    }
    return 0;
}

/* ------------------------------------------------------------ writing */

/* A value as Salesforce takes it.  Dates and date-times are ISO text,
 * multipicklists are already "A;B" as Salesforce writes them.  A checkbox
 * cannot be empty in Salesforce, so a null one is written false. */
static cJSON *sf_value(const PField *f, Value v) {
    if (v.t == VT_NULL) return f->type == TY_BOOLEAN ? cJSON_CreateFalse() : cJSON_CreateNull();
    if (v.t == VT_BOOL) return cJSON_CreateBool(v.u.b);
    if (v.t == VT_NUM) return cJSON_CreateNumber(v.u.n);
    Buf b;
    buf_init(&b);
    value_format(v, &b);
    cJSON *j = cJSON_CreateString(buf_str(&b));
    buf_free(&b);
    return j;
}

static int sf_encode(CodecCtx *cx, const Change *c, const char *id, RequestList *out, Buf *err) {
    const Program *p = cx->p;
    if (c->object >= p->nobjects || strcmp(program_str(p, p->objects[c->object].system), "salesforce")) {
        buf_printf(err, "object %u is not a Salesforce object", c->object);
        return -1;
    }
    const PObject *o = &p->objects[c->object];
    const char *obj = program_str(p, o->name), *what = codec_what(cx, c, id);
    if (c->kind > CH_DELETE) {
        buf_printf(err, "%s: Salesforce has no tags, lists or automations", what);
        return -1;
    }
    if (c->kind != CH_CREATE && !codec_id_ok(id)) {
        buf_printf(err, id ? "%s: \"%s\" is not a Salesforce id" : "%s: no record id", what, id);
        return -1;
    }
    if (c->kind == CH_DELETE) {
        request_add(out, cx->a, "DELETE", arena_printf(cx->a, "/sobjects/%s/%s", obj, id), NULL, NULL);
        return 0;
    }
    cJSON *body = cJSON_CreateObject();
    for (uint32_t i = 0; i < c->nsets; i++) {
        const FieldSet *s = &c->sets[i];
        if (s->field >= o->nfields) {
            buf_printf(err, "%s: %s has no field %u", what, obj, s->field);
            cJSON_Delete(body);
            return -1;
        }
        const PField *f = &p->fields[o->first_field + s->field];
        /* read-only fields (the Id, system stamps) would fail the whole write */
        if (s->after.t == VT_NONE || (f->flags & PF_READONLY)) continue;
        if (s->after.t == VT_NUM && !isfinite(s->after.u.n)) {
            buf_printf(err, "%s: %s is not a finite number", what, program_str(p, f->name));
            cJSON_Delete(body);
            return -1;
        }
        cJSON_AddItemToObject(body, program_str(p, f->name), sf_value(f, s->after));
    }
    /* Assignment rules run on every create and update of a lead or account
     * unless the header says FALSE (the documented default is TRUE), so it
     * is always sent: TRUE only on lead creates when the source asks (B34). */
    const char *assign = NULL;
    if (!strcmp(obj, "Lead") || !strcmp(obj, "Account"))
        assign = c->kind == CH_CREATE && cx->assign_leads && !strcmp(obj, "Lead") ? "Sforce-Auto-Assign: TRUE" : "Sforce-Auto-Assign: FALSE";
    if (c->kind == CH_CREATE || body->child) {   /* an update that writes nothing sends nothing */
        char *json = cJSON_PrintUnformatted(body);
        if (c->kind == CH_CREATE) request_add(out, cx->a, "POST", arena_printf(cx->a, "/sobjects/%s", obj), json, assign);
        else request_add(out, cx->a, "PATCH", arena_printf(cx->a, "/sobjects/%s/%s", obj, id), json, assign);
        cJSON_free(json);
    }
    cJSON_Delete(body);
    return 0;
}

/* "errorCode: message" of each error, from the array a failed request
 * answers or the errors of a result with success false. */
static void sf_errors(const cJSON *list, Buf *err) {
    const cJSON *e;
    int n = 0;
    cJSON_ArrayForEach(e, list) {
        const char *code = str(get(e, "errorCode")), *msg = str(get(e, "message"));
        if (!code) code = str(get(e, "statusCode"));
        if (!code && !msg) continue;
        if (n++) buf_puts(err, "; ");
        buf_printf(err, "%s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
    }
}

static int sf_created_id(CodecCtx *cx, const Change *c, int status, const cJSON *answer, Buf *id, Buf *err) {
    (void)cx, (void)c;
    size_t had = err->n;
    sf_errors(cJSON_IsArray(answer) ? answer : get(answer, "errors"), err);
    const char *s = str(get(answer, "id"));
    if (err->n == had && status < 300 && !cJSON_IsFalse(get(answer, "success")) && s && *s) {
        buf_puts(id, s);
        return 0;
    }
    if (err->n == had) buf_printf(err, "Salesforce answered HTTP %d without the new record's id", status);
    return -1;
}

/* ------------------------------------------------------------ scanning */

/* One record of a page, from the scanner: each key the object has becomes
 * a field (through the same conversion as decode_page), the rest is
 * skipped unbuilt. */
static Record *sf_scan_record(CodecCtx *cx, uint32_t object, JScan *s, CodecShape *sh, Buf *key, Buf *val, Buf *why,
                              const char **raw_id) {
    const Program *p = cx->p;
    int key_field = p->objects[object].key;
    *raw_id = NULL;
    Record *r = arena_alloc(cx->a, sizeof *r);
    record_init(p, object, cx->a, r);
    if (js_peek(s) != J_OBJECT) {
        buf_puts(why, "a record is not a JSON object");
        js_skip(s);
        return NULL;
    }
    if (js_enter(s, '{') != 0) return NULL;
    int m, i = 0, seen_id = 0;
    const char *k;
    size_t kn;
    while ((m = js_key(s, key, &k, &kn)) == 0) {
        int fid = codec_field_at(p, object, sh, i++, k, kn, k != key->p);
        /* a refused record is named by its first Id, as a lookup in a tree finds it */
        int first_id = fid >= 0 && fid == key_field && !seen_id++;
        if (fid < 0 || why->n) {
            /* after a refused value only the id still matters, for the error */
            if (first_id && js_peek(s) == J_STRING) {
                const char *v;
                size_t vn;
                if (js_text(s, val, &v, &vn) != 0) return NULL;
                *raw_id = arena_strndup(cx->a, v, v == val->p ? strlen(v) : vn);
            } else if (js_skip(s) != 0) {
                return NULL;
            }
            continue;
        }
        JType t = js_peek(s);
        if (t == J_STRING) {
            const char *v;
            size_t vn;
            if (js_text(s, val, &v, &vn) != 0) return NULL;
            if (v == val->p) vn = strlen(v);   /* a decoded \u0000 ends it, as in cJSON */
            record_set_string(p, r, cx->a, fid, v, vn, why);
            /* the id names a refused record in its error: the record's
             * copy, or (refused itself) one of its own */
            if (first_id)
                *raw_id = r->fields[fid].t == VT_STR ? r->fields[fid].u.s : arena_strndup(cx->a, v, vn);
        } else if (t == J_NUMBER) {
            double d;
            if (js_number(s, &d) != 0) return NULL;
            record_set_number(p, r, cx->a, fid, d, why);
        } else if (t == J_NULL) {
            if (js_literal(s, &t) != 0) return NULL;
            record_set_null(r, fid);
        } else if (t == J_TRUE || t == J_FALSE) {
            if (js_literal(s, &t) != 0) return NULL;
            cJSON item;
            memset(&item, 0, sizeof item);
            item.type = t == J_TRUE ? cJSON_True : cJSON_False;
            record_set_field(p, r, cx->a, fid, &item, why);
        } else {
            /* an object or array where a field is: rare, so built as cJSON */
            const char *start = s->p;
            if (js_skip(s) != 0) return NULL;
            cJSON *j = cJSON_ParseWithLength(start, (size_t)(s->p - start));
            if (j) record_set_field(p, r, cx->a, fid, j, why);
            else buf_printf(why, "field %s: the value cannot be read", program_str(p, p->fields[p->objects[object].first_field + (uint32_t)fid].name));
            cJSON_Delete(j);
        }
    }
    if (m < 0 || why->n) return NULL;   /* as decode_page: a value that does not read refuses the record */
    record_finish(p, r, cx->a);
    return r;
}

static int sf_scan_page(CodecCtx *cx, uint32_t object, const char *text, size_t n, RecordSink *sink, Buf *next, Buf *err) {
    JScan s;
    js_init(&s, text, n);
    Buf key, val, url;
    CodecShape shape;
    memset(&shape, 0, sizeof shape);
    buf_init(&key);
    buf_init(&val);
    buf_init(&url);
    /* a key given twice counts the first time, as a lookup in a tree finds it */
    int m, records = 0, more = 0, seen_done = 0, seen_url = 0, rc = -1;
    if (js_enter(&s, '{') != 0) goto out;
    while ((m = js_member(&s, &key)) == 0) {
        if (key.n == 7 && !memcmp(key.p, "records", 7) && !records) {
            if (js_peek(&s) != J_ARRAY) break;
            records = 1;
            if (js_enter(&s, '[') != 0) goto out;
            int e;
            while ((e = js_element(&s)) == 0) {
                Buf why;
                buf_init(&why);
                const char *id = NULL;
                Record *r = sf_scan_record(cx, object, &s, &shape, &key, &val, &why, &id);
                if (s.err) {
                    buf_free(&why);
                    goto out;
                }
                if (r && !r->vm.id) buf_puts(&why, "no Id");
                if (why.n) sink->bad(sink->ctx, r && r->vm.id ? r->vm.id : id, buf_str(&why));
                else sink->record(sink->ctx, r);
                buf_free(&why);
            }
            if (e < 0) goto out;
        } else if (key.n == 4 && !memcmp(key.p, "done", 4) && !seen_done++) {
            more = js_peek(&s) == J_FALSE;
            if (js_skip(&s) != 0) goto out;
        } else if (key.n == 14 && !memcmp(key.p, "nextRecordsUrl", 14) && !seen_url++) {
            if (js_peek(&s) != J_STRING) {
                if (js_skip(&s) != 0) goto out;
            } else if (js_string(&s, &url) != 0) {
                goto out;
            }
        } else if (js_skip(&s) != 0) {
            goto out;
        }
    }
    if (m < 0) goto out;
    if (!records) {
        buf_puts(err, "a Salesforce query answer has a \"records\" array");
        rc = -2;
        goto out;
    }
    /* done is false while more pages wait behind nextRecordsUrl */
    if (more && url.n) buf_puts(next, buf_str(&url));
    rc = 0;
out:
    if (rc == -1) {
        buf_puts(err, "the answer is not valid JSON: ");
        js_error(&s, err);
    }
    buf_free(&key);
    buf_free(&val);
    buf_free(&url);
    return rc ? -1 : 0;
}

const Codec codec_salesforce = {"salesforce", sf_meta, sf_decode_meta, sf_decode_page, sf_decode_deleted,
                                sf_encode, sf_created_id, sf_scan_page, 0};
