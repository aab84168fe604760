/* activecampaign.c - ActiveCampaign API v3.  Reading: list pages of
 * contacts, deals and accounts with their sideloads (fieldValues,
 * contactTags, tags, contactLists, lists, dealCustomFieldData), and the
 * metadata answers that name custom fields, tags, lists and automations.
 * Writing: contacts (upserted by e-mail through /contact/sync), deals and
 * accounts, tags, list subscriptions and automations of a contact, and the
 * id of a created record from its answer.  Custom fields are keyed by id
 * in the API and by title in the rules; money is in cents in the API and
 * in units in tandem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "jscan.h"
#include "types.h"

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *j) { return cJSON_IsString(j) ? j->valuestring : NULL; }

static const cJSON *arr(const cJSON *o, const char *k) {
    const cJSON *a = get(o, k);
    return cJSON_IsArray(a) ? a : NULL;
}

/* Most ids are strings, but dealCustomFieldData gives numbers; b holds a
 * number's text. */
static const char *id_text(const cJSON *j, char b[32]) {
    if (cJSON_IsString(j)) return j->valuestring;
    if (!cJSON_IsNumber(j) || fabs(j->valuedouble) >= 1e15 || j->valuedouble != floor(j->valuedouble)) return NULL;
    snprintf(b, 32, "%.0f", j->valuedouble);
    return b;
}

static int belongs(const cJSON *e, const char *link, const char *id) {
    char b[32];
    const char *s = id_text(get(e, link), b);
    return s && !strcmp(s, id);
}

/* Counts come as numbers or as text ("6"); -1 when absent. */
static double count_of(const cJSON *j) {
    if (cJSON_IsNumber(j)) return isfinite(j->valuedouble) ? j->valuedouble : -1;
    if (!cJSON_IsString(j)) return -1;
    char *end;
    double d = strtod(j->valuestring, &end);
    return end != j->valuestring && !*end && isfinite(d) ? d : -1;
}

/* ---------------------------------------------------------- metadata */

static const struct {
    const char *what, *name, *type;   /* answer array and its keys */
    MetaKind kind;
} ac_metas[] = {
    {"fields", "title", "type", META_FIELD},
    {"tags", "tag", NULL, META_TAG},
    {"lists", "name", NULL, META_LIST},
    {"automations", "name", NULL, META_AUTOMATION},
    {"dealCustomFieldMeta", "fieldLabel", "fieldType", META_DEAL_FIELD},
};

static const char *const ac_meta[] = {"fields", "tags", "lists", "automations", "dealCustomFieldMeta", NULL};

static int ac_decode_meta(CodecCtx *cx, const char *what, const cJSON *answer, Buf *err) {
    for (size_t i = 0; i < sizeof ac_metas / sizeof ac_metas[0]; i++) {
        if (strcmp(what, ac_metas[i].what)) continue;
        const cJSON *rows = arr(answer, what), *row;
        if (!rows) { buf_printf(err, "an ActiveCampaign %s answer has a \"%s\" array", what, what); return -1; }
        cJSON_ArrayForEach(row, rows) {
            char b[32];
            const char *id = id_text(get(row, "id"), b), *name = str(get(row, ac_metas[i].name));
            if (id && name) meta_put(cx->meta, ac_metas[i].kind, id, name, ac_metas[i].type ? str(get(row, ac_metas[i].type)) : NULL);
        }
        return 0;
    }
    buf_printf(err, "ActiveCampaign has no metadata answer '%s'", what);
    return -1;
}

/* ------------------------------------------------------------- values */

/* ActiveCampaign writes "0000-00-00 00:00:00" for a date it does not have. */
static int ac_set(CodecCtx *cx, Record *r, const char *name, const cJSON *v, Buf *why) {
    if (cJSON_IsString(v) && !strncmp(v->valuestring, "0000-00-00", 10)) v = NULL;
    return record_set_json(cx->p, r, cx->a, name, v, why) < 0 ? -1 : 0;
}

/* Multi-value fields (listbox, checkbox) come as "||A||B||", and the API's
 * examples show dropdowns as "||A||" too: a multi-select field takes the
 * items, any other field its only item. */
static int ac_custom(CodecCtx *cx, Record *r, const char *name, const cJSON *v, Buf *why) {
    int f = program_field(cx->p, r->object, name);
    const char *s = str(v);
    if (f < 0 || !s || strncmp(s, "||", 2)) return ac_set(cx, r, name, v, why);
    cJSON *items = cJSON_CreateArray();
    while (*s) {
        const char *e = strstr(s, "||");
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n) cJSON_AddItemToArray(items, cJSON_CreateStringReference(arena_strndup(cx->a, s, n)));
        s += n + (e ? 2 : 0);
    }
    int multi = cx->p->fields[cx->p->objects[r->object].first_field + (uint32_t)f].type == TY_MULTIPICKLIST;
    const cJSON *one = cJSON_GetArraySize(items) == 1 ? items->child : v;
    int rc = ac_set(cx, r, name, multi ? items : one, why);
    cJSON_Delete(items);
    return rc;
}

/* -------------------------------------------------------------- pages */

typedef struct Sides {        /* the sideloads of one answer, NULL when absent */
    const cJSON *values, *contact_tags, *tags, *contact_lists, *lists, *deal_data, *account_contacts;
    /* the rows of the per-record sideloads, by the record they belong to:
     * looked up per record, where a scan would cost records x rows a page */
    Symtab by_values, by_contact_tags, by_contact_lists, by_deal_data, by_account_contacts;
} Sides;

