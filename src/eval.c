/* eval.c - running one sync's rules on records given by hand. */
#include "eval.h"

#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "vm.h"

static int eval_side(const Program *p, uint32_t sync, const char *source) {
    const PSync *s = &p->syncs[sync];
    if (!strcmp(source, "left")) return 0;
    if (!strcmp(source, "right")) return 1;
    for (int k = 0; k < 2; k++)
        if (!strcmp(program_str(p, s->side[k].source), source)) return k;
    return -1;
}

static void where(const Program *p, uint32_t pc, Buf *out) {
    buf_printf(out, "%s:%u", program_str(p, p->filenames[p->files[pc]]), p->lines[pc]);
}

static void put_value(Value v, Buf *out) { value_json(v, out); }

static const char *field_name(const Program *p, uint32_t object, uint32_t f) {
    const PObject *o = &p->objects[object];
    return f < o->nfields ? program_str(p, p->fields[o->first_field + f].name) : "?";
}

/* A field as a rule file writes it: Email, or field("Annual Revenue"). */
static void put_field(const Program *p, uint32_t object, uint32_t f, Buf *out) {
    const char *n = field_name(p, object, f);
    int ident = (n[0] < '0' || n[0] > '9') && n[0];
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_')) ident = 0;
    if (ident) buf_puts(out, n);
    else { buf_puts(out, "field("); buf_json_str(out, n, strlen(n)); buf_putc(out, ')'); }
}

/* One action per line: the rule, then what it does. */
static void render(const Program *p, const PSync *s, const ActionBuf *b, const uint32_t obj[2], const char *rec_id,
                   Buf *out) {
    size_t shown = 0;
    for (size_t i = 0; i < b->n; i++) {
        const Action *a = &b->v[i];
        if (a->kind == ACT_BASE) continue; /* the engine's bookkeeping */
        shown++;
        const char *src = program_str(p, s->side[a->side].source);
        buf_puts(out, "  ");
        where(p, a->pc, out);
        buf_puts(out, ": ");
        switch (a->kind) {
        case ACT_SET:
            buf_printf(out, "set %s.", src);
            put_field(p, obj[a->side], a->field, out);
            buf_puts(out, " = ");
            put_value(a->value, out);
            buf_puts(out, " (was ");
            put_value(a->other, out);
            buf_putc(out, ')');
            break;
        case ACT_TAG: buf_printf(out, "tag %s \"%s\"", src, program_str(p, p->tags[a->arg])); break;
        case ACT_UNTAG: buf_printf(out, "untag %s \"%s\"", src, program_str(p, p->tags[a->arg])); break;
        case ACT_DELETE: buf_printf(out, "delete the %s record", src); break;
        case ACT_KEEP: buf_printf(out, "keep the %s record", src); break;
        case ACT_LISTADD: buf_printf(out, "add to %s list \"%s\"", src, program_str(p, a->arg)); break;
        case ACT_LISTDEL: buf_printf(out, "remove from %s list \"%s\"", src, program_str(p, a->arg)); break;
        case ACT_AUTOMATE: buf_printf(out, "start %s automation \"%s\"", src, program_str(p, a->arg)); break;
        case ACT_CONFLICT: {
            const PMap *m = &p->maps[s->first_map + a->arg];
            buf_puts(out, "conflict: ");
            for (int k = 0; k < 2; k++) {
                if (k) buf_puts(out, ", ");
                buf_printf(out, "%s.", program_str(p, s->side[k].source));
                if (m->field[k] != NO_FIELD) put_field(p, obj[k], m->field[k], out);
                else buf_puts(out, "(expression)");
                buf_puts(out, " = ");
                put_value(k ? a->other : a->value, out);
            }
            buf_puts(out, s->prefer == 2 ? "; both changed and their change times do not tell which is newer"
                                         : "; both changed and no 'prefer' settles it");
            break;
        }
        case ACT_SKIP:
            if (a->arg != UINT32_MAX) buf_printf(out, "skipped: %s", program_str(p, p->skips[a->arg].text));
            else buf_printf(out, "skipped: %s", a->msg ? a->msg : "");
            break;
        case ACT_WAIT: buf_puts(out, a->msg ? a->msg : "waiting"); break;
        case ACT_ERROR: buf_printf(out, "error: %s (record %s)", a->msg ? a->msg : "", rec_id ? rec_id : "?"); break;
        default: break;
        }
        buf_putc(out, '\n');
    }
    if (!shown) buf_puts(out, "  nothing to do\n");
}

