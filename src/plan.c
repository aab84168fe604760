/* plan.c - building a plan and printing it for people and for tools. */
#include "plan.h"
#include "spill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void plan_init(Plan *pl, const Program *p, int64_t now) {
    memset(pl, 0, sizeof *pl);
    arena_init(&pl->a);
    arena_init(&pl->ca);
    pl->p = p;
    pl->now = now;
    pl->sum = arena_alloc(&pl->a, (p->nsyncs ? p->nsyncs : 1) * sizeof *pl->sum);
}

void plan_free(Plan *pl) {
    if (pl->tmp) fclose(pl->tmp);
    free(pl->changes);
    free(pl->notes);
    arena_free(&pl->a);
    arena_free(&pl->ca);
    memset(pl, 0, sizeof *pl);
}

static void *grow(void *v, uint32_t n, uint32_t *cap, size_t size) {
    if (n < *cap) return v;
    uint32_t nc = *cap ? *cap * 2 : 64;
    void *w = realloc(v, nc * size);
    if (!w) { fputs("tandem: out of memory\n", stderr); abort(); }
    *cap = nc;
    return w;
}

Change *plan_change(Plan *pl, ChangeKind kind, uint32_t sync, int side) {
    pl->changes = grow(pl->changes, pl->nchanges, &pl->capchanges, sizeof *pl->changes);
    Change *c = &pl->changes[pl->nchanges++];
    memset(c, 0, sizeof *c);
    c->kind = (uint8_t)kind;
    c->sync = sync;
    c->side = (uint8_t)side;
    c->created = -1;
    c->pc = UINT32_MAX;
    SyncSummary *s = &pl->sum[sync];
    if (kind == CH_CREATE) s->creates++;
    else if (kind == CH_UPDATE) s->updates++;
    else if (kind == CH_DELETE) s->deletes++;
    else s->actions++;
    return c;
}

void plan_truncate(Plan *pl, uint32_t n) {
    for (; pl->nchanges > n; pl->nchanges--) {
        const Change *c = &pl->changes[pl->nchanges - 1];
        SyncSummary *s = &pl->sum[c->sync];
        if (c->kind == CH_CREATE) s->creates--;
        else if (c->kind == CH_UPDATE) s->updates--;
        else if (c->kind == CH_DELETE) s->deletes--;
        else s->actions--;
    }
}

Note *plan_note(Plan *pl, NoteKind kind, uint32_t sync, int side) {
    pl->notes = grow(pl->notes, pl->nnotes, &pl->capnotes, sizeof *pl->notes);
    Note *n = &pl->notes[pl->nnotes++];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->sync = sync;
    n->side = (uint8_t)side;
    n->pc = UINT32_MAX;
    SyncSummary *s = &pl->sum[sync];
    if (kind == NOTE_SKIP) s->skipped++;
    else if (kind == NOTE_CONFLICT) s->conflicts++;
    else if (kind == NOTE_WAIT) s->waiting++;
    else if (kind == NOTE_ERROR) s->errors++;
    return n;
}

Value plan_keep(Plan *pl, Value v) {
    if (v.t == VT_STR) v.u.s = arena_strndup(&pl->a, v.u.s, v.len);
    return v;
}

const char *plan_str(Plan *pl, const char *s) { return s ? arena_strdup(&pl->a, s) : NULL; }

Value plan_ckeep(Plan *pl, Value v) {
    if (v.t == VT_STR) v.u.s = arena_strndup(&pl->ca, v.u.s, v.len);
    return v;
}

const char *plan_cstr(Plan *pl, const char *s) { return s ? arena_strdup(&pl->ca, s) : NULL; }

