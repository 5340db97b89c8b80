/* Test runs of a stored program on given bytes, like the kernel's
 * BPF_PROG_TEST_RUN: `bpftime run FILE.o --data in.bin` and
 * `bpftime run --shm NAME ID`. The context is built as each program type's
 * native layout expects (see src/verifier/contexts.ts, the context rewrite
 * plan): one 64-bit slot per kernel field, packet fields as real pointers.
 * The loop and the clock are in C so --repeat measures the runs alone.
 *
 * The clock is this thread's CPU time: the kernel's BPF_PROG_TEST_RUN stops
 * its timer while the task is rescheduled (bpf_test_timer_continue), so on
 * a loaded machine a wall clock would charge bpftime alone for the time
 * other processes ran (benchmarks compare the two, bench/maps*). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "runtime/bpftime_runtime.h"
#include "vm/ebpf_vm.h"

#define FLAT_CTX_MIN 512

BPFTIME_API int bpftime_prog_test_run(struct bpftime_region *r, uint32_t prog_id, int use_jit,
                                      void *data, uint32_t data_len, uint64_t repeat, uint64_t *ret,
                                      uint64_t *total_ns);

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bpftime_prog_test_run(struct bpftime_region *r, uint32_t prog_id, int use_jit, void *data,
                          uint32_t data_len, uint64_t repeat, uint64_t *ret, uint64_t *total_ns)
{
    struct bpftime_prog_info info;
    int rc = bpftime_prog_get(r, prog_id, &info);
    if (rc < 0)
        return rc;
    struct ebpf_vm *vm;
    rc = bpftime_prog_load_vm(r, prog_id, &vm);
    if (rc < 0)
        return rc;
    uint64_t ctx[21] = {0};          /* large enough for every native context below */
    static const char get[] = "GET"; /* the nginx URL filter's method */
    uint8_t *flat = NULL;
    void *mem;
    size_t mem_len;
    uintptr_t start = (uintptr_t)data, end = start + data_len;
    switch (info.type) {
    case BPFTIME_PROG_XDP: /* data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex */
        ctx[0] = start;
        ctx[1] = end;
        ctx[2] = start;
        ctx[3] = 1; /* the loopback interface, as bpftool prog run reports */
        mem = ctx;
        mem_len = 6 * 8;
        break;
    case BPFTIME_PROG_SOCKET_FILTER:
    case BPFTIME_PROG_SCHED_CLS: /* __sk_buff subset: len ... data (19), data_end (20) */
        ctx[0] = data_len;
        ctx[19] = start;
        ctx[20] = end;
        mem = ctx;
        mem_len = 21 * 8;
        break;
    case BPFTIME_PROG_NGINX_URL_FILTER: /* the data is the URL; method GET; empty argument */
    {
        ctx[0] = start;
        ctx[1] = end;
        ctx[2] = (uintptr_t)get;
        ctx[3] = (uintptr_t)get + 3;
        ctx[4] = ctx[5] = end;
        mem = ctx;
        mem_len = 6 * 8;
        break;
    }
    default:
        /* pt_regs, tracepoint records and raw programs: r1 = the data bytes
         * themselves, in a zeroed buffer at least as large as the largest
         * such context the verifier lets a program read (512 bytes), so a
         * short --data can never make JIT code read past its allocation. */
        flat = calloc(1, data_len > FLAT_CTX_MIN ? data_len : FLAT_CTX_MIN);
        if (!flat) {
            bpftime_prog_unload_vm(r, prog_id);
            return bpftime_set_error(-ENOMEM, "test run of program %u: out of memory", prog_id);
        }
        if (data_len)
            memcpy(flat, data, data_len);
        mem = flat;
        mem_len =
            data_len > FLAT_CTX_MIN ? data_len : FLAT_CTX_MIN; /* both engines see the padding */
        break;
    }
    /* the interpreter reads only memory it was given: the data behind the
     * context's pointers, and the nginx filter's method string */
    if ((data_len && mem == ctx && ebpf_vm_add_region(vm, data, data_len, true) < 0) ||
        (info.type == BPFTIME_PROG_NGINX_URL_FILTER &&
         ebpf_vm_add_region(vm, get, sizeof get - 1, false) < 0)) {
        bpftime_prog_unload_vm(r, prog_id);
        free(flat);
        return -ENOMEM;
    }
    if (repeat == 0)
        repeat = 1;
    uint64_t result = 0, t0, t1;
    if (use_jit) {
        ebpf_jit_fn fn;
        rc = ebpf_vm_compile(vm, &fn);
        if (rc < 0) {
            bpftime_prog_unload_vm(r, prog_id);
            free(flat);
            return rc;
        }
        t0 = now_ns();
        for (uint64_t i = 0; i < repeat; i++)
            result = fn(mem, mem_len);
        t1 = now_ns();
    } else {
        t0 = now_ns();
        for (uint64_t i = 0; i < repeat && rc == 0; i++)
            rc = ebpf_vm_exec(vm, mem, mem_len, &result);
        t1 = now_ns();
        if (rc < 0) {
            bpftime_prog_unload_vm(r, prog_id);
            free(flat);
            return rc;
        }
    }
    bpftime_prog_unload_vm(r, prog_id);
    if (flat && data_len)
        memcpy(data, flat, data_len); /* --data-out sees the writes */
    free(flat);
    *ret = result;
    *total_ns = t1 - t0;
    return 0;
}