typedef struct RowList {
    const cJSON *row;
    struct RowList *next, *last;   /* last: kept on the first node, so rows stay in answer order */
} RowList;

static void group_rows(Arena *a, Symtab *t, const cJSON *rows, const char *link) {
    symtab_init(t, a);
    const cJSON *e;
    cJSON_ArrayForEach(e, rows) {
        char b[32];
        const char *id = id_text(get(e, link), b);
        if (!id) continue;
        RowList *n = arena_alloc(a, sizeof *n), *head = symtab_get(t, id);
        n->row = e;
        if (!head) {
            n->last = n;
            symtab_put(t, arena_strdup(a, id), n);
        } else {
            head->last->next = n;
            head->last = n;
        }
    }
}

static const RowList *rows_of(const Symtab *t, const char *id) { return id ? symtab_get(t, id) : NULL; }

/* The keys a row has: a tree's (j), or those a scan kept (k, n). */
typedef struct RowKeys {
    const cJSON *j;
    const char **k;
    size_t *n;
    uint32_t count, cap;
} RowKeys;

static int has_key(const RowKeys *w, const char *name) {
    if (w->j) return get(w->j, name) != NULL;
    size_t len = strlen(name);
    for (uint32_t i = 0; i < w->count; i++)
        if (w->n[i] == len && !memcmp(w->k[i], name, len)) return 1;
    return 0;
}

/* A tag's or list's name: from the answer's own sideload, else the metadata. */
static const char *name_of(CodecCtx *cx, const cJSON *side, const char *key, MetaKind k, const char *id) {
    const cJSON *e;
    if (!id) return NULL;
    cJSON_ArrayForEach(e, side)
        if (belongs(e, "id", id) && str(get(e, key))) return str(get(e, key));
    const MetaEntry *m = meta_by_id(cx->meta, k, id);
    return m ? m->name : NULL;
}

/* Custom values, tags and lists of contact `id`.  A title that is also a
 * key of the row is skipped, so a custom field named like a standard one
 * cannot overwrite it. */
static int ac_contact(CodecCtx *cx, Record *r, const RowKeys *row, const char *id, const Sides *sd, Buf *why) {
    const cJSON *e;
    char b[32], c[32];
    for (const RowList *l = rows_of(&sd->by_values, id); l && (e = l->row); l = l->next) {
        const MetaEntry *f = meta_by_id(cx->meta, META_FIELD, id_text(get(e, "field"), b));
        if (f && !has_key(row, f->name) && ac_custom(cx, r, f->name, get(e, "value"), why) < 0) return -1;
    }
    if (sd->contact_tags) r->tags_known = 1; /* an answer with the sideload says every tag */
    for (const RowList *l = rows_of(&sd->by_contact_tags, id); l && (e = l->row); l = l->next) {
        /* the contactTag's own id is what DELETE /contactTags/{id} takes */
        const char *name = name_of(cx, sd->tags, "tag", META_TAG, id_text(get(e, "tag"), b));
        if (name) record_add_tag(r, cx->a, name, id_text(get(e, "id"), c));
    }
    for (const RowList *l = rows_of(&sd->by_contact_lists, id); l && (e = l->row); l = l->next) {
        if (count_of(get(e, "status")) != 1) continue;   /* 1: subscribed */
        const char *name = name_of(cx, sd->lists, "name", META_LIST, id_text(get(e, "list"), b));
        if (name) record_add_list(r, cx->a, name);
    }
    /* A contact's account comes as an accountContacts association (B09);
     * a contact belongs to one account at most. */
    for (const RowList *l = rows_of(&sd->by_account_contacts, id); l && (e = l->row); l = l->next) {
        const char *acc = id_text(get(e, "account"), b);
        if (acc && !has_key(row, "account")) {
            cJSON *v = cJSON_CreateString(acc);
            int rc = v ? ac_set(cx, r, "account", v, why) : 0;
            cJSON_Delete(v);
            if (rc < 0) return -1;
        }
        break;
    }
    return 0;
}

/* The API counts money in cents; tandem's currency fields hold units. */
static void to_units(CodecCtx *cx, Record *r, const char *name) {
    int f = program_field(cx->p, r->object, name);
    if (f >= 0 && r->fields[f].t == VT_NUM) r->fields[f].u.n /= 100;
}

static int ac_deal(CodecCtx *cx, Record *r, const RowKeys *row, const char *id, const Sides *sd, Buf *why) {
    const cJSON *e;
    char b[32];
    to_units(cx, r, "value");
    for (const RowList *l = rows_of(&sd->by_deal_data, id); l && (e = l->row); l = l->next) {
        const MetaEntry *f = meta_by_id(cx->meta, META_DEAL_FIELD, id_text(get(e, "customFieldId"), b));
        if (!f || has_key(row, f->name)) continue;
        if (ac_custom(cx, r, f->name, get(e, "fieldValue"), why) < 0) return -1;
        if (f->type && !strcmp(f->type, "currency")) to_units(cx, r, f->name);
    }
    return 0;
}

