/* ebpf_vm_run_repeat() (`bpftime run --repeat N`, benchmarks): N runs on
 * the interpreter or the JIT, the last run's r0, or the error of a failing run. The
 * program counts its runs in mem, so the count is checked, not assumed. */
#include "test/harness.h"
#include "vm/tests/insn_macros.h"

BPFTIME_API int ebpf_vm_run_repeat(struct ebpf_vm *vm, int use_jit, void *mem, size_t mem_len,
                                   uint64_t repeat, uint64_t *ret, uint64_t *total_ns);

/* r0 = ++*(u64 *)mem */
static const struct ebpf_inst counter[] = {
    LDX(BPF_DW, 0, 1, 0),
    ALU64_IMM(BPF_ADD, 0, 1),
    STX(BPF_DW, 1, 0, 0),
    EXIT(),
};

static struct ebpf_vm *load(const struct ebpf_inst *code, size_t n)
{
    struct ebpf_vm *vm = ebpf_vm_create();
    if (vm && ebpf_vm_load(vm, code, n * sizeof *code) != 0) {
        ebpf_vm_destroy(vm);
        return NULL;
    }
    return vm;
}

static void runs_and_counts(struct test_ctx *t, int use_jit)
{
    struct ebpf_vm *vm = load(counter, sizeof counter / sizeof counter[0]);
    CHECK(vm != NULL);
    uint64_t mem = 0, ret = 0, ns = UINT64_MAX;
    CHECK_EQ(ebpf_vm_run_repeat(vm, use_jit, &mem, sizeof mem, 5, &ret, &ns), 0);
    CHECK_EQ(mem, 5);
    CHECK_EQ(ret, 5); /* the last run's r0 */
    CHECK(ns != UINT64_MAX);
    /* 0 runs means one run */
    mem = 40;
    CHECK_EQ(ebpf_vm_run_repeat(vm, use_jit, &mem, sizeof mem, 0, &ret, &ns), 0);
    CHECK_EQ(mem, 41);
    CHECK_EQ(ret, 41);
    ebpf_vm_destroy(vm);
}

TEST(interpreter_runs_n_times_and_returns_the_last_r0)
{
    runs_and_counts(t, 0);
}

TEST(jit_runs_n_times_and_returns_the_last_r0)
{
    runs_and_counts(t, 1);
}

TEST(a_run_error_is_returned_and_ret_left_alone)
{
    /* reads 8 bytes at mem + 8: outside the 8-byte mem */
    static const struct ebpf_inst oob[] = {LDX(BPF_DW, 0, 1, 8), EXIT()};
    struct ebpf_vm *vm = load(oob, 2);
    CHECK(vm != NULL);
    uint64_t mem = 0, ret = 77, ns = 0;
    int rc = ebpf_vm_run_repeat(vm, 0, &mem, sizeof mem, 3, &ret, &ns);
    CHECK(rc < 0);
    CHECK_EQ(ret, 77); /* not written on error */
    ebpf_vm_destroy(vm);
}
