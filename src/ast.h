/* ast.h - the syntax tree of a .sync file.
 *
 * One node type for everything, tagged by kind; what each child pointer
 * means per kind is written in the table below.  The parser builds the tree,
 * the checker annotates it in place (types, resolved symbols, sides), and
 * the compiler reads the checked tree.  Nodes live in the compilation's
 * arena and are never freed one by one.
 */
#ifndef TD_AST_H
#define TD_AST_H

#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "diag.h"
#include "types.h"

/* N(kind, "dump name")   children: meaning of name / str / a / b / c / list / op */
#define TD_NODE_KINDS(N)                                                        \
    /* top level */                                                             \
    N(FILE, "file")           /* list: statements */                            \
    N(USE, "use")             /* list: NAME modules; in a sync: a = NAME mapping or NULL for defaults */ \
    N(SOURCE, "source")       /* name: source; a: NAME system; list: SETTING */ \
    N(SETTING, "setting")     /* name: key; a: value expression */              \
    N(SCHEDULE, "schedule")   /* op: TK_EVERY / TK_DAILY / TK_OFF; a: DURATION or TIME literal */ \
    N(INITIAL, "initial-sync")/* a: boolean literal */                          \
    N(PAUSED, "paused")       /* no children */                                 \
    N(SYNC, "sync")           /* name; a: ENDPOINT left; op: arrow; b: ENDPOINT right; list: items */ \
    N(ENDPOINT, "endpoint")   /* name: source or system; str: object; c: list name STRING or NULL */ \
    N(VALUES, "values")       /* name; list: VPAIR / VELSE */                   \
    N(VPAIR, "pair")          /* a: from literal; b: to literal */              \
    N(VELSE, "else")          /* a: literal for values not in the map */        \
    N(EXTEND, "extend")       /* a: ENDPOINT object; list: FIELDDECL */         \
    N(FIELDDECL, "field-decl")/* name: field; op: 1 if quoted; a: TYPESPEC; list: ATTR */ \
    N(TYPESPEC, "type")       /* name: type; num: size; str: reference target; list: STRING values */ \
    N(ATTR, "attr")           /* name; a: literal or NULL */                    \
    N(SYSTEM, "system")       /* name; list: PROP / SETTINGDECL / OBJECT / PLAN */ \
    N(SETTINGDECL, "setting-decl") /* name; a: TYPESPEC; list: ATTR */          \
    N(OBJECT, "object")       /* name; list: PROP / CONVERTS / FIELDDECL */     \
    N(PROP, "prop")           /* op: TK_KIND/KEY/CREATED/MODIFIED/DELETED/LIST/HAS; list: NAME */ \
    N(CONVERTS, "converts")   /* name: target object; a: condition; b: FIELDREF (by) */ \
    N(PLAN, "plan")           /* name; list: LIMIT */                           \
    N(LIMIT, "limit")         /* list: NAME words; str: object or NULL; num: maximum; b: STRING message */ \
    N(MAPPING, "mapping")     /* name; a: ENDPOINT; op: arrow; b: ENDPOINT; list: items */ \
    /* sync items */                                                            \
    N(MATCH, "match")         /* a: left expression; b: right expression */     \
    N(SKIP, "skip")           /* op: TK_WHEN / TK_UNLESS; a: condition */       \
    N(SELECT, "select")       /* name: side; a: selector */                     \
    N(SELNONE, "none")        /* nothing selected */                            \
    N(SELALL, "everything")   /* every record selected */                       \
    N(SELSINCE, "since")      /* op: TK_CREATED / TK_UPDATED / TK_OR (created or updated); a: DATE/DATETIME or NULL (first run) */ \
    N(SELFLAGGED, "flagged")  /* a: FIELDREF; b: value */                       \
    N(SELWHEN, "when")        /* a: condition */                                \
    N(MAP, "map")             /* a: left; op: arrow; b: right; c: CONV or NULL; list: POLICY */ \
    N(POLICY, "policy")       /* name: from side or NULL; str: to side; op: TK_ALWAYS / TK_NEVER / TK_IF */ \
    N(CONV, "as")             /* op: TK_AS / TK_VALUES / TK_VIA; name; list: ARG or VPAIR/VELSE */ \
    N(ON, "on")               /* a: EVENT; b: guard or NULL; list: ACTION */    \
    N(EVENT, "event")         /* op: TK_CREATE / TK_UPDATE / TK_CONVERT / TK_DELETE / TK_REMOVE; name: side or target */ \
    N(ACTION, "action")       /* op: TK_TAG / TK_UNTAG / TK_SET / TK_DELETE / TK_KEEP / TK_REMOVE / TK_ADD / TK_START; name: side; str; a: FIELDREF; b: value */ \
    N(RESURRECT, "resurrect") /* name: side; a: condition */                    \
    N(PREFER, "prefer")       /* name: side, or op: TK_NEWEST */                \
    N(AFTER, "after")         /* list: NAME syncs */                            \
    N(NEW, "new")             /* name: side; a: NAME object, or op: TK_NEVER; list: ASSIGN */ \
    N(ASSIGN, "assign")       /* a: FIELDREF; b: value */                       \
    N(ACCOUNT, "account")     /* a: ENDPOINT left; op: arrow; b: ENDPOINT right; list: MAP */ \
    N(TRACK, "track")         /* op: TK_STATUS / TK_LAST; a: FIELDREF */        \
    /* expressions */                                                           \
    N(BINARY, "binary")       /* op: token; a; b */                             \
    N(UNARY, "unary")         /* op: TK_NOT / TK_MINUS; a */                    \
    N(INLIST, "in")           /* a; list: elements; op: 1 when 'not in' */      \
    N(ISBLANK, "is-blank")    /* a; op: 1 when 'is not blank' */                \
    N(ALL, "all")             /* list: conditions, all must hold */             \
    N(ANY, "any")             /* list: conditions, one must hold */             \
    N(LIT, "lit")             /* op: TK_STRING/NUMBER/TRUE/FALSE/ON/OFF/NULL/DATE/DATETIME/DURATION/TIME; str; num */ \
    N(FIELDREF, "field")      /* name: qualifier or NULL; str: field; op: 1 if field("...") */ \
    N(TAGGED, "tagged")       /* name: side or NULL; str: tag */                \
    N(CALL, "call")           /* name: function; list: ARG */                   \
    N(ARG, "arg")             /* name: parameter or NULL; a: value */           \
    N(NAME, "name")           /* name: identifier (possibly dotted) */          \
    N(ERROR, "error")         /* a statement the parser skipped */

