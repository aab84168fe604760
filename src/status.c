/* status.c - `tandem status`: runs, syncs, errors and waiting records, read
 * from the state and laid out for people or for tools. */
#include "status.h"

#include <string.h>

#include "engine.h"

typedef struct Ctx {
    Buf *out;
    int json, n;
    int64_t last_run;      /* newest run id */
    const char *last_status;
    Arena *a;
} Ctx;

static void jstr(Buf *out, const char *s) {
    if (s) buf_json_str(out, s, strlen(s));
    else buf_puts(out, "null");
}

static void when(Buf *out, int64_t ms, int json) {
    if (json) {
        if (!ms) buf_puts(out, "null");
        else {
            buf_putc(out, '"');
            format_datetime(ms, out);
            buf_putc(out, '"');
        }
        return;
    }
    if (!ms) buf_puts(out, "never");
    else format_datetime(ms, out);
}

static int each_run(void *ctx, const RunInfo *r) {
    Ctx *c = ctx;
    Buf *out = c->out;
    if (!c->n) {
        c->last_run = r->id;
        c->last_status = arena_strdup(c->a, r->status);
    }
    if (c->json) {
        buf_puts(out, c->n ? ",\n    {\"run\": " : "\n    {\"run\": ");
        buf_printf(out, "%lld, \"started\": ", (long long)r->id);
        when(out, r->started, 1);
        buf_puts(out, ", \"finished\": ");
        when(out, r->finished, 1);
        buf_puts(out, ", \"rules\": ");
        jstr(out, r->rules);
        buf_puts(out, ", \"status\": ");
        jstr(out, r->status);
        buf_printf(out,
                   ", \"read\": %lld, \"created\": %lld, \"updated\": %lld, \"deleted\": %lld, \"actions\": %lld, "
                   "\"skipped\": %lld, \"conflicts\": %lld, \"waiting\": %lld, \"errors\": %lld}",
                   (long long)r->n.read, (long long)r->n.created, (long long)r->n.updated, (long long)r->n.deleted,
                   (long long)r->n.tagged, (long long)r->n.skipped, (long long)r->n.conflicts, (long long)r->n.waiting,
                   (long long)r->n.errors);
    } else {
        buf_printf(out, "  #%lld  ", (long long)r->id);
        when(out, r->started, 0);
        buf_printf(out, "  %-7s read %lld, created %lld, updated %lld, deleted %lld, other actions %lld; "
                        "skipped %lld, conflicts %lld, waiting %lld, errors %lld\n",
                   r->status, (long long)r->n.read, (long long)r->n.created, (long long)r->n.updated,
                   (long long)r->n.deleted, (long long)r->n.tagged, (long long)r->n.skipped, (long long)r->n.conflicts,
                   (long long)r->n.waiting, (long long)r->n.errors);
    }
    c->n++;
    return 0;
}

static int each_error(void *ctx, const char *reason, int64_t count, const char *example) {
    Ctx *c = ctx;
    Buf *out = c->out;
    if (c->json) {
        buf_puts(out, c->n ? ",\n    {\"reason\": " : "\n    {\"reason\": ");
        jstr(out, reason);
        buf_printf(out, ", \"count\": %lld, \"example\": ", (long long)count);
        jstr(out, example);
        buf_putc(out, '}');
    } else {
        buf_printf(out, "  %6lld  %s", (long long)count, reason);
        if (example) buf_printf(out, " (e.g. %s)", example);
        buf_putc(out, '\n');
    }
    c->n++;
    return 0;
}

typedef struct WCtx {
    Ctx *c;
    const char *sync;
    int shown;
} WCtx;

static int each_waiting(void *ctx, int side, const char *object, const char *id, const char *reason, int64_t at) {
    WCtx *w = ctx;
    Buf *out = w->c->out;
    if (w->c->json) {
        buf_puts(out, w->c->n ? ",\n    {\"sync\": " : "\n    {\"sync\": ");
        jstr(out, w->sync);
        buf_printf(out, ", \"side\": %d, \"object\": ", side);
        jstr(out, object);
        buf_puts(out, ", \"id\": ");
        jstr(out, id);
        buf_puts(out, ", \"reason\": ");
        jstr(out, reason);
        buf_puts(out, ", \"since\": ");
        when(out, at, 1);
        buf_putc(out, '}');
    } else if (w->shown < 20) {
        buf_printf(out, "  %s: %s %s since ", w->sync, object, id);
        when(out, at, 0);
        if (reason) buf_printf(out, ": %s", reason);
        buf_putc(out, '\n');
    }
    w->shown++;
    w->c->n++;
    return 0;
}

static int count_queue(void *ctx, int side, const char *id, const char *reason, int64_t at) {
    (void)side; (void)id; (void)reason; (void)at;
    (*(int64_t *)ctx)++;
    return 0;
}

/* Every record in error (B31): all in JSON, a page in text. */
typedef struct ECtx {
    Ctx *c;
    int64_t n, from, to;   /* rows seen; the page's [from, to) */
} ECtx;

static int each_record_error(void *ctx, const RecordError *e) {
    ECtx *x = ctx;
    Buf *out = x->c->out;
    int64_t i = x->n++;
    if (x->c->json) {
        buf_puts(out, i ? ",\n    {\"sync\": " : "\n    {\"sync\": ");
        jstr(out, e->sync);
        buf_printf(out, ", \"side\": %d, \"object\": ", e->side);
        jstr(out, e->object);
        buf_puts(out, ", \"id\": ");
        jstr(out, e->id);
        buf_puts(out, ", \"reason\": ");
        jstr(out, e->reason);
        buf_puts(out, ", \"rule\": ");
        jstr(out, e->rule);
        buf_puts(out, ", \"since\": ");
        when(out, e->since, 1);
        buf_putc(out, '}');
    } else if (i >= x->from && i < x->to) {
        buf_printf(out, "  %s: %s %s since ", e->sync, e->object, e->id ? e->id : "?");
        when(out, e->since, 0);
        buf_printf(out, ": %s", e->reason ? e->reason : "error");
        if (e->rule) buf_printf(out, "  %s", e->rule);
        buf_putc(out, '\n');
    }
    return 0;
}