static Record *ac_record(CodecCtx *cx, uint32_t object, const cJSON *row, const char *id, const Sides *sd, Buf *why) {
    if (!cJSON_IsObject(row)) { buf_puts(why, "a record is not a JSON object"); return NULL; }
    const char *obj = program_str(cx->p, cx->p->objects[object].name);
    Record *r = arena_alloc(cx->a, sizeof *r);
    record_init(cx->p, object, cx->a, r);
    const cJSON *e;
    /* links and the id lists (fieldValues, scoreValues) are named like no
     * field, so they are passed over */
    cJSON_ArrayForEach(e, row)
        if (ac_set(cx, r, e->string, e, why) < 0) return NULL;
    RowKeys keys = {row, NULL, NULL, 0, 0};
    if (id && !strcmp(obj, "contact") && ac_contact(cx, r, &keys, id, sd, why) < 0) return NULL;
    if (id && !strcmp(obj, "deal") && ac_deal(cx, r, &keys, id, sd, why) < 0) return NULL;
    record_finish(cx->p, r, cx->a);
    return r;
}

/* The sideloads of an answer, each row grouped under its record. */
static void ac_sides(Arena *a, const cJSON *answer, Sides *sd) {
    memset(sd, 0, sizeof *sd);
    sd->values = arr(answer, "fieldValues");
    sd->contact_tags = arr(answer, "contactTags");
    sd->tags = arr(answer, "tags");
    sd->contact_lists = arr(answer, "contactLists");
    sd->lists = arr(answer, "lists");
    sd->deal_data = arr(answer, "dealCustomFieldData");
    sd->account_contacts = arr(answer, "accountContacts");
    group_rows(a, &sd->by_values, sd->values, "contact");
    group_rows(a, &sd->by_contact_tags, sd->contact_tags, "contact");
    group_rows(a, &sd->by_contact_lists, sd->contact_lists, "contact");
    group_rows(a, &sd->by_deal_data, sd->deal_data, "dealId");
    group_rows(a, &sd->by_account_contacts, sd->account_contacts, "contact");
}

/* Pages go by offset; meta.total counts every match.  n: the page's rows. */
static void ac_next(const cJSON *answer, double n, Buf *next) {
    const cJSON *meta = get(answer, "meta"), *in = get(meta, "page_input");
    double total = count_of(get(meta, "total")), offset = count_of(get(in, "offset")), limit = count_of(get(in, "limit"));
    if (offset < 0) offset = 0;
    if (limit <= 0) limit = n;
    if (n > 0 && offset + n < total) buf_printf(next, "offset=%.0f&limit=%.0f", offset + n, limit);
}

/* The array of an object's rows: contacts, deals, accounts; custom fields' is "fields". */
static const char *ac_plural(CodecCtx *cx, uint32_t object, char b[64]) {
    const char *obj = program_str(cx->p, cx->p->objects[object].name);
    if (!strcmp(obj, "customField")) return "fields";
    snprintf(b, 64, "%ss", obj);
    return b;
}

/* The name of an object's id key. */
static const char *ac_key(CodecCtx *cx, uint32_t object) {
    const PObject *o = &cx->p->objects[object];
    return o->key >= 0 ? program_str(cx->p, cx->p->fields[o->first_field + (uint32_t)o->key].name) : "id";
}

static int ac_decode_page(CodecCtx *cx, uint32_t object, const cJSON *answer, RecordSink *sink, Buf *next, Buf *err) {
    const char *obj = program_str(cx->p, cx->p->objects[object].name), *key = ac_key(cx, object);
    char pb[64];
    const char *plural = ac_plural(cx, object, pb);
    const cJSON *rows = arr(answer, plural), *row;
    if (!rows) { buf_printf(err, "an ActiveCampaign %s answer has a \"%s\" array", obj, plural); return -1; }
    Sides sd;
    ac_sides(cx->a, answer, &sd);
    cJSON_ArrayForEach(row, rows) {
        Buf why;
        char b[32];
        buf_init(&why);
        const char *id = id_text(get(row, key), b);
        Record *r = ac_record(cx, object, row, id, &sd, &why);
        if (r && !r->vm.id) buf_printf(&why, "no %s", key);
        if (why.n) sink->bad(sink->ctx, id, buf_str(&why));
        else sink->record(sink->ctx, r);
        buf_free(&why);
    }
    ac_next(answer, cJSON_GetArraySize(rows), next);
    return 0;
}

/* ------------------------------------------------------------ writing */

/* The body keys each object takes as they are; any other field written is
 * a custom one, found by its title (the schema's "Close Date" of a deal is
 * one too, as the decoder reads it). */
static const char *const ac_contact_keys[] = {"email", "firstName", "lastName", "phone", "orgname", NULL};
static const char *const ac_deal_keys[] = {"title", "description", "contact", "account", "value", "currency",
                                           "group", "stage", "owner", "percent", "status", NULL};
static const char *const ac_account_keys[] = {"name", "accountUrl", "owner", NULL};

static int ac_is(const char *const *keys, const char *name) {
    for (; *keys; keys++)
        if (!strcmp(*keys, name)) return 1;
    return 0;
}

/* The id behind a name: from the metadata, else from the source, which
 * creates the thing (make: for a removal there is nothing to create).  An
 * id the source gives is kept in the metadata, so the next change naming
 * it does not create it again.  type: the system's type when known. */
