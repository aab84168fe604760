/* explain.c - `tandem explain`: a program as a table, like SQLite's EXPLAIN,
 * and docs/opcodes.md from the opcode table. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "builtins.h"
#include "bytecode.h"

/* The object a field operand refers to: accounts in the account entry,
 * the object being created in a create entry, else the synced object. */
static const PObject *side_object(const Program *p, const PSync *s, int entry, int side) {
    if (entry == EP_ACCOUNT && s->side[side].account >= 0) return &p->objects[s->side[side].account];
    if ((entry == EP_CREATE_L && side == 0) || (entry == EP_CREATE_R && side == 1))
        return &p->objects[s->side[side].create_as];
    return &p->objects[s->side[side].object];
}

static void put_const(const Program *p, Value v, Buf *out) {
    (void)p;
    if (v.t == VT_STR) buf_json_str(out, v.u.s, v.len);
    else if (v.t == VT_NULL) buf_puts(out, "null");
    else value_format(v, out);
}

static void put_hash(const Program *p, const PHash *h, int pairs, Buf *out) {
    buf_putc(out, pairs ? '{' : '[');
    for (uint32_t i = 0; i < h->n; i++) {
        if (i == 4) { buf_printf(out, ", ... %u in all", h->n); break; }
        if (i) buf_puts(out, ", ");
        put_const(p, p->consts[p->u32[h->first + (pairs ? 2 * i : i)]], out);
        if (pairs) {
            buf_puts(out, " = ");
            put_const(p, p->consts[p->u32[h->first + 2 * i + 1]], out);
        }
    }
    if (pairs && h->els) {
        buf_puts(out, h->n ? ", else " : "else ");
        put_const(p, p->consts[h->els - 1], out);
    }
    buf_putc(out, pairs ? '}' : ']');
}

static void put_operand(const Program *p, const PSync *s, int entry, const Instr *in, int k, Buf *out) {
    const char *ops = opinfo[in->op].operands;
    uint32_t v = k == 0 ? in->a : k == 1 ? in->b : in->c;
    switch (ops[k]) {
    case 'r': buf_printf(out, "r%u", v); break;
    case 's': buf_puts(out, program_str(p, s->side[v & 1].source)); break;
    case 'f': {
        uint32_t side = k > 0 && ops[k - 1] == 's' ? (k == 1 ? in->a : in->b) : in->a;
        const PObject *o = side_object(p, s, entry, (int)(side & 1));
        buf_puts(out, v < o->nfields ? program_str(p, p->fields[o->first_field + v].name) : "?");
        break;
    }
    case 'k': put_const(p, p->consts[v], out); break;
    case 't': buf_printf(out, "\"%s\"", program_str(p, p->tags[v])); break;
    case 'l': buf_json_str(out, program_str(p, v), strlen(program_str(p, v))); break;
    case 'j': buf_printf(out, "%u", (uint32_t)in->b | (uint32_t)in->c << 16); break;
    case 'e': put_hash(p, &p->sets[v], 0, out); break;
    case 'c': buf_puts(out, builtins[v].name); break;
    case 'v': {
        const PConv *c = &p->convs[v];
        buf_puts(out, conversions[c->kind].name);
        if (c->decimals >= 0 || c->thousands || c->decimal || c->prefix || c->suffix) {
            int first = 1;
            buf_putc(out, '(');
            if (c->decimals >= 0) { buf_printf(out, "decimals = %d", c->decimals); first = 0; }
            const struct { const char *n; uint32_t id; } a[] = {
                {"thousands", c->thousands}, {"decimal", c->decimal}, {"prefix", c->prefix}, {"suffix", c->suffix}};
            for (int i = 0; i < 4; i++) {
                if (!a[i].id) continue;
                buf_printf(out, "%s%s = \"%s\"", first ? "" : ", ", a[i].n, program_str(p, a[i].id - 1));
                first = 0;
            }
            buf_putc(out, ')');
        }
        break;
    }
    case 'y': put_hash(p, &p->vmaps[v], 1, out); break;
    case 'm': {
        const PMap *m = &p->maps[s->first_map + v];
        buf_printf(out, "%u", v);
        (void)m;
        break;
    }
    case 'q': buf_puts(out, program_str(p, p->syncs[v].name)); break;
    case 'x': buf_printf(out, "%u: %s", v, program_str(p, p->skips[v].text)); break;
    case 'b': buf_printf(out, "%s", in->op == OP_LOADBOOL ? (v ? "true" : "false") : ""); if (in->op != OP_LOADBOOL) buf_printf(out, "%u", v); break;
    default: break;
    }
}

