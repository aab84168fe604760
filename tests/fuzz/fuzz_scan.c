/* fuzz_scan.c - libFuzzer target over the page scanners of Salesforce and
 * ActiveCampaign (jscan.c, each codec's scan_page), differential against
 * decode_page over cJSON: on any text a scanner must not crash, and where
 * cJSON reads the text as a page, the scanner reads the same records with
 * the same values, tags and lists, and the same refusals.  The same text is
 * also a replay source's effects.jsonl (its own scanner): opened, read
 * back over a record, closed, without a crash or a leak.  Every record the
 * scanner reads is packed and read back (record_pack, the spill's form)
 * equal; the text itself, as packed bytes, reads back or is refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "codec.h"
#include "compile.h"
#include "connector.h"
#include "unit.h"

static Program *prog;
static uint32_t lead, contact;

static const char rules[] =
    "use salesforce, activecampaign\n"
    "source sf = salesforce { instance = env(\"I\"); auth = oauth2(client_id = env(\"C\"), refresh_token = secret(\"R\")) }\n"
    "source ac = activecampaign { url = env(\"U\"); api_key = secret(\"K\") }\n"
    "extend sf.Lead { Region__c: text(80)\n Tags__c: multipicklist }\n"
    "sync leads: sf.Lead -> ac.contact {\n    match Email = email\n    use defaults\n}\n";

static void setup(void) {
    const char *env = getenv("TANDEM_STDLIB");
    const char *dirs[2] = {env && *env ? env : "stdlib", NULL};
    Unit *u = unit_new(dirs);
    unit_load_text(u, "scan.sync", rules, strlen(rules));
    check_unit(u);
    prog = compile_unit(u);
    unit_free(u);
    if (!prog) abort();
    for (uint32_t i = 0; i < prog->nobjects; i++)
        if (!strcmp(program_str(prog, prog->objects[i].name), "Lead")) lead = i;
        else if (!strcmp(program_str(prog, prog->objects[i].name), "contact") &&
                 !strcmp(program_str(prog, prog->objects[i].system), "activecampaign")) contact = i;
}

typedef struct Got {
    Record *rec[64];
    const char *why[64];
    int n, nbad;
} Got;

static void on_rec(void *ctx, Record *r) {
    Got *g = ctx;
    if (g->n < 64) g->rec[g->n] = r;
    g->n++;
}

static void on_bad(void *ctx, const char *id, const char *why) {
    (void)id;
    Got *g = ctx;
    if (g->nbad < 64) g->why[g->nbad] = strdup(why);
    g->nbad++;
}

static void got_free(Got *g) {
    for (int i = 0; i < g->nbad && i < 64; i++) free((void *)g->why[i]);
}

static int same(const Record *a, const Record *b) {
    if ((a->vm.id == NULL) != (b->vm.id == NULL) || (a->vm.id && strcmp(a->vm.id, b->vm.id))) return 0;
    if (a->deleted != b->deleted || a->ntag_names != b->ntag_names || a->nlists != b->nlists ||
        a->tags_known != b->tags_known) return 0;
    for (uint32_t i = 0; i < a->ntag_names; i++) {
        if (strcmp(a->tag_names[i], b->tag_names[i])) return 0;
        if ((a->tag_refs[i] == NULL) != (b->tag_refs[i] == NULL) || (a->tag_refs[i] && strcmp(a->tag_refs[i], b->tag_refs[i])))
            return 0;
    }
    for (uint32_t i = 0; i < a->nlists; i++)
        if (strcmp(a->lists[i], b->lists[i])) return 0;
    for (uint32_t f = 0; f < a->vm.nf; f++) {
        Buf x, y;
        buf_init(&x);
        buf_init(&y);
        value_format(a->fields[f], &x);
        value_format(b->fields[f], &y);
        int eq = a->fields[f].t == b->fields[f].t && !strcmp(buf_str(&x), buf_str(&y));
        buf_free(&x);
        buf_free(&y);
        if (!eq) return 0;
    }
    return 1;
}

/* One codec over the text both ways. */
static void differ(const char *system, uint32_t object, const uint8_t *data, size_t size) {
    Arena a, scratch;
    arena_init(&a);
    arena_init(&scratch);
    Meta meta;
    meta_init(&meta, &a);
    /* names behind the ids a page's sideloads use */
    meta_put(&meta, META_FIELD, "1", "Industry", "text");
    meta_put(&meta, META_FIELD, "2", "email", "text");
    meta_put(&meta, META_TAG, "1", "vip", NULL);
    meta_put(&meta, META_LIST, "1", "Customers", NULL);
    CodecCtx cx = {prog, &a, &meta, NULL, NULL, 0, &scratch, 0};
    Got s = {0}, c = {0};
    RecordSink ss = {&s, on_rec, on_bad, NULL}, cs = {&c, on_rec, on_bad, NULL};
    Buf next1, next2, err1, err2;
    buf_init(&next1);
    buf_init(&next2);
    buf_init(&err1);
    buf_init(&err2);
    const Codec *codec = codec_for(system);
    int rs = codec->scan_page(&cx, object, (const char *)data, size, &ss, &next1, &err1);
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    if (j) {
        int rc = codec->decode_page(&cx, object, j, &cs, &next2, &err2);
        /* cJSON also takes what JSON does not (lone surrogates, trailing
         * bytes): only where the scanner read the page do the two agree */
        if (rs == 0) {
            if (rc != 0 || s.n != c.n || s.nbad != c.nbad || strcmp(buf_str(&next1), buf_str(&next2))) abort();
            for (int i = 0; i < s.n && i < 64; i++)
                if (!same(s.rec[i], c.rec[i])) abort();
            for (int i = 0; i < s.nbad && i < 64; i++)
                if (strcmp(s.why[i], c.why[i])) abort();
        }
        cJSON_Delete(j);
    }
    Buf packed;
    buf_init(&packed);
    for (int i = 0; i < s.n && i < 64; i++) {
        Record back;
        buf_reset(&packed);
        record_pack(prog, s.rec[i], &packed);
        if (record_unpack(prog, packed.p, packed.n, &a, &back) != 0 || !same(s.rec[i], &back)) abort();
    }
    buf_free(&packed);
    got_free(&s);
    got_free(&c);
    buf_free(&next1);
    buf_free(&next2);
    buf_free(&err1);
    buf_free(&err2);
    arena_free(&a);
    arena_free(&scratch);
}