static const char *ac_need(CodecCtx *cx, MetaKind k, const char *name, int make, const char **type) {
    const MetaEntry *e = cx->meta ? meta_by_name(cx->meta, k, name) : NULL;
    if (type) *type = e ? e->type : NULL;
    if (e || !make || !cx->ensure) return e ? e->id : NULL;
    const char *id = cx->ensure(cx->ensure_ctx, k, name);
    if (id && cx->meta && !meta_by_name(cx->meta, k, name)) meta_put(cx->meta, k, id, name, NULL);
    return id;
}

/* A value as text, as custom field values are: a multi-select "A;B" as
 * "||A||B||", a null as "" (a value is required; empty clears it). */
static char *ac_text(CodecCtx *cx, Value v, int multi) {
    Buf b, m;
    buf_init(&b);
    buf_init(&m);
    value_format(v, &b);
    if (multi && b.n) {
        buf_puts(&m, "||");
        for (size_t i = 0; i < b.n; i++)
            if (b.p[i] == ';') buf_puts(&m, "||");
            else buf_putc(&m, b.p[i]);
        buf_puts(&m, "||");
    }
    char *t = arena_strdup(cx->a, buf_str(multi && b.n ? &m : &b));
    buf_free(&b);
    buf_free(&m);
    return t;
}

/* Money: units in tandem, whole cents in the API. */
static cJSON *ac_cents(Value v) {
    return v.t == VT_NUM ? cJSON_CreateNumber(round(v.u.n * 100)) : cJSON_CreateNull();
}

/* A standard key of the body.  Contact fields are text, a blank one ""
 * (as the API gives them); deal and account fields take JSON null. */
