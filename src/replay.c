/* replay.c - a source that answers from recorded API answers and writes
 * what it would send to an outbox, so any rule file runs with no network
 * and no credentials (docs/replay.md).
 *
 * DIR/<source>/ holds the answers of the system's own API, read through
 * its codec: <Object>.json (one answer) or <Object>/NAME.json (pages, in name
 * order), <Object>.deleted.json where the API lists deletes apart
 * (Salesforce), and one file per metadata answer the codec names (tags,
 * fields, lists...).  The answers are a snapshot: a record counts as
 * changed when its change time is after the cursor, as the API's filter
 * would have it.
 *
 * OUTBOX/<source>/ receives requests.jsonl, the requests a run would have
 * sent, and effects.jsonl, what they did.  The effects are replayed over
 * the answers on every later read, so the snapshot behaves like the system
 * after tandem wrote to it: a record tandem created can be found, a field
 * it set reads back.  New records get the ids <source>-<object>-<n>.
 */
#include "connector.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jscan.h"
#include "spill.h"
#include "types.h"
#include "util.h"

/* A tag or list membership tandem put on (on) or took off a record; a
 * tag put on may carry the tagging's id (ref). */
typedef struct EffVal {
    Value v;
    uint16_t fid;
    uint8_t present;
} EffVal;

typedef struct Mark {
    const char *name, *ref;
    int on;
} Mark;

/* What tandem wrote to one record, folded over the outbox's lines: the
 * latest of each.  Fields are held decoded, as the object's program fields
 * (the effects of a big first run are read on every later one), and
 * packed (effval_put): a first run that created 20,000 contacts left
 * 12 MB of them as Value pairs and their text apart, 7 MB packed. */
typedef struct Effect Effect;
struct Effect {
    uint32_t object;       /* program object */
    const char *id;
    int64_t at;            /* the last write */
    int created, deleted;
    /* The fields written, each its latest value, in the order first
     * written: a write sets a few fields of a record's many, so they are
     * kept as pairs, not as a record (a value that did not fit reads as
     * null, not present); nvals pairs packed in vals. */
    const unsigned char *vals;
    uint32_t nvals;
    Mark *tags, *lists;
    uint32_t ntags, cap_tags, nlists, cap_lists;
    Effect *next;          /* in the order they were first written */
    uint32_t seen;         /* the scan that last met it in the answers */
};

/* An object's answers as decoded, before any effect is laid over them.
 * A replayed incremental run reads the answers for the changes, then again
 * for the partners by id and by key: decoding the pages once and keeping
 * the records makes the later reads cost a walk over them, as a query
 * costs the API a lookup.  Effects stay apart, so what tandem writes
 * during the run still shows.  Only reads that decode into a scratch
 * arena anyway fill it (a whole read decodes where it keeps), and only up
 * to Replay.hold bytes: beyond, the answers are read again each time.  The
 * records are packed (record_pack) into a temporary file, as the engine
 * spills a side, and read back in order: memory keeps a row's id. */
typedef struct HeldRow {
    uint64_t off;          /* the packed record in the spill */
    const char *id, *why;  /* the record's id; a refused row's id and reason */
    int ok;                /* a record, not a row the codec refused */
} HeldRow;

typedef struct Held {
    Arena a;               /* ids and reasons */
    Spill sp;
    Buf pack, got;
    HeldRow *rows;
    uint32_t n, cap;
    enum { HELD_NONE, HELD_FILLING, HELD_FULL, HELD_OFF } state;
} Held;

typedef struct Replay {
    Connector base;
    char *dir;             /* DIR/<source> */
    char *outbox;          /* OUTBOX/<source>, NULL for a plan */
    int64_t now;
    Arena a;               /* effects */
    Arena fa;              /* effect_fields' scratch record, reset each line */
    Symtab *effects;       /* per program object: id -> Effect */
    uint32_t neffects;
    Effect *first, *last;
    uint32_t *created;     /* per program object: records created so far */
    uint32_t taggings;     /* tags tandem put on records so far (their ids) */
    uint32_t scans;        /* scans so far: marks effects a scan met */
    Held *held;            /* per program object */
    size_t hold;           /* bytes an object's held answers may take */
} Replay;

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (!p) { fputs("tandem: out of memory\n", stderr); abort(); }
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static const char *obj_name(const Program *p, uint32_t object) { return program_str(p, p->objects[object].name); }

static Effect *effect_of(Replay *r, uint32_t object, const char *id, int make) {
    if (!make && !r->neffects) return NULL; /* asked per record read: most runs have none */
    Effect *e = symtab_get(&r->effects[object], id);
    if (!e && make) {
        e = arena_alloc(&r->a, sizeof *e);
        e->object = object;
        e->id = arena_strdup(&r->a, id);
        symtab_put(&r->effects[object], e->id, e);
        r->neffects++;
        if (r->last) r->last->next = e;
        else r->first = e;
        r->last = e;
    }
    return e;
}

static void set_mark(Arena *a, Mark **v, uint32_t *n, uint32_t *cap, const char *name, const char *ref, int on) {
    uint32_t i = 0;
    while (i < *n && strcmp((*v)[i].name, name) != 0) i++;
    if (i == *n) {
        if (*n == *cap) *v = arena_grow(a, *v, *n, cap, 2, sizeof **v);
        (*v)[(*n)++].name = arena_strdup(a, name);
    }
    (*v)[i].ref = ref ? arena_strdup(a, ref) : NULL;
    (*v)[i].on = on;
}

/* One line of effects.jsonl as scanned: its strings NUL-terminated in
 * the Bufs. */
typedef struct EffectLine {
    Buf object, id, action, name, ref;
    int has_object, has_id, has_action, has_name, has_ref, has_at, has_kind;
    double at, kind;
    uint32_t o;            /* the program object, nobjects when these rules do not use it */
    int resolved;          /* o is known */
    Effect *f;             /* the record's effect, once fields were met */
    const char *fields, *fields_end; /* fields met before object and id: read after */
} EffectLine;

/* A pair packed: field (2 bytes), present, type, then the value: text
 * as its length (4 bytes), its bytes and a NUL, so a record read back can
 * point into the pack; a number or a time in 8 bytes, a flag in 1.  The
 * pack is read by the process that wrote it: no byte order to fix. */
static size_t effval_size(const EffVal *v) {
    switch ((ValueType)v->v.t) {
    case VT_STR: return 4 + 4 + v->v.len + 1;
    case VT_BOOL: return 4 + 1;
    case VT_NULL: case VT_NONE: return 4;
    default: return 4 + 8;
    }
}

static unsigned char *effval_put(unsigned char *p, const EffVal *v) {
    memcpy(p, &v->fid, 2);
    p[2] = v->present;
    p[3] = v->v.t;
    p += 4;
    switch ((ValueType)v->v.t) {
    case VT_STR:
        memcpy(p, &v->v.len, 4);
        if (v->v.len) memcpy(p + 4, v->v.u.s, v->v.len);
        p[4 + v->v.len] = 0;
        return p + 4 + v->v.len + 1;
    case VT_BOOL: *p = (unsigned char)(v->v.u.b != 0); return p + 1;
    case VT_NULL: case VT_NONE: return p;
    case VT_NUM: memcpy(p, &v->v.u.n, 8); return p + 8;
    default: memcpy(p, &v->v.u.i, 8); return p + 8;
    }
}

