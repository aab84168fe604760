/* getresponse.c - GetResponse API v3.  Reading: contact arrays (with
 * their campaign, tags and custom field values) and the metadata answers
 * that name custom fields, tags and campaigns.  Pages are counted in
 * headers, so no answer names the next one.  Writing: creates, updates and
 * deletes of contacts and the tags added to them.  A contact's campaign is
 * the list it is on, exactly one: leaving the list is deleting the
 * contact, and joining another is a second sync's create.  Creates are
 * processed asynchronously, so their answers name no id. */
#include <math.h>
#include <string.h>

#include "codec.h"
#include "types.h"

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *j) { return cJSON_IsString(j) ? j->valuestring : NULL; }

static const struct {
    const char *what, *id;   /* answer and its id key; every one names with "name" */
    MetaKind kind;
} gr_metas[] = {
    {"custom-fields", "customFieldId", META_FIELD},
    {"tags", "tagId", META_TAG},
    {"campaigns", "campaignId", META_LIST},
};

static const char *const gr_meta[] = {"custom-fields", "tags", "campaigns", NULL};

static int gr_decode_meta(CodecCtx *cx, const char *what, const cJSON *answer, Buf *err) {
    for (size_t i = 0; i < sizeof gr_metas / sizeof gr_metas[0]; i++) {
        if (strcmp(what, gr_metas[i].what)) continue;
        if (!cJSON_IsArray(answer)) { buf_printf(err, "a GetResponse %s answer is a JSON array", what); return -1; }
        const cJSON *row;
        cJSON_ArrayForEach(row, answer) {
            const char *id = str(get(row, gr_metas[i].id)), *name = str(get(row, "name"));
            if (id && name) meta_put(cx->meta, gr_metas[i].kind, id, name, str(get(row, "type")));
        }
        return 0;
    }
    buf_printf(err, "GetResponse has no metadata answer '%s'", what);
    return -1;
}

static const char *named(CodecCtx *cx, const char *name, MetaKind k, const char *id) {
    const MetaEntry *m = name ? NULL : meta_by_id(cx->meta, k, id);
    return name ? name : m ? m->name : NULL;
}

/* One of customFieldValues.  value is always an array: a single-valued
 * field takes its one element, a multi-select all of them.  A name that is
 * also a key of the row is skipped, so it cannot overwrite a standard field. */
static int gr_custom(CodecCtx *cx, Record *r, const cJSON *row, const cJSON *cv, Buf *why) {
    const char *name = named(cx, str(get(cv, "name")), META_FIELD, str(get(cv, "customFieldId")));
    int f = name && !get(row, name) ? program_field(cx->p, r->object, name) : -1;
    if (f < 0) return 0;
    const cJSON *v = get(cv, "value");
    if (cJSON_IsArray(v) && cx->p->fields[cx->p->objects[r->object].first_field + (uint32_t)f].type != TY_MULTIPICKLIST) {
        int n = cJSON_GetArraySize(v);
        if (n <= 1) v = n ? v->child : NULL;
    }
    return record_set_json(cx->p, r, cx->a, name, v, why) < 0 ? -1 : 0;
}

static Record *gr_record(CodecCtx *cx, uint32_t object, const cJSON *row, Buf *why) {
    if (!cJSON_IsObject(row)) { buf_puts(why, "a record is not a JSON object"); return NULL; }
    Record *r = arena_alloc(cx->a, sizeof *r);
    record_init(cx->p, object, cx->a, r);
    const cJSON *e, *t;
    cJSON_ArrayForEach(e, row) {
        const char *k = e->string;
        if (!strcmp(k, "campaign") && cJSON_IsObject(e)) {
            const cJSON *id = get(e, "campaignId");
            const char *list = named(cx, str(get(e, "name")), META_LIST, str(id));
            if (list) record_add_list(r, cx->a, list);
            if (record_set_json(cx->p, r, cx->a, k, id, why) < 0) return NULL;
        } else if (!strcmp(k, "tags") && cJSON_IsArray(e)) {
            r->tags_known = 1;
            cJSON_ArrayForEach(t, e) {
                const char *id = str(get(t, "tagId")), *name = named(cx, str(get(t, "name")), META_TAG, id);
                if (name) record_add_tag(r, cx->a, name, id);
            }
        } else if (!strcmp(k, "customFieldValues") && cJSON_IsArray(e)) {
            cJSON_ArrayForEach(t, e)
                if (gr_custom(cx, r, row, t, why) < 0) return NULL;
        } else if (record_set_json(cx->p, r, cx->a, k, e, why) < 0) {   /* geolocation, href: no fields */
            return NULL;
        }
    }
    record_finish(cx->p, r, cx->a);
    return r;
}

