/* record.c - reading records and values from JSON. */
#include "record.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"
#include "util.h"

int program_field(const Program *p, uint32_t object, const char *name) {
    if (p->nfield_slots) return program_field_n(p, object, name, strlen(name));
    /* a program not indexed yet (while compiling) */
    const PObject *o = &p->objects[object];
    for (uint32_t i = 0; i < o->nfields; i++)
        if (strcmp(program_str(p, p->fields[o->first_field + i].name), name) == 0) return (int)i;
    return -1;
}

static Value copy_str(Arena *a, const char *s, size_t n) {
    return v_str(arena_strndup(a, s, n), n);
}

static int number_text(const char *s, double *out) {
    while (*s == ' ') s++;
    if (!*s) return -1;
    char *end;
    double d = strtod(s, &end);
    while (*end == ' ') end++;
    if (*end || isnan(d) || isinf(d)) return -1;
    *out = d;
    return 0;
}

int value_from_json(const cJSON *j, int type, Arena *a, Value *out, Buf *err) {
    *out = v_null();
    if (!j || cJSON_IsNull(j)) return 0;
    TypeKind t = (TypeKind)type;
    if (type_is_text(t)) {
        if (cJSON_IsString(j)) { *out = copy_str(a, j->valuestring, strlen(j->valuestring)); return 0; }
        if (cJSON_IsNumber(j)) {
            Buf b;
            buf_init(&b);
            value_format(v_num(j->valuedouble), &b);
            *out = copy_str(a, buf_str(&b), b.n);
            buf_free(&b);
            return 0;
        }
        if (cJSON_IsBool(j)) { *out = copy_str(a, cJSON_IsTrue(j) ? "true" : "false", cJSON_IsTrue(j) ? 4 : 5); return 0; }
        if (cJSON_IsArray(j) && t == TY_MULTIPICKLIST) {
            Buf b;
            buf_init(&b);
            const cJSON *e;
            cJSON_ArrayForEach(e, j) {
                if (!cJSON_IsString(e)) { buf_free(&b); buf_puts(err, "a multi-select holds text values"); return -1; }
                if (b.n) buf_putc(&b, ';');
                buf_puts(&b, e->valuestring);
            }
            *out = copy_str(a, buf_str(&b), b.n);
            buf_free(&b);
            return 0;
        }
        buf_printf(err, "expected text for a %s field", type_name(t));
        return -1;
    }
    if (type_is_numeric(t)) {
        double d;
        if (cJSON_IsNumber(j)) { *out = v_num(j->valuedouble); return 0; }
        if (cJSON_IsString(j) && (number_text(j->valuestring, &d) == 0)) { *out = v_num(d); return 0; }
        if (cJSON_IsString(j) && !j->valuestring[0]) return 0;
        buf_printf(err, "expected a number");
        return -1;
    }
    if (t == TY_BOOLEAN) {
        if (cJSON_IsBool(j)) { *out = v_bool(cJSON_IsTrue(j)); return 0; }
        if (cJSON_IsNumber(j) && (j->valuedouble == 0 || j->valuedouble == 1)) { *out = v_bool(j->valuedouble != 0); return 0; }
        if (cJSON_IsString(j)) {
            const char *s = j->valuestring;
            if (!strcmp(s, "true") || !strcmp(s, "1")) { *out = v_bool(1); return 0; }
            if (!strcmp(s, "false") || !strcmp(s, "0")) { *out = v_bool(0); return 0; }
            if (!s[0]) return 0;
        }
        buf_printf(err, "expected true or false");
        return -1;
    }
    if (t == TY_DATE || t == TY_DATETIME) {
        if (!cJSON_IsString(j)) { buf_printf(err, "expected a date as text"); return -1; }
        const char *s = j->valuestring;
        size_t n = strlen(s);
        if (!n) return 0;
        int64_t ms;
        if (parse_datetime(s, n, &ms) != 0) {
            buf_printf(err, "'%.40s' is not a %s", s, t == TY_DATE ? "date (YYYY-MM-DD)" : "date-time (ISO 8601)");
            return -1;
        }
        if (t == TY_DATE) *out = v_int(VT_DATE, ms >= 0 ? ms / 86400000LL : -((-ms + 86399999LL) / 86400000LL));
        else *out = v_int(VT_DATETIME, ms);
        return 0;
    }
    buf_printf(err, "a %s field cannot be read from JSON", type_name(t));
    return -1;
}