void plan_set(Plan *pl, Change *c, uint16_t field, Value before, Value after, uint32_t pc) {
    /* A later set of the same field wins (a handler's `set` after a map). */
    for (uint32_t i = 0; i < c->nsets; i++)
        if (c->sets[i].field == field) {
            c->sets[i].after = plan_ckeep(pl, after);
            c->sets[i].pc = pc;
            return;
        }
    /* Doubling: a copy per field would leave n^2/2 dead sets a change.  A
     * create sets about every map of its sync (and the tracked fields):
     * room for them from the start leaves no outgrown arrays behind. */
    if (c->nsets == c->capsets) {
        uint32_t first = 8;
        if (c->kind == CH_CREATE && c->sync < pl->p->nsyncs) first = pl->p->syncs[c->sync].nmaps + 2;
        c->sets = arena_grow(&pl->ca, c->sets, c->nsets, &c->capsets, first, sizeof *c->sets);
    }
    FieldSet *v = &c->sets[c->nsets++];
    v->field = field;
    v->before = plan_ckeep(pl, before);
    v->after = plan_ckeep(pl, after);
    v->pc = pc;
}

int64_t plan_pending(const Plan *pl) { return pl->flushed + pl->nchanges; }

const char *plan_action_name(ChangeKind k) {
    static const char *const names[] = {"create", "update", "delete", "tag", "untag", "list add", "list remove", "automation"};
    return names[k];
}

/* A line number in decimal; printf would cost more than the rest of a
 * plan's field (a rule is written per field of every change). */
static void put_uint(Buf *out, uint32_t v) {
    char d[12];
    int n = 0;
    do d[n++] = (char)('0' + v % 10); while ((v /= 10) && n < 11);
    while (n) buf_putc(out, d[--n]);
}

void plan_rule(const Program *p, uint32_t pc, Buf *out) {
    if (pc >= p->ncode) return;
    buf_puts(out, program_str(p, p->filenames[p->files[pc]]));
    buf_putc(out, ':');
    put_uint(out, p->lines[pc]);
}

static const char *field_name(const Program *p, uint32_t object, uint32_t f) {
    const PObject *o = &p->objects[object];
    return f < o->nfields ? program_str(p, p->fields[o->first_field + f].name) : "?";
}

static const char *source_of(const Program *p, const Change *c) {
    return program_str(p, p->syncs[c->sync].side[c->side].source);
}

static const char *note_names[] = {"skip", "conflict", "wait", "error", "info"};

/* Writing to a file, the text goes out in pieces as it is made: a plan of a
 * million changes is never held whole as text. */
static void spill(Buf *out, FILE *f) {
    if (!f || !out->n) return;
    fwrite(out->p, 1, out->n, f);
    buf_reset(out);
}

/* The actions on the record each create makes, in plan order, as chains:
 * chain[i] is 1 + the first change acting on change i's record, and
 * chain[n + j] 1 + the next after change j; 0 ends a chain.  Built once,
 * so printing a plan of a million creates stays linear. */
static uint32_t *action_chains(const Plan *pl) {
    uint32_t n = pl->nchanges;
    uint32_t *chain = calloc(2 * (size_t)n + 1, sizeof *chain);
    if (!chain) abort();
    for (uint32_t j = n; j-- > 0;) {
        int32_t c = pl->changes[j].created;
        if (c < 0 || (uint32_t)c >= n) continue;
        chain[n + j] = chain[c];
        chain[c] = j + 1;
    }
    return chain;
}

/* ------------------------------------------------------------ text */

/* Pads a line to a column before the rule, so rules line up. */
static void rule_col(const Program *p, Buf *out, size_t line_start, uint32_t pc, const char *rule) {
    if (pc >= p->ncode && !rule) { buf_putc(out, '\n'); return; }
    size_t w = out->n - line_start;
    buf_indent(out, w < 56 ? (int)(56 - w) : 2);
    if (pc < p->ncode) plan_rule(p, pc, out);
    else buf_puts(out, rule);
    buf_putc(out, '\n');
}

static void text_record(const Program *p, const Change *c, Buf *out) {
    buf_printf(out, "%s.%s", source_of(p, c), program_str(p, p->objects[c->object].name));
    if (c->id) buf_printf(out, " %s", c->id);
    if (c->key) {
        buf_putc(out, ' ');
        buf_json_str(out, c->key, strlen(c->key));
    }
}