/* The pair at p into *v (its text in the pack); the next pair. */
static const unsigned char *effval_get(const unsigned char *p, EffVal *v) {
    memcpy(&v->fid, p, 2);
    v->present = p[2];
    v->v = v_null();
    v->v.t = p[3];
    p += 4;
    switch ((ValueType)v->v.t) {
    case VT_STR:
        memcpy(&v->v.len, p, 4);
        v->v.u.s = (const char *)p + 4;
        return p + 4 + v->v.len + 1;
    case VT_BOOL: v->v.u.b = *p != 0; return p + 1;
    case VT_NULL: case VT_NONE: return p;
    case VT_NUM: memcpy(&v->v.u.n, p, 8); return p + 8;
    default: memcpy(&v->v.u.i, p, 8); return p + 8;
    }
}

/* Folds the values one line wrote (got, n; their text anywhere) into the
 * effect's: a line that writes a field again replaces its value.  The
 * pack is made anew to measure (most records are written once, by one
 * line). */
static void effect_merge(Replay *r, Effect *f, const EffVal *got, uint32_t n) {
    if (!n) return;
    Arena *ta = &r->fa;
    EffVal *v = arena_alloc(ta, (f->nvals + n) * sizeof *v);
    const unsigned char *q = f->vals;
    for (uint32_t i = 0; i < f->nvals; i++) q = effval_get(q, &v[i]);
    uint32_t m = f->nvals;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = 0;
        while (i < m && v[i].fid != got[k].fid) i++;
        v[i] = got[k]; /* the last write of a field wins */
        if (i == m) m++;
    }
    size_t size = 0;
    for (uint32_t i = 0; i < m; i++) size += effval_size(&v[i]);
    unsigned char *pack = arena_alloc(&r->a, size), *w = pack;
    for (uint32_t i = 0; i < m; i++) w = effval_put(w, &v[i]);
    f->vals = pack;
    f->nvals = m;
}

/* Sets the effect's fields from the fields object s is at.  Values are
 * read into a scratch record of the object (its conversions), then
 * packed into the effect. */
static int effect_fields(Replay *r, Effect *f, uint32_t o, JScan *s) {
    const Program *p = r->base.p;
    if (js_peek(s) != J_OBJECT) return js_skip(s);
    if (js_enter(s, '{') != 0) return -1;
    Arena *ta = &r->fa;
    arena_reset(ta);
    Record tmp;
    record_init(p, o, ta, &tmp);
    EffVal *got = NULL;
    uint32_t ngot = 0, capgot = 0;
    Buf scratch, text, ignore;
    buf_init(&scratch);
    buf_init(&text);
    buf_init(&ignore);
    const char *k;
    size_t kn;
    int m;
    while ((m = js_key(s, &scratch, &k, &kn)) == 0) {
        int fid = program_field_n(p, o, k, kn);
        if (fid < 0) { /* a field these rules no longer read */
            if (js_skip(s) != 0) break;
            continue;
        }
        uint64_t bit = 1ull << (fid % 64);
        tmp.present[fid / 64] &= ~bit;
        tmp.fields[fid] = v_null();
        buf_reset(&ignore);
        JType t = js_peek(s);
        const char *v;
        size_t vn;
        double d;
        if (t == J_STRING) {
            if (js_text(s, &text, &v, &vn) != 0) break;
            record_set_string(p, &tmp, ta, fid, v, vn, &ignore);
        } else if (t == J_NUMBER) {
            if (js_number(s, &d) != 0) break;
            record_set_number(p, &tmp, ta, fid, d, &ignore);
        } else if (t == J_NULL) {
            JType lit;
            if (js_literal(s, &lit) != 0) break;
            record_set_null(&tmp, fid);
        } else {
            /* flags, lists: cJSON's reading and conversions */
            v = s->p;
            if (js_skip(s) != 0) break;
            cJSON *j = cJSON_ParseWithLength(v, (size_t)(s->p - v));
            record_set_field(p, &tmp, ta, fid, j, &ignore);
            cJSON_Delete(j);
        }
        if (ngot == capgot) got = arena_grow(ta, got, ngot, &capgot, 16, sizeof *got);
        got[ngot].v = tmp.fields[fid];
        got[ngot].fid = (uint16_t)fid;
        got[ngot++].present = (tmp.present[fid / 64] & bit) != 0;
    }
    effect_merge(r, f, got, ngot);
    buf_free(&scratch);
    buf_free(&text);
    buf_free(&ignore);
    return m == 1 ? 0 : -1;
}

/* The object the line names, among this source's system's: Dynamics and
 * ActiveCampaign both have a "contact". */
static void resolve(Replay *r, EffectLine *l) {
    const Program *p = r->base.p;
    uint32_t o = 0;
    while (o < p->nobjects && (strcmp(obj_name(p, o), buf_str(&l->object)) != 0 ||
                               strcmp(program_str(p, p->objects[o].system), r->base.system) != 0))
        o++;
    l->o = o;
    l->resolved = 1;
}

/* Takes the line; fields are set as they are met once the object and id
 * are known (the order tandem writes), else afterwards.  -2 when the
 * scanner refuses the text (the caller asks cJSON, which reads a little
 * more; setting a field twice is harmless). */
static int scan_effect(Replay *r, const char *text, size_t n, EffectLine *l) {
    JScan s;
    js_init(&s, text, n);
    Buf scratch;
    buf_init(&scratch);
    static const char *const keys[] = {"object", "id", "action", "name", "ref", "at", "kind", "fields"};
    Buf *str[] = {&l->object, &l->id, &l->action, &l->name, &l->ref};
    int *has[] = {&l->has_object, &l->has_id, &l->has_action, &l->has_name, &l->has_ref, &l->has_at, &l->has_kind};
    unsigned seen = 0; /* a key given twice counts once, the first, as cJSON finds it */
    int rc = js_enter(&s, '{') == 0 ? 0 : -2;
    const char *key;
    size_t kn;
    while (rc == 0) {
        int m = js_key(&s, &scratch, &key, &kn);
        if (m == 1) break;
        if (m < 0) { rc = -2; break; }
        int k = 0;
        while (k < 8 && (strlen(keys[k]) != kn || memcmp(keys[k], key, kn) != 0)) k++;
        JType t = js_peek(&s);
        if (k == 8 || (seen >> k & 1)) {
            if (js_skip(&s) != 0) rc = -2;
            continue;
        }
        seen |= 1u << k;
        if (k < 5 && t == J_STRING) {
            *has[k] = 1;
            if (js_string(&s, str[k]) != 0) rc = -2;
        } else if ((k == 5 || k == 6) && t == J_NUMBER) {
            *has[k] = 1;
            if (js_number(&s, k == 5 ? &l->at : &l->kind) != 0) rc = -2;
        } else if (k == 7 && l->has_object && l->has_id) {
            if (!l->resolved) resolve(r, l);
            if (l->o < r->base.p->nobjects) {
                l->f = effect_of(r, l->o, buf_str(&l->id), 1);
                if (effect_fields(r, l->f, l->o, &s) != 0) rc = -2;
            } else if (js_skip(&s) != 0) {
                rc = -2;
            }
        } else if (k == 7) {
            l->fields = s.p;
            if (js_skip(&s) != 0) rc = -2;
            l->fields_end = s.p;
        } else if (js_skip(&s) != 0) {
            rc = -2;
        }
    }
    if (rc == 0 && js_peek(&s) != J_END) rc = -2;
    buf_free(&scratch);
    return rc;
}

