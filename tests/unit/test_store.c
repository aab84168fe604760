/* test_store.c - the state file: schema, links and bases, cursors, runs,
 * status, errors, queue, audit and journal, and how it opens. */
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "unit_test.h"

static char path[64];

static Store *fresh(void) {
    snprintf(path, sizeof path, "/tmp/tandem-store-test-%d.db", (int)getpid());
    unlink(path);
    Buf err;
    buf_init(&err);
    Store *s = store_open(path, 0, &err);
    if (!s) printf("store_open: %s\n", buf_str(&err));
    buf_free(&err);
    return s;
}

static void cleanup(void) {
    char p[80];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int count_link(void *ctx, const Link *l) {
    (void)l;
    (*(int *)ctx)++;
    return 0;
}

static void test_open(void) {
    Store *s = fresh();
    CHECK(s != NULL);
    if (!s) return;
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(store_version(s) == 7);
    store_close(s);

    /* The waiting records are found through their own small index, and
     * the records in error through theirs; the records in any other
     * status are in no index but the table's. */
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    const char *const waiting[] = {
        "SELECT count(*) FROM record_status INDEXED BY record_status_waiting WHERE sync = ?1 AND status = 'waiting'",
        "SELECT side, object, id, reason, at FROM record_status INDEXED BY record_status_waiting "
        "WHERE sync = ?1 AND status = 'waiting' ORDER BY at, id",
    };
    for (int i = 0; i < 2; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", waiting[i]);
        sqlite3_stmt *st = NULL;
        CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
        int uses = 0, sorts = 0;
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(st, 3);
            if (d && strstr(d, "record_status_waiting")) uses = 1;
            if (d && strstr(d, "TEMP B-TREE")) sorts = 1;
        }
        sqlite3_finalize(st);
        CHECK(uses && !sorts);
    }
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'record_status'",
                             -1, &st, NULL) == SQLITE_OK);
    CHECK(st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2);
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* A read-only store of a missing file is empty and creates nothing. */
    cleanup();
    Buf err;
    buf_init(&err);
    s = store_open(path, STORE_READONLY, &err);
    CHECK(s != NULL);
    CHECK(access(path, F_OK) != 0);
    SyncState ss;
    CHECK(s && store_sync_get(s, "leads", &ss) == 0 && ss.first_run == 0);
    store_close(s);

    /* A file from a newer tandem is refused with a message. */
    s = fresh();
    store_close(s);
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(db);
    buf_reset(&err);
    s = store_open(path, 0, &err);
    CHECK(s == NULL);
    CHECK(strstr(buf_str(&err), "schema version 99") != NULL);
    store_close(s);

    /* Not a database at all. */
    FILE *f = fopen(path, "w");
    fputs("this is not a state file, it is a shopping list\n", f);
    fclose(f);
    buf_reset(&err);
    s = store_open(path, 0, &err);
    CHECK(s == NULL);
    CHECK(strstr(buf_str(&err), path) != NULL);
    store_close(s);
    buf_free(&err);
    cleanup();
}

/* Version 1 kept a base row per link, map and side; version 2 one per
 * link; version 3 indexes only the waiting statuses.  A version 1 file is
 * made by hand here, then opened. */
