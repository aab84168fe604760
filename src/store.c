/* store.c - the state file: schema, migrations and the queries behind
 * store.h.  Statements are prepared once per store and reused, since a run
 * asks for links and bases once per record. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "value.h"

/* Each entry moves the schema one version up; a file at version n gets
 * entries n.. applied in one transaction.  Never edit an entry once
 * released: add one. */
static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE links ("
    "  id INTEGER PRIMARY KEY,"
    "  sync TEXT NOT NULL,"
    "  left_object TEXT NOT NULL, left_id TEXT NOT NULL,"
    "  right_object TEXT NOT NULL, right_id TEXT NOT NULL,"
    "  left_deleted INTEGER NOT NULL DEFAULT 0, right_deleted INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL, synced INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX links_left ON links(sync, left_id);"
    "CREATE UNIQUE INDEX links_right ON links(sync, right_id);"
    "CREATE TABLE base ("
    "  link INTEGER NOT NULL REFERENCES links(id) ON DELETE CASCADE,"
    "  map TEXT NOT NULL, side INTEGER NOT NULL, value TEXT,"
    "  PRIMARY KEY (link, map, side)) WITHOUT ROWID;"
    "CREATE TABLE cursors ("
    "  source TEXT NOT NULL, object TEXT NOT NULL, value TEXT NOT NULL, updated INTEGER NOT NULL,"
    "  PRIMARY KEY (source, object)) WITHOUT ROWID;"
    "CREATE TABLE syncs ("
    "  name TEXT PRIMARY KEY, first_run INTEGER NOT NULL, last_run INTEGER NOT NULL DEFAULT 0,"
    "  last_ok INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY, rules TEXT NOT NULL, started INTEGER NOT NULL, finished INTEGER,"
    "  status TEXT NOT NULL,"
    "  read INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,"
    "  deleted INTEGER NOT NULL DEFAULT 0, tagged INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,"
    "  conflicts INTEGER NOT NULL DEFAULT 0, waiting INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE record_status ("
    "  sync TEXT NOT NULL, side INTEGER NOT NULL, object TEXT NOT NULL, id TEXT NOT NULL,"
    "  status TEXT NOT NULL, reason TEXT, at INTEGER NOT NULL,"
    "  PRIMARY KEY (sync, side, id)) WITHOUT ROWID;"
    "CREATE INDEX record_status_by ON record_status(sync, status, at);"
    "CREATE TABLE errors ("
    "  id INTEGER PRIMARY KEY, run INTEGER NOT NULL REFERENCES runs(id),"
    "  sync TEXT NOT NULL, side INTEGER NOT NULL, object TEXT NOT NULL, record_id TEXT,"
    "  reason TEXT NOT NULL, rule TEXT, at INTEGER NOT NULL);"
    "CREATE INDEX errors_run ON errors(run);"
    "CREATE TABLE queue ("
    "  sync TEXT NOT NULL, side INTEGER NOT NULL, id TEXT NOT NULL, reason TEXT, at INTEGER NOT NULL,"
    "  PRIMARY KEY (sync, side, id)) WITHOUT ROWID;"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY, run INTEGER NOT NULL REFERENCES runs(id),"
    "  sync TEXT NOT NULL, source TEXT NOT NULL, object TEXT NOT NULL, record_id TEXT,"
    "  action TEXT NOT NULL, field TEXT, before TEXT, after TEXT, rule TEXT, at INTEGER NOT NULL);"
    "CREATE INDEX audit_run ON audit(run);"
    "CREATE TABLE journal ("
    "  id INTEGER PRIMARY KEY, run INTEGER NOT NULL, sync TEXT NOT NULL, source TEXT NOT NULL,"
    "  object TEXT NOT NULL, side INTEGER NOT NULL, action TEXT NOT NULL, record_id TEXT, partner TEXT,"
    "  key TEXT, body TEXT, at INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX journal_pending ON journal(done, id);",
    /* 2: one row of bases per link, not per map and side: a first sync of
     * a million pairs wrote twenty million rows (docs/performance.md) */
    "CREATE TABLE bases ("
    "  link INTEGER PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,"
    "  value TEXT NOT NULL);"
    /* and a map end field("X") is named so: version 1 named it "X") */
    "INSERT INTO bases (link, value)"
    "  WITH ends AS (SELECT link, side, value, substr(map, 1, instr(map, ' <-> ') - 1) AS a,"
    "                       substr(map, instr(map, ' <-> ') + 5) AS b FROM base),"
    "       named AS (SELECT link, side, value,"
    "                        CASE WHEN a GLOB '\"*)' THEN 'field(' || a ELSE a END || ' <-> ' ||"
    "                        CASE WHEN b GLOB '\"*)' THEN 'field(' || b ELSE b END AS map FROM ends)"
    "  SELECT link, json_group_object(map, json_array(json(coalesce(l, 'null')), json(coalesce(r, 'null'))))"
    "  FROM (SELECT link, map, max(CASE WHEN side = 0 THEN value END) AS l,"
    "               max(CASE WHEN side = 1 THEN value END) AS r"
    "        FROM named WHERE link IN (SELECT id FROM links) GROUP BY link, map)"
    "  GROUP BY link;"
    "DROP TABLE base;",
    /* 3: only the waiting records are ever asked for by status; an index
     * of every status moved two index entries a record each run (a 1%
     * incremental run of a million leads rewrote most of its pages) */
    "DROP INDEX IF EXISTS record_status_by;"
    "CREATE INDEX record_status_waiting ON record_status(sync, at, id) WHERE status = 'waiting';",
    /* 4: the change time each side's system gave tandem's last write to
     * the pair (0: not known), so a record read again at that time is the
     * write coming back, not a change (docs/state.md) */
    "ALTER TABLE links ADD COLUMN left_written INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE links ADD COLUMN right_written INTEGER NOT NULL DEFAULT 0;",
    /* 5: a pair's base values in its link's row (NULL: none yet).  A run
     * that synced a pair rewrote two pages for it, the link's times and
     * its bases: the 1% hourly run of a million pairs checkpointed 3,559
     * pages, 1,905 since (docs/performance.md) */
    "ALTER TABLE links ADD COLUMN base TEXT;"
    "UPDATE links SET base = (SELECT value FROM bases WHERE bases.link = links.id);"
    "DROP TABLE bases;",
    /* 6: actions owed to a record (a tag, a list, an automation): one
     * journaled by a run that died before recording it, and one on a
     * record whose system creates it later (GetResponse), are kept until
     * they are sent or shown unnecessary, not lost (docs/state.md).  The
     * journal keeps an action's name and rule to make them from. */
    "ALTER TABLE journal ADD COLUMN name TEXT;"
    "ALTER TABLE journal ADD COLUMN rule TEXT;"
    "CREATE TABLE owed ("
    "  id INTEGER PRIMARY KEY, sync TEXT NOT NULL, side INTEGER NOT NULL, object TEXT NOT NULL,"
    "  record_id TEXT, partner TEXT, key TEXT, action TEXT NOT NULL, name TEXT NOT NULL, rule TEXT,"
    "  since INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX owed_once ON owed(sync, side, coalesce(record_id, ''), coalesce(partner, ''), action, name);",
    /* 7: the records in error, every one of them, for status (B31): an
     * error stays until the record syncs, so they are read from the
     * records' statuses, by time (--since) */
    "CREATE INDEX record_status_errors ON record_status(at, sync, id) WHERE status = 'error';",
};