/* Folds one line of effects.jsonl into the table: 0, -1 with the reason
 * in err, -2 when the scanner refuses the text. */
static int load_effect(Replay *r, const char *text, size_t n, Buf *err) {
    const Program *p = r->base.p;
    EffectLine l;
    memset(&l, 0, sizeof l);
    buf_init(&l.object);
    buf_init(&l.id);
    buf_init(&l.action);
    buf_init(&l.name);
    buf_init(&l.ref);
    int rc = scan_effect(r, text, n, &l);
    const char *a = buf_str(&l.action);
    if (rc != 0) {
        /* refused */
    } else if (!l.has_id || !l.has_action || !l.has_at || (!l.has_object && strcmp(a, "meta") != 0)) {
        buf_puts(err, "an effect needs object, id, action and at");
        rc = -1;
    } else if (!(fabs(l.at) < 1e15)) {
        /* milliseconds since 1970: past year 33,658 no time tandem
         * wrote, and past int64_t no number a cast may take */
        buf_puts(err, "'at' is no time");
        rc = -1;
    } else if (!strcmp(a, "meta")) {
        /* the range before the cast: a double past int's is undefined */
        if (l.has_kind && l.kind >= 0 && l.kind < META__COUNT && l.has_name)
            meta_put(&r->base.meta, (MetaKind)(int)l.kind, buf_str(&l.id), buf_str(&l.name), NULL);
    } else {
        if (!l.resolved) resolve(r, &l);
        if (l.o < p->nobjects) { /* else an object these rules no longer use */
            uint32_t o = l.o;
            Effect *f = l.f ? l.f : effect_of(r, o, buf_str(&l.id), 1);
            f->at = (int64_t)l.at;
            if (!strcmp(a, "create")) {
                f->created = 1;
                f->deleted = 0;
                r->created[o]++;
            }
            if (!strcmp(a, "delete")) f->deleted = 1;
            if (l.fields) {
                JScan s;
                js_init(&s, l.fields, (size_t)(l.fields_end - l.fields));
                effect_fields(r, f, o, &s);
            }
            if (l.has_name) {
                const char *nm = buf_str(&l.name);
                if (!strcmp(a, "tag") && l.has_ref) {
                    /* the tagging's own id, as ActiveCampaign gives one */
                    set_mark(&r->a, &f->tags, &f->ntags, &f->cap_tags, nm, buf_str(&l.ref), 1);
                    r->taggings++;
                } else if (!strcmp(a, "tag") || !strcmp(a, "untag")) {
                    set_mark(&r->a, &f->tags, &f->ntags, &f->cap_tags, nm, NULL, a[0] == 't');
                }
                if (!strcmp(a, "list add") || !strcmp(a, "list remove") || !strcmp(a, "create"))
                    set_mark(&r->a, &f->lists, &f->nlists, &f->cap_lists, nm, NULL, strcmp(a, "list remove") != 0);
            }
        }
    }
    buf_free(&l.object);
    buf_free(&l.id);
    buf_free(&l.action);
    buf_free(&l.name);
    buf_free(&l.ref);
    return rc;
}

/* A line the scanner refuses but cJSON reads (control bytes in strings)
 * is folded as cJSON prints it back. */
static int load_effect_line(Replay *r, const char *text, size_t n, Buf *err) {
    int rc = load_effect(r, text, n, err);
    if (rc != -2) return rc;
    cJSON *e = cJSON_ParseWithLength(text, n);
    char *again = cJSON_IsObject(e) ? cJSON_PrintUnformatted(e) : NULL;
    rc = again ? load_effect(r, again, strlen(again), err) : -2;
    if (rc == -2) buf_puts(err, e ? "an effect is a JSON object" : "not JSON");
    free(again);
    cJSON_Delete(e);
    return rc;
}

/* Whether the last line of an outbox file, left without its newline, was
 * written whole: one cut short mid-write (a full disk, a kill) does not
 * parse.  Reading, it is passed over, none of it applied (the scanner
 * applies a line's fields as it meets them); append_lines cuts it off
 * before it writes. */
static int whole_line(const char *text, size_t n) {
    cJSON *j = cJSON_ParseWithLength(text, n);
    cJSON_Delete(j);
    return j != NULL;
}

static int load_effects(Replay *r, Buf *err) {
    if (!r->outbox) return 0;
    char *path = path_join(r->outbox, "effects.jsonl");
    size_t n;
    char *text = read_regular(path, &n);
    if (!text) {
        int missing = errno == ENOENT;
        if (!missing) buf_printf(err, "%s: %s", path, file_error(errno));
        free(path);
        return missing ? 0 : -1;
    }
    int rc = 0, line = 1;
    for (char *s = text; *s && rc == 0; line++) {
        char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (!nl && !whole_line(s, len)) break;
        if (len) {
            Buf why;
            buf_init(&why);
            if (load_effect_line(r, s, len, &why) != 0) {
                buf_printf(err, "%s:%d: %s", path, line, buf_str(&why));
                rc = -1;
            }
            buf_free(&why);
        }
        if (!nl) break;
        s = nl + 1;
    }
    free(text);
    free(path);
    return rc;
}

/* Applies what tandem wrote over a record read from the answers. */
static void overlay(Replay *r, Record *rec, const Effect *e) {
    const Program *p = r->base.p;
    Arena *a = r->base.cx.a;
    /* An answer recorded after tandem's last write already shows the
     * record as it is, writes and later edits together; only what it
     * leaves out (fields it did not select, tags it did not sideload)
     * still reads as tandem wrote it. */
    int newer = rec->vm.modified != INT64_MIN && rec->vm.modified > e->at;
    const PObject *o = &p->objects[e->object];
    const unsigned char *q = e->vals;
    for (uint32_t i = 0; i < e->nvals; i++) {
        EffVal ev;
        q = effval_get(q, &ev);
        uint32_t f = ev.fid;
        uint64_t bit = 1ull << (f % 64);
        if (newer && (rec->present[f / 64] & bit)) continue;
        /* its text stays in the pack, in the effects' arena, which
         * outlives the run */
        rec->fields[f] = ev.v;
        if (ev.present) rec->present[f / 64] |= bit;
    }
    if (newer && rec->tags_known) {
        record_finish(p, rec, a);
        return;
    }
    /* The write is a change, unless the answer shows a later one. */
    if (o->modified >= 0 && !newer) {
        uint8_t t = p->fields[o->first_field + (uint32_t)o->modified].type;
        rec->fields[o->modified] = t == TY_DATE ? v_int(VT_DATE, e->at / 86400000LL) : v_int(VT_DATETIME, e->at);
    }
    if (e->created && o->created >= 0 && rec->fields[o->created].t == VT_NULL) rec->fields[o->created] = v_int(VT_DATETIME, e->at);
    if (e->created && o->key >= 0) rec->fields[o->key] = v_str(e->id, strlen(e->id));
    for (uint32_t k = 0; k < e->ntags; k++) {
        const Mark *m = &e->tags[k];
        if (m->on) record_add_tag(rec, a, m->name, m->ref);
        else
            for (uint32_t i = 0; i < rec->ntag_names; i++)
                if (!strcmp(rec->tag_names[i], m->name)) {
                    rec->ntag_names--;
                    memmove(&rec->tag_names[i], &rec->tag_names[i + 1], (rec->ntag_names - i) * sizeof *rec->tag_names);
                    memmove(&rec->tag_refs[i], &rec->tag_refs[i + 1], (rec->ntag_names - i) * sizeof *rec->tag_refs);
                    break;
                }
    }
    for (uint32_t k = 0; k < e->nlists; k++) {
        const Mark *m = &e->lists[k];
        if (m->on) record_add_list(rec, a, m->name);
        else
            for (uint32_t i = 0; i < rec->nlists; i++)
                if (!strcmp(rec->lists[i], m->name)) {
                    rec->nlists--;
                    memmove(&rec->lists[i], &rec->lists[i + 1], (rec->nlists - i) * sizeof *rec->lists);
                    break;
                }
    }
    record_finish(p, rec, a);
    if (e->deleted && !newer) rec->deleted = 1;
}

