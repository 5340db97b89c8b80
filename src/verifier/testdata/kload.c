/* Differential-testing helper: load one program into the kernel verifier.
 *
 * stdin (little endian): u32 prog_type, u32 nmaps, then per map
 * u32 type, key_size, value_size, max_entries, flags; then u32 ninsns and
 * the raw instructions (map references as BPF_PSEUDO_MAP_IDX[_VALUE], which
 * the kernel resolves through fd_array). Prints "OK" or "REJECT" on the
 * first line and the kernel verifier log after it. Exit 0 = answered,
 * 2 = could not ask (map creation failed, no permission...).
 *
 * `kload stats` asks for BPF_LOG_STATS instead of the full log: the kernel
 * then prints only errors and its statistics ("verification time N usec",
 * "processed N insns ..."), which bench/verifier compares with ours.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sys_bpf(int cmd, union bpf_attr *attr)
{
    return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int read_all(void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(0, (char *)buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int stats = argc > 1 && strcmp(argv[1], "stats") == 0;
    uint32_t hdr[2];
    if (read_all(hdr, sizeof(hdr)))
        return 2;
    uint32_t nmaps = hdr[1];
    int fds[64];
    if (nmaps > 64)
        return 2;
    for (uint32_t i = 0; i < nmaps; i++) {
        uint32_t m[5];
        if (read_all(m, sizeof(m)))
            return 2;
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.map_type = m[0];
        a.key_size = m[1];
        a.value_size = m[2];
        a.max_entries = m[3];
        a.map_flags = m[4];
        fds[i] = sys_bpf(BPF_MAP_CREATE, &a);
        if (fds[i] < 0) {
            printf("ERROR map %u create: %s\n", i, strerror(errno));
            return 2;
        }
    }
    uint32_t n;
    if (read_all(&n, sizeof(n)))
        return 2;
    struct bpf_insn *insns = calloc(n ? n : 1, sizeof(*insns));
    if (!insns || read_all(insns, n * sizeof(*insns)))
        return 2;
    static char log[1 << 24];
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.prog_type = hdr[0];
    a.insns = (uintptr_t)insns;
    a.insn_cnt = n;
    a.license = (uintptr_t) "GPL";
    a.log_buf = (uintptr_t)log;
    a.log_size = sizeof(log);
    a.log_level = stats ? 4 /* BPF_LOG_STATS */ : 1;
    a.fd_array = (uintptr_t)fds;
    int fd = sys_bpf(BPF_PROG_LOAD, &a);
    if (fd < 0 && errno == ENOSPC) {
        /* log too long: ask again for the verdict only */
        a.log_level = 0;
        a.log_buf = 0;
        a.log_size = 0;
        fd = sys_bpf(BPF_PROG_LOAD, &a);
    }
    if (fd >= 0) {
        printf("OK\n%s", log);
        return 0;
    }
    if (errno == EPERM) {
        printf("ERROR no permission\n");
        return 2;
    }
    printf("REJECT %s\n%s", strerror(errno), log);
    return 0;
}
