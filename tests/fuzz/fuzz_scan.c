/* fuzz_scan.c - libFuzzer target over the page scanners of Salesforce and
 * ActiveCampaign (jscan.c, each codec's scan_page), differential against
 * decode_page over cJSON: on any text a scanner must not crash, and where
 * cJSON reads the text as a page, the scanner reads the same records with
 * the same values, tags and lists, and the same refusals. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec.h"
#include "compile.h"
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
    got_free(&s);
    got_free(&c);
    buf_free(&next1);
    buf_free(&next2);
    buf_free(&err1);
    buf_free(&err2);
    arena_free(&a);
    arena_free(&scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!prog) setup();
    differ("salesforce", lead, data, size);
    differ("activecampaign", contact, data, size);
    return 0;
}