/* ------------------------------------------------------------ reading */

typedef struct Scan {
    Replay *r;
    uint32_t object;
    int (*want)(struct Scan *sc, const Record *rec);   /* NULL: every record */
    int64_t since;
    RecordSink *out;
    int64_t newest;
    uint32_t gen;          /* this scan's number (Effect.seen) */
    Arena *dst;            /* where delivered records are copied: the caller's batch */
    Arena own;             /* what the scan keeps across pages (the caller may drop dst's: page_end) */
    Symtab deleted;        /* id -> Deleted, from <Object>.deleted.json */
    int changes;           /* reading changes: only those up to the run's time */
    int later;             /* records left out for being dated after it */
    int direct;            /* records are decoded into dst: nearly all pass */
    uint32_t rows;         /* rows the codec reported, read or refused */
    Held *fill;            /* the held answers this scan records, or NULL */
    Arena *tmp;            /* a record's working copies: reset by the page (or record) */
    Symtab ids;            /* get: the ids asked for */
    int field;
    ConnectorKeyFn key;
    void *kctx;
    Buf kb;
} Scan;

typedef struct Deleted {
    int64_t when;
    int seen;              /* the answers hold the record */
} Deleted;

/* How deliver() keeps a record that passes: a copy in the caller's arena
 * (unless the read decodes there), or as it is, built in the caller's
 * arena. */
enum Keep { KEEP_COPY, KEEP_AS_IS };

/* Records are decoded in a page's scratch arena; only those that pass
 * are copied out, so memory does not grow with the records a read skips. */
static void deliver(Scan *sc, Record *rec, enum Keep how) {
    if (sc->since != INT64_MIN && rec->vm.modified != INT64_MIN && rec->vm.modified <= sc->since) return;
    /* Changes are read as of the run's time: one the answers date later
     * has not happened yet (so a run --at an earlier time sees the past). */
    if (sc->changes && rec->vm.modified != INT64_MIN && rec->vm.modified > sc->r->now) {
        sc->later++;
        return;
    }
    if (sc->want && !sc->want(sc, rec)) return;
    if (rec->vm.modified != INT64_MIN && rec->vm.modified > sc->newest) sc->newest = rec->vm.modified;
    Record *keep = rec;
    if (how == KEEP_COPY && !sc->direct) {
        keep = record_copy(sc->r->base.p, rec, sc->dst);
    }
    sc->out->record(sc->out->ctx, keep);
    /* the copy is all the scan put in dst: the caller may drop it at once
     * (decoded in place, the page's other records are there too) */
    if (!sc->direct && sc->out->page_end) sc->out->page_end(sc->out->ctx);
}

/* Keeps a row of the answers (a record, or a refused row's id and
 * reason); past the source's budget, or where the spill fails, none of
 * them: the answers are then read again each time. */
static void hold(Scan *sc, const Record *rec, const char *id, const char *why) {
    Held *h = sc->fill;
    if (h->sp.size + h->a.total > sc->r->hold) {
        h->state = HELD_OFF;
        sc->fill = NULL;
        return;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 1024;
        h->rows = realloc(h->rows, h->cap * sizeof *h->rows);
        if (!h->rows) abort();
    }
    HeldRow *row = &h->rows[h->n];
    memset(row, 0, sizeof *row);
    if (rec) {
        buf_reset(&h->pack);
        record_pack(sc->r->base.p, rec, &h->pack);
        if (spill_put(&h->sp, h->pack.p, (uint32_t)h->pack.n, &row->off) != 0) {
            h->state = HELD_OFF;
            sc->fill = NULL;
            return;
        }
        row->ok = 1;
        id = rec->vm.id;
    }
    row->id = id ? arena_strdup(&h->a, id) : NULL;
    row->why = why ? arena_strdup(&h->a, why) : NULL;
    h->n++;
}

/* A record of the answers (decoded, or read back from the held ones),
 * laid under its effects and deletes. */
static void take(Scan *sc, Record *rec) {
    if (rec->vm.id) {
        Effect *e = effect_of(sc->r, sc->object, rec->vm.id, 0);
        if (e) {
            overlay(sc->r, rec, e);
            e->seen = sc->gen;
        }
        /* listed as deleted apart: it is, as of then */
        Deleted *d = symtab_get(&sc->deleted, rec->vm.id);
        if (d) {
            d->seen = 1;
            rec->deleted = 1;
            if (d->when != INT64_MIN && (rec->vm.modified == INT64_MIN || rec->vm.modified < d->when)) rec->vm.modified = d->when;
        }
    }
    deliver(sc, rec, KEEP_COPY);
}

static void on_record(void *ctx, Record *rec) {
    Scan *sc = ctx;
    sc->rows++;
    if (sc->fill) hold(sc, rec, NULL, NULL);
    take(sc, rec);
}

static void on_bad(void *ctx, const char *id, const char *reason) {
    Scan *sc = ctx;
    sc->rows++;
    if (sc->fill) hold(sc, NULL, id, reason);
    sc->out->bad(sc->out->ctx, id, reason);
}

/* A record the API lists as deleted: kept until the answers are read. */
static void on_deleted(void *ctx, const char *id, int64_t when) {
    Scan *sc = ctx;
    if (!id || symtab_get(&sc->deleted, id)) return;
    Deleted *d = arena_alloc(&sc->own, sizeof *d);
    d->when = when;
    symtab_put(&sc->deleted, arena_strdup(&sc->own, id), d);
}

