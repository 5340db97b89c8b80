/* What the runtime's C tests share: a private region per test and the
 * smallest valid program. */
#ifndef BPFTIME_RUNTIME_TESTS_REGION_FIXTURE_H
#define BPFTIME_RUNTIME_TESTS_REGION_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "test/harness.h"

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

/* The opening most map tests share: region "<prefix>-<tag>-<pid>" holding
 * one new map (flags 0, map_extra 0), its id in *id. When either cannot be
 * made the test fails and ends here (each test runs in its own child). */
static inline struct bpftime_region *test_region_with_map(struct test_ctx *t, const char *prefix,
                                                          size_t size, const char *tag,
                                                          const char *name, uint32_t type,
                                                          uint32_t key_size, uint32_t value_size,
                                                          uint32_t max_entries, int *id)
{
    struct bpftime_region *r = test_region(prefix, tag, size);
    *id = r ? bpftime_map_create(r, name, type, key_size, value_size, max_entries, 0, 0) : -1;
    if (*id <= 0) {
        test_fail(t, __FILE__, __LINE__, "cannot make region %s-%s with map %s (type %u): %s",
                  prefix, tag, name, type, r ? bpftime_last_error_message() : "no region");
        _exit(1);
    }
    return r;
}

/* Defines `mk(tag)`, the region maker a test file uses, and
 * `mk_with_map(t, tag, name, type, key_size, value_size, max_entries, &id)`. */
#define TEST_REGION_MAKER(prefix, size) \
    __attribute__((unused)) static struct bpftime_region *mk(const char *tag) \
    { \
        return test_region(prefix, tag, size); \
    } \
    __attribute__((unused)) static struct bpftime_region *mk_with_map( \
        struct test_ctx *t, const char *tag, const char *name, uint32_t type, uint32_t key_size, \
        uint32_t value_size, uint32_t max_entries, int *id) \
    { \
        return test_region_with_map(t, prefix, size, tag, name, type, key_size, value_size, \
                                    max_entries, id); \
    }

/* r0 = 0; exit */
static const uint64_t trivial_prog[] = {
    0x00000000000000b7ull,
    0x0000000000000095ull,
};

#endif