static void test_migrate_bases(void) {
    Store *s = fresh();
    if (!s) return;
    store_close(s);
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "DROP INDEX record_status_errors;"
                       "DROP TABLE owed;"
                       "ALTER TABLE journal DROP COLUMN name;"
                       "ALTER TABLE journal DROP COLUMN rule;"
                       "ALTER TABLE links DROP COLUMN base;"
                       "ALTER TABLE links DROP COLUMN left_written;"
                       "ALTER TABLE links DROP COLUMN right_written;"
                       "DROP INDEX record_status_waiting;"
                       "CREATE INDEX record_status_by ON record_status(sync, status, at);"
                       "INSERT INTO record_status VALUES ('leads', 0, 'Lead', '00Q1', 'waiting', 'no e-mail', 5);"
                       "CREATE TABLE base (link INTEGER NOT NULL REFERENCES links(id) ON DELETE CASCADE,"
                       "  map TEXT NOT NULL, side INTEGER NOT NULL, value TEXT,"
                       "  PRIMARY KEY (link, map, side)) WITHOUT ROWID;"
                       "INSERT INTO links VALUES (1, 'leads', 'Lead', '00Q1', 'contact', '7', 0, 0, 10, 10);"
                       "INSERT INTO links VALUES (2, 'leads', 'Lead', '00Q2', 'contact', '8', 0, 0, 10, 10);"
                       "INSERT INTO base VALUES (1, 'LastName <-> lastName', 0, '\"Lee\"');"
                       "INSERT INTO base VALUES (1, 'LastName <-> lastName', 1, '\"Li\"');"
                       "INSERT INTO base VALUES (2, 'Phone <-> phone', 0, NULL);"
                       "INSERT INTO base VALUES (2, 'Phone <-> phone', 1, '42');"
                       "INSERT INTO base VALUES (3, 'LeadSource <-> \"Lead Source\")', 0, '\"Web\"');"
                       "INSERT INTO base VALUES (3, 'LeadSource <-> \"Lead Source\")', 1, '\"Web\"');"
                       "INSERT INTO links VALUES (3, 'leads', 'Lead', '00Q3', 'contact', '9', 0, 0, 10, 10);"
                       /* a base whose link is gone (deleted with foreign keys off) */
                       "INSERT INTO base VALUES (99, 'Phone <-> phone', 0, '\"1\"');"
                       "PRAGMA user_version = 1;",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    Buf err;
    buf_init(&err);
    s = store_open(path, 0, &err);
    CHECK(s != NULL);
    if (!s) {
        printf("store_open: %s\n", buf_str(&err));
        buf_free(&err);
        return;
    }
    CHECK(store_version(s) == 7);
    CHECK(store_waiting_count(s, "leads") == 1);
    /* schema 4: a link of before knows no write's change time */
    Link wl;
    Arena wa;
    arena_init(&wa);
    CHECK(store_link_find(s, "leads", 1, "9", &wa, &wl) == 1 && wl.written[0] == 0 && wl.written[1] == 0);
    arena_free(&wa);
    Arena a;
    arena_init(&a);
    const char *v;
    CHECK(store_bases_get(s, 1, &a, &v) == 1);
    CHECK_STR(v, "{\"LastName <-> lastName\":[\"Lee\",\"Li\"]}");
    CHECK(store_bases_get(s, 2, &a, &v) == 1);
    CHECK_STR(v, "{\"Phone <-> phone\":[null,42]}");
    CHECK(store_bases_get(s, 3, &a, &v) == 1);
    CHECK_STR(v, "{\"LeadSource <-> field(\\\"Lead Source\\\")\":[\"Web\",\"Web\"]}");
    CHECK(store_link_drop(s, 1) == 0);
    CHECK(store_bases_get(s, 1, &a, &v) == 0);
    arena_free(&a);
    buf_free(&err);
    store_close(s);
    cleanup();
}