static int gr_decode_page(CodecCtx *cx, uint32_t object, const cJSON *answer, RecordSink *sink, Buf *next, Buf *err) {
    (void)next;
    const PObject *o = &cx->p->objects[object];
    const char *key = o->key >= 0 ? program_str(cx->p, cx->p->fields[o->first_field + (uint32_t)o->key].name) : "id";
    if (!cJSON_IsArray(answer)) {
        buf_printf(err, "a GetResponse %s answer is a JSON array", program_str(cx->p, o->name));
        return -1;
    }
    const cJSON *row;
    cJSON_ArrayForEach(row, answer) {
        Buf why;
        buf_init(&why);
        const char *id = str(get(row, key));
        Record *r = gr_record(cx, object, row, &why);
        if (r && !r->vm.id) buf_printf(&why, "no %s", key);
        if (why.n) sink->bad(sink->ctx, id, buf_str(&why));
        else sink->record(sink->ctx, r);
        buf_free(&why);
    }
    return 0;
}

/* ------------------------------------------------------------ writing */

/* The body keys a contact takes as they are; any other field written is a
 * custom one, found by its name. */
static const char *const gr_keys[] = {"email", "name", "campaign", "dayOfCycle", "note", "scoring", "ipAddress", NULL};

static int gr_is_key(const char *name) {
    for (const char *const *k = gr_keys; *k; k++)
        if (!strcmp(*k, name)) return 1;
    return 0;
}

/* The id behind a name: from the metadata, else from the source, which
 * creates the thing; kept in the metadata so the next change naming it
 * does not create it again. */
static const char *gr_need(CodecCtx *cx, MetaKind k, const char *name) {
    const MetaEntry *e = cx->meta ? meta_by_name(cx->meta, k, name) : NULL;
    if (e || !cx->ensure) return e ? e->id : NULL;
    const char *id = cx->ensure(cx->ensure_ctx, k, name);
    if (id && cx->meta && !meta_by_name(cx->meta, k, name)) meta_put(cx->meta, k, id, name, NULL);
    return id;
}

static char *gr_text(CodecCtx *cx, Value v) {
    Buf b;
    buf_init(&b);
    value_format(v, &b);
    char *t = arena_strdup(cx->a, buf_str(&b));
    buf_free(&b);
    return t;
}

/* A custom field's value is always an array of text: a multi-select's
 * items, another field's one value, none to clear it. */
static cJSON *gr_custom_value(CodecCtx *cx, const char *fid, const PField *f, Value v) {
    cJSON *e = cJSON_CreateObject(), *items;
    cJSON_AddStringToObject(e, "customFieldId", fid);
    items = cJSON_AddArrayToObject(e, "value");
    char *t = gr_text(cx, v), *save = NULL;
    if (f->type != TY_MULTIPICKLIST) {
        if (*t) cJSON_AddItemToArray(items, cJSON_CreateString(t));
    } else {
        for (char *p = strtok_r(t, ";", &save); p; p = strtok_r(NULL, ";", &save))
            cJSON_AddItemToArray(items, cJSON_CreateString(p));
    }
    return e;
}

/* A standard key.  The list is an object; dayOfCycle is text in the API
 * (null takes the contact out of the cycle); note and scoring take null to
 * clear.  Returns NULL for a value the API cannot take (err set) and sets
 * *skip for a blank name, which GetResponse cannot store (at least one
 * character) and is left as it is. */