enum { NSTMT = 64 };

struct Store {
    sqlite3 *db;
    int readonly;
    /* The links table is empty (1), not (0), or not known (-1): a first
     * sync looks up every record's link, and an empty table answers
     * without a query. */
    int no_links;
    Buf err;
    struct { const char *sql; sqlite3_stmt *st; } cache[NSTMT];
    int ncache;
};

static int fail(Store *s, const char *what) {
    buf_reset(&s->err);
    buf_printf(&s->err, "%s: %s", what, sqlite3_errmsg(s->db));
    return -1;
}

const char *store_error(const Store *s) { return buf_str(&s->err); }

/* The prepared statement for sql (a string literal: cached by address),
 * reset and unbound. */
static sqlite3_stmt *stmt(Store *s, const char *sql) {
    for (int i = 0; i < s->ncache; i++)
        if (s->cache[i].sql == sql) {
            sqlite3_reset(s->cache[i].st);
            sqlite3_clear_bindings(s->cache[i].st);
            return s->cache[i].st;
        }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail(s, "preparing a query");
        return NULL;
    }
    if (s->ncache < NSTMT) {
        s->cache[s->ncache].sql = sql;
        s->cache[s->ncache].st = st;
        s->ncache++;
    }
    return st;
}

/* Statements past the cache (there should be none) are finalized here. */
static void done_with(Store *s, sqlite3_stmt *st) {
    for (int i = 0; i < s->ncache; i++)
        if (s->cache[i].st == st) { sqlite3_reset(st); return; }
    sqlite3_finalize(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* Binds the arguments by a format: s text, i int64, d int. */
static void bindv(sqlite3_stmt *st, const char *fmt, va_list ap) {
    for (int i = 0; fmt[i]; i++) {
        switch (fmt[i]) {
        case 's': bind_text(st, i + 1, va_arg(ap, const char *)); break;
        case 'i': sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t)); break;
        case 'd': sqlite3_bind_int(st, i + 1, va_arg(ap, int)); break;
        }
    }
}

