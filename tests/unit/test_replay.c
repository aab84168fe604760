/* test_replay.c - the replay source: effects read back over the answers
 * (every form a line of effects.jsonl takes, and the broken ones), and
 * lookups served from held answers alike with any budget. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <errno.h>

#include "connector.h"
#include "unit_test.h"
#include "util.h"

static const char *rules =
    "use salesforce, activecampaign\n"
    "source sf = salesforce { instance = env(\"I\"); auth = oauth2(client_id = env(\"C\"), refresh_token = secret(\"R\")) }\n"
    "source ac = activecampaign { url = env(\"U\"); api_key = secret(\"K\") }\n"
    "extend ac.contact { \"Interests\": multipicklist; \"Score\": number; \"Renewal\": date }\n"
    "extend sf.Lead { \"Interests__c\": multipicklist }\n"
    "sync leads: sf.Lead <-> ac.contact {\n"
    "    match Email = email\n"
    "    prefer sf\n"
    "    map FirstName <-> firstName\n"
    "    map LastName <-> lastName\n"
    "    map Email <-> email\n"
    "    map Interests__c <-> field(\"Interests\")\n"
    "    map AnnualRevenue <-> field(\"Score\")\n"
    "    new in sf never\n"
    "}\n";

static Program *compile_rules(void) { return unit_compile("replay.sync", rules); }

static char dir[64];

static void put_file(const char *rel, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static uint32_t contact_object(const Program *p) {
    for (uint32_t i = 0; i < p->nobjects; i++)
        if (!strcmp(program_str(p, p->objects[i].system), "activecampaign") &&
            !strcmp(program_str(p, p->objects[i].name), "contact"))
            return i;
    return UINT32_MAX;
}

typedef struct Got {
    const Program *p;
    Record *rec[8];
    int n, bad;
} Got;

static void got_record(void *ctx, Record *r) {
    Got *g = ctx;
    if (g->n < 8) g->rec[g->n++] = r;
}

static void got_bad(void *ctx, const char *id, const char *why) {
    (void)id;
    (void)why;
    ((Got *)ctx)->bad++;
}

static const Record *find_rec(const Got *g, const char *id) {
    for (int i = 0; i < g->n; i++)
        if (g->rec[i]->vm.id && !strcmp(g->rec[i]->vm.id, id)) return g->rec[i];
    return NULL;
}

static Value field(const Got *g, const Record *r, const char *name) {
    int f = r ? program_field(g->p, r->object, name) : -1;
    return f < 0 ? v_null() : r->fields[f];
}

static int is_text(const Got *g, const Record *r, const char *name, const char *want) {
    Value v = field(g, r, name);
    return v.t == VT_STR && v.len == strlen(want) && !memcmp(v.u.s, want, v.len);
}

static const char *answers =
    "{\"contacts\": ["
    "{\"id\": \"7\", \"email\": \"ann@acme.example\", \"firstName\": \"Ann\", \"lastName\": \"Lee\","
    " \"udate\": \"2026-10-30T08:00:00-05:00\", \"cdate\": \"2026-10-30T08:00:00-05:00\", \"deleted\": \"0\"},"
    "{\"id\": \"8\", \"email\": \"bob@acme.example\", \"firstName\": \"Bob\", \"lastName\": \"Ray\","
    " \"udate\": \"2026-10-30T08:00:00-05:00\", \"cdate\": \"2026-10-30T08:00:00-05:00\", \"deleted\": \"0\"}"
    "], \"meta\": {\"total\": \"2\"}}";

/* Each form a line takes: tandem's own order; fields before the object
 * and id; a key twice (the first counts); a raw control byte in a string
 * (the scanner refuses it, cJSON reads it); a flag and a list value; every
 * kind of value an effect packs (text, empty text, number, flag, date,
 * null). */
static const char *effects =
    "{\"at\":1793527200000,\"action\":\"create\",\"object\":\"contact\",\"id\":\"ac-contact-1\","
    "\"fields\":{\"email\":\"new@acme.example\",\"firstName\":\"Neu\",\"Score\":7,\"anonymized\":true,"
    "\"Renewal\":\"2026-12-31\",\"lastName\":\"\",\"phone\":null}}\n"
    "{\"fields\":{\"lastName\":\"Sp\\u00e4ter\",\"Interests\":[\"golf\",\"chess\"],\"Score\":\"12\"},"
    "\"at\":1793527300000,\"action\":\"update\",\"object\":\"contact\",\"id\":\"7\"}\n"
    "\n"
    "{\"at\":1793527400000,\"action\":\"update\",\"object\":\"contact\",\"id\":\"7\",\"id\":\"8\","
    "\"fields\":{\"firstName\":\"B\x01o\",\"unknownField\":{\"x\":[1,2]},\"Score\":null}}\n"
    "{\"at\":1793527500000,\"action\":\"update\",\"object\":\"deal\",\"id\":\"3\",\"fields\":{\"title\":\"x\"}}\n";