int status_report(const Program *p, Store *st, const char *state_path, int64_t now, const StatusOptions *o, Buf *out,
                  int *healthy, Buf *err) {
    int json = o->json;
    Arena a;
    arena_init(&a);
    Ctx c = {out, json, 0, 0, NULL, &a};
    *healthy = 1;
    int rc = -1;
    if (json) {
        buf_puts(out, "{\"state\": ");
        jstr(out, state_path);
        buf_printf(out, ", \"schema\": %d, \"runs\": [", store_version(st));
    } else {
        buf_printf(out, "state: %s (schema %d)\n\nlast runs:\n", state_path, store_version(st));
    }
    if (store_runs_each(st, 5, &a, &c, each_run) != 0) goto fail;
    if (!c.n && !json) buf_puts(out, "  none yet\n");
    if (c.last_status && strcmp(c.last_status, "ok") != 0) *healthy = 0;
    buf_puts(out, json ? "],\n  \"syncs\": [" : "\nsyncs:\n");
    for (uint32_t si = 0; si < p->nsyncs; si++) {
        const PSync *s = &p->syncs[si];
        const char *name = program_str(p, s->name);
        SyncState ss;
        if (store_sync_get(st, name, &ss) < 0) goto fail;
        int64_t due = engine_next_due(p, si, ss.last_run);
        int64_t links = store_link_count(st, name), waiting = store_waiting_count(st, name), queued = 0;
        if (links < 0 || waiting < 0 || store_queue_each(st, name, &a, &queued, count_queue) != 0) goto fail;
        int paused = p->paused || s->paused;
        if (json) {
            buf_puts(out, si ? ",\n    {\"sync\": " : "\n    {\"sync\": ");
            jstr(out, name);
            buf_printf(out, ", \"paused\": %s, \"first_run\": ", paused ? "true" : "false");
            when(out, ss.first_run, 1);
            buf_puts(out, ", \"last_run\": ");
            when(out, ss.last_run, 1);
            buf_puts(out, ", \"last_ok\": ");
            when(out, ss.last_ok, 1);
            buf_puts(out, ", \"next_due\": ");
            if (paused || due == INT64_MAX) buf_puts(out, "null");
            else when(out, due == INT64_MIN ? now : due, 1);
            buf_printf(out, ", \"links\": %lld, \"waiting\": %lld, \"queued\": %lld}", (long long)links,
                       (long long)waiting, (long long)queued);
        } else {
            buf_printf(out, "  %s: last run ", name);
            when(out, ss.last_run, 0);
            buf_puts(out, ", next ");
            if (paused) buf_puts(out, "never (paused)");
            else if (due == INT64_MAX) buf_puts(out, "never (schedule off)");
            else if (due <= now) buf_puts(out, "now (due)");
            else when(out, due, 0);
            buf_printf(out, "; %lld linked, %lld waiting, %lld queued\n", (long long)links, (long long)waiting,
                       (long long)queued);
        }
    }
    buf_puts(out, json ? "],\n  \"errors\": [" : "\nerrors of the last run:\n");
    c.n = 0;
    if (c.last_run && store_errors_each(st, c.last_run, &a, &c, each_error) != 0) goto fail;
    if (c.n) *healthy = 0;
    if (!c.n && !json) buf_puts(out, "  none\n");
    /* every record in error now, whichever run found it: an error stays
     * until its record syncs */
    {
        int page = o->page > 0 ? o->page : 1;
        ECtx x = {&c, 0, (int64_t)(page - 1) * STATUS_PAGE, (int64_t)page * STATUS_PAGE};
        if (!json) {
            buf_puts(out, "\nrecords in error");
            if (o->since != INT64_MIN) {
                buf_puts(out, " since ");
                when(out, o->since, 0);
            }
            buf_puts(out, ":\n");
        } else {
            buf_puts(out, "],\n  \"record_errors\": [");
        }
        if (store_record_errors_each(st, o->since, &a, &x, each_record_error) != 0) goto fail;
        if (!json) {
            if (!x.n) buf_puts(out, "  none\n");
            else if (x.n > STATUS_PAGE || page > 1) {
                int64_t pages = (x.n + STATUS_PAGE - 1) / STATUS_PAGE;
                buf_printf(out, "  (%lld in all; page %d of %lld", (long long)x.n, page, (long long)pages);
                if (page < pages) buf_printf(out, ": --page %d for the next", page + 1);
                buf_puts(out, "; --json lists every one)\n");
            }
        }
    }
    buf_puts(out, json ? "],\n  \"waiting\": [" : "\nwaiting for the next sync:\n");
    c.n = 0;
    for (uint32_t si = 0; si < p->nsyncs; si++) {
        WCtx w = {&c, program_str(p, p->syncs[si].name), 0};
        if (store_waiting_each(st, w.sync, &a, &w, each_waiting) != 0) goto fail;
        if (!json && w.shown > 20) buf_printf(out, "  ... and %d more\n", w.shown - 20);
    }
    if (!c.n && !json) buf_puts(out, "  none\n");
    if (json) buf_puts(out, "]}\n");
    rc = 0;
fail:
    if (rc != 0) buf_puts(err, store_error(st));
    arena_free(&a);
    return rc;
}