static void test_links(void) {
    Store *s = fresh();
    if (!s) return;
    Arena a;
    arena_init(&a);
    int64_t id = 0, id2 = 0;
    CHECK(store_begin(s) == 0);
    CHECK(store_link_add(s, "leads", "Lead", "00Q1", "contact", "7", 1000, NULL, &id) == 0);
    CHECK(store_link_add(s, "leads", "Lead", "00Q2", "contact", "8", 1000, NULL, &id2) == 0);
    /* one record links once per sync */
    CHECK(store_link_add(s, "leads", "Lead", "00Q1", "contact", "9", 1000, NULL, NULL) == -1);
    CHECK(strstr(store_error(s), "UNIQUE") != NULL);
    CHECK(store_commit(s) == 0);

    Link l;
    CHECK(store_link_find(s, "leads", 1, "7", &a, &l) == 1);
    CHECK_STR(l.rid[0], "00Q1");
    CHECK_STR(l.object[0], "Lead");
    CHECK(l.deleted[0] == 0 && l.created == 1000);
    CHECK(l.written[0] == 0 && l.written[1] == 0);
    /* the change time a system gave a write, per side, read back alike
     * by one id and by a batch */
    const LinkSync w = {NULL, 0, {0, 1234567}};
    CHECK(store_link_sync(s, id, &w) == 0);
    CHECK(store_link_find(s, "leads", 1, "7", &a, &l) == 1 && l.written[1] == 1234567 && l.written[0] == 0);
    const char *one[1] = {"00Q1"};
    Link lw;
    uint8_t fw;
    CHECK(store_links_find(s, "leads", 0, one, 1, &a, &lw, &fw) == 0 && fw && lw.written[1] == 1234567);
    CHECK(store_link_find(s, "leads", 0, "7", &a, &l) == 0);
    CHECK(store_link_find(s, "contacts", 1, "7", &a, &l) == 0);

    /* a batch: each id at its place, found or not; an id twice is found
     * twice; no id (NULL) and an id with a quote are no trouble */
    const char *ids[6] = {"8", "x\"y", "7", NULL, "8", "00Q1"};
    Link ls[6];
    uint8_t found[6];
    memset(ls, 0, sizeof ls);
    CHECK(store_links_find(s, "leads", 1, ids, 6, &a, ls, found) == 0);
    CHECK(found[0] && !found[1] && found[2] && !found[3] && found[4] && !found[5]);
    CHECK_STR(ls[0].rid[0], "00Q2");
    CHECK_STR(ls[2].rid[0], "00Q1");
    CHECK(ls[4].id == id2 && ls[2].id == id);
    CHECK(store_links_find(s, "leads", 0, ids + 5, 1, &a, ls, found) == 0 && found[0] && ls[0].id == id);
    CHECK(store_links_find(s, "contacts", 1, ids, 6, &a, ls, found) == 0 && !found[0] && !found[2]);

    const LinkSync b1 = {"{\"LastName <-> lastName\": [\"Lee\", \"Lee\"]}", 0, {0, 0}};
    const LinkSync b2 = {"{\"LastName <-> lastName\": [\"Lee\", \"Li\"]}", 2000, {0, 0}};
    const LinkSync keep = {NULL, 0, {0, 0}}, later = {NULL, 3000, {0, 0}};
    CHECK(store_link_sync(s, id, &b1) == 0);
    CHECK(store_link_sync(s, id, &b2) == 0);
    const char *v;
    CHECK(store_bases_get(s, id, &a, &v) == 1);
    CHECK_STR(v, "{\"LastName <-> lastName\": [\"Lee\", \"Li\"]}");
    CHECK(store_bases_get(s, id2, &a, &v) == 0 && v == NULL);
    /* the times and bases written at once; what is kept (NULL, 0) stays */
    CHECK(store_link_find(s, "leads", 0, "00Q1", &a, &l) == 1 && l.synced == 2000 && l.written[1] == 1234567);
    CHECK(store_link_sync(s, id, &keep) == 0);
    CHECK(store_link_sync(s, id, &later) == 0);
    CHECK(store_bases_get(s, id, &a, &v) == 1 && strstr(v, "Li") != NULL);
    CHECK(store_link_find(s, "leads", 0, "00Q1", &a, &l) == 1 && l.synced == 3000 && l.written[1] == 1234567);
    /* a link made whole at once, bases and a write's change time */
    int64_t id3 = 0;
    const LinkSync made = {"{\"Phone <-> phone\": [\"1\", \"1\"]}", 5, {77, 0}};
    CHECK(store_link_add(s, "leads", "Lead", "00Q9", "contact", "99", 1000, &made, &id3) == 0);
    CHECK(store_link_find(s, "leads", 0, "00Q9", &a, &l) == 1 && l.written[0] == 77 && l.written[1] == 0);
    CHECK(l.synced == 1000 && l.created == 1000);
    CHECK(store_bases_get(s, id3, &a, &v) == 1);
    CHECK_STR(v, made.base);
    CHECK(store_link_drop(s, id3) == 0);

    /* B17: the link moves to the contact the lead became, base and all */
    CHECK(store_link_move(s, id, "contacts", 0, "Contact", "0031") == 0);
    CHECK(store_link_find(s, "leads", 0, "00Q1", &a, &l) == 0);
    CHECK(store_link_find(s, "contacts", 0, "0031", &a, &l) == 1);
    CHECK_STR(l.rid[1], "7");
    CHECK(store_bases_get(s, id, &a, &v) == 1);

    CHECK(store_link_deleted(s, id2, 0, 5000) == 0);
    CHECK(store_link_find(s, "leads", 0, "00Q2", &a, &l) == 1 && l.deleted[0] == 5000 && l.deleted[1] == 0);
    int n = 0;
    CHECK(store_links_each(s, "leads", &a, &n, count_link) == 0 && n == 1);
    CHECK(store_link_count(s, "contacts") == 1);

    /* dropping a link drops its bases */
    CHECK(store_link_drop(s, id) == 0);
    CHECK(store_bases_get(s, id, &a, &v) == 0);
    CHECK(store_link_count(s, "contacts") == 0);
    arena_free(&a);
    store_close(s);

    /* What was committed is there after reopening. */
    Buf err;
    buf_init(&err);
    s = store_open(path, STORE_READONLY, &err);
    arena_init(&a);
    CHECK(s && store_link_find(s, "leads", 0, "00Q2", &a, &l) == 1);
    /* and a read-only store refuses to write */
    CHECK(s && store_link_add(s, "leads", "Lead", "00Q3", "contact", "10", 1, NULL, NULL) == -1);
    arena_free(&a);
    buf_free(&err);
    store_close(s);
    cleanup();
}