void record_init(const Program *p, uint32_t object, Arena *a, Record *r) {
    memset(r, 0, sizeof *r);
    const PObject *o = &p->objects[object];
    r->object = object;
    r->fields = arena_alloc(a, (size_t)(o->nfields ? o->nfields : 1) * sizeof *r->fields);
    size_t words = (p->ntags + 63) / 64;
    r->tags = arena_alloc(a, (words ? words : 1) * sizeof *r->tags);
    r->present = arena_alloc(a, ((size_t)o->nfields / 64 + 1) * sizeof *r->present);
    r->created = INT64_MIN;
    r->vm.f = r->fields;
    r->vm.nf = o->nfields;
    r->vm.tags = r->tags;
    r->vm.modified = INT64_MIN;
}

void record_add_tag(Record *r, Arena *a, const char *name, const char *ref) {
    for (uint32_t i = 0; i < r->ntag_names; i++)
        if (!strcmp(r->tag_names[i], name)) return;
    /* records have few tags: the old blocks stay in the arena until the batch ends */
    if (r->ntag_names == r->cap_tags) {
        uint32_t cap = r->cap_tags;
        r->tag_names = arena_grow(a, r->tag_names, r->ntag_names, &cap, 4, sizeof *r->tag_names);
        r->tag_refs = arena_grow(a, r->tag_refs, r->ntag_names, &r->cap_tags, 4, sizeof *r->tag_refs);
    }
    r->tag_names[r->ntag_names] = arena_strdup(a, name);
    r->tag_refs[r->ntag_names] = ref ? arena_strdup(a, ref) : NULL;
    r->ntag_names++;
}

void record_add_list(Record *r, Arena *a, const char *name) {
    for (uint32_t i = 0; i < r->nlists; i++)
        if (!strcmp(r->lists[i], name)) return;
    if (r->nlists == r->cap_lists) r->lists = arena_grow(a, r->lists, r->nlists, &r->cap_lists, 4, sizeof *r->lists);
    r->lists[r->nlists++] = arena_strdup(a, name);
}

int record_set_json(const Program *p, Record *r, Arena *a, const char *name, const cJSON *v, Buf *err) {
    int fid = program_field(p, r->object, name);
    if (fid < 0) return 1;
    return record_set_field(p, r, a, fid, v, err);
}

int record_set_field(const Program *p, Record *r, Arena *a, int fid, const cJSON *v, Buf *err) {
    const char *name = program_str(p, p->fields[p->objects[r->object].first_field + (uint32_t)fid].name);
    const PObject *o = &p->objects[r->object];
    const PField *f = &p->fields[o->first_field + (uint32_t)fid];
    Buf why;
    buf_init(&why);
    int rc = value_from_json(v, f->type, a, &r->fields[fid], &why);
    if (rc != 0) buf_printf(err, "field %s: %s", name, buf_str(&why));
    else r->present[fid / 64] |= 1ull << (fid % 64);
    buf_free(&why);
    return rc != 0 ? -1 : 0;
}

static void put(Record *r, int fid, Value v) {
    r->fields[fid] = v;
    r->present[fid / 64] |= 1ull << (fid % 64);
}

void record_set_null(Record *r, int fid) { put(r, fid, v_null()); }

int record_set_string(const Program *p, Record *r, Arena *a, int fid, const char *s, size_t n, Buf *err) {
    TypeKind t = (TypeKind)p->fields[p->objects[r->object].first_field + (uint32_t)fid].type;
    if (type_is_text(t)) {
        put(r, fid, copy_str(a, s, n));
        return 0;
    }
    int64_t ms;
    if ((t == TY_DATE || t == TY_DATETIME) && n && parse_datetime(s, n, &ms) == 0) {
        put(r, fid, t == TY_DATE ? v_int(VT_DATE, ms >= 0 ? ms / 86400000LL : -((-ms + 86399999LL) / 86400000LL))
                                 : v_int(VT_DATETIME, ms));
        return 0;
    }
    /* the rest (numbers and flags as text, bad dates) the long way, for
     * its conversions and messages */
    Buf z;
    buf_init(&z);
    buf_putn(&z, s, n);
    cJSON item;
    memset(&item, 0, sizeof item);
    item.type = cJSON_String;
    item.valuestring = (char *)buf_str(&z);
    int rc = record_set_field(p, r, a, fid, &item, err);
    buf_free(&z);
    return rc;
}