static void text_action(const Program *p, const Change *c, Buf *out, int indent) {
    size_t start = out->n;
    buf_indent(out, indent);
    static const char mark[] = {'+', '~', '-', '+', '-', '+', '-', '>'};
    buf_printf(out, "%c %s ", mark[c->kind], plan_action_name((ChangeKind)c->kind));
    if (c->created < 0) {
        text_record(p, c, out);
        buf_putc(out, ' ');
    }
    if (c->name) buf_json_str(out, c->name, strlen(c->name));
    if (c->owed) buf_puts(out, " (owed)");
    rule_col(p, out, start, c->pc, c->rule);
}

static void text_header(const Plan *pl, uint32_t si, Buf *out) {
    const Program *p = pl->p;
    const PSync *s = &p->syncs[si];
    const SyncSummary *sm = &pl->sum[si];
    buf_printf(out, "sync %s: %s.%s %s %s.%s", program_str(p, s->name), program_str(p, s->side[0].source),
               program_str(p, p->objects[s->side[0].object].name),
               s->flow == 3 ? "<->" : s->flow == 1 ? "->" : "<-", program_str(p, s->side[1].source),
               program_str(p, p->objects[s->side[1].object].name));
    if (!sm->ran) buf_printf(out, ": %s\n", sm->why_not ? sm->why_not : "did not run");
    else buf_printf(out, "  (read %lld and %lld)\n", (long long)sm->read[0], (long long)sm->read[1]);
}

/* The changes of sync si now in the plan; 1 when there was one. */
static int text_changes(const Plan *pl, const uint32_t *chain, uint32_t si, Buf *out, FILE *f) {
    const Program *p = pl->p;
    int any = 0;
    for (uint32_t i = 0; i < pl->nchanges; i++) {
        const Change *c = &pl->changes[i];
        if (c->sync != si || c->created >= 0) continue;
        any = 1;
        if (c->kind == CH_CREATE || c->kind == CH_UPDATE || c->kind == CH_DELETE) {
            static const char mark[] = {'+', '~', '-'};
            buf_printf(out, "  %c %s ", mark[c->kind], plan_action_name((ChangeKind)c->kind));
            text_record(p, c, out);
            if (c->from) {
                const PSync *cs = &p->syncs[c->sync];
                buf_printf(out, " from %s %s", program_str(p, cs->side[1 - c->side].source), c->from);
            }
            buf_putc(out, '\n');
            for (uint32_t k = 0; k < c->nsets; k++) {
                const FieldSet *fs = &c->sets[k];
                size_t start = out->n;
                buf_printf(out, "      %s: ", field_name(p, c->object, fs->field));
                if (c->kind == CH_UPDATE) {
                    value_json(fs->before, out);
                    buf_puts(out, " -> ");
                }
                value_json(fs->after, out);
                rule_col(p, out, start, fs->pc, NULL);
            }
            /* Actions on the record this create makes come with it. */
            if (c->kind == CH_CREATE)
                for (uint32_t j = chain[i]; j; j = chain[pl->nchanges + j - 1]) text_action(p, &pl->changes[j - 1], out, 6);
        } else {
            text_action(p, c, out, 2);
        }
        spill(out, f);
    }
    return any;
}

/* The notes of sync si, and "nothing to do" when neither they nor its
 * changes (any) said anything. */
