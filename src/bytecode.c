/* bytecode.c - programs in memory and in .tbc files.
 *
 * The file format (docs/vm.md): an 8-byte magic, a format version, the
 * total size and an FNV-1a checksum of the rest, then the tables in a fixed
 * order, each as a count and fixed-size little-endian entries.  The loader
 * checks sizes as it reads and then every cross-reference and instruction
 * operand, so a truncated, corrupted or hand-made file is refused with a
 * message instead of reaching the VM.
 */
#include "bytecode.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "types.h"
#include "util.h"

const OpInfo opinfo[OP__COUNT] = {
#define OP(name, disp, ops, syn, doc) {disp, ops, syn, doc},
#include "opcodes.def"
#undef OP
};

const char *const entry_names[EP__COUNT] = {
#define E(k, s) s,
    TD_ENTRIES(E)
#undef E
};

Program *program_new(void) {
    Program *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    arena_init(&p->arena);
    return p;
}

void program_free(Program *p) {
    if (!p) return;
    arena_free(&p->arena);
    free(p);
}

const char *program_str(const Program *p, uint32_t id) { return id < p->pool_len ? p->pool + id : ""; }

/* ---------------------------------------------------------------- hashing */

static uint32_t value_hash(Value v) {
    switch (v.t) {
    case VT_STR: return hash_str(v.u.s, v.len);
    case VT_NUM: {
        double d = v.u.n == 0 ? 0 : v.u.n; /* -0 hashes like 0 */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return (uint32_t)(bits ^ bits >> 32) * 2654435761u;
    }
    case VT_BOOL: return (uint32_t)v.u.b + 7;
    case VT_DATE: case VT_DATETIME: {
        int64_t ms = v.t == VT_DATE ? v.u.i * 86400000LL : v.u.i;
        return (uint32_t)((uint64_t)ms ^ (uint64_t)ms >> 32) * 2654435761u;
    }
    default: return 0;
    }
}

/* Item i of a hash: the constant it is keyed by. */
static uint32_t item_key(const Program *p, const PHash *h, uint32_t i, int pairs) {
    return p->u32[h->first + (pairs ? 2 * i : i)];
}

static void index_one(Program *p, PHash *h, int pairs) {
    uint32_t ns = 8;
    while (ns < h->n * 2 + 1) ns *= 2;
    h->slots = arena_alloc(&p->arena, ns * sizeof *h->slots);
    h->nslots = ns;
    for (uint32_t i = 0; i < h->n; i++) {
        Value k = p->consts[item_key(p, h, i, pairs)];
        uint32_t s = value_hash(k) & (ns - 1);
        while (h->slots[s]) s = (s + 1) & (ns - 1);
        h->slots[s] = i + 1;
    }
}

static uint32_t field_hash(uint32_t object, const char *name, size_t n) {
    return hash_str(name, n) ^ (object * 0x9E3779B1u);
}

/* Every record read looks its keys up by name, so fields are hashed. */
static void index_fields(Program *p) {
    uint32_t ns = 16;
    while (ns < 2 * p->nfields + 2) ns *= 2;
    p->field_slots = arena_alloc(&p->arena, ns * sizeof *p->field_slots);
    memset(p->field_slots, 0, ns * sizeof *p->field_slots);
    p->nfield_slots = ns;
    for (uint32_t o = 0; o < p->nobjects; o++)
        for (uint32_t i = 0; i < p->objects[o].nfields; i++) {
            uint32_t f = p->objects[o].first_field + i;
            const char *name = program_str(p, p->fields[f].name);
            uint32_t s = field_hash(o, name, strlen(name)) & (ns - 1);
            while (p->field_slots[s]) s = (s + 1) & (ns - 1);
            p->field_slots[s] = f + 1;
        }
}

int program_field_n(const Program *p, uint32_t object, const char *name, size_t n) {
    if (!p->nfield_slots || object >= p->nobjects) return -1;
    const PObject *o = &p->objects[object];
    uint32_t s = field_hash(object, name, n) & (p->nfield_slots - 1);
    while (p->field_slots[s]) {
        uint32_t f = p->field_slots[s] - 1;
        const char *fn = program_str(p, p->fields[f].name);
        /* name need not end at n (a slice of a page) and may hold a NUL:
         * compared by length, never read past fn's end */
        if (f >= o->first_field && f < o->first_field + o->nfields && strnlen(fn, n + 1) == n && !memcmp(fn, name, n))
            return (int)(f - o->first_field);
        s = (s + 1) & (p->nfield_slots - 1);
    }
    return -1;
}

void program_index(Program *p) {
    index_fields(p);
    for (uint32_t i = 0; i < p->nsets; i++) index_one(p, &p->sets[i], 0);
    for (uint32_t i = 0; i < p->nvmaps; i++) index_one(p, &p->vmaps[i], 1);
}