static cJSON *gr_standard(CodecCtx *cx, const char *name, Value v, const char *what, int *skip, Buf *err) {
    *skip = 0;
    if (!strcmp(name, "email") || !strcmp(name, "campaign")) {
        if (v.t != VT_STR || !v.len) {
            buf_printf(err, "%s: a GetResponse contact always has %s", what, !strcmp(name, "email") ? "an email" : "a list (campaign)");
            return NULL;
        }
        if (!strcmp(name, "email")) return cJSON_CreateString(gr_text(cx, v));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "campaignId", gr_text(cx, v));
        return o;
    }
    if (!strcmp(name, "name") && value_blank(v)) { *skip = 1; return NULL; }
    if (v.t == VT_NULL) return cJSON_CreateNull();
    if (v.t == VT_NUM && strcmp(name, "dayOfCycle")) return cJSON_CreateNumber(v.u.n);
    return cJSON_CreateString(gr_text(cx, v));
}

static void gr_send(CodecCtx *cx, RequestList *out, const char *path, cJSON *body) {
    char *json = cJSON_PrintUnformatted(body);
    request_add(out, cx->a, "POST", path, json, NULL);
    cJSON_free(json);
    cJSON_Delete(body);
}

/* Create or update of a contact.  An update sends its standard fields to
 * POST /contacts/{id} and its custom fields to /contacts/{id}/custom-fields:
 * customFieldValues in the first replace every custom value the contact
 * has, the second changes only those it names. */
static int gr_write(CodecCtx *cx, const Change *c, const char *id, const char *what, RequestList *out, Buf *err) {
    const Program *p = cx->p;
    const PObject *o = &p->objects[c->object];
    cJSON *body = cJSON_CreateObject(), *custom = cJSON_CreateArray();
    int email = 0, list = 0;
    if (c->kind == CH_CREATE && c->name) {   /* a list sync: the list the new contact goes on */
        const char *lid = gr_need(cx, META_LIST, c->name);
        if (!lid) {
            buf_printf(err, "%s: GetResponse has no list (campaign) \"%s\"", what, c->name);
            goto fail;
        }
        cJSON_AddStringToObject(cJSON_AddObjectToObject(body, "campaign"), "campaignId", lid);
        list = 1;
    }
    for (uint32_t i = 0; i < c->nsets; i++) {
        const FieldSet *s = &c->sets[i];
        if (s->field >= o->nfields) {
            buf_printf(err, "%s: %s has no field %u", what, program_str(p, o->name), s->field);
            goto fail;
        }
        const PField *f = &p->fields[o->first_field + s->field];
        const char *name = program_str(p, f->name);
        Value v = s->after;
        if (v.t == VT_NONE || (f->flags & PF_READONLY)) continue;
        if (v.t == VT_NUM && !isfinite(v.u.n)) {
            buf_printf(err, "%s: %s is not a finite number", what, name);
            goto fail;
        }
        if (!strcmp(name, "campaign") && list) continue;   /* the list named wins */
        if (gr_is_key(name)) {
            int skip;
            cJSON *j = gr_standard(cx, name, v, what, &skip, err);
            if (!j && !skip) goto fail;
            if (j) cJSON_AddItemToObject(body, name, j);
            email |= !strcmp(name, "email");
            list |= !strcmp(name, "campaign");
            continue;
        }
        const char *fid = gr_need(cx, META_FIELD, name);
        if (!fid) {
            buf_printf(err, "%s: GetResponse has no custom field \"%s\"", what, name);
            goto fail;
        }
        cJSON_AddItemToArray(custom, gr_custom_value(cx, fid, f, v));
    }
    if (c->kind == CH_CREATE) {
        if (!email || !list) {
            buf_printf(err, "%s: GetResponse needs %s to create a contact", what, email ? "a list (campaign)" : "an email");
            goto fail;
        }
        /* tags are separate changes; they need the id the create does not give */
        if (custom->child) cJSON_AddItemToObject(body, "customFieldValues", custom);
        else cJSON_Delete(custom);
        gr_send(cx, out, "/contacts", body);
        return 0;
    }
    if (body->child) gr_send(cx, out, arena_printf(cx->a, "/contacts/%s", id), body);
    else cJSON_Delete(body);
    if (custom->child) {
        cJSON *cf = cJSON_CreateObject();
        cJSON_AddItemToObject(cf, "customFieldValues", custom);
        gr_send(cx, out, arena_printf(cx->a, "/contacts/%s/custom-fields", id), cf);
    } else {
        cJSON_Delete(custom);
    }
    return 0;
fail:
    cJSON_Delete(custom);
    cJSON_Delete(body);
    return -1;
}

