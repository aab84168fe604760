/* compile.h - from the checked tree to a Program.
 *
 * compile_unit() turns every sync of a unit that checked without errors
 * into bytecode: selection, skip rules, match keys, merges of every map,
 * creates with required-field checks, event handlers, resurrection and
 * conversion tests.  Field and tag names are interned into integers here;
 * constant expressions are folded.  The Program owns its memory.
 */
#ifndef TD_COMPILE_H
#define TD_COMPILE_H

#include "bytecode.h"
#include "unit.h"

/* NULL when the unit has errors or a constant expression fails (reported
 * to u->diags). */
Program *compile_unit(Unit *u);

#endif
