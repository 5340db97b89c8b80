/* Patcher micro-benchmark: ns per call of an empty noinline function with no
 * hook, with an on_enter hook (empty callback), with on_leave, and with both,
 * then the same with the vector registers saved around the callbacks,
 * measured side by side in one run (minimum over short rounds). Not part of
 * `make test`: it measures, it does not assert timings.
 *
 * Build and run from the repository root (self-contained: only the patcher
 * and the logger are compiled in):
 *
 *   mkdir -p bench/build/uprobe && cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra
 *       -Inative -Inative/include $(pkg-config --cflags capstone) -o bench/build/uprobe/patcher_bench
 *       bench/uprobe/patcher_bench.c native/patcher/[a-z]*.c native/common/log.c
 *       $(pkg-config --libs capstone) -lpthread -ldl && bench/build/uprobe/patcher_bench
 *   (one command line)
 *
 *   patcher_bench [calls]   (default 10000000 per row) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "patcher/patcher.h"


__attribute__((noinline)) long bench_empty(long x) {
    __asm__ volatile("" ::: "memory");
    return x;
}
static long (*volatile target)(long) = bench_empty;

/* Empty callbacks that promise to touch no vector register
 * (BPFTIME_HOOK_F_GPR_ONLY rows: nothing saved around them, as for a uprobe
 * program that calls no helper); the other rows save the vector registers
 * around them, as for any C callback. */
BPFTIME_GPR_ONLY_BEGIN
static int empty_enter(struct bpftime_hook_regs *r, void *u) {
    (void)r;
    (void)u;
    return BPFTIME_HOOK_CONTINUE;
}
static void empty_leave(struct bpftime_hook_regs *r, void *u) {
    (void)r;
    (void)u;
}
BPFTIME_GPR_ONLY_END

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Minimum ns/call over rounds of 10000 calls (n calls in all): on a shared
 * machine a short round often runs undisturbed. */
static double measure(long n) {
    double best = 1e30;
    long per = 10000;
    for (long done = 0; done < n; done += per) {
        long sum = 0;
        double t0 = now_ns();
        for (long i = 0; i < per; i++) sum += target(i);
        double dt = (now_ns() - t0) / (double)per;
        if (sum != per * (per - 1) / 2) {
            fprintf(stderr, "wrong result\n");
            exit(1);
        }
        if (dt < best) best = dt;
    }
    return best;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    static const struct {
        const char *name;
        struct bpftime_hook_callbacks cb;
        unsigned flags;
    } variants[] = {
        {"on_enter", {empty_enter, NULL}, BPFTIME_HOOK_F_GPR_ONLY},
        {"on_leave", {NULL, empty_leave}, BPFTIME_HOOK_F_GPR_ONLY},
        {"on_enter+on_leave", {empty_enter, empty_leave}, BPFTIME_HOOK_F_GPR_ONLY},
        {"on_enter, vectors saved", {empty_enter, NULL}, 0},
        {"on_leave, vectors saved", {NULL, empty_leave}, 0},
    };
    measure(n / 10); /* warm up */
    double base = measure(n);
    printf("patcher: empty noinline function, %ld calls, minimum over rounds of 10000\n", n);
    printf("%-24s %10s %14s\n", "hook", "ns/call", "added ns/call");
    printf("%-24s %10.2f %14s\n", "none", base, "-");
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        struct bpftime_hook *h = NULL;
        struct bpftime_hook_site site = {.addr = (void *)bench_empty, .flags = variants[i].flags};
        int rc = bpftime_hook_attach_site(&site, &variants[i].cb, NULL, &h);
        if (rc) {
            fprintf(stderr, "attach: %s (%d)\n", bpftime_last_error_message(), rc);
            return 1;
        }
        double t = measure(n);
        bpftime_hook_detach(h);
        printf("%-24s %10.2f %14.2f\n", variants[i].name, t, t - base);
    }
    double after = measure(n);
    printf("%-24s %10.2f %14s\n", "none (after detach)", after, "-");
    return 0;
}