/* Deleted records the answers no longer hold: only their id and when. */
static void deliver_deleted(Scan *sc, Arena *a) {
    const Program *p = sc->r->base.p;
    const PObject *o = &p->objects[sc->object];
    for (int i = 0; i < sc->deleted.n; i++) {
        const char *id = sc->deleted.order[i].key;
        Deleted *d = sc->deleted.order[i].val;
        if (d->seen) continue;
        d->seen = 1;
        Record rec;
        record_init(p, sc->object, a, &rec);
        if (o->key >= 0) rec.fields[o->key] = v_str(id, strlen(id));
        record_finish(p, &rec, a);
        rec.deleted = 1;
        if (d->when != INT64_MIN) rec.vm.modified = d->when;
        Effect *e = effect_of(sc->r, sc->object, id, 0);
        if (e) e->seen = sc->gen;
        deliver(sc, &rec, KEEP_COPY);
    }
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Whether path is there (anything, symlinks followed: what it is, its
 * reading says): 1, 0 when it is not, -1 with err when that cannot be
 * told (a symlink loop is no missing file). */
static int exists(const char *path, Buf *err) {
    struct stat sb;
    if (stat(path, &sb) == 0) return 1;
    if (errno == ENOENT) return 0;
    buf_printf(err, "%s: %s", path, strerror(errno));
    return -1;
}

/* The answer files of an object: <Object>.json, else the .json files in
 * <Object>/; none when neither is there.  -1 with err when it cannot be
 * told. */
static int answer_files(Replay *r, const char *object, char ***files, int *n, Buf *err) {
    *files = NULL;
    *n = 0;
    char *one = path_join(r->dir, object);
    size_t len = strlen(one);
    char *json = malloc(len + 6);
    if (!json) abort();
    snprintf(json, len + 6, "%s.json", one);
    int have = exists(json, err);
    if (have != 0) {
        if (have > 0) {
            *files = malloc(sizeof **files);
            if (!*files) abort();
            (*files)[0] = json;
            *n = 1;
        } else {
            free(json);
        }
        free(one);
        return have > 0 ? 0 : -1;
    }
    free(json);
    DIR *d = opendir(one);
    if (!d) {
        int missing = errno == ENOENT;
        if (!missing) buf_printf(err, "%s: %s", one, strerror(errno));
        free(one);
        return missing ? 0 : -1; /* no answers: no records of that object */
    }
    struct dirent *de;
    int cap = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            char **v = realloc(*files, (size_t)cap * sizeof *v);
            if (!v) abort();
            *files = v;
        }
        (*files)[(*n)++] = path_join(one, de->d_name);
    }
    closedir(d);
    free(one);
    qsort(*files, (size_t)*n, sizeof **files, name_cmp);
    return 0;
}

static cJSON *read_json(const char *path, Buf *err) {
    size_t n;
    char *text = read_regular(path, &n);
    if (!text) {
        buf_printf(err, "%s: %s", path, file_error(errno));
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!j) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        int line = 1;
        for (size_t i = 0; i < at && i < n; i++) if (text[i] == '\n') line++;
        buf_printf(err, "%s:%d: not valid JSON", path, line);
    }
    free(text);
    return j;
}

/* Deletes the API lists apart (Salesforce getDeleted), read first so the
 * answers' records can be marked. */
static int read_deleted(Scan *sc, const char *oname, Buf *err) {
    Replay *r = sc->r;
    if (!r->base.codec->decode_deleted) return 0;
    Buf name;
    buf_init(&name);
    buf_printf(&name, "%s.deleted.json", oname);
    char *path = path_join(r->dir, buf_str(&name));
    buf_free(&name);
    int rc = exists(path, err);
    if (rc > 0) {
        rc = 0;
        cJSON *j = read_json(path, err);
        if (!j) rc = -1;
        else {
            Buf why;
            buf_init(&why);
            if (r->base.codec->decode_deleted(&r->base.cx, sc->object, j, sc, on_deleted, &why) != 0) {
                buf_printf(err, "%s: %s", path, buf_str(&why));
                rc = -1;
            }
            buf_free(&why);
            cJSON_Delete(j);
        }
    }
    free(path);
    return rc;
}

/* The answer files of the object, page by page.  Each page is decoded in
 * an arena reset in between: a record that passes is copied out by
 * deliver(), the rest is dropped with the page. */
static int read_pages(Scan *sc, Buf *err) {
    Replay *r = sc->r;
    char **files;
    int nf;
    int rc = answer_files(r, obj_name(r->base.p, sc->object), &files, &nf, err);
    RecordSink mid = {sc, on_record, on_bad, NULL};
    Arena page;
    arena_init(&page);
    /* a read of everything keeps nearly every record: a scanner, which
     * puts little else in the arena (refused records; what only the page
     * needs goes to the source's scratch arena), decodes them where they
     * are kept */
    int direct = sc->since == INT64_MIN && !sc->want && r->base.codec->scan_page;
    for (int i = 0; i < nf && rc == 0; i++) {
        Buf next, why;
        buf_init(&next);
        buf_init(&why);
        arena_reset(&page);
        sc->tmp = &page;
        sc->direct = direct;
        r->base.cx.a = sc->direct ? sc->dst : &page;
        if (r->base.codec->scan_page) {
            size_t n = 0;
            uint32_t before = sc->rows;
            const char *text = map_file(files[i], &n);
            if (!text) {
                buf_printf(err, "%s: %s", files[i], file_error(errno));
                rc = -1;
            } else if (r->base.codec->scan_page(&r->base.cx, sc->object, text, n, &mid, &next, &why) != 0) {
                /* cJSON reads a little more than JSON (control bytes in
                 * strings, 01): a page it reads whose scan gave nothing yet
                 * is decoded from its tree.  Else the run stops, and cJSON's
                 * reading of the file says where, by line. */
                Buf cerr;
                buf_init(&cerr);
                cJSON *j = read_json(files[i], &cerr);
                if (j && sc->rows == before) {
                    buf_reset(&why);
                    buf_reset(&next);
                    sc->direct = 0;
                    r->base.cx.a = &page;
                    if (r->base.codec->decode_page(&r->base.cx, sc->object, j, &mid, &next, &why) != 0) {
                        buf_printf(err, "%s: %s", files[i], buf_str(&why));
                        rc = -1;
                    }
                } else {
                    if (j) buf_printf(err, "%s: %s", files[i], buf_str(&why));
                    else buf_puts(err, buf_str(&cerr));
                    rc = -1;
                }
                buf_free(&cerr);
                cJSON_Delete(j);
            }
            if (text) unmap_file(text, n);
        } else {
            cJSON *j = read_json(files[i], err);
            if (!j) rc = -1;
            else if (r->base.codec->decode_page(&r->base.cx, sc->object, j, &mid, &next, &why) != 0) {
                buf_printf(err, "%s: %s", files[i], buf_str(&why));
                rc = -1;
            }
            cJSON_Delete(j);
        }
        r->base.cx.a = sc->dst;
        if (rc == 0 && sc->direct && sc->out->page_end) sc->out->page_end(sc->out->ctx);
        sc->direct = 0;
        buf_free(&next);
        buf_free(&why);
    }
    arena_free(&page);
    for (int i = 0; i < nf; i++) free(files[i]);
    free(files);
    return rc;
}

static int want_id(Scan *sc, const Record *rec);

/* The held answers, as read_pages would give them: 0, or -1 with err
 * when the spill cannot be read back. */
static int read_held(Scan *sc, Held *h, Buf *err) {
    Replay *r = sc->r;
    Arena one;
    arena_init(&one);
    r->base.cx.a = &one;
    sc->tmp = &one;
    spill_ahead(&h->sp, 1);
    int rc = 0;
    for (uint32_t i = 0; i < h->n && rc == 0; i++) {
        const HeldRow *row = &h->rows[i];
        if (!row->ok) {
            on_bad(sc, row->id, row->why);
            continue;
        }
        /* a get passes over the rest by id, which no effect changes; what
         * on_record would mark met, it marks */
        const char *id = row->id;
        if (sc->want == want_id && (!id || !symtab_get(&sc->ids, id))) {
            sc->rows++;
            if (!id) continue;
            Effect *e = effect_of(r, sc->object, id, 0);
            if (e) e->seen = sc->gen;
            Deleted *d = symtab_get(&sc->deleted, id);
            if (d) d->seen = 1;
            continue;
        }
        arena_reset(&one);
        Record rec;
        if (spill_get(&h->sp, row->off, &h->got) != 0) {
            buf_puts(err, spill_error(&h->sp));
            rc = -1;
        } else if (record_unpack(r->base.p, h->got.p, h->got.n, &one, &rec) != 0) {
            buf_puts(err, "the temporary record file: a held record does not read back");
            rc = -1;
        } else {
            sc->rows++;
            take(sc, &rec);
        }
    }
    spill_ahead(&h->sp, 0);
    r->base.cx.a = sc->dst;
    arena_free(&one);
    return rc;
}

