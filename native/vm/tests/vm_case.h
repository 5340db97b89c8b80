/* Table-driven VM test cases: each VM_CASE is one row (program, input
 * memory, expected r0 / memory / error) and one harness test. run_case runs
 * the row on the interpreter and, when this build has a JIT (compile does
 * not return -ENOTSUP), on the JIT too, and compares both with the row.
 *
 *     VM_CASE(add64_k, .expect = 3, CODE(MOV64_IMM(0, 1), ALU64_IMM(BPF_ADD, 0, 2), EXIT()))
 */
#ifndef BPFTIME_VM_TESTS_VM_CASE_H
#define BPFTIME_VM_TESTS_VM_CASE_H

#include <errno.h>
#include <stdlib.h>

#include "test/harness.h"
#include "vm/tests/insn_macros.h"

#define CASE_MEM_MAX 512

struct vm_case {
    const char *name;
    const struct ebpf_inst *code;
    size_t n;
    const uint8_t *mem; /* initial contents of the memory passed as r1 (NULL: no memory) */
    size_t mem_len;
    uint64_t expect;           /* r0 on success */
    const uint8_t *expect_mem; /* memory after the run (mem_len bytes), optional */
    int load_err;              /* expected negative code from load (0: load succeeds) */
    int exec_err;              /* expected negative code from exec (0: success) */
    const char *err;           /* substring the error message must contain */
    uint64_t budget;
    bool interp_only; /* behaviour the JIT does not promise (e.g. bounds checks) */
};

#define CODE(...) \
    .code = (const struct ebpf_inst[]){__VA_ARGS__}, \
    .n = sizeof((const struct ebpf_inst[]){__VA_ARGS__}) / sizeof(struct ebpf_inst)
#define MEM(...) \
    .mem = (const uint8_t[]){__VA_ARGS__}, .mem_len = sizeof((const uint8_t[]){__VA_ARGS__})
#define EXPECT_MEM(...) \
    .expect_mem = (const uint8_t[]) \
    { \
        __VA_ARGS__ \
    }

#define VM_CASE(name_, ...) \
    static const struct vm_case case_##name_ = {.name = #name_, __VA_ARGS__}; \
    TEST(name_) \
    { \
        run_case(t, &case_##name_); \
    }

/* Helpers every case VM has. */
static uint64_t case_helper_sum5(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    return a + b + c + d + e;
}
static uint64_t case_helper_const(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)a, (void)b, (void)c, (void)d, (void)e;
    return 0xfeedf00dcafebeefULL;
}
/* Reads a u64 through a pointer the program passes (stack or mem). */
static uint64_t case_helper_deref(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)b, (void)c, (void)d, (void)e;
    uint64_t v;
    memcpy(&v, (const void *)(uintptr_t)a, sizeof v);
    return v;
}

#define CASE_HELPER_SUM5 1
#define CASE_HELPER_CONST 2
#define CASE_HELPER_DEREF 3

static inline struct ebpf_vm *case_vm(void)
{
    struct ebpf_vm *vm = ebpf_vm_create();
    if (!vm)
        abort();
    ebpf_vm_register_helper(vm, CASE_HELPER_SUM5, "sum5", case_helper_sum5);
    ebpf_vm_register_helper(vm, CASE_HELPER_CONST, "const", case_helper_const);
    ebpf_vm_register_helper(vm, CASE_HELPER_DEREF, "deref", case_helper_deref);
    return vm;
}

/* True if this build has a JIT able to compile the loaded program. */
static inline int case_try_compile(struct test_ctx *t, struct ebpf_vm *vm, ebpf_jit_fn *fn)
{
    int rc = ebpf_vm_compile(vm, fn);
    if (rc == -ENOTSUP)
        return 0;
    if (rc < 0) {
        test_fail(t, __FILE__, __LINE__, "JIT compile failed: %d %s", rc, ebpf_vm_error(vm));
        return -1;
    }
    return 1;
}

static __attribute__((unused)) void run_case(struct test_ctx *t, const struct vm_case *c)
{
    struct ebpf_vm *vm = case_vm();
    if (c->budget)
        ebpf_vm_set_budget(vm, c->budget);
    int rc = ebpf_vm_load(vm, c->code, c->n * sizeof(struct ebpf_inst));
    if (c->load_err) {
        CHECK_EQ((int64_t)rc, (int64_t)c->load_err);
        if (c->err)
            CHECK_STR_CONTAINS(ebpf_vm_error(vm), c->err);
        ebpf_vm_destroy(vm);
        return;
    }
    if (rc != 0) {
        test_fail(t, __FILE__, __LINE__, "%s: load failed: %d %s", c->name, rc, ebpf_vm_error(vm));
        return;
    }

    _Alignas(16) uint8_t mem[CASE_MEM_MAX];
    if (c->mem_len > sizeof mem) {
        test_fail(t, __FILE__, __LINE__, "case memory too large");
        return;
    }
    memset(mem, 0, sizeof mem);
    if (c->mem)
        memcpy(mem, c->mem, c->mem_len);
    void *m = c->mem ? mem : NULL;

    uint64_t ret = 0xbadbadbadULL;
    rc = ebpf_vm_exec(vm, m, c->mem_len, &ret);
    if (c->exec_err) {
        if (rc != c->exec_err) {
            test_fail(t, __FILE__, __LINE__,
                      "%s: interpreter returned %d (r0 0x%" PRIx64 ", error '%s'), expected %d",
                      c->name, rc, ret, ebpf_vm_error(vm), c->exec_err);
            return;
        }
        if (c->err)
            CHECK_STR_CONTAINS(ebpf_vm_error(vm), c->err);
    } else {
        if (rc != 0) {
            test_fail(t, __FILE__, __LINE__, "%s: interpreter failed: %d %s", c->name, rc,
                      ebpf_vm_error(vm));
            return;
        }
        if (ret != c->expect) {
            test_fail(t, __FILE__, __LINE__,
                      "%s: interpreter r0 0x%" PRIx64 ", expected 0x%" PRIx64, c->name, ret,
                      c->expect);
            return;
        }
        if (c->expect_mem && memcmp(mem, c->expect_mem, c->mem_len) != 0) {
            test_fail(t, __FILE__, __LINE__, "%s: interpreter memory differs from expected",
                      c->name);
            return;
        }
    }

    if (c->exec_err || c->interp_only) {
        ebpf_vm_destroy(vm);
        return;
    }
    ebpf_jit_fn fn = NULL;
    int have = case_try_compile(t, vm, &fn);
    if (have < 0)
        return;
    if (have) {
        memset(mem, 0, sizeof mem);
        if (c->mem)
            memcpy(mem, c->mem, c->mem_len);
        uint64_t jret = fn(m, c->mem_len);
        if (jret != c->expect) {
            test_fail(t, __FILE__, __LINE__, "%s: JIT r0 0x%" PRIx64 ", expected 0x%" PRIx64,
                      c->name, jret, c->expect);
            return;
        }
        if (c->expect_mem && memcmp(mem, c->expect_mem, c->mem_len) != 0) {
            test_fail(t, __FILE__, __LINE__, "%s: JIT memory differs from expected", c->name);
            return;
        }
    }
    ebpf_vm_destroy(vm);
}

#endif
