/*
 * fuzz_check.h - CHECK(cond): a property a fuzz driver asserts beyond "no
 * crash": when it breaks, say which and abort, so libFuzzer keeps the
 * input as a crash.
 */
#ifndef MD_FUZZ_CHECK_H
#define MD_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