int record_set_number(const Program *p, Record *r, Arena *a, int fid, double d, Buf *err) {
    TypeKind t = (TypeKind)p->fields[p->objects[r->object].first_field + (uint32_t)fid].type;
    if (type_is_numeric(t)) {
        put(r, fid, v_num(d));
        return 0;
    }
    cJSON item;
    memset(&item, 0, sizeof item);
    item.type = cJSON_Number;
    item.valuedouble = d;
    return record_set_field(p, r, a, fid, &item, err);
}

static const char **copy_names(Arena *a, const char *const *v, uint32_t n) {
    if (!n || !v) return NULL;
    const char **w = arena_alloc(a, n * sizeof *w);
    for (uint32_t i = 0; i < n; i++) w[i] = v[i] ? arena_strdup(a, v[i]) : NULL;
    return w;
}

Record *record_copy(const Program *p, const Record *src, Arena *a) {
    Record *r = arena_alloc(a, sizeof *r);
    *r = *src;
    const PObject *o = &p->objects[src->object];
    uint32_t nf = o->nfields ? o->nfields : 1;
    r->fields = arena_alloc(a, nf * sizeof *r->fields);
    for (uint32_t i = 0; i < o->nfields; i++) {
        Value v = src->fields[i];
        if (v.t == VT_STR) v.u.s = arena_strndup(a, v.u.s, v.len);
        r->fields[i] = v;
    }
    size_t words = (p->ntags + 63) / 64;
    r->tags = arena_alloc(a, (words ? words : 1) * sizeof *r->tags);
    memcpy(r->tags, src->tags, (words ? words : 1) * sizeof *r->tags);
    r->present = arena_alloc(a, ((size_t)o->nfields / 64 + 1) * sizeof *r->present);
    memcpy(r->present, src->present, ((size_t)o->nfields / 64 + 1) * sizeof *r->present);
    r->tag_names = copy_names(a, src->tag_names, src->ntag_names);
    r->tag_refs = copy_names(a, src->tag_refs, src->ntag_names);
    r->cap_tags = src->ntag_names;
    r->lists = copy_names(a, src->lists, src->nlists);
    r->cap_lists = src->nlists;
    r->vm.f = r->fields;
    r->vm.tags = r->tags;
    if (o->key >= 0 && src->vm.id == src->fields[o->key].u.s && src->fields[o->key].t == VT_STR) r->vm.id = r->fields[o->key].u.s;
    else r->vm.id = src->vm.id ? arena_strndup(a, src->vm.id, src->vm.idlen) : NULL;
    return r;
}

static int64_t time_of(Value v) {
    if (v.t == VT_DATETIME) return v.u.i;
    if (v.t == VT_DATE) return v.u.i * 86400000LL;
    return INT64_MIN;
}

void record_finish(const Program *p, Record *r, Arena *a) {
    const PObject *o = &p->objects[r->object];
    size_t words = (p->ntags + 63) / 64;
    memset(r->tags, 0, (words ? words : 1) * sizeof *r->tags);
    for (uint32_t i = 0; i < r->ntag_names; i++)
        for (uint32_t t = 0; t < p->ntags; t++)
            if (!strcmp(program_str(p, p->tags[t]), r->tag_names[i])) r->tags[t / 64] |= 1ull << (t % 64);
    if (o->key >= 0 && r->fields[o->key].t == VT_STR && !value_blank(r->fields[o->key])) {
        /* text, as most ids: the field's own copy is the id */
        r->vm.id = r->fields[o->key].u.s;
        r->vm.idlen = r->fields[o->key].len;
    } else if (o->key >= 0 && !value_blank(r->fields[o->key])) {
        Buf b;
        buf_init(&b);
        value_format(r->fields[o->key], &b);
        r->vm.id = arena_strndup(a, buf_str(&b), b.n);
        r->vm.idlen = (uint32_t)b.n;
        buf_free(&b);
    }
    if (o->modified >= 0) r->vm.modified = time_of(r->fields[o->modified]);
    if (o->created >= 0) r->created = time_of(r->fields[o->created]);
    if (o->deleted >= 0 && r->fields[o->deleted].t == VT_BOOL && r->fields[o->deleted].u.b) r->deleted = 1;
}

static const char *name_of(const cJSON *e) {
    if (cJSON_IsString(e)) return e->valuestring;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "tag");
    if (!cJSON_IsString(n)) n = cJSON_GetObjectItemCaseSensitive(e, "name");
    return cJSON_IsString(n) ? n->valuestring : NULL;
}

