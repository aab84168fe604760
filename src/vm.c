/* vm.c - the interpreter.
 *
 * A register machine in the manner of Lua's: fixed-width instructions,
 * dispatch behind vmcase/vmbreak (computed goto where the compiler has it, a
 * switch elsewhere), one error exit.  The loader has checked every operand,
 * so the loop does no bounds checks of its own; a record's fields past its
 * count read as null.
 */
#include "vm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "merge.h"
#include "types.h"

struct Vm {
    const Program *p;
    Value *regs;           /* registers, sized for the largest sync */
    uint32_t nregs;
    Value *pend[2];        /* fields set on records being created, by field id */
    uint32_t npend;
    Scratch scratch;       /* text made while running one record */
    ConvParams *convs;     /* the program's conversions, strings resolved */
    uint32_t last_pc;      /* where the last run returned */
};

void actbuf_init(ActionBuf *b) { b->v = NULL; b->n = b->cap = 0; }
void actbuf_free(ActionBuf *b) { free(b->v); actbuf_init(b); }

static Action *emit(ActionBuf *b) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        Action *v = realloc(b->v, cap * sizeof *v);
        if (!v) { fputs("tandem: out of memory\n", stderr); abort(); }
        b->v = v;
        b->cap = cap;
    }
    Action *a = &b->v[b->n++];
    memset(a, 0, sizeof *a);
    return a;
}

static const char *opt_str(const Program *p, uint32_t id1) { return id1 ? program_str(p, id1 - 1) : NULL; }

Vm *vm_new(const Program *p) {
    Vm *vm = calloc(1, sizeof *vm);
    if (!vm) return NULL;
    vm->p = p;
    uint32_t nregs = 1, npend = 1;
    for (uint32_t i = 0; i < p->nsyncs; i++) if (p->syncs[i].nregs > nregs) nregs = p->syncs[i].nregs;
    for (uint32_t i = 0; i < p->nobjects; i++) if (p->objects[i].nfields > npend) npend = p->objects[i].nfields;
    vm->regs = calloc(nregs, sizeof *vm->regs);
    vm->pend[0] = calloc(npend, sizeof(Value));
    vm->pend[1] = calloc(npend, sizeof(Value));
    vm->convs = calloc(p->nconvs ? p->nconvs : 1, sizeof *vm->convs);
    if (!vm->regs || !vm->pend[0] || !vm->pend[1] || !vm->convs) { vm_free(vm); return NULL; }
    vm->nregs = nregs;
    vm->npend = npend;
    for (uint32_t i = 0; i < p->nconvs; i++) {
        const PConv *c = &p->convs[i];
        vm->convs[i] = (ConvParams){c->kind, c->decimals, opt_str(p, c->thousands), opt_str(p, c->decimal),
                                    opt_str(p, c->prefix), opt_str(p, c->suffix)};
    }
    scratch_init(&vm->scratch);
    return vm;
}

void vm_free(Vm *vm) {
    if (!vm) return;
    free(vm->regs);
    free(vm->pend[0]);
    free(vm->pend[1]);
    free(vm->convs);
    scratch_free(&vm->scratch);
    free(vm);
}

void vm_next_record(Vm *vm) { scratch_reset(&vm->scratch); }

uint32_t vm_last_pc(const Vm *vm) { return vm->last_pc; }

const Value *vm_created(const Vm *vm, int side, uint32_t *n) {
    *n = vm->npend;
    return vm->pend[side & 1];
}

void vm_created_view(const Vm *vm, uint32_t sync, int side, Value *fields) {
    const Program *p = vm->p;
    const PSide *sd = &p->syncs[sync].side[side & 1];
    const PObject *o = &p->objects[sd->object], *as = &p->objects[sd->create_as];
    const Value *pend = vm->pend[side & 1];
    for (uint32_t i = 0; i < o->nfields; i++) {
        fields[i] = v_null();
        if (sd->create_as == sd->object) {
            fields[i] = pend[i];
            continue;
        }
        const char *name = program_str(p, p->fields[o->first_field + i].name);
        for (uint32_t j = 0; j < as->nfields; j++)
            if (strcmp(program_str(p, p->fields[as->first_field + j].name), name) == 0) { fields[i] = pend[j]; break; }
    }
}

static int truthy(Value v) { return v.t == VT_BOOL && v.u.b; }

static int text_find(Value h, Value n, int where) {
    if (h.t != VT_STR || n.t != VT_STR || h.len == 0 || n.len == 0 || n.len > h.len) return 0;
    if (where == 1) return memcmp(h.u.s, n.u.s, n.len) == 0;
    if (where == 2) return memcmp(h.u.s + h.len - n.len, n.u.s, n.len) == 0;
    for (uint32_t i = 0; i + n.len <= h.len; i++)
        if (memcmp(h.u.s + i, n.u.s, n.len) == 0) return 1;
    return 0;
}