static void text_notes(const Plan *pl, uint32_t si, int any, Buf *out, FILE *f) {
    const Program *p = pl->p;
    const PSync *s = &p->syncs[si];
    for (uint32_t i = 0; i < pl->nnotes; i++) {
        const Note *n = &pl->notes[i];
        if (n->sync != si) continue;
        any = 1;
        size_t start = out->n;
        buf_printf(out, "  %c %s %s.%s", n->kind == NOTE_INFO ? '*' : '!', note_names[n->kind], program_str(p, s->side[n->side].source),
                   program_str(p, p->objects[n->object].name));
        if (n->id) buf_printf(out, " %s", n->id);
        if (n->key) {
            buf_putc(out, ' ');
            buf_json_str(out, n->key, strlen(n->key));
        }
        if (n->kind == NOTE_CONFLICT) {
            const PMap *m = &p->maps[n->map];
            buf_printf(out, ": %s ", program_str(p, m->key));
            for (int k = 0; k < 2; k++) {
                buf_printf(out, "%s%s ", k ? ", " : "", program_str(p, s->side[k].source));
                value_json(n->value[k], out);
            }
        }
        if (n->reason) buf_printf(out, ": %s", n->reason);
        rule_col(p, out, start, n->pc, NULL);
        spill(out, f);
    }
    if (!any) buf_puts(out, "  nothing to do\n");
}

static void text_tail(const Plan *pl, Buf *out) {
    int64_t tot[8] = {0};
    for (uint32_t si = 0; si < pl->p->nsyncs; si++) {
        const SyncSummary *sm = &pl->sum[si];
        tot[0] += sm->creates; tot[1] += sm->updates; tot[2] += sm->deletes; tot[3] += sm->actions;
        tot[4] += sm->skipped; tot[5] += sm->conflicts; tot[6] += sm->waiting; tot[7] += sm->errors;
    }
    buf_printf(out,
               "\nPlan: %lld to create, %lld to update, %lld to delete, %lld other action%s; "
               "%lld skipped, %lld conflict%s, %lld waiting, %lld error%s.\n",
               (long long)tot[0], (long long)tot[1], (long long)tot[2], (long long)tot[3], tot[3] == 1 ? "" : "s",
               (long long)tot[4], (long long)tot[5], tot[5] == 1 ? "" : "s", (long long)tot[6], (long long)tot[7],
               tot[7] == 1 ? "" : "s");
}

static void text_to(const Plan *pl, Buf *out, FILE *f) {
    uint32_t *chain = action_chains(pl);
    for (uint32_t si = 0; si < pl->p->nsyncs; si++) {
        text_header(pl, si, out);
        if (!pl->sum[si].ran) continue;
        text_notes(pl, si, text_changes(pl, chain, si, out, f), out, f);
    }
    text_tail(pl, out);
    free(chain);
    spill(out, f);
}

/* A streamed text plan: the changes of the sync being decided wait in a
 * temporary file (its header, written first, counts what the sync read,
 * known at its end); syncs before `upto` are written whole. */
static void text_upto(Plan *pl, uint32_t upto, Buf *out, FILE *f) {
    uint32_t *chain = action_chains(pl);
    for (; pl->printed < pl->p->nsyncs && pl->printed < upto; pl->printed++) {
        uint32_t si = pl->printed;
        text_header(pl, si, out);
        if (!pl->sum[si].ran) continue;
        int any = 0;
        if (pl->tsync == si) {
            spill(out, f);
            char chunk[65536];
            size_t n;
            fflush(pl->tmp);
            rewind(pl->tmp);
            while ((n = fread(chunk, 1, sizeof chunk, pl->tmp)) > 0) fwrite(chunk, 1, n, f);
            rewind(pl->tmp);
            if (ftruncate(fileno(pl->tmp), 0) != 0) { /* it is written over from the start anyway */ }
            any = pl->tany;
            pl->tsync = UINT32_MAX;
            pl->tany = 0;
        }
        any |= text_changes(pl, chain, si, out, f);
        text_notes(pl, si, any, out, f);
    }
    if (upto < pl->p->nsyncs) {
        Buf b;
        buf_init(&b);
        if (text_changes(pl, chain, upto, &b, pl->tmp)) pl->tany = 1;
        spill(&b, pl->tmp);
        buf_free(&b);
        pl->tsync = upto;
    }
    free(chain);
    spill(out, f);
}

void plan_text(const Plan *pl, Buf *out) { text_to(pl, out, NULL); }

