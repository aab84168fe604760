/* check.h - the checker: resolves names against the schemas, types every
 * expression, and reports what cannot work before anything runs.
 *
 * check_unit() walks every loaded file, builds the Model below (systems,
 * objects, fields, sources, syncs) and annotates the syntax tree in place:
 * Node.ty holds expression types, Node.side the record an expression reads,
 * Node.sym the resolved symbol (per kind, see below).  Everything lives in
 * the unit's arena.  Downstream stages (compile, plan) read the Model and the
 * annotated tree; they never re-resolve names.
 *
 *   FIELDREF.sym  Field*        MAP.sym     MapSem*      SYNC.sym   Sync*
 *   ENDPOINT.sym  Object*       SOURCE.sym  Source*      CALL.op    builtin id (FN_*)
 *   CONV.sym      ValueMap* (named values) or NULL; CONV.flags = conversion id (CV_*) + 1
 */
#ifndef TD_CHECK_H
#define TD_CHECK_H

#include "ast.h"
#include "symtab.h"
#include "unit.h"

typedef struct System System;
typedef struct Object Object;
typedef struct Sync Sync;

typedef struct Field {
    const char *name;     /* the name the API uses */
    Type ty;              /* declared type */
    unsigned required:1;  /* must have a value when a record is created */
    unsigned readonly:1;  /* set by the system, never written */
    unsigned custom:1;    /* a custom field (extend, or marked custom) */
    unsigned quoted:1;    /* not an identifier: written field("...") */
    Node *deflt;          /* literal the API uses when left out, or NULL */
    Node *decl;           /* its FIELDDECL / SETTINGDECL */
    int index;            /* position in its object: the field's interned id */
    Object *obj;          /* owner (NULL for settings) */
} Field;

struct Object {
    const char *name;     /* API name */
    System *sys;          /* the system it belongs to */
    Field **fields;       /* in declaration order; index = Field.index */
    int nfields, capfields;
    Symtab ftab;          /* name -> Field */
    Field *key;           /* record id */
    Field *created;       /* creation time, for `created since` */
    Field *modified;      /* change time, the incremental cursor */
    Field *deleted;       /* deleted flag, where the API has one */
    Field *list_field;    /* the field naming the one list a record is on (GetResponse campaign) */
    unsigned has_tags:1, has_lists:1, has_automations:1;
    Node *converts;       /* CONVERTS declaration (lead conversion) */
    Object *converts_to;  /* the object a converted record becomes */
    Node *decl;
};

struct System {
    const char *name;     /* e.g. "salesforce" */
    const char *kind;     /* "crm" or "marketing" */
    Object **objects;
    int nobjects, capobjects;
    Symtab objtab;        /* name -> Object */
    Field **settings;     /* declared settings (type, required, credential) */
    int nsettings, capsettings;
    Symtab settab;
    Symtab plantab;       /* plan name -> PLAN node */
    Object *list_object;  /* what src.list("X") selects: the object with lists */
    Node *decl;
    Module *module;       /* where it is declared */
};

typedef struct Source {
    const char *name;     /* as declared: `source sf = ...` */
    System *sys;
    Node *decl;           /* SOURCE node */
    Node *plan;           /* PLAN node chosen by the `plan` setting, or NULL */
    Node *plan_setting;   /* the SETTING that chose it */
    int used;             /* some sync refers to it */
} Source;

typedef struct ValueMap {
    const char *name;     /* NULL for an inline `as values {...}` */
    Node *decl;           /* VALUES or CONV node; pairs in ->list */
    TypeKind from, to;    /* literal types of keys and values */
    int injective;        /* no two keys give the same value */
    int has_else;         /* an `else` value for keys not listed */
} ValueMap;

typedef struct Mapping {
    const char *name;     /* as declared */
    const char *qname;    /* module.name */
    Node *decl;           /* MAPPING node */
    Object *obj[2];       /* the two objects it maps */
} Mapping;


typedef struct MapSem {
    Field *field[2];      /* the field on each side, NULL where that side is an expression */
    int flow;             /* bit 0: left -> right, bit 1: right -> left */
    int policy[2];        /* policy of the direction *into* side i (POL_*) */
    int conv[2];          /* conversion id + 1 applied when writing side i; 0 none */
    ValueMap *values;     /* value map, when the conversion is one */
    Sync *via;            /* reference translation through this sync's links */
    int is_default;       /* came from `use`: an explicit map overrides it */
    Node *use;            /* the USE item it came from */
    /* A join and the maps that split its joined end back (GetResponse's
     * one name from FirstName and LastName, split back at its last blank)
     * merge as one value with one base (check.c, split_groups): the join
     * has split = its expression's side + 1 and split_policy, the policy
     * into that side; each split map has join, the join's MAP node. */
    int split;
    int split_policy;
    Node *join;
} MapSem;

typedef struct Side {
    Source *src;          /* the source */
    Object *obj;          /* the synced object */
    const char *list;     /* list name for src.list("X"), else NULL */
    Node *ep;             /* ENDPOINT node */
    Object *create_as;    /* what new records become here (B04); default obj */
    Node *new_item;       /* the NEW item, if any */
    int never_create;     /* `new in X never` */
    Node **selects;       /* SELECT items for this side */
    int nselects, capselects;
} Side;

struct Sync {
    const char *name;
    Node *decl;           /* SYNC node */
    Side side[2];         /* left and right */
    int flow;             /* bit 0: left -> right, bit 1: right -> left */
    int prefer;           /* -1 none, 0 left, 1 right, 2 newest, 3 unresolved */
    Node *prefer_item;
    Sync **after;         /* syncs that run first */
    int nafter, capafter;
    Node **maps;          /* effective maps: explicit and from `use` */
    int nmaps, capmaps;
    int paused;           /* `paused` inside the block */
    Node *schedule;       /* SCHEDULE inside the block, or NULL */
    int initial;          /* -1 inherit, 0 off, 1 on */
    int order;            /* position in run order (after `after`) */
    int marked;           /* scratch for cycle detection */
};

struct Model {
    Symtab systab;        /* name -> System */
    Symtab srctab;        /* name -> Source */
    Symtab synctab;       /* name -> Sync */
    Symtab maptab;        /* name and module.name -> Mapping */
    Symtab mapambig;      /* plain mapping names declared by two modules */
    Symtab valtab;        /* name -> ValueMap */
    Sync **order;         /* syncs in run order */
    int nsyncs;
    Node *schedule;       /* top-level SCHEDULE, or NULL */
    int paused;           /* top-level `paused` */
    int initial;          /* top-level `initial sync`: 0 off (default), 1 on */
};

/* Checks everything loaded in u; returns the number of errors. */
int check_unit(Unit *u);

#endif