/* Runs a statement that returns no rows. */
static int exec(Store *s, const char *sql, const char *fmt, ...) {
    sqlite3_stmt *st = stmt(s, sql);
    if (!st) return -1;
    va_list ap;
    va_start(ap, fmt);
    bindv(st, fmt, ap);
    va_end(ap);
    int rc = sqlite3_step(st);
    done_with(s, st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(s, "writing the state");
}

/* Prepares and binds a query; the caller steps it and calls done_with. */
static sqlite3_stmt *query(Store *s, const char *sql, const char *fmt, ...) {
    sqlite3_stmt *st = stmt(s, sql);
    if (!st) return NULL;
    va_list ap;
    va_start(ap, fmt);
    bindv(st, fmt, ap);
    va_end(ap);
    return st;
}

static const char *col_text(sqlite3_stmt *st, int i, Arena *a) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, i)) : NULL;
}

static int simple(Store *s, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        buf_reset(&s->err);
        buf_printf(&s->err, "%s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int store_version(Store *s) {
    sqlite3_stmt *st = query(s, "PRAGMA user_version", "");
    if (!st) return -1;
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    done_with(s, st);
    return v;
}

static int migrate(Store *s) {
    int have = store_version(s);
    int want = (int)(sizeof migrations / sizeof migrations[0]);
    if (have < 0) return fail(s, "reading the schema version");
    if (have > want) {
        buf_reset(&s->err);
        buf_printf(&s->err, "the state file is at schema version %d; this tandem knows up to %d (use a newer tandem)",
                   have, want);
        return -1;
    }
    if (have == want) return 0;
    if (s->readonly) {
        buf_reset(&s->err);
        buf_printf(&s->err, "the state file is at schema version %d and needs migrating to %d: run 'tandem run' once",
                   have, want);
        return -1;
    }
    if (simple(s, "BEGIN IMMEDIATE") != 0) return -1;
    for (int v = have; v < want; v++) {
        if (simple(s, migrations[v]) != 0) {
            Buf m;
            buf_init(&m);
            buf_printf(&m, "migrating the state file to version %d: %s", v + 1, buf_str(&s->err));
            buf_reset(&s->err);
            buf_puts(&s->err, buf_str(&m));
            buf_free(&m);
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", want);
    if (simple(s, sql) != 0 || simple(s, "COMMIT") != 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

Store *store_open(const char *path, int flags, Buf *err) {
    Store *s = calloc(1, sizeof *s);
    if (!s) { buf_puts(err, "out of memory"); return NULL; }
    buf_init(&s->err);
    s->readonly = (flags & STORE_READONLY) != 0;
    s->no_links = -1;
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    int rc;
    if (s->readonly && !exists) {
        /* plan on a first run: an empty state that is never written out */
        rc = sqlite3_open_v2(":memory:", &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
        s->readonly = 0;
    } else {
        if (!exists) {
            /* Create it 0600 ourselves: it holds customers' data. */
            int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
            if (fd < 0 && errno != EEXIST) {
                buf_printf(err, "%s: cannot create the state file: %s", path, strerror(errno));
                buf_free(&s->err);
                free(s);
                return NULL;
            }
            if (fd >= 0) close(fd);
        }
        rc = sqlite3_open_v2(path, &s->db, s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE, NULL);
    }
    if (rc != SQLITE_OK) {
        buf_printf(err, "%s: cannot open the state file: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 10000);
    /* A reader's snapshot is taken by its first read, the version's. */
    if (s->readonly && simple(s, "BEGIN") != 0) {
        buf_printf(err, "%s: %s", path, buf_str(&s->err));
        store_close(s);
        return NULL;
    }
    /* WAL: a plan can read while a run writes.  synchronous=FULL: a
     * committed run survives a power cut, not only a crash. */
    const char *setup = s->readonly ? "PRAGMA foreign_keys = ON"
                                    : "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON";
    if (simple(s, setup) != 0 || migrate(s) != 0) {
        buf_printf(err, "%s: %s", path, buf_str(&s->err));
        store_close(s);
        return NULL;
    }
    return s;
}

void store_close(Store *s) {
    if (!s) return;
    for (int i = 0; i < s->ncache; i++) sqlite3_finalize(s->cache[i].st);
    sqlite3_close(s->db);
    buf_free(&s->err);
    free(s);
}

int store_begin(Store *s) { return simple(s, "BEGIN IMMEDIATE"); }
int store_commit(Store *s) { return simple(s, "COMMIT"); }
int store_rollback(Store *s) {
    s->no_links = -1;
    return sqlite3_get_autocommit(s->db) ? 0 : simple(s, "ROLLBACK");
}

/* ------------------------------------------------------------- lock */

int store_lock(const char *path, int64_t wait_ms, int64_t now, int *fd, Buf *err) {
    *fd = -1;
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX], real[PATH_MAX], lock[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? (slash == path ? "/" : path) : ".");
    if (!realpath(dir, real)) {
        buf_printf(err, "%s: cannot lock the state: %s", dir, strerror(errno));
        return -1;
    }
    int n = snprintf(lock, sizeof lock, "%s/%s.lock", strcmp(real, "/") ? real : "", slash ? slash + 1 : path);
    if (n < 0 || (size_t)n >= sizeof lock) {
        buf_printf(err, "%s: the state's path is too long to lock", path);
        return -1;
    }
    /* Never removed: a lock file unlinked while another run waits on it
     * would let a third take a fresh one beside it. */
    int f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0) {
        buf_printf(err, "%s: cannot lock the state: %s", lock, strerror(errno));
        return -1;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (flock(f, LOCK_EX | LOCK_NB) == 0) break;
        if (errno == EINTR) continue;
        if (errno != EWOULDBLOCK) {
            buf_printf(err, "%s: cannot lock the state: %s", lock, strerror(errno));
            close(f);
            return -1;
        }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t waited = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (wait_ms >= 0 && waited >= wait_ms) {
            char who[128];
            ssize_t r = pread(f, who, sizeof who - 1, 0);
            who[r > 0 ? r : 0] = 0;
            who[strcspn(who, "\n")] = 0;
            buf_printf(err, "%s is in use by another run (%s)%s", path, *who ? who : "starting",
                       wait_ms ? "; gave up waiting" : "");
            close(f);
            return 1;
        }
        /* flock has no timed wait: a tenth of a second between tries is
         * nothing next to a run's length */
        struct timespec nap = {0, 100 * 1000000L};
        nanosleep(&nap, NULL);
    }
    /* Who holds it, for the run that finds it taken. */
    Buf who;
    buf_init(&who);
    buf_printf(&who, "pid %ld, since ", (long)getpid());
    format_datetime(now, &who);
    buf_puts(&who, "\n");
    if (ftruncate(f, 0) != 0 || pwrite(f, buf_str(&who), who.n, 0) != (ssize_t)who.n) {
        /* the lock holds all the same; only the note of who holds it is lost */
    }
    buf_free(&who);
    *fd = f;
    return 0;
}

/* ------------------------------------------------------------- links */

#define LINK_COLS "id, sync, left_object, left_id, right_object, right_id, left_deleted, right_deleted, created, synced, left_written, right_written"

static void read_link(sqlite3_stmt *st, Arena *a, Link *l) {
    l->id = sqlite3_column_int64(st, 0);
    l->sync = col_text(st, 1, a);
    l->object[0] = col_text(st, 2, a);
    l->rid[0] = col_text(st, 3, a);
    l->object[1] = col_text(st, 4, a);
    l->rid[1] = col_text(st, 5, a);
    l->deleted[0] = sqlite3_column_int64(st, 6);
    l->deleted[1] = sqlite3_column_int64(st, 7);
    l->created = sqlite3_column_int64(st, 8);
    l->synced = sqlite3_column_int64(st, 9);
    l->written[0] = sqlite3_column_int64(st, 10);
    l->written[1] = sqlite3_column_int64(st, 11);
}

/* Whether the links table is empty, asked once (-1 error). */
static int no_links(Store *s) {
    if (s->no_links < 0) {
        sqlite3_stmt *st = query(s, "SELECT NOT EXISTS (SELECT 1 FROM links)", "");
        if (!st) return -1;
        s->no_links = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
        done_with(s, st);
    }
    return s->no_links;
}

int store_link_find(Store *s, const char *sync, int side, const char *id, Arena *a, Link *out) {
    int none = no_links(s);
    if (none) return none < 0 ? -1 : 0;
    static const char *const sql[2] = {
        "SELECT " LINK_COLS " FROM links WHERE sync = ?1 AND left_id = ?2",
        "SELECT " LINK_COLS " FROM links WHERE sync = ?1 AND right_id = ?2",
    };
    sqlite3_stmt *st = query(s, sql[side & 1], "ss", sync, id);
    if (!st) return -1;
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        read_link(st, a, out);
        found = 1;
    }
    done_with(s, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(s, "reading links");
    return found;
}

/* One statement for a batch of records: a query a record cost more in
 * preparing, binding, locking and resetting than in finding its row. */
int store_links_find(Store *s, const char *sync, int side, const char *const *ids, uint32_t n, Arena *a, Link *out,
                     uint8_t *found) {
    memset(found, 0, n);
    int none = no_links(s);
    if (none || !n) return none < 0 ? -1 : 0;
    Buf list;
    buf_init(&list);
    buf_putc(&list, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i) buf_putc(&list, ',');
        if (ids[i]) buf_json_str(&list, ids[i], strlen(ids[i]));
        else buf_puts(&list, "null");
    }
    buf_putc(&list, ']');
    /* the ids drive the join (CROSS JOIN keeps that order); j.key is each
     * id's place in the list */
    static const char *const sql[2] = {
        "SELECT l.id, l.sync, l.left_object, l.left_id, l.right_object, l.right_id, l.left_deleted, l.right_deleted,"
        " l.created, l.synced, l.left_written, l.right_written, j.key FROM json_each(?2) AS j CROSS JOIN links AS l"
        " ON l.sync = ?1 AND l.left_id = j.value",
        "SELECT l.id, l.sync, l.left_object, l.left_id, l.right_object, l.right_id, l.left_deleted, l.right_deleted,"
        " l.created, l.synced, l.left_written, l.right_written, j.key FROM json_each(?2) AS j CROSS JOIN links AS l"
        " ON l.sync = ?1 AND l.right_id = j.value",
    };
    sqlite3_stmt *st = query(s, sql[side & 1], "ss", sync, buf_str(&list));
    if (!st) {
        buf_free(&list);
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t i = sqlite3_column_int64(st, 12);
        if (i < 0 || (uint64_t)i >= n || found[i]) continue;
        read_link(st, a, &out[i]);
        found[i] = 1;
    }
    done_with(s, st);
    buf_free(&list);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading links");
}

int store_link_add(Store *s, const char *sync, const char *lobj, const char *lid, const char *robj, const char *rid,
                   int64_t at, const LinkSync *with, int64_t *id) {
    static const LinkSync none = {NULL, 0, {0, 0}};
    if (!with) with = &none;
    /* made whole at once: a row that grew after its insert would split
     * pages that a first sync fills in order */
    if (exec(s,
             "INSERT INTO links (sync, left_object, left_id, right_object, right_id, created, synced,"
             " left_written, right_written, base) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9)",
             "sssssiiis", sync, lobj, lid, robj, rid, at, with->written[0], with->written[1], with->base) != 0)
        return -1;
    s->no_links = 0;
    if (id) *id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int store_link_move(Store *s, int64_t link, const char *sync, int side, const char *object, const char *id) {
    static const char *const sql[2] = {
        "UPDATE links SET sync = ?2, left_object = ?3, left_id = ?4, left_deleted = 0 WHERE id = ?1",
        "UPDATE links SET sync = ?2, right_object = ?3, right_id = ?4, right_deleted = 0 WHERE id = ?1",
    };
    return exec(s, sql[side & 1], "isss", link, sync, object, id);
}

int store_link_deleted(Store *s, int64_t link, int side, int64_t at) {
    static const char *const sql[2] = {
        "UPDATE links SET left_deleted = ?2 WHERE id = ?1",
        "UPDATE links SET right_deleted = ?2 WHERE id = ?1",
    };
    return exec(s, sql[side & 1], "ii", link, at);
}

/* One statement for what a synced pair changed; a row found as it was is
 * left alone, so a run's writes follow what changed, not what was read. */
int store_link_sync(Store *s, int64_t link, const LinkSync *with) {
    const char *base = with->base;
    int64_t synced = with->synced, w0 = with->written[0], w1 = with->written[1];
    if (!base && !synced && !w0 && !w1) return 0;
    return exec(s,
                "UPDATE links SET base = coalesce(?2, base),"
                " synced = CASE WHEN ?3 <> 0 THEN ?3 ELSE synced END,"
                " left_written = CASE WHEN ?4 <> 0 THEN ?4 ELSE left_written END,"
                " right_written = CASE WHEN ?5 <> 0 THEN ?5 ELSE right_written END"
                " WHERE id = ?1 AND (base IS NOT coalesce(?2, base) OR (?3 <> 0 AND synced <> ?3)"
                " OR (?4 <> 0 AND left_written <> ?4) OR (?5 <> 0 AND right_written <> ?5))",
                "isiii", link, base, synced, w0, w1);
}

int store_link_drop(Store *s, int64_t link) {
    return exec(s, "DELETE FROM links WHERE id = ?1", "i", link);
}

int store_links_each(Store *s, const char *sync, Arena *a, void *ctx, int (*each)(void *ctx, const Link *l)) {
    /* A private statement: each() may call the store again. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT " LINK_COLS " FROM links WHERE sync = ?1 ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return fail(s, "reading links");
    bind_text(st, 1, sync);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        Link l;
        read_link(st, a, &l);
        if (each(ctx, &l)) { rc = SQLITE_DONE; break; }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading links");
}

static int64_t count(Store *s, const char *sql, const char *a, const char *b) {
    sqlite3_stmt *st = query(s, sql, b ? "ss" : "s", a, b);
    if (!st) return -1;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    done_with(s, st);
    return n;
}

int64_t store_link_count(Store *s, const char *sync) {
    return count(s, "SELECT count(*) FROM links WHERE sync = ?1", sync, NULL);
}

/* ------------------------------------------------------------- bases */

int store_bases_get(Store *s, int64_t link, Arena *a, const char **json) {
    sqlite3_stmt *st = query(s, "SELECT base FROM links WHERE id = ?1", "i", link);
    if (!st) return -1;
    int rc = sqlite3_step(st), found = 0;
    *json = NULL;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *json = col_text(st, 0, a);
        found = 1;
    }
    done_with(s, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(s, "reading base values");
    return found;
}

/* ------------------------------------------------------------- cursors */

int store_cursor_get(Store *s, const char *source, const char *object, Arena *a, const char **value) {
    sqlite3_stmt *st = query(s, "SELECT value FROM cursors WHERE source = ?1 AND object = ?2", "ss", source, object);
    if (!st) return -1;
    int rc = sqlite3_step(st);
    *value = rc == SQLITE_ROW ? col_text(st, 0, a) : NULL;
    done_with(s, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(s, "reading cursors");
    return *value != NULL;
}

int store_cursor_put(Store *s, const char *source, const char *object, const char *value, int64_t at) {
    return exec(s, "INSERT OR REPLACE INTO cursors (source, object, value, updated) VALUES (?1, ?2, ?3, ?4)", "sssi",
                source, object, value, at);
}

/* ------------------------------------------------------------- syncs */

int store_sync_get(Store *s, const char *sync, SyncState *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = query(s, "SELECT first_run, last_run, last_ok FROM syncs WHERE name = ?1", "s", sync);
    if (!st) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->first_run = sqlite3_column_int64(st, 0);
        out->last_run = sqlite3_column_int64(st, 1);
        out->last_ok = sqlite3_column_int64(st, 2);
    }
    done_with(s, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(s, "reading syncs");
    return rc == SQLITE_ROW;
}

int store_sync_ran(Store *s, const char *sync, int64_t started, int ok) {
    return exec(s,
                "INSERT INTO syncs (name, first_run, last_run, last_ok) VALUES (?1, ?2, ?2, CASE WHEN ?3 THEN ?2 ELSE 0 END) "
                "ON CONFLICT(name) DO UPDATE SET last_run = ?2, last_ok = CASE WHEN ?3 THEN ?2 ELSE last_ok END",
                "sid", sync, started, ok);
}

/* ------------------------------------------------------------- runs */

int store_run_begin(Store *s, const char *rules, int64_t started, int64_t *run) {
    if (exec(s, "INSERT INTO runs (rules, started, status) VALUES (?1, ?2, 'running')", "si", rules, started) != 0)
        return -1;
    *run = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int store_runs_stopped(Store *s) {
    return exec(s, "UPDATE runs SET status = 'stopped' WHERE status = 'running'", "");
}

int store_run_end(Store *s, int64_t run, const char *status, const RunCounts *n, int64_t finished) {
    sqlite3_stmt *st = query(s,
                             "UPDATE runs SET status = ?2, finished = ?3, read = ?4, created = ?5, updated = ?6, "
                             "deleted = ?7, tagged = ?8, skipped = ?9, conflicts = ?10, waiting = ?11, errors = ?12 "
                             "WHERE id = ?1",
                             "isiiiiiiiiii", run, status, finished, n->read, n->created, n->updated, n->deleted,
                             n->tagged, n->skipped, n->conflicts, n->waiting, n->errors);
    if (!st) return -1;
    int rc = sqlite3_step(st);
    done_with(s, st);
    return rc == SQLITE_DONE ? 0 : fail(s, "recording the run");
}

int store_runs_each(Store *s, int limit, Arena *a, void *ctx, int (*each)(void *ctx, const RunInfo *r)) {
    sqlite3_stmt *st = query(s,
                             "SELECT id, started, finished, rules, status, read, created, updated, deleted, tagged, "
                             "skipped, conflicts, waiting, errors FROM runs ORDER BY id DESC LIMIT ?1",
                             "d", limit);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        RunInfo r;
        r.id = sqlite3_column_int64(st, 0);
        r.started = sqlite3_column_int64(st, 1);
        r.finished = sqlite3_column_int64(st, 2);
        r.rules = col_text(st, 3, a);
        r.status = col_text(st, 4, a);
        int64_t *c = &r.n.read;
        for (int i = 0; i < 9; i++) c[i] = sqlite3_column_int64(st, 5 + i);
        if (each(ctx, &r)) { rc = SQLITE_DONE; break; }
    }
    done_with(s, st);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading runs");
}

/* ------------------------------------------------------------- status, errors */

int store_status_put(Store *s, const char *sync, int side, const char *object, const char *id, const char *status,
                     const char *reason, int64_t at) {
    /* unchanged, the row (and its time: since when) stays as it is */
    return exec(s,
                "INSERT INTO record_status (sync, side, object, id, status, reason, at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                "ON CONFLICT (sync, side, id) DO UPDATE SET object = excluded.object, status = excluded.status, "
                "reason = excluded.reason, at = excluded.at "
                "WHERE object IS NOT excluded.object OR status IS NOT excluded.status OR reason IS NOT excluded.reason",
                "sdssssi", sync, side, object, id, status, reason, at);
}

int store_waiting_each(Store *s, const char *sync, Arena *a, void *ctx,
                       int (*each)(void *ctx, int side, const char *object, const char *id, const char *reason,
                                   int64_t at)) {
    /* status = 'waiting' written out: the partial index answers only it
     * (and, named, is used even where the planner has no statistics to
     * prefer it over the primary key, which every record shares a sync in) */
    sqlite3_stmt *st = query(s,
                             "SELECT side, object, id, reason, at FROM record_status INDEXED BY record_status_waiting "
                             "WHERE sync = ?1 AND status = 'waiting' ORDER BY at, id",
                             "s", sync);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (each(ctx, sqlite3_column_int(st, 0), col_text(st, 1, a), col_text(st, 2, a), col_text(st, 3, a),
                 sqlite3_column_int64(st, 4))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done_with(s, st);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading record status");
}

int64_t store_waiting_count(Store *s, const char *sync) {
    return count(s, "SELECT count(*) FROM record_status INDEXED BY record_status_waiting "
                    "WHERE sync = ?1 AND status = 'waiting'", sync, NULL);
}

int store_record_errors_each(Store *s, int64_t since, Arena *a, void *ctx, int (*each)(void *ctx, const RecordError *e)) {
    sqlite3_stmt *st = query(s,
                             "SELECT rs.sync, rs.side, rs.object, rs.id, rs.reason, rs.at, "
                             "  (SELECT e.rule FROM errors e WHERE e.sync = rs.sync AND e.record_id = rs.id "
                             "   ORDER BY e.id DESC LIMIT 1) "
                             "FROM record_status rs INDEXED BY record_status_errors "
                             "WHERE rs.status = 'error' AND rs.at >= ?1 ORDER BY rs.at, rs.sync, rs.id",
                             "i", since);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        RecordError e;
        e.sync = col_text(st, 0, a);
        e.side = sqlite3_column_int(st, 1);
        e.object = col_text(st, 2, a);
        e.id = col_text(st, 3, a);
        e.reason = col_text(st, 4, a);
        e.since = sqlite3_column_int64(st, 5);
        e.rule = col_text(st, 6, a);
        if (each(ctx, &e)) { rc = SQLITE_DONE; break; }
    }
    done_with(s, st);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading record status");
}

int store_error_add(Store *s, int64_t run, const char *sync, int side, const char *object, const char *id,
                    const char *reason, const char *rule, int64_t at) {
    return exec(s,
                "INSERT INTO errors (run, sync, side, object, record_id, reason, rule, at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                "isdssssi", run, sync, side, object, id, reason, rule, at);
}

int store_errors_each(Store *s, int64_t run, Arena *a, void *ctx,
                      int (*each)(void *ctx, const char *reason, int64_t count, const char *example_id)) {
    sqlite3_stmt *st = query(s,
                             /* a record two syncs read is one error, not two */
                             "SELECT reason, count(DISTINCT coalesce(object, '') || '/' || coalesce(record_id, '')), "
                             "min(record_id) FROM errors WHERE run = ?1 GROUP BY reason ORDER BY 2 DESC, reason",
                             "i", run);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (each(ctx, col_text(st, 0, a), sqlite3_column_int64(st, 1), col_text(st, 2, a))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done_with(s, st);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading errors");
}

/* ------------------------------------------------------------- queue */

int store_queue_add(Store *s, const char *sync, int side, const char *id, const char *reason, int64_t at) {
    return exec(s, "INSERT OR IGNORE INTO queue (sync, side, id, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)", "sdssi", sync,
                side, id, reason, at);
}

int store_queue_remove(Store *s, const char *sync, int side, const char *id) {
    return exec(s, "DELETE FROM queue WHERE sync = ?1 AND side = ?2 AND id = ?3", "sds", sync, side, id);
}

int store_queue_each(Store *s, const char *sync, Arena *a, void *ctx,
                     int (*each)(void *ctx, int side, const char *id, const char *reason, int64_t at)) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT side, id, reason, at FROM queue WHERE sync = ?1 ORDER BY at, id", -1, &st,
                           NULL) != SQLITE_OK)
        return fail(s, "reading the queue");
    bind_text(st, 1, sync);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (each(ctx, sqlite3_column_int(st, 0), col_text(st, 1, a), col_text(st, 2, a), sqlite3_column_int64(st, 3))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading the queue");
}

/* ------------------------------------------------------------- audit */

int store_audit_add(Store *s, const AuditEntry *e) {
    return exec(s,
                "INSERT INTO audit (run, sync, source, object, record_id, action, field, before, after, rule, at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                "isssssssssi", e->run, e->sync, e->source, e->object, e->id, e->action, e->field, e->before, e->after,
                e->rule, e->at);
}

int store_audit_each(Store *s, int64_t run, Arena *a, void *ctx, int (*each)(void *ctx, const AuditEntry *e)) {
    sqlite3_stmt *st = query(s,
                             "SELECT run, sync, source, object, record_id, action, field, before, after, rule, at "
                             "FROM audit WHERE run = ?1 ORDER BY id",
                             "i", run);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        AuditEntry e;
        e.run = sqlite3_column_int64(st, 0);
        e.sync = col_text(st, 1, a);
        e.source = col_text(st, 2, a);
        e.object = col_text(st, 3, a);
        e.id = col_text(st, 4, a);
        e.action = col_text(st, 5, a);
        e.field = col_text(st, 6, a);
        e.before = col_text(st, 7, a);
        e.after = col_text(st, 8, a);
        e.rule = col_text(st, 9, a);
        e.at = sqlite3_column_int64(st, 10);
        if (each(ctx, &e)) { rc = SQLITE_DONE; break; }
    }
    done_with(s, st);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading the audit log");
}

/* ------------------------------------------------------------- journal */

int store_intent_add(Store *s, const Intent *in, int64_t *id) {
    if (exec(s,
             "INSERT INTO journal (run, sync, source, object, side, action, record_id, partner, key, body, at, name, rule) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
             "isssdsssssiss", in->run, in->sync, in->source, in->object, in->side, in->action, in->id_rec,
             in->partner, in->key, in->body, in->at, in->name, in->rule) != 0)
        return -1;
    *id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int store_intent_done(Store *s, int64_t id) {
    return exec(s, "UPDATE journal SET done = 1 WHERE id = ?1", "i", id);
}

int store_intents_each(Store *s, Arena *a, void *ctx, int (*each)(void *ctx, const Intent *in)) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, run, sync, source, object, side, action, record_id, partner, key, body, at, "
                           "name, rule FROM journal WHERE done = 0 ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, "reading the journal");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        Intent in;
        in.id = sqlite3_column_int64(st, 0);
        in.run = sqlite3_column_int64(st, 1);
        in.sync = col_text(st, 2, a);
        in.source = col_text(st, 3, a);
        in.object = col_text(st, 4, a);
        in.side = sqlite3_column_int(st, 5);
        in.action = col_text(st, 6, a);
        in.id_rec = col_text(st, 7, a);
        in.partner = col_text(st, 8, a);
        in.key = col_text(st, 9, a);
        in.body = col_text(st, 10, a);
        in.at = sqlite3_column_int64(st, 11);
        in.name = col_text(st, 12, a);
        in.rule = col_text(st, 13, a);
        if (each(ctx, &in)) { rc = SQLITE_DONE; break; }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading the journal");
}

/* ------------------------------------------------------------- owed actions */

int store_owed_add(Store *s, const Owed *o) {
    /* owed once: the same action owed again (a second crash) is one row */
    return exec(s,
                "INSERT OR IGNORE INTO owed (sync, side, object, record_id, partner, key, action, name, rule, since) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                "sdsssssssi", o->sync, o->side, o->object, o->id_rec, o->partner, o->key, o->action, o->name,
                o->rule, o->since);
}

int store_owed_done(Store *s, int64_t id) { return exec(s, "DELETE FROM owed WHERE id = ?1", "i", id); }

int store_owed_each(Store *s, const char *sync, Arena *a, void *ctx, int (*each)(void *ctx, const Owed *o)) {
    sqlite3_stmt *st = query(s,
                             "SELECT id, sync, side, object, record_id, partner, key, action, name, rule, since "
                             "FROM owed WHERE sync = ?1 ORDER BY id",
                             "s", sync);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        Owed o;
        o.id = sqlite3_column_int64(st, 0);
        o.sync = col_text(st, 1, a);
        o.side = sqlite3_column_int(st, 2);
        o.object = col_text(st, 3, a);
        o.id_rec = col_text(st, 4, a);
        o.partner = col_text(st, 5, a);
        o.key = col_text(st, 6, a);
        o.action = col_text(st, 7, a);
        o.name = col_text(st, 8, a);
        o.rule = col_text(st, 9, a);
        o.since = sqlite3_column_int64(st, 10);
        if (each(ctx, &o)) { rc = SQLITE_DONE; break; }
    }
    done_with(s, st);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading the owed actions");
}
