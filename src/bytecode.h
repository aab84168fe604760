/* bytecode.h - a compiled rule file: instructions, constants and the
 * schema facts the VM and the engine need at run time.
 *
 * A Program is self-contained: it can be written to a .tbc file and loaded
 * back without the rule file or the stdlib.  Everything in it lives in the
 * Program's arena; program_free() releases it all.  Indices between the
 * tables are plain integers; program_load() checks every one of them (and
 * every instruction operand) so the VM can trust them without checks.
 */
#ifndef TD_BYTECODE_H
#define TD_BYTECODE_H

#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "value.h"

typedef enum Opcode {
#define OP(name, disp, ops, syn, doc) OP_##name,
#include "opcodes.def"
#undef OP
    OP__COUNT
} Opcode;

typedef struct OpInfo {
    const char *name;      /* as explain prints it, e.g. "Field" */
    const char *operands;  /* kinds of A, B, C (see opcodes.def) */
    const char *synopsis;  /* register notation with A, B, C */
    const char *doc;       /* one sentence */
} OpInfo;

extern const OpInfo opinfo[OP__COUNT];

typedef struct Instr {
    uint8_t op;            /* Opcode */
    uint8_t n;             /* CALL: argument count; VIA: side of the id */
    uint16_t a, b, c;      /* operands, per the opcode's kinds */
} Instr;

enum { NO_ENTRY = UINT32_MAX, NO_FIELD = 0xFFFF };

/* Entry points of a sync's code: what the engine asks of one record or pair. */
#define TD_ENTRIES(E)                                                           \
    E(SELECT_L, "select left")       /* is the left record selected? -> bool */ \
    E(SELECT_R, "select right")                                                \
    E(SKIP, "skip")                  /* skip rules over the pair: SKIP or nothing */ \
    E(KEY_L, "key left")             /* match key of a left record */           \
    E(KEY_R, "key right")                                                      \
    E(CONVERTED_L, "converted left") /* has this left record converted? -> bool */ \
    E(CONVERTED_R, "converted right")                                          \
    E(UPDATE, "update")              /* a linked pair: merge every map */       \
    E(CREATE_L, "create left")       /* a new left record from the right one */ \
    E(CREATE_R, "create right")                                                \
    E(ON_CREATE_L, "on create in left")                                        \
    E(ON_CREATE_R, "on create in right")                                       \
    E(ON_UPDATE_L, "on update in left")                                        \
    E(ON_UPDATE_R, "on update in right")                                       \
    E(ON_DELETE_L, "on delete in left")                                        \
    E(ON_DELETE_R, "on delete in right")                                       \
    E(ON_CONVERT, "on convert")                                                \
    E(ON_REMOVE, "on remove from list")                                        \
    E(RESURRECT_L, "resurrect in left") /* re-create a deleted left record? -> bool */ \
    E(RESURRECT_R, "resurrect in right")                                       \
    E(ACCOUNT, "account")            /* linked accounts: merge the account maps */

typedef enum Entry {
#define E(k, s) EP_##k,
    TD_ENTRIES(E)
#undef E
    EP__COUNT
} Entry;

extern const char *const entry_names[EP__COUNT];

enum { PF_REQUIRED = 1, PF_READONLY = 2, PF_CUSTOM = 4 };
enum { CAP_TAGS = 1, CAP_LISTS = 2, CAP_AUTOMATIONS = 4 };

typedef struct PField {
    uint32_t name;         /* string id */
    uint8_t type;          /* TypeKind */
    uint8_t flags;         /* PF_* */
    uint32_t deflt;        /* constant index + 1, 0 for none */
    uint32_t size;         /* text and kin: the most characters the system keeps (text(80)); 0 any */
} PField;

typedef struct PObject {
    uint32_t system;       /* string id, e.g. "salesforce" */
    uint32_t name;         /* string id, e.g. "Lead" */
    uint32_t first_field;  /* index into Program.fields */
    uint32_t nfields;
    int32_t key, created, modified, deleted, list_field; /* field ids, -1 none */
    int32_t converts_to;   /* object index, -1 none */
    int32_t converted_by;  /* field id holding the new record's id (on this object or, if by_other, on converts_to), -1 */
    uint8_t by_other;      /* converted_by is a field of converts_to pointing back */
    uint8_t caps;          /* CAP_* */
} PObject;

/* PMap.flow beyond the two directions: the map is a join whose joined
 * end (left or right) other maps split back; it merges both ways as one
 * value (compile.c, merge_split). */
enum { MAP_SPLIT_LEFT = 4, MAP_SPLIT_RIGHT = 8 };

typedef struct PMap {
    uint16_t field[2];     /* field written on each side, NO_FIELD where that end is an expression */
    uint8_t flow;          /* bit 0: left -> right, bit 1: right -> left */
    uint8_t policy[2];     /* policy into each side (POL_* of check.h) */
    uint8_t is_default;    /* came from a mapping (`use`) */
    uint8_t account;       /* an account map */
    uint32_t line, file;   /* where it is written */
    uint32_t key;          /* string id: its two ends as written, "Email <-> email"; names its base values in the state */
} PMap;

typedef struct PSide {
    uint32_t source;       /* string id of the source name */
    uint32_t object;       /* object index */
    uint32_t create_as;    /* object index of what new records become */
    uint32_t list;         /* string id + 1 of the list, 0 for none */
    uint8_t never_create;  /* `new in X never` */
    int32_t account;       /* account object index, -1 */
} PSide;

enum { SCHED_INHERIT = 0, SCHED_EVERY, SCHED_DAILY, SCHED_OFF };