static void test_effects(Program *p) {
    char path[256];
    snprintf(dir, sizeof dir, "/tmp/tandem-replay-test-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/ac", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/out", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/out/ac", dir);
    mkdir(path, 0700);
    put_file("ac/contact.json", answers);
    put_file("out/ac/effects.jsonl", effects);
    uint32_t obj = contact_object(p);
    CHECK(obj != UINT32_MAX);
    char out[128];
    snprintf(out, sizeof out, "%s/out", dir);

    /* the same records whatever the budget for held answers: none, a
     * record's worth (given up half-way), all */
    size_t holds[3] = {0, 300, REPLAY_HOLD};
    for (int h = 0; h < 3; h++) {
        Buf err;
        buf_init(&err);
        Connector *s = replay_open(p, "ac", "activecampaign", dir, out, 1793530000000, holds[h], &err);
        CHECK(s != NULL);
        if (!s) {
            printf("replay_open: %s\n", buf_str(&err));
            buf_free(&err);
            continue;
        }
        for (int round = 0; round < 2; round++) {
            Got g = {p, {0}, 0, 0};
            RecordSink sink = {&g, got_record, got_bad, NULL};
            const char *ids[2] = {"7", "ac-contact-1"};
            CHECK(s->ops->get(s, obj, ids, 2, &sink, &err) == 0);
            CHECK(g.n == 2 && g.bad == 0);
            const Record *ann = find_rec(&g, "7"), *neu = find_rec(&g, "ac-contact-1");
            CHECK(ann != NULL && neu != NULL);
            CHECK(is_text(&g, ann, "lastName", "Sp\xc3\xa4ter"));
            CHECK(is_text(&g, ann, "Interests", "golf;chess"));
            CHECK(is_text(&g, ann, "firstName", "B\x01o"));
            CHECK(field(&g, ann, "Score").t == VT_NULL);
            CHECK(is_text(&g, ann, "email", "ann@acme.example"));
            CHECK(ann->vm.modified == 1793527400000);
            CHECK(is_text(&g, neu, "email", "new@acme.example") && is_text(&g, neu, "firstName", "Neu"));
            CHECK(field(&g, neu, "Score").t == VT_NUM && field(&g, neu, "Score").u.n == 7);
            CHECK(field(&g, neu, "anonymized").t == VT_BOOL && field(&g, neu, "anonymized").u.b);
            CHECK(field(&g, neu, "Renewal").t == VT_DATE && field(&g, neu, "Renewal").u.i == 20818);
            CHECK(is_text(&g, neu, "lastName", "") && field(&g, neu, "phone").t == VT_NULL);
            /* record 8 was not named by the line that said id twice */
            Got g8 = {p, {0}, 0, 0};
            RecordSink s8 = {&g8, got_record, got_bad, NULL};
            const char *id8 = "8";
            CHECK(s->ops->get(s, obj, &id8, 1, &s8, &err) == 0);
            CHECK(g8.n == 1 && is_text(&g8, g8.rec[0], "firstName", "Bob"));
            /* changes after the first effect: 7 (written later) and the
             * two answers left alone are older */
            ChangeCursor cur;
            memset(&cur, 0, sizeof cur);
            buf_init(&cur.next);
            cur.since = 1793527250000;
            cur.newest = cur.since;
            Got gc = {p, {0}, 0, 0};
            RecordSink sc = {&gc, got_record, got_bad, NULL};
            CHECK(s->ops->changed(s, obj, &cur, &sc, &err) == 0);
            CHECK(gc.n == 1 && find_rec(&gc, "7") != NULL);
            buf_free(&cur.next);
        }
        s->ops->close(s);
        buf_free(&err);
    }

    /* the pages are mapped, not read: the bytes as they are, none past
     * the end; an empty file is empty; a directory or no file is an error */
    size_t n = 0;
    snprintf(path, sizeof path, "%s/ac/contact.json", dir);
    const char *m = map_file(path, &n);
    CHECK(m != NULL && n == strlen(answers) && !memcmp(m, answers, n));
    if (m) unmap_file(m, n);
    put_file("ac/empty.json", "");
    snprintf(path, sizeof path, "%s/ac/empty.json", dir);
    m = map_file(path, &n);
    CHECK(m != NULL && n == 0);
    if (m) unmap_file(m, n);
    snprintf(path, sizeof path, "%s/ac", dir);
    errno = 0;
    CHECK(map_file(path, &n) == NULL && errno == EINVAL);
    snprintf(path, sizeof path, "%s/ac/none.json", dir);
    CHECK(map_file(path, &n) == NULL && errno == ENOENT);

    /* broken lines stop the source with the file and line */
    static const struct { const char *line, *says; } broken[] = {
        {"{\"action\":\"update\",\"object\":\"contact\",\"id\":\"7\"}\n", "effects.jsonl:1: an effect needs object, id, action and at"},
        {"{\"at\":1,\"action\":\"update\",\"object\":\"contact\",\"id\":7}\n", "effects.jsonl:1: an effect needs"},
        {"\n{\"at\":1,\"action\":\"update\",\"object\":\"contact\",\"id\":\"7\"\n", "effects.jsonl:2: not JSON"},
        {"[{\"at\":1}]\n", "effects.jsonl:1: an effect is a JSON object"},
        /* no time: a double past int64_t does not convert (UBSan) */
        {"{\"at\":1e300,\"action\":\"update\",\"object\":\"contact\",\"id\":\"7\"}\n", "effects.jsonl:1: 'at' is no time"},
        {"{\"at\":-1e16,\"action\":\"update\",\"object\":\"contact\",\"id\":\"7\"}\n", "effects.jsonl:1: 'at' is no time"},
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        put_file("out/ac/effects.jsonl", broken[i].line);
        Buf err;
        buf_init(&err);
        Connector *s = replay_open(p, "ac", "activecampaign", dir, out, 1793530000000, REPLAY_HOLD, &err);
        CHECK(s == NULL);
        CHECK(strstr(buf_str(&err), broken[i].says) != NULL);
        if (!strstr(buf_str(&err), broken[i].says)) printf("  got: %s\n", buf_str(&err));
        if (s) s->ops->close(s);
        buf_free(&err);
    }

    /* a kind past int's range names no kind: passed over, not cast */
    {
        put_file("out/ac/effects.jsonl", "{\"at\":1,\"action\":\"meta\",\"kind\":1e300,\"id\":\"ac-tag-1\",\"name\":\"vip\"}\n");
        Buf err;
        buf_init(&err);
        Connector *s = replay_open(p, "ac", "activecampaign", dir, out, 1793530000000, REPLAY_HOLD, &err);
        CHECK(s != NULL);
        if (s) s->ops->close(s);
        buf_free(&err);
    }

    /* A last line without its newline that does not parse was cut short
     * (a full disk, a kill mid-write): it is passed over, none of it
     * applied, the lines before it read.  One that parses was whole. */
    static const struct { const char *tail; const char *first; } torn[] = {
        {"{\"at\":1793527300000,\"action\":\"update\",\"object\":\"contact\",\"id\":\"7\",\"fields\":{\"firstName\":\"Tor", "Ann"},
        {"{\"at\":1793527300000,\"action\":\"upd", "Ann"},
        {"{", "Ann"},
        {"{\"at\":1793527300000,\"action\":\"update\",\"object\":\"contact\",\"id\":\"7\",\"fields\":{\"firstName\":\"Whole\"}}", "Whole"},
    };
    for (size_t i = 0; i < sizeof torn / sizeof torn[0]; i++) {
        Buf text;
        buf_init(&text);
        buf_puts(&text, "{\"at\":1793527200000,\"action\":\"create\",\"object\":\"contact\",\"id\":\"ac-contact-1\","
                        "\"fields\":{\"email\":\"new@acme.example\"}}\n");
        buf_puts(&text, torn[i].tail);
        put_file("out/ac/effects.jsonl", buf_str(&text));
        buf_free(&text);
        Buf err;
        buf_init(&err);
        Connector *s = replay_open(p, "ac", "activecampaign", dir, out, 1793530000000, REPLAY_HOLD, &err);
        CHECK(s != NULL);
        if (!s) {
            printf("  torn %zu: %s\n", i, buf_str(&err));
            buf_free(&err);
            continue;
        }
        Got g = {p, {0}, 0, 0};
        RecordSink sink = {&g, got_record, got_bad, NULL};
        const char *ids[2] = {"7", "ac-contact-1"};
        CHECK(s->ops->get(s, obj, ids, 2, &sink, &err) == 0);
        const Record *ann = find_rec(&g, "7");
        CHECK(find_rec(&g, "ac-contact-1") != NULL);
        CHECK(ann && is_text(&g, ann, "firstName", torn[i].first));
        CHECK(ann && (ann->vm.modified == 1793527300000) == !strcmp(torn[i].first, "Whole"));
        s->ops->close(s);
        buf_free(&err);
    }

    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    if (system(path) != 0) printf("could not remove %s\n", dir);
}

void test_replay_all(void) {
    Program *p = compile_rules();
    CHECK(p != NULL);
    if (!p) return;
    test_effects(p);
    program_free(p);
}
