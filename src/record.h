/* record.h - a record of one system, normalized, and read from JSON.
 *
 * A Record holds typed values by field id (the object's declaration order)
 * and the record's tags and lists, and carries the VmRec view the VM reads.
 * Its memory comes from the arena passed in (a run batch's arena).  The
 * per-system codecs (issue of the engine) build Records the same way from
 * each API's own JSON; here a record is a JSON object keyed by field names.
 */
#ifndef TD_RECORD_H
#define TD_RECORD_H

#include <cJSON.h>

#include "arena.h"
#include "buf.h"
#include "bytecode.h"
#include "vm.h"

typedef struct Record {
    VmRec vm;              /* what the VM reads */
    uint32_t object;       /* program object index */
    Value *fields;         /* storage behind vm.f */
    uint64_t *tags;        /* storage behind vm.tags: bits over Program.tags */
    const char **tag_names;/* every tag the record carries, as given */
    const char **tag_refs; /* per tag: the system's id of the tagging (ActiveCampaign's contactTag id), or NULL */
    uint32_t ntag_names, cap_tags;
    const char **lists;    /* lists it is on */
    uint32_t nlists, cap_lists;
    int deleted;           /* its deleted field is true, or the system reported it deleted */
    int64_t created;       /* creation time (ms UTC), INT64_MIN unknown; vm.modified holds the change time */
    uint64_t *present;     /* bit per field: the answer gave it (null included), as opposed to leaving it out */
    int tags_known;        /* the answer said which tags the record has (an empty list included) */
} Record;

/* An empty record of program object `object`: every field null, no tags. */
void record_init(const Program *p, uint32_t object, Arena *a, Record *r);
/* Adds a tag (ref may be NULL) or a list membership; a repeated name is kept once. */
void record_add_tag(Record *r, Arena *a, const char *name, const char *ref);
void record_add_list(Record *r, Arena *a, const char *name);
/* Sets field `name` from a JSON value, converted to the field's type.
 * 1 when the object has no such field (nothing set), 0 when set, -1 with
 * the reason in err when the value does not fit the field. */
int record_set_json(const Program *p, Record *r, Arena *a, const char *name, const cJSON *v, Buf *err);
/* The same for field fid of the record's object. */
int record_set_field(const Program *p, Record *r, Arena *a, int fid, const cJSON *v, Buf *err);
/* record_set_field of a JSON string (s, n bytes, no NUL inside), number
 * or null as a scanner reads them, with the same conversions and errors,
 * and no cJSON item in between for the common cases. */
int record_set_string(const Program *p, Record *r, Arena *a, int fid, const char *s, size_t n, Buf *err);
int record_set_number(const Program *p, Record *r, Arena *a, int fid, double d, Buf *err);
void record_set_null(Record *r, int fid);
/* A deep copy of a record into arena a: a record read in a page's
 * scratch arena outlives the page only as a copy. */
Record *record_copy(const Program *p, const Record *src, Arena *a);
/* A record as bytes and back (into arena a): the engine spills a large
 * side to a file (spill.h) and reads a record back when it is needed.
 * record_unpack gives -1 when the bytes are not a whole packed record. */
void record_pack(const Program *p, const Record *r, Buf *out);
int record_unpack(const Program *p, const void *data, size_t n, Arena *a, Record *r);
/* Once the fields are in: the id, change and creation times and the
 * deleted flag from the object's key, modified, created and deleted
 * fields, and the tag bits the VM tests. */
void record_finish(const Program *p, Record *r, Arena *a);

/* A JSON value as a value of field type `type` (a TypeKind); -1 with a
 * reason in err when it cannot be one.  Text is copied into a. */
int value_from_json(const cJSON *j, int type, Arena *a, Value *out, Buf *err);

/* Reads a record of program object `object` from a JSON object.  Keys that
 * are no field of the object are named in `unknown` (comma-separated) when
 * it is not NULL; "tags" and "lists" hold tags and lists (strings, or
 * objects with "tag" or "name").  0, or -1 with the reason in err. */
int record_from_json(const Program *p, uint32_t object, const cJSON *obj, Arena *a, Record *r, Buf *err, Buf *unknown);

/* Field id of a name on a program object, or -1. */
int program_field(const Program *p, uint32_t object, const char *name);

#endif
