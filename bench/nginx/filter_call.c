/* The nginx module's per-request call, alone: what bpftime adds to each
 * request, in CPU ns, without nginx, wrk and the loopback around it (their
 * noise is ±10% of a request; this call is ~1%).
 *
 *   filter_call REGION RINGBUF_MAP_ID CALLS
 *
 * Calls bpftime_ss_nginx_url_filter() as the module does for each request
 * (GET /aaaa/index.html) CALLS times and prints
 *   "bpftime_ns N native_ns M"
 * N: thread CPU ns per call; M: the same for the native module's check (a
 * prefix comparison through a call, bench/nginx/baseline). With
 * RINGBUF_MAP_ID > 0 a child process consumes that ringbuf the whole time,
 * as `bpftime events` does (waits in the futex when the ring is empty). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpftime_syscall_server.h"
#include "runtime/bpftime_runtime.h"

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The baseline module's check, kept out of line as a module handler is. */
__attribute__((noinline)) static int native_check(const char *url, size_t len, const char *prefix,
                                                  size_t plen)
{
    return len >= plen && memcmp(url, prefix, plen) == 0 ? 0 : 403;
}

static void consume(const char *region, uint32_t map_id)
{
    struct bpftime_region *r;
    if (bpftime_region_open(region, &r) < 0)
        _exit(1);
    char buf[512];
    uint32_t len;
    for (;;) {
        if (bpftime_ringbuf_poll(r, map_id, 1000) < 0)
            _exit(2);
        while (bpftime_ringbuf_read(r, map_id, buf, sizeof buf, &len, NULL) == 1) {}
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s REGION RINGBUF_MAP_ID CALLS\n", argv[0]);
        return 2;
    }
    uint32_t map_id = (uint32_t)atoi(argv[2]);
    long calls = atol(argv[3]);
    static const char url[] = "/aaaa/index.html";
    pid_t consumer = 0;
    if (map_id > 0 && (consumer = fork()) == 0)
        consume(argv[1], map_id);
    struct bpftime_ss *ss = bpftime_ss_open(argv[1]);
    if (!ss) {
        fprintf(stderr, "%s\n", bpftime_last_error_message());
        return 1;
    }
    int verdict = 0;
    for (int i = 0; i < 1000; i++) /* warm up: JIT, caches */
        verdict |= bpftime_ss_nginx_url_filter(ss, url, sizeof url - 1, "GET", 3);
    uint64_t t0 = cpu_ns();
    for (long i = 0; i < calls; i++)
        verdict |= bpftime_ss_nginx_url_filter(ss, url, sizeof url - 1, "GET", 3);
    uint64_t t1 = cpu_ns();
    for (long i = 0; i < calls; i++)
        verdict |= native_check(url, sizeof url - 1, "/aaaa", 5);
    uint64_t t2 = cpu_ns();
    if (consumer > 0) {
        kill(consumer, SIGKILL);
        waitpid(consumer, NULL, 0);
    }
    if (verdict != 0) {
        fprintf(stderr, "the filter refused %s (verdict %d)\n", url, verdict);
        return 1;
    }
    printf("bpftime_ns %.1f native_ns %.1f\n", (double)(t1 - t0) / (double)calls,
           (double)(t2 - t1) / (double)calls);
    bpftime_ss_close(ss);
    return 0;
}
