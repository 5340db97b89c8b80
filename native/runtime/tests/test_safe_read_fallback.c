/* bpftime_safe_read (runtime/helpers.c, behind bpf_probe_read_*) where
 * process_vm_readv is refused, as a container's seccomp policy may refuse
 * it (ENOSYS or EPERM): the read falls back to the pipe probe and still
 * copies readable memory and refuses an unmapped page. Each test runs in its
 * own child process, so the seccomp filter installed here ends with it. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/bpftime_runtime.h"
#include "test/harness.h"

/* The environment probe: this kernel lets a process install a seccomp
 * filter (decided by asking for the current mode, not by the code tested). */
static int seccomp_available(void)
{
    return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0;
}

/* From now on process_vm_readv fails with `err` in this process. */
static int refuse_process_vm_readv(int err)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((uint32_t)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -errno;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0 ? 0 : -errno;
}

static void reads_through_the_pipe_probe(struct test_ctx *t, int err)
{
    CHECK_EQ(refuse_process_vm_readv(err), 0);
    errno = 0;
    CHECK_EQ(syscall(SYS_process_vm_readv, getpid(), NULL, 0, NULL, 0, 0), -1);
    CHECK_EQ(errno, err);

    /* 3 pages of readable memory, then one that is not */
    long page = sysconf(_SC_PAGESIZE);
    uint8_t *m =
        mmap(NULL, (size_t)page * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    CHECK_EQ(mprotect(m + 3 * page, (size_t)page, PROT_NONE), 0);
    for (long i = 0; i < 3 * page; i++)
        m[i] = (uint8_t)(i * 7 + 1);
    static uint8_t dst[4 * 4096];
    /* more than one pipe write (4096 bytes each) */
    CHECK_EQ(bpftime_safe_read(dst, m + 5, (uint64_t)(3 * page - 5)), 0);
    CHECK(memcmp(dst, m + 5, (size_t)(3 * page - 5)) == 0);
    /* the unmapped page, alone or after readable bytes: refused, zeroed */
    memset(dst, 0xaa, sizeof dst);
    CHECK_EQ(bpftime_safe_read(dst, m + 3 * page, 8), -EFAULT);
    CHECK_EQ(dst[0], 0);
    CHECK_EQ(dst[7], 0);
    memset(dst, 0xaa, sizeof dst);
    CHECK_EQ(bpftime_safe_read(dst, m + 3 * page - 4, 8), -EFAULT);
    CHECK_EQ(dst[0], 0);
    /* still served after a refusal */
    CHECK_EQ(bpftime_safe_read(dst, m + 100, 16), 0);
    CHECK(memcmp(dst, m + 100, 16) == 0);
    munmap(m, (size_t)page * 4);
}

TEST_IF(safe_read_falls_back_when_process_vm_readv_is_enosys, seccomp_available(),
        "this kernel has no seccomp filters")
{
    reads_through_the_pipe_probe(t, ENOSYS);
}

TEST_IF(safe_read_falls_back_when_process_vm_readv_is_eperm, seccomp_available(),
        "this kernel has no seccomp filters")
{
    reads_through_the_pipe_probe(t, EPERM);
}
