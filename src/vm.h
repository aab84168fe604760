/* vm.h - the register VM that runs a sync's compiled rules over records.
 *
 * The engine hands the VM one record, or a linked pair, and an entry point
 * (bytecode.h: select, skip, key, update, create, events...).  The VM reads
 * typed field values by field id, appends what must happen to an Action
 * buffer the caller owns, and returns.  A Vm holds registers, the values of
 * records being created and scratch text space, all sized once for the
 * program, so running a record allocates nothing on the common path.
 *
 * Text in results and actions may point into the records, the program, or
 * the VM's scratch space; it stays valid until the next vm_next_record()
 * on this Vm, so every entry point run for one record or pair can use what
 * the others made (the skip rules read the record a create entry built).
 */
#ifndef TD_VM_H
#define TD_VM_H

#include <stdint.h>

#include "bytecode.h"
#include "value.h"

/* A record as the VM sees it. */
typedef struct VmRec {
    const Value *f;        /* field values by field id of the side's object */
    uint32_t nf;           /* entries in f (ids past it read as null) */
    const uint64_t *tags;  /* bit set over Program.tags, or NULL */
    const char *id;        /* record id, for messages and RecId */
    uint32_t idlen;
    int64_t modified;      /* change time (ms) for `prefer newest`; INT64_MIN unknown */
    int linked;            /* already linked by this sync */
} VmRec;

typedef enum ActKind {
    ACT_SET,        /* write value into field of side (before: other) */
    ACT_TAG,        /* add tag arg */
    ACT_UNTAG,      /* remove tag arg */
    ACT_DELETE,     /* delete the record on side */
    ACT_KEEP,       /* leave it (explicit) */
    ACT_LISTADD,    /* put on list (arg: string id) */
    ACT_LISTDEL,    /* take off list (arg: string id) */
    ACT_AUTOMATE,   /* start automation (arg: string id) */
    ACT_CONFLICT,   /* map arg changed on both sides: value = left, other = right */
    ACT_SKIP,       /* the record is skipped: skip rule arg, or msg */
    ACT_WAIT,       /* the record waits (a link it needs does not exist yet): msg */
    ACT_ERROR,      /* a run-time error for this record: msg */
    ACT_BASE        /* map arg: what each end holds once the sets are applied (value: left, other: right), the next run's base */
} ActKind;

typedef struct Action {
    uint8_t kind;          /* ActKind */
    uint8_t side;          /* 0 left, 1 right */
    uint16_t field;        /* ACT_SET: field id (of the object written) */
    uint32_t arg;          /* tag id, string id, map index, skip rule */
    Value value;           /* ACT_SET: new value; ACT_CONFLICT: left value */
    Value other;           /* ACT_SET: value before; ACT_CONFLICT: right value */
    uint32_t pc;           /* instruction that caused it: Program.lines/files give the rule */
    const char *msg;       /* ACT_SKIP, ACT_WAIT, ACT_ERROR: why (scratch) */
} Action;

typedef struct ActionBuf {
    Action *v;
    size_t n, cap;
} ActionBuf;

void actbuf_init(ActionBuf *b);
void actbuf_free(ActionBuf *b);

/* Looks up the id linked by sync `sync` to id on side `from`; 1 and *out
 * when linked, 0 when not. */
typedef int (*VmLinkFn)(void *ctx, uint32_t sync, int from, Value id, Value *out);

typedef struct VmRun {
    uint32_t sync;         /* index into Program.syncs */
    const VmRec *rec[2];   /* the records; NULL where there is none */
    const Value *base[2];  /* per map of the sync: value after the last sync; NULL: never synced */
    int64_t now;           /* run start, ms UTC */
    int64_t first_run;     /* when this sync first ran, ms UTC */
    ActionBuf *out;        /* where actions go (the caller owns it) */
    VmLinkFn link;         /* for Via; NULL: no links */
    int observe;           /* Merge decides nothing: it only reports each end's value (ACT_BASE) */
    void *link_ctx;
} VmRun;

typedef enum VmStatus { VM_OK = 0, VM_SKIP, VM_WAIT, VM_ERROR } VmStatus;

typedef struct Vm Vm;

Vm *vm_new(const Program *p);
void vm_free(Vm *vm);
/* Runs entry e of the sync for the records in run.  *result gets the value
 * of a Return (null otherwise).  Skips, waits and errors are also appended
 * to run->out as actions. */
VmStatus vm_run(Vm *vm, const VmRun *run, Entry e, Value *result);
/* Starts a new record or pair: forgets the text made for the last one. */
void vm_next_record(Vm *vm);
/* The instruction of the last Return or Halt (its line is the rule). */
uint32_t vm_last_pc(const Vm *vm);
/* The values a create entry wrote, by field id of the object created. */
const Value *vm_created(const Vm *vm, int side, uint32_t *n);
/* The record the last create entry built on `side`, as fields of the sync's
 * object on that side (matched by name when new records become another
 * object), so the skip rules can see a pair before it exists.  fields has
 * room for that object's fields. */
void vm_created_view(const Vm *vm, uint32_t sync, int side, Value *fields);

#endif
