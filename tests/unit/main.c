/* main.c - runs every C unit test group. */
#include "unit_test.h"

int unit_passed, unit_failed;

int main(void) {
    test_front();
    test_vm_all();
    test_codec_all();
    test_store_all();
    test_replay_all();
    test_arena_all();
    test_spill_all();
    printf("%d passed, %d failed\n", unit_passed, unit_failed);
    return unit_failed ? 1 : 0;
}