/* The synopsis with A, B and C replaced by what the operands stand for. */
static void synopsis(const Program *p, const PSync *s, int entry, const Instr *in, Buf *out) {
    const char *t = opinfo[in->op].synopsis;
    for (size_t i = 0; t[i]; i++) {
        char c = t[i];
        int standalone = (c == 'A' || c == 'B' || c == 'C') && (i == 0 || !isalnum((unsigned char)t[i - 1])) &&
                         !isalnum((unsigned char)t[i + 1]);
        if (!standalone) { buf_putc(out, c); continue; }
        put_operand(p, s, entry, in, c - 'A', out);
    }
    if (in->op == OP_CALL) buf_printf(out, " (%u arguments)", in->n);
    if (in->op == OP_VIA) buf_printf(out, " (id on %s)", program_str(p, p->syncs[in->c].side[in->n & 1].source));
}

/* Entry points in the order of their code, so each instruction is listed once. */
static int entries_in_order(const PSync *s, int *order) {
    int n = 0;
    for (int e = 0; e < EP__COUNT; e++) if (s->entry[e] != NO_ENTRY) order[n++] = e;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && s->entry[order[j]] < s->entry[order[j - 1]]; j--) {
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    return n;
}

static void side_desc(const Program *p, const PSync *s, int k, Buf *out) {
    const PObject *o = &p->objects[s->side[k].object];
    buf_printf(out, "%s.", program_str(p, s->side[k].source));
    if (s->side[k].list) buf_printf(out, "list(\"%s\")", program_str(p, s->side[k].list - 1));
    else buf_puts(out, program_str(p, o->name));
}

/* The sources and what the connectors will read for them: values, and
 * where credentials come from (never the credentials). */
static void explain_sources(const Program *p, Buf *out) {
    for (uint32_t i = 0; i < p->nsources; i++) {
        const PSource *s = &p->sources[i];
        buf_printf(out, "source %s = %s", program_str(p, s->name), program_str(p, s->system));
        for (uint32_t k = 0; k < s->nsettings; k++) {
            const PSetting *st = &p->settings[s->first_setting + k];
            buf_printf(out, "%s%s = ", k ? ", " : ": ", program_str(p, st->name));
            if (st->kind == SET_VALUE) value_json(p->consts[st->value], out);
            else buf_printf(out, "%s(\"%s\")", st->kind == SET_ENV ? "env" : "secret", program_str(p, st->value));
        }
        buf_putc(out, '\n');
    }
    if (p->nsources) buf_putc(out, '\n');
}

void program_explain(const Program *p, Buf *out, int with_lines) {
    explain_sources(p, out);
    for (uint32_t si = 0; si < p->nsyncs; si++) {
        const PSync *s = &p->syncs[si];
        if (si) buf_putc(out, '\n');
        buf_printf(out, "sync %s: ", program_str(p, s->name));
        side_desc(p, s, 0, out);
        buf_puts(out, s->flow == 3 ? " <-> " : s->flow == 1 ? " -> " : " <- ");
        side_desc(p, s, 1, out);
        buf_printf(out, "  (%u registers", s->nregs);
        if (with_lines) buf_printf(out, ", %s:%u", program_str(p, p->filenames[s->file]), s->line);
        buf_puts(out, ")\n");
        buf_printf(out, "addr  opcode      p1    p2    p3    %s\n", with_lines ? "synopsis                                  line" : "synopsis");
        buf_printf(out, "----  ----------  ----  ----  ----  ----------------------------------------%s\n",
                   with_lines ? "  ----" : "");
        int order[EP__COUNT];
        int ne = entries_in_order(s, order);
        for (int k = 0; k < ne; k++) {
            int e = order[k];
            uint32_t start = s->entry[e], end = k + 1 < ne ? s->entry[order[k + 1]] : s->code_end;
            buf_printf(out, "-- %s\n", entry_names[e]);
            for (uint32_t pc = start; pc < end; pc++) {
                const Instr *in = &p->code[pc];
                Buf syn;
                buf_init(&syn);
                synopsis(p, s, e, in, &syn);
                buf_printf(out, "%4u  %-10s  %-4u  %-4u  %-4u  ", pc, opinfo[in->op].name, in->a, in->b, in->c);
                if (with_lines) {
                    buf_printf(out, "%-40s  ", buf_str(&syn));
                    if (p->files[pc] != s->file) buf_printf(out, "%s:", program_str(p, p->filenames[p->files[pc]]));
                    buf_printf(out, "%u", p->lines[pc]);
                } else {
                    buf_puts(out, buf_str(&syn));
                }
                while (out->n && out->p[out->n - 1] == ' ') out->p[--out->n] = 0;
                buf_putc(out, '\n');
                buf_free(&syn);
            }
        }
    }
}