static cJSON *ac_standard(CodecCtx *cx, int contact, const char *name, Value v) {
    if (!strcmp(name, "value")) return ac_cents(v);
    if (contact || (v.t != VT_NULL && v.t != VT_BOOL && v.t != VT_NUM)) {
        char *t = ac_text(cx, v, 0);
        if (!strcmp(name, "currency"))   /* ISO code, lower case */
            for (char *p = t; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        return cJSON_CreateString(t);
    }
    if (v.t == VT_BOOL) return cJSON_CreateBool(v.u.b);
    return v.t == VT_NUM ? cJSON_CreateNumber(v.u.n) : cJSON_CreateNull();
}

/* A deal custom field: customFieldId is the number the API counts by; a
 * currency value is in cents with its currency (the deal's, when the
 * change writes it), a multi-select a JSON array. */
static cJSON *ac_deal_field(CodecCtx *cx, const char *fid, const char *type, const PField *f, Value v, const char *currency) {
    cJSON *e = cJSON_CreateObject();
    char *end;
    long n = strtol(fid, &end, 10);
    if (*fid && !*end && n >= 0 && n < 1000000000) cJSON_AddNumberToObject(e, "customFieldId", (double)n);
    else cJSON_AddStringToObject(e, "customFieldId", fid);
    if (f->type == TY_CURRENCY || (type && !strcmp(type, "currency"))) {
        cJSON_AddItemToObject(e, "fieldValue", v.t == VT_NUM ? ac_cents(v) : cJSON_CreateString(""));
        if (currency) cJSON_AddStringToObject(e, "fieldCurrency", currency);
    } else if (f->type == TY_MULTIPICKLIST) {
        cJSON *items = cJSON_AddArrayToObject(e, "fieldValue");
        char *t = ac_text(cx, v, 0), *save = NULL;
        for (char *p = strtok_r(t, ";", &save); p; p = strtok_r(NULL, ";", &save))
            cJSON_AddItemToArray(items, cJSON_CreateString(p));
    } else {
        cJSON_AddStringToObject(e, "fieldValue", ac_text(cx, v, 0));
    }
    return e;
}

/* The currency a deal change writes, upper case as fieldCurrency shows it. */
static const char *ac_deal_currency(CodecCtx *cx, const Change *c, const PObject *o) {
    for (uint32_t i = 0; i < c->nsets; i++) {
        const FieldSet *s = &c->sets[i];
        if (s->field >= o->nfields || s->after.t != VT_STR || strcmp(program_str(cx->p, cx->p->fields[o->first_field + s->field].name), "currency")) continue;
        char *t = arena_strndup(cx->a, s->after.u.s, s->after.len);
        for (char *p = t; *p; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        return t;
    }
    return NULL;
}

static void ac_send(CodecCtx *cx, RequestList *out, const char *method, const char *path, cJSON *body) {
    char *json = cJSON_PrintUnformatted(body);
    request_add(out, cx->a, method, path, json, NULL);
    cJSON_free(json);
    cJSON_Delete(body);
}

/* Create or update of a contact, deal or account.
 *
 * A contact's id is unknown until the answer to its create, so a create
 * sends only /contact/sync: its tags, lists and automations (and a list
 * sync's list, c->name) are separate changes the engine issues with the
 * new id.  Its account too: /accountContacts links it on an update, and a
 * create leaves it out, for the engine to write as an update once the
 * create has answered. */
static int ac_write(CodecCtx *cx, const Change *c, const char *id, const char *what, RequestList *out, Buf *err) {
    const Program *p = cx->p;
    const PObject *o = &p->objects[c->object];
    const char *obj = program_str(p, o->name);
    int contact = !strcmp(obj, "contact"), deal = !strcmp(obj, "deal");
    const char *const *keys = contact ? ac_contact_keys : deal ? ac_deal_keys : ac_account_keys;
    const char *currency = deal ? ac_deal_currency(cx, c, o) : NULL, *account = NULL, *email = NULL;
    cJSON *root = cJSON_CreateObject(), *rec = cJSON_AddObjectToObject(root, obj), *custom = NULL;
    for (uint32_t i = 0; i < c->nsets; i++) {
        const FieldSet *s = &c->sets[i];
        if (s->field >= o->nfields) {
            buf_printf(err, "%s: %s has no field %u", what, obj, s->field);
            goto fail;
        }
        const PField *f = &p->fields[o->first_field + s->field];
        const char *name = program_str(p, f->name), *type = NULL;
        Value v = s->after;
        if (v.t == VT_NONE || (f->flags & PF_READONLY)) continue;
        if (v.t == VT_NUM && !isfinite(v.u.n)) {
            buf_printf(err, "%s: %s is not a finite number", what, name);
            goto fail;
        }
        if (contact && !strcmp(name, "email")) {
            if (v.t != VT_STR || !v.len) {
                buf_printf(err, "%s: ActiveCampaign cannot clear a contact's email", what);
                goto fail;
            }
            email = name;
        }
        if (contact && !strcmp(name, "account")) {
            if (c->kind == CH_CREATE) continue;   /* see above */
            /* clearing would need the accountContact's own id, which tandem does not keep */
            if (v.t != VT_STR || !codec_id_ok(account = arena_strndup(cx->a, v.u.s, v.len))) {
                buf_printf(err, "%s: ActiveCampaign cannot unlink a contact from its account", what);
                goto fail;
            }
            continue;
        }
        if (ac_is(keys, name)) {
            cJSON_AddItemToObject(rec, name, ac_standard(cx, contact, name, v));
            continue;
        }
        if (!contact && !deal) {
            buf_printf(err, "%s: tandem does not write ActiveCampaign account custom fields (%s)", what, name);
            goto fail;
        }
        const char *fid = ac_need(cx, contact ? META_FIELD : META_DEAL_FIELD, name, 1, &type);
        if (!fid) {
            buf_printf(err, "%s: ActiveCampaign has no %s custom field \"%s\"", what, obj, name);
            goto fail;
        }
        if (!custom) custom = cJSON_AddArrayToObject(rec, contact ? "fieldValues" : "fields");
        if (deal) {
            cJSON_AddItemToArray(custom, ac_deal_field(cx, fid, type, f, v, currency));
        } else {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "field", fid);
            cJSON_AddStringToObject(e, "value", ac_text(cx, v, f->type == TY_MULTIPICKLIST));
            cJSON_AddItemToArray(custom, e);
        }
    }
    if (c->kind == CH_CREATE) {
        if (contact && !email) {
            buf_printf(err, "%s: ActiveCampaign needs an email to create a contact", what);
            goto fail;
        }
        ac_send(cx, out, "POST", contact ? "/contact/sync" : arena_printf(cx->a, "/%ss", obj), root);
        return 0;
    }
    if (rec->child) ac_send(cx, out, "PUT", arena_printf(cx->a, "/%ss/%s", obj, id), root);
    else cJSON_Delete(root);
    if (account) {
        cJSON *link = cJSON_CreateObject(), *ac = cJSON_AddObjectToObject(link, "accountContact");
        cJSON_AddStringToObject(ac, "contact", id);
        cJSON_AddStringToObject(ac, "account", account);
        ac_send(cx, out, "POST", "/accountContacts", link);
    }
    return 0;
fail:
    cJSON_Delete(root);
    return -1;
}

/* Tags, lists and automations of a contact. */
static int ac_action(CodecCtx *cx, const Change *c, const char *id, const char *what, RequestList *out, Buf *err) {
    static const struct {
        MetaKind kind;
        const char *noun, *path, *wrap, *link;
    } acts[] = {
        [CH_TAG] = {META_TAG, "tag", "/contactTags", "contactTag", "tag"},
        [CH_LIST_ADD] = {META_LIST, "list", "/contactLists", "contactList", "list"},
        [CH_LIST_REMOVE] = {META_LIST, "list", "/contactLists", "contactList", "list"},
        [CH_AUTOMATE] = {META_AUTOMATION, "automation", "/contactAutomations", "contactAutomation", "automation"},
    };
    if (c->kind == CH_UNTAG) {
        /* DELETE takes the contactTag's own id, which the decoder keeps as the tag's ref */
        if (!codec_id_ok(c->ref)) {
            buf_printf(err, "%s: ActiveCampaign removes a tag by its contactTag id, and the change has %s", what, c->ref ? "a bad one" : "none");
            return -1;
        }
        request_add(out, cx->a, "DELETE", arena_printf(cx->a, "/contactTags/%s", c->ref), NULL, NULL);
        return 0;
    }
    if (!c->name || !*c->name) {
        buf_printf(err, "%s: the change names no %s", what, acts[c->kind].noun);
        return -1;
    }
    /* unsubscribing from a list that is not there has nothing to create */
    const char *tid = ac_need(cx, acts[c->kind].kind, c->name, c->kind != CH_LIST_REMOVE, NULL);
    if (!tid) {
        buf_printf(err, "%s: ActiveCampaign has no %s id for \"%s\"", what, acts[c->kind].noun, c->name);
        return -1;
    }
    cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, acts[c->kind].wrap);
    if (c->kind == CH_LIST_ADD || c->kind == CH_LIST_REMOVE) {
        cJSON_AddStringToObject(e, "list", tid);
        cJSON_AddStringToObject(e, "contact", id);
        cJSON_AddNumberToObject(e, "status", c->kind == CH_LIST_ADD ? 1 : 2);   /* 1 subscribed, 2 unsubscribed */
    } else {
        cJSON_AddStringToObject(e, "contact", id);
        cJSON_AddStringToObject(e, acts[c->kind].link, tid);
    }
    ac_send(cx, out, "POST", acts[c->kind].path, root);
    return 0;
}

