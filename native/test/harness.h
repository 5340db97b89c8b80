/* Minimal C unit-test harness shared by every native/<component>/tests/test_*.c.
 *
 * Each TEST runs in its own forked child (a crash or hang fails that test,
 * not the whole binary). Output is one line per test:
 *     ok <binary>/<name>
 *     not ok <binary>/<name>: <file>:<line>: <message>
 * test/native.test.ts (bun) parses these lines, so one `bun test` count covers
 * the C tests too. `--list` prints the names; naming tests runs only those. */
#ifndef BPFTIME_TEST_HARNESS_H
#define BPFTIME_TEST_HARNESS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct test_ctx;
typedef void (*test_fn)(struct test_ctx *t);

void test_register(const char *name, test_fn fn);
void test_fail(struct test_ctx *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool test_failed(const struct test_ctx *t);

#define TEST(name) \
    static void test_##name(struct test_ctx *t); \
    __attribute__((constructor)) static void test_register_##name(void) \
    { \
        test_register(#name, test_##name); \
    } \
    static void test_##name(struct test_ctx *t)

/* A test that needs something of the environment (a CPU feature, say):
 * registered only when `probe` (an expression evaluated before any test
 * runs, independent of the code under test) is true; otherwise the binary
 * prints "skipped NAME: why" on stderr and the test does not exist. */
#define TEST_IF(name, probe, why) \
    static void test_##name(struct test_ctx *t); \
    __attribute__((constructor)) static void test_register_##name(void) \
    { \
        if (probe) \
            test_register(#name, test_##name); \
        else \
            fprintf(stderr, "skipped %s: %s\n", #name, why); \
    } \
    static void test_##name(struct test_ctx *t)

#define CHECK(cond) \
    do { \
        if (!(cond)) { \
            test_fail(t, __FILE__, __LINE__, "check failed: %s", #cond); \
            return; \
        } \
    } while (0)

#define CHECK_EQ(a, b) \
    do { \
        uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b); \
        if (check_a_ != check_b_) { \
            test_fail(t, __FILE__, __LINE__, "%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, #a, #b, \
                      check_a_, check_b_); \
            return; \
        } \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle) \
    do { \
        const char *check_h_ = (hay), *check_n_ = (needle); \
        if (!check_h_ || !strstr(check_h_, check_n_)) { \
            test_fail(t, __FILE__, __LINE__, "\"%s\" does not contain \"%s\"", \
                      check_h_ ? check_h_ : "(null)", check_n_); \
            return; \
        } \
    } while (0)

#endif