static int lookup(const Program *p, const PHash *h, Value v, int pairs) {
    if (value_blank(v) || !h->nslots) return -1;
    uint32_t s = value_hash(v) & (h->nslots - 1);
    while (h->slots[s]) {
        uint32_t i = h->slots[s] - 1;
        if (value_equal(p->consts[item_key(p, h, i, pairs)], v)) return (int)i;
        s = (s + 1) & (h->nslots - 1);
    }
    return -1;
}

const PSource *program_source(const Program *p, const char *name) {
    for (uint32_t i = 0; i < p->nsources; i++)
        if (!strcmp(program_str(p, p->sources[i].name), name)) return &p->sources[i];
    return NULL;
}

const PSetting *program_setting(const Program *p, const PSource *s, const char *name) {
    if (!s) return NULL;
    for (uint32_t i = 0; i < s->nsettings; i++)
        if (!strcmp(program_str(p, p->settings[s->first_setting + i].name), name)) return &p->settings[s->first_setting + i];
    return NULL;
}

int program_in_set(const Program *p, uint32_t set, Value v) { return lookup(p, &p->sets[set], v, 0) >= 0; }

Value program_vmap(const Program *p, uint32_t map, Value v) {
    const PHash *h = &p->vmaps[map];
    int i = lookup(p, h, v, 1);
    if (i >= 0) return p->consts[p->u32[h->first + 2 * (uint32_t)i + 1]];
    if (value_blank(v)) return v_null();
    if (h->els) return p->consts[h->els - 1];
    Value none = v_null();
    none.t = VT_NONE;
    return none;
}

/* ------------------------------------------------------------- writing */

static const unsigned char magic[8] = {'T', 'N', 'D', 'M', 'B', 'C', '\r', '\n'};
/* 4: field("X") map keys named whole; 5: a map's flow may say it is a
 * join merged with the maps that split it back (MAP_SPLIT_*); 6: a field
 * keeps its size (text(80)), for the run's fit check */
enum { FORMAT_VERSION = 6, HEADER_SIZE = 20 };

static void w8(Buf *b, unsigned v) { buf_putc(b, (char)(v & 0xFF)); }
static void w16(Buf *b, unsigned v) { w8(b, v); w8(b, v >> 8); }
static void w32(Buf *b, uint32_t v) { w16(b, v & 0xFFFF); w16(b, v >> 16); }
static void w64(Buf *b, uint64_t v) { w32(b, (uint32_t)v); w32(b, (uint32_t)(v >> 32)); }

static uint32_t fnv(const unsigned char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
    return h;
}

