/* Repeated runs for `bpftime run --repeat N` and benchmarks: the loop and
 * the clock live in C so the measured time is the runs alone, as
 * `bpftool prog run` measures them (no FFI crossing per run). */
#include <errno.h>
#include <time.h>

#include "vm/ebpf_vm.h"

BPFTIME_API int ebpf_vm_run_repeat(struct ebpf_vm *vm, int use_jit, void *mem, size_t mem_len,
                                   uint64_t repeat, uint64_t *ret, uint64_t *total_ns);

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ebpf_vm_run_repeat(struct ebpf_vm *vm, int use_jit, void *mem, size_t mem_len, uint64_t repeat,
                       uint64_t *ret, uint64_t *total_ns)
{
    if (repeat == 0)
        repeat = 1;
    uint64_t r = 0;
    if (use_jit) {
        ebpf_jit_fn fn;
        int err = ebpf_vm_compile(vm, &fn);
        if (err < 0)
            return err;
        uint64_t start = now_ns();
        for (uint64_t i = 0; i < repeat; i++)
            r = fn(mem, mem_len);
        *total_ns = now_ns() - start;
    } else {
        uint64_t start = now_ns();
        for (uint64_t i = 0; i < repeat; i++) {
            int err = ebpf_vm_exec(vm, mem, mem_len, &r);
            if (err < 0)
                return err;
        }
        *total_ns = now_ns() - start;
    }
    *ret = r;
    return 0;
}