static int names_of(const cJSON *arr, Record *r, Arena *a, int tags, Buf *err) {
    const char *what = tags ? "tags" : "lists";
    if (!cJSON_IsArray(arr)) { buf_printf(err, "'%s' is a list", what); return -1; }
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        const char *s = name_of(e);
        if (!s) { buf_printf(err, "an entry of '%s' has no name", what); return -1; }
        if (tags) record_add_tag(r, a, s, NULL);
        else record_add_list(r, a, s);
    }
    return 0;
}

int record_from_json(const Program *p, uint32_t object, const cJSON *obj, Arena *a, Record *r, Buf *err, Buf *unknown) {
    record_init(p, object, a, r);
    const PObject *o = &p->objects[object];
    if (!cJSON_IsObject(obj)) { buf_puts(err, "a record is a JSON object"); return -1; }
    /* ActiveCampaign answers {"contact": {...}, "fieldValues": [...]}: the
     * record is the member named for the object. */
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive(obj, program_str(p, o->name));
    if (cJSON_IsObject(inner) && program_field(p, object, program_str(p, o->name)) < 0) {
        const cJSON *e;
        cJSON_ArrayForEach(e, obj) {
            if (e == inner || !unknown) continue;
            if (unknown->n) buf_puts(unknown, ", ");
            buf_printf(unknown, "%s (beside the %s)", e->string, program_str(p, o->name));
        }
        obj = inner;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, obj) {
        const char *k = e->string;
        if (!strcmp(k, "tags") || !strcmp(k, "lists")) {
            if (names_of(e, r, a, k[0] == 't', err)) return -1;
            continue;
        }
        if (!strcmp(k, "attributes")) continue; /* Salesforce's type and url */
        if (!strncmp(k, "@odata.", 7)) continue; /* Dynamics 365's etag and context */
        int rc = record_set_json(p, r, a, k, e, err);
        if (rc < 0) return -1;
        if (rc > 0 && unknown) {
            if (unknown->n) buf_puts(unknown, ", ");
            buf_puts(unknown, k);
            Suggest sg;
            suggest_init(&sg, k);
            for (uint32_t i = 0; i < o->nfields; i++) suggest_try(&sg, program_str(p, p->fields[o->first_field + i].name));
            if (sg.best) buf_printf(unknown, " (did you mean %s?)", sg.best);
        }
    }
    record_finish(p, r, a);
    return 0;
}

/* ------------------------------------------------------------ packed form */

/* Little-endian fixed widths and length-prefixed text: the spill file
 * (spill.h) is read back by the process that wrote it, so the layout only
 * has to be exact, not portable. */
static void put_u32(Buf *b, uint32_t v) { buf_putn(b, (const char *)&v, sizeof v); }
static void put_i64(Buf *b, int64_t v) { buf_putn(b, (const char *)&v, sizeof v); }
static void put_text(Buf *b, const char *s, size_t n) {
    put_u32(b, s ? (uint32_t)n + 1 : 0);
    if (s) buf_putn(b, s, n);
}

void record_pack(const Program *p, const Record *r, Buf *out) {
    const PObject *o = &p->objects[r->object];
    size_t words = (p->ntags + 63) / 64, pwords = (size_t)o->nfields / 64 + 1;
    put_u32(out, r->object);
    put_i64(out, r->vm.modified);
    put_i64(out, r->created);
    put_u32(out, (uint32_t)r->deleted | (uint32_t)r->tags_known << 1 | (uint32_t)(r->vm.linked != 0) << 2);
    for (uint32_t i = 0; i < o->nfields; i++) {
        Value v = r->fields[i];
        buf_putc(out, (char)v.t);
        switch ((ValueType)v.t) {
        case VT_NULL: case VT_NONE: break;
        case VT_BOOL: buf_putc(out, (char)(v.u.b != 0)); break;
        case VT_STR: put_text(out, v.u.s, v.len); break;
        case VT_NUM: buf_putn(out, (const char *)&v.u.n, sizeof v.u.n); break;
        default: put_i64(out, v.u.i); break;
        }
    }
    buf_putn(out, (const char *)r->tags, (words ? words : 1) * sizeof *r->tags);
    buf_putn(out, (const char *)r->present, pwords * sizeof *r->present);
    put_u32(out, r->ntag_names);
    for (uint32_t i = 0; i < r->ntag_names; i++) {
        put_text(out, r->tag_names[i], strlen(r->tag_names[i]));
        put_text(out, r->tag_refs[i], r->tag_refs[i] ? strlen(r->tag_refs[i]) : 0);
    }
    put_u32(out, r->nlists);
    for (uint32_t i = 0; i < r->nlists; i++) put_text(out, r->lists[i], strlen(r->lists[i]));
    /* the id: the key field's own text (as record_finish leaves it), or its own */
    int own = !(o->key >= 0 && r->fields[o->key].t == VT_STR && r->vm.id == r->fields[o->key].u.s);
    buf_putc(out, (char)own);
    if (own) put_text(out, r->vm.id, r->vm.idlen);
}