typedef struct PSync {
    uint32_t name;         /* string id */
    PSide side[2];
    uint8_t flow;          /* bit 0: left -> right, bit 1: right -> left */
    int8_t prefer;         /* -1 none, 0 left, 1 right, 2 newest */
    uint8_t paused;
    int8_t initial;        /* -1 inherit, 0 off, 1 on */
    uint8_t sched_kind;    /* SCHED_* */
    uint32_t sched_value;  /* every: seconds; daily: minute of the day */
    uint32_t entry[EP__COUNT]; /* first instruction, or NO_ENTRY */
    uint32_t code_start, code_end;
    uint32_t first_map, nmaps;
    uint32_t nregs;
    uint32_t first_after, nafter; /* indices into Program.u32: syncs that run first */
    int32_t match_field[2];   /* per side: the field the match key reads, -1 when it is an expression or there is no match */
    int32_t account_ref[2];   /* per side: the field of the synced object that points at its account, -1 none */
    int32_t track_status[2];  /* side, field; side -1 none */
    int32_t track_last[2];
    uint32_t line, file;   /* the sync's declaration */
} PSync;

/* A source of the rule file and its settings, as the connectors need them:
 * literal values, and the names of the environment variables and secrets
 * that hold credentials (never their values). */
enum { SET_VALUE, SET_ENV, SET_SECRET };

typedef struct PSetting {
    uint32_t name;         /* string id: "instance", or "auth.client_id" inside oauth2(...) */
    uint8_t kind;          /* SET_* */
    uint32_t value;        /* SET_VALUE: constant index; SET_ENV, SET_SECRET: string id of the variable */
} PSetting;

typedef struct PSource {
    uint32_t name;         /* string id: "sf" */
    uint32_t system;       /* string id: "salesforce" */
    uint32_t first_setting, nsettings;
} PSource;

typedef struct PSkip {
    uint32_t text;         /* string id: the rule as written */
    uint32_t line, file;
} PSkip;

typedef struct PConv {
    uint8_t kind;          /* ConvId */
    int8_t decimals;       /* -1: as many as needed */
    uint32_t thousands;    /* string id + 1 */
    uint32_t decimal;      /* string id + 1 */
    uint32_t prefix;       /* string id + 1 */
    uint32_t suffix;       /* string id + 1 */
} PConv;

/* A set of constants (`in [...]`) or a value map, hashed at load time. */
typedef struct PHash {
    uint32_t first, n;     /* items: Program.u32[first .. first+n) are constants (sets) or key,value pairs (maps) */
    uint32_t els;          /* value map: else constant + 1, 0 none */
    uint32_t *slots;       /* open addressing over item positions + 1 (not serialized) */
    uint32_t nslots;
} PHash;

typedef struct Program {
    Arena arena;           /* owns everything below */
    char *pool;            /* strings, NUL-terminated, referred to by offset */
    uint32_t pool_len;
    Value *consts;         /* text constants point into pool */
    uint32_t nconsts;
    PObject *objects;
    uint32_t nobjects;
    PField *fields;
    uint32_t nfields;
    PSource *sources;      /* in declaration order */
    uint32_t nsources;
    PSetting *settings;
    uint32_t nsettings;
    PSync *syncs;          /* in run order */
    uint32_t nsyncs;
    PMap *maps;
    uint32_t nmaps;
    uint32_t *tags;        /* string ids of tag names */
    uint32_t ntags;
    PSkip *skips;
    uint32_t nskips;
    PConv *convs;
    uint32_t nconvs;
    uint32_t *field_slots; /* (object, field name) -> field index + 1, open addressing (not serialized) */
    uint32_t nfield_slots;
    PHash *sets;
    uint32_t nsets;
    PHash *vmaps;
    uint32_t nvmaps;
    uint32_t *u32;         /* shared integer storage (after lists, set and map items) */
    uint32_t nu32;
    Instr *code;
    uint32_t ncode;
    uint32_t *lines;       /* per instruction: source line */
    uint32_t *files;       /* per instruction: index into filenames */
    uint32_t *filenames;   /* string ids of source paths */
    uint32_t nfiles;
    uint8_t sched_kind;    /* the file's schedule */
    uint32_t sched_value;
    uint8_t paused;
    uint8_t initial;
} Program;

Program *program_new(void);
void program_free(Program *p);
const char *program_str(const Program *p, uint32_t id);

/* Builds the hash tables of sets and value maps (after compiling or loading). */
void program_index(Program *p);
/* A source by name, and one of its settings by name (NULL when not set). */
const PSource *program_source(const Program *p, const char *name);
const PSetting *program_setting(const Program *p, const PSource *s, const char *name);

/* A field of object by its name's first n bytes (hashed); -1 when none. */
int program_field_n(const Program *p, uint32_t object, const char *name, size_t n);

/* Set membership and value-map lookup; vmap returns VT_NONE when missing. */
int program_in_set(const Program *p, uint32_t set, Value v);
Value program_vmap(const Program *p, uint32_t map, Value v);

/* Writes the program file format (docs/vm.md). */
void program_save(const Program *p, Buf *out);
/* Loads and checks a program file.  NULL with a message in err when the
 * data is not a valid program (bad magic, version, sizes, checksum, or an
 * index out of range). */
Program *program_load(const unsigned char *data, size_t n, Buf *err);

/* `tandem explain`: per sync, per entry point, every instruction. */
void program_explain(const Program *p, Buf *out, int with_lines);
void program_explain_json(const Program *p, Buf *out);
/* docs/opcodes.md, generated from opcodes.def. */
void opcodes_markdown(Buf *out);

#endif
