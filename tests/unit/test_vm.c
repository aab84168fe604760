/* test_vm.c - unit tests of the back end: the merge decision table, the VM
 * driven directly with hand-made records, and the program file format
 * (round trip, truncation, corruption, operands out of range). */
#include <stdlib.h>

#include "bytecode.h"
#include "check.h"
#include "compile.h"
#include "merge.h"
#include "unit.h"
#include "util.h"
#include "vm.h"
#include "unit_test.h"

static Program *compile_text(const char *text) { return unit_compile("t.sync", text); }

/* ------------------------------------------------------------ merge */

static MergeIn mi(const char *l, const char *r, const char *bl, const char *br, int flow, int pl, int pr, int prefer) {
    MergeIn m;
    memset(&m, 0, sizeof m);
    m.cur[0] = l ? v_str(l, strlen(l)) : v_null();
    m.cur[1] = r ? v_str(r, strlen(r)) : v_null();
    m.give[1] = m.cur[0];
    m.give[0] = m.cur[1];
    m.has_base = bl || br;
    m.base[0] = bl ? v_str(bl, strlen(bl)) : v_null();
    m.base[1] = br ? v_str(br, strlen(br)) : v_null();
    m.flow = flow;
    m.policy[0] = pl;
    m.policy[1] = pr;
    m.prefer = prefer;
    m.modified[0] = m.modified[1] = INT64_MIN;
    return m;
}

/* w: "L" writes left, "R" writes right, "C" conflict, "" nothing. */
static const char *decide(MergeIn m) {
    MergeOut o = merge_decide(&m);
    static char s[4];
    int k = 0;
    if (o.write[0]) s[k++] = 'L';
    if (o.write[1]) s[k++] = 'R';
    if (o.conflict) s[k++] = 'C';
    s[k] = 0;
    return s;
}

static void test_merge(void) {
    const int A = POL_ALWAYS, B = POL_IF_BLANK, N = POL_NEVER, X = POL_NONE, none = MERGE_PREFER_NONE;
    /* nothing changed since the base: no echo (B23) */
    CHECK_STR(decide(mi("a", "a", "a", "a", 3, A, A, none)), "");
    /* one side changed: it flows to the other */
    CHECK_STR(decide(mi("b", "a", "a", "a", 3, A, A, none)), "R");
    CHECK_STR(decide(mi("a", "b", "a", "a", 3, A, A, none)), "L");
    /* both changed: prefer decides, else conflict; agreeing changes are fine */
    CHECK_STR(decide(mi("b", "c", "a", "a", 3, A, A, none)), "C");
    CHECK_STR(decide(mi("b", "c", "a", "a", 3, A, A, 0)), "R");
    CHECK_STR(decide(mi("b", "c", "a", "a", 3, A, A, 1)), "L");
    CHECK_STR(decide(mi("b", "b", "a", "a", 3, A, A, none)), "");
    /* if blank: writes only into a blank target */
    CHECK_STR(decide(mi("a", "b", "a", "a", 3, B, A, none)), "");
    CHECK_STR(decide(mi(NULL, "b", NULL, "a", 3, B, A, none)), "L");
    /* never */
    CHECK_STR(decide(mi("a", "b", "a", "a", 3, N, A, none)), "");
    CHECK_STR(decide(mi("b", "a", "a", "a", 3, N, A, none)), "R");
    /* one way: only the source's change flows; target edits stay */
    CHECK_STR(decide(mi("b", "a", "a", "a", 1, X, A, none)), "R");
    CHECK_STR(decide(mi("a", "b", "a", "a", 1, X, A, none)), "");
    CHECK_STR(decide(mi("a", "b", "a", "a", 2, A, X, none)), "L");
    /* first sync: blanks filled, different values by prefer */
    CHECK_STR(decide(mi("a", NULL, NULL, NULL, 3, A, A, none)), "R");
    CHECK_STR(decide(mi(NULL, "b", NULL, NULL, 3, A, A, none)), "L");
    CHECK_STR(decide(mi("a", "b", NULL, NULL, 3, A, A, none)), "C");
    CHECK_STR(decide(mi("a", "b", NULL, NULL, 3, A, A, 1)), "L");
    CHECK_STR(decide(mi("a", "a", NULL, NULL, 3, A, A, none)), "");
    /* newest: the later change wins; equal times conflict */
    MergeIn m = mi("b", "c", "a", "a", 3, A, A, MERGE_PREFER_NEWEST);
    m.modified[0] = 2000;
    m.modified[1] = 1000;
    CHECK_STR(decide(m), "R");
    m.modified[1] = 2000;
    CHECK_STR(decide(m), "C");
    /* a value map without an entry gives nothing to write */
    m = mi("b", "a", "a", "a", 3, A, A, none);
    m.give[1].t = VT_NONE;
    CHECK_STR(decide(m), "");
}