static int ac_encode(CodecCtx *cx, const Change *c, const char *id, RequestList *out, Buf *err) {
    const Program *p = cx->p;
    if (c->object >= p->nobjects || strcmp(program_str(p, p->objects[c->object].system), "activecampaign")) {
        buf_printf(err, "object %u is not an ActiveCampaign object", c->object);
        return -1;
    }
    const char *obj = program_str(p, p->objects[c->object].name), *what = codec_what(cx, c, id);
    int contact = !strcmp(obj, "contact");
    if (c->kind > CH_AUTOMATE) {
        buf_printf(err, "%s: no such change", what);
        return -1;
    }
    int writable = contact || !strcmp(obj, "deal") || !strcmp(obj, "account");
    if (c->kind >= CH_TAG ? !contact : !writable) {
        buf_printf(err, "%s: tandem writes only ActiveCampaign contacts, deals and accounts, and acts only on contacts", what);
        return -1;
    }
    if (c->kind != CH_CREATE && !codec_id_ok(id)) {
        buf_printf(err, id ? "%s: \"%s\" is not an ActiveCampaign id" : "%s: no record id", what, id);
        return -1;
    }
    if (c->kind == CH_DELETE) {
        request_add(out, cx->a, "DELETE", arena_printf(cx->a, "/%ss/%s", obj, id), NULL, NULL);
        return 0;
    }
    return c->kind <= CH_UPDATE ? ac_write(cx, c, id, what, out, err) : ac_action(cx, c, id, what, out, err);
}

static int ac_created_id(CodecCtx *cx, const Change *c, int status, const cJSON *answer, Buf *id, Buf *err) {
    const cJSON *e;
    int n = 0;
    cJSON_ArrayForEach(e, arr(answer, "errors")) {   /* 422: each error's title */
        const char *t = str(get(e, "title")) ? str(get(e, "title")) : str(get(e, "detail"));
        if (t) buf_printf(err, "%s%s", n++ ? "; " : "", t);
    }
    if (!n && str(get(answer, "message"))) {         /* 403, 404 */
        buf_puts(err, str(get(answer, "message")));
        n++;
    }
    const char *obj = c->object < cx->p->nobjects ? program_str(cx->p, cx->p->objects[c->object].name) : "record";
    char b[32];
    const char *s = id_text(get(get(answer, obj), "id"), b);
    if (!n && status < 300 && s && *s) {
        buf_puts(id, s);
        return 0;
    }
    if (!n) buf_printf(err, "ActiveCampaign answered HTTP %d without the new %s's id", status, obj);
    return -1;
}

/* ------------------------------------------------------------ scanning */

/* The keys a scanned row had, for has_key (a custom field named like one
 * of them is not read from the sideload). */
static void keep_key(Arena *a, RowKeys *w, const char *k, size_t n, int copy) {
    if (w->count == w->cap) {
        uint32_t cap = w->cap;
        w->k = arena_grow(a, w->k, w->count, &cap, 16, sizeof *w->k);
        w->n = arena_grow(a, w->n, w->count, &w->cap, 16, sizeof *w->n);
    }
    w->k[w->count] = copy ? arena_strndup(a, k, n) : k;
    w->n[w->count++] = n;
}

/* One row of a page from the scanner, as ac_record reads it from a tree:
 * each key the object has is set through ac_set's rules, in order (a key
 * given twice: the last counts), then the sideloads of the row's id (its
 * first key field, as a lookup in a tree finds it). */