typedef enum NodeKind {
#define N(k, s) NODE_##k,
    TD_NODE_KINDS(N)
#undef N
    NODE__COUNT
} NodeKind;

typedef struct Node Node;
/* A 50 MB rule file is some five million nodes: the small fields are
 * packed first, and the type is a pointer (most are a field's, or one of
 * type_of_kind's), 128 bytes a node where 176 were. */
struct Node {
    uint8_t kind;      /* NodeKind: what this is; children per the table above */
    int8_t side;       /* checker: 0 left, 1 right, -1 none (2 both): the record an expression reads */
    int16_t depth;     /* expression nesting (parser), bounded so checking never overflows the stack */
    int op;            /* sub-kind: a TK_* code or a flag, per kind */
    int flags;         /* checker flags per kind (see check.h) */
    Loc loc;           /* whole span, for diagnostics */
    Loc nloc;          /* span of the name (or the key token) */
    Loc sloc;          /* span of str */
    const char *name;  /* identifier per kind */
    const char *str;   /* decoded string or second identifier per kind */
    double num;        /* numeric value per kind */
    Node *a, *b, *c;   /* children per kind */
    Node *list;        /* first element of the node's list */
    Node *next;        /* next sibling in a list */

    /* Filled in by the checker. */
    const Type *ty;    /* type of an expression, or of a declared field; never NULL */
    void *sym;         /* resolved symbol (Field*, Object*, Source*, Sync*...) */
};

Node *ast_new(Arena *a, NodeKind k, Loc loc);
const char *ast_kind_name(NodeKind k);
/* Appends n to the list of parent (keeps order). */
void ast_append(Node *parent, Node *n);
int ast_list_len(const Node *first);
/* Deep copy of a subtree (next of the root is not followed). */
Node *ast_clone(Arena *a, const Node *n);
/* Span covering both locations (same file). */
Loc loc_join(Loc a, Loc b);

enum { DUMP_CHECKED = 1 };
enum { AST_MAX_DEPTH = 1000 };  /* deepest expression the parser accepts */
/* S-expression dump without positions; DUMP_CHECKED adds types and
 * resolutions.  Used by tests and by `tandem check --tree`. */
void ast_dump(const Node *n, Buf *out, int flags);

#endif