/* -------------------------------------------------------------- the VM */

static const char *vm_rules =
    "use testsys\n"
    "source c = crm {}\n"
    "source m = mkt {}\n"
    "sync people: c.person <-> m.contact {\n"
    "    match email = email\n"
    "    map last <-> last\n"
    "    map first <-> first if blank\n"
    "    prefer c\n"
    "    from m select when tagged \"push\"\n"
    "    on create in m: tag \"from-crm\"\n"
    "}\n"
    "sync owners: c.person -> m.contact {\n"
    "    after people\n"
    "    match email = email\n"
    "    map manager_id -> client via people\n"
    "}\n";

static int link_found(void *ctx, uint32_t sync, int from, Value id, Value *out) {
    (void)ctx; (void)sync; (void)from;
    if (id.t == VT_STR && id.len == 2 && memcmp(id.u.s, "P1", 2) == 0) { *out = v_str("M1", 2); return 1; }
    return 0;
}

static void test_vm(void) {
    Program *p = compile_text(vm_rules);
    CHECK(p != NULL);
    if (!p) return;
    CHECK(p->nsyncs == 2);
    CHECK(strcmp(program_str(p, p->syncs[0].name), "people") == 0);
    Vm *vm = vm_new(p);
    ActionBuf out;
    actbuf_init(&out);
    const PObject *person = &p->objects[p->syncs[0].side[0].object];
    const PObject *contact = &p->objects[p->syncs[0].side[1].object];
    Value cf[64], mf[64];
    for (int i = 0; i < 64; i++) cf[i] = mf[i] = v_null();
    int c_email = -1, c_last = -1, m_email = -1, m_last = -1;
    for (uint32_t i = 0; i < person->nfields; i++) {
        const char *n = program_str(p, p->fields[person->first_field + i].name);
        if (!strcmp(n, "email")) c_email = (int)i;
        if (!strcmp(n, "last")) c_last = (int)i;
    }
    for (uint32_t i = 0; i < contact->nfields; i++) {
        const char *n = program_str(p, p->fields[contact->first_field + i].name);
        if (!strcmp(n, "email")) m_email = (int)i;
        if (!strcmp(n, "last")) m_last = (int)i;
    }
    CHECK(c_email >= 0 && c_last >= 0 && m_email >= 0 && m_last >= 0);
    cf[c_email] = v_str(" Ann@X.io ", 10);
    cf[c_last] = v_str("Lee", 3);
    mf[m_email] = v_str("ann@x.io", 8);
    mf[m_last] = v_str("Li", 2);
    uint64_t tags = 0;
    VmRec c = {cf, person->nfields, NULL, "P1", 2, INT64_MIN, 0};
    VmRec mrec = {mf, contact->nfields, &tags, "M1", 2, INT64_MIN, 0};
    VmRun run;
    memset(&run, 0, sizeof run);
    run.sync = 0;
    run.rec[0] = &c;
    run.rec[1] = &mrec;
    run.out = &out;
    Value r;

    /* match keys are trimmed and case-folded */
    CHECK(vm_run(vm, &run, EP_KEY_L, &r) == VM_OK);
    CHECK(r.t == VT_STR && r.len == 8 && memcmp(r.u.s, "ann@x.io", 8) == 0);

    /* selection by tag: the bit set over the program's tags */
    CHECK(vm_run(vm, &run, EP_SELECT_R, &r) == VM_OK && r.t == VT_BOOL && !r.u.b);
    tags = 1; /* "push" is the program's first tag */
    CHECK(strcmp(program_str(p, p->tags[0]), "push") == 0);
    CHECK(vm_run(vm, &run, EP_SELECT_R, &r) == VM_OK && r.t == VT_BOOL && r.u.b);

    /* update against a base: the left changed, so the right is written */
    Value base_l[8], base_r[8];
    for (int i = 0; i < 8; i++) base_l[i] = base_r[i] = v_null();
    base_l[0] = v_str("Li", 2);
    base_r[0] = v_str("Li", 2);
    run.base[0] = base_l;
    run.base[1] = base_r;
    out.n = 0;
    CHECK(vm_run(vm, &run, EP_UPDATE, &r) == VM_OK);
    /* the set, then each map's new base: last is "Lee" on both ends */
    CHECK(out.n == 3);
    CHECK(out.v[0].kind == ACT_SET && out.v[0].side == 1 && out.v[0].field == m_last);
    CHECK(value_equal(out.v[0].value, v_str("Lee", 3)) && value_equal(out.v[0].other, v_str("Li", 2)));
    CHECK(p->lines[out.v[0].pc] == 6);
    CHECK(out.v[1].kind == ACT_BASE && out.v[1].arg == 0);
    CHECK(value_equal(out.v[1].value, v_str("Lee", 3)) && value_equal(out.v[1].other, v_str("Lee", 3)));

    /* create on the right from the left record, then its event */
    run.rec[1] = NULL;
    run.base[0] = run.base[1] = NULL;
    out.n = 0;
    CHECK(vm_run(vm, &run, EP_CREATE_R, &r) == VM_OK);
    int set_email = 0;
    for (size_t i = 0; i < out.n; i++)
        if (out.v[i].kind == ACT_SET && out.v[i].field == m_email) set_email = 1;
    CHECK(set_email);
    uint32_t n;
    const Value *created = vm_created(vm, 1, &n);
    CHECK(n >= contact->nfields && value_equal(created[m_last], v_str("Lee", 3)));
    out.n = 0;
    CHECK(vm_run(vm, &run, EP_ON_CREATE_R, &r) == VM_OK);
    CHECK(out.n == 1 && out.v[0].kind == ACT_TAG && strcmp(program_str(p, p->tags[out.v[0].arg]), "from-crm") == 0);

    /* a required field missing: the create is skipped with a reason */
    cf[c_last] = v_null();
    run.rec[0] = NULL;
    run.rec[1] = &mrec;
    mf[m_last] = v_null();
    out.n = 0;
    CHECK(vm_run(vm, &run, EP_CREATE_L, &r) == VM_SKIP);
    CHECK(out.n >= 1 && out.v[out.n - 1].kind == ACT_SKIP && strstr(out.v[out.n - 1].msg, "required field last"));

    /* via: translated through the host's links, or the record waits */
    int c_owner = -1;
    for (uint32_t i = 0; i < person->nfields; i++)
        if (!strcmp(program_str(p, p->fields[person->first_field + i].name), "manager_id")) c_owner = (int)i;
    cf[c_owner] = v_str("P1", 2);
    run.sync = 1;
    run.rec[0] = &c;
    run.rec[1] = NULL;
    run.link = link_found;
    out.n = 0;
    CHECK(vm_run(vm, &run, EP_CREATE_R, &r) == VM_OK);
    int found = 0;
    for (size_t i = 0; i < out.n; i++)
        if (out.v[i].kind == ACT_SET && value_equal(out.v[i].value, v_str("M1", 2))) found = 1;
    CHECK(found);
    cf[c_owner] = v_str("P2", 2);
    out.n = 0;
    CHECK(vm_run(vm, &run, EP_CREATE_R, &r) == VM_WAIT);
    CHECK(out.n >= 1 && out.v[out.n - 1].kind == ACT_WAIT);

    /* an entry the sync does not have returns at once */
    CHECK(vm_run(vm, &run, EP_ON_REMOVE, &r) == VM_OK && r.t == VT_NULL);

    actbuf_free(&out);
    vm_free(vm);
    program_free(p);
}