static int first_run(void *ctx, const RunInfo *r) {
    RunInfo *out = ctx;
    if (!out->id) *out = *r;
    return 0;
}

struct errs { int n; const char *reason[4]; int64_t count[4]; };
static int each_error(void *ctx, const char *reason, int64_t count, const char *example) {
    (void)example;
    struct errs *e = ctx;
    if (e->n < 4) { e->reason[e->n] = reason; e->count[e->n] = count; }
    e->n++;
    return 0;
}

static int each_waiting(void *ctx, int side, const char *object, const char *id, const char *reason, int64_t at) {
    (void)side; (void)object; (void)reason; (void)at;
    const char **first = ctx;
    if (!*first) *first = id;
    return 0;
}

static int waiting_since(void *ctx, int side, const char *object, const char *id, const char *reason, int64_t at) {
    (void)side; (void)object; (void)id; (void)reason;
    *(int64_t *)ctx = at;
    return 0;
}

static int each_queued(void *ctx, int side, const char *id, const char *reason, int64_t at) {
    (void)side; (void)reason; (void)at; (void)id;
    (*(int *)ctx)++;
    return 0;
}

static int each_audit(void *ctx, const AuditEntry *e) {
    const AuditEntry **out = ctx;
    if (!out[0]) {
        AuditEntry *c = malloc(sizeof *c);
        *c = *e;
        out[0] = c;
    }
    return 0;
}

static int each_intent(void *ctx, const Intent *in) {
    int *n = ctx;
    if (!strcmp(in->action, "create") && in->key && !strcmp(in->key, "ann@x.io")) n[0]++;
    n[1]++;
    return 0;
}