static int fits(const Program *p, uint32_t s, const EvalInput *in) {
    for (int k = 0; k < in->nrecords; k++) if (eval_side(p, s, in->side[k]) < 0) return 0;
    return 1;
}

/* The sync named, the only one, or the only one whose sides the records name. */
static int find_sync(const Program *p, const EvalInput *in, Buf *err) {
    if (in->sync) {
        for (uint32_t i = 0; i < p->nsyncs; i++)
            if (!strcmp(program_str(p, p->syncs[i].name), in->sync)) return (int)i;
        buf_printf(err, "no sync named '%s' (the syncs are:", in->sync);
        for (uint32_t i = 0; i < p->nsyncs; i++) buf_printf(err, " %s", program_str(p, p->syncs[i].name));
        buf_putc(err, ')');
        return -1;
    }
    if (p->nsyncs == 1) return 0;
    int found = -1, n = 0;
    for (uint32_t i = 0; i < p->nsyncs; i++)
        if (fits(p, i, in)) { found = (int)i; n++; }
    if (n == 1) return found;
    buf_puts(err, p->nsyncs ? "several syncs take these records: name one with --sync" : "the file has no sync");
    return -1;
}

/* Base values of the last sync, per map of the sync, from field names. */
static int read_base(const Program *p, const PSync *s, uint32_t sync, const char *json, Arena *a, Value *base[2],
                     Buf *err) {
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        buf_puts(err, "--base takes a JSON object like {\"sf\": {\"Email\": \"...\"}, \"ac\": {...}}");
        cJSON_Delete(root);
        return -1;
    }
    for (int k = 0; k < 2; k++) base[k] = arena_alloc(a, (s->nmaps ? s->nmaps : 1) * sizeof(Value));
    const cJSON *sideobj;
    cJSON_ArrayForEach(sideobj, root) {
        int k = eval_side(p, sync, sideobj->string);
        if (k < 0 || !cJSON_IsObject(sideobj)) {
            buf_printf(err, "--base: '%s' is not a side of sync %s", sideobj->string, program_str(p, s->name));
            cJSON_Delete(root);
            return -1;
        }
        const cJSON *f;
        cJSON_ArrayForEach(f, sideobj) {
            int hit = 0;
            for (uint32_t m = 0; m < s->nmaps; m++) {
                const PMap *pm = &p->maps[s->first_map + m];
                uint32_t obj = pm->account && s->side[k].account >= 0 ? (uint32_t)s->side[k].account : s->side[k].object;
                if (pm->field[k] == NO_FIELD || strcmp(field_name(p, obj, pm->field[k]), f->string) != 0) continue;
                const PField *pf = &p->fields[p->objects[obj].first_field + pm->field[k]];
                Buf why;
                buf_init(&why);
                if (value_from_json(f, pf->type, a, &base[k][m], &why) != 0) {
                    buf_printf(err, "--base: %s: %s", f->string, buf_str(&why));
                    buf_free(&why);
                    cJSON_Delete(root);
                    return -1;
                }
                buf_free(&why);
                hit = 1;
            }
            if (!hit) {
                buf_printf(err, "--base: no map of sync %s writes %s.%s", program_str(p, s->name),
                           program_str(p, s->side[k].source), f->string);
                cJSON_Delete(root);
                return -1;
            }
        }
    }
    cJSON_Delete(root);
    return 0;
}

