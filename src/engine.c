/* engine.c - reading, pairing, deciding and recording, sync by sync.
 *
 * A sync's run holds the records read in one batch arena: the ones that
 * changed since the cursor, and the partners fetched to pair them.  Each
 * record or pair is decided once (the VM's entry points do the deciding);
 * what the state must remember once the changes are sent is kept as an
 * Outcome beside the plan's changes, and recorded after they are sent, in
 * one transaction with the cursors.  Before anything is sent it is
 * journaled, so a run that dies in between is finished by the next one
 * instead of repeated (docs/state.md).
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "spill.h"
#include "types.h"
#include "util.h"
#include "vm.h"

/* The status values of `track status` fields (B27), as the vendors'
 * packages write them. */
#define ST_SYNCED "Synced"
#define ST_WAITING "Waiting for next sync"
#define ST_CRITERIA "Did not meet sync criteria"
#define ST_ERROR "Error"

typedef struct Rec Rec;
struct Rec {
    Record *r;
    uint8_t side;
    uint8_t changed;       /* read as a change, not fetched to pair another */
    uint8_t done;          /* decided */
    uint8_t linked;        /* has a link in this sync */
    uint8_t unselected;    /* done: its side's selection rejects it */
    uint8_t sel;           /* the selection asked early: 1 takes it, 2 rejects it; 0 not asked */
    const char *id;
    const char *key;       /* match key, NULL for none */
    Link link;
    Rec *partner;
};

enum { OUT_PAIR, OUT_CREATE, OUT_DELETED, OUT_REMOVED, OUT_CONVERT, OUT_RESURRECT, OUT_SKIP, OUT_WAIT, OUT_ERROR };

typedef struct Outcome {
    uint8_t kind;
    uint8_t side;          /* the side of the record it is about (a create: the side it came from) */
    int64_t link;          /* its link, 0 when the pair is new */
    const char *id[2];     /* ids per side; a create's new side is NULL */
    const char *key;
    int32_t create;        /* OUT_CREATE, OUT_RESURRECT: the create change */
    uint32_t first, n;     /* its changes in the plan */
    Value *base[2];        /* per map of the sync: the bases to store; NULL: none */
    const char *reason;    /* skip, wait, error */
    const char *rule;      /* file:line */
    const char *move_sync, *move_object, *move_id; /* OUT_CONVERT */
    int account;           /* a pair of accounts (B09): linked under "<sync>#account" */
} Outcome;

/* A streamed sync's right side, spilled (docs/performance.md): each
 * record is packed into a temporary file as it arrives; memory keeps a
 * slot a record (where it is, the hashes of its id and match key, what
 * this run decided of it) and two tables over the slots, by id and by
 * key.  A lookup compares hashes and reads back the records whose hashes
 * agree, to compare the text; a record read back stays (in `mat`, found
 * by `mkey`) until rs_release writes what was decided of it back to its
 * slot, at the end of each batch. */
enum {
    RF_DONE = 1, RF_LINKED = 2, RF_UNSELECTED = 4, RF_CHANGED = 8,
    /* a left record of the key was decided (what a stub says when the
     * right side is held: key_taken, key_unselected) */
    RF_CLAIMED = 16, RF_CLAIM_LINKED = 32, RF_CLAIM_UNSELECTED = 64
};
#define RF_CLAIMS (RF_CLAIMED | RF_CLAIM_LINKED | RF_CLAIM_UNSELECTED)

typedef struct RSlot {
    uint64_t kh;           /* 64-bit hash of the match key (0: none) */
    uint64_t off;          /* in the spill */
    uint32_t ih;           /* hash of the id (khash's low half) */
    uint32_t flags;        /* RF_* */
} RSlot;

/* What few slots need: a link, a claiming left record's id. */
typedef struct RExt {
    Link *link;            /* RF_LINKED; in the sync's arena */
    const char *claim_id;  /* RF_CLAIMED by a left record a note names (key_taken, key_unselected) */
} RExt;

typedef struct RSide {
    Spill sp;
    RSlot *slot;
    uint32_t n, cap;
    uint32_t *extof;       /* per slot: 1 + index into ext, 0 none; NULL while no slot has one */
    uint32_t *kt, *it;     /* by key (the first record of each), by id: 1 + slot; 0 empty */
    uint32_t tcap;         /* entries of each table, a power of two */
    RExt *ext;
    uint32_t next, capext;
    Arena mat;             /* records read back, and those arrived and not spilled yet */
    uint32_t *mkey;        /* 1 + slot of a record read back; 0 empty */
    struct Rec **mval;
    uint32_t mcap, mn;
    struct Rec **pend;     /* arrived, to spill (rs_settle) */
    uint32_t npend, cappend;
    Symtab pendid;         /* their ids */
    Buf pack, get;
    int failed;            /* the spill could not be read or written: the run fails */
} RSide;

typedef struct Engine {
    const Program *p;
    Store *st;
    Connector *const *sources;
    uint32_t nsources;
    const EngineOptions *o;
    Plan *pl;
    EngineResult *res;
    Vm *vm;
    ActionBuf ab;
    Arena run;             /* lives for the run: the in-memory links of a plan */
    Symtab pending;        /* "sync\x1fside\x1fid" -> other id: links this plan would make */
    Buf kb;                /* a pending key being looked up */
    Buf err;
} Engine;

typedef struct IdList {
    const char **v;
    uint32_t n, cap;
} IdList;

/* The ids a streamed read delivered, as a set: the text in a spill file
 * (a million Salesforce ids are 19 MB), a slot of 8 bytes each in memory
 * holding where its id is and 24 bits of its hash; an id is read back
 * only when those agree (the same id, or one time in 16 million). */
typedef struct IdSet {
    Spill sp;
    int open;
    uint64_t *slot;        /* 0 empty, else (1 + offset) << 24 | tag */
    uint32_t nslot, used;
    Buf got;
    int failed;            /* the spill failed: the run fails (spill_error) */
} IdSet;

static int idset_has(IdSet *s, const char *id);
static int idset_claim(IdSet *s, const char *id, const char *val, const char **had);

typedef struct SyncRun {
    Engine *E;
    uint32_t si;
    const PSync *s;
    const char *name;
    Connector *src[2];
    Arena a;               /* the batch */
    /* Where the left side's records go, and what one decision needs for a
     * while: `page` while a streamed sync decides its batches, else `a`. */
    Arena *left;
    /* Streaming (docs/performance.md): the left side's changes are decided
     * page by page in `page`, which is then reset; the right side is held. */
    int streaming;
    Arena page;
    IdSet seen0;           /* the left ids the stream delivered */
    /* Per side, the match keys a record of this run paired by or was
     * created with (key \0 id): a second record of the side with the
     * same key is a duplicate, not a second create or pair. */
    IdSet claimed[2];
    int spilling;          /* the right side is kept in rs, not in recs[1] and the symtabs */
    RSide rs;
    Rec **recs[2];
    uint32_t n[2], cap[2];
    Symtab byid[2], bykey[2];
    /* What a run records of its decisions (Outcome), and what they keep
     * alive, until apply_part records them: `oa`, reset after each part. */
    Arena oa;
    /* What one decision makes and drops (bases, a create's view): what
     * it decides is copied out (outcomes, plan), so this is reset at the
     * next; held, it was a kilobyte a pair for the whole sync. */
    Arena dec;
    Outcome *outs;
    uint32_t nouts, capouts;
    uint32_t part_first;   /* the first change not applied yet */
    uint32_t part_note;    /* the first note apply_part has not looked at */
    int64_t newest[2];
    int whole[2];          /* the side's read delivered every record it has (ChangeCursor.whole) */
    int64_t first_run;     /* the sync's first run (now when none), for the VM */
    int first_run_known;
    const char *token[2];  /* the systems' own resume tokens to store with them (ChangeCursor) */
    const char *acct_token[2];
    int fetching;          /* records now arriving are partners, not changes */
    /* The left records a streamed sync finds by key for its right side's
     * changes arrive decoded in lscr and are kept whole only where they
     * may pair (keep_slim). */
    int slim;
    Arena lscr;
    int late_select;       /* select_reads_links: 0 not asked yet, 1 yes, 2 no */
    int observe;           /* the VM only reports values (bases of a new pair) */
    int side_reading;
    int accounts;          /* deciding the accounts of pairs (B09) */
    const char *account_sync; /* "<sync>#account": where account links live */
    IdList acct[2];        /* per pair decided: the account id on each side */
    int64_t acct_newest[2];/* account cursors to store; INT64_MIN: none read */
} SyncRun;

static const char *str(const Program *p, uint32_t id) { return program_str(p, id); }

static const char *rule_of(SyncRun *R, uint32_t pc) {
    if (pc >= R->E->p->ncode) return NULL;
    Buf b;
    buf_init(&b);
    plan_rule(R->E->p, pc, &b);
    const char *s = plan_str(R->E->pl, buf_str(&b));
    buf_free(&b);
    return s;
}

/* ------------------------------------------------------------ links */

/* "sync\x1fside\x1fid", in E->kb: looked up once a record read, so not
 * formatted by printf nor kept. */
static const char *pending_key(Engine *E, const char *sync, int side, const char *id) {
    buf_reset(&E->kb);
    buf_puts(&E->kb, sync);
    buf_putc(&E->kb, '\x1f');
    buf_putc(&E->kb, (char)('0' + side));
    buf_putc(&E->kb, '\x1f');
    buf_puts(&E->kb, id);
    return buf_str(&E->kb);
}

/* A link this plan makes (a plan records none), as find_link gives it;
 * 0 when none. */
static int pending_link(Engine *E, const char *sync, int side, const char *id, Link *out) {
    if (!E->pending.n || !id) return 0;
    const char *other = symtab_get(&E->pending, pending_key(E, sync, side, id));
    if (!other) return 0;
    out->sync = sync;
    out->rid[side] = id;
    out->rid[1 - side] = other;
    out->id = -1;
    return 1;
}

/* The link of id on side of sync: the state's, or one this plan makes. */
static int find_link(Engine *E, const char *sync, int side, const char *id, Arena *a, Link *out) {
    memset(out, 0, sizeof *out);
    int rc = store_link_find(E->st, sync, side, id, a, out);
    return rc != 0 ? rc : pending_link(E, sync, side, id, out);
}

static void pend_link(Engine *E, const char *sync, const char *l, const char *r) {
    if (E->o->apply) return; /* a run records it for real */
    if (l) symtab_put(&E->pending, arena_strdup(&E->run, pending_key(E, sync, 0, l)), (void *)(r ? arena_strdup(&E->run, r) : ""));
    if (r) symtab_put(&E->pending, arena_strdup(&E->run, pending_key(E, sync, 1, r)), (void *)(l ? arena_strdup(&E->run, l) : ""));
}

/* Via: the id linked to id by sync `sync`. */
static int via_link(void *ctx, uint32_t sync, int from, Value id, Value *out) {
    SyncRun *R = ctx;
    Engine *E = R->E;
    Buf b;
    buf_init(&b);
    value_format(id, &b);
    Link l;
    int rc = find_link(E, str(E->p, E->p->syncs[sync].name), from, buf_str(&b), R->left, &l);
    buf_free(&b);
    if (rc != 1) return 0;
    const char *o = l.rid[1 - from];
    /* in a plan, a record an earlier sync would create has no id yet */
    if (!o || !*o) o = "(new)";
    *out = v_str(o, strlen(o));
    return 1;
}

/* ------------------------------------------------------------ the batch */

static Arena *side_arena(SyncRun *R, int side) { return side ? R->spilling ? &R->rs.mat : &R->a : R->left; }

/* A record joins the batch (indexed by id, unless the caller dedupes:
 * the stream).  The list itself is in `a`, so a streamed batch reuses it. */
static void list_rec(SyncRun *R, int side, Rec *x, int index) {
    if (R->n[side] == R->cap[side])
        R->recs[side] = arena_grow(&R->a, R->recs[side], R->n[side], &R->cap[side], 64, sizeof *R->recs[side]);
    R->recs[side][R->n[side]++] = x;
    if (x->id && index) symtab_put(&R->byid[side], x->id, x);
}

static Rec *add_rec(SyncRun *R, int side, Record *r, int index) {
    Rec *x = arena_alloc(side_arena(R, side), sizeof *x);
    x->r = r;
    x->side = (uint8_t)side;
    x->changed = !R->fetching;
    x->id = r->vm.id;
    list_rec(R, side, x, index);
    return x;
}

static void keep_slim(SyncRun *R, Record *r);

static void rs_arrive(SyncRun *R, Record *r);
static int rs_settle(SyncRun *R, Buf *err);

static void on_record(void *ctx, Record *r) {
    SyncRun *R = ctx;
    int k = R->side_reading;
    if (!r->vm.id) return;
    if (k == 1 && R->spilling) {
        rs_arrive(R, r);
        return;
    }
    Rec *have = symtab_get(&R->byid[k], r->vm.id);
    if (have) {
        if (!R->fetching) have->changed = 1;
        return;
    }
    if (k == 0 && R->slim) {
        keep_slim(R, r);
        return;
    }
    /* A list sync reads the list's members; a record that left the list
     * still comes through, to notice it left (B21). */
    add_rec(R, k, r, 1);
    if (!R->fetching) R->E->pl->sum[R->si].read[k]++;
}

static void on_bad(void *ctx, const char *id, const char *reason) {
    SyncRun *R = ctx;
    int k = R->side_reading;
    Note *n = plan_note(R->E->pl, NOTE_ERROR, R->si, k);
    n->object = R->s->side[k].object;
    n->id = plan_str(R->E->pl, id);
    n->reason = plan_str(R->E->pl, reason);
}

static Outcome *outcome(SyncRun *R, int kind, int side) {
    if (R->nouts == R->capouts) R->outs = arena_grow(&R->oa, R->outs, R->nouts, &R->capouts, 64, sizeof *R->outs);
    Outcome *o = &R->outs[R->nouts++];
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)kind;
    o->side = (uint8_t)side;
    o->create = -1;
    o->first = R->E->pl->nchanges;
    return o;
}

static void close_outcome(SyncRun *R, Outcome *o) { o->n = R->E->pl->nchanges - o->first; }

/* ------------------------------------------------------------ running the VM */

static VmStatus vm(SyncRun *R, Rec *l, Rec *r, const Value *base[2], Entry e, Value *result) {
    Engine *E = R->E;
    VmRun run;
    memset(&run, 0, sizeof run);
    run.sync = R->si;
    run.rec[0] = l ? &l->r->vm : NULL;
    run.rec[1] = r ? &r->r->vm : NULL;
    if (l) l->r->vm.linked = l->linked;
    if (r) r->r->vm.linked = r->linked;
    if (base) {
        run.base[0] = base[0];
        run.base[1] = base[1];
    }
    /* read once per sync run: the VM runs several times a record */
    if (!R->first_run_known) {
        SyncState ss;
        store_sync_get(E->st, R->name, &ss);
        R->first_run = ss.first_run ? ss.first_run : E->o->now;
        R->first_run_known = 1;
    }
    run.now = E->o->now;
    run.first_run = R->first_run;
    run.out = &E->ab;
    run.link = via_link;
    run.link_ctx = R;
    run.observe = R->observe;
    E->ab.n = 0;
    Value dummy;
    return vm_run(E->vm, &run, e, result ? result : &dummy);
}

static int truthy(Value v) { return v.t == VT_BOOL && v.u.b; }

static const char *text_in(Arena *a, Value v) {
    if (value_blank(v)) return NULL;
    if (v.t == VT_STR) return arena_strndup(a, v.u.s, v.len);
    Buf b;
    buf_init(&b);
    value_format(v, &b);
    const char *s = arena_strdup(a, buf_str(&b));
    buf_free(&b);
    return s;
}

static const char *text_of(SyncRun *R, Value v) { return text_in(R->left, v); }

/* The match key of a record, computed by the sync's key entry: 0 when
 * the sync has none. */
static int key_value(SyncRun *R, Rec *x, Value *v) {
    Entry e = x->side ? EP_KEY_R : EP_KEY_L;
    if (R->s->entry[e] == NO_ENTRY) return 0;
    vm_next_record(R->E->vm);
    vm(R, x->side ? NULL : x, x->side ? x : NULL, NULL, e, v);
    return 1;
}

static const char *key_of(SyncRun *R, Rec *x) {
    Value v;
    return key_value(R, x, &v) ? text_in(side_arena(R, x->side), v) : NULL;
}

/* find's key function: called for every record a find looks at, so
 * nothing is kept */
static int key_fn(void *ctx, const Record *r, Buf *out) {
    struct { SyncRun *R; int side; } *kc = ctx;
    Rec tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.r = (Record *)r;
    tmp.side = (uint8_t)kc->side;
    Value v;
    if (!key_value(kc->R, &tmp, &v) || value_blank(v)) return -1;
    value_format(v, out);
    return 0;
}

/* A record read as a change whose change time is the one its system gave
 * tandem's last write to it (Link.written) has not changed since: it is
 * the write coming back, and there is nothing to decide (its partner is
 * not even looked up).  The time is the system's own, compared with
 * itself, never with tandem's clock. */
static int echo_of_write(const Rec *x) {
    return x->r && x->changed && x->linked && x->link.written[x->side] && !x->r->deleted &&
           x->r->vm.modified == x->link.written[x->side];
}

/* ------------------------------------------------------------ the right side, spilled */

/* Records read back before rs_release drops them, where a loop reads
 * back many (the right side's own decisions). */
enum { RS_CHUNK = 1024 };

/* Match keys are told apart by a 64-bit hash (FNV-1a) where only whether
 * a right record has the key matters (a left record's claim, a partner to
 * fetch, the first record of a key): two keys of a run share one with a
 * chance of about n * n / 2^65 (3 in 10^8 at a million records).  A pair
 * reads the record back and compares the text. */