/* Every record of the object: the answers, deletes listed apart, then
 * records only tandem made. */
static int scan(Scan *sc, Buf *err) {
    Replay *r = sc->r;
    const Program *p = r->base.p;
    const char *oname = obj_name(p, sc->object);
    sc->dst = r->base.cx.a;
    sc->gen = ++r->scans;
    arena_init(&sc->own);
    symtab_init(&sc->deleted, &sc->own);
    if (read_deleted(sc, oname, err) != 0) {
        arena_free(&sc->own);
        return -1;
    }
    Held *h = &r->held[sc->object];
    int rc = 0;
    if (h->state == HELD_FULL) {
        rc = read_held(sc, h, err);
    } else {
        /* a read that decodes into the page's arena anyway keeps a copy */
        if (h->state == HELD_NONE && (sc->since != INT64_MIN || sc->want || !r->base.codec->scan_page)) {
            arena_init(&h->a);
            spill_open(&h->sp);
            buf_init(&h->pack);
            buf_init(&h->got);
            h->state = HELD_FILLING;
            sc->fill = h;
        }
        rc = read_pages(sc, err);
        if (h->state == HELD_FILLING) h->state = rc == 0 ? HELD_FULL : HELD_OFF;
        sc->fill = NULL;
    }
    if (rc != 0) {
        arena_free(&sc->own);
        return -1;
    }
    Arena rest;
    arena_init(&rest);
    r->base.cx.a = &rest;
    deliver_deleted(sc, &rest);
    /* Records tandem created that the answers do not hold (yet).  Those a
     * read would drop are passed over before they are built: a get's
     * other ids, and changes older than the cursor (such a record's
     * change time is its effect's). */
    const PObject *o = &p->objects[sc->object];
    for (Effect *e = r->first; e; e = e->next) {
        if (e->object != sc->object || !e->created || e->seen == sc->gen) continue;
        if (sc->want == want_id && !symtab_get(&sc->ids, e->id)) continue;
        if (sc->since != INT64_MIN && o->modified >= 0 && e->at <= sc->since) continue;
        if (sc->want) {
            /* built to be asked and copied if wanted: one at a time (a
             * first run's 20,000 creates took 6.5 MB at once) */
            arena_reset(&rest);
            Record rec;
            record_init(p, sc->object, &rest, &rec);
            overlay(r, &rec, e);
            deliver(sc, &rec, KEEP_COPY);
            continue;
        }
        /* a read of changes or of everything keeps each one it builds
         * (the others are passed over above): built where it is kept */
        r->base.cx.a = sc->dst;
        Record *rec = arena_alloc(sc->dst, sizeof *rec);
        record_init(p, sc->object, sc->dst, rec);
        overlay(r, rec, e);
        r->base.cx.a = &rest;
        deliver(sc, rec, KEEP_AS_IS);
    }
    r->base.cx.a = sc->dst;
    arena_free(&rest);
    arena_free(&sc->own);
    return 0;
}

static int replay_changed(Connector *s, uint32_t object, ChangeCursor *cur, RecordSink *sink, Buf *err) {
    int64_t since = cur->since, *newest = &cur->newest;
    Scan sc;
    memset(&sc, 0, sizeof sc);
    sc.r = (Replay *)s;
    sc.object = object;
    sc.since = since;
    sc.out = sink;
    sc.newest = since;
    sc.changes = 1;
    int rc = scan(&sc, err);
    if (newest) *newest = sc.newest;
    /* get and find see the records dated after the run too */
    cur->whole = rc == 0 && since == INT64_MIN && !sc.later;
    return rc;
}

/* A scan for the records whose want() matches one of values: ids (get),
 * keys (find) or tags (tagged). */
static void lookup_init(Scan *sc, Connector *s, uint32_t object, RecordSink *sink, int (*want)(Scan *, const Record *),
                        const char *const *values, uint32_t n) {
    memset(sc, 0, sizeof *sc);
    sc->r = (Replay *)s;
    sc->object = object;
    sc->since = INT64_MIN;
    sc->out = sink;
    sc->want = want;
    symtab_init(&sc->ids, s->cx.a);
    for (uint32_t i = 0; i < n; i++) symtab_put(&sc->ids, values[i], (void *)1);
}

static int want_id(Scan *sc, const Record *rec) { return rec->vm.id && symtab_get(&sc->ids, rec->vm.id) != NULL; }

static int replay_get(Connector *s, uint32_t object, const char *const *ids, uint32_t n, RecordSink *sink, Buf *err) {
    Scan sc;
    lookup_init(&sc, s, object, sink, want_id, ids, n);
    return scan(&sc, err);
}

static int want_value(Scan *sc, const Record *rec) {
    buf_reset(&sc->kb);
    if (sc->key) {
        if (sc->key(sc->kctx, rec, &sc->kb) != 0) return 0;
    } else {
        if (sc->field < 0 || (uint32_t)sc->field >= rec->vm.nf || value_blank(rec->fields[sc->field])) return 0;
        value_format(rec->fields[sc->field], &sc->kb);
    }
    return symtab_get(&sc->ids, buf_str(&sc->kb)) != NULL;
}

static int replay_find(Connector *s, uint32_t object, int field, const char *const *values, uint32_t n, ConnectorKeyFn key,
                       void *kctx, RecordSink *sink, Buf *err) {
    Scan sc;
    lookup_init(&sc, s, object, sink, want_value, values, n);
    sc.field = field;
    sc.key = key;
    sc.kctx = kctx;
    buf_init(&sc.kb);
    int rc = scan(&sc, err);
    buf_free(&sc.kb);
    return rc;
}

/* ------------------------------------------------------------ writing */

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Where the next line of an outbox file starts: at its end, after the
 * newline a last line written whole but without one still needs (*sep);
 * or where a last line cut short mid-write starts, cut off here (the
 * reader passes over it: whole_line).  -1 with errno. */
static int line_end(int fd, off_t size, off_t *at, int *sep) {
    *at = size;
    *sep = 0;
    char c;
    if (size == 0) return 0;
    if (pread(fd, &c, 1, size - 1) != 1) return -1;
    if (c == '\n') return 0;
    off_t start = size;
    char b[4096];
    while (start > 0) {
        size_t n = start < (off_t)sizeof b ? (size_t)start : sizeof b;
        if (pread(fd, b, n, start - (off_t)n) != (ssize_t)n) return -1;
        size_t k = n;
        while (k > 0 && b[k - 1] != '\n') k--;
        start -= (off_t)(n - k);
        if (k > 0) break;
    }
    size_t len = (size_t)(size - start);
    char *tail = malloc(len);
    if (!tail) abort();
    int got = pread(fd, tail, len, start) == (ssize_t)len;
    *sep = got && whole_line(tail, len);
    free(tail);
    if (!got) return -1;
    if (*sep) return 0;
    if (ftruncate(fd, start) != 0) return -1;
    *at = start;
    return 0;
}

/* Appends lines (each ending in a newline) to an outbox file, all or
 * nothing: a write that fails part-way (a full disk) is cut back off, so
 * the file keeps whole lines for the next run. */