void program_save(const Program *p, Buf *out) {
    Buf b;
    buf_init(&b);
    w32(&b, p->pool_len);
    buf_putn(&b, p->pool, p->pool_len);
    w32(&b, p->nconsts);
    for (uint32_t i = 0; i < p->nconsts; i++) {
        Value v = p->consts[i];
        w8(&b, v.t);
        switch (v.t) {
        case VT_BOOL: w8(&b, (unsigned)v.u.b); break;
        case VT_NUM: { uint64_t bits; memcpy(&bits, &v.u.n, 8); w64(&b, bits); break; }
        case VT_STR: w32(&b, (uint32_t)(v.u.s - p->pool)); w32(&b, v.len); break;
        case VT_DATE: case VT_DATETIME: case VT_DURATION: w64(&b, (uint64_t)v.u.i); break;
        default: break;
        }
    }
    w32(&b, p->nfields);
    for (uint32_t i = 0; i < p->nfields; i++) {
        const PField *f = &p->fields[i];
        w32(&b, f->name); w8(&b, f->type); w8(&b, f->flags); w32(&b, f->deflt); w32(&b, f->size);
    }
    w32(&b, p->nobjects);
    for (uint32_t i = 0; i < p->nobjects; i++) {
        const PObject *o = &p->objects[i];
        w32(&b, o->system); w32(&b, o->name); w32(&b, o->first_field); w32(&b, o->nfields);
        w32(&b, (uint32_t)o->key); w32(&b, (uint32_t)o->created); w32(&b, (uint32_t)o->modified);
        w32(&b, (uint32_t)o->deleted); w32(&b, (uint32_t)o->list_field); w32(&b, (uint32_t)o->converts_to);
        w32(&b, (uint32_t)o->converted_by); w8(&b, o->by_other); w8(&b, o->caps);
    }
    w32(&b, p->nmaps);
    for (uint32_t i = 0; i < p->nmaps; i++) {
        const PMap *m = &p->maps[i];
        w16(&b, m->field[0]); w16(&b, m->field[1]); w8(&b, m->flow); w8(&b, m->policy[0]); w8(&b, m->policy[1]);
        w8(&b, m->is_default); w8(&b, m->account); w32(&b, m->line); w32(&b, m->file); w32(&b, m->key);
    }
    w32(&b, p->ntags);
    for (uint32_t i = 0; i < p->ntags; i++) w32(&b, p->tags[i]);
    w32(&b, p->nskips);
    for (uint32_t i = 0; i < p->nskips; i++) { w32(&b, p->skips[i].text); w32(&b, p->skips[i].line); w32(&b, p->skips[i].file); }
    w32(&b, p->nconvs);
    for (uint32_t i = 0; i < p->nconvs; i++) {
        const PConv *c = &p->convs[i];
        w8(&b, c->kind); w8(&b, (unsigned)(uint8_t)c->decimals);
        w32(&b, c->thousands); w32(&b, c->decimal); w32(&b, c->prefix); w32(&b, c->suffix);
    }
    w32(&b, p->nsets);
    for (uint32_t i = 0; i < p->nsets; i++) { w32(&b, p->sets[i].first); w32(&b, p->sets[i].n); w32(&b, p->sets[i].els); }
    w32(&b, p->nvmaps);
    for (uint32_t i = 0; i < p->nvmaps; i++) { w32(&b, p->vmaps[i].first); w32(&b, p->vmaps[i].n); w32(&b, p->vmaps[i].els); }
    w32(&b, p->nu32);
    for (uint32_t i = 0; i < p->nu32; i++) w32(&b, p->u32[i]);
    w32(&b, p->nsources);
    for (uint32_t i = 0; i < p->nsources; i++) {
        const PSource *s = &p->sources[i];
        w32(&b, s->name); w32(&b, s->system); w32(&b, s->first_setting); w32(&b, s->nsettings);
    }
    w32(&b, p->nsettings);
    for (uint32_t i = 0; i < p->nsettings; i++) { w32(&b, p->settings[i].name); w8(&b, p->settings[i].kind); w32(&b, p->settings[i].value); }
    w32(&b, p->nfiles);
    for (uint32_t i = 0; i < p->nfiles; i++) w32(&b, p->filenames[i]);
    w32(&b, p->ncode);
    for (uint32_t i = 0; i < p->ncode; i++) {
        const Instr *in = &p->code[i];
        w8(&b, in->op); w8(&b, in->n); w16(&b, in->a); w16(&b, in->b); w16(&b, in->c);
    }
    for (uint32_t i = 0; i < p->ncode; i++) { w32(&b, p->lines[i]); w32(&b, p->files[i]); }
    w32(&b, p->nsyncs);
    for (uint32_t i = 0; i < p->nsyncs; i++) {
        const PSync *s = &p->syncs[i];
        w32(&b, s->name);
        for (int k = 0; k < 2; k++) {
            const PSide *d = &s->side[k];
            w32(&b, d->source); w32(&b, d->object); w32(&b, d->create_as); w32(&b, d->list);
            w8(&b, d->never_create); w32(&b, (uint32_t)d->account);
        }
        w8(&b, s->flow); w8(&b, (unsigned)(uint8_t)s->prefer); w8(&b, s->paused); w8(&b, (unsigned)(uint8_t)s->initial);
        w8(&b, s->sched_kind); w32(&b, s->sched_value);
        for (int e = 0; e < EP__COUNT; e++) w32(&b, s->entry[e]);
        w32(&b, s->code_start); w32(&b, s->code_end); w32(&b, s->first_map); w32(&b, s->nmaps);
        w32(&b, s->nregs); w32(&b, s->first_after); w32(&b, s->nafter);
        for (int k = 0; k < 2; k++) { w32(&b, (uint32_t)s->match_field[k]); w32(&b, (uint32_t)s->account_ref[k]); }
        for (int k = 0; k < 2; k++) w32(&b, (uint32_t)s->track_status[k]);
        for (int k = 0; k < 2; k++) w32(&b, (uint32_t)s->track_last[k]);
        w32(&b, s->line); w32(&b, s->file);
    }
    w8(&b, p->sched_kind); w32(&b, p->sched_value); w8(&b, p->paused); w8(&b, p->initial);

    buf_putn(out, (const char *)magic, 8);
    w32(out, FORMAT_VERSION);
    w32(out, (uint32_t)(b.n + HEADER_SIZE));
    w32(out, fnv((const unsigned char *)buf_str(&b), b.n));
    buf_putn(out, buf_str(&b), b.n);
    buf_free(&b);
}

/* ------------------------------------------------------------- reading */

typedef struct Rd {
    const unsigned char *p;
    size_t n, at;
    const char *section;   /* for messages */
    int bad;
    Buf *err;
} Rd;