static const char *fmt_msg(Vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *fmt_msg(Vm *vm, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = scratch_alloc(&vm->scratch, (size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A value quoted for a message, cut short. */
static const char *quote(Vm *vm, Value v) {
    Buf b;
    buf_init(&b);
    value_json(v, &b);
    if (b.n > 60) { b.n = 57; buf_puts(&b, "..."); }
    const char *s = fmt_msg(vm, "%s", buf_str(&b));
    buf_free(&b);
    return s;
}

#if defined(__GNUC__) || defined(__clang__)
#define VM_COMPUTED_GOTO 1
#endif

#ifdef VM_COMPUTED_GOTO
#define vmdispatch(o) goto *disptab[o];
#define vmcase(l) L_##l:
#define vmbreak  do { in = &code[pc++]; goto *disptab[in->op]; } while (0)
#else
#define vmdispatch(o) switch (o)
#define vmcase(l) case l:
#define vmbreak break
#endif

VmStatus vm_run(Vm *vm, const VmRun *run, Entry e, Value *result) {
    const Program *p = vm->p;
    const PSync *s = &p->syncs[run->sync];
    const Instr *code = p->code;
    const Value *K = p->consts;
    Value *R = vm->regs;
    ActionBuf *out = run->out;
    const Instr *in;
    uint32_t pc = s->entry[e];
    const char *err = NULL;
    VmStatus status = VM_OK;
    *result = v_null();
    if (pc == NO_ENTRY) return VM_OK;
    if (e == EP_CREATE_L || e == EP_CREATE_R) {
        for (uint32_t i = 0; i < vm->npend; i++) vm->pend[0][i] = vm->pend[1][i] = v_null();
    }

#ifdef VM_COMPUTED_GOTO
    static const void *const disptab[OP__COUNT] = {
#define OP(name, disp, ops, syn, doc) &&L_OP_##name,
#include "opcodes.def"
#undef OP
    };
#endif

#ifdef VM_COMPUTED_GOTO
    in = &code[pc++];
#endif
    for (;;) {
#ifndef VM_COMPUTED_GOTO
        in = &code[pc++];
#endif
        vmdispatch(in->op) {
        vmcase(OP_LOADK) { R[in->a] = K[in->b]; vmbreak; }
        vmcase(OP_LOADNULL) { R[in->a] = v_null(); vmbreak; }
        vmcase(OP_LOADBOOL) { R[in->a] = v_bool(in->b); vmbreak; }
        vmcase(OP_MOVE) { R[in->a] = R[in->b]; vmbreak; }
        vmcase(OP_FIELD) {
            const VmRec *r = run->rec[in->b];
            R[in->a] = r && in->c < r->nf ? r->f[in->c] : v_null();
            vmbreak;
        }
        vmcase(OP_BASE) {
            const Value *b = run->base[in->b];
            R[in->a] = b ? b[in->c] : v_null();
            vmbreak;
        }
        vmcase(OP_RECID) {
            const VmRec *r = run->rec[in->b];
            R[in->a] = r && r->id ? v_str(r->id, r->idlen) : v_null();
            vmbreak;
        }
        vmcase(OP_HASTAG) {
            const VmRec *r = run->rec[in->b];
            R[in->a] = v_bool(r && r->tags && (r->tags[in->c >> 6] >> (in->c & 63) & 1));
            vmbreak;
        }
        vmcase(OP_LINKED) {
            const VmRec *r = run->rec[in->b];
            R[in->a] = v_bool(r && r->linked);
            vmbreak;
        }
        vmcase(OP_NOW) { R[in->a] = v_int(VT_DATETIME, run->now); vmbreak; }
        vmcase(OP_TODAY) {
            int64_t ms = run->now;
            R[in->a] = v_int(VT_DATE, ms >= 0 ? ms / 86400000LL : -((-ms + 86399999LL) / 86400000LL));
            vmbreak;
        }
        vmcase(OP_FIRSTRUN) { R[in->a] = v_int(VT_DATETIME, run->first_run); vmbreak; }
        vmcase(OP_EQ) { R[in->a] = v_bool(value_equal(R[in->b], R[in->c])); vmbreak; }
        vmcase(OP_NE) { R[in->a] = v_bool(!value_equal(R[in->b], R[in->c])); vmbreak; }
        vmcase(OP_LT) { R[in->a] = v_bool(value_cmp(R[in->b], R[in->c]) == -1); vmbreak; }
        vmcase(OP_LE) {
            int c = value_cmp(R[in->b], R[in->c]);
            R[in->a] = v_bool(c == -1 || c == 0);
            vmbreak;
        }
        vmcase(OP_NOT) { R[in->a] = v_bool(!truthy(R[in->b])); vmbreak; }
        vmcase(OP_ISBLANK) { R[in->a] = v_bool(value_blank(R[in->b])); vmbreak; }
        vmcase(OP_CONTAINS) { R[in->a] = v_bool(text_find(R[in->b], R[in->c], 0)); vmbreak; }
        vmcase(OP_STARTS) { R[in->a] = v_bool(text_find(R[in->b], R[in->c], 1)); vmbreak; }
        vmcase(OP_ENDS) { R[in->a] = v_bool(text_find(R[in->b], R[in->c], 2)); vmbreak; }
        vmcase(OP_INSET) { R[in->a] = v_bool(program_in_set(p, in->c, R[in->b])); vmbreak; }
        vmcase(OP_JMP) { pc = (uint32_t)in->b | (uint32_t)in->c << 16; vmbreak; }
        vmcase(OP_JMPIF) {
            if (truthy(R[in->a])) pc = (uint32_t)in->b | (uint32_t)in->c << 16;
            vmbreak;
        }
        vmcase(OP_JMPIFNOT) {
            if (!truthy(R[in->a])) pc = (uint32_t)in->b | (uint32_t)in->c << 16;
            vmbreak;
        }
        vmcase(OP_RET) { *result = R[in->a]; vm->last_pc = pc - 1; return status; }
        vmcase(OP_HALT) { vm->last_pc = pc - 1; return status; }
        vmcase(OP_ADD) vmcase(OP_SUB) vmcase(OP_MUL) vmcase(OP_DIV) {
            static const char ops[] = {[OP_ADD] = '+', [OP_SUB] = '-', [OP_MUL] = '*', [OP_DIV] = '/'};
            R[in->a] = value_arith(ops[in->op], R[in->b], R[in->c], &err);
            if (err) goto error;
            vmbreak;
        }
        vmcase(OP_NEG) {
            Value v = R[in->b];
            if (v.t == VT_NUM) R[in->a] = v_num(-v.u.n);
            else if (v.t == VT_DURATION) R[in->a] = v_int(VT_DURATION, -v.u.i);
            else R[in->a] = v_null();
            vmbreak;
        }
        vmcase(OP_CALL) {
            Value r;
            if (builtin_call(in->b, &R[in->c], in->n, &r, &vm->scratch, &err) != 0) {
                err = fmt_msg(vm, "%s(): %s", builtins[in->b].name, err);
                goto error;
            }
            R[in->a] = r;
            vmbreak;
        }
        vmcase(OP_CONV) {
            Value r;
            if (conversion_apply(&vm->convs[in->c], R[in->b], &r, &vm->scratch, &err) != 0) {
                err = fmt_msg(vm, "%s %s (as %s)", quote(vm, R[in->b]), err, conversions[vm->convs[in->c].kind].name);
                goto error;
            }
            R[in->a] = r;
            vmbreak;
        }
        vmcase(OP_VMAP) { R[in->a] = program_vmap(p, in->c, R[in->b]); vmbreak; }
        vmcase(OP_VIA) {
            Value id = R[in->b], other;
            if (value_blank(id)) { R[in->a] = v_null(); vmbreak; }
            if (run->link && run->link(run->link_ctx, in->c, in->n, id, &other)) { R[in->a] = other; vmbreak; }
            Action *a = emit(out);
            a->kind = ACT_WAIT;
            a->pc = pc - 1;
            a->msg = fmt_msg(vm, "waiting for next sync: %s %s is not linked by sync '%s' yet",
                             program_str(p, p->syncs[in->c].side[in->n].source), quote(vm, id),
                             program_str(p, p->syncs[in->c].name));
            return VM_WAIT;
        }
        vmcase(OP_KEY) { R[in->a] = text_key(R[in->b], &vm->scratch); vmbreak; }
        vmcase(OP_MERGE) {
            const PMap *m = &p->maps[s->first_map + in->b];
            const Value *w = &R[in->a];
            MergeIn mi;
            mi.cur[0] = w[0];
            mi.cur[1] = w[1];
            mi.give[1] = w[2];
            mi.give[0] = w[3];
            mi.base[0] = w[4];
            mi.base[1] = w[5];
            mi.has_base = run->base[0] != NULL;
            mi.flow = m->flow;
            mi.policy[0] = m->policy[0];
            mi.policy[1] = m->policy[1];
            mi.prefer = s->prefer;
            for (int k = 0; k < 2; k++) mi.modified[k] = run->rec[k] ? run->rec[k]->modified : INT64_MIN;
            MergeOut mo = {{0, 0}, 0};
            /* The match key's own map: values that pair (B03: same address
             * up to case and blanks) already agree. */
            int key_map = m->field[0] != NO_FIELD && (int32_t)m->field[0] == s->match_field[0] &&
                          (int32_t)m->field[1] == s->match_field[1];
            int same = key_map && !value_blank(mi.cur[0]) &&
                       value_equal(text_key(mi.cur[0], &vm->scratch), text_key(mi.cur[1], &vm->scratch));
            if (!run->observe && !same) mo = merge_decide(&mi);
            for (int t = 0; t < 2; t++) {
                if (!mo.write[t] || m->field[t] == NO_FIELD) continue;
                Action *a = emit(out);
                a->kind = ACT_SET;
                a->side = (uint8_t)t;
                a->field = m->field[t];
                a->arg = in->b;
                a->value = mi.give[t];
                a->other = mi.cur[t];
                a->pc = pc - 1;
            }
            if (mo.conflict) {
                Action *a = emit(out);
                a->kind = ACT_CONFLICT;
                a->arg = in->b;
                a->value = mi.cur[0];
                a->other = mi.cur[1];
                a->pc = pc - 1;
            }
            /* After a conflict nothing is written, so the base stays what it
             * was: the conflict is still there next run.  A split side's
             * fields are written by the instructions after this one. */
            int split[2] = {(m->flow & MAP_SPLIT_LEFT) != 0, (m->flow & MAP_SPLIT_RIGHT) != 0};
            if (!mo.conflict) {
                Action *a = emit(out);
                a->kind = ACT_BASE;
                a->arg = in->b;
                a->value = mo.write[0] && (m->field[0] != NO_FIELD || split[0]) ? mi.give[0] : mi.cur[0];
                a->other = mo.write[1] && (m->field[1] != NO_FIELD || split[1]) ? mi.give[1] : mi.cur[1];
                a->pc = pc - 1;
            }
            if (split[0] || split[1]) R[in->a] = v_bool(mo.write[split[0] ? 0 : 1]);
            vmbreak;
        }
        vmcase(OP_PUT) {
            const VmRec *r = run->rec[in->a];
            if (in->b < vm->npend) vm->pend[in->a][in->b] = R[in->c];
            /* A new record leaves blanks out; no value (a value map's miss)
             * never writes, so the field keeps what it has. */
            if (R[in->c].t == VT_NONE || (in->n && value_blank(R[in->c]))) vmbreak;
            Action *a = emit(out);
            a->kind = ACT_SET;
            a->side = (uint8_t)in->a;
            a->field = in->b;
            a->value = R[in->c];
            a->other = r && in->b < r->nf ? r->f[in->b] : v_null();
            a->pc = pc - 1;
            vmbreak;
        }
        vmcase(OP_REQUIRE) {
            if (in->b < vm->npend && !value_blank(vm->pend[in->a][in->b])) vmbreak;
            const PSide *sd = &s->side[in->a];
            const PObject *o = &p->objects[sd->create_as];
            Action *a = emit(out);
            a->kind = ACT_SKIP;
            a->side = (uint8_t)in->a;
            a->arg = UINT32_MAX;
            a->pc = pc - 1;
            a->msg = fmt_msg(vm, "required field %s of %s has no value", program_str(p, p->fields[o->first_field + in->b].name),
                             program_str(p, o->name));
            return VM_SKIP;
        }
        vmcase(OP_SKIP) {
            Action *a = emit(out);
            a->kind = ACT_SKIP;
            a->arg = in->a;
            a->pc = pc - 1;
            return VM_SKIP;
        }
        vmcase(OP_TAG) vmcase(OP_UNTAG) vmcase(OP_DELETE) vmcase(OP_KEEP) vmcase(OP_LISTADD) vmcase(OP_LISTDEL)
        vmcase(OP_AUTOMATE) {
            Action *a = emit(out);
            a->kind = in->op == OP_TAG ? ACT_TAG : in->op == OP_UNTAG ? ACT_UNTAG : in->op == OP_DELETE ? ACT_DELETE
                    : in->op == OP_KEEP ? ACT_KEEP : in->op == OP_LISTADD ? ACT_LISTADD
                    : in->op == OP_LISTDEL ? ACT_LISTDEL : ACT_AUTOMATE;
            a->side = (uint8_t)in->a;
            a->arg = in->b;
            a->pc = pc - 1;
            vmbreak;
        }
#ifndef VM_COMPUTED_GOTO
        default:
            err = "unknown instruction";
            goto error;
#endif
        }
    }

error: {
        Action *a = emit(out);
        a->kind = ACT_ERROR;
        a->pc = pc - 1;
        a->msg = err;
        return VM_ERROR;
    }
}