void plan_text_file(Plan *pl, FILE *f) {
    Buf b;
    buf_init(&b);
    if (pl->stream && pl->tmp) {
        text_upto(pl, pl->p->nsyncs, &b, pl->stream);
        text_tail(pl, &b);
        spill(&b, pl->stream);
    } else {
        text_to(pl, &b, f);
    }
    buf_free(&b);
}

/* ------------------------------------------------------------ JSON */

static void jstr(Buf *out, const char *s) {
    if (s) buf_json_str(out, s, strlen(s));
    else buf_puts(out, "null");
}

static void jrule(const Program *p, uint32_t pc, Buf *out) {
    if (pc >= p->ncode) { buf_puts(out, "null"); return; }
    /* "file:line" without a buffer of its own: a rule is written for every
     * field of every change.  The file name is escaped, the line needs none. */
    const char *f = program_str(p, p->filenames[p->files[pc]]);
    buf_json_str(out, f, strlen(f));
    out->n--;   /* reopen the string for the line */
    buf_putc(out, ':');
    put_uint(out, p->lines[pc]);
    buf_putc(out, '"');
}

static void jtime(int64_t ms, Buf *out) {
    Value v = v_int(VT_DATETIME, ms);
    value_json(v, out);
}

static void json_change(const Plan *pl, const uint32_t *chain, uint32_t i, Buf *out) {
    const Program *p = pl->p;
    const Change *c = &pl->changes[i];
    const PSync *s = &p->syncs[c->sync];
    buf_puts(out, "{\"action\": ");
    jstr(out, plan_action_name((ChangeKind)c->kind));
    buf_puts(out, ", \"source\": ");
    jstr(out, source_of(p, c));
    buf_puts(out, ", \"system\": ");
    jstr(out, program_str(p, p->objects[c->object].system));
    buf_puts(out, ", \"object\": ");
    jstr(out, program_str(p, p->objects[c->object].name));
    buf_puts(out, ", \"id\": ");
    jstr(out, c->id);
    buf_puts(out, ", \"key\": ");
    jstr(out, c->key);
    if (c->name) {
        buf_puts(out, ", \"name\": ");
        jstr(out, c->name);
    }
    buf_puts(out, ", \"from\": ");
    if (c->from) {
        buf_puts(out, "{\"source\": ");
        jstr(out, program_str(p, s->side[1 - c->side].source));
        buf_puts(out, ", \"object\": ");
        jstr(out, program_str(p, p->objects[s->side[1 - c->side].object].name));
        buf_puts(out, ", \"id\": ");
        jstr(out, c->from);
        buf_putc(out, '}');
    } else {
        buf_puts(out, "null");
    }
    buf_puts(out, ", \"rule\": ");
    if (c->pc >= p->ncode && c->rule) jstr(out, c->rule);
    else jrule(p, c->pc, out);
    if (c->owed) buf_puts(out, ", \"owed\": true");
    if (c->kind == CH_CREATE || c->kind == CH_UPDATE) {
        buf_puts(out, ", \"fields\": [");
        for (uint32_t k = 0; k < c->nsets; k++) {
            const FieldSet *f = &c->sets[k];
            buf_puts(out, k ? ", {\"field\": " : "{\"field\": ");
            jstr(out, field_name(p, c->object, f->field));
            buf_puts(out, ", \"before\": ");
            value_json(f->before, out);
            buf_puts(out, ", \"after\": ");
            value_json(f->after, out);
            buf_puts(out, ", \"rule\": ");
            jrule(p, f->pc, out);
            buf_putc(out, '}');
        }
        buf_putc(out, ']');
    }
    if (c->kind == CH_CREATE) {
        buf_puts(out, ", \"actions\": [");
        int first = 1;
        for (uint32_t j = chain[i]; j; j = chain[pl->nchanges + j - 1]) {
            const Change *a = &pl->changes[j - 1];
            buf_puts(out, first ? "{\"action\": " : ", {\"action\": ");
            first = 0;
            jstr(out, plan_action_name((ChangeKind)a->kind));
            buf_puts(out, ", \"name\": ");
            jstr(out, a->name);
            buf_puts(out, ", \"rule\": ");
            jrule(p, a->pc, out);
            buf_putc(out, '}');
        }
        buf_putc(out, ']');
    }
    buf_putc(out, '}');
}