/* ------------------------------------------------------ program files */

static uint32_t fnv(const unsigned char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
    return h;
}

static void resign(unsigned char *d, size_t n) {
    uint32_t h = fnv(d + 20, n - 20);
    for (int i = 0; i < 4; i++) d[16 + i] = (unsigned char)(h >> (8 * i));
}

static void test_program_file(void) {
    char *text = read_file("rules/activecampaign-salesforce.sync", NULL);
    CHECK(text != NULL);
    if (!text) return;
    const char *dirs[2] = {"stdlib", NULL};
    Unit *u = unit_new(dirs);
    unit_load_file(u, "rules/activecampaign-salesforce.sync");
    check_unit(u);
    Program *p = compile_unit(u);
    unit_free(u);
    free(text);
    CHECK(p != NULL);
    if (!p) return;
    Buf a, b, ea, eb, err;
    buf_init(&a);
    buf_init(&b);
    buf_init(&ea);
    buf_init(&eb);
    buf_init(&err);
    program_save(p, &a);
    Program *q = program_load((const unsigned char *)a.p, a.n, &err);
    CHECK(q != NULL);
    if (q) {
        program_save(q, &b);
        CHECK(a.n == b.n && memcmp(a.p, b.p, a.n) == 0);
        program_explain(p, &ea, 1);
        program_explain(q, &eb, 1);
        CHECK(strcmp(buf_str(&ea), buf_str(&eb)) == 0);
        program_free(q);
    }
    /* Every truncation is refused, with a message. */
    int all_refused = 1;
    for (size_t n = 0; n < a.n; n += (n < 64 ? 1 : 97)) {
        err.n = 0;
        Program *t = program_load((const unsigned char *)a.p, n, &err);
        if (t || err.n == 0) { all_refused = 0; program_free(t); }
    }
    CHECK(all_refused);
    /* Any changed byte is caught (by the checksum or the checks). */
    unsigned char *d = malloc(a.n);
    int caught = 1;
    for (size_t i = 0; i < a.n; i += 13) {
        memcpy(d, a.p, a.n);
        d[i] ^= 0x5A;
        err.n = 0;
        Program *t = program_load(d, a.n, &err);
        if (t) { caught = 0; program_free(t); }
    }
    CHECK(caught);
    /* A file whose checksum is right but whose code is wrong: the
     * operand checks refuse it.  The last instruction is a Halt/Return;
     * point its register at one the sync does not have. */
    memcpy(d, a.p, a.n);
    err.n = 0;
    const char *marker = "TNDMBC";
    CHECK(memcmp(d, marker, 6) == 0);
    uint32_t ncode = p->ncode;
    /* code starts after many tables; find it by scanning for the encoded
     * first instruction is fragile, so rebuild: change the program in
     * memory and save it, then sign it. */
    p->code[0].a = 60000;
    Buf c;
    buf_init(&c);
    program_save(p, &c);
    Program *t = program_load((const unsigned char *)c.p, c.n, &err);
    CHECK(t == NULL && strstr(buf_str(&err), "register"));
    program_free(t);
    p->code[0].a = 0;
    /* A wrong version is named. */
    memcpy(d, a.p, a.n);
    d[8] = 9;
    resign(d, a.n);
    err.n = 0;
    CHECK(program_load(d, a.n, &err) == NULL && strstr(buf_str(&err), "version 9"));
    /* A jump out of its sync. */
    for (uint32_t i = 0; i < ncode; i++) {
        if (p->code[i].op == OP_JMP) {
            uint16_t save = p->code[i].c;
            p->code[i].c = 0x7FFF;
            c.n = 0;
            program_save(p, &c);
            err.n = 0;
            t = program_load((const unsigned char *)c.p, c.n, &err);
            CHECK(t == NULL && strstr(buf_str(&err), "jumps"));
            program_free(t);
            p->code[i].c = save;
            break;
        }
    }
    buf_free(&c);
    free(d);
    buf_free(&a);
    buf_free(&b);
    buf_free(&ea);
    buf_free(&eb);
    buf_free(&err);
    program_free(p);
}

void test_vm_all(void) {
    test_merge();
    test_vm();
    test_program_file();
}
