/* Shared by the patcher's multi-threaded tests: worker threads count their
 * calls of the hooked function in `calls` (and mismatching results in
 * `wrong`); the main thread waits for progress with wait_calls. */
#ifndef BPFTIME_PATCHER_TESTS_WORKER_CALLS_H
#define BPFTIME_PATCHER_TESTS_WORKER_CALLS_H
#include <stdatomic.h>
#include <time.h>

static atomic_long calls, wrong;

/* Lets the worker threads make n more calls (they may need our CPU). */
static void wait_calls(long n)
{
    long c = atomic_load(&calls);
    while (atomic_load(&calls) < c + n) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}
#endif