static int append_lines(const char *dir, const char *file, const char *lines, size_t n, Buf *err) {
    char *path = path_join(dir, file);
    /* read and write (line_end reads the last line), without blocking: a
     * FIFO opens at once (for writing alone it would wait for a reader),
     * to be refused */
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC, 0666);
    struct stat sb;
    int ok = fd >= 0 && fstat(fd, &sb) == 0;
    if (ok && !S_ISREG(sb.st_mode)) {
        errno = EINVAL;
        ok = 0;
    }
    off_t at = 0;
    int sep = 0;
    if (ok) ok = line_end(fd, sb.st_size, &at, &sep) == 0;
    if (ok && ((sep && write_all(fd, "\n", 1) != 0) || write_all(fd, lines, n) != 0)) {
        int e = errno;
        if (ftruncate(fd, at) != 0) buf_printf(err, "%s: could not cut back a part-written line: %s; ", path, strerror(errno));
        errno = e;
        ok = 0;
    }
    if (!ok) buf_printf(err, "%s: %s", path, file_error(errno));
    if (fd >= 0 && close(fd) != 0 && ok) {
        buf_printf(err, "%s: %s", path, strerror(errno));
        ok = 0;
    }
    free(path);
    return ok ? 0 : -1;
}

static void json_field(const Program *pr, const Change *c, const FieldSet *f, cJSON *fields) {
    const PObject *o = &pr->objects[c->object];
    const char *name = program_str(pr, pr->fields[o->first_field + f->field].name);
    Buf v;
    buf_init(&v);
    value_json(f->after, &v);
    cJSON *j = cJSON_Parse(buf_str(&v));
    buf_free(&v);
    if (j) cJSON_AddItemToObject(fields, name, j);
}

/* The requests a change would send, as JSON lines: what a connector
 * would put on the wire. */
static void request_lines(Replay *r, const RequestList *rl, Buf *out) {
    for (uint32_t i = 0; i < rl->n; i++) {
        const Request *q = &rl->v[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "at", (double)r->now);
        cJSON_AddStringToObject(o, "method", q->method);
        cJSON_AddStringToObject(o, "path", q->path);
        if (q->headers) {
            cJSON *h = cJSON_AddArrayToObject(o, "headers");
            const char *s = q->headers;
            while (*s) {
                const char *e = strchr(s, '\n');
                size_t n = e ? (size_t)(e - s) : strlen(s);
                if (n) {
                    char *line = strndup(s, n);
                    if (line) cJSON_AddItemToArray(h, cJSON_CreateString(line));
                    free(line);
                }
                s += n + (e ? 1 : 0);
            }
        }
        cJSON *body = q->body ? cJSON_Parse(q->body) : NULL;
        if (body) cJSON_AddItemToObject(o, "body", body);
        else if (q->body) cJSON_AddStringToObject(o, "body", q->body);
        char *line = cJSON_PrintUnformatted(o);
        if (line) {
            buf_puts(out, line);
            buf_putc(out, '\n');
        }
        free(line);
        cJSON_Delete(o);
    }
}

/* cx->ensure: a tag, list, automation or custom field the system lacks is
 * made up here, as the system would make it, and remembered. */
typedef struct Ensure {
    Replay *r;
    Buf *requests;         /* what creating it would send */
    Buf *effects;
    int failed;
} Ensure;

static const char *replay_ensure(void *ctx, MetaKind kind, const char *name) {
    static const char *const kinds[] = {"field", "dealfield", "tag", "list", "automation"};
    Ensure *en = ctx;
    Replay *r = en->r;
    Connector *s = &r->base;
    const MetaEntry *have = meta_by_name(&s->meta, kind, name);
    if (have) return have->id;
    if (kind == META_AUTOMATION) return NULL; /* automations are built in the system's editor, never by tandem */
    uint32_t n = 1;
    for (int i = 0; i < s->meta.by_id[kind].n; i++) n++;
    Buf id;
    buf_init(&id);
    buf_printf(&id, "%s-%s-%u", s->name, kinds[kind], n);
    meta_put(&s->meta, kind, buf_str(&id), name, NULL);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "at", (double)r->now);
    cJSON_AddStringToObject(e, "action", "meta");
    cJSON_AddNumberToObject(e, "kind", kind);
    cJSON_AddStringToObject(e, "id", buf_str(&id));
    cJSON_AddStringToObject(e, "name", name);
    char *line = cJSON_PrintUnformatted(e);
    if (line) {
        buf_printf(en->effects, "%s\n", line);
        cJSON *q = cJSON_CreateObject();
        cJSON_AddNumberToObject(q, "at", (double)r->now);
        cJSON_AddStringToObject(q, "create", kinds[kind]);
        cJSON_AddStringToObject(q, "name", name);
        cJSON_AddStringToObject(q, "id", buf_str(&id));
        char *ql = cJSON_PrintUnformatted(q);
        if (ql) buf_printf(en->requests, "%s\n", ql);
        free(ql);
        cJSON_Delete(q);
    }
    free(line);
    cJSON_Delete(e);
    buf_free(&id);
    have = meta_by_name(&s->meta, kind, name);
    return have ? have->id : NULL;
}

const char *connector_target(const Plan *pl, const uint32_t *idx, const ApplyResult *res, uint32_t i,
                             const char **why) {
    const Change *c = &pl->changes[idx[i]];
    if (c->created < 0) return c->id;
    for (uint32_t k = 0; k < i; k++)
        if (idx[k] == (uint32_t)c->created) {
            if (res[k].id) return res[k].id;
            /* asynchronous creates (GetResponse) answer no id */
            *why = res[k].ok ? "the new record's id is known only on the next sync (the system creates it later)"
                             : "the record it belongs to was not created";
            return NULL;
        }
    *why = "the record it belongs to was not created";
    return NULL;
}