static void test_history(void) {
    Store *s = fresh();
    if (!s) return;
    Arena a;
    arena_init(&a);

    const char *cur;
    CHECK(store_cursor_get(s, "sf", "Lead", &a, &cur) == 0 && cur == NULL);
    CHECK(store_cursor_put(s, "sf", "Lead", "2026-11-01T00:00:00Z|00Q9", 10) == 0);
    CHECK(store_cursor_put(s, "sf", "Lead", "2026-11-02T00:00:00Z|00Q1", 20) == 0);
    CHECK(store_cursor_get(s, "sf", "Lead", &a, &cur) == 1);
    CHECK_STR(cur, "2026-11-02T00:00:00Z|00Q1");

    SyncState ss;
    CHECK(store_sync_get(s, "leads", &ss) == 0);
    CHECK(store_sync_ran(s, "leads", 100, 1) == 0);
    CHECK(store_sync_ran(s, "leads", 200, 0) == 0);
    CHECK(store_sync_get(s, "leads", &ss) == 1);
    CHECK(ss.first_run == 100 && ss.last_run == 200 && ss.last_ok == 100);

    int64_t run;
    CHECK(store_run_begin(s, "rules/x.sync", 300, &run) == 0);
    RunCounts c = {.read = 5, .created = 2, .updated = 1, .skipped = 1, .errors = 3};
    CHECK(store_error_add(s, run, "leads", 1, "contact", "7", "required field Company of Lead has no value", "x.sync:5", 300) == 0);
    CHECK(store_error_add(s, run, "leads", 1, "contact", "8", "required field Company of Lead has no value", "x.sync:5", 300) == 0);
    CHECK(store_error_add(s, run, "deals", 0, "Opportunity", "006", "\"abc\" is not a number", "x.sync:9", 300) == 0);
    CHECK(store_run_end(s, run, "errors", &c, 400) == 0);
    RunInfo r;
    memset(&r, 0, sizeof r);
    CHECK(store_runs_each(s, 10, &a, &r, first_run) == 0);
    CHECK(r.id == run && r.finished == 400 && r.n.created == 2 && r.n.errors == 3);
    CHECK_STR(r.status, "errors");
    struct errs e = {0};
    CHECK(store_errors_each(s, run, &a, &e, each_error) == 0);
    CHECK(e.n == 2 && e.count[0] == 2 && e.count[1] == 1);
    CHECK_STR(e.reason[0], "required field Company of Lead has no value");

    CHECK(store_status_put(s, "deals", 0, "Opportunity", "006A", "waiting", "contact not linked", 50) == 0);
    CHECK(store_status_put(s, "deals", 0, "Opportunity", "006B", "waiting", "contact not linked", 40) == 0);
    CHECK(store_status_put(s, "deals", 0, "Opportunity", "006A", "synced", NULL, 60) == 0);
    CHECK(store_waiting_count(s, "deals") == 1);
    const char *first = NULL;
    CHECK(store_waiting_each(s, "deals", &a, &first, each_waiting) == 0);
    CHECK_STR(first, "006B");
    /* the same status again keeps its time (since when); a new reason
     * is a new status */
    int64_t since = 0;
    CHECK(store_status_put(s, "deals", 0, "Opportunity", "006B", "waiting", "contact not linked", 70) == 0);
    CHECK(store_waiting_each(s, "deals", &a, &since, waiting_since) == 0 && since == 40);
    CHECK(store_status_put(s, "deals", 0, "Opportunity", "006B", "waiting", "account not linked", 80) == 0);
    CHECK(store_waiting_each(s, "deals", &a, &since, waiting_since) == 0 && since == 80);

    int nq = 0;
    CHECK(store_queue_add(s, "leads", 1, "7", "tagged", 10) == 0);
    CHECK(store_queue_add(s, "leads", 1, "7", "tagged again", 11) == 0);
    CHECK(store_queue_add(s, "leads", 1, "8", "tagged", 12) == 0);
    CHECK(store_queue_each(s, "leads", &a, &nq, each_queued) == 0 && nq == 2);
    CHECK(store_queue_remove(s, "leads", 1, "7") == 0);
    nq = 0;
    CHECK(store_queue_each(s, "leads", &a, &nq, each_queued) == 0 && nq == 1);

    AuditEntry ae = {run, "leads", "ac", "contact", "7", "update", "lastName", "\"Li\"", "\"Lee\"", "x.sync:6", 350};
    CHECK(store_audit_add(s, &ae) == 0);
    const AuditEntry *got[1] = {NULL};
    CHECK(store_audit_each(s, run, &a, got, each_audit) == 0);
    CHECK(got[0] && !strcmp(got[0]->after, "\"Lee\"") && !strcmp(got[0]->rule, "x.sync:6"));
    free((void *)got[0]);

    Intent in = {0, run, "leads", "ac", "contact", 1, "create", NULL, "00Q1", "ann@x.io", "{\"contact\":{}}", 360, NULL, NULL};
    int64_t iid, iid2;
    CHECK(store_intent_add(s, &in, &iid) == 0);
    in.key = "bob@x.io";
    CHECK(store_intent_add(s, &in, &iid2) == 0);
    CHECK(store_intent_done(s, iid2) == 0);
    int n[2] = {0, 0};
    CHECK(store_intents_each(s, &a, n, each_intent) == 0);
    CHECK(n[0] == 1 && n[1] == 1);

    /* A rolled-back transaction leaves nothing behind. */
    CHECK(store_begin(s) == 0);
    CHECK(store_cursor_put(s, "ac", "contact", "later", 30) == 0);
    CHECK(store_rollback(s) == 0);
    CHECK(store_cursor_get(s, "ac", "contact", &a, &cur) == 0);
    arena_free(&a);
    store_close(s);
    cleanup();
}