static Record *ac_scan_record(CodecCtx *cx, Arena *sa, uint32_t object, JScan *s, CodecShape *sh, RowKeys *w,
                              const Sides *sd, Buf *key, Buf *val, Buf *why, const char **id_out) {
    const Program *p = cx->p;
    const PObject *o = &p->objects[object];
    const char *obj = program_str(p, o->name);
    *id_out = NULL;
    if (js_peek(s) != J_OBJECT) {
        buf_puts(why, "a record is not a JSON object");
        js_skip(s);
        return NULL;
    }
    Record *r = arena_alloc(cx->a, sizeof *r);
    record_init(p, object, cx->a, r);
    w->count = 0;
    const char *id = NULL;
    int m, i = 0, failed = 0, seen_id = 0;
    const char *k;
    size_t kn;
    if (js_enter(s, '{') != 0) return NULL;
    while ((m = js_key(s, key, &k, &kn)) == 0) {
        int escaped = k == key->p;
        keep_key(sa, w, k, kn, escaped);
        int fid = codec_field_at(p, object, sh, i++, k, kn, !escaped);
        JType t = js_peek(s);
        /* the id the sideloads go by: text, or a whole number as text */
        if (fid >= 0 && fid == o->key && !seen_id++) {
            if (t == J_STRING) {
                const char *v;
                size_t vn;
                const char *at = s->p;
                if (js_text(s, val, &v, &vn) != 0) return NULL;
                id = arena_strndup(sa, v, v == val->p ? strlen(v) : vn);
                s->p = at;   /* read again below as the field */
            } else if (t == J_NUMBER) {
                const char *at = s->p;
                double d;
                if (js_number(s, &d) != 0) return NULL;
                if (fabs(d) < 1e15 && d == floor(d)) id = arena_printf(sa, "%.0f", d);
                s->p = at;
            }
        }
        if (fid < 0 || failed) {
            if (js_skip(s) != 0) return NULL;
            continue;
        }
        int rc = 0;
        if (t == J_STRING) {
            const char *v;
            size_t vn;
            if (js_text(s, val, &v, &vn) != 0) return NULL;
            if (v == val->p) vn = strlen(v);
            /* "0000-00-00 00:00:00" is ActiveCampaign's missing date */
            if (vn >= 10 && !memcmp(v, "0000-00-00", 10)) record_set_null(r, fid);
            else rc = record_set_string(p, r, cx->a, fid, v, vn, why);
        } else if (t == J_NUMBER) {
            double d;
            if (js_number(s, &d) != 0) return NULL;
            rc = record_set_number(p, r, cx->a, fid, d, why);
        } else if (t == J_NULL) {
            if (js_literal(s, &t) != 0) return NULL;
            record_set_null(r, fid);
        } else {
            /* flags, objects and arrays: rare, so built as cJSON */
            const char *start = s->p;
            if (js_skip(s) != 0) return NULL;
            cJSON *j = cJSON_ParseWithLength(start, (size_t)(s->p - start));
            if (j) {
                rc = record_set_field(p, r, cx->a, fid, j, why);
            } else {
                buf_printf(why, "field %s: the value cannot be read", program_str(p, p->fields[o->first_field + (uint32_t)fid].name));
                rc = -1;
            }
            cJSON_Delete(j);
        }
        if (rc < 0) failed = 1;
    }
    if (m < 0) return NULL;
    *id_out = id;
    if (failed) return NULL;
    if (id && !strcmp(obj, "contact") && ac_contact(cx, r, w, id, sd, why) < 0) return NULL;
    if (id && !strcmp(obj, "deal") && ac_deal(cx, r, w, id, sd, why) < 0) return NULL;
    record_finish(p, r, cx->a);
    return r;
}

/* The answer's members other than its rows that decode_page reads, and
 * the keys it reads of each one's rows (none: the member whole). */
static const struct {
    const char *name;
    const char *keys[4];
} ac_sides_read[] = {
    {"fieldValues", {"contact", "field", "value", NULL}},
    {"contactTags", {"contact", "tag", "id", NULL}},
    {"tags", {"id", "tag", NULL, NULL}},
    {"contactLists", {"contact", "list", "status", NULL}},
    {"lists", {"id", "name", NULL, NULL}},
    {"dealCustomFieldData", {"dealId", "customFieldId", "fieldValue", NULL}},
    {"accountContacts", {"contact", "account", NULL, NULL}},
    {"meta", {NULL, NULL, NULL, NULL}},
};

static int ac_side_member(const char *k, size_t n) {
    for (int i = 0; i < (int)(sizeof ac_sides_read / sizeof ac_sides_read[0]); i++)
        if (strlen(ac_sides_read[i].name) == n && !memcmp(ac_sides_read[i].name, k, n)) return i;
    return -1;
}

/* The next value as cJSON parses it; a string's text copied into the
 * arena and referenced.  NULL on a scan error. */
static cJSON *scan_item(Arena *a, JScan *s, Buf *val) {
    JType t = js_peek(s);
    const char *v;
    size_t vn;
    double d;
    if (t == J_STRING) {
        if (js_text(s, val, &v, &vn) != 0) return NULL;
        return cJSON_CreateStringReference(arena_strndup(a, v, v == val->p ? strlen(v) : vn));
    }
    if (t == J_NUMBER) return js_number(s, &d) != 0 ? NULL : cJSON_CreateNumber(d);
    if (t == J_NULL || t == J_TRUE || t == J_FALSE)
        return js_literal(s, &t) != 0 ? NULL : t == J_NULL ? cJSON_CreateNull() : cJSON_CreateBool(t == J_TRUE);
    const char *start = s->p;
    if (js_skip(s) != 0) return NULL;
    return cJSON_ParseWithLength(start, (size_t)(s->p - start));
}

/* A sideload as a tree of only the keys its rows are read for, in their
 * order (a key given twice: both, so a lookup finds the first).  Parsing
 * the whole list built a node and two strings for every key of every row
 * (a fieldValue has a dozen, links and owner among them); these are
 * the bulk of an answer after its rows.  NULL (s->err set) when the text
 * is not JSON. */
