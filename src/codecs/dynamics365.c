/* dynamics365.c - the Dataverse Web API (OData v4).  Reading: plain pages
 * and change-tracking pages, whose $deletedEntity rows report deletes
 * (Dynamics has no other deleted-records feed).  Writing: a create, update
 * or delete of one row as one request on its entity set, lookups bound
 * with @odata.bind, and the id of a created row from the representation
 * the create asks back.  Dynamics has no tags, lists or automations. */
#include <math.h>
#include <string.h>

#include "codec.h"
#include "types.h"

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *j) { return cJSON_IsString(j) ? j->valuestring : NULL; }

static const char *const d365_meta[] = {NULL};

static int d365_decode_meta(CodecCtx *cx, const char *what, const cJSON *answer, Buf *err) {
    (void)cx, (void)answer;
    buf_printf(err, "Dynamics 365 has no metadata answer '%s'", what);
    return -1;
}

static int is_deleted_entity(const cJSON *row) {
    const char *ctx = str(get(row, "@odata.context"));
    size_t n = ctx ? strlen(ctx) : 0, m = strlen("$deletedEntity");
    return n >= m && !strcmp(ctx + n - m, "$deletedEntity");
}

static Record *d365_record(CodecCtx *cx, uint32_t object, const cJSON *row, const char *key, Buf *why) {
    if (!cJSON_IsObject(row)) { buf_puts(why, "a record is not a JSON object"); return NULL; }
    Record *r = arena_alloc(cx->a, sizeof *r);
    record_init(cx->p, object, cx->a, r);
    if (is_deleted_entity(row)) {
        if (record_set_json(cx->p, r, cx->a, key, get(row, "id"), why) < 0) return NULL;
        record_finish(cx->p, r, cx->a);
        r->deleted = 1;
        return r;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, row) {
        const char *k = e->string;
        size_t n = strlen(k);
        char name[128];
        /* @odata.etag and annotations (x@OData.Community..., x@Microsoft...)
         * describe values; expanded navigation properties are named like
         * no column, so they are passed over like any unknown key */
        if (strchr(k, '@')) continue;
        /* a lookup reads as _parentcustomerid_value; the schema names its column */
        if (n > 7 && n - 7 < sizeof name && k[0] == '_' && !strcmp(k + n - 6, "_value")) {
            memcpy(name, k + 1, n - 7);
            name[n - 7] = 0;
            k = name;
        }
        if (record_set_json(cx->p, r, cx->a, k, e, why) < 0) return NULL;
    }
    record_finish(cx->p, r, cx->a);
    return r;
}

static int d365_decode_page(CodecCtx *cx, uint32_t object, const cJSON *answer, RecordSink *sink, Buf *next, Buf *err) {
    const PObject *o = &cx->p->objects[object];
    const char *key = o->key >= 0 ? program_str(cx->p, cx->p->fields[o->first_field + (uint32_t)o->key].name) : "id";
    const cJSON *rows = get(answer, "value");
    if (!cJSON_IsArray(rows)) { buf_puts(err, "a Dynamics 365 answer has a \"value\" array"); return -1; }
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        Buf why;
        buf_init(&why);
        const char *id = str(get(row, is_deleted_entity(row) ? "id" : key));
        Record *r = d365_record(cx, object, row, key, &why);
        if (r && !r->vm.id) buf_printf(&why, "no %s", key);
        if (why.n) sink->bad(sink->ctx, id, buf_str(&why));
        else sink->record(sink->ctx, r);
        buf_free(&why);
    }
    const char *link = str(get(answer, "@odata.nextLink"));
    if (link) buf_puts(next, link);
    return 0;
}

/* ------------------------------------------------------------ writing */

/* The entity set of a logical name: its English plural, as the Web API
 * names the sets of the standard tables (lead -> leads, opportunity ->
 * opportunities, customeraddress -> customeraddresses) and of most custom
 * ones (new_project -> new_projects).  A table whose set was named
 * otherwise would need its EntitySetName from the metadata. */
const char *d365_entity_set(Arena *a, const char *logical) {
    size_t n = strlen(logical);
    char last = n ? logical[n - 1] : 0, before = n > 1 ? logical[n - 2] : 0;
    if (last == 'y' && !strchr("aeiou", before)) return arena_printf(a, "%.*sies", (int)(n - 1), logical);
    if (last == 's' || last == 'x' || (last == 'h' && (before == 'c' || before == 's')))
        return arena_printf(a, "%ses", logical);
    return arena_printf(a, "%ss", logical);
}

/* Lookups are written through their single-valued navigation property,
 * which is not always the column's name: contact.parentcustomerid can
 * point at an account or a contact, and the schema's reference(account)
 * makes it parentcustomerid_account.  object NULL: any table. */
static const struct {
    const char *object, *field, *nav, *target;
} d365_lookups[] = {
    {"lead", "parentaccountid", "parentaccountid", "account"},
    {"lead", "parentcontactid", "parentcontactid", "contact"},
    {"contact", "parentcustomerid", "parentcustomerid_account", "account"},
    {"contact", "originatingleadid", "originatingleadid", "lead"},
    {"account", "parentaccountid", "parentaccountid", "account"},
    {"account", "primarycontactid", "primarycontactid", "contact"},
    {NULL, "ownerid", "ownerid", "systemuser"},
};

/* One column into the body.  Dates are "YYYY-MM-DD", date-times ISO with
 * Z; a null clears the column, and a null bind clears a lookup.  A
 * multi-select choice is written as Dataverse keeps it, its codes joined
 * with commas. */