static int replay_apply(Connector *s, const Plan *pl, const uint32_t *idx, uint32_t n, ApplyResult *res, Buf *err) {
    Replay *r = (Replay *)s;
    const Program *p = s->p;
    if (!r->outbox) {
        buf_puts(err, "a plan applies nothing");
        return -1;
    }
    if (make_dirs(r->outbox, err) != 0) return -1;
    Arena a;
    arena_init(&a);
    Buf requests, effects;
    buf_init(&requests);
    buf_init(&effects);
    Ensure en = {r, &requests, &effects, 0};
    CodecCtx cx = s->cx;
    cx.a = &a;
    cx.ensure = replay_ensure;
    cx.ensure_ctx = &en;
    for (uint32_t i = 0; i < n; i++) {
        const Change *c = &pl->changes[idx[i]];
        ApplyResult *out = &res[i];
        memset(out, 0, sizeof *out);
        const char *id = connector_target(pl, idx, res, i, &out->error);
        if (c->created >= 0 && !id) continue;
        RequestList rl = {NULL, 0, 0};
        Buf why;
        buf_init(&why);
        if (s->codec->encode(&cx, c, c->kind == CH_CREATE ? NULL : id, &rl, &why) != 0) {
            /* the system could not take it: refused, as it would be */
            out->error = arena_strdup(&r->a, buf_str(&why));
            buf_free(&why);
            continue;
        }
        buf_free(&why);
        request_lines(r, &rl, &requests);
        if (c->kind == CH_CREATE) {
            Buf b;
            buf_init(&b);
            /* load_effect below counts it */
            buf_printf(&b, "%s-%s-%u", s->name, obj_name(p, c->object), r->created[c->object] + 1);
            id = arena_strdup(&r->a, buf_str(&b));
            buf_free(&b);
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "at", (double)r->now);
        cJSON_AddStringToObject(e, "action", plan_action_name((ChangeKind)c->kind));
        cJSON_AddStringToObject(e, "object", obj_name(p, c->object));
        cJSON_AddStringToObject(e, "id", id);
        if (c->nsets) {
            cJSON *fields = cJSON_AddObjectToObject(e, "fields");
            for (uint32_t k = 0; k < c->nsets; k++) json_field(p, c, &c->sets[k], fields);
        }
        if (c->name) cJSON_AddStringToObject(e, "name", c->name);
        if (c->kind == CH_TAG) {
            Buf ref;
            buf_init(&ref);
            buf_printf(&ref, "%s-tagging-%u", s->name, r->taggings + 1);
            cJSON_AddStringToObject(e, "ref", buf_str(&ref));
            buf_free(&ref);
        }
        char *line = cJSON_PrintUnformatted(e);
        if (line) buf_printf(&effects, "%s\n", line);
        Buf ignore;
        buf_init(&ignore);
        if (line) load_effect_line(r, line, strlen(line), &ignore);
        buf_free(&ignore);
        free(line);
        cJSON_Delete(e);
        out->ok = 1;
        /* the record is there for the next read all the same */
        out->id = c->kind == CH_CREATE && s->codec->creates_later ? NULL : id;
        /* Read again, the record shows the write's time as its change
         * time (overlay): to the millisecond where the object's change
         * time is a date-time; a date would also cover later edits. */
        const PObject *po = &p->objects[c->object];
        if (c->kind != CH_DELETE && po->modified >= 0 &&
            p->fields[po->first_field + (uint32_t)po->modified].type == TY_DATETIME)
            out->modified = r->now;
    }
    /* Requests first: an effect is only ever recorded for a request sent. */
    int rc = 0;
    if (requests.n) rc = append_lines(r->outbox, "requests.jsonl", requests.p, requests.n, err);
    if (rc == 0 && effects.n) rc = append_lines(r->outbox, "effects.jsonl", effects.p, effects.n, err);
    buf_free(&requests);
    buf_free(&effects);
    arena_free(&a);
    return rc;
}

static void replay_close(Connector *s) {
    Replay *r = (Replay *)s;
    free(r->dir);
    free(r->outbox);
    free(r->created);
    for (uint32_t i = 0; r->held && i < s->p->nobjects; i++) {
        Held *h = &r->held[i];
        if (h->state != HELD_NONE) {
            spill_close(&h->sp);
            buf_free(&h->pack);
            buf_free(&h->got);
        }
        arena_free(&h->a);
        free(h->rows);
    }
    free(r->held);
    free(r->effects);
    arena_free(&r->a);
    arena_free(&r->fa);
    arena_free(&s->meta_arena);
    arena_free(&s->scratch_arena);
    free(r);
}

static int want_tag(Scan *sc, const Record *rec) {
    for (uint32_t i = 0; i < rec->ntag_names; i++)
        if (symtab_get(&sc->ids, rec->tag_names[i])) return 1;
    return 0;
}

static int replay_tagged(Connector *s, uint32_t object, const char *const *tags, uint32_t n, RecordSink *sink, Buf *err) {
    Scan sc;
    lookup_init(&sc, s, object, sink, want_tag, tags, n);
    return scan(&sc, err);
}

static const ConnectorOps replay_ops = {replay_changed, replay_get, replay_find, replay_tagged, replay_apply, replay_close};

Connector *replay_open(const Program *p, const char *name, const char *system, const char *dir, const char *outbox,
                       int64_t now, size_t hold, Buf *err) {
    const Codec *codec = codec_for(system);
    if (!codec) {
        buf_printf(err, "source '%s': tandem has no codec for %s", name, system);
        return NULL;
    }
    Replay *r = calloc(1, sizeof *r);
    if (!r) abort();
    Connector *s = &r->base;
    s->ops = &replay_ops;
    s->name = name;
    s->system = system;
    s->codec = codec;
    s->p = p;
    arena_init(&s->meta_arena);
    meta_init(&s->meta, &s->meta_arena);
    s->cx.p = p;
    s->cx.meta = &s->meta;
    s->cx.a = &s->meta_arena;
    arena_init(&s->scratch_arena);
    s->cx.scratch = &s->scratch_arena;
    /* B34: lead assignment rules, as the source asks */
    const PSetting *as = program_setting(p, program_source(p, name), "assignment_rules");
    s->cx.assign_leads = as && as->kind == SET_VALUE && p->consts[as->value].t == VT_BOOL && p->consts[as->value].u.b;
    arena_init(&r->a);
    arena_init(&r->fa);
    r->effects = calloc(p->nobjects + 1, sizeof *r->effects);
    if (!r->effects) abort();
    for (uint32_t i = 0; i < p->nobjects; i++) symtab_init(&r->effects[i], &r->a);
    r->now = now;
    r->hold = hold;
    r->dir = path_join(dir, name);
    r->outbox = outbox ? path_join(outbox, name) : NULL;
    r->created = calloc(p->nobjects + 1, sizeof *r->created);
    r->held = calloc(p->nobjects + 1, sizeof *r->held);
    if (!r->created || !r->held) abort();
    struct stat sb;
    if (stat(r->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        buf_printf(err, "replay: no directory %s for source '%s'", r->dir, name);
        replay_close(s);
        return NULL;
    }
    int rc = 0;
    for (const char *const *m = codec->meta; *m && rc == 0; m++) {
        Buf file;
        buf_init(&file);
        buf_printf(&file, "%s.json", *m);
        char *path = path_join(r->dir, buf_str(&file));
        buf_free(&file);
        rc = exists(path, err);
        if (rc > 0) {
            rc = 0;
            cJSON *j = read_json(path, err);
            Buf why;
            buf_init(&why);
            if (!j) rc = -1;
            else if (codec->decode_meta(&s->cx, *m, j, &why) != 0) {
                buf_printf(err, "%s: %s", path, buf_str(&why));
                rc = -1;
            }
            buf_free(&why);
            cJSON_Delete(j);
        }
        free(path);
    }
    if (rc == 0) rc = load_effects(r, err);
    if (rc != 0) {
        replay_close(s);
        return NULL;
    }
    return s;
}

int replay_open_all(const Program *p, const char *dir, const char *outbox, int64_t now, size_t hold, Connector ***out,
                    uint32_t *n, Buf *err) {
    *out = calloc(2 * p->nsyncs + 1, sizeof **out);
    *n = 0;
    if (!*out) abort();
    for (uint32_t si = 0; si < p->nsyncs; si++)
        for (int k = 0; k < 2; k++) {
            const PSide *sd = &p->syncs[si].side[k];
            const char *name = program_str(p, sd->source);
            int have = 0;
            for (uint32_t i = 0; i < *n; i++) if (!strcmp((*out)[i]->name, name)) have = 1;
            if (have) continue;
            Connector *s = replay_open(p, name, program_str(p, p->objects[sd->object].system), dir, outbox, now, hold, err);
            if (!s) {
                connectors_close(*out, *n);
                *out = NULL;
                *n = 0;
                return -1;
            }
            (*out)[(*n)++] = s;
        }
    return 0;
}

void connectors_close(Connector **v, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) v[i]->ops->close(v[i]);
    free(v);
}