static int each_owed(void *ctx, const Owed *o) {
    Owed *got = ctx;
    got[got[0].id ? 1 : 0] = *o;
    return 0;
}

static int owed_intent(void *ctx, const Intent *in) {
    const Intent **got = ctx;
    if (in->name) *got = in;
    return 0;
}

/* An action journaled keeps its name and rule (a run that dies before
 * recording it makes it owed from them); an owed action is kept once
 * however often it is owed, and goes when done. */
static void test_owed(void) {
    Store *s = fresh();
    if (!s) return;
    Arena a;
    arena_init(&a);
    CHECK(store_version(s) == 7);
    Intent in = {0, 1, "leads", "ac", "contact", 1, "tag", NULL, "00Q1", "ann@x.io", NULL, 360, "vip", "x.sync:9"};
    int64_t iid;
    CHECK(store_intent_add(s, &in, &iid) == 0);
    const Intent *back = NULL;
    CHECK(store_intents_each(s, &a, &back, owed_intent) == 0);
    CHECK(back && !strcmp(back->name, "vip") && !strcmp(back->rule, "x.sync:9") && back->id_rec == NULL);

    Owed o = {0, "leads", 1, "contact", NULL, "00Q1", "ann@x.io", "tag", "vip", "x.sync:9", 360};
    CHECK(store_owed_add(s, &o) == 0);
    CHECK(store_owed_add(s, &o) == 0);   /* owed again: one row */
    Owed other = o;
    other.name = "lead";
    CHECK(store_owed_add(s, &other) == 0);
    Owed got[3];
    memset(got, 0, sizeof got);
    CHECK(store_owed_each(s, "leads", &a, got, each_owed) == 0);
    CHECK(got[0].id && got[1].id && got[0].id != got[1].id);
    CHECK(!strcmp(got[0].name, "vip") && !strcmp(got[0].partner, "00Q1") && got[0].id_rec == NULL &&
          !strcmp(got[0].rule, "x.sync:9") && got[0].since == 360);
    CHECK(!strcmp(got[1].name, "lead"));
    CHECK(store_owed_done(s, got[0].id) == 0);
    memset(got, 0, sizeof got);
    CHECK(store_owed_each(s, "leads", &a, got, each_owed) == 0);
    CHECK(got[0].id && !strcmp(got[0].name, "lead") && !got[1].id);
    memset(got, 0, sizeof got);
    CHECK(store_owed_each(s, "contacts", &a, got, each_owed) == 0);
    CHECK(!got[0].id);
    arena_free(&a);
    store_close(s);
    cleanup();
}

void test_store_all(void) {
    test_open();
    test_migrate_bases();
    test_links();
    test_history();
    test_owed();
}