static int need(Rd *r, size_t k) {
    if (r->bad) return 0;
    if (r->n - r->at < k) {
        buf_printf(r->err, "truncated program: %s ends at byte %zu of %zu", r->section, r->n, r->at + k);
        r->bad = 1;
        return 0;
    }
    return 1;
}
static uint32_t r8(Rd *r) { if (!need(r, 1)) return 0; return r->p[r->at++]; }
static uint32_t r16(Rd *r) { uint32_t a = r8(r); return a | r8(r) << 8; }
static uint32_t r32(Rd *r) { uint32_t a = r16(r); return a | r16(r) << 16; }
static uint64_t r64(Rd *r) { uint64_t a = r32(r); return a | (uint64_t)r32(r) << 32; }

/* A count, refusing counts the remaining bytes could not hold. */
static uint32_t rcount(Rd *r, const char *section, size_t entry_size) {
    r->section = section;
    uint32_t n = r32(r);
    if (r->bad) return 0; /* a count cut short is no count */
    if (entry_size && (size_t)n > (r->n - r->at) / entry_size) {
        buf_printf(r->err, "corrupted program: %s claims %u entries, more than the file holds", section, n);
        r->bad = 1;
        return 0;
    }
    return n;
}

static void *ralloc(Program *p, size_t n, size_t size) { return n ? arena_alloc(&p->arena, n * size) : NULL; }