static int event_entry(const Program *p, uint32_t sync, const char *ev, Buf *err) {
    static const struct { const char *word; int l, r; } kinds[] = {
        {"create in ", EP_ON_CREATE_L, EP_ON_CREATE_R},
        {"update in ", EP_ON_UPDATE_L, EP_ON_UPDATE_R},
        {"delete in ", EP_ON_DELETE_L, EP_ON_DELETE_R},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen(kinds[i].word);
        if (strncmp(ev, kinds[i].word, n) == 0) {
            int k = eval_side(p, sync, ev + n);
            if (k < 0) { buf_printf(err, "--event: '%s' is not a side", ev + n); return -1; }
            return k ? kinds[i].r : kinds[i].l;
        }
    }
    if (!strcmp(ev, "convert")) return EP_ON_CONVERT;
    if (!strcmp(ev, "remove from list")) return EP_ON_REMOVE;
    buf_printf(err, "--event takes 'create in X', 'update in X', 'delete in X', 'convert' or 'remove from list', not '%s'", ev);
    return -1;
}

int eval_program(const Program *p, const EvalInput *in, Buf *out, Buf *err) {
    int si = find_sync(p, in, err);
    if (si < 0) return -1;
    const PSync *s = &p->syncs[si];
    if (in->nrecords < 1 || in->nrecords > 2) { buf_puts(err, "give one or two records"); return -1; }
    const char *json[2] = {NULL, NULL};
    for (int k = 0; k < in->nrecords; k++) {
        int side = eval_side(p, (uint32_t)si, in->side[k]);
        if (side < 0) {
            buf_printf(err, "'%s' is not a side of sync %s (its sides are %s and %s)", in->side[k], program_str(p, s->name),
                       program_str(p, s->side[0].source), program_str(p, s->side[1].source));
            return -1;
        }
        if (json[side]) { buf_printf(err, "two records for %s", program_str(p, s->side[side].source)); return -1; }
        json[side] = in->record[k];
    }
    Arena a;
    arena_init(&a);
    Record rec[2];
    memset(rec, 0, sizeof rec);
    const VmRec *vr[2] = {NULL, NULL};
    int rc = 0;
    for (int k = 0; k < 2; k++) {
        if (!json[k]) continue;
        cJSON *j = cJSON_Parse(json[k]);
        if (!j) {
            buf_printf(err, "the %s record is not valid JSON", program_str(p, s->side[k].source));
            arena_free(&a);
            return -1;
        }
        Buf why, unknown;
        buf_init(&why);
        buf_init(&unknown);
        int bad = record_from_json(p, s->side[k].object, j, &a, &rec[k], &why, &unknown);
        cJSON_Delete(j);
        if (bad) {
            buf_printf(err, "the %s record: %s", program_str(p, s->side[k].source), buf_str(&why));
            buf_free(&why);
            buf_free(&unknown);
            arena_free(&a);
            return -1;
        }
        if (unknown.n)
            buf_printf(out, "note: %s.%s has no field %s; ignored\n", program_str(p, s->side[k].source),
                       program_str(p, p->objects[s->side[k].object].name), buf_str(&unknown));
        buf_free(&why);
        buf_free(&unknown);
        vr[k] = &rec[k].vm;
    }
    Value *base[2] = {NULL, NULL};
    if (in->base) {
        if (read_base(p, s, (uint32_t)si, in->base, &a, base, err) != 0) { arena_free(&a); return -1; }
        rec[0].vm.linked = vr[0] != NULL;
        rec[1].vm.linked = vr[1] != NULL;
    }
    int event = -1;
    if (in->event && (event = event_entry(p, (uint32_t)si, in->event, err)) < 0) { arena_free(&a); return -1; }

    Vm *vm = vm_new(p);
    vm_next_record(vm);
    ActionBuf b, cb;
    actbuf_init(&b);
    actbuf_init(&cb);
    VmRun run;
    memset(&run, 0, sizeof run);
    run.sync = (uint32_t)si;
    run.rec[0] = vr[0];
    run.rec[1] = vr[1];
    run.base[0] = base[0];
    run.base[1] = base[1];
    run.now = in->now;
    run.first_run = in->now;
    run.out = &b;
    Value r;
    uint32_t objs[2] = {s->side[0].object, s->side[1].object};
    const char *arrow = s->flow == 3 ? "<->" : s->flow == 1 ? "->" : "<-";
    buf_printf(out, "sync %s: ", program_str(p, s->name));
    for (int k = 0; k < 2; k++) {
        if (k) buf_printf(out, " %s ", arrow);
        buf_printf(out, "%s.", program_str(p, s->side[k].source));
        if (s->side[k].list) buf_printf(out, "list(\"%s\")", program_str(p, s->side[k].list - 1));
        else buf_puts(out, program_str(p, p->objects[s->side[k].object].name));
    }
    buf_putc(out, '\n');

    /* Selection and conversion, per record. */
    int selected = 1;
    for (int k = 0; k < 2; k++) {
        if (!vr[k]) continue;
        buf_printf(out, "%s %s: ", program_str(p, s->side[k].source), vr[k]->id && vr[k]->idlen ? vr[k]->id : "(no id)");
        VmStatus st = vm_run(vm, &run, k ? EP_SELECT_R : EP_SELECT_L, &r);
        if (st == VM_ERROR) {
            buf_putc(out, '\n');
            render(p, s, &b, objs, vr[k]->id, out);
            rc = 1;
            selected = 0;
            b.n = 0;
            continue;
        }
        if (s->entry[k ? EP_SELECT_R : EP_SELECT_L] == NO_ENTRY || (r.t == VT_BOOL && r.u.b)) {
            buf_puts(out, "selected");
        } else {
            /* The Return that said no stands at the rule that failed. */
            buf_puts(out, "not selected (");
            where(p, vm_last_pc(vm), out);
            buf_putc(out, ')');
            selected = 0;
        }
        vm_run(vm, &run, k ? EP_CONVERTED_R : EP_CONVERTED_L, &r);
        if (r.t == VT_BOOL && r.u.b) buf_puts(out, ", converted");
        if (rec[k].deleted) buf_puts(out, ", deleted");
        buf_putc(out, '\n');
        b.n = 0;
    }
    if (!selected) goto done;

    /* A record without a partner: build the record it would create first,
     * so the skip rules see the pair as it would be ('skip unless Email is
     * not blank' holds for a contact whose e-mail becomes the lead's). */
    int from = vr[0] ? 0 : 1, t = 1 - from;
    Entry ce = t ? EP_CREATE_R : EP_CREATE_L;
    VmStatus cst = VM_OK;
    VmRec created;
    int creating = !vr[t] && event < 0 && s->entry[ce] != NO_ENTRY;
    if (creating) {
        run.out = &cb;
        cst = vm_run(vm, &run, ce, &r);
        run.out = &b;
        const PObject *o = &p->objects[s->side[t].object];
        Value *fields = arena_alloc(&a, (o->nfields ? o->nfields : 1) * sizeof *fields);
        vm_created_view(vm, (uint32_t)si, t, fields);
        memset(&created, 0, sizeof created);
        created.f = fields;
        created.nf = o->nfields;
        created.modified = INT64_MIN;
        run.rec[t] = &created;
    }

    /* Skip rules over the pair. */
    VmStatus st = vm_run(vm, &run, EP_SKIP, &r);
    run.rec[t] = vr[t];
    if (st != VM_OK) {
        render(p, s, &b, objs, vr[0] ? vr[0]->id : vr[1]->id, out);
        rc = st == VM_ERROR;
        goto done;
    }
    b.n = 0;

    /* A deleted record and its partner: would it be re-created (B19)? */
    for (int k = 0; k < 2; k++) {
        Entry re = k ? EP_RESURRECT_R : EP_RESURRECT_L;
        if (!vr[k] || !rec[k].deleted || s->entry[re] == NO_ENTRY) continue;
        vm_run(vm, &run, re, &r);
        buf_printf(out, "resurrect in %s: %s (", program_str(p, s->side[k].source), r.t == VT_BOOL && r.u.b ? "yes" : "no");
        where(p, vm_last_pc(vm), out);
        buf_puts(out, ")\n");
        b.n = 0;
    }

    /* Match keys. */
    Value key[2] = {v_null(), v_null()};
    Buf kb;
    buf_init(&kb);
    for (int k = 0; k < 2; k++) {
        if (!vr[k] || s->entry[k ? EP_KEY_R : EP_KEY_L] == NO_ENTRY) continue;
        vm_run(vm, &run, k ? EP_KEY_R : EP_KEY_L, &key[k]);
        if (kb.n) buf_puts(&kb, ", ");
        buf_printf(&kb, "%s ", program_str(p, s->side[k].source));
        value_json(key[k], &kb);
    }
    if (kb.n) {
        buf_printf(out, "match key: %s", buf_str(&kb));
        if (vr[0] && vr[1]) buf_puts(out, value_equal(key[0], key[1]) ? " (they match)" : " (they differ)");
        buf_putc(out, '\n');
    }
    buf_free(&kb);

    if (event >= 0) {
        buf_printf(out, "on %s:\n", in->event);
        st = vm_run(vm, &run, (Entry)event, &r);
        render(p, s, &b, objs, vr[0] ? vr[0]->id : vr[1]->id, out);
        rc |= st == VM_ERROR;
        goto done;
    }
    if (vr[0] && vr[1]) {
        buf_puts(out, in->base ? "update:\n" : "first sync of this pair:\n");
        st = vm_run(vm, &run, EP_UPDATE, &r);
        render(p, s, &b, objs, vr[0]->id, out);
        rc |= st == VM_ERROR;
        int wrote[2] = {0, 0};
        for (size_t i = 0; i < b.n; i++) if (b.v[i].kind == ACT_SET) wrote[b.v[i].side] = 1;
        for (int t = 0; t < 2; t++) {
            Entry e = t ? EP_ON_UPDATE_R : EP_ON_UPDATE_L;
            if (!wrote[t] || s->entry[e] == NO_ENTRY) continue;
            b.n = 0;
            buf_printf(out, "on update in %s:\n", program_str(p, s->side[t].source));
            st = vm_run(vm, &run, e, &r);
            render(p, s, &b, objs, vr[t]->id, out);
            rc |= st == VM_ERROR;
        }
    } else {
        const PObject *as = &p->objects[s->side[t].create_as];
        if (!creating) {
            buf_printf(out, "no record is created in %s by this sync\n", program_str(p, s->side[t].source));
            goto done;
        }
        buf_printf(out, "create in %s (%s):\n", program_str(p, s->side[t].source), program_str(p, as->name));
        uint32_t cobjs[2] = {objs[0], objs[1]};
        cobjs[t] = s->side[t].create_as;
        st = cst;
        render(p, s, &cb, cobjs, vr[from]->id, out);
        rc |= st == VM_ERROR;
        Entry oe = t ? EP_ON_CREATE_R : EP_ON_CREATE_L;
        if (st == VM_OK && s->entry[oe] != NO_ENTRY) {
            b.n = 0;
            buf_printf(out, "on create in %s:\n", program_str(p, s->side[t].source));
            st = vm_run(vm, &run, oe, &r);
            render(p, s, &b, objs, vr[from]->id, out);
            rc |= st == VM_ERROR;
        }
    }
done:
    actbuf_free(&b);
    actbuf_free(&cb);
    vm_free(vm);
    arena_free(&a);
    return rc;
}
