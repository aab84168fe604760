/* eval.h - `tandem eval`: one sync's rules run on one or two records, with
 * every action and the rule behind it.  The smallest dry run. */
#ifndef TD_EVAL_H
#define TD_EVAL_H

#include <stdint.h>

#include "buf.h"
#include "bytecode.h"

typedef struct EvalInput {
    const char *sync;        /* sync name; NULL: the only sync, or the one whose sources fit */
    const char *side[2];     /* the side of each record: a source name, or left / right */
    const char *record[2];   /* each record: a JSON object of field names */
    int nrecords;            /* 1 or 2 */
    const char *base;        /* JSON {"<side>": {field: value}} of the last sync, or NULL: never synced */
    const char *event;       /* run this event's handlers: "create in X", "update in X",
                              * "delete in X", "convert", "remove from list"; NULL: none */
    int64_t now;             /* run start, ms UTC */
} EvalInput;

/* Writes the outcome to out.  Returns 0, 1 when a record had a run-time
 * error, or -1 for bad input (explained in err). */
int eval_program(const Program *p, const EvalInput *in, Buf *out, Buf *err);


#endif