static int fail(Buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(Buf *err, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    buf_printf(err, "invalid program: %s", tmp);
    return -1;
}

static int str_ok(const Program *p, uint32_t id) { return id < p->pool_len; }
static int ostr_ok(const Program *p, uint32_t id1) { return id1 == 0 || id1 - 1 < p->pool_len; }

/* Largest field count among the objects a side of a sync may address. */
static uint32_t side_fields(const Program *p, const PSync *s, int k) {
    uint32_t m = p->objects[s->side[k].object].nfields;
    uint32_t c = p->objects[s->side[k].create_as].nfields;
    if (c > m) m = c;
    if (s->side[k].account >= 0 && p->objects[s->side[k].account].nfields > m) m = p->objects[s->side[k].account].nfields;
    return m;
}

static int check_operand(const Program *p, const PSync *s, uint32_t si, uint32_t pc, char kind, uint32_t v,
                         uint32_t side, Buf *err) {
    switch (kind) {
    case 'r': if (v >= s->nregs) return fail(err, "instruction %u uses register %u of %u", pc, v, s->nregs); break;
    case 's': if (v > 1) return fail(err, "instruction %u names side %u", pc, v); break;
    case 'f': if (side > 1 || v >= side_fields(p, s, (int)side)) return fail(err, "instruction %u names field %u out of range", pc, v); break;
    case 'k': if (v >= p->nconsts) return fail(err, "instruction %u names constant %u of %u", pc, v, p->nconsts); break;
    case 't': if (v >= p->ntags) return fail(err, "instruction %u names tag %u of %u", pc, v, p->ntags); break;
    case 'l': if (!str_ok(p, v)) return fail(err, "instruction %u names a string out of range", pc); break;
    case 'e': if (v >= p->nsets) return fail(err, "instruction %u names set %u of %u", pc, v, p->nsets); break;
    case 'c': if (v >= FN__COUNT) return fail(err, "instruction %u calls function %u", pc, v); break;
    case 'v': if (v >= p->nconvs) return fail(err, "instruction %u names conversion %u of %u", pc, v, p->nconvs); break;
    case 'y': if (v >= p->nvmaps) return fail(err, "instruction %u names value map %u of %u", pc, v, p->nvmaps); break;
    case 'm': if (v >= s->nmaps) return fail(err, "instruction %u names map %u of %u", pc, v, s->nmaps); break;
    case 'q': if (v >= p->nsyncs) return fail(err, "instruction %u names sync %u of %u", pc, v, p->nsyncs); break;
    case 'x': if (v >= p->nskips) return fail(err, "instruction %u names skip rule %u of %u", pc, v, p->nskips); break;
    default: break;
    }
    (void)si;
    return 0;
}

/* Every cross-reference and operand is in range. */
static int validate(const Program *p, Buf *err) {
    if (p->pool_len && p->pool[p->pool_len - 1] != 0) return fail(err, "the string pool is not terminated");
    for (uint32_t i = 0; i < p->nconsts; i++) {
        Value v = p->consts[i];
        if (v.t > VT_DURATION) return fail(err, "constant %u has type %u", i, v.t);
        if (v.t == VT_STR && ((uint64_t)(v.u.s - p->pool) + v.len >= p->pool_len))
            return fail(err, "constant %u points past the string pool", i);
    }
    for (uint32_t i = 0; i < p->nfields; i++) {
        const PField *f = &p->fields[i];
        if (!str_ok(p, f->name) || f->type >= TY__COUNT || (f->deflt && f->deflt - 1 >= p->nconsts))
            return fail(err, "field %u is malformed", i);
    }
    for (uint32_t i = 0; i < p->nobjects; i++) {
        const PObject *o = &p->objects[i];
        if (!str_ok(p, o->system) || !str_ok(p, o->name)) return fail(err, "object %u has a bad name", i);
        if ((uint64_t)o->first_field + o->nfields > p->nfields || o->nfields >= NO_FIELD)
            return fail(err, "object %u has fields out of range", i);
        int32_t ids[] = {o->key, o->created, o->modified, o->deleted, o->list_field};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
            if (ids[k] < -1 || ids[k] >= (int32_t)o->nfields) return fail(err, "object %u names a field out of range", i);
        if (o->converts_to < -1 || o->converts_to >= (int32_t)p->nobjects) return fail(err, "object %u converts to nothing", i);
        if (o->converted_by < -1) return fail(err, "object %u: bad conversion field", i);
        if (o->converted_by >= 0) {
            uint32_t lim = o->by_other && o->converts_to >= 0 ? p->objects[o->converts_to].nfields : o->nfields;
            if ((uint32_t)o->converted_by >= lim) return fail(err, "object %u: conversion field out of range", i);
        }
    }
    for (uint32_t i = 0; i < p->ntags; i++) if (!str_ok(p, p->tags[i])) return fail(err, "tag %u has a bad name", i);
    for (uint32_t i = 0; i < p->nskips; i++)
        if (!str_ok(p, p->skips[i].text) || p->skips[i].file >= p->nfiles) return fail(err, "skip rule %u is malformed", i);
    for (uint32_t i = 0; i < p->nconvs; i++) {
        const PConv *c = &p->convs[i];
        if (c->kind >= CV__COUNT || !ostr_ok(p, c->thousands) || !ostr_ok(p, c->decimal) || !ostr_ok(p, c->prefix) ||
            !ostr_ok(p, c->suffix) || c->decimals < -1 || c->decimals > 12)
            return fail(err, "conversion %u is malformed", i);
    }
    for (int pass = 0; pass < 2; pass++) {
        uint32_t n = pass ? p->nvmaps : p->nsets;
        const PHash *hs = pass ? p->vmaps : p->sets;
        for (uint32_t i = 0; i < n; i++) {
            const PHash *h = &hs[i];
            uint64_t items = (uint64_t)h->n * (pass ? 2 : 1);
            if ((uint64_t)h->first + items > p->nu32) return fail(err, "%s %u is out of range", pass ? "value map" : "set", i);
            for (uint64_t k = 0; k < items; k++)
                if (p->u32[h->first + k] >= p->nconsts) return fail(err, "%s %u names a bad constant", pass ? "value map" : "set", i);
            if (h->els && h->els - 1 >= p->nconsts) return fail(err, "value map %u has a bad else", i);
        }
    }
    for (uint32_t i = 0; i < p->nfiles; i++) if (!str_ok(p, p->filenames[i])) return fail(err, "file %u has a bad name", i);
    for (uint32_t i = 0; i < p->ncode; i++) if (p->files[i] >= p->nfiles) return fail(err, "instruction %u has a bad file", i);
    for (uint32_t i = 0; i < p->nsources; i++) {
        const PSource *s = &p->sources[i];
        if (!str_ok(p, s->name) || !str_ok(p, s->system) || (uint64_t)s->first_setting + s->nsettings > p->nsettings)
            return fail(err, "source %u is malformed", i);
    }
    for (uint32_t i = 0; i < p->nsettings; i++) {
        const PSetting *s = &p->settings[i];
        if (!str_ok(p, s->name) || s->kind > SET_SECRET || (s->kind == SET_VALUE ? s->value >= p->nconsts : !str_ok(p, s->value)))
            return fail(err, "setting %u is malformed", i);
    }
    /* Syncs own contiguous, ordered ranges of code that cover all of it. */
    uint32_t next = 0;
    for (uint32_t si = 0; si < p->nsyncs; si++) {
        const PSync *s = &p->syncs[si];
        if (!str_ok(p, s->name) || s->file >= p->nfiles) return fail(err, "sync %u has a bad name or file", si);
        if (s->nregs > 65536) return fail(err, "sync %u asks for %u registers", si, s->nregs);
        for (int k = 0; k < 2; k++) {
            const PSide *d = &s->side[k];
            if (!str_ok(p, d->source) || d->object >= p->nobjects || d->create_as >= p->nobjects || !ostr_ok(p, d->list) ||
                d->account < -1 || d->account >= (int32_t)p->nobjects)
                return fail(err, "sync %u has a malformed side", si);
        }
        if (s->code_start != next || s->code_end < s->code_start || s->code_end > p->ncode)
            return fail(err, "sync %u has a code range out of order", si);
        next = s->code_end;
        if ((uint64_t)s->first_map + s->nmaps > p->nmaps) return fail(err, "sync %u has maps out of range", si);
        if ((uint64_t)s->first_after + s->nafter > p->nu32) return fail(err, "sync %u has 'after' out of range", si);
        for (uint32_t k = 0; k < s->nafter; k++)
            if (p->u32[s->first_after + k] >= p->nsyncs) return fail(err, "sync %u waits for a sync out of range", si);
        if (s->flow < 1 || s->flow > 3 || s->prefer < -1 || s->prefer > 2 || s->sched_kind > SCHED_OFF)
            return fail(err, "sync %u has bad settings", si);
        for (int e = 0; e < EP__COUNT; e++)
            if (s->entry[e] != NO_ENTRY && (s->entry[e] < s->code_start || s->entry[e] >= s->code_end))
                return fail(err, "sync %u: entry '%s' is outside its code", si, entry_names[e]);
        for (uint32_t k = 0; k < s->nmaps; k++) {
            const PMap *m = &p->maps[s->first_map + k];
            if (m->flow > 15 || (m->flow > 3 && (m->flow & 3) != 3) || (m->flow & 12) == 12 || m->policy[0] > 3 || m->policy[1] > 3 || m->file >= p->nfiles || !str_ok(p, m->key))
                return fail(err, "map %u is malformed", k);
            for (int t = 0; t < 2; t++)
                if (m->field[t] != NO_FIELD && m->field[t] >= side_fields(p, s, t)) return fail(err, "map %u writes a field out of range", k);
        }
        for (int k = 0; k < 2; k++) {
            if (s->match_field[k] < -1 || (s->match_field[k] >= 0 && (uint32_t)s->match_field[k] >= side_fields(p, s, k)))
                return fail(err, "sync %u matches on a field out of range", si);
            if (s->account_ref[k] < -1 || (s->account_ref[k] >= 0 && (uint32_t)s->account_ref[k] >= side_fields(p, s, k)))
                return fail(err, "sync %u names an account field out of range", si);
        }
        int32_t tr[2][2] = {{s->track_status[0], s->track_status[1]}, {s->track_last[0], s->track_last[1]}};
        for (int k = 0; k < 2; k++)
            if (tr[k][0] < -1 || tr[k][0] > 1 || (tr[k][0] >= 0 && (tr[k][1] < 0 || (uint32_t)tr[k][1] >= side_fields(p, s, tr[k][0]))))
                return fail(err, "sync %u tracks a field out of range", si);
        for (uint32_t pc = s->code_start; pc < s->code_end; pc++) {
            const Instr *in = &p->code[pc];
            if (in->op >= OP__COUNT) return fail(err, "instruction %u has opcode %u", pc, in->op);
            const char *ops = opinfo[in->op].operands;
            uint32_t vals[3] = {in->a, in->b, in->c};
            if (ops[1] == 'j') {
                /* Jumps go forward: every run ends (the compiler never jumps back). */
                uint32_t target = (uint32_t)in->b | (uint32_t)in->c << 16;
                if (target < s->code_start || target >= s->code_end) return fail(err, "instruction %u jumps out of its sync", pc);
                if (target <= pc) return fail(err, "instruction %u jumps backwards", pc);
            }
            for (int k = 0; k < 3; k++) {
                if (ops[k] == 'j' || ops[k] == '_' || ops[k] == 'b') continue;
                /* a field operand belongs to the side named just before it */
                uint32_t side = k > 0 && ops[k - 1] == 's' ? vals[k - 1] : ops[0] == 's' ? vals[0] : 2;
                if (check_operand(p, s, si, pc, ops[k], vals[k], side, err)) return -1;
            }
            if (in->op == OP_CALL) {
                const Builtin *b = &builtins[in->b];
                if (in->n < b->min || in->n > b->max || (uint32_t)in->c + in->n > s->nregs)
                    return fail(err, "instruction %u calls %s with %u arguments", pc, b->name, in->n);
            }
            if (in->op == OP_MERGE && (uint32_t)in->a + 6 > s->nregs) return fail(err, "instruction %u merges past the registers", pc);
            if ((in->op == OP_VIA || in->op == OP_PUT) && in->n > 1) return fail(err, "instruction %u has n = %u", pc, in->n);
            if (in->op == OP_LOADBOOL && in->b > 1) return fail(err, "instruction %u loads %u as a boolean", pc, in->b);
        }
        /* Execution can never run past the sync's code: its last
         * instruction returns or jumps back. */
        if (s->code_end > s->code_start) {
            uint8_t last = p->code[s->code_end - 1].op;
            if (last != OP_RET && last != OP_HALT && last != OP_JMP)
                return fail(err, "sync %u's code does not end with a return", si);
        }
    }
    if (next != p->ncode) return fail(err, "code after the last sync");
    if (p->sched_kind > SCHED_OFF) return fail(err, "bad schedule");
    return 0;
}

Program *program_load(const unsigned char *data, size_t n, Buf *err) {
    if (n < HEADER_SIZE || memcmp(data, magic, 8) != 0) {
        buf_puts(err, "not a tandem program (no TNDMBC header)");
        return NULL;
    }
    Rd r = {data, n, 8, "header", 0, err};
    uint32_t version = r32(&r), total = r32(&r), sum = r32(&r);
    if (version != FORMAT_VERSION) {
        buf_printf(err, "program format version %u; this tandem reads version %d (rebuild it with 'tandem build')", version,
                   FORMAT_VERSION);
        return NULL;
    }
    if (total != n) {
        buf_printf(err, "%s program: the header says %u bytes, the file has %zu", total > n ? "truncated" : "corrupted", total, n);
        return NULL;
    }
    if (fnv(data + HEADER_SIZE, n - HEADER_SIZE) != sum) {
        buf_puts(err, "corrupted program: the checksum does not match");
        return NULL;
    }
    Program *p = program_new();
    if (!p) return NULL;
    p->pool_len = rcount(&r, "strings", 1);
    if (need(&r, p->pool_len)) {
        p->pool = arena_alloc(&p->arena, (size_t)p->pool_len + 1);
        memcpy(p->pool, data + r.at, p->pool_len);
        r.at += p->pool_len;
    }
    p->nconsts = rcount(&r, "constants", 1);
    p->consts = ralloc(p, p->nconsts, sizeof *p->consts);
    for (uint32_t i = 0; i < p->nconsts && !r.bad; i++) {
        Value *v = &p->consts[i];
        v->t = (uint8_t)r8(&r);
        switch (v->t) {
        case VT_BOOL: v->u.b = r8(&r) != 0; break;
        case VT_NUM: { uint64_t bits = r64(&r); memcpy(&v->u.n, &bits, 8); break; }
        case VT_STR: {
            uint32_t off = r32(&r);
            v->len = r32(&r);
            v->u.s = off < p->pool_len ? p->pool + off : p->pool;
            if (off >= p->pool_len) v->len = UINT32_MAX; /* caught by validate */
            break;
        }
        case VT_DATE: case VT_DATETIME: case VT_DURATION: v->u.i = (int64_t)r64(&r); break;
        default: break;
        }
    }
    p->nfields = rcount(&r, "fields", 14);
    p->fields = ralloc(p, p->nfields, sizeof *p->fields);
    for (uint32_t i = 0; i < p->nfields; i++) {
        PField *f = &p->fields[i];
        f->name = r32(&r); f->type = (uint8_t)r8(&r); f->flags = (uint8_t)r8(&r); f->deflt = r32(&r); f->size = r32(&r);
    }
    p->nobjects = rcount(&r, "objects", 46);
    p->objects = ralloc(p, p->nobjects, sizeof *p->objects);
    for (uint32_t i = 0; i < p->nobjects; i++) {
        PObject *o = &p->objects[i];
        o->system = r32(&r); o->name = r32(&r); o->first_field = r32(&r); o->nfields = r32(&r);
        o->key = (int32_t)r32(&r); o->created = (int32_t)r32(&r); o->modified = (int32_t)r32(&r);
        o->deleted = (int32_t)r32(&r); o->list_field = (int32_t)r32(&r); o->converts_to = (int32_t)r32(&r);
        o->converted_by = (int32_t)r32(&r); o->by_other = (uint8_t)r8(&r); o->caps = (uint8_t)r8(&r);
    }
    p->nmaps = rcount(&r, "maps", 21);
    p->maps = ralloc(p, p->nmaps, sizeof *p->maps);
    for (uint32_t i = 0; i < p->nmaps; i++) {
        PMap *m = &p->maps[i];
        m->field[0] = (uint16_t)r16(&r); m->field[1] = (uint16_t)r16(&r); m->flow = (uint8_t)r8(&r);
        m->policy[0] = (uint8_t)r8(&r); m->policy[1] = (uint8_t)r8(&r); m->is_default = (uint8_t)r8(&r);
        m->account = (uint8_t)r8(&r); m->line = r32(&r); m->file = r32(&r); m->key = r32(&r);
    }
    p->ntags = rcount(&r, "tags", 4);
    p->tags = ralloc(p, p->ntags, sizeof *p->tags);
    for (uint32_t i = 0; i < p->ntags; i++) p->tags[i] = r32(&r);
    p->nskips = rcount(&r, "skip rules", 12);
    p->skips = ralloc(p, p->nskips, sizeof *p->skips);
    for (uint32_t i = 0; i < p->nskips; i++) { p->skips[i].text = r32(&r); p->skips[i].line = r32(&r); p->skips[i].file = r32(&r); }
    p->nconvs = rcount(&r, "conversions", 18);
    p->convs = ralloc(p, p->nconvs, sizeof *p->convs);
    for (uint32_t i = 0; i < p->nconvs; i++) {
        PConv *c = &p->convs[i];
        c->kind = (uint8_t)r8(&r); c->decimals = (int8_t)r8(&r);
        c->thousands = r32(&r); c->decimal = r32(&r); c->prefix = r32(&r); c->suffix = r32(&r);
    }
    p->nsets = rcount(&r, "sets", 12);
    p->sets = ralloc(p, p->nsets, sizeof *p->sets);
    for (uint32_t i = 0; i < p->nsets; i++) { p->sets[i].first = r32(&r); p->sets[i].n = r32(&r); p->sets[i].els = r32(&r); }
    p->nvmaps = rcount(&r, "value maps", 12);
    p->vmaps = ralloc(p, p->nvmaps, sizeof *p->vmaps);
    for (uint32_t i = 0; i < p->nvmaps; i++) { p->vmaps[i].first = r32(&r); p->vmaps[i].n = r32(&r); p->vmaps[i].els = r32(&r); }
    p->nu32 = rcount(&r, "integers", 4);
    p->u32 = ralloc(p, p->nu32, sizeof *p->u32);
    for (uint32_t i = 0; i < p->nu32; i++) p->u32[i] = r32(&r);
    p->nsources = rcount(&r, "sources", 16);
    p->sources = ralloc(p, p->nsources, sizeof *p->sources);
    for (uint32_t i = 0; i < p->nsources; i++) {
        PSource *s = &p->sources[i];
        s->name = r32(&r); s->system = r32(&r); s->first_setting = r32(&r); s->nsettings = r32(&r);
    }
    p->nsettings = rcount(&r, "settings", 9);
    p->settings = ralloc(p, p->nsettings, sizeof *p->settings);
    for (uint32_t i = 0; i < p->nsettings; i++) {
        p->settings[i].name = r32(&r); p->settings[i].kind = (uint8_t)r8(&r); p->settings[i].value = r32(&r);
    }
    p->nfiles = rcount(&r, "files", 4);
    p->filenames = ralloc(p, p->nfiles, sizeof *p->filenames);
    for (uint32_t i = 0; i < p->nfiles; i++) p->filenames[i] = r32(&r);
    p->ncode = rcount(&r, "code", 16);
    p->code = ralloc(p, p->ncode, sizeof *p->code);
    p->lines = ralloc(p, p->ncode, sizeof *p->lines);
    p->files = ralloc(p, p->ncode, sizeof *p->files);
    for (uint32_t i = 0; i < p->ncode; i++) {
        Instr *in = &p->code[i];
        in->op = (uint8_t)r8(&r); in->n = (uint8_t)r8(&r);
        in->a = (uint16_t)r16(&r); in->b = (uint16_t)r16(&r); in->c = (uint16_t)r16(&r);
    }
    for (uint32_t i = 0; i < p->ncode; i++) { p->lines[i] = r32(&r); p->files[i] = r32(&r); }
    p->nsyncs = rcount(&r, "syncs", 100);
    p->syncs = ralloc(p, p->nsyncs, sizeof *p->syncs);
    for (uint32_t i = 0; i < p->nsyncs; i++) {
        PSync *s = &p->syncs[i];
        s->name = r32(&r);
        for (int k = 0; k < 2; k++) {
            PSide *d = &s->side[k];
            d->source = r32(&r); d->object = r32(&r); d->create_as = r32(&r); d->list = r32(&r);
            d->never_create = (uint8_t)r8(&r); d->account = (int32_t)r32(&r);
        }
        s->flow = (uint8_t)r8(&r); s->prefer = (int8_t)r8(&r); s->paused = (uint8_t)r8(&r); s->initial = (int8_t)r8(&r);
        s->sched_kind = (uint8_t)r8(&r); s->sched_value = r32(&r);
        for (int e = 0; e < EP__COUNT; e++) s->entry[e] = r32(&r);
        s->code_start = r32(&r); s->code_end = r32(&r); s->first_map = r32(&r); s->nmaps = r32(&r);
        s->nregs = r32(&r); s->first_after = r32(&r); s->nafter = r32(&r);
        for (int k = 0; k < 2; k++) { s->match_field[k] = (int32_t)r32(&r); s->account_ref[k] = (int32_t)r32(&r); }
        for (int k = 0; k < 2; k++) s->track_status[k] = (int32_t)r32(&r);
        for (int k = 0; k < 2; k++) s->track_last[k] = (int32_t)r32(&r);
        s->line = r32(&r); s->file = r32(&r);
    }
    r.section = "globals";
    p->sched_kind = (uint8_t)r8(&r); p->sched_value = r32(&r); p->paused = (uint8_t)r8(&r); p->initial = (uint8_t)r8(&r);
    if (!r.bad && r.at != n) {
        buf_printf(err, "corrupted program: %zu bytes after the end", n - r.at);
        r.bad = 1;
    }
    if (r.bad || validate(p, err) != 0) {
        program_free(p);
        return NULL;
    }
    program_index(p);
    return p;
}
