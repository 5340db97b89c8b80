/* Ringbuf throughput, one libbpf application for both sides: run directly it
 * measures the kernel's ringbuf, run under `bpftime load --` the syscall
 * server answers the same calls from the region (programs JIT-compiled in
 * this process and its children, the ring mapped from shared memory).
 *
 *   ringbuf_bench OBJ PRODUCERS RUNS
 *
 * Loads OBJ (ringbuf_bench.bpf.o), forks PRODUCERS processes that each run
 * the producer program RUNS times through one BPF_PROG_TEST_RUN (100
 * records per run), while this process consumes with ring_buffer__poll. Prints one
 * line: "records N lost L seconds S per_second R" where R counts records
 * consumed per second of wall time, from the producers' start to the last
 * record read. Records that find the ring full are dropped by the program
 * (lost = produced - consumed). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CALLS 100

static unsigned long long consumed;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_record(void *ctx, void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    consumed++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s OBJ PRODUCERS RUNS\n", argv[0]);
        return 2;
    }
    int producers = atoi(argv[2]);
    long runs = atol(argv[3]);
    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj || bpf_object__load(obj)) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 1;
    }
    int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "produce"));
    int map = bpf_map__fd(bpf_object__find_map_by_name(obj, "rb"));
    struct ring_buffer *ring = ring_buffer__new(map, on_record, NULL, NULL);
    if (prog < 0 || map < 0 || !ring) {
        fprintf(stderr, "cannot find the program, the map or make the ring buffer\n");
        return 1;
    }
    /* producers wait on a pipe so they all start together */
    int go[2];
    if (pipe(go))
        return 1;
    for (int p = 0; p < producers; p++) {
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) != 0)
                _exit(3);
            unsigned char pkt[64] = {0};
            /* all runs in one call: the per-call cost of BPF_PROG_TEST_RUN
             * (a syscall; under bpftime, preparing the program) stays out */
            LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof pkt,
                        .repeat = (unsigned)runs);
            _exit(bpf_prog_test_run_opts(prog, &o) ? 4 : 0);
        }
    }
    close(go[0]);
    double t0 = now();
    close(go[1]); /* go */
    int alive = producers;
    double last = t0;
    for (;;) {
        int n = ring_buffer__poll(ring, alive > 0 ? 100 : 0);
        if (n < 0) {
            fprintf(stderr, "ring_buffer__poll: %d\n", n);
            return 1;
        }
        if (n > 0)
            last = now();
        int st;
        while (alive > 0 && waitpid(-1, &st, WNOHANG) > 0) {
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "a producer failed (status %d)\n", st);
                return 1;
            }
            alive--;
        }
        if (alive == 0 && n == 0)
            break;
    }
    unsigned long long produced = (unsigned long long)producers * runs * CALLS;
    double s = last - t0;
    printf("records %llu lost %llu seconds %.3f per_second %.0f\n", consumed, produced - consumed,
           s, (double)consumed / s);
    ring_buffer__free(ring);
    bpf_object__close(obj);
    return 0;
}