static int d365_put(CodecCtx *cx, cJSON *body, const char *obj, const PField *f, Value v, const char *what, Buf *err) {
    const char *name = program_str(cx->p, f->name);
    if (v.t == VT_NUM && !isfinite(v.u.n)) {
        buf_printf(err, "%s: %s is not a finite number", what, name);
        return -1;
    }
    if (f->type == TY_REFERENCE) {
        size_t i, n = sizeof d365_lookups / sizeof d365_lookups[0];
        for (i = 0; i < n; i++)
            if ((!d365_lookups[i].object || !strcmp(d365_lookups[i].object, obj)) && !strcmp(d365_lookups[i].field, name)) break;
        if (i == n) {
            buf_printf(err, "%s: tandem does not know the navigation property of lookup %s", what, name);
            return -1;
        }
        const char *key = arena_printf(cx->a, "%s@odata.bind", d365_lookups[i].nav);
        if (v.t == VT_NULL) { cJSON_AddNullToObject(body, key); return 0; }
        const char *id = v.t == VT_STR ? arena_strndup(cx->a, v.u.s, v.len) : NULL;
        if (!codec_id_ok(id)) {
            buf_printf(err, "%s: %s is not a Dynamics 365 id", what, name);
            return -1;
        }
        cJSON_AddStringToObject(body, key, arena_printf(cx->a, "/%s(%s)", d365_entity_set(cx->a, d365_lookups[i].target), id));
        return 0;
    }
    if (v.t == VT_NULL) { cJSON_AddNullToObject(body, name); return 0; }
    if (v.t == VT_BOOL) { cJSON_AddBoolToObject(body, name, v.u.b); return 0; }
    if (v.t == VT_NUM) { cJSON_AddNumberToObject(body, name, v.u.n); return 0; }
    Buf b;
    buf_init(&b);
    value_format(v, &b);
    if (f->type == TY_MULTIPICKLIST)
        for (size_t i = 0; i < b.n; i++)
            if (b.p[i] == ';') b.p[i] = ',';
    cJSON_AddStringToObject(body, name, buf_str(&b));
    buf_free(&b);
    return 0;
}

static int d365_encode(CodecCtx *cx, const Change *c, const char *id, RequestList *out, Buf *err) {
    const Program *p = cx->p;
    if (c->object >= p->nobjects || strcmp(program_str(p, p->objects[c->object].system), "dynamics365")) {
        buf_printf(err, "object %u is not a Dynamics 365 table", c->object);
        return -1;
    }
    const PObject *o = &p->objects[c->object];
    const char *obj = program_str(p, o->name), *what = codec_what(cx, c, id), *set = d365_entity_set(cx->a, obj);
    if (c->kind > CH_DELETE) {
        buf_printf(err, "%s: Dynamics 365 has no tags, lists or automations", what);
        return -1;
    }
    if (c->kind != CH_CREATE && !codec_id_ok(id)) {
        buf_printf(err, id ? "%s: \"%s\" is not a Dynamics 365 id" : "%s: no record id", what, id);
        return -1;
    }
    if (c->kind == CH_DELETE) {
        request_add(out, cx->a, "DELETE", arena_printf(cx->a, "/%s(%s)", set, id), NULL, NULL);
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
        if (s->after.t == VT_NONE || (f->flags & PF_READONLY)) continue;   /* the key and system columns */
        if (d365_put(cx, body, obj, f, s->after, what, err) < 0) {
            cJSON_Delete(body);
            return -1;
        }
    }
    char *json = cJSON_PrintUnformatted(body);
    if (c->kind == CH_CREATE) {
        /* A create answers 204 with the id only in a header, unless it is
         * asked to return the row; $select keeps that answer to the key. */
        const char *key = o->key >= 0 ? program_str(p, p->fields[o->first_field + (uint32_t)o->key].name) : NULL;
        const char *path = key ? arena_printf(cx->a, "/%s?$select=%s", set, key) : arena_printf(cx->a, "/%s", set);
        request_add(out, cx->a, "POST", path, json, "Prefer: return=representation");
    } else if (body->child) {
        /* PATCH on a missing id would create the row (an upsert); If-Match: *
         * makes it fail with 404 instead */
        request_add(out, cx->a, "PATCH", arena_printf(cx->a, "/%s(%s)", set, id), json, "If-Match: *");
    }
    cJSON_free(json);
    cJSON_Delete(body);
    return 0;
}

static int d365_created_id(CodecCtx *cx, const Change *c, int status, const cJSON *answer, Buf *id, Buf *err) {
    const cJSON *e = get(answer, "error");
    if (e) {
        const char *code = str(get(e, "code")), *msg = str(get(e, "message"));
        buf_printf(err, "%s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : (code ? "" : "Dynamics 365 reported an error"));
        return -1;
    }
    const Program *p = cx->p;
    const PObject *o = c->object < p->nobjects ? &p->objects[c->object] : NULL;
    const char *key = o && o->key >= 0 ? program_str(p, p->fields[o->first_field + (uint32_t)o->key].name) : NULL;
    const char *s = key ? str(get(answer, key)) : NULL;
    if (status < 300 && s && *s) {
        buf_puts(id, s);
        return 0;
    }
    buf_printf(err, "Dynamics 365 answered HTTP %d without %s", status, key ? key : "the new row's key");
    return -1;
}

const Codec codec_dynamics365 = {"dynamics365", d365_meta, d365_decode_meta, d365_decode_page, NULL, d365_encode, d365_created_id, NULL, 0};
