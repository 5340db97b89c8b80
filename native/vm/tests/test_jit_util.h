/* Shared by the JIT tests: the program builder (prog_builder.h), helpers, and a runner
 * that executes one program on the interpreter and on the JIT and hands back
 * both results. Set BPFTIME_JIT_DUMP=1 to print the machine code (capstone)
 * of a program whose results differ. */
#ifndef BPFTIME_TEST_JIT_UTIL_H
#define BPFTIME_TEST_JIT_UTIL_H

#include <capstone/capstone.h>
#include <errno.h>
#include <stdlib.h>

#include "test/harness.h"
#include "vm/tests/prog_builder.h"
#include "vm/vm_internal.h"
#include "vm/x86_emit.h"

/* helpers registered in every test VM (ids 1..4) */
static uint64_t jt_helper_mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    return (a * 0x9e3779b97f4a7c15ULL) ^ (b + 0x1234567) ^ (c << 7) ^ (d >> 3) ^ (e * 31);
}
static uint64_t jt_helper_sum(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    return a + b + c + d + e;
}
static uint64_t jt_helper_const(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)a, (void)b, (void)c, (void)d, (void)e;
    return 0x0123456789abcdefULL;
}

/* 0 when the JIT called it with rsp 16-byte aligned, as the ABI requires
 * (the frame address is rsp after `push rbp`) */
static __attribute__((noinline)) uint64_t jt_helper_misalign(uint64_t a, uint64_t b, uint64_t c,
                                                             uint64_t d, uint64_t e)
{
    (void)a, (void)b, (void)c, (void)d, (void)e;
    return (uintptr_t)__builtin_frame_address(0) & 15;
}

static struct ebpf_vm *jt_vm(const struct prog *p, char *err, size_t errlen)
{
    struct ebpf_vm *vm = ebpf_vm_create();
    if (!vm) {
        snprintf(err, errlen, "create failed");
        return NULL;
    }
    ebpf_vm_register_helper(vm, 1, "mix", jt_helper_mix);
    ebpf_vm_register_helper(vm, 2, "sum", jt_helper_sum);
    ebpf_vm_register_helper(vm, 3, "const", jt_helper_const);
    ebpf_vm_register_helper(vm, 4, "misalign", jt_helper_misalign);
    int rc = ebpf_vm_load(vm, p->v, p->n * sizeof *p->v);
    if (rc) {
        snprintf(err, errlen, "load failed: %d %s", rc, ebpf_vm_error(vm));
        ebpf_vm_destroy(vm);
        return NULL;
    }
    return vm;
}

static void jt_dump(const struct ebpf_vm *vm)
{
    const char *e = getenv("BPFTIME_JIT_DUMP");
    if (!e || !*e || !vm->jit_code)
        return;
    csh h;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
        return;
    cs_insn *ins;
    size_t n = cs_disasm(h, vm->jit_code, vm->jit_size, 0, 0, &ins);
    for (size_t i = 0; i < n; i++)
        printf("  %5" PRIx64 ": %s %s\n", ins[i].address, ins[i].mnemonic, ins[i].op_str);
    if (n)
        cs_free(ins, n);
    cs_close(&h);
}

/* Loads p into a new VM (p starts over); on failure the test fails with
 * the reason and NULL comes back. */
static __attribute__((unused)) struct ebpf_vm *jt_load(struct test_ctx *t, struct prog *p)
{
    char err[256];
    struct ebpf_vm *vm = jt_vm(p, err, sizeof err);
    prog_free(p);
    if (!vm)
        test_fail(t, __FILE__, __LINE__, "%s", err);
    return vm;
}

/* Compiles vm; on failure says why in err and destroys vm. */
static int jt_compile(struct ebpf_vm *vm, unsigned opts, char *err, size_t errlen)
{
    int rc = ebpf_jit_x86_64_compile_opts(vm, opts);
    if (rc) {
        snprintf(err, errlen, "compile failed: %d %s", rc, ebpf_vm_error(vm));
        ebpf_vm_destroy(vm);
        return -1;
    }
    return 0;
}

struct jt_result {
    int rc_interp;
    uint64_t r_interp;
    uint64_t r_jit;
};

/* Runs p on both engines: mem_i for the interpreter, mem_j (same initial
 * contents) for the JIT. Returns 0, or -1 with err set if either failed. */
static int jt_run_both(const struct prog *p, unsigned opts, uint8_t *mem_i, uint8_t *mem_j,
                       size_t len, struct jt_result *res, char *err, size_t errlen)
{
    struct ebpf_vm *vm = jt_vm(p, err, errlen);
    if (!vm)
        return -1;
    res->rc_interp = ebpf_vm_exec(vm, mem_i, len, &res->r_interp);
    if (res->rc_interp) {
        snprintf(err, errlen, "interpreter failed: %d %s", res->rc_interp, ebpf_vm_error(vm));
        ebpf_vm_destroy(vm);
        return -1;
    }
    if (jt_compile(vm, opts, err, errlen))
        return -1;
    res->r_jit = vm->jit_entry(mem_j, len);
    if (res->r_jit != res->r_interp || memcmp(mem_i, mem_j, len) != 0)
        jt_dump(vm);
    ebpf_vm_destroy(vm);
    return 0;
}

/* Compiles and runs on the JIT only. */
static __attribute__((unused)) int jt_run_jit(const struct prog *p, unsigned opts, void *mem,
                                              size_t len, uint64_t *ret, char *err, size_t errlen)
{
    struct ebpf_vm *vm = jt_vm(p, err, errlen);
    if (!vm)
        return -1;
    if (jt_compile(vm, opts, err, errlen))
        return -1;
    *ret = vm->jit_entry(mem, len);
    ebpf_vm_destroy(vm);
    return 0;
}

/* First differing 8-byte word, or -1. */
static __attribute__((unused)) long jt_first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return (long)(i & ~(size_t)7);
    return -1;
}

#endif
