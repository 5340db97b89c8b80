/* getpid(2) in a loop: ns per call, best of ROUNDS rounds of N calls.
 *   syscall_bench [N]     prints "ns_per_call X"
 * Run plain, under `bpftime start` with syscall links, and beside a kernel
 * tracepoint program (bench/syscall/run.ts). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    double best = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            syscall(SYS_getpid);
        double per = (now_ns() - t0) / (double)n;
        if (per < best)
            best = per;
    }
    printf("ns_per_call %.1f\n", best);
    return 0;
}
