/* fuzz_load.c - libFuzzer target over the program loader.
 *
 * Any bytes: either the loader refuses them with a message, or what it
 * accepts can be explained and every entry point of every sync run with
 * no records and with empty ones, without a crash or a hang (the loader
 * only accepts forward jumps). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytecode.h"
#include "vm.h"

/* Most mutations break the checksum; signing them again lets the fuzzer
 * reach the loader's real checks (half of the time: the first byte decides). */
static uint8_t *resign(const uint8_t *data, size_t size) {
    uint8_t *d = malloc(size ? size : 1);
    memcpy(d, data, size);
    if (size >= 20 && (data[size - 1] & 1)) {
        memcpy(d, "TNDMBC\r\n", 8);
        for (int i = 0; i < 4; i++) d[12 + i] = (uint8_t)(size >> (8 * i));
        uint32_t h = 2166136261u;
        for (size_t i = 20; i < size; i++) { h ^= d[i]; h *= 16777619u; }
        for (int i = 0; i < 4; i++) d[16 + i] = (uint8_t)(h >> (8 * i));
    }
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *raw, size_t size) {
    uint8_t *data = resign(raw, size);
    Buf err;
    buf_init(&err);
    Program *p = program_load(data, size, &err);
    free(data);
    if (!p) {
        if (err.n == 0) abort(); /* a refusal always says why */
        buf_free(&err);
        return 0;
    }
    buf_free(&err);
    Buf b;
    buf_init(&b);
    program_explain(p, &b, 1);
    program_explain_json(p, &b);
    buf_free(&b);
    Vm *vm = vm_new(p);
    ActionBuf out;
    actbuf_init(&out);
    Value empty[64];
    for (int i = 0; i < 64; i++) empty[i] = v_null();
    /* Every tag set: the bit set must cover all of the program's tags. */
    size_t words = (p->ntags + 63) / 64 + 1;
    uint64_t *tags = malloc(words * sizeof *tags);
    if (!tags) abort();
    memset(tags, 0xff, words * sizeof *tags);
    VmRec rec = {empty, 64, tags, "1", 1, 0, 1};
    for (uint32_t s = 0; s < p->nsyncs; s++) {
        Value *base = calloc(p->syncs[s].nmaps + 1, sizeof *base);
        for (int with = 0; with < 2; with++) {
            VmRun run;
            memset(&run, 0, sizeof run);
            run.sync = s;
            run.rec[0] = run.rec[1] = with ? &rec : NULL;
            run.base[0] = run.base[1] = with ? base : NULL;
            run.out = &out;
            vm_next_record(vm);
            for (int e = 0; e < EP__COUNT; e++) {
                Value r;
                out.n = 0;
                vm_run(vm, &run, (Entry)e, &r);
            }
        }
        free(base);
    }
    free(tags);
    actbuf_free(&out);
    vm_free(vm);
    program_free(p);
    return 0;
}