/* A plan in JSON, in pieces: the head, then per sync its opening, its
 * changes (perhaps in several flushes: plan_flush), and its closing with
 * the notes, the counts read and the summary; then the tail. */
static void json_head(const Plan *pl, Buf *out) {
    buf_puts(out, "{\"format\": 1, \"now\": ");
    jtime(pl->now, out);
    buf_puts(out, ", \"syncs\": [");
}

static void json_open(const Plan *pl, uint32_t si, Buf *out) {
    const Program *p = pl->p;
    const SyncSummary *sm = &pl->sum[si];
    buf_puts(out, si ? ",\n  {\"sync\": " : "\n  {\"sync\": ");
    jstr(out, program_str(p, p->syncs[si].name));
    buf_printf(out, ", \"ran\": %s, \"why_not\": ", sm->ran ? "true" : "false");
    jstr(out, sm->ran ? NULL : sm->why_not);
    buf_puts(out, ",\n   \"changes\": [");
}

/* The changes of sync si now in the plan; *first: none written yet. */
static void json_changes(const Plan *pl, const uint32_t *chain, uint32_t si, int *first, Buf *out, FILE *f) {
    for (uint32_t i = 0; i < pl->nchanges; i++) {
        const Change *c = &pl->changes[i];
        if (c->sync != si || c->created >= 0) continue;
        buf_puts(out, *first ? "\n    " : ",\n    ");
        *first = 0;
        json_change(pl, chain, i, out);
        spill(out, f);
    }
}

static void json_close(const Plan *pl, uint32_t si, Buf *out, FILE *f) {
    const Program *p = pl->p;
    const PSync *s = &p->syncs[si];
    const SyncSummary *sm = &pl->sum[si];
    buf_puts(out, "],\n   \"notes\": [");
    int first = 1;
    for (uint32_t i = 0; i < pl->nnotes; i++) {
        const Note *n = &pl->notes[i];
        if (n->sync != si) continue;
        buf_puts(out, first ? "\n    {\"kind\": " : ",\n    {\"kind\": ");
        first = 0;
        jstr(out, note_names[n->kind]);
        buf_puts(out, ", \"source\": ");
        jstr(out, program_str(p, s->side[n->side].source));
        buf_puts(out, ", \"object\": ");
        jstr(out, program_str(p, p->objects[n->object].name));
        buf_puts(out, ", \"id\": ");
        jstr(out, n->id);
        buf_puts(out, ", \"key\": ");
        jstr(out, n->key);
        buf_puts(out, ", \"reason\": ");
        jstr(out, n->reason);
        buf_puts(out, ", \"rule\": ");
        jrule(p, n->pc, out);
        if (n->kind == NOTE_CONFLICT) {
            buf_puts(out, ", \"map\": ");
            jstr(out, program_str(p, p->maps[n->map].key));
            buf_puts(out, ", \"values\": {");
            for (int k = 0; k < 2; k++) {
                if (k) buf_puts(out, ", ");
                jstr(out, program_str(p, s->side[k].source));
                buf_puts(out, ": ");
                value_json(n->value[k], out);
            }
            buf_putc(out, '}');
        }
        buf_putc(out, '}');
        spill(out, f);
    }
    /* the counts read come after the changes: a streamed plan writes its
     * changes before the sync has read everything */
    buf_puts(out, "],\n   \"read\": {");
    for (int k = 0; k < 2; k++) {
        if (k) buf_puts(out, ", ");
        jstr(out, program_str(p, s->side[k].source));
        buf_printf(out, ": %lld", (long long)sm->read[k]);
    }
    buf_printf(out,
               "},\n   \"summary\": {\"creates\": %lld, \"updates\": %lld, \"deletes\": %lld, \"actions\": %lld, "
               "\"skipped\": %lld, \"conflicts\": %lld, \"waiting\": %lld, \"errors\": %lld}}",
               (long long)sm->creates, (long long)sm->updates, (long long)sm->deletes, (long long)sm->actions,
               (long long)sm->skipped, (long long)sm->conflicts, (long long)sm->waiting, (long long)sm->errors);
    spill(out, f);
}