typedef struct Unpack {
    const unsigned char *s, *end;
    int bad;
} Unpack;

static void take(Unpack *u, void *to, size_t n) {
    if (u->bad || (size_t)(u->end - u->s) < n) {
        u->bad = 1;
        memset(to, 0, n);
        return;
    }
    memcpy(to, u->s, n);
    u->s += n;
}

static uint32_t take_u32(Unpack *u) { uint32_t v; take(u, &v, sizeof v); return v; }
static int64_t take_i64(Unpack *u) { int64_t v; take(u, &v, sizeof v); return v; }

static const char *take_text(Unpack *u, Arena *a, uint32_t *len) {
    uint32_t n = take_u32(u);
    if (len) *len = n ? n - 1 : 0;
    if (!n || u->bad) return NULL;
    if ((size_t)(u->end - u->s) < n - 1) { u->bad = 1; return NULL; }
    const char *t = arena_strndup(a, (const char *)u->s, n - 1);
    u->s += n - 1;
    return t;
}

int record_unpack(const Program *p, const void *data, size_t n, Arena *a, Record *r) {
    Unpack u = {data, (const unsigned char *)data + n, 0};
    uint32_t object = take_u32(&u);
    if (u.bad || object >= p->nobjects) return -1;
    record_init(p, object, a, r);
    const PObject *o = &p->objects[object];
    size_t words = (p->ntags + 63) / 64, pwords = (size_t)o->nfields / 64 + 1;
    r->vm.modified = take_i64(&u);
    r->created = take_i64(&u);
    uint32_t flags = take_u32(&u);
    r->deleted = flags & 1;
    r->tags_known = (flags >> 1) & 1;
    r->vm.linked = (flags >> 2) & 1;
    for (uint32_t i = 0; i < o->nfields && !u.bad; i++) {
        Value v = v_null();
        take(&u, &v.t, 1);
        switch ((ValueType)v.t) {
        case VT_NULL: case VT_NONE: break;
        case VT_BOOL: { unsigned char b; take(&u, &b, 1); v.u.b = b != 0; break; }
        case VT_STR: v.u.s = take_text(&u, a, &v.len); if (!v.u.s) u.bad = 1; break;
        case VT_NUM: take(&u, &v.u.n, sizeof v.u.n); break;
        case VT_DATE: case VT_DATETIME: case VT_DURATION: v.u.i = take_i64(&u); break;
        default: u.bad = 1; break;
        }
        r->fields[i] = v;
    }
    take(&u, r->tags, (words ? words : 1) * sizeof *r->tags);
    take(&u, r->present, pwords * sizeof *r->present);
    uint32_t nt = take_u32(&u);
    if (nt > (size_t)(u.end - u.s) / 8) u.bad = 1; /* two lengths a tag at least */
    if (!u.bad && nt) {
        r->tag_names = arena_alloc(a, nt * sizeof *r->tag_names);
        r->tag_refs = arena_alloc(a, nt * sizeof *r->tag_refs);
        for (uint32_t i = 0; i < nt && !u.bad; i++) {
            r->tag_names[i] = take_text(&u, a, NULL);
            r->tag_refs[i] = take_text(&u, a, NULL);
            if (!r->tag_names[i]) u.bad = 1;
        }
        r->ntag_names = r->cap_tags = nt;
    }
    uint32_t nl = take_u32(&u);
    if (nl > (size_t)(u.end - u.s) / 4) u.bad = 1;
    if (!u.bad && nl) {
        r->lists = arena_alloc(a, nl * sizeof *r->lists);
        for (uint32_t i = 0; i < nl && !u.bad; i++)
            if (!(r->lists[i] = take_text(&u, a, NULL))) u.bad = 1;
        r->nlists = r->cap_lists = nl;
    }
    unsigned char own = 0;
    take(&u, &own, 1);
    if (own) r->vm.id = take_text(&u, a, &r->vm.idlen);
    else if (o->key >= 0 && r->fields[o->key].t == VT_STR) {
        r->vm.id = r->fields[o->key].u.s;
        r->vm.idlen = r->fields[o->key].len;
    }
    return u.bad || u.s != u.end ? -1 : 0;
}
