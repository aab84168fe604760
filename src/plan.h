/* plan.h - what a run would change, and why: the output of the engine's
 * decisions and the input of apply.
 *
 * A Plan lists Changes (create, update, delete, tag, list and automation
 * actions on one record of one side of a sync, each field with its value
 * before and after and the rule behind it) and Notes (records skipped,
 * conflicts, records waiting, errors).  `tandem plan` prints it; `tandem
 * run` applies it.  Everything in it lives in the plan's arena.
 *
 * The text form is for people; the JSON form (docs/plan.md) is stable: a
 * field is only ever added to it.
 */
#ifndef TD_PLAN_H
#define TD_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "buf.h"
#include "bytecode.h"
#include "value.h"

typedef enum ChangeKind {
    CH_CREATE,
    CH_UPDATE,
    CH_DELETE,
    CH_TAG,
    CH_UNTAG,
    CH_LIST_ADD,
    CH_LIST_REMOVE,
    CH_AUTOMATE
} ChangeKind;

typedef struct FieldSet {
    Value before, after;
    uint32_t pc;           /* the instruction that decided it: Program.lines/files give the rule */
    uint16_t field;        /* field id on the object written */
} FieldSet;

typedef struct Change {
    uint8_t kind;          /* ChangeKind */
    uint8_t side;          /* side of the sync written: 0 left, 1 right */
    uint32_t sync;         /* index into Program.syncs */
    uint32_t object;       /* program object written (a create: what the new record becomes) */
    const char *id;        /* the record written; NULL for a create and for actions on one */
    int32_t created;       /* actions on a record this plan creates: that create's index; -1 otherwise */
    const char *from;      /* the record on the other side behind it, or NULL */
    const char *key;       /* the pair's match key, or NULL */
    FieldSet *sets;        /* create and update: the fields written */
    uint32_t nsets, capsets;
    const char *name;      /* tag, list or automation */
    const char *ref;       /* untag: the system's id of the tagging, where it has one */
    uint32_t pc;           /* the rule behind it */
    int64_t link;          /* the link of the pair in the state, 0 when there is none yet */
    /* An action a record was owed by an earlier run (store.h's Owed): its
     * row, done when the change is recorded, and its rule as it was then
     * (file:line; pc is none, as the rules may have moved since). */
    int64_t owed;
    const char *rule;
} Change;

typedef enum NoteKind {
    NOTE_SKIP,             /* a skip rule, a required field, a selection the record no longer meets */
    NOTE_CONFLICT,         /* a field changed on both sides and nothing settles it */
    NOTE_WAIT,             /* a record it needs is not linked yet; retried next run */
    NOTE_ERROR,            /* the record could not be read or its rules failed */
    NOTE_INFO              /* worth knowing, nothing to do (a delete kept, a converted lead relinked) */
} NoteKind;

typedef struct Note {
    uint8_t kind;          /* NoteKind */
    uint8_t side;
    uint32_t sync;
    uint32_t object;
    const char *id;        /* the record it concerns, or NULL */
    const char *key;
    const char *reason;
    uint32_t pc;           /* the rule behind it; UINT32_MAX none */
    uint32_t map;          /* NOTE_CONFLICT: map index in Program.maps */
    Value value[2];        /* NOTE_CONFLICT: the value on each side */
} Note;

typedef struct SyncSummary {
    int64_t read[2];
    int64_t creates, updates, deletes, actions;
    int64_t skipped, conflicts, waiting, errors;
    int ran;               /* the sync was due and not paused */
    const char *why_not;   /* when it did not run: "paused", "not due until ..." */
} SyncSummary;

typedef struct Plan {
    Arena a;               /* notes, summaries: what outlives a flush */
    Arena ca;              /* the changes' contents (plan_cstr, plan_ckeep): dropped by a flush */
    const Program *p;
    Change *changes;
    uint32_t nchanges, capchanges;
    Note *notes;
    uint32_t nnotes, capnotes;
    SyncSummary *sum;      /* per sync */
    int64_t now;
    /* A streamed plan (plan_stream) writes changes out as the engine
     * finishes each batch and drops them; notes stay to the sync's end. */
    FILE *stream;
    int64_t flushed;       /* changes written out and dropped */
    uint32_t printed;      /* syncs written out whole */
    int started, open, first; /* the JSON's head is out; sync `printed` is open; none of its changes yet */
    FILE *tmp;             /* text: the changes of sync tsync so far (plan_stream_text) */
    uint32_t tsync;        /* UINT32_MAX: none */
    int tany;
} Plan;

void plan_init(Plan *pl, const Program *p, int64_t now);
void plan_free(Plan *pl);
/* Appends a zeroed change or note and returns it (valid until the next append). */
Change *plan_change(Plan *pl, ChangeKind kind, uint32_t sync, int side);
Note *plan_note(Plan *pl, NoteKind kind, uint32_t sync, int side);
/* Drops the changes from index n on (a decision undone: its record is
 * skipped after all), and their counts with them. */
void plan_truncate(Plan *pl, uint32_t n);
/* Adds a field to a change (in the plan's arena). */
void plan_set(Plan *pl, Change *c, uint16_t field, Value before, Value after, uint32_t pc);
/* A value copied into the plan's arena (text from a record batch outlives it). */
Value plan_keep(Plan *pl, Value v);
const char *plan_str(Plan *pl, const char *s);
/* The same for a change's contents, which a flush drops. */
Value plan_ckeep(Plan *pl, Value v);
const char *plan_cstr(Plan *pl, const char *s);

/* Counts over the whole plan. */
int64_t plan_pending(const Plan *pl);

/* `tandem plan` output. */
void plan_text(const Plan *pl, Buf *out);
void plan_json(const Plan *pl, Buf *out);
/* The same, written to f as they are made (a large plan is never held whole as text). */
void plan_text_file(Plan *pl, FILE *f);
void plan_json_file(Plan *pl, FILE *f);
/* Streams the JSON form to f: plan_flush(pl, sync) writes the changes made
 * so far (all of syncs before `sync`, whole) and drops them, so a plan of a
 * million changes is never held; plan_json_file then writes the rest, to
 * the stream's file.
 * Changes of a sync whose actions refer to one another (Change.created)
 * must be flushed together. */
void plan_stream(Plan *pl, FILE *f);
/* The same for the text form, whose sync header (what it read) comes
 * before its changes: they wait in a temporary file until the sync is
 * over.  -1 when no such file can be made (the plan is then held). */
int plan_stream_text(Plan *pl, FILE *f);
void plan_flush(Plan *pl, uint32_t sync);

/* "file:line" of an instruction's rule. */
void plan_rule(const Program *p, uint32_t pc, Buf *out);
const char *plan_action_name(ChangeKind k);

#endif