static void json_tail(const Plan *pl, Buf *out) {
    int64_t tot[8] = {0};
    for (uint32_t si = 0; si < pl->p->nsyncs; si++) {
        const SyncSummary *sm = &pl->sum[si];
        tot[0] += sm->creates; tot[1] += sm->updates; tot[2] += sm->deletes; tot[3] += sm->actions;
        tot[4] += sm->skipped; tot[5] += sm->conflicts; tot[6] += sm->waiting; tot[7] += sm->errors;
    }
    buf_printf(out,
               "],\n \"summary\": {\"creates\": %lld, \"updates\": %lld, \"deletes\": %lld, \"actions\": %lld, "
               "\"skipped\": %lld, \"conflicts\": %lld, \"waiting\": %lld, \"errors\": %lld}}\n",
               (long long)tot[0], (long long)tot[1], (long long)tot[2], (long long)tot[3], (long long)tot[4],
               (long long)tot[5], (long long)tot[6], (long long)tot[7]);
}

/* Writes what is not written yet, up to sync `upto` (exclusive) whole and,
 * when `upto` is a sync, its changes so far; the tail when upto is nsyncs
 * and tail is set. */
static void json_upto(Plan *pl, uint32_t upto, int tail, Buf *out, FILE *f) {
    if (!pl->started) {
        json_head(pl, out);
        pl->started = 1;
    }
    uint32_t *chain = action_chains(pl);
    for (; pl->printed < pl->p->nsyncs && pl->printed <= upto; ) {
        uint32_t si = pl->printed;
        if (!pl->open) {
            json_open(pl, si, out);
            pl->open = 1;
            pl->first = 1;
        }
        json_changes(pl, chain, si, &pl->first, out, f);
        if (si == upto) break;
        json_close(pl, si, out, f);
        pl->open = 0;
        pl->printed++;
    }
    free(chain);
    if (tail) json_tail(pl, out);
    spill(out, f);
}

static void json_to(const Plan *pl, Buf *out, FILE *f) {
    Plan copy = *pl; /* the printing state only: nothing is dropped */
    copy.started = copy.open = 0;
    copy.printed = 0;
    json_upto(&copy, pl->p->nsyncs, 1, out, f);
}

void plan_json(const Plan *pl, Buf *out) { json_to(pl, out, NULL); }

void plan_json_file(Plan *pl, FILE *f) {
    Buf b;
    buf_init(&b);
    if (pl->stream) json_upto(pl, pl->p->nsyncs, 1, &b, pl->stream);
    else json_to(pl, &b, f);
    buf_free(&b);
}

void plan_stream(Plan *pl, FILE *f) { pl->stream = f; }

int plan_stream_text(Plan *pl, FILE *f) {
    int fd = spill_temp_fd();
    pl->tmp = fd >= 0 ? fdopen(fd, "w+") : NULL;
    if (!pl->tmp) {
        if (fd >= 0) close(fd);
        return -1; /* held whole, as unstreamed */
    }
    pl->stream = f;
    pl->tsync = UINT32_MAX;
    return 0;
}

void plan_flush(Plan *pl, uint32_t sync) {
    if (!pl->stream) return;
    Buf b;
    buf_init(&b);
    if (pl->tmp) text_upto(pl, sync, &b, pl->stream);
    else json_upto(pl, sync, 0, &b, pl->stream);
    buf_free(&b);
    pl->flushed += pl->nchanges;
    pl->nchanges = 0;
    arena_reset(&pl->ca);
}