static int gr_encode(CodecCtx *cx, const Change *c, const char *id, RequestList *out, Buf *err) {
    const Program *p = cx->p;
    if (c->object >= p->nobjects || strcmp(program_str(p, p->objects[c->object].system), "getresponse")) {
        buf_printf(err, "object %u is not a GetResponse object", c->object);
        return -1;
    }
    const char *what = codec_what(cx, c, id);
    if (c->kind > CH_AUTOMATE) {
        buf_printf(err, "%s: no such change", what);
        return -1;
    }
    if (strcmp(program_str(p, p->objects[c->object].name), "contact")) {
        buf_printf(err, "%s: tandem writes only GetResponse contacts", what);
        return -1;
    }
    switch (c->kind) {
    case CH_UNTAG:
        /* the API adds tags (POST /contacts/{id}/tags) or replaces the whole
         * set (POST /contacts/{id}); taking one off would need the set */
        buf_printf(err, "%s: GetResponse cannot remove a single tag from a contact", what);
        return -1;
    case CH_LIST_ADD:
        buf_printf(err, "%s: a GetResponse contact is on exactly one list; sync it into the other list with a second sync", what);
        return -1;
    case CH_AUTOMATE:
        buf_printf(err, "%s: GetResponse has no automations tandem can start", what);
        return -1;
    default:
        break;
    }
    if (c->kind != CH_CREATE && !codec_id_ok(id)) {
        buf_printf(err, id ? "%s: \"%s\" is not a GetResponse id" : "%s: no record id", what, id);
        return -1;
    }
    switch (c->kind) {
    case CH_DELETE:
    case CH_LIST_REMOVE:   /* a contact is on exactly one list: leaving it is deleting the contact */
        request_add(out, cx->a, "DELETE", arena_printf(cx->a, "/contacts/%s", id), NULL, NULL);
        return 0;
    case CH_TAG: {
        const char *tid = c->name && *c->name ? gr_need(cx, META_TAG, c->name) : NULL;
        if (!tid) {
            buf_printf(err, "%s: GetResponse has no tag id for \"%s\"", what, c->name ? c->name : "");
            return -1;
        }
        cJSON *root = cJSON_CreateObject(), *tag = cJSON_CreateObject();
        cJSON_AddStringToObject(tag, "tagId", tid);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "tags"), tag);
        gr_send(cx, out, arena_printf(cx->a, "/contacts/%s/tags", id), root);
        return 0;
    }
    default:
        return gr_write(cx, c, id, what, out, err);
    }
}

/* A create answers 202 with an empty body: the contact is made later, and
 * no answer names it.  The engine cannot link the pair from here; it must
 * find the contact by its match key (the email) on the next sync and link
 * it then. */
static int gr_created_id(CodecCtx *cx, const Change *c, int status, const cJSON *answer, Buf *id, Buf *err) {
    (void)cx, (void)c;
    const char *msg = str(get(answer, "message")), *s = str(get(answer, "contactId"));
    const cJSON *code = get(answer, "code");
    if (status >= 300 || msg) {   /* {"httpStatus","code","message",...} */
        if (cJSON_IsNumber(code)) buf_printf(err, "GetResponse error %d: %s", code->valueint, msg ? msg : "(no message)");
        else buf_printf(err, "GetResponse answered HTTP %d%s%s", status, msg ? ": " : "", msg ? msg : "");
        return -1;
    }
    if (s && *s) {   /* never seen from the API; taken if an answer ever names it */
        buf_puts(id, s);
        return 0;
    }
    buf_puts(err, "GetResponse creates contacts asynchronously; the id is read on the next sync");
    return -1;
}

const Codec codec_getresponse = {"getresponse", gr_meta, gr_decode_meta, gr_decode_page, NULL, gr_encode, gr_created_id, NULL, 1};