static uint64_t khash(const char *s) {
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* Slot i's RExt, made on first use; rs_ext_of: NULL when none. */
static RExt *rs_ext(RSide *rs, uint32_t i) {
    if (!rs->extof) {
        rs->extof = calloc(rs->cap, sizeof *rs->extof);
        if (!rs->extof) abort();
    }
    if (!rs->extof[i]) {
        if (rs->next == rs->capext) {
            rs->capext = rs->capext ? rs->capext * 2 : 256;
            rs->ext = realloc(rs->ext, rs->capext * sizeof *rs->ext);
            if (!rs->ext) abort();
        }
        memset(&rs->ext[rs->next], 0, sizeof *rs->ext);
        rs->extof[i] = ++rs->next;
    }
    return &rs->ext[rs->extof[i] - 1];
}

static RExt *rs_ext_of(const RSide *rs, uint32_t i) { return rs->extof && rs->extof[i] ? &rs->ext[rs->extof[i] - 1] : NULL; }

static void table_put(uint32_t *t, uint32_t cap, uint64_t h, uint32_t v) {
    uint32_t i = h & (cap - 1);
    while (t[i]) i = (i + 1) & (cap - 1);
    t[i] = v;
}

/* Room for one more slot in the tables (at most half full). */
static void rs_room(RSide *rs) {
    if ((rs->n + 1) * 2 <= rs->tcap) return;
    uint32_t cap = rs->tcap ? rs->tcap * 2 : 4096;
    uint32_t *kt = calloc(cap, sizeof *kt), *it = calloc(cap, sizeof *it);
    if (!kt || !it) abort();
    for (uint32_t i = 0; i < rs->tcap; i++) {
        if (rs->kt[i]) table_put(kt, cap, rs->slot[rs->kt[i] - 1].kh, rs->kt[i]);
        if (rs->it[i]) table_put(it, cap, rs->slot[rs->it[i] - 1].ih, rs->it[i]);
    }
    free(rs->kt);
    free(rs->it);
    rs->kt = kt;
    rs->it = it;
    rs->tcap = cap;
}

static void rs_open(SyncRun *R) {
    RSide *rs = &R->rs;
    memset(rs, 0, sizeof *rs);
    spill_open(&rs->sp);
    arena_init(&rs->mat);
    symtab_init(&rs->pendid, &rs->mat);
    buf_init(&rs->pack);
    buf_init(&rs->get);
    R->spilling = 1;
}

static void rs_close(SyncRun *R) {
    RSide *rs = &R->rs;
    if (!R->spilling) return;
    spill_close(&rs->sp);
    arena_free(&rs->mat);
    free(rs->slot);
    free(rs->kt);
    free(rs->it);
    free(rs->ext);
    free(rs->extof);
    free(rs->mkey);
    free(rs->mval);
    free(rs->pend);
    buf_free(&rs->pack);
    buf_free(&rs->get);
    R->spilling = 0;
}

static void rs_fail(SyncRun *R) { R->rs.failed = 1; }

static uint32_t mat_pos(const RSide *rs, uint32_t i) {
    uint32_t h = (i + 1) * 2654435761u & (rs->mcap - 1);
    while (rs->mkey[h] && rs->mkey[h] != i + 1) h = (h + 1) & (rs->mcap - 1);
    return h;
}

static void mat_put(RSide *rs, uint32_t i, Rec *x) {
    if ((rs->mn + 1) * 2 > rs->mcap) {
        uint32_t ocap = rs->mcap, *ok = rs->mkey;
        Rec **ov = rs->mval;
        rs->mcap = ocap ? ocap * 2 : 1024;
        rs->mkey = calloc(rs->mcap, sizeof *rs->mkey);
        rs->mval = calloc(rs->mcap, sizeof *rs->mval);
        if (!rs->mkey || !rs->mval) abort();
        for (uint32_t j = 0; j < ocap; j++) {
            if (!ok[j]) continue;
            uint32_t h = mat_pos(rs, ok[j] - 1);
            rs->mkey[h] = ok[j];
            rs->mval[h] = ov[j];
        }
        free(ok);
        free(ov);
    }
    uint32_t h = mat_pos(rs, i);
    if (!rs->mkey[h]) rs->mn++;
    rs->mkey[h] = i + 1;
    rs->mval[h] = x;
}

/* The record of slot i, read back (once a batch); NULL when the spill
 * fails (rs_fail). */
static Rec *rs_load(SyncRun *R, uint32_t i) {
    RSide *rs = &R->rs;
    if (rs->mcap) {
        uint32_t h = mat_pos(rs, i);
        if (rs->mkey[h]) return rs->mval[h];
    }
    const RSlot *s = &rs->slot[i];
    if (spill_get(&rs->sp, s->off, &rs->get) != 0) {
        rs_fail(R);
        return NULL;
    }
    /* the match key (its length + 1, 0 for none), then the packed record */
    uint32_t kl = 0;
    if (rs->get.n >= sizeof kl) memcpy(&kl, rs->get.p, sizeof kl);
    size_t head = sizeof kl + (kl ? kl - 1 : 0);
    Record *r = arena_alloc(&rs->mat, sizeof *r);
    if (rs->get.n < head || record_unpack(R->E->p, rs->get.p + head, rs->get.n - head, &rs->mat, r) != 0) {
        buf_reset(&rs->sp.err);
        buf_puts(&rs->sp.err, "the temporary record file: a record does not read back");
        rs_fail(R);
        return NULL;
    }
    Rec *x = arena_alloc(&rs->mat, sizeof *x);
    x->r = r;
    x->side = 1;
    x->id = r->vm.id;
    x->key = kl ? arena_strndup(&rs->mat, rs->get.p + sizeof kl, kl - 1) : NULL;
    x->done = (s->flags & RF_DONE) != 0;
    x->linked = (s->flags & RF_LINKED) != 0;
    x->unselected = (s->flags & RF_UNSELECTED) != 0;
    x->changed = (s->flags & RF_CHANGED) != 0;
    const RExt *e = rs_ext_of(rs, i);
    if (x->linked && e && e->link) x->link = *e->link;
    mat_put(rs, i, x);
    return x;
}

static const char *keep_str(Arena *a, const char *s) { return s ? arena_strdup(a, s) : NULL; }

/* Slot i's link, kept in the sync's arena. */
static void rs_keep_link(SyncRun *R, uint32_t i, const Link *from) {
    const Program *p = R->E->p;
    Link *l = arena_alloc(&R->a, sizeof *l);
    *l = *from;
    /* the names every link of the sync shares are not copied for each */
    l->sync = l->sync && !strcmp(l->sync, R->name) ? R->name : keep_str(&R->a, l->sync);
    for (int k = 0; k < 2; k++) {
        const char *on = str(p, p->objects[R->s->side[k].object].name);
        l->object[k] = l->object[k] && !strcmp(l->object[k], on) ? on : keep_str(&R->a, l->object[k]);
        l->rid[k] = keep_str(&R->a, l->rid[k]);
    }
    rs_ext(&R->rs, i)->link = l;
}

/* Writes what was decided of the records read back to their slots, and
 * drops them. */
static void rs_release(SyncRun *R) {
    RSide *rs = &R->rs;
    for (uint32_t h = 0; h < rs->mcap; h++) {
        if (!rs->mkey[h]) continue;
        Rec *x = rs->mval[h];
        uint32_t i = rs->mkey[h] - 1;
        RSlot *s = &rs->slot[i];
        s->flags = (s->flags & RF_CLAIMS) | (x->done ? RF_DONE : 0) | (x->linked ? RF_LINKED : 0) |
                   (x->unselected ? RF_UNSELECTED : 0) | (x->changed ? RF_CHANGED : 0);
        const RExt *e = rs_ext_of(rs, i);
        if (x->linked && (!e || !e->link || memcmp(e->link, &x->link, sizeof x->link))) rs_keep_link(R, i, &x->link);
        rs->mkey[h] = 0;
    }
    rs->mn = 0;
    arena_reset(&rs->mat);
    symtab_init(&rs->pendid, &rs->mat);
}

/* The first right record of a match key, or of an id, read back. */
static Rec *rs_find(SyncRun *R, const char *text, int by_key) {
    RSide *rs = &R->rs;
    if (!rs->tcap || !text) return NULL;
    /* an id's hash is khash's low half (RSlot.ih) */
    uint64_t h = by_key ? khash(text) : (uint32_t)khash(text);
    uint32_t *t = by_key ? rs->kt : rs->it;
    for (uint32_t i = (uint32_t)h & (rs->tcap - 1); t[i]; i = (i + 1) & (rs->tcap - 1)) {
        const RSlot *s = &rs->slot[t[i] - 1];
        if ((by_key ? s->kh : s->ih) != h) continue;
        Rec *x = rs_load(R, t[i] - 1);
        if (!x) return NULL;
        const char *have = by_key ? x->key : x->id;
        if (have && !strcmp(have, text)) return x;
    }
    return NULL;
}

/* The slot of the first right record of a match key, by its hash (khash):
 * 1 + index, 0 none.  Nothing is read back. */
static uint32_t rs_key_slot(const RSide *rs, const char *key) {
    if (!rs->tcap || !key) return 0;
    uint64_t h = khash(key);
    for (uint32_t i = (uint32_t)h & (rs->tcap - 1); rs->kt[i]; i = (i + 1) & (rs->tcap - 1))
        if (rs->slot[rs->kt[i] - 1].kh == h) return rs->kt[i];
    return 0;
}

/* The records arrived since the last call: their links and keys, then
 * into the spill and the tables. */
static int rs_settle(SyncRun *R, Buf *err) {
    RSide *rs = &R->rs;
    Engine *E = R->E;
    uint32_t n = rs->npend;
    int rc = 0;
    if (n) {
        const char **ids = malloc(n * sizeof *ids);
        Link *links = calloc(n, sizeof *links);
        uint8_t *found = malloc(n);
        if (!ids || !links || !found) abort();
        for (uint32_t i = 0; i < n; i++) ids[i] = rs->pend[i]->id;
        rc = store_links_find(E->st, R->name, 1, ids, n, &rs->mat, links, found);
        if (rc != 0) buf_puts(err, store_error(E->st));
        for (uint32_t i = 0; i < n && rc == 0; i++) {
            Rec *x = rs->pend[i];
            x->link = links[i];
            x->linked = found[i] || pending_link(E, R->name, 1, x->id, &x->link);
            if (echo_of_write(x)) x->done = 1;
            x->key = key_of(R, x);
            buf_reset(&rs->pack);
            uint32_t kl = x->key ? (uint32_t)strlen(x->key) + 1 : 0;
            buf_putn(&rs->pack, (const char *)&kl, sizeof kl);
            if (kl) buf_putn(&rs->pack, x->key, kl - 1);
            record_pack(E->p, x->r, &rs->pack);
            if (rs->n == rs->cap) {
                uint32_t cap = rs->cap ? rs->cap * 2 : 1024;
                rs->slot = realloc(rs->slot, cap * sizeof *rs->slot);
                if (!rs->slot) abort();
                if (rs->extof) {
                    rs->extof = realloc(rs->extof, cap * sizeof *rs->extof);
                    if (!rs->extof) abort();
                    memset(rs->extof + rs->cap, 0, (cap - rs->cap) * sizeof *rs->extof);
                }
                rs->cap = cap;
            }
            rs_room(rs);
            RSlot *s = &rs->slot[rs->n];
            memset(s, 0, sizeof *s);
            if (spill_put(&rs->sp, rs->pack.p, (uint32_t)rs->pack.n, &s->off) != 0) {
                buf_puts(err, spill_error(&rs->sp));
                rc = -1;
                break;
            }
            s->ih = (uint32_t)khash(x->id);
            s->kh = x->key ? khash(x->key) : 0;
            s->flags = (x->linked ? RF_LINKED : 0) | (x->changed ? RF_CHANGED : 0) | (x->done ? RF_DONE : 0);
            uint32_t at = rs->n++;
            if (x->linked) rs_keep_link(R, at, &x->link);
            table_put(rs->it, rs->tcap, s->ih, at + 1);
            /* only the first record of a key is found by it */
            if (x->key && !rs_key_slot(rs, x->key)) table_put(rs->kt, rs->tcap, s->kh, at + 1);
        }
        free(ids);
        free(links);
        free(found);
    }
    rs->npend = 0;
    R->n[1] = rs->n;
    rs_release(R);
    if (rc == 0 && rs->failed) {
        buf_puts(err, spill_error(&rs->sp));
        rc = -1;
    }
    return rc;
}

/* A record of the right side arrives (on_record): kept until the page
 * ends, when rs_settle spills it. */
static void rs_arrive(SyncRun *R, Record *r) {
    RSide *rs = &R->rs;
    Rec *have = symtab_get(&rs->pendid, r->vm.id);
    if (!have) have = rs_find(R, r->vm.id, 0);
    if (have) {
        if (!R->fetching) have->changed = 1;
        return;
    }
    Rec *x = arena_alloc(&rs->mat, sizeof *x);
    x->r = r;
    x->side = 1;
    x->changed = !R->fetching;
    x->id = r->vm.id;
    if (rs->npend == rs->cappend) {
        rs->cappend = rs->cappend ? rs->cappend * 2 : 1024;
        rs->pend = realloc(rs->pend, rs->cappend * sizeof *rs->pend);
        if (!rs->pend) abort();
    }
    rs->pend[rs->npend++] = x;
    symtab_put(&rs->pendid, x->id, x);
    if (!R->fetching) R->E->pl->sum[R->si].read[1]++;
}

/* A page of the right side is read: spill what it brought.  A failure
 * shows when the read is over (rs_settle again). */
static void rs_page_end(void *ctx) {
    SyncRun *R = ctx;
    if (R->rs.npend < 1000) return;
    Buf e;
    buf_init(&e);
    if (rs_settle(R, &e) != 0 && !R->rs.failed) {
        R->rs.failed = 1;
        buf_reset(&R->rs.sp.err);
        buf_puts(&R->rs.sp.err, buf_str(&e));
    }
    buf_free(&e);
}

/* The record of side k with this id, or the first with this match key,
 * wherever the side keeps them.  A left key a spilled right record's slot
 * says is claimed gives a stub, as stream_batch makes when the right side
 * is held. */
static Rec *find_id(SyncRun *R, int k, const char *id) {
    if (k == 1 && R->spilling) return rs_find(R, id, 0);
    return symtab_get(&R->byid[k], id);
}

static Rec *find_key(SyncRun *R, int k, const char *key) {
    if (!key) return NULL;
    if (R->spilling) {
        if (k == 1) return rs_find(R, key, 1);
        uint32_t i = rs_key_slot(&R->rs, key);
        if (i && (R->rs.slot[i - 1].flags & RF_CLAIMED)) {
            uint32_t fl = R->rs.slot[i - 1].flags;
            const RExt *e = rs_ext_of(&R->rs, i - 1);
            Rec *stub = arena_alloc(&R->rs.mat, sizeof *stub);
            stub->done = 1;
            stub->linked = (fl & RF_CLAIM_LINKED) != 0;
            stub->unselected = (fl & RF_CLAIM_UNSELECTED) != 0;
            stub->id = e ? e->claim_id : NULL;
            stub->key = arena_strdup(&R->rs.mat, key);
            return stub;
        }
    }
    return symtab_get(&R->bykey[k], key);
}

/* Whether side k has a record of this match key (a stub counts). */
static int has_key(SyncRun *R, int k, const char *key) {
    if (k == 1 && R->spilling) return rs_key_slot(&R->rs, key) != 0;
    return find_key(R, k, key) != NULL;
}

/* ------------------------------------------------------------ turning actions into changes */

static Note *note(SyncRun *R, NoteKind kind, Rec *x, int side, const char *reason, uint32_t pc) {
    Note *n = plan_note(R->E->pl, kind, R->si, side);
    n->object = R->s->side[side].object;
    n->id = x ? plan_str(R->E->pl, x->id) : NULL;
    n->key = x ? plan_str(R->E->pl, x->key) : NULL;
    n->reason = plan_str(R->E->pl, reason);
    n->pc = pc;
    return n;
}

/* The update change of a record, made on first use. */
static Change *update_of(SyncRun *R, Rec *x, Change **slot) {
    if (*slot) return *slot;
    Change *c = plan_change(R->E->pl, CH_UPDATE, R->si, x->side);
    c->object = x->r->object;
    c->id = plan_cstr(R->E->pl, x->id);
    c->key = plan_cstr(R->E->pl, x->key);
    if (x->partner) c->from = plan_cstr(R->E->pl, x->partner->id);
    *slot = c;
    return c;
}

static int has_tag(const Record *r, const char *name, const char **ref) {
    for (uint32_t i = 0; i < r->ntag_names; i++)
        if (!strcmp(r->tag_names[i], name)) {
            if (ref) *ref = r->tag_refs ? r->tag_refs[i] : NULL;
            return 1;
        }
    return 0;
}

static int on_list(const Record *r, const char *name) {
    for (uint32_t i = 0; i < r->nlists; i++) if (!strcmp(r->lists[i], name)) return 1;
    return 0;
}

/* Turns the VM's actions for a unit into plan changes.  rec[side] is the
 * record each side's actions apply to (NULL: the record `created` makes);
 * upd[side] collects field sets per side.  Returns the first skip, wait or
 * error, which ends the unit. */
typedef struct Unit Unit;
struct Unit {
    Rec *rec[2];
    int32_t created[2];    /* per side: the create change making the record there, -1 */
    Change *upd[2];
    Value *base;           /* ACT_BASE pairs: per map, left then right */
    int has_base;
    int wrote[2];
    const Action *stop;    /* a skip, wait or error */
    /* A value that does not fit its field (too long, not an e-mail
     * address): the record is skipped, not sent a request its system
     * would refuse.  Why, and the rule that made the value. */
    const char *unfit;
    uint32_t unfit_pc;
};

/* A unit over records l and r (either may be NULL), nothing created yet. */
static void unit_init(Unit *u, Rec *l, Rec *r) {
    memset(u, 0, sizeof *u);
    u->rec[0] = l;
    u->rec[1] = r;
    u->created[0] = u->created[1] = -1;
}

/* Characters in UTF-8 text (what the systems' lengths count). */
static uint32_t utf8_chars(const char *s, uint32_t n) {
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* An address the systems take: one @, something before it, a domain with
 * a dot inside it, no blanks within.  (Each vendor checks more; none
 * takes less.) */
static int email_ok(const char *s, uint32_t n) {
    /* blanks around it are trimmed by every system (and by match keys) */
    while (n && (unsigned char)*s <= ' ') s++, n--;
    while (n && (unsigned char)s[n - 1] <= ' ') n--;
    const char *at = memchr(s, '@', n);
    if (!at || at == s || memchr(at + 1, '@', n - (uint32_t)(at + 1 - s))) return 0;
    const char *dom = at + 1, *end = s + n;
    const char *dot = NULL;
    for (const char *q = dom; q < end; q++) if (*q == '.') dot = q;
    for (const char *q = s; q < end; q++) if ((unsigned char)*q <= ' ') return 0;
    return dot && dot > dom && dot < end - 1 && dom[0] != '.';
}

/* Why value v does not fit field `field` of object `object` as its system
 * keeps it, or NULL when it fits (docs/plan.md). */
static const char *unfit(SyncRun *R, uint32_t object, uint16_t field, Value v) {
    const Program *p = R->E->p;
    const PObject *o = &p->objects[object];
    if (v.t != VT_STR || field >= o->nfields) return NULL;
    const PField *f = &p->fields[o->first_field + field];
    const char *name = str(p, f->name);
    uint32_t n = f->size ? utf8_chars(v.u.s, v.len) : 0;
    if (f->size && n > f->size)
        return arena_printf(&R->dec, "%s: %u characters; %s.%s takes at most %u", name, n, str(p, o->name), name, f->size);
    if (f->type == TY_EMAIL && v.len && !email_ok(v.u.s, v.len))
        return arena_printf(&R->dec, "%s: \"%.*s\" is not an e-mail address", name, v.len > 60 ? 60 : (int)v.len, v.u.s);
    return NULL;
}

static void take_actions(SyncRun *R, Unit *u) {
    Engine *E = R->E;
    const Program *p = E->p;
    Plan *pl = E->pl;
    for (size_t i = 0; i < E->ab.n; i++) {
        const Action *a = &E->ab.v[i];
        int t = a->side;
        switch (a->kind) {
        case ACT_SET: {
            if (a->value.t == VT_NONE) break;
            uint32_t wobj = u->created[t] >= 0 ? pl->changes[u->created[t]].object
                          : u->rec[t] ? u->rec[t]->r->object : UINT32_MAX;
            const char *why = wobj != UINT32_MAX ? unfit(R, wobj, a->field, a->value) : NULL;
            if (why) {
                if (!u->unfit) {
                    u->unfit = why;
                    u->unfit_pc = a->pc;
                }
                break;
            }
            if (u->created[t] >= 0) {
                Change *c = &pl->changes[u->created[t]];
                plan_set(pl, c, a->field, v_null(), a->value, a->pc);
                break;
            }
            if (!u->rec[t]) break;
            Value cur = a->field < u->rec[t]->r->vm.nf ? u->rec[t]->r->fields[a->field] : v_null();
            if (value_equal(cur, a->value) && !(value_blank(cur) && !value_blank(a->value))) break;
            /* A required field keeps its value: the system would refuse
             * the blank, and the record with it (B05). */
            const PObject *wo = &p->objects[u->rec[t]->r->object];
            if (value_blank(a->value) && a->field < wo->nfields &&
                (p->fields[wo->first_field + a->field].flags & PF_REQUIRED)) {
                Buf b;
                buf_init(&b);
                buf_printf(&b, "%s is required; the blank from %s is not written",
                           str(p, p->fields[wo->first_field + a->field].name), str(p, R->s->side[1 - t].source));
                note(R, NOTE_INFO, u->rec[t], t, buf_str(&b), a->pc);
                buf_free(&b);
                break;
            }
            Change *c = update_of(R, u->rec[t], &u->upd[t]);
            plan_set(pl, c, a->field, cur, a->value, a->pc);
            u->wrote[t] = 1;
            break;
        }
        case ACT_TAG: case ACT_UNTAG: {
            const char *tag = str(p, p->tags[a->arg]);
            const char *ref = NULL;
            if (u->created[t] < 0) {
                if (!u->rec[t]) break;
                int have = has_tag(u->rec[t]->r, tag, &ref);
                if ((a->kind == ACT_TAG) == have) break; /* already so */
            } else if (a->kind == ACT_UNTAG) {
                break; /* a new record has no tags to take off */
            }
            Change *c = plan_change(pl, a->kind == ACT_TAG ? CH_TAG : CH_UNTAG, R->si, t);
            c->object = u->created[t] >= 0 ? pl->changes[u->created[t]].object : u->rec[t]->r->object;
            c->created = u->created[t];
            c->id = u->created[t] >= 0 ? NULL : plan_cstr(pl, u->rec[t]->id);
            c->name = plan_cstr(pl, tag);
            c->ref = plan_cstr(pl, ref);
            c->pc = a->pc;
            break;
        }
        case ACT_LISTADD: case ACT_LISTDEL: case ACT_AUTOMATE: case ACT_DELETE: {
            const char *name = a->kind == ACT_DELETE ? NULL : str(p, a->arg);
            if (u->created[t] < 0) {
                if (!u->rec[t]) break;
                if (a->kind == ACT_LISTADD && on_list(u->rec[t]->r, name)) break;
                if (a->kind == ACT_LISTDEL && !on_list(u->rec[t]->r, name) && u->rec[t]->r->nlists) break;
                if (a->kind == ACT_DELETE && u->rec[t]->r->deleted) break;
            } else if (a->kind == ACT_LISTDEL || a->kind == ACT_DELETE) {
                break;
            }
            ChangeKind k = a->kind == ACT_LISTADD ? CH_LIST_ADD : a->kind == ACT_LISTDEL ? CH_LIST_REMOVE
                         : a->kind == ACT_AUTOMATE ? CH_AUTOMATE : CH_DELETE;
            Change *c = plan_change(pl, k, R->si, t);
            c->object = u->created[t] >= 0 ? pl->changes[u->created[t]].object : u->rec[t]->r->object;
            c->created = u->created[t];
            c->id = u->created[t] >= 0 ? NULL : plan_cstr(pl, u->rec[t]->id);
            c->key = u->rec[t] ? plan_cstr(pl, u->rec[t]->key) : NULL;
            c->name = plan_cstr(pl, name);
            c->pc = a->pc;
            break;
        }
        case ACT_KEEP:
            break;
        case ACT_CONFLICT: {
            Rec *x = u->rec[0] ? u->rec[0] : u->rec[1];
            Note *n = note(R, NOTE_CONFLICT, x, x ? x->side : 0,
                           R->s->prefer == MERGE_PREFER_NEWEST
                               ? "changed on both sides since the last sync, at the same time: 'prefer newest' cannot decide"
                               : "changed on both sides since the last sync; nothing decides (add 'prefer')",
                           a->pc);
            n->map = R->s->first_map + a->arg;
            n->value[0] = plan_keep(pl, a->value);
            n->value[1] = plan_keep(pl, a->other);
            if (u->rec[1] && u->rec[0]) {
                n->id = plan_str(pl, u->rec[0]->id);
                n->side = 0;
            }
            break;
        }
        case ACT_BASE:
            if (u->base && a->arg < R->s->nmaps) {
                u->base[2 * a->arg] = a->value;
                u->base[2 * a->arg + 1] = a->other;
                u->has_base = 1;
            }
            break;
        case ACT_SKIP: case ACT_WAIT: case ACT_ERROR:
            if (!u->stop) u->stop = a;
            break;
        }
    }
}

static void track(SyncRun *R, Unit *u, int side, const char *status, int synced);

/* A stopped unit (skip, wait, error) becomes a note and an outcome; a
 * tracked record shows it waits or failed (B26, B27). */
static void stopped(SyncRun *R, const Action *a, Rec *x, int side) {
    const Program *p = R->E->p;
    NoteKind nk = a->kind == ACT_SKIP ? NOTE_SKIP : a->kind == ACT_WAIT ? NOTE_WAIT : NOTE_ERROR;
    const char *why = a->msg;
    if (a->kind == ACT_SKIP && a->arg != UINT32_MAX) why = str(p, p->skips[a->arg].text);
    Outcome *o = outcome(R, a->kind == ACT_SKIP ? OUT_SKIP : a->kind == ACT_WAIT ? OUT_WAIT : OUT_ERROR, side);
    o->id[side] = x ? x->id : NULL;
    o->key = x ? x->key : NULL;
    /* what the state records of it (a plan records nothing) */
    if (R->E->o->apply) {
        o->reason = plan_str(R->E->pl, why);
        o->rule = rule_of(R, a->pc);
    }
    if (x) {
        Unit u;
        unit_init(&u, side ? NULL : x, side ? x : NULL);
        track(R, &u, side, a->kind == ACT_WAIT ? ST_WAITING : a->kind == ACT_SKIP ? ST_CRITERIA : ST_ERROR, 0);
    }
    close_outcome(R, o);
    note(R, nk, x, side, why, a->pc);
}

/* B27: the status and last-sync fields the sync keeps on a record. */
static void track(SyncRun *R, Unit *u, int side, const char *status, int synced) {
    const PSync *s = R->s;
    Plan *pl = R->E->pl;
    if (s->track_status[0] == side) {
        uint16_t f = (uint16_t)s->track_status[1];
        Value want = v_str(status, strlen(status));
        if (u->created[side] >= 0) plan_set(pl, &pl->changes[u->created[side]], f, v_null(), want, UINT32_MAX);
        else if (u->rec[side]) {
            Value cur = f < u->rec[side]->r->vm.nf ? u->rec[side]->r->fields[f] : v_null();
            if (!value_equal(cur, want)) plan_set(pl, update_of(R, u->rec[side], &u->upd[side]), f, cur, want, UINT32_MAX);
        }
    }
    /* The last-sync time moves only when something was written, or the
     * write itself would make the record look changed forever. */
    if (s->track_last[0] == side && synced && (u->wrote[0] || u->wrote[1] || u->created[0] >= 0 || u->created[1] >= 0)) {
        uint16_t f = (uint16_t)s->track_last[1];
        Value now = v_int(VT_DATETIME, R->E->o->now);
        if (u->created[side] >= 0) plan_set(pl, &pl->changes[u->created[side]], f, v_null(), now, UINT32_MAX);
        else if (u->rec[side]) {
            Value cur = f < u->rec[side]->r->vm.nf ? u->rec[side]->r->fields[f] : v_null();
            plan_set(pl, update_of(R, u->rec[side], &u->upd[side]), f, cur, now, UINT32_MAX);
        }
    }
}

/* The bases of a linked pair from the state; NULL when it has none (or
 * every value in it is null, as a pair with no base).  -1 with *why.
 * *exact (if asked) says the state names the sync's maps and no others,
 * as put_pair would write them. */
static int load_bases(SyncRun *R, int64_t link, Value *base[2], int *exact, const char **why) {
    const Program *p = R->E->p;
    const PSync *s = R->s;
    base[0] = base[1] = NULL;
    if (exact) *exact = 0;
    if (link <= 0) return 0;
    const char *text;
    int rc = store_bases_get(R->E->st, link, &R->dec, &text);
    if (rc < 0) *why = store_error(R->E->st);
    if (rc <= 0 || !text) return rc;
    cJSON *all = cJSON_Parse(text);
    if (!cJSON_IsObject(all)) {
        /* merged as a first pairing, a pair would take either side's value
         * for a conflict-free change: refused instead */
        cJSON_Delete(all);
        *why = arena_printf(&R->dec, "the state's base values of link %lld are not a JSON object", (long long)link);
        return -1;
    }
    Value *b[2];
    for (int k = 0; k < 2; k++) b[k] = arena_alloc(&R->dec, (s->nmaps + 1) * sizeof(Value));
    int any = 0, named = 0, maps = 0;
    for (uint32_t m = 0; m < s->nmaps; m++) {
        const PMap *pm = &p->maps[s->first_map + m];
        if (pm->account != R->accounts) continue;
        const cJSON *pair = cJSON_GetObjectItemCaseSensitive(all, str(p, pm->key));
        maps++;
        named += cJSON_GetArraySize(pair) == 2;
        for (int k = 0; k < 2; k++) {
            const cJSON *j = cJSON_GetArrayItem(pair, k);
            if (!j || cJSON_IsNull(j)) continue;
            any = 1;
            Buf why;
            buf_init(&why);
            /* The type the value had: the field's, or text for an expression end. */
            int type = TY_TEXT;
            uint32_t obj = pm->account && s->side[k].account >= 0 ? (uint32_t)s->side[k].account : s->side[k].object;
            if (pm->field[k] != NO_FIELD && pm->field[k] < p->objects[obj].nfields)
                type = p->fields[p->objects[obj].first_field + pm->field[k]].type;
            if (cJSON_IsNumber(j) && type_is_text((TypeKind)type)) type = TY_NUMBER;
            if (cJSON_IsBool(j)) type = TY_BOOLEAN;
            if (value_from_json(j, type, &R->dec, &b[k][m], &why) != 0) b[k][m] = v_null();
            buf_free(&why);
        }
    }
    if (exact) *exact = named == maps && cJSON_GetArraySize(all) == maps;
    cJSON_Delete(all);
    if (!any) return 0;
    base[0] = b[0];
    base[1] = b[1];
    return 1;
}

/* ------------------------------------------------------------ deciding */

static Value *new_base(SyncRun *R) { return arena_alloc(&R->dec, (2 * R->s->nmaps + 2) * sizeof(Value)); }

/* Whether the pair's new bases are, value for value and type for type,
 * the ones the state holds (what load_bases read, naming these maps
 * exactly): then its link's row is left as it is, unbuilt and unasked
 * (most pairs an hourly run reads are in agreement). */
static int bases_same(SyncRun *R, Value *const was[2], const Unit *u) {
    const Program *p = R->E->p;
    for (uint32_t m = 0; m < R->s->nmaps; m++) {
        if (p->maps[R->s->first_map + m].account != R->accounts) continue;
        for (int k = 0; k < 2; k++) {
            Value a = was[k][m], b = u->base[2 * m + k];
            if (a.t != b.t) return 0;
            switch ((ValueType)a.t) {
            case VT_NULL: case VT_NONE: break;
            case VT_BOOL: if ((a.u.b != 0) != (b.u.b != 0)) return 0; break;
            case VT_NUM: if (memcmp(&a.u.n, &b.u.n, sizeof a.u.n)) return 0; break;
            case VT_STR: if (a.len != b.len || memcmp(a.u.s, b.u.s, a.len)) return 0; break;
            default: if (a.u.i != b.u.i) return 0; break;
            }
        }
    }
    return 1;
}

static void store_base_outcome(SyncRun *R, Outcome *o, Unit *u) {
    if (!u->has_base || !R->E->o->apply) return; /* a plan records nothing */
    for (int k = 0; k < 2; k++) {
        o->base[k] = arena_alloc(&R->oa, (R->s->nmaps + 1) * sizeof(Value));
        for (uint32_t m = 0; m < R->s->nmaps; m++) {
            Value v = u->base[2 * m + k];
            if (v.t == VT_STR) v.u.s = arena_strndup(&R->oa, v.u.s, v.len);
            o->base[k][m] = v;
        }
    }
}

/* Runs event handler e for the unit; its actions join the plan. */
static void handler(SyncRun *R, Unit *u, Entry e, Rec *l, Rec *r) {
    if (R->s->entry[e] == NO_ENTRY) return;
    vm(R, l, r, NULL, e, NULL);
    take_actions(R, u);
}

static void ids_add(Arena *a, IdList *l, const char *id);

/* A record whose changes hold a value its field cannot take: skipped with
 * the reason and the rule behind the value; its changes were dropped. */
static void skip_unfit(SyncRun *R, Unit *u, Rec *x) {
    Action a;
    memset(&a, 0, sizeof a);
    a.kind = ACT_SKIP;
    a.arg = UINT32_MAX;
    a.msg = u->unfit;
    a.pc = u->unfit_pc;
    stopped(R, &a, x, x->side);
}

/* A linked (or newly paired) pair: merge every map. */
static void decide_pair(SyncRun *R, Rec *x, Rec *y, int64_t link) {
    Engine *E = R->E;
    const PSync *s = R->s;
    Rec *l = x->side == 0 ? x : y, *r = x->side == 0 ? y : x;
    l->partner = r;
    r->partner = l;
    l->done = r->done = 1;
    vm_next_record(E->vm);
    Unit u;
    unit_init(&u, l, r);
    u.base = new_base(R);
    Value res;
    if (vm(R, l, r, NULL, EP_SKIP, &res) != VM_OK) {
        take_actions(R, &u);
        if (u.stop) stopped(R, u.stop, x, x->side);
        return;
    }
    Value *base[2];
    const char *why = NULL;
    int exact;
    if (load_bases(R, link, base, &exact, &why) < 0) {
        note(R, NOTE_ERROR, x, x->side, why, UINT32_MAX);
        return;
    }
    Outcome *o = outcome(R, OUT_PAIR, x->side);
    o->link = link;
    o->id[0] = l->id;
    o->id[1] = r->id;
    o->key = x->key ? x->key : y->key;
    const Value *cb[2] = {base[0], base[1]};
    VmStatus st = vm(R, l, r, base[0] ? cb : NULL, EP_UPDATE, &res);
    take_actions(R, &u);
    if (st != VM_OK && u.stop) {
        /* the pair's changes so far are dropped with it */
        plan_truncate(E->pl, o->first);
        R->nouts--;
        stopped(R, u.stop, x, x->side);
        return;
    }
    for (int t = 0; t < 2; t++) {
        if (!u.wrote[t]) continue;
        handler(R, &u, t ? EP_ON_UPDATE_R : EP_ON_UPDATE_L, l, r);
    }
    if (u.unfit) {
        plan_truncate(E->pl, o->first);
        R->nouts--;
        skip_unfit(R, &u, x);
        return;
    }
    for (int t = 0; t < 2; t++) track(R, &u, t, ST_SYNCED, 1);
    if (base[0] && exact && bases_same(R, base, &u)) u.has_base = 0;
    store_base_outcome(R, o, &u);
    close_outcome(R, o);
    if (!link) pend_link(E, R->name, l->id, r->id);
    /* B09: the pair's accounts are decided after every person */
    if (s->entry[EP_ACCOUNT] != NO_ENTRY && s->account_ref[0] >= 0 && s->account_ref[1] >= 0) {
        const char *a0 = text_of(R, l->r->fields[s->account_ref[0]]), *a1 = text_of(R, r->r->fields[s->account_ref[1]]);
        if (a0 && a1) {
            ids_add(&R->a, &R->acct[0], a0);
            ids_add(&R->a, &R->acct[1], a1);
        }
    }
}

/* A record with no partner: create one on the other side. */
static void decide_create(SyncRun *R, Rec *x, int resurrect, int64_t link) {
    Engine *E = R->E;
    const PSync *s = R->s;
    Plan *pl = E->pl;
    int t = 1 - x->side;
    x->done = 1;
    if (!(s->flow & (t ? 1 : 2))) return;          /* the sync does not flow that way */
    Entry ce = t ? EP_CREATE_R : EP_CREATE_L;
    if (s->entry[ce] == NO_ENTRY || s->side[t].never_create) return;
    vm_next_record(E->vm);
    Unit u;
    unit_init(&u, x->side ? NULL : x, x->side ? x : NULL);
    u.base = new_base(R);
    Value res;
    /* The create first: the skip rules see the pair as it would be. */
    VmStatus cst = vm(R, x->side ? NULL : x, x->side ? x : NULL, NULL, ce, &res);
    ActionBuf created = E->ab;
    actbuf_init(&E->ab);
    const PObject *so = &E->p->objects[s->side[t].object];
    Record *view = arena_alloc(&R->dec, sizeof *view);
    record_init(E->p, s->side[t].object, &R->dec, view);
    vm_created_view(E->vm, R->si, t, view->fields);
    (void)so;
    /* the VM's values last until its next record; the view, this decision */
    for (uint32_t i = 0; i < view->vm.nf; i++)
        if (view->fields[i].t == VT_STR) view->fields[i].u.s = arena_strndup(&R->dec, view->fields[i].u.s, view->fields[i].len);
    Rec vx;
    memset(&vx, 0, sizeof vx);
    vx.r = view;
    vx.side = (uint8_t)t;
    Rec *l = x->side ? &vx : x, *r = x->side ? x : &vx;
    if (vm(R, l, r, NULL, EP_SKIP, &res) != VM_OK) {
        take_actions(R, &u);
        if (u.stop) stopped(R, u.stop, x, x->side);
        actbuf_free(&E->ab);
        E->ab = created;
        return;
    }
    actbuf_free(&E->ab);
    E->ab = created;
    if (cst != VM_OK) {
        u.created[t] = -1;
        take_actions(R, &u);
        if (u.stop) stopped(R, u.stop, x, x->side);
        return;
    }
    Outcome *o = outcome(R, resurrect ? OUT_RESURRECT : OUT_CREATE, x->side);
    o->link = link;
    o->id[x->side] = x->id;
    o->key = x->key;
    Change *c = plan_change(pl, CH_CREATE, R->si, t);
    c->object = s->side[t].create_as;
    c->from = plan_cstr(pl, x->id);
    c->key = plan_cstr(pl, x->key);
    if (s->side[t].list) c->name = plan_cstr(pl, str(E->p, s->side[t].list - 1));
    c->pc = s->entry[ce];
    o->create = (int32_t)(pl->nchanges - 1);
    u.created[t] = o->create;
    take_actions(R, &u);
    if (u.unfit) {
        plan_truncate(pl, o->first);
        R->nouts--;
        skip_unfit(R, &u, x);
        return;
    }
    /* The bases of the new pair: what each end holds once it exists. */
    R->observe = 1;
    vm(R, l, r, NULL, EP_UPDATE, &res);
    R->observe = 0;
    for (size_t i = 0; i < E->ab.n; i++)
        if (E->ab.v[i].kind == ACT_BASE && E->ab.v[i].arg < s->nmaps) {
            u.base[2 * E->ab.v[i].arg] = E->ab.v[i].value;
            u.base[2 * E->ab.v[i].arg + 1] = E->ab.v[i].other;
            u.has_base = 1;
        }
    handler(R, &u, t ? EP_ON_CREATE_R : EP_ON_CREATE_L, l, r);
    for (int k = 0; k < 2; k++) track(R, &u, k, ST_SYNCED, 1);
    store_base_outcome(R, o, &u);
    close_outcome(R, o);
    pend_link(E, R->name, x->side ? NULL : x->id, x->side ? x->id : NULL);
}

/* An event on a linked record x (partner y, which may be absent): the
 * outcome that records it, and the handler's actions.  NULL when x was
 * seen that way before. */
static Outcome *link_event(SyncRun *R, Rec *x, Rec *y, int kind, Entry e) {
    x->done = 1;
    if (y) y->done = 1;
    if (kind != OUT_CONVERT && x->link.deleted[x->side]) return NULL;
    vm_next_record(R->E->vm);
    Unit u;
    unit_init(&u, x->side ? y : x, x->side ? x : y);
    Outcome *o = outcome(R, kind, x->side);
    o->link = x->link.id;
    o->id[0] = x->link.rid[0];
    o->id[1] = x->link.rid[1];
    handler(R, &u, e, u.rec[0], u.rec[1]);
    return o;
}

/* A linked record deleted on its side (B18, B20). */
static void decide_delete(SyncRun *R, Rec *x, Rec *y) {
    Entry e = x->side ? EP_ON_DELETE_R : EP_ON_DELETE_L;
    Outcome *o = link_event(R, x, y, OUT_DELETED, e);
    if (!o) return;
    if (o->first == R->E->pl->nchanges)
        note(R, NOTE_INFO, x, x->side, "deleted; its partner is kept",
             R->s->entry[e] != NO_ENTRY ? vm_last_pc(R->E->vm) : UINT32_MAX);
    close_outcome(R, o);
}

/* A linked contact that left the sync's list (B21). */
static void decide_removed(SyncRun *R, Rec *x, Rec *y) {
    Outcome *o = link_event(R, x, y, OUT_REMOVED, EP_ON_REMOVE);
    if (!o) return;
    note(R, NOTE_INFO, x, x->side, "left the list; the pair is no longer synced", UINT32_MAX);
    close_outcome(R, o);
}

/* The sync a converted record carries on in: the same other side, the
 * object it converted into on this one (B17). */
static int conversion_sync(const Program *p, const PSync *s, int side, uint32_t to) {
    for (uint32_t i = 0; i < p->nsyncs; i++) {
        const PSync *t = &p->syncs[i];
        if (t->side[side].object == to && t->side[1 - side].object == s->side[1 - side].object &&
            t->side[1 - side].source == s->side[1 - side].source && t->side[side].source == s->side[side].source)
            return (int)i;
    }
    return -1;
}

static void decide_convert(SyncRun *R, Rec *x, Rec *y, const char *new_id) {
    Engine *E = R->E;
    const Program *p = E->p;
    const PObject *o = &p->objects[x->r->object];
    int ts = o->converts_to >= 0 ? conversion_sync(p, R->s, x->side, (uint32_t)o->converts_to) : -1;
    Outcome *oc = link_event(R, x, y, OUT_CONVERT, EP_ON_CONVERT);
    Buf b;
    buf_init(&b);
    if (ts >= 0 && new_id) {
        oc->move_sync = str(p, p->syncs[ts].name);
        oc->move_object = str(p, p->objects[o->converts_to].name);
        oc->move_id = plan_str(E->pl, new_id);
        buf_printf(&b, "converted to %s %s: the link moves to sync %s", oc->move_object, new_id, oc->move_sync);
        const char *other = x->link.rid[1 - x->side];
        if (!E->o->apply) {
            if (x->side == 0) pend_link(E, oc->move_sync, new_id, other);
            else pend_link(E, oc->move_sync, other, new_id);
        }
    } else {
        buf_printf(&b, "converted%s; no sync of %s with the same partner carries it on",
                   new_id ? "" : " (the new record is not known yet)",
                   o->converts_to >= 0 ? str(p, p->objects[o->converts_to].name) : "its new object");
    }
    note(R, NOTE_INFO, x, x->side, buf_str(&b), UINT32_MAX);
    buf_free(&b);
    close_outcome(R, oc);
}

/* ------------------------------------------------------------ one sync */

static void ids_add(Arena *a, IdList *l, const char *id) {
    if (l->n == l->cap) l->v = arena_grow(a, l->v, l->n, &l->cap, 32, sizeof *l->v);
    l->v[l->n++] = id;
}

static const char *cursor_object(SyncRun *R, int k) {
    const Program *p = R->E->p;
    Buf b;
    buf_init(&b);
    buf_printf(&b, "%s@%s", str(p, p->objects[R->s->side[k].object].name), R->name);
    const char *s = arena_strdup(&R->a, buf_str(&b));
    buf_free(&b);
    return s;
}

/* A stored cursor: "<ms>", or "<ms> <token>" (ChangeCursor). */
static void cursor_parse(const char *s, int64_t dflt, ChangeCursor *c) {
    char *end = NULL;
    c->since = s ? strtoll(s, &end, 10) : dflt;
    c->token = end && *end == ' ' && end[1] ? end + 1 : NULL;
    c->newest = c->since;
    c->whole = 0;
    buf_init(&c->next);
}

static const char *cursor_text(Arena *a, int64_t newest, const char *token) {
    return token && *token ? arena_printf(a, "%lld %s", (long long)newest, token) : arena_printf(a, "%lld", (long long)newest);
}

static int read_side(SyncRun *R, int k, const char *stored, int64_t dflt, RecordSink *to, Buf *err) {
    Connector *src = R->src[k];
    src->cx.a = side_arena(R, k);
    RecordSink sink = {R, on_record, on_bad, k == 1 && R->spilling ? rs_page_end : NULL};
    if (to) sink = *to;
    R->side_reading = k;
    R->fetching = 0;
    ChangeCursor cur;
    cursor_parse(stored, dflt, &cur);
    int rc = src->ops->changed(src, R->s->side[k].object, &cur, &sink, err);
    if (rc == 0 && k == 1 && R->spilling) rc = rs_settle(R, err);
    /* An initial read that found nothing has still seen everything up to
     * now; without a cursor the next run would be initial again. */
    if (cur.newest == INT64_MIN) cur.newest = R->E->o->now;
    R->newest[k] = cur.newest;
    R->whole[k] = cur.whole;
    R->token[k] = cur.next.n ? arena_strdup(&R->a, buf_str(&cur.next)) : NULL;
    buf_free(&cur.next);
    return rc;
}

static int fetch(SyncRun *R, int k, IdList *ids, Buf *err) {
    if (!ids->n) return 0;
    Connector *src = R->src[k];
    src->cx.a = k == 1 && R->spilling ? &R->rs.mat : &R->a;
    RecordSink sink = {R, on_record, on_bad, NULL};
    R->side_reading = k;
    R->fetching = 1;
    int rc = src->ops->get(src, R->s->side[k].object, ids->v, ids->n, &sink, err);
    R->fetching = 0;
    if (rc == 0 && k == 1 && R->spilling) rc = rs_settle(R, err);
    return rc;
}

/* The connector is done with what it decoded for the found records: those
 * kept are copied out (keep_slim). */
static void on_slim_page(void *ctx) {
    SyncRun *R = ctx;
    arena_reset(&R->lscr);
}

static int find_keys(SyncRun *R, int k, IdList *keys, Buf *err) {
    if (!keys->n) return 0;
    Connector *src = R->src[k];
    int slim = k == 0 && R->slim;
    src->cx.a = slim ? &R->lscr : k == 1 && R->spilling ? &R->rs.mat : &R->a;
    RecordSink sink = {R, on_record, on_bad, slim ? on_slim_page : NULL};
    R->side_reading = k;
    R->fetching = 1;
    struct { SyncRun *R; int side; } kc = {R, k};
    int rc = src->ops->find(src, R->s->side[k].object, R->s->match_field[k], keys->v, keys->n, key_fn, &kc, &sink, err);
    R->fetching = 0;
    if (rc == 0 && k == 1 && R->spilling) rc = rs_settle(R, err);
    return rc;
}

/* Whether the sync's selection takes x: 1, 0, or -1 when the rules fail
 * on it (the reasons in E->ab). */
static int selects(SyncRun *R, Rec *x) {
    Entry e = x->side ? EP_SELECT_R : EP_SELECT_L;
    if (R->s->entry[e] == NO_ENTRY) return 1;
    vm_next_record(R->E->vm);
    Value v;
    VmStatus st = vm(R, x->side ? NULL : x, x->side ? x : NULL, NULL, e, &v);
    return st == VM_ERROR ? -1 : truthy(v);
}

static int is_selected(SyncRun *R, Rec *x) {
    if (x->sel) return x->sel == 1;
    int sel = selects(R, x);
    if (sel < 0) {
        for (size_t i = 0; i < R->E->ab.n; i++)
            if (R->E->ab.v[i].kind == ACT_ERROR) note(R, NOTE_ERROR, x, x->side, R->E->ab.v[i].msg, R->E->ab.v[i].pc);
        return 0;
    }
    return sel;
}

/* Whether the left selection asks of links (`linked`, a via): what it
 * says of a record then depends on when it is asked. */
static int scan_select(SyncRun *R) {
    const Program *p = R->E->p;
    uint32_t pc = R->s->entry[EP_SELECT_L], reach = pc;
    if (pc == NO_ENTRY) return 0;
    for (; pc < p->ncode; pc++) {
        const Instr *in = &p->code[pc];
        if (in->op == OP_LINKED || in->op == OP_VIA) return 1;
        if (in->op == OP_JMP || in->op == OP_JMPIF || in->op == OP_JMPIFNOT) {
            uint32_t to = (uint32_t)in->b | (uint32_t)in->c << 16;
            if (to > reach) reach = to;
        }
        if ((in->op == OP_RET || in->op == OP_HALT) && pc >= reach) return 0;
    }
    return 0;
}

/* scan_select, once a sync. */
static int select_reads_links(SyncRun *R) {
    if (!R->late_select) R->late_select = scan_select(R) ? 1 : 2;
    return R->late_select == 1;
}

/* Whether the selection rejects left record x, asked before its
 * decision (which then reuses the answer): such a record is decided
 * without a partner, so none is looked up for it.  Not where the answer
 * could change by then (a selection that reads links), nor where the
 * rules fail on it (decide_one says why). */
static int rejected_early(SyncRun *R, Rec *x) {
    if (select_reads_links(R)) return 0;
    int sel = selects(R, x);
    if (sel >= 0) x->sel = sel ? 1 : 2;
    return sel == 0;
}

/* A left record found by key for the right side's changes (R->slim).  One
 * the selection rejects can only make a right record of its key skip
 * (key_unselected; key_taken once it turns out linked), as decide_one
 * would find asking it then: it is kept as a stub, its id and key.  The
 * rest is copied whole out of lscr.  At 1M leads, the 1% incremental run
 * held 9,000 such leads decoded, 11 MB, four in five of them rejected. */
static void keep_slim(SyncRun *R, Record *r) {
    Rec tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.r = r;
    tmp.id = r->vm.id;
    int sel = r->deleted ? -1 : selects(R, &tmp);
    if (sel == 0) {
        Rec *x = arena_alloc(&R->a, sizeof *x);
        x->done = 1;
        x->unselected = 1;
        x->id = arena_strdup(&R->a, r->vm.id);
        x->key = key_of(R, &tmp);
        list_rec(R, 0, x, 1);
        return;
    }
    /* the answer stands for decide_one, which would ask again */
    Rec *x = add_rec(R, 0, record_copy(R->E->p, r, &R->a), 1);
    if (sel == 1) x->sel = 1;
}

static int is_converted(SyncRun *R, Rec *x, const char **new_id) {
    Entry e = x->side ? EP_CONVERTED_R : EP_CONVERTED_L;
    *new_id = NULL;
    if (R->s->entry[e] == NO_ENTRY) return 0;
    vm_next_record(R->E->vm);
    Value v;
    vm(R, x->side ? NULL : x, x->side ? x : NULL, NULL, e, &v);
    if (!truthy(v)) return 0;
    const PObject *o = &R->E->p->objects[x->r->object];
    if (o->converted_by >= 0 && !o->by_other && (uint32_t)o->converted_by < x->r->vm.nf)
        *new_id = text_of(R, x->r->fields[o->converted_by]);
    return 1;
}

static void record_found(void *ctx, Record *r) {
    const char **id = ctx;
    if (!*id && r->vm.id) *id = r->vm.id;
}

static void ignore_bad(void *ctx, const char *id, const char *reason) {
    (void)ctx; (void)id; (void)reason;
}

/* The record a conversion made when only it points back (Dynamics: the
 * contact whose originatingleadid is the lead). */
static const char *find_converted(SyncRun *R, Rec *x, Buf *err) {
    const Program *p = R->E->p;
    const PObject *o = &p->objects[x->r->object];
    if (!o->by_other || o->converts_to < 0 || o->converted_by < 0) return NULL;
    Connector *src = R->src[x->side];
    const char *id = NULL;
    RecordSink sink = {(void *)&id, record_found, ignore_bad, NULL};
    const char *vals[1] = {x->id};
    src->cx.a = &R->a;
    if (src->ops->find(src, (uint32_t)o->converts_to, o->converted_by, vals, 1, NULL, NULL, &sink, err) != 0) return NULL;
    return id;
}

typedef struct QCtx {
    SyncRun *R;
    int only;
    IdList ids[2];
} QCtx;

/* ------------------------------------------------------------ applying */

static const char *json_of(Arena *a, Value v) {
    if (v.t == VT_NULL || v.t == VT_NONE) return NULL;
    Buf b;
    buf_init(&b);
    value_json(v, &b);
    const char *s = arena_strdup(a, buf_str(&b));
    buf_free(&b);
    return s;
}

static int record_outcomes(SyncRun *R, ApplyResult *res, Buf *err);

/* The rule behind a change, file:line (an owed change's as it was). */
static const char *change_rule(SyncRun *R, const Change *c) {
    if (c->rule) return c->rule;
    Buf b;
    buf_init(&b);
    plan_rule(R->E->p, c->pc, &b);
    const char *s = b.n ? arena_strdup(&R->oa, buf_str(&b)) : NULL;
    buf_free(&b);
    return s;
}

/* Keeps action c as owed to the record create made (id: its id, when the
 * system has shown it; NULL: found later by partner or key). */
static int owe(SyncRun *R, const Change *c, const char *id, const Change *create) {
    Engine *E = R->E;
    Owed o;
    memset(&o, 0, sizeof o);
    o.sync = R->name;
    o.side = c->side;
    o.object = str(E->p, E->p->objects[c->object].name);
    o.id_rec = id;
    o.partner = create->from;
    o.key = create->key;
    o.action = plan_action_name((ChangeKind)c->kind);
    o.name = c->name;
    o.rule = change_rule(R, c);
    o.since = E->o->now;
    return store_owed_add(E->st, &o);
}

/* ------------------------------------------------------------ owed actions */

typedef struct OwedList {
    Arena *a;
    Owed *v;
    uint32_t n, cap;
} OwedList;

static int owed_collect(void *ctx, const Owed *o) {
    OwedList *l = ctx;
    if (l->n == l->cap) l->v = arena_grow(l->a, l->v, l->n, &l->cap, 8, sizeof *l->v);
    l->v[l->n++] = *o;
    return 0;
}

/* Records found for owed actions, by id and by key. */
typedef struct OwedFound {
    SyncRun *R;
    int side;
    Symtab *byid, *bykey;
} OwedFound;

static void owed_found(void *ctx, Record *r) {
    OwedFound *of = ctx;
    if (!r->vm.id) return;
    symtab_put(of->byid, r->vm.id, r);
    Buf k;
    buf_init(&k);
    struct { SyncRun *R; int side; } kc = {of->R, of->side};
    if (key_fn(&kc, r, &k) == 0) symtab_put(of->bykey, arena_strdup(&of->R->a, buf_str(&k)), r);
    buf_free(&k);
}

static ChangeKind owed_kind(const char *action) {
    for (int k = CH_TAG; k <= CH_AUTOMATE; k++)
        if (!strcmp(plan_action_name((ChangeKind)k), action)) return (ChangeKind)k;
    return CH_CREATE;   /* none of them */
}

/* The actions earlier runs owe this sync's records, put first in its plan:
 * each record is read (by id, or by its partner's link, or by its key) to
 * see whether it still needs the action; one not there yet waits. */
static int pay_owed(SyncRun *R, Buf *err) {
    Engine *E = R->E;
    Plan *pl = E->pl;
    OwedList ol = {&R->a, NULL, 0, 0};
    if (store_owed_each(E->st, R->name, &R->a, &ol, owed_collect) != 0) {
        buf_puts(err, store_error(E->st));
        return -1;
    }
    if (!ol.n) return 0;
    const char **target = arena_alloc(&R->a, ol.n * sizeof *target);
    Symtab byid[2], bykey[2];
    for (int k = 0; k < 2; k++) {
        symtab_init(&byid[k], &R->a);
        symtab_init(&bykey[k], &R->a);
        IdList ids = {0}, keys = {0};
        for (uint32_t i = 0; i < ol.n; i++) {
            Owed *o = &ol.v[i];
            if (o->side != k) continue;
            target[i] = o->id_rec;
            if (!target[i] && o->partner) {
                Link l;
                if (find_link(E, R->name, 1 - k, o->partner, &R->a, &l) > 0) target[i] = l.rid[k];
            }
            if (target[i]) ids_add(&R->a, &ids, target[i]);
            else if (o->key && R->s->match_field[k] >= 0) ids_add(&R->a, &keys, o->key);
        }
        Connector *src = R->src[k];
        OwedFound of = {R, k, &byid[k], &bykey[k]};
        RecordSink sink = {&of, owed_found, ignore_bad, NULL};
        struct { SyncRun *R; int side; } kc = {R, k};
        src->cx.a = &R->a;
        if (ids.n && src->ops->get(src, R->s->side[k].object, ids.v, ids.n, &sink, err) != 0) return -1;
        if (keys.n && src->ops->find(src, R->s->side[k].object, R->s->match_field[k], keys.v, keys.n, key_fn, &kc,
                                     &sink, err) != 0)
            return -1;
    }
    for (uint32_t i = 0; i < ol.n; i++) {
        Owed *o = &ol.v[i];
        int k = o->side;
        ChangeKind kind = owed_kind(o->action);
        Record *r = target[i] ? symtab_get(&byid[k], target[i]) : o->key ? symtab_get(&bykey[k], o->key) : NULL;
        if (kind == CH_CREATE || (!r && target[i])) {
            /* an action this tandem does not know, or its record is gone:
             * nothing can be sent for it */
            if (E->o->apply && store_owed_done(E->st, o->id) != 0) goto state_failed;
            continue;
        }
        if (!r) {
            Buf b;
            buf_init(&b);
            buf_printf(&b, "%s \"%s\" waits for the record tandem created in %s to appear there", o->action, o->name,
                       R->src[k]->name);
            Note *nt = plan_note(pl, NOTE_WAIT, R->si, k);
            nt->object = R->s->side[k].object;
            nt->key = plan_str(pl, o->key);
            nt->reason = plan_str(pl, buf_str(&b));
            buf_free(&b);
            continue;
        }
        const char *ref = NULL;
        int have = kind == CH_TAG || kind == CH_UNTAG ? has_tag(r, o->name, &ref) : on_list(r, o->name);
        if ((kind == CH_TAG && have) || (kind == CH_UNTAG && !have) || (kind == CH_LIST_ADD && have) ||
            (kind == CH_LIST_REMOVE && !have && r->nlists)) {
            /* done already: the run that died sent it */
            if (E->o->apply && store_owed_done(E->st, o->id) != 0) goto state_failed;
            continue;
        }
        Change *c = plan_change(pl, kind, R->si, k);
        c->object = r->object;
        c->id = plan_cstr(pl, r->vm.id);
        c->from = plan_cstr(pl, o->partner);
        c->key = plan_cstr(pl, o->key);
        c->name = plan_cstr(pl, o->name);
        c->ref = plan_cstr(pl, ref);
        c->rule = plan_cstr(pl, o->rule);
        c->owed = o->id;
    }
    return 0;
state_failed:
    buf_puts(err, store_error(E->st));
    return -1;
}

/* A record an asynchronous create made, found by its key: the create's
 * result gets its id. */
typedef struct AsyncFound {
    SyncRun *R;
    int side;
    Symtab *want;          /* key -> ApplyResult of its create */
} AsyncFound;

static void async_found(void *ctx, Record *r) {
    AsyncFound *af = ctx;
    Buf k;
    buf_init(&k);
    struct { SyncRun *R; int side; } kc = {af->R, af->side};
    if (r->vm.id && key_fn(&kc, r, &k) == 0) {
        ApplyResult *res = symtab_get(af->want, buf_str(&k));
        if (res && !res->id) res->id = arena_strdup(&af->R->oa, r->vm.id);
    }
    buf_free(&k);
}

/* Sends the changes decided since the last part and records them with
 * their outcomes; the sync's last part also moves its cursors.  A
 * streamed sync applies a part every APPLY_PART outcomes, so what a run
 * holds until it records follows the part, not the sync (docs/state.md:
 * a run that fails part-way keeps the parts it recorded, and reads the
 * same changes again next time, as the cursors did not move). */
static int apply_part(SyncRun *R, int last, Buf *err) {
    Engine *E = R->E;
    Plan *pl = E->pl;
    uint32_t first = R->part_first, n = pl->nchanges - first;
    ApplyResult *res = arena_alloc(&R->oa, (n + 1) * sizeof *res);
    int64_t *intent = arena_alloc(&R->oa, (n + 1) * sizeof *intent);
    /* Journal first: what is about to be sent, committed on its own. */
    if (n) {
        if (store_begin(E->st) != 0) goto state_failed;
        for (uint32_t i = 0; i < n; i++) {
            const Change *c = &pl->changes[first + i];
            Intent in;
            memset(&in, 0, sizeof in);
            in.run = E->res->run;
            in.sync = R->name;
            in.source = R->src[c->side]->name;
            in.object = str(E->p, E->p->objects[c->object].name);
            in.side = c->side;
            in.action = plan_action_name((ChangeKind)c->kind);
            in.id_rec = c->id;
            /* an action on a record this part creates is named as its create is */
            const Change *named = c->created >= 0 ? &pl->changes[c->created] : c;
            in.partner = named->from;
            in.key = named->key;
            in.name = c->name;
            in.rule = change_rule(R, c);
            in.at = E->o->now;
            if (store_intent_add(E->st, &in, &intent[i]) != 0) goto state_failed;
        }
        if (store_commit(E->st) != 0) goto state_failed;
    }
    for (int k = 0; k < 2; k++) {
        uint32_t *idx = arena_alloc(&R->oa, (n + 1) * sizeof *idx);
        ApplyResult *kr = arena_alloc(&R->oa, (n + 1) * sizeof *kr);
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++)
            if (pl->changes[first + i].side == k) idx[m++] = first + i;
        if (!m) continue;
        if (R->src[k]->ops->apply(R->src[k], pl, idx, m, kr, err) != 0) return -1;
        for (uint32_t j = 0; j < m; j++) res[idx[j] - first] = kr[j];
    }
    /* An action on a record whose create answered no id was not sent: it
     * is owed (below), whatever the lookup that follows finds. */
    uint8_t *noid = arena_alloc(&R->oa, n + 1);
    for (uint32_t i = 0; i < n; i++) {
        const Change *c = &pl->changes[first + i];
        noid[i] = c->created >= (int32_t)first && res[c->created - first].ok && !res[c->created - first].id;
    }
    /* A system that creates asynchronously (GetResponse answers 202 and no
     * id) may show the records already: found by their keys now (one find
     * a side), they are linked in this run, so a later sync does not take
     * them for strangers. */
    for (int k = 0; k < 2; k++) {
        IdList keys = {0};
        Symtab want;
        symtab_init(&want, &R->oa);
        for (uint32_t i = 0; i < n; i++) {
            const Change *c = &pl->changes[first + i];
            if (c->side != k || c->kind != CH_CREATE || !res[i].ok || res[i].id || !c->key ||
                R->s->match_field[k] < 0 || c->object != R->s->side[k].object || symtab_get(&want, c->key)) continue;
            symtab_put(&want, c->key, &res[i]);
            ids_add(&R->oa, &keys, c->key);
        }
        if (!keys.n) continue;
        Connector *src = R->src[k];
        AsyncFound af = {R, k, &want};
        RecordSink sink = {&af, async_found, ignore_bad, NULL};
        struct { SyncRun *R; int side; } kc = {R, k};
        Buf ignore;
        buf_init(&ignore);
        src->cx.a = &R->oa;
        src->ops->find(src, R->s->side[k].object, R->s->match_field[k], keys.v, keys.n, key_fn, &kc, &sink, &ignore);
        buf_free(&ignore);
    }
    if (E->o->crash_after_send && last) {
        E->res->crashed = 1;
        buf_puts(err, "stopped after sending, before recording (the crash test hook)");
        return -1;
    }
    if (store_begin(E->st) != 0) goto state_failed;
    for (uint32_t i = 0; i < n; i++) {
        const Change *c = &pl->changes[first + i];
        if (c->owed && store_owed_done(E->st, c->owed) != 0) goto state_failed;
        if (!res[i].ok && c->kind >= CH_TAG && noid[i]) {
            const ApplyResult *made = &res[c->created - first];
            /* its record is made later (GetResponse): owed to it, sent once
             * a run finds it, not lost */
            if (owe(R, c, made->id, &pl->changes[c->created]) != 0) goto state_failed;
            E->res->owed++;
        } else if (res[i].ok) {
            E->res->applied++;
        } else {
            E->res->failed++;
            buf_printf(&E->res->failures, "%s %s.%s %s: %s\n", plan_action_name((ChangeKind)c->kind), R->src[c->side]->name,
                       str(E->p, E->p->objects[c->object].name), c->id ? c->id : c->from ? c->from : "",
                       res[i].error ? res[i].error : "failed");
        }
        if (store_intent_done(E->st, intent[i]) != 0) goto state_failed;
    }
    if (record_outcomes(R, res, err) != 0) {
        buf_printf(err, "recording the run: %s", store_error(E->st));
        store_rollback(E->st);
        return -1;
    }
    for (int k = 0; k < 2 && last; k++) {
        if (R->newest[k] != INT64_MIN &&
            store_cursor_put(E->st, R->src[k]->name, cursor_object(R, k), cursor_text(&R->a, R->newest[k], R->token[k]),
                             E->o->now) != 0) goto state_failed;
        if (R->account_sync && R->acct_newest[k] != INT64_MIN &&
            store_cursor_put(E->st, R->src[k]->name, R->account_sync,
                             cursor_text(&R->a, R->acct_newest[k], R->acct_token[k]), E->o->now) != 0) goto state_failed;
    }
    if (last && store_sync_ran(E->st, R->name, E->o->now, pl->sum[R->si].errors == 0) != 0) goto state_failed;
    if (store_commit(E->st) != 0) goto state_failed;
    plan_flush(pl, R->si);
    R->part_first = pl->nchanges;
    R->part_note = pl->nnotes;
    R->outs = NULL;
    R->nouts = R->capouts = 0;
    arena_reset(&R->oa);
    return 0;
state_failed:
    buf_printf(err, "%s", store_error(E->st));
    store_rollback(E->st);
    return -1;
}

static int audit(SyncRun *R, const Change *c, const char *id) {
    Engine *E = R->E;
    const Program *p = E->p;
    AuditEntry a;
    memset(&a, 0, sizeof a);
    a.run = E->res->run;
    a.sync = R->name;
    a.source = R->src[c->side]->name;
    a.object = str(p, p->objects[c->object].name);
    a.id = id;
    a.action = plan_action_name((ChangeKind)c->kind);
    a.at = E->o->now;
    Buf rule;
    buf_init(&rule);
    int rc = 0;
    if (c->nsets) {
        for (uint32_t k = 0; k < c->nsets && rc == 0; k++) {
            const FieldSet *f = &c->sets[k];
            buf_reset(&rule);
            plan_rule(p, f->pc, &rule);
            a.field = str(p, p->fields[p->objects[c->object].first_field + f->field].name);
            a.before = json_of(&R->a, f->before);
            a.after = json_of(&R->a, f->after);
            a.rule = rule.n ? buf_str(&rule) : NULL;
            rc = store_audit_add(E->st, &a);
        }
    } else {
        plan_rule(p, c->pc, &rule);
        a.field = c->name;
        a.rule = rule.n ? buf_str(&rule) : NULL;
        rc = store_audit_add(E->st, &a);
    }
    buf_free(&rule);
    return rc;
}

/* A pair's bases as its link keeps them: {"map key": [left, right], ...}
 * (docs/state.md); b stays empty when the pair has none. */
static void bases_text(SyncRun *R, Value *const base[2], int account, Buf *b) {
    const Program *p = R->E->p;
    if (!base[0] && !base[1]) return;
    buf_putc(b, '{');
    for (uint32_t m = 0; m < R->s->nmaps; m++) {
        const PMap *pm = &p->maps[R->s->first_map + m];
        if (pm->account != account) continue;
        if (b->n > 1) buf_puts(b, ", ");
        const char *key = str(p, pm->key);
        buf_json_str(b, key, strlen(key));
        buf_puts(b, ": [");
        value_json(base[0] ? base[0][m] : v_null(), b);
        buf_puts(b, ", ");
        value_json(base[1] ? base[1][m] : v_null(), b);
        buf_putc(b, ']');
    }
    buf_putc(b, '}');
}

/* What syncing the pair changed, for its link's row: its bases (text in
 * b), when it was synced (if it sent anything) and the change times the
 * systems gave the outcome's writes (Link.written: the newest of each
 * side's that said one). */
static LinkSync pair_sync(SyncRun *R, const Outcome *o, int64_t synced, const ApplyResult *res, Buf *b) {
    LinkSync ls = {NULL, synced, {0, 0}};
    for (uint32_t c = o->first; c < o->first + o->n; c++) {
        const ApplyResult *r = &res[c - R->part_first];
        int k = R->E->pl->changes[c].side;
        if (r->ok && r->modified > ls.written[k]) ls.written[k] = r->modified;
    }
    bases_text(R, o->base, o->account, b);
    if (b->n) ls.base = buf_str(b);
    return ls;
}

/* The pair's link, made (link 0) with what its sync left, or brought up
 * to it in one write; *link is the link's id. */
static int put_pair(SyncRun *R, const Outcome *o, int64_t *link, const char *sync, const char *const obj[2],
                    const char *const id[2], int64_t synced, const ApplyResult *res) {
    Store *st = R->E->st;
    Buf b;
    buf_init(&b);
    LinkSync ls = pair_sync(R, o, synced, res, &b);
    int rc = 0;
    if (*link == 0)
        rc = store_link_add(st, sync, obj[0], id[0], obj[1], id[1], R->E->o->now, &ls, link);
    else if (*link > 0)
        rc = store_link_sync(st, *link, &ls);
    buf_free(&b);
    return rc;
}

static int record_outcomes(SyncRun *R, ApplyResult *res, Buf *err) {
    Engine *E = R->E;
    const Program *p = E->p;
    Plan *pl = E->pl;
    Store *st = E->st;
    const PSync *s = R->s;
    int64_t now = E->o->now;
    uint32_t first = R->part_first;
    (void)err;
    for (uint32_t i = 0; i < R->nouts; i++) {
        Outcome *o = &R->outs[i];
        int failed = 0, failed_write = 0;
        const char *why = NULL;
        int side = o->side;
        const char *sobj = str(p, p->objects[s->side[side].object].name);
        const char *rid = o->id[side];
        for (uint32_t c = o->first; c < o->first + o->n; c++) {
            ApplyResult *r = &res[c - first];
            const Change *ch = &pl->changes[c];
            if (!r->ok) {
                failed = 1;
                if (ch->kind == CH_CREATE || ch->kind == CH_UPDATE || ch->kind == CH_DELETE) failed_write = 1;
                if (!why) why = r->error;
                /* every refusal is an error of the run, with its record */
                const char *cid = ch->id ? ch->id : ch->from;
                if (store_error_add(st, E->res->run, R->name, ch->side, str(p, p->objects[ch->object].name), cid,
                                    r->error ? r->error : "refused", rule_of(R, ch->pc), now) != 0) return -1;
                continue;
            }
            const char *id = ch->id;
            if (ch->kind == CH_CREATE) id = r->id;
            else if (ch->created >= 0) id = res[ch->created - first].id;
            if (audit(R, ch, id) != 0) return -1;
        }
        if (failed && rid && store_status_put(st, R->name, side, sobj, rid, "error", why, now) != 0) return -1;
        /* A write the system refused keeps its pair unsynced: no new bases,
         * so the next run tries again; a create that failed is queued. */
        if (failed_write && (o->kind == OUT_CREATE || o->kind == OUT_RESURRECT)) {
            if (rid && store_queue_add(st, R->name, side, rid, why, now) != 0) return -1;
            continue;
        }
        if (failed_write && o->kind == OUT_PAIR) {
            if (o->link == 0 && o->id[0] && o->id[1] &&
                store_link_add(st, R->name, str(p, p->objects[s->side[0].object].name), o->id[0],
                               str(p, p->objects[s->side[1].object].name), o->id[1], now, NULL, NULL) != 0) return -1;
            continue;
        }
        switch (o->kind) {
        case OUT_PAIR: {
            int64_t link = o->link;
            /* accounts (B09) are linked apart from the people */
            uint32_t obj[2] = {s->side[0].object, s->side[1].object};
            if (o->account) {
                obj[0] = (uint32_t)s->side[0].account;
                obj[1] = (uint32_t)s->side[1].account;
            }
            const char *oname[2] = {str(p, p->objects[obj[0]].name), str(p, p->objects[obj[1]].name)};
            const char *oid[2] = {o->id[0], o->id[1]};
            if (put_pair(R, o, &link, o->account ? R->account_sync : R->name, oname, oid, o->n ? now : 0, res) != 0)
                return -1;
            if (o->account) break;
            for (int k = 0; k < 2; k++)
                if (!failed && o->id[k] &&
                    store_status_put(st, R->name, k, str(p, p->objects[s->side[k].object].name), o->id[k], "synced",
                                     NULL, now) != 0) return -1;
            if (rid && store_queue_remove(st, R->name, side, rid) != 0) return -1;
            break;
        }
        case OUT_CREATE: case OUT_RESURRECT: {
            const Change *cc = &pl->changes[o->create];
            const char *nid = res[o->create - first].id;
            int t = cc->side;
            if (!nid) {
                /* The system makes records asynchronously (GetResponse): the
                 * next run pairs the new record by its match key. */
                if (store_status_put(st, R->name, side, sobj, rid, "waiting", "created; its id is read on the next sync", now) != 0) return -1;
                break;
            }
            int64_t link = o->link;
            const char *tobj = str(p, p->objects[cc->object].name);
            if (o->kind == OUT_RESURRECT && link > 0) {
                if (store_link_move(st, link, R->name, t, tobj, nid) != 0) return -1;
            } else {
                link = 0;
            }
            const char *oname[2] = {t ? sobj : tobj, t ? tobj : sobj};
            const char *oid[2] = {t ? rid : nid, t ? nid : rid};
            if (put_pair(R, o, &link, R->name, oname, oid, 0, res) != 0) return -1;
            if (!failed && store_status_put(st, R->name, side, sobj, rid, "synced", NULL, now) != 0) return -1;
            if (store_queue_remove(st, R->name, side, rid) != 0) return -1;
            break;
        }
        case OUT_DELETED: case OUT_REMOVED:
            if (o->link > 0 && store_link_deleted(st, o->link, side, now) != 0) return -1;
            break;
        case OUT_CONVERT:
            if (o->link > 0 && o->move_sync &&
                store_link_move(st, o->link, o->move_sync, side, o->move_object, o->move_id) != 0) return -1;
            break;
        case OUT_SKIP:
            if (rid && store_status_put(st, R->name, side, sobj, rid, "skipped", o->reason, now) != 0) return -1;
            if (rid && store_queue_remove(st, R->name, side, rid) != 0) return -1;
            break;
        case OUT_WAIT:
            if (rid && store_status_put(st, R->name, side, sobj, rid, "waiting", o->reason, now) != 0) return -1;
            if (rid && store_queue_add(st, R->name, side, rid, o->reason, now) != 0) return -1;
            break;
        case OUT_ERROR:
            if (store_error_add(st, E->res->run, R->name, side, sobj, rid, o->reason, o->rule, now) != 0) return -1;
            if (rid && store_status_put(st, R->name, side, sobj, rid, "error", o->reason, now) != 0) return -1;
            break;
        }
    }
    /* Records the codecs could not read are errors of this run too. */
    for (uint32_t i = R->part_note; i < pl->nnotes; i++) {
        const Note *n = &pl->notes[i];
        if (n->sync != R->si || n->kind != NOTE_ERROR) continue;
        int covered = 0;
        for (uint32_t k = 0; k < R->nouts; k++)
            if (R->outs[k].kind == OUT_ERROR && R->outs[k].reason == n->reason) covered = 1;
        if (covered) continue;
        if (store_error_add(st, E->res->run, R->name, n->side, str(p, p->objects[n->object].name), n->id, n->reason,
                            NULL, now) != 0) return -1;
        /* in error until it reads and syncs (status: records in error) */
        if (n->id && store_status_put(st, R->name, n->side, str(p, p->objects[n->object].name), n->id, "error",
                                      n->reason, now) != 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ the sync's run */

static Connector *source_named(Engine *E, const char *name) {
    for (uint32_t i = 0; i < E->nsources; i++)
        if (!strcmp(E->sources[i]->name, name)) return E->sources[i];
    return NULL;
}

int64_t engine_next_due(const Program *p, uint32_t sync, int64_t last_run) {
    const PSync *s = &p->syncs[sync];
    int kind = s->sched_kind != SCHED_INHERIT ? s->sched_kind : p->sched_kind;
    uint32_t value = s->sched_kind != SCHED_INHERIT ? s->sched_value : p->sched_value;
    if (!last_run) return INT64_MIN;     /* never ran: due now */
    if (kind == SCHED_OFF) return INT64_MAX;
    if (kind == SCHED_EVERY) return last_run + (int64_t)value * 1000;
    if (kind == SCHED_DAILY) {
        /* the first time of day after the last run */
        int64_t day = last_run - ((last_run % 86400000LL) + 86400000LL) % 86400000LL;
        int64_t at = day + (int64_t)value * 60000;
        return at > last_run ? at : at + 86400000LL;
    }
    return INT64_MIN;                     /* no schedule: every run */
}

/* 1 when another sync between the same two sources links x's record. */
static int linked_elsewhere(SyncRun *R, Rec *x, Buf *err) {
    const Program *p = R->E->p;
    int k = x->side;
    (void)err;
    for (uint32_t j = 0; j < p->nsyncs; j++) {
        const PSync *t = &p->syncs[j];
        if (j == R->si || t->side[k].source != R->s->side[k].source || t->side[k].object != R->s->side[k].object ||
            t->side[1 - k].source != R->s->side[1 - k].source)
            continue;
        Link l;
        if (find_link(R->E, str(p, t->name), k, x->id, R->left, &l) == 1) return 1;
    }
    return 0;
}

/* The records of side k's account object with these ids, by id. */
typedef struct AcctSink {
    SyncRun *R;
    int side;
    Symtab *byid;
} AcctSink;

static void acct_record(void *ctx, Record *r) {
    AcctSink *as = ctx;
    if (!r->vm.id || symtab_get(as->byid, r->vm.id)) return;
    Rec *x = arena_alloc(&as->R->a, sizeof *x);
    x->r = r;
    x->side = (uint8_t)as->side;
    x->id = r->vm.id;
    symtab_put(as->byid, x->id, x);
}

/* B09: the accounts of the pairs decided, merged with the account maps.
 * Two people linked with their accounts on both sides link those accounts
 * too (under "<sync>#account"); an account only one side has is left
 * alone. */
static int decide_accounts(SyncRun *R, Buf *err) {
    Engine *E = R->E;
    const PSync *s = R->s;
    R->acct_newest[0] = R->acct_newest[1] = INT64_MIN;
    if (s->entry[EP_ACCOUNT] == NO_ENTRY || s->side[0].account < 0 || s->side[1].account < 0) return 0;
    R->account_sync = arena_printf(&R->a, "%s#account", R->name);
    Symtab byid[2], done;
    symtab_init(&done, &R->a);
    /* Accounts changed on their own since the last run: their linked
     * partners are decided too. */
    for (int k = 0; k < 2; k++) {
        symtab_init(&byid[k], &R->a);
        const char *cur = NULL;
        if (store_cursor_get(E->st, R->src[k]->name, R->account_sync, &R->a, &cur) < 0) {
            buf_puts(err, store_error(E->st));
            return -1;
        }
        ChangeCursor cc;
        cursor_parse(cur, INT64_MIN, &cc);
        AcctSink as = {R, k, &byid[k]};
        RecordSink sink = {&as, acct_record, on_bad, NULL};
        R->src[k]->cx.a = &R->a;
        R->side_reading = k;
        int rc = R->src[k]->ops->changed(R->src[k], (uint32_t)s->side[k].account, &cc, &sink, err);
        R->acct_newest[k] = cc.newest;
        R->acct_token[k] = cc.next.n ? arena_strdup(&R->a, buf_str(&cc.next)) : NULL;
        buf_free(&cc.next);
        if (rc != 0) return -1;
        for (int i = 0; i < byid[k].n; i++) {
            const char *id = byid[k].order[i].key;
            Link l;
            if (find_link(E, R->account_sync, k, id, &R->a, &l) == 1 && l.rid[1 - k] && *l.rid[1 - k]) {
                ids_add(&R->a, &R->acct[k], id);
                ids_add(&R->a, &R->acct[1 - k], l.rid[1 - k]);
            }
        }
    }
    if (!R->acct[0].n) return 0;
    for (int k = 0; k < 2; k++) {
        IdList need = {0};
        for (uint32_t i = 0; i < R->acct[k].n; i++)
            if (!symtab_get(&byid[k], R->acct[k].v[i])) ids_add(&R->a, &need, R->acct[k].v[i]);
        if (!need.n) continue;
        AcctSink as = {R, k, &byid[k]};
        RecordSink sink = {&as, acct_record, on_bad, NULL};
        R->src[k]->cx.a = &R->a;
        R->side_reading = k;
        if (R->src[k]->ops->get(R->src[k], (uint32_t)s->side[k].account, need.v, need.n, &sink, err) != 0) return -1;
    }
    R->accounts = 1;
    for (uint32_t i = 0; i < R->acct[0].n; i++) {
        const char *id0 = R->acct[0].v[i], *id1 = R->acct[1].v[i];
        const char *pk = arena_printf(&R->a, "%s\x1f%s", id0, id1);
        if (symtab_get(&done, pk)) continue;
        symtab_put(&done, pk, (void *)1);
        Rec *a0 = symtab_get(&byid[0], id0), *a1 = symtab_get(&byid[1], id1);
        if (!a0 || !a1) continue;
        Link l;
        int lr = find_link(E, R->account_sync, 0, id0, &R->a, &l);
        if (lr < 0) {
            buf_puts(err, store_error(E->st));
            R->accounts = 0;
            return -1;
        }
        int64_t link = 0;
        if (lr == 1 && l.rid[1] && !strcmp(l.rid[1], id1)) link = l.id > 0 ? l.id : 0;
        else if (lr == 1) continue; /* linked to another account: people moved; left to the people's syncs */
        a0->linked = a1->linked = link > 0;
        vm_next_record(E->vm);
        Unit u;
        unit_init(&u, a0, a1);
        u.base = new_base(R);
        Value *base[2];
        const char *why = NULL;
        if (load_bases(R, link, base, NULL, &why) < 0) {
            buf_puts(err, why);
            R->accounts = 0;
            return -1;
        }
        Outcome *o = outcome(R, OUT_PAIR, 0);
        o->account = 1;
        o->link = link;
        o->id[0] = id0;
        o->id[1] = id1;
        const Value *cb[2] = {base[0], base[1]};
        Value res;
        vm(R, a0, a1, base[0] ? cb : NULL, EP_ACCOUNT, &res);
        take_actions(R, &u);
        store_base_outcome(R, o, &u);
        close_outcome(R, o);
        if (!link) pend_link(E, R->account_sync, id0, id1);
    }
    R->accounts = 0;
    return 0;
}

/* The tags side k's selection tests (its HasTag instructions). */
static uint32_t flag_tags(SyncRun *R, int k, IdList *out) {
    const Program *p = R->E->p;
    const PSync *s = R->s;
    Entry e = k ? EP_SELECT_R : EP_SELECT_L;
    if (s->entry[e] == NO_ENTRY || !(p->objects[s->side[k].object].caps & CAP_TAGS)) return 0;
    /* the entry's code runs up to the next entry's */
    uint32_t end = s->code_end;
    for (int q = 0; q < EP__COUNT; q++)
        if (s->entry[q] != NO_ENTRY && s->entry[q] > s->entry[e] && s->entry[q] < end) end = s->entry[q];
    for (uint32_t pc = s->entry[e]; pc < end; pc++) {
        const Instr *in = &p->code[pc];
        if (in->op != OP_HASTAG || in->b != k) continue;
        const char *t = str(p, p->tags[in->c]);
        int have = 0;
        for (uint32_t i = 0; i < out->n; i++) if (!strcmp(out->v[i], t)) have = 1;
        if (!have) ids_add(&R->a, out, t);
    }
    return out->n;
}

typedef struct GoneCtx {
    SyncRun *R;
    int side;
    IdList ids;
} GoneCtx;

static int linked_member(void *ctx, const Link *l) {
    GoneCtx *g = ctx;
    const char *id = l->rid[g->side];
    if (!l->deleted[g->side] && id && !symtab_get(&g->R->byid[g->side], id)) ids_add(&g->R->a, &g->ids, arena_strdup(&g->R->a, id));
    return 0;
}

/* x pairs by its key or is created with it: the key is its side's. */
static void claim_key(SyncRun *R, Rec *x) {
    const char *had;
    if (x->key) idset_claim(&R->claimed[x->side], x->key, x->id, &had);
}

/* x has the match key of `first`, read before it on the same side, which
 * this run pairs or creates by it: skipped, or the system would be asked
 * to make one record twice (ActiveCampaign's contact/sync answers both
 * with one id) and the state could not record the second. */
static void key_duplicate(SyncRun *R, Rec *x, const char *first) {
    Buf b;
    buf_init(&b);
    buf_printf(&b, "duplicate key: %s %s has the same match key and is synced by it (the first read)",
               R->src[x->side]->name, first ? first : "?");
    note(R, NOTE_SKIP, x, x->side, buf_str(&b), UINT32_MAX);
    buf_free(&b);
    x->done = 1;
}

/* x's match key belongs to `other`, linked to another record: skipped. */
static void key_taken(SyncRun *R, Rec *x, const char *other) {
    Buf b;
    buf_init(&b);
    buf_printf(&b, "%s %s has the same match key and is linked to another record", R->src[1 - x->side]->name, other);
    note(R, NOTE_SKIP, x, x->side, buf_str(&b), UINT32_MAX);
    buf_free(&b);
    x->done = 1;
}

/* x's match key belongs to a record y of the other side the sync does not
 * select.  Only a sync that would create records on y's side says so: in
 * one that flows only from y's side, x has nothing to do. */
static void key_unselected(SyncRun *R, Rec *x, const Rec *y) {
    x->done = 1;
    if (!(R->s->flow & (y->side ? 1 : 2))) return;
    Buf b;
    buf_init(&b);
    buf_printf(&b, "%s %s has the same match key and the sync does not select it", R->src[y->side]->name,
               y->id ? y->id : "");
    note(R, NOTE_SKIP, x, x->side, buf_str(&b), UINT32_MAX);
    buf_free(&b);
}

/* Decides one record read as a change (step 3 of a sync). */
static void decide_one(SyncRun *R, Rec *x, Buf *err) {
    Engine *E = R->E;
    const Program *p = E->p;
    const PSync *s = R->s;
    int k = x->side;
    if (x->done) return;
    arena_reset(&R->dec);
    int o = 1 - k;
    Rec *y = NULL;
    if (x->linked && x->link.rid[o]) y = find_id(R, o, x->link.rid[o]);
    /* deletes of linked records (B18, B20) */
    if (x->r->deleted) {
        if (x->linked) decide_delete(R, x, y);
        x->done = 1;
        return;
    }
    /* a list sync syncs the list's members only */
    if (s->side[k].list && !x->linked && !on_list(x->r, str(p, s->side[k].list - 1))) {
        x->done = 1;
        return;
    }
    /* B21: a linked contact no longer on the sync's list (this
     * record, or the partner of a record that changed) */
    if (s->side[k].list && x->linked && !on_list(x->r, str(p, s->side[k].list - 1))) {
        decide_removed(R, x, y);
        return;
    }
    if (y && s->side[o].list && !on_list(y->r, str(p, s->side[o].list - 1))) {
        y->linked = 1;
        y->link = x->link;
        decide_removed(R, y, x);
        return;
    }
    /* B17: a converted lead hands its link to the new contact */
    const char *nid = NULL;
    if (is_converted(R, x, &nid)) {
        if (!nid) nid = find_converted(R, x, err);
        if (x->linked) decide_convert(R, x, y, nid);
        x->done = 1;
        return;
    }
    if (!is_selected(R, x)) {
        x->done = 1;
        x->unselected = 1;
        /* B27: a record flagged to sync that does not qualify */
        if (s->track_status[0] == k) {
            uint16_t f = (uint16_t)s->track_status[1];
            Value cur = f < x->r->vm.nf ? x->r->fields[f] : v_null();
            if (value_equal(cur, v_str(ST_WAITING, strlen(ST_WAITING)))) {
                Unit u;
                unit_init(&u, k ? NULL : x, k ? x : NULL);
                Outcome *oc = outcome(R, OUT_SKIP, k);
                oc->id[k] = x->id;
                oc->reason = ST_CRITERIA;
                track(R, &u, k, ST_CRITERIA, 0);
                close_outcome(R, oc);
                note(R, NOTE_SKIP, x, k, "did not meet sync criteria", UINT32_MAX);
            }
        }
        return;
    }
    if (x->linked) {
        if (x->link.deleted[o]) {
            /* B19: the partner was deleted; edited here since */
            Entry re = o ? EP_RESURRECT_R : EP_RESURRECT_L;
            Value v = v_bool(0);
            if (s->entry[re] != NO_ENTRY) {
                vm_next_record(E->vm);
                vm(R, k ? NULL : x, k ? x : NULL, NULL, re, &v);
            }
            if (truthy(v)) {
                uint32_t rpc = vm_last_pc(E->vm);
                decide_create(R, x, 1, x->link.id);
                note(R, NOTE_INFO, x, k, "its partner was deleted; edited since, so it is created again", rpc);
            }
            else {
                note(R, NOTE_INFO, x, k, "its partner was deleted; not re-created",
                     s->entry[re] != NO_ENTRY ? vm_last_pc(E->vm) : UINT32_MAX);
                x->done = 1;
            }
            return;
        }
        if (!y) {
            /* the partner is gone from its system without a delete we saw */
            note(R, NOTE_INFO, x, k, "its partner no longer exists", UINT32_MAX);
            x->done = 1;
            return;
        }
        if (y->r->deleted) {
            y->linked = 1;
            y->link = x->link;
            decide_delete(R, y, x);
            return;
        }
        decide_pair(R, x, y, x->link.id > 0 ? x->link.id : 0);
        return;
    }
    /* Already synced with the same system by another sync (a
     * contact that is a lead there, or a contact): its partner
     * exists; this sync leaves it alone. */
    if (linked_elsewhere(R, x, err) != 0) {
        x->done = 1;
        return;
    }
    /* not linked: pair by key (B03), else create (B01); unless a record
     * of this side read before it paired by the key or was created with
     * it this run: x is its duplicate (docs/plan.md) */
    if (x->key && idset_has(&R->claimed[k], x->key)) {
        const char *first = NULL;
        idset_claim(&R->claimed[k], x->key, x->id, &first);
        key_duplicate(R, x, first);
        return;
    }
    y = find_key(R, o, x->key);
    if (y && s->side[o].list && !on_list(y->r, str(p, s->side[o].list - 1))) y = NULL;
    /* A record the selection of its side rejects is no partner: x neither
     * pairs with it nor becomes a second record of the same key beside it.
     * The left side is decided first, so a first run knows of a left
     * record; of a right one, or a left one read only to pair x with, it
     * is asked here.  Either side alike: a selection means the same
     * whichever side of the sync it is on. */
    if (y && !y->done && !y->linked && !y->r->deleted && !is_selected(R, y)) {
        y->done = 1;
        y->unselected = 1;
    }
    if (y && y->unselected && !y->linked) {
        key_unselected(R, x, y);
        return;
    }
    if (y && !y->done && !y->linked && !y->r->deleted) {
        claim_key(R, x);
        decide_pair(R, x, y, 0);
        return;
    }
    if (y && y->linked) {
        key_taken(R, x, y->id);
        return;
    }
    claim_key(R, x);
    decide_create(R, x, 0, 0);
}

/* ------------------------------------------------------------ ids seen */

static uint32_t id_tag(uint64_t h) { return (uint32_t)(h >> 40); }

/* The slot holding id, or the empty one where it would go: 1 found, 0 not,
 * -1 the spill failed. */
static int idset_slot(IdSet *s, const char *id, size_t len, uint64_t h, uint32_t *at) {
    uint32_t mask = s->nslot - 1, tag = id_tag(h);
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        uint64_t v = s->slot[i];
        *at = i;
        if (!v) return 0;
        if ((v & 0xFFFFFF) != tag) continue;
        if (spill_get(&s->sp, (v >> 24) - 1, &s->got) != 0) return -1;
        /* an entry may carry a value after a NUL (idset_claim) */
        if (s->got.n >= len && !memcmp(s->got.p, id, len) && (s->got.n == len || !s->got.p[len])) return 1;
    }
}

/* Whether id is in the set (a failed spill says it is, and fails the run). */
static int idset_has(IdSet *s, const char *id) {
    if (!s->used) return 0;
    uint32_t at;
    int rc = idset_slot(s, id, strlen(id), khash(id), &at);
    if (rc < 0) s->failed = 1;
    return rc != 0;
}

/* A table twice the size, from the ids read back in the order they came. */
static int idset_grow(IdSet *s) {
    uint32_t n = s->nslot ? s->nslot * 2 : 4096;
    uint64_t *v = calloc(n, sizeof *v);
    if (!v) abort();
    spill_ahead(&s->sp, 1);
    int rc = 0;
    for (uint64_t off = 0; off < s->sp.size && rc == 0; off += sizeof(uint32_t) + s->got.n) {
        if ((rc = spill_get(&s->sp, off, &s->got)) != 0) break;
        uint64_t h = khash(s->got.p);
        uint32_t i = (uint32_t)h & (n - 1);
        while (v[i]) i = (i + 1) & (n - 1);
        v[i] = (off + 1) << 24 | id_tag(h);
    }
    spill_ahead(&s->sp, 0);
    free(s->slot);
    s->slot = v;
    s->nslot = n;
    return rc;
}

static int idset_add_with(IdSet *s, const char *id, const char *val);

/* Adds id; 0 when it was there already (or the spill failed: s->failed). */
static int idset_add(IdSet *s, const char *id) { return idset_add_with(s, id, NULL); }

/* The same, the entry carrying val; when id was there, *had is its value
 * (valid until the set is next used). */
static int idset_claim(IdSet *s, const char *id, const char *val, const char **had) {
    *had = NULL;
    if (idset_add_with(s, id, val)) return 1;
    if (!s->failed && s->got.n > strlen(id)) *had = s->got.p + strlen(id) + 1;
    return 0;
}

static int idset_add_with(IdSet *s, const char *id, const char *val) {
    if (!s->open) {
        spill_open(&s->sp);
        buf_init(&s->got);
        s->open = 1;
    }
    if ((s->used + 1) * 2 > s->nslot && idset_grow(s) != 0) {
        s->failed = 1;
        return 0;
    }
    size_t len = strlen(id);
    uint64_t h = khash(id), off;
    uint32_t at;
    int rc = idset_slot(s, id, len, h, &at);
    if (rc != 0) {
        if (rc < 0) s->failed = 1;
        return 0;
    }
    int put;
    if (val) {
        Buf e;
        buf_init(&e);
        buf_puts(&e, id);
        buf_putc(&e, 0);
        buf_puts(&e, val);
        put = spill_put(&s->sp, e.p, (uint32_t)e.n, &off);
        buf_free(&e);
    } else {
        put = spill_put(&s->sp, id, (uint32_t)len, &off);
    }
    if (put != 0) {
        s->failed = 1;
        return 0;
    }
    s->slot[at] = (off + 1) << 24 | id_tag(h);
    s->used++;
    return 1;
}

static void idset_free(IdSet *s) {
    if (s->open) {
        spill_close(&s->sp);
        buf_free(&s->got);
    }
    free(s->slot);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------ reading apart, pairing */

/* Records queued by earlier runs (waiting, failed creates: B13) come
 * again, changed or not: those of side `only` (-1: both) not read yet. */
static int queued(void *ctx, int side, const char *id, const char *reason, int64_t at) {
    QCtx *q = ctx;
    SyncRun *R = q->R;
    (void)reason;
    (void)at;
    if (side < 0 || side > 1 || (q->only >= 0 && side != q->only)) return 0;
    if (find_id(R, side, id) || (side == 0 && idset_has(&R->seen0, id))) return 0;
    ids_add(&R->a, &q->ids[side], id);
    return 0;
}

static int read_queued(SyncRun *R, int only, Buf *err) {
    QCtx qc = {R, only, {{0}, {0}}};
    if (store_queue_each(R->E->st, R->name, &R->a, &qc, queued) != 0) {
        buf_puts(err, store_error(R->E->st));
        return -1;
    }
    for (int k = 0; k < 2; k++) {
        if (!qc.ids[k].n) continue;
        R->side_reading = k;
        RecordSink sink = {R, on_record, on_bad, NULL};
        R->src[k]->cx.a = side_arena(R, k);
        if (R->src[k]->ops->get(R->src[k], R->s->side[k].object, qc.ids[k].v, qc.ids[k].n, &sink, err) != 0) return -1;
        if (k == 1 && R->spilling && rs_settle(R, err) != 0) return -1;
    }
    return 0;
}

/* B13: records a tag flags for syncing may not have changed (an
 * automation's tag does not touch the record): the tags the selection
 * tests are asked for, and the unlinked records carrying them join. */
static int read_flagged(SyncRun *R, int k, Buf *err) {
    Engine *E = R->E;
    IdList tags = {0};
    if (flag_tags(R, k, &tags) == 0 || !R->src[k]->ops->tagged) return 0;
    uint32_t before = R->n[k];
    RecordSink sink = {R, on_record, on_bad, NULL};
    R->side_reading = k;
    R->fetching = 1;
    R->src[k]->cx.a = side_arena(R, k);
    int rc = R->src[k]->ops->tagged(R->src[k], R->s->side[k].object, tags.v, tags.n, &sink, err);
    R->fetching = 0;
    int spilled = k == 1 && R->spilling;
    if (rc != 0 || (spilled && rs_settle(R, err) != 0)) return -1;
    for (uint32_t i = before; i < R->n[k]; i++) {
        if (spilled && (i - before) % RS_CHUNK == 0) rs_release(R);
        Rec *x = spilled ? rs_load(R, i) : R->recs[k][i];
        if (!x) break;
        /* streamed, and read as a change already: decided with it */
        if (k == 0 && idset_has(&R->seen0, x->id)) {
            x->done = 1;
            continue;
        }
        Link l;
        int lr = find_link(E, R->name, k, x->id, side_arena(R, k), &l);
        if (lr < 0) { buf_puts(err, store_error(E->st)); return -1; }
        if (lr == 1 || linked_elsewhere(R, x, err)) x->done = 1; /* linked: its changes come as changes */
        else x->changed = 1;
    }
    if (spilled) {
        rs_release(R);
        if (R->rs.failed) {
            buf_puts(err, spill_error(&R->rs.sp));
            return -1;
        }
    }
    return 0;
}

/* The links and match keys of side k's records [from, to); with index,
 * the first record of each key is found by it.  The links come in one
 * query for the batch (store_links_find). */
static int index_recs(SyncRun *R, int k, uint32_t from, uint32_t to, int index, Buf *err) {
    if (to <= from || (k == 1 && R->spilling)) return 0; /* rs_settle did */
    uint32_t n = to - from;
    const char **ids = malloc(n * sizeof *ids);
    Link *links = calloc(n, sizeof *links);
    uint8_t *found = malloc(n);
    if (!ids || !links || !found) abort();
    for (uint32_t i = 0; i < n; i++) ids[i] = R->recs[k][from + i]->id;
    int rc = store_links_find(R->E->st, R->name, k, ids, n, side_arena(R, k), links, found);
    if (rc != 0) buf_puts(err, store_error(R->E->st));
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        Rec *x = R->recs[k][from + i];
        x->link = links[i];
        x->linked = found[i] || pending_link(R->E, R->name, k, x->id, &x->link);
        if (echo_of_write(x)) x->done = 1;
    }
    free(ids);
    free(links);
    free(found);
    if (rc != 0) return -1;
    for (uint32_t i = from; i < to; i++) {
        Rec *x = R->recs[k][i];
        if (!x->key && x->r) x->key = key_of(R, x);
        if (x->key && index) symtab_put(&R->bykey[k], x->key, x);
    }
    return 0;
}

/* What records [from, to) of side k still to decide need from the other
 * side and it does not hold: the ids of linked partners, the keys of the
 * rest. */
static void want_partners(SyncRun *R, int k, uint32_t from, uint32_t to, IdList *need, IdList *keys) {
    int o = 1 - k, spilled = k == 1 && R->spilling;
    uint32_t m = 0;
    for (uint32_t i = from; i < to; i++) {
        Rec *x;
        if (spilled) {
            /* Read back the undecided only, a chunk at a time; a linked
             * one's slot has its partner's id, and keys are wanted only
             * from a left side not read whole. */
            uint32_t fl = R->rs.slot[i].flags;
            if (fl & RF_DONE) continue;
            if (fl & RF_LINKED) {
                const RExt *e = rs_ext_of(&R->rs, i);
                const char *pid = e && e->link ? e->link->rid[o] : NULL;
                if (pid && *pid && !find_id(R, o, pid)) ids_add(R->left, need, pid);
                continue;
            }
            if (R->whole[o]) continue;
            if (m++ == RS_CHUNK) {
                rs_release(R);
                m = 1;
            }
            if (!(x = rs_load(R, i))) return;
        } else {
            x = R->recs[k][i];
        }
        if (x->done) continue;
        if (x->linked) {
            const char *pid = x->link.rid[o];
            if (pid && *pid && !find_id(R, o, pid)) ids_add(R->left, need, pid);
        } else if (x->key && !x->r->deleted && !has_key(R, o, x->key) && !(k == 0 && rejected_early(R, x))) {
            ids_add(R->left, keys, spilled ? arena_strdup(R->left, x->key) : x->key);
        }
    }
    if (spilled) rs_release(R);
}

/* ------------------------------------------------------------ streaming */

/* Whether a sync's left side can be decided page by page: what a left
 * record's decision needs must then be at hand without the other left
 * records.  A list side looks its members up as a whole (B21); a
 * conversion found from the new record (Dynamics) asks the same source
 * mid-read (B17); accounts are decided after every pair (B09). */
static int can_stream(SyncRun *R) {
    const PSync *s = R->s;
    const PObject *o = &R->E->p->objects[s->side[0].object];
    return R->src[0] != R->src[1] && !s->side[0].list && !(s->entry[EP_CONVERTED_L] != NO_ENTRY && o->by_other) &&
           s->entry[EP_ACCOUNT] == NO_ENTRY;
}

/* Left records a batch.  Where the right side was not read whole (an
 * incremental run), each batch asks the right system for its partners, a
 * round of requests (or, replaying, a scan of the answers); such reads are
 * small by nature, so their batches are larger. */
enum { STREAM_BATCH = 2000, STREAM_BATCH_LOOKUP = 20000 };

/* Outcomes a streamed run records a part (apply_part). */
enum { APPLY_PART = 10000 };

static int apply_part(SyncRun *R, int last, Buf *err);

/* Whether a run has enough outcomes (or changes) waiting to apply them as
 * a part (apply_part). */
static int part_due(SyncRun *R) {
    const EngineOptions *o = R->E->o;
    uint32_t part = o->apply_part ? o->apply_part : APPLY_PART;
    return o->apply && (R->nouts >= part || R->E->pl->nchanges - R->part_first >= part);
}

/* The outcomes from `from` on name records about to be dropped: they get
 * copies of what they name (a plan records nothing, so keeps none). */
static void keep_outcomes(SyncRun *R, uint32_t from) {
    if (!R->E->o->apply) {
        R->nouts = 0;
        return;
    }
    for (uint32_t i = from; i < R->nouts; i++) {
        Outcome *o = &R->outs[i];
        for (int k = 0; k < 2; k++)
            if (o->id[k]) o->id[k] = arena_strdup(&R->oa, o->id[k]);
        if (o->key) o->key = arena_strdup(&R->oa, o->key);
    }
}

/* Decides the left records now held (recs[0]), then drops them: links and
 * keys, partners on the right looked up (unless the right was read
 * whole), each decided in order.  The right side's changes, decided last,
 * find a stub (done, linked or not) under each key they share with one of
 * these, as they would find the record itself when a sync is held.  The
 * plan is flushed; a run's outcomes keep copies of what they name. */
static int stream_batch(SyncRun *R, Buf *err) {
    Engine *E = R->E;
    int sr = R->side_reading, fe = R->fetching;
    uint32_t n0 = R->n[0], n1 = R->n[1];
    int rc = -1;
    if (index_recs(R, 0, 0, n0, 0, err) != 0) goto done;
    if (!R->whole[1]) {
        IdList need = {0}, keys = {0};
        want_partners(R, 0, 0, n0, &need, &keys);
        if (fetch(R, 1, &need, err) != 0 || find_keys(R, 1, &keys, err) != 0) goto done;
        if (index_recs(R, 1, n1, R->n[1], 1, err) != 0) goto done;
    }
    uint32_t out0 = R->nouts;
    for (uint32_t i = 0; i < n0; i++) decide_one(R, R->recs[0][i], err);
    for (uint32_t i = 0; i < n0; i++) {
        Rec *x = R->recs[0][i];
        if (R->spilling) {
            /* the stub is the claim of the key's first slot */
            uint32_t si = rs_key_slot(&R->rs, x->key);
            RSlot *s = si ? &R->rs.slot[si - 1] : NULL;
            if (!s || (s->flags & RF_CLAIMED)) continue;
            s->flags |= RF_CLAIMED | (x->linked ? RF_CLAIM_LINKED : 0) | (x->unselected ? RF_CLAIM_UNSELECTED : 0);
            if (x->linked || (x->unselected && (R->s->flow & 2)))
                rs_ext(&R->rs, si - 1)->claim_id = arena_strdup(&R->a, x->id);
            continue;
        }
        Rec *y = x->key ? symtab_get(&R->bykey[1], x->key) : NULL;
        if (!y || symtab_get(&R->bykey[0], x->key)) continue;
        Rec *stub = arena_alloc(&R->a, sizeof *stub);
        stub->done = 1;
        stub->linked = x->linked;
        stub->unselected = x->unselected;
        /* named by key_taken and key_unselected */
        stub->id = x->linked || x->unselected ? arena_strdup(&R->a, x->id) : NULL;
        stub->key = y->key;
        symtab_put(&R->bykey[0], stub->key, stub);
    }
    if (part_due(R)) {
        if (apply_part(R, 0, err) != 0) goto done;
    } else {
        keep_outcomes(R, out0);
    }
    /* a run's changes go out once applied (apply_part) */
    if (!E->o->apply) plan_flush(E->pl, R->si);
    rc = 0;
    if (R->spilling && R->rs.failed) {
        buf_puts(err, spill_error(&R->rs.sp));
        rc = -1;
    }
done:
    if (R->spilling) rs_release(R);
    arena_reset(&R->page);
    symtab_init(&R->byid[0], &R->page);
    R->n[0] = 0;
    R->side_reading = sr;
    R->fetching = fe;
    return rc;
}

typedef struct StreamCtx {
    SyncRun *R;
    Buf *err;
    uint32_t batch;
    int failed;
} StreamCtx;

static void on_stream(void *ctx, Record *r) {
    StreamCtx *sc = ctx;
    SyncRun *R = sc->R;
    if (sc->failed || !r->vm.id) return;
    /* a record a read delivers twice is decided once */
    if (!idset_add(&R->seen0, r->vm.id)) return;
    add_rec(R, 0, r, 0);
    R->E->pl->sum[R->si].read[0]++;
}

static void on_stream_bad(void *ctx, const char *id, const char *reason) {
    StreamCtx *sc = ctx;
    on_bad(sc->R, id, reason);
}

/* The connector is done with a page: enough records make a batch. */
static void on_stream_page(void *ctx) {
    StreamCtx *sc = ctx;
    if (sc->failed || sc->R->n[0] < sc->batch) return;
    if (stream_batch(sc->R, sc->err) != 0) sc->failed = 1;
}

/* A streamed sync (can_stream) once the right side is read: the left
 * side's changes are decided batch by batch as its pages arrive, its
 * records read apart (queued, flagged) with the last batch, as they come
 * after its changes when a sync is held; then the right side's changes. */
static int stream_sync(SyncRun *R, const char *cur0, int64_t dflt, Buf *err) {
    uint32_t nread1 = R->n[1];
    if (index_recs(R, 1, 0, nread1, 1, err) != 0) return -1;
    arena_init(&R->page);
    R->left = &R->page;
    symtab_init(&R->byid[0], &R->page);
    uint32_t batch = R->E->o->stream_batch ? R->E->o->stream_batch : R->whole[1] ? STREAM_BATCH : STREAM_BATCH_LOOKUP;
    StreamCtx sc = {R, err, batch, 0};
    RecordSink sink = {&sc, on_stream, on_stream_bad, on_stream_page};
    int rc = read_side(R, 0, cur0, dflt, &sink, err);
    if (rc == 0 && !sc.failed && (read_queued(R, 0, err) != 0 || read_flagged(R, 0, err) != 0)) rc = -1;
    if (rc == 0 && !sc.failed && R->n[0] && stream_batch(R, err) != 0) sc.failed = 1;
    if (rc == 0 && !sc.failed && R->seen0.failed) {
        buf_puts(err, spill_error(&R->seen0.sp));
        sc.failed = 1;
    }
    /* back to holding records: the right side's partners on the left */
    R->left = &R->a;
    arena_free(&R->page);
    symtab_init(&R->byid[0], &R->a);
    if (rc != 0 || sc.failed) return -1;
    /* Every left change was decided and dropped: a linked partner is
     * fetched again; one by key only where no stub has the key and the
     * left side was not read whole. */
    IdList need = {0}, keys = {0};
    want_partners(R, 1, 0, nread1, &need, &keys);
    if (R->spilling && R->rs.failed) {
        buf_puts(err, spill_error(&R->rs.sp));
        return -1;
    }
    if (fetch(R, 0, &need, err) != 0) return -1;
    if (!R->whole[0]) {
        R->slim = R->spilling && !select_reads_links(R);
        arena_init(&R->lscr);
        int frc = find_keys(R, 0, &keys, err);
        R->slim = 0;
        arena_free(&R->lscr);
        if (frc != 0) return -1;
    }
    if (index_recs(R, 0, 0, R->n[0], 1, err) != 0) return -1;
    if (!R->spilling) {
        for (uint32_t i = 0; i < nread1; i++) decide_one(R, R->recs[1][i], err);
        return 0;
    }
    /* the undecided right records, read back in order, a chunk at a time */
    uint32_t out0 = R->nouts, m = 0;
    spill_ahead(&R->rs.sp, 1);
    for (uint32_t i = 0; i < nread1 && !R->rs.failed; i++) {
        if (R->rs.slot[i].flags & RF_DONE) continue;
        if (m++ == RS_CHUNK) {
            if (part_due(R)) {
                if (apply_part(R, 0, err) != 0) {
                    spill_ahead(&R->rs.sp, 0);
                    rs_release(R);
                    return -1;
                }
            } else {
                keep_outcomes(R, out0);
            }
            out0 = R->nouts;
            rs_release(R);
            m = 1;
        }
        Rec *x = rs_load(R, i);
        if (x) decide_one(R, x, err);
    }
    spill_ahead(&R->rs.sp, 0);
    keep_outcomes(R, out0);
    rs_release(R);
    if (R->rs.failed) {
        buf_puts(err, spill_error(&R->rs.sp));
        return -1;
    }
    return 0;
}

static int run_sync(Engine *E, uint32_t si, Buf *err) {
    const Program *p = E->p;
    const PSync *s = &p->syncs[si];
    SyncSummary *sum = &E->pl->sum[si];
    SyncRun R;
    memset(&R, 0, sizeof R);
    R.E = E;
    R.si = si;
    R.s = s;
    R.name = str(p, s->name);
    if (p->paused || s->paused || E->o->pause_all) {
        sum->why_not = "paused";
        return 0;
    }
    SyncState ss;
    if (store_sync_get(E->st, R.name, &ss) < 0) {
        buf_puts(err, store_error(E->st));
        return -1;
    }
    int64_t due = engine_next_due(p, si, ss.last_run);
    if (!E->o->force && due > E->o->now) {
        Buf b;
        buf_init(&b);
        if (due == INT64_MAX) buf_puts(&b, "schedule off: runs only with --now");
        else {
            buf_puts(&b, "not due until ");
            format_datetime(due, &b);
        }
        sum->why_not = plan_str(E->pl, buf_str(&b));
        buf_free(&b);
        return 0;
    }
    for (int k = 0; k < 2; k++) {
        R.src[k] = source_named(E, str(p, s->side[k].source));
        if (!R.src[k]) {
            buf_printf(err, "sync %s: no source named '%s'", R.name, str(p, s->side[k].source));
            return -1;
        }
    }
    sum->ran = 1;
    arena_init(&R.a);
    for (int k = 0; k < 2; k++) {
        symtab_init(&R.byid[k], &R.a);
        symtab_init(&R.bykey[k], &R.a);
    }
    R.part_first = E->pl->nchanges;
    R.part_note = E->pl->nnotes;
    arena_init(&R.oa);
    arena_init(&R.dec);
    int rc = -1;
    int initial = s->initial >= 0 ? s->initial : p->initial;
    R.left = &R.a;
    if (pay_owed(&R, err) != 0) goto out;
    R.streaming = can_stream(&R);
    /* A right side that is a list is looked up member by member (B21):
     * it stays held. */
    if (R.streaming && !s->side[1].list) rs_open(&R);
    const char *cur0 = NULL;
    int64_t dflt = 0;

    /* 1. What changed since the cursors (everything on an initial sync,
     * nothing older than the first run without one: B30). */
    for (int k = 0; k < 2; k++) {
        const char *cur = NULL;
        if (store_cursor_get(E->st, R.src[k]->name, cursor_object(&R, k), &R.a, &cur) < 0) {
            buf_puts(err, store_error(E->st));
            goto out;
        }
        dflt = initial ? INT64_MIN : ss.first_run ? ss.first_run : E->o->now;
        /* a streamed side is read last, page by page (stream_sync) */
        if (k == 0 && R.streaming) {
            cur0 = cur;
            continue;
        }
        if (read_side(&R, k, cur, dflt, NULL, err) != 0) goto out;
    }
    /* Records read apart: queued, flagged by a tag.  A streamed left side
     * reads its own after its changes (stream_sync). */
    if (read_queued(&R, R.streaming ? 1 : -1, err) != 0) goto out;
    for (int k = R.streaming; k < 2; k++)
        if (read_flagged(&R, k, err) != 0) goto out;

    /* A list has no feed of who left it (GetResponse): every linked
     * member not read is looked up, and one that is gone has left (B21). */
    for (int k = 0; k < 2; k++) {
        if (!s->side[k].list) continue;
        GoneCtx gc = {&R, k, {0}};
        if (store_links_each(E->st, R.name, &R.a, &gc, linked_member) != 0) {
            buf_puts(err, store_error(E->st));
            goto out;
        }
        if (fetch(&R, k, &gc.ids, err) != 0) goto out;
        for (uint32_t i = 0; i < gc.ids.n; i++) {
            Rec *x = symtab_get(&R.byid[k], gc.ids.v[i]);
            if (!x) {
                /* gone: a record with nothing but its id */
                Record *r = arena_alloc(&R.a, sizeof *r);
                record_init(p, s->side[k].object, &R.a, r);
                const PObject *po = &p->objects[s->side[k].object];
                if (po->key >= 0) r->fields[po->key] = v_str(gc.ids.v[i], strlen(gc.ids.v[i]));
                record_finish(p, r, &R.a);
                x = add_rec(&R, k, r, 1);
            }
            x->changed = 1;
            /* still a member and unchanged: nothing to decide */
            if (on_list(x->r, str(p, s->side[k].list - 1)) && !x->r->deleted) x->done = 1;
        }
    }

    if (R.streaming) {
        if (stream_sync(&R, cur0, dflt, err) != 0) goto out;
        goto decided;
    }

    /* 2. Links and keys of what was read, and the partners not read. */
    uint32_t nread[2] = {R.n[0], R.n[1]};
    IdList need[2] = {{0}, {0}}, keys[2] = {{0}, {0}};
    for (int k = 0; k < 2; k++)
        if (index_recs(&R, k, 0, nread[k], 1, err) != 0) goto out;
    for (int k = 0; k < 2; k++) want_partners(&R, k, 0, nread[k], &need[1 - k], &keys[1 - k]);
    /* A side read whole has every record there is: a partner not among
     * them does not exist, and asking its system again (a query per key,
     * or a second read of everything) would find nothing more. */
    for (int k = 0; k < 2; k++) {
        if (R.whole[k]) continue;
        if (fetch(&R, k, &need[k], err) != 0) goto out;
        if (find_keys(&R, k, &keys[k], err) != 0) goto out;
    }
    /* Partners found by key are linked elsewhere or not: look them up too. */
    for (int k = 0; k < 2; k++)
        if (index_recs(&R, k, nread[k], R.n[k], 1, err) != 0) goto out;

    /* 3. Decide, record by record, in the order they were read. */
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < nread[k]; i++) decide_one(&R, R.recs[k][i], err);

decided:
    for (int k = 0; k < 2; k++)
        if (R.claimed[k].failed) {
            buf_printf(err, "sync %s: %s", R.name, spill_error(&R.claimed[k].sp));
            goto out;
        }
    if (decide_accounts(&R, err) != 0) goto out;
    if (E->o->apply) {
        if (apply_part(&R, 1, err) != 0) goto out;
    }
    rc = 0;
out:
    rs_close(&R);
    arena_free(&R.oa);
    arena_free(&R.dec);
    arena_free(&R.a);
    arena_free(&R.page);
    idset_free(&R.seen0);
    idset_free(&R.claimed[0]);
    idset_free(&R.claimed[1]);
    return rc;
}

/* Changes sent by a run that stopped before recording them: a create that
 * reached its system is found by its match key and linked, so the rerun
 * does not make it twice; the rest is recomputed. */
typedef struct Pending {
    Engine *E;
    Buf *err;
    int rc;
} Pending;

static int settle(void *ctx, const Intent *in) {
    Pending *pd = ctx;
    Engine *E = pd->E;
    const Program *p = E->p;
    if (!strcmp(in->action, "create") && in->key && in->partner) {
        for (uint32_t si = 0; si < p->nsyncs; si++) {
            const PSync *s = &p->syncs[si];
            if (strcmp(str(p, s->name), in->sync) != 0) continue;
            int t = in->side;
            SyncRun R;
            memset(&R, 0, sizeof R);
            R.E = E;
            R.si = si;
            R.s = s;
            R.name = in->sync;
            arena_init(&R.a);
            R.left = &R.a;
            for (int k = 0; k < 2; k++) {
                symtab_init(&R.byid[k], &R.a);
                symtab_init(&R.bykey[k], &R.a);
                R.src[k] = source_named(E, str(p, s->side[k].source));
            }
            if (R.src[t]) {
                IdList keys = {0};
                ids_add(&R.a, &keys, in->key);
                if (find_keys(&R, t, &keys, pd->err) == 0 && R.n[t]) {
                    Rec *x = R.recs[t][0];
                    Link l;
                    if (find_link(E, in->sync, t, x->id, &R.a, &l) == 0 &&
                        find_link(E, in->sync, 1 - t, in->partner, &R.a, &l) == 0) {
                        const char *lid = t ? in->partner : x->id, *rid = t ? x->id : in->partner;
                        if (store_link_add(E->st, in->sync, str(p, p->objects[s->side[0].object].name), lid,
                                           str(p, p->objects[s->side[1].object].name), rid, E->o->now, NULL, NULL) != 0)
                            pd->rc = -1;
                    }
                }
            }
            arena_free(&R.a);
        }
    }
    /* An action journaled and not recorded may or may not have been sent:
     * owed to its record, and sent by the next sync unless the record
     * shows it done (a tag it has, a list it is on). */
    if (in->name && strcmp(in->action, "create") && strcmp(in->action, "update") && strcmp(in->action, "delete")) {
        Owed o;
        memset(&o, 0, sizeof o);
        o.sync = in->sync;
        o.side = in->side;
        o.object = in->object;
        o.id_rec = in->id_rec;
        o.partner = in->partner;
        o.key = in->key;
        o.action = in->action;
        o.name = in->name;
        o.rule = in->rule;
        o.since = in->at;
        if (store_owed_add(E->st, &o) != 0) pd->rc = -1;
    }
    if (store_intent_done(E->st, in->id) != 0) pd->rc = -1;
    return pd->rc != 0;
}

int engine_run(const Program *p, Store *st, Connector *const *sources, uint32_t nsources, const EngineOptions *o,
               Plan *pl, EngineResult *res, Buf *err) {
    Engine E;
    memset(&E, 0, sizeof E);
    E.p = p;
    E.st = st;
    E.sources = sources;
    E.nsources = nsources;
    E.o = o;
    E.pl = pl;
    E.res = res;
    E.vm = vm_new(p);
    if (!E.vm) {
        buf_puts(err, "out of memory");
        return -1;
    }
    actbuf_init(&E.ab);
    arena_init(&E.run);
    symtab_init(&E.pending, &E.run);
    buf_init(&E.kb);
    int rc = 0;
    if (o->apply) {
        Pending pd = {&E, err, 0};
        if (store_begin(st) != 0 || store_intents_each(st, &E.run, &pd, settle) != 0 || pd.rc != 0 ||
            store_commit(st) != 0) {
            buf_printf(err, "finishing the last run's changes: %s", store_error(st));
            store_rollback(st);
            rc = -1;
        }
        if (rc == 0 && (store_begin(st) != 0 || store_runs_stopped(st) != 0 ||
                        store_run_begin(st, o->rules, o->now, &res->run) != 0 || store_commit(st) != 0)) {
            buf_puts(err, store_error(st));
            rc = -1;
        }
    }
    for (uint32_t si = 0; si < p->nsyncs && rc == 0; si++) rc = run_sync(&E, si, err);
    if (o->apply && res->run && !res->crashed) {
        RunCounts n;
        memset(&n, 0, sizeof n);
        for (uint32_t si = 0; si < p->nsyncs; si++) {
            const SyncSummary *s = &pl->sum[si];
            n.read += s->read[0] + s->read[1];
            n.created += s->creates;
            n.updated += s->updates;
            n.deleted += s->deletes;
            n.tagged += s->actions;
            n.skipped += s->skipped;
            n.conflicts += s->conflicts;
            n.waiting += s->waiting;
            n.errors += s->errors;
        }
        n.errors += res->failed;
        const char *status = rc != 0 ? "failed" : n.errors ? "errors" : "ok";
        if (store_run_end(st, res->run, status, &n, o->now) != 0 && rc == 0) {
            buf_puts(err, store_error(st));
            rc = -1;
        }
    }
    actbuf_free(&E.ab);
    vm_free(E.vm);
    arena_free(&E.run);
    buf_free(&E.kb);
    return rc;
}

void engine_result_text(const EngineResult *res, Buf *out) {
    buf_printf(out, "Applied %lld change%s", (long long)res->applied, res->applied == 1 ? "" : "s");
    if (res->owed)
        buf_printf(out, "; %lld owed to records their system has not made yet (sent when it has)",
                   (long long)res->owed);
    if (res->failed) buf_printf(out, "; %lld refused:\n%s", (long long)res->failed, buf_str(&res->failures));
    else buf_puts(out, ".\n");
}
