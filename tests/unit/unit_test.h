/* unit.h - a minimal harness for the C unit tests: CHECK records a pass or
 * a failure with its place; main() prints "N passed, N failed". */
#ifndef TD_UNIT_TEST_H
#define TD_UNIT_TEST_H

#include <stdio.h>
#include <string.h>

extern int unit_passed, unit_failed;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (cond) unit_passed++;                                                 \
        else { unit_failed++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *a_ = (a), *b_ = (b);                                         \
        if (a_ && b_ && strcmp(a_, b_) == 0) unit_passed++;                      \
        else { unit_failed++; printf("FAIL %s:%d: %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } \
    } while (0)

typedef struct Program Program;
/* The program of a rule text (name: where diagnostics say it is), or NULL
 * with them printed (rules.c). */
Program *unit_compile(const char *name, const char *text);

void test_front(void);
void test_vm_all(void);
void test_codec_all(void);
void test_store_all(void);
void test_replay_all(void);
void test_arena_all(void);
void test_spill_all(void);

#endif