static cJSON *scan_side(Arena *a, JScan *s, const char *const *keys, Buf *key, Buf *val) {
    const char *start = s->p;
    if (!keys[0] || js_peek(s) != J_ARRAY) {
        if (js_skip(s) != 0) return NULL;
        cJSON *j = cJSON_ParseWithLength(start, (size_t)(s->p - start));
        if (!j) s->err = "a value cannot be read";
        return j;
    }
    cJSON *list = cJSON_CreateArray();
    int e = js_enter(s, '[');
    while (e == 0 && (e = js_element(s)) == 0) {
        if (js_peek(s) != J_OBJECT) {   /* not a row: as it is, and passed over */
            cJSON *item = scan_item(a, s, val);
            if (item) cJSON_AddItemToArray(list, item);
            else if (!s->err) s->err = "a value cannot be read";
            continue;
        }
        cJSON *row = cJSON_CreateObject();
        cJSON_AddItemToArray(list, row);
        const char *k;
        size_t kn;
        int m = js_enter(s, '{');
        while (m == 0 && (m = js_key(s, key, &k, &kn)) == 0) {
            const char *name = NULL;
            for (int i = 0; keys[i] && !name; i++)
                if (strlen(keys[i]) == kn && !memcmp(keys[i], k, kn)) name = keys[i];
            if (!name) {
                if (js_skip(s) != 0) m = -1;
                continue;
            }
            cJSON *item = scan_item(a, s, val);
            if (item) cJSON_AddItemToObjectCS(row, name, item);
            else if (!s->err) s->err = "a value cannot be read";
        }
        if (m < 0) e = -1;
    }
    if (s->err) {
        cJSON_Delete(list);
        return NULL;
    }
    return list;
}

/* decode_page from the text.  The rows come first in an answer and their
 * sideloads after, so the answer is walked twice: once to find the rows
 * and to build the sideloads (small, and looked up by id) as trees, then
 * the rows are scanned, none built.  A text that is not JSON fails the
 * first walk, before any record reaches the sink. */
static int ac_scan_page(CodecCtx *cx, uint32_t object, const char *text, size_t n, RecordSink *sink, Buf *next, Buf *err) {
    const char *obj = program_str(cx->p, cx->p->objects[object].name), *keyname = ac_key(cx, object);
    char pb[64];
    const char *plural = ac_plural(cx, object, pb);
    size_t pn = strlen(plural);
    JScan s;
    js_init(&s, text, n);
    Buf key, val;
    buf_init(&key);
    buf_init(&val);
    /* What only this page needs (the sideloads' text and groups, ids, a
     * row's keys) stays out of cx->a, where the records may be kept for
     * the run: in the source's scratch arena, reset after the page. */
    Arena local, *sa = &local;
    arena_init(&local);
    if (cx->scratch && !cx->scratch_busy) {
        sa = cx->scratch;
        cx->scratch_busy = 1;
    }
    cJSON *side = cJSON_CreateObject();
    const char *rows_at = NULL, *rows_end = NULL, *k;
    size_t kn;
    int m, sm, seen_rows = 0, rc = -1;
    if (js_enter(&s, '{') != 0) goto out;
    while ((m = js_key(&s, &key, &k, &kn)) == 0) {
        if (kn == pn && !memcmp(k, plural, pn) && !seen_rows++) {
            if (js_peek(&s) == J_ARRAY) rows_at = s.p;
            if (js_skip(&s) != 0) goto out;
            if (rows_at) rows_end = s.p;
        } else if ((sm = ac_side_member(k, kn)) >= 0) {
            const char *name = ac_sides_read[sm].name;
            /* the first of a key given twice, as a lookup in a tree finds it */
            if (cJSON_GetObjectItemCaseSensitive(side, name)) {
                if (js_skip(&s) != 0) goto out;
                continue;
            }
            cJSON *j = scan_side(sa, &s, ac_sides_read[sm].keys, &key, &val);
            if (s.err) goto out;
            if (j) cJSON_AddItemToObjectCS(side, name, j);
        } else if (js_skip(&s) != 0) {
            goto out;
        }
    }
    if (m < 0) goto out;
    if (!rows_at) {
        buf_printf(err, "an ActiveCampaign %s answer has a \"%s\" array", obj, plural);
        rc = -2;
        goto out;
    }
    Sides sd;
    ac_sides(sa, side, &sd);
    RowKeys w = {0};
    CodecShape shape;
    memset(&shape, 0, sizeof shape);
    s.p = rows_at;
    s.end = rows_end;
    if (js_enter(&s, '[') != 0) goto out;
    int e, nrows = 0;
    while ((e = js_element(&s)) == 0) {
        Buf why;
        buf_init(&why);
        const char *id = NULL;
        nrows++;
        Record *r = ac_scan_record(cx, sa, object, &s, &shape, &w, &sd, &key, &val, &why, &id);
        if (s.err) {
            buf_free(&why);
            goto out;
        }
        if (r && !r->vm.id) buf_printf(&why, "no %s", keyname);
        if (why.n) sink->bad(sink->ctx, id, buf_str(&why));
        else sink->record(sink->ctx, r);
        buf_free(&why);
    }
    if (e < 0) goto out;
    ac_next(side, nrows, next);
    rc = 0;
out:
    if (rc == -1) {
        buf_puts(err, "the answer is not valid JSON: ");
        js_error(&s, err);
    }
    cJSON_Delete(side);
    if (sa == &local) {
        arena_free(&local);
    } else {
        arena_reset(sa);
        cx->scratch_busy = 0;
    }
    buf_free(&key);
    buf_free(&val);
    return rc ? -1 : 0;
}

const Codec codec_activecampaign = {"activecampaign", ac_meta, ac_decode_meta, ac_decode_page, NULL, ac_encode, ac_created_id, ac_scan_page, 0};
