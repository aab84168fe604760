/* test_spill.c - records packed and read back whole (record_pack), and the
 * spill file that holds them (spill.h): in a file and in memory, read in
 * any order and read ahead, entries larger than its buffers, and bytes
 * that are not a packed record. */
#include <stdlib.h>

#include "record.h"
#include "spill.h"
#include "unit_test.h"

static const char *rules =
    "use salesforce, activecampaign\n"
    "source sf = salesforce { instance = env(\"I\"); auth = oauth2(client_id = env(\"C\"), refresh_token = secret(\"R\")) }\n"
    "source ac = activecampaign { url = env(\"U\"); api_key = secret(\"K\") }\n"
    "sync leads: sf.Lead -> ac.contact {\n"
    "    match Email = email\n"
    "    map FirstName -> firstName\n"
    "    on create in ac: tag ac \"vip\"\n"
    "}\n";

static uint32_t object_named(const Program *p, const char *name) {
    for (uint32_t i = 0; i < p->nobjects; i++)
        if (!strcmp(program_str(p, p->objects[i].name), name)) return i;
    return UINT32_MAX;
}

/* Everything a record holds, compared: values by type and content. */
static int same_record(const Program *p, const Record *a, const Record *b) {
    const PObject *o = &p->objects[a->object];
    if (a->object != b->object || a->deleted != b->deleted || a->created != b->created ||
        a->vm.modified != b->vm.modified || a->tags_known != b->tags_known || a->vm.nf != b->vm.nf)
        return 0;
    for (uint32_t i = 0; i < o->nfields; i++) {
        Value x = a->fields[i], y = b->fields[i];
        if (x.t != y.t) return 0;
        if (x.t == VT_STR && (x.len != y.len || memcmp(x.u.s, y.u.s, x.len))) return 0;
        if (x.t != VT_STR && x.t != VT_NULL && !value_equal(x, y)) return 0;
    }
    if (memcmp(a->present, b->present, ((size_t)o->nfields / 64 + 1) * sizeof *a->present)) return 0;
    size_t words = (p->ntags + 63) / 64;
    if (memcmp(a->tags, b->tags, (words ? words : 1) * sizeof *a->tags)) return 0;
    if (a->ntag_names != b->ntag_names || a->nlists != b->nlists) return 0;
    for (uint32_t i = 0; i < a->ntag_names; i++) {
        if (strcmp(a->tag_names[i], b->tag_names[i])) return 0;
        if (!a->tag_refs[i] != !b->tag_refs[i] || (a->tag_refs[i] && strcmp(a->tag_refs[i], b->tag_refs[i]))) return 0;
    }
    for (uint32_t i = 0; i < a->nlists; i++)
        if (strcmp(a->lists[i], b->lists[i])) return 0;
    if (!a->vm.id != !b->vm.id || (a->vm.id && strcmp(a->vm.id, b->vm.id)) || a->vm.idlen != b->vm.idlen) return 0;
    return 1;
}