static char dir[64], effects[96];

static void cleanup(void) {
    char p[128];
    unlink(effects);
    snprintf(p, sizeof p, "%s/out/ac", dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/out", dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/ac/contact.json", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/ac", dir);
    rmdir(p);
    rmdir(dir);
}

static void effects_setup(void) {
    char p[128];
    snprintf(dir, sizeof dir, "/tmp/tandem-fuzz-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/ac", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/ac/contact.json", dir);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("{\"contacts\": [{\"id\": \"7\", \"email\": \"ann@acme.example\", \"udate\": \"2026-10-30T08:00:00-05:00\"}],"
              " \"meta\": {\"total\": \"1\"}}", f);
        fclose(f);
    }
    snprintf(p, sizeof p, "%s/out", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/out/ac", dir);
    mkdir(p, 0700);
    snprintf(effects, sizeof effects, "%s/out/ac/effects.jsonl", dir);
    atexit(cleanup);
}

static void ignore(void *ctx, Record *r) { (void)ctx; (void)r; }
static void ignore_bad(void *ctx, const char *id, const char *why) { (void)ctx; (void)id; (void)why; }

/* The text as the outbox's effects, read over the answer's contact 7, the
 * record the outbox names "ac-contact-1" and every record of a change read. */
static void replay_effects(const uint8_t *data, size_t size) {
    FILE *f = fopen(effects, "wb");
    if (!f) return;
    fwrite(data, 1, size, f);
    fclose(f);
    char out[80];
    snprintf(out, sizeof out, "%s/out", dir);
    Buf err;
    buf_init(&err);
    Connector *s = replay_open(prog, "ac", "activecampaign", dir, out, 1793530000000, REPLAY_HOLD, &err);
    if (s) {
        Arena a;
        arena_init(&a);
        s->cx.a = &a;
        RecordSink sink = {NULL, ignore, ignore_bad, NULL};
        const char *ids[2] = {"7", "ac-contact-1"};
        s->ops->get(s, contact, ids, 2, &sink, &err);
        ChangeCursor cur;
        memset(&cur, 0, sizeof cur);
        buf_init(&cur.next);
        cur.since = 0;
        s->ops->changed(s, contact, &cur, &sink, &err);
        buf_free(&cur.next);
        s->ops->close(s);
        arena_free(&a);
    }
    buf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!prog) {
        setup();
        effects_setup();
    }
    differ("salesforce", lead, data, size);
    differ("activecampaign", contact, data, size);
    replay_effects(data, size);
    Arena a;
    arena_init(&a);
    Record r;
    (void)record_unpack(prog, data, size, &a, &r);
    arena_free(&a);
    return 0;
}
