/* Map lookups from an application through bpf() (libbpf's
 * bpf_map_lookup_elem): run directly it measures the kernel's bpf()
 * syscall; run under `bpftime load --` the syscall server answers from the
 * region. Prints "TYPE ns_per_lookup" for a hash and an array map. */
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int bench(const char *name, enum bpf_map_type type, long n)
{
    int fd = bpf_map_create(type, name, 4, 8, 1024, NULL);
    if (fd < 0) {
        fprintf(stderr, "bpf_map_create %s: %d\n", name, fd);
        return 1;
    }
    for (unsigned k = 0; k < 1024; k++) {
        unsigned long long v = k * 3;
        if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
            fprintf(stderr, "update failed\n");
            return 1;
        }
    }
    unsigned long long v, sum = 0;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        unsigned k = (unsigned)i & 1023;
        if (bpf_map_lookup_elem(fd, &k, &v))
            return 1;
        sum += v;
    }
    double t1 = now();
    if (sum == 0)
        return 1;
    printf("%s %.1f\n", name, (t1 - t0) / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    return bench("hash", BPF_MAP_TYPE_HASH, n) || bench("array", BPF_MAP_TYPE_ARRAY, n);
}