static void test_pack(const Program *p) {
    uint32_t lead = object_named(p, "Lead");
    CHECK(lead != UINT32_MAX);
    if (lead == UINT32_MAX) return;
    const char *json =
        "{\"Id\": \"00Q000000000001AAA\", \"FirstName\": \"Ins\\u00e9 \\\"Q\\\"\", \"LastName\": \"M\\u00fcller\","
        " \"Company\": \"\", \"Email\": \"a@b.example\", \"AnnualRevenue\": 1234.5, \"NumberOfEmployees\": 12,"
        " \"IsDeleted\": true, \"DoNotCall\": false, \"Phone\": null, \"ConvertedDate\": \"2026-01-31\","
        " \"SystemModstamp\": \"2026-11-01T10:00:00.000+0000\", \"CreatedDate\": \"2025-01-01T00:00:00Z\","
        " \"tags\": [\"vip\", \"other\"], \"lists\": [\"Newsletter\"]}";
    cJSON *j = cJSON_Parse(json);
    Arena a, b;
    arena_init(&a);
    arena_init(&b);
    Record r, back;
    Buf err;
    buf_init(&err);
    CHECK(record_from_json(p, lead, j, &a, &r, &err, NULL) == 0);
    record_add_tag(&r, &a, "third", "ct-77");
    record_finish(p, &r, &a);
    Buf packed;
    buf_init(&packed);
    record_pack(p, &r, &packed);
    CHECK(record_unpack(p, packed.p, packed.n, &b, &back) == 0);
    CHECK(same_record(p, &r, &back));
    CHECK_STR(back.vm.id, "00Q000000000001AAA");
    CHECK(back.deleted == 1);
    CHECK(back.ntag_names == 3 && back.tag_refs[2] && !strcmp(back.tag_refs[2], "ct-77"));
    /* its fields' text is its own, not the packed bytes' */
    CHECK(back.fields[program_field(p, lead, "FirstName")].u.s < packed.p ||
          back.fields[program_field(p, lead, "FirstName")].u.s >= packed.p + packed.n);

    /* every prefix, and the bytes with one more: not a record */
    int refused = 0;
    for (size_t n = 0; n < packed.n; n++) {
        arena_reset(&b);
        Record cut;
        if (record_unpack(p, packed.p, n, &b, &cut) != 0) refused++;
    }
    CHECK(refused == (int)packed.n);
    buf_putc(&packed, 'x');
    CHECK(record_unpack(p, packed.p, packed.n, &b, &back) != 0);
    /* an object past the program's */
    uint32_t bogus = 9999;
    memcpy(packed.p, &bogus, sizeof bogus);
    CHECK(record_unpack(p, packed.p, packed.n, &b, &back) != 0);

    /* a record with nothing: no id, no tags */
    Record empty;
    record_init(p, lead, &a, &empty);
    buf_reset(&packed);
    record_pack(p, &empty, &packed);
    arena_reset(&b);
    CHECK(record_unpack(p, packed.p, packed.n, &b, &back) == 0);
    CHECK(same_record(p, &empty, &back));
    CHECK(back.vm.id == NULL);

    buf_free(&packed);
    buf_free(&err);
    cJSON_Delete(j);
    arena_free(&a);
    arena_free(&b);
}

/* Entries of many sizes (a few larger than the spill's buffers), read
 * back in order with read-ahead, backwards, and while more are added. */
static void spill_round(Spill *s) {
    enum { N = 600 };
    uint64_t off[N];
    Buf want, got;
    buf_init(&want);
    buf_init(&got);
    int ok = 1;
    for (int i = 0; i < N; i++) {
        size_t n = i % 97 == 0 ? 300000 + (size_t)i : (size_t)(i * 37 % 1500);
        buf_reset(&want);
        for (size_t k = 0; k < n; k++) buf_putc(&want, (char)('a' + (i + k) % 26));
        if (spill_put(s, want.p ? want.p : "", (uint32_t)want.n, &off[i]) != 0) ok = 0;
        /* the entry just put, and an older one, read back at once */
        if (spill_get(s, off[i], &got) != 0 || got.n != want.n || (n && memcmp(got.p, want.p, n))) ok = 0;
        if (i > 10 && spill_get(s, off[i / 2], &got) != 0) ok = 0;
    }
    CHECK(ok);
    for (int pass = 0; pass < 2; pass++) {
        spill_ahead(s, pass == 0);
        ok = 1;
        for (int j = 0; j < N; j++) {
            int i = pass == 0 ? j : N - 1 - j;
            size_t n = i % 97 == 0 ? 300000 + (size_t)i : (size_t)(i * 37 % 1500);
            if (spill_get(s, off[i], &got) != 0 || got.n != n) { ok = 0; continue; }
            for (size_t k = 0; k < n; k++)
                if (got.p[k] != (char)('a' + (i + k) % 26)) { ok = 0; break; }
        }
        CHECK(ok);
    }
    spill_ahead(s, 0);
    /* an offset past the end is an error with a message, not a crash */
    CHECK(spill_get(s, s->size + 100, &got) != 0);
    CHECK(strstr(spill_error(s), "temporary record file") != NULL);
    buf_free(&want);
    buf_free(&got);
}

static void test_spill(void) {
    Spill s;
    spill_open(&s);
    CHECK(spill_on_disk(&s));
    spill_round(&s);
    spill_close(&s);

    /* no temporary directory: the entries stay in memory, alike */
    const char *had = getenv("TMPDIR");
    char *keep = had ? strdup(had) : NULL;
    setenv("TMPDIR", "/nonexistent-tandem-dir", 1);
    spill_open(&s);
    CHECK(!spill_on_disk(&s));
    spill_round(&s);
    spill_close(&s);
    if (keep) setenv("TMPDIR", keep, 1);
    else unsetenv("TMPDIR");
    free(keep);
}

void test_spill_all(void) {
    Program *p = unit_compile("spill.sync", rules);
    CHECK(p != NULL);
    if (p) test_pack(p);
    test_spill();
    program_free(p);
}