void program_explain_json(const Program *p, Buf *out) {
    buf_puts(out, "{\"syncs\":[");
    for (uint32_t si = 0; si < p->nsyncs; si++) {
        const PSync *s = &p->syncs[si];
        if (si) buf_putc(out, ',');
        buf_puts(out, "{\"name\":");
        buf_json_str(out, program_str(p, s->name), strlen(program_str(p, s->name)));
        for (int k = 0; k < 2; k++) {
            const PObject *o = &p->objects[s->side[k].object];
            buf_printf(out, ",\"%s\":{\"source\":", k ? "right" : "left");
            const char *src = program_str(p, s->side[k].source);
            buf_json_str(out, src, strlen(src));
            buf_puts(out, ",\"system\":");
            buf_json_str(out, program_str(p, o->system), strlen(program_str(p, o->system)));
            buf_puts(out, ",\"object\":");
            buf_json_str(out, program_str(p, o->name), strlen(program_str(p, o->name)));
            buf_putc(out, '}');
        }
        buf_printf(out, ",\"flow\":\"%s\",\"registers\":%u,\"entries\":[", s->flow == 3 ? "<->" : s->flow == 1 ? "->" : "<-",
                   s->nregs);
        int order[EP__COUNT];
        int ne = entries_in_order(s, order);
        for (int k = 0; k < ne; k++) {
            int e = order[k];
            uint32_t start = s->entry[e], end = k + 1 < ne ? s->entry[order[k + 1]] : s->code_end;
            if (k) buf_putc(out, ',');
            buf_puts(out, "{\"entry\":");
            buf_json_str(out, entry_names[e], strlen(entry_names[e]));
            buf_puts(out, ",\"code\":[");
            for (uint32_t pc = start; pc < end; pc++) {
                const Instr *in = &p->code[pc];
                Buf syn;
                buf_init(&syn);
                synopsis(p, s, e, in, &syn);
                if (pc > start) buf_putc(out, ',');
                buf_printf(out, "{\"addr\":%u,\"opcode\":\"%s\",\"p1\":%u,\"p2\":%u,\"p3\":%u,\"n\":%u,\"synopsis\":", pc,
                           opinfo[in->op].name, in->a, in->b, in->c, in->n);
                buf_json_str(out, buf_str(&syn), syn.n);
                const char *file = program_str(p, p->filenames[p->files[pc]]);
                buf_puts(out, ",\"file\":");
                buf_json_str(out, file, strlen(file));
                buf_printf(out, ",\"line\":%u}", p->lines[pc]);
                buf_free(&syn);
            }
            buf_puts(out, "]}");
        }
        buf_puts(out, "]}");
    }
    buf_puts(out, "]}\n");
}

void opcodes_markdown(Buf *out) {
    buf_puts(out,
             "# The tandem VM's instructions\n"
             "\n"
             "Generated from `src/opcodes.def` by `tandem explain --opcodes`; do not edit.\n"
             "`docs/vm.md` explains registers, entry points and the program file.\n"
             "\n"
             "Each instruction is 8 bytes: an opcode, a count `n` (arguments of `Call`, the side\n"
             "of the id in `Via`), and three 16-bit operands A, B and C (`p1`-`p3` in\n"
             "`tandem explain`).  A jump target takes B and C together (32 bits).\n"
             "\n"
             "| operand | stands for |\n"
             "|---|---|\n"
             "| r | a register |\n"
             "| s | a side of the sync: 0 left, 1 right |\n"
             "| f | a field of the object on that side |\n"
             "| k | a constant |\n"
             "| t | a tag name |\n"
             "| l | a list or automation name |\n"
             "| j | an instruction address |\n"
             "| e | a set of constants (`in [...]`) |\n"
             "| c | a builtin function |\n"
             "| v | a conversion (`as ...`) |\n"
             "| y | a value map |\n"
             "| m | a map of the sync |\n"
             "| q | a sync |\n"
             "| x | a skip rule |\n"
             "| b | a boolean or small number |\n"
             "\n"
             "| opcode | A B C | synopsis | what it does |\n"
             "|---|---|---|---|\n");
    for (int i = 0; i < OP__COUNT; i++) {
        const OpInfo *o = &opinfo[i];
        buf_printf(out, "| %s | %c %c %c | `%s` | %s |\n", o->name, o->operands[0], o->operands[1], o->operands[2],
                   o->synopsis, o->doc);
    }
    buf_puts(out, "\n## Entry points\n\nA sync's code has one entry point per question the engine asks:\n\n");
    for (int e = 0; e < EP__COUNT; e++) buf_printf(out, "- %s\n", entry_names[e]);
}
