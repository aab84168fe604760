/* types.h - the value types of fields and expressions, and which of them
 * may be written into which (directly or through a named conversion).
 */
#ifndef TD_TYPES_H
#define TD_TYPES_H

#include <stdint.h>

/* T(kind, "name", family) - family groups types that share a representation:
 * 't' text, 'n' number, 'd' temporal, 'b' boolean, 'x' other. */
#define TD_TYPE_KINDS(T)                        \
    T(UNKNOWN, "unknown", 'x') /* after an error: fits anywhere */ \
    T(TEXT, "text", 't')                        \
    T(TEXTAREA, "textarea", 't')                \
    T(EMAIL, "email", 't')                      \
    T(PHONE, "phone", 't')                      \
    T(URL, "url", 't')                          \
    T(PICKLIST, "picklist", 't')                \
    T(MULTIPICKLIST, "multipicklist", 't')      \
    T(COUNTRY, "country", 't')                  \
    T(ID, "id", 't')                            \
    T(REFERENCE, "reference", 't')              \
    T(NUMBER, "number", 'n')                    \
    T(INTEGER, "integer", 'n')                  \
    T(CURRENCY, "currency", 'n')                \
    T(PERCENT, "percent", 'n')                  \
    T(BOOLEAN, "boolean", 'b')                  \
    T(DATE, "date", 'd')                        \
    T(DATETIME, "datetime", 'd')                \
    T(DURATION, "duration", 'x')                \
    T(TIME, "time", 'x')                        \
    T(NULL, "null", 'x')                        \
    T(CREDENTIAL, "credential", 'x') /* a setting that must come from env() or secret() */ \
    T(OAUTH2, "oauth2", 'x')         /* a setting built by oauth2(...) */

typedef enum TypeKind {
#define T(k, s, f) TY_##k,
    TD_TYPE_KINDS(T)
#undef T
    TY__COUNT
} TypeKind;

typedef struct Type {
    TypeKind k;          /* the kind */
    const char *ref;     /* REFERENCE: the referenced object's name */
    uint32_t size;       /* TEXT and kin: maximum length, 0 = unlimited */
    const char **values; /* PICKLIST/MULTIPICKLIST: declared values, or NULL */
    int nvalues;
} Type;

/* The policy of one direction of a map (B06): when it writes the target. */
enum { POL_NONE = 0, POL_ALWAYS, POL_IF_BLANK, POL_NEVER };

/* The type of kind k and nothing more (no size, reference or values), for
 * as long as the program runs: what most expressions are. */
const Type *type_of_kind(TypeKind k);
const char *type_name(TypeKind k);
char type_family(TypeKind k);
/* Looks a type name up ("text", "picklist", ...); -1 if unknown. */
int type_lookup(const char *name);
/* Display form, e.g. "text", "reference(Account)". Returns a static buffer
 * when ref is set, so copy it before the next call. */
const char *type_str(const Type *t);

/* May a value of type src be written into a field of type dst as is? */
int type_assignable(TypeKind dst, TypeKind src);
/* May the two be compared with == != < ...? */
int type_comparable(TypeKind a, TypeKind b);
int type_is_text(TypeKind k);
int type_is_numeric(TypeKind k);
int type_is_temporal(TypeKind k);

#endif
