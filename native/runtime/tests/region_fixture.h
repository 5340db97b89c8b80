/* What the runtime's C tests share: a private region per test and the
 * smallest valid program. */
#ifndef BPFTIME_RUNTIME_TESTS_REGION_FIXTURE_H
#define BPFTIME_RUNTIME_TESTS_REGION_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"

/* A region named "<prefix>-<tag>-<pid>" of `size` bytes, already unlinked:
 * the mapping lives as long as the test, and nothing is left in /dev/shm
 * even when the test crashes. NULL when it cannot be created. */
static inline struct bpftime_region *test_region(const char *prefix, const char *tag, size_t size)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%s-%d", prefix, tag, (int)getpid());
    struct bpftime_region *r = NULL;
    if (bpftime_region_create(name, size, &r) != 0)
        return NULL;
    bpftime_region_remove(name);
    return r;
}

/* Defines `mk(tag)`, the region maker a test file uses. */
#define TEST_REGION_MAKER(prefix, size) \
    static struct bpftime_region *mk(const char *tag) \
    { \
        return test_region(prefix, tag, size); \
    }

/* r0 = 0; exit */
static const uint64_t trivial_prog[] = {
    0x00000000000000b7ull,
    0x0000000000000095ull,
};

#endif
