/* The VM object: creation, configuration, loading, and the JIT entry points.
 * The interpreter lives in interp.c, load-time validation in validate.c, the
 * x86-64 code generator in jit_x86_64.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vm/vm_internal.h"

/* Until jit_x86_64.c exists (or on builds without it) compile reports
 * "not supported" and callers fall back to the interpreter. */
__attribute__((weak)) int ebpf_jit_x86_64_compile(struct ebpf_vm *vm)
{
    (void)vm;
    return bpftime_set_error(-ENOTSUP, "JIT compiler not available in this build");
}

struct ebpf_vm *ebpf_vm_create(void)
{
    struct ebpf_vm *vm = calloc(1, sizeof *vm);
    if (!vm)
        return NULL;
    vm->budget = EBPF_DEFAULT_BUDGET;
    return vm;
}

static void free_jit(struct ebpf_vm *vm)
{
    if (vm->jit_code)
        munmap(vm->jit_code, vm->jit_alloc ? vm->jit_alloc : vm->jit_size);
    vm->jit_code = NULL;
    vm->jit_size = 0;
    vm->jit_alloc = 0;
    vm->jit_entry = NULL;
}

void ebpf_vm_destroy(struct ebpf_vm *vm)
{
    if (!vm)
        return;
    ebpf_vm_unload(vm);
    free(vm);
}

/* ubpf's shape, bpftime's storage: the calling thread's last error. */
const char *ebpf_vm_error(const struct ebpf_vm *vm)
{
    (void)vm;
    return bpftime_last_error_message();
}

int ebpf_vm_register_helper(struct ebpf_vm *vm, uint32_t id, const char *name, ebpf_helper_fn fn)
{
    if (id >= EBPF_MAX_HELPERS)
        return bpftime_set_error(-EINVAL, "helper id %u out of range (max %d)", id,
                                 EBPF_MAX_HELPERS - 1);
    if (!fn)
        return bpftime_set_error(-EINVAL, "helper %u (%s): NULL function", id, name ? name : "?");
    vm->helpers[id] = fn;
    vm->helper_names[id] = name;
    return 0;
}

/* Each callback an embedder may install comes with a user pointer that is
 * passed back to it: ebpf_vm_set_lddw_reloc, _bounds_check, _tail_call and
 * _map_inline (declared in ebpf_vm.h). */
#define CALLBACK_SETTER(field, fn_type) \
    void ebpf_vm_set_##field(struct ebpf_vm *vm, fn_type fn, void *user) \
    { \
        vm->field = fn; \
        vm->field##_user = user; \
    }
CALLBACK_SETTER(lddw_reloc, ebpf_lddw_reloc_fn)
CALLBACK_SETTER(bounds_check, ebpf_bounds_check_fn)
CALLBACK_SETTER(tail_call, ebpf_tail_call_fn)
CALLBACK_SETTER(map_inline, ebpf_map_inline_fn)
#undef CALLBACK_SETTER

int ebpf_vm_add_region(struct ebpf_vm *vm, const void *base, size_t len, bool writable)
{
    if (vm->num_regions >= EBPF_MAX_REGIONS)
        return bpftime_set_error(-ENOSPC, "memory region table full (%d regions)",
                                 EBPF_MAX_REGIONS);
    vm->regions[vm->num_regions++] = (struct ebpf_region){
        .base = (uintptr_t)base,
        .len = len,
        .writable = writable,
    };
    return 0;
}

void ebpf_vm_clear_regions(struct ebpf_vm *vm)
{
    vm->num_regions = 0;
}

void ebpf_vm_set_budget(struct ebpf_vm *vm, uint64_t max_insts)
{
    vm->budget = max_insts ? max_insts : EBPF_DEFAULT_BUDGET;
}

/* lddw with a pseudo source: ask the relocation callback for the value and
 * rewrite the pair into a plain 64-bit immediate load, so neither the
 * interpreter nor the JIT ever sees a pseudo source. Runs on validated code:
 * every lddw has its second half. */
static int resolve_lddw(struct ebpf_vm *vm, struct ebpf_inst *insts, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (insts[i].opcode != 0x18)
            continue;
        uint32_t src = insts[i].src;
        if (src != 0) {
            if (!vm->lddw_reloc)
                return bpftime_set_error(-EINVAL,
                                         "instruction %u: lddw with pseudo source %u but no "
                                         "relocation callback is set",
                                         i, src);
            bool ok = true;
            uint64_t v = vm->lddw_reloc(vm->lddw_reloc_user, src, (uint32_t)insts[i].imm,
                                        (uint32_t)insts[i + 1].imm, &ok);
            if (!ok)
                return bpftime_set_error(-ENOENT,
                                         "instruction %u: cannot resolve lddw pseudo source %u "
                                         "(imm %d, next imm %d)",
                                         i, src, insts[i].imm, insts[i + 1].imm);
            insts[i].src = 0;
            insts[i].imm = (int32_t)(uint32_t)v;
            insts[i + 1].imm = (int32_t)(uint32_t)(v >> 32);
        }
        i++; /* skip the second half */
    }
    return 0;
}

int ebpf_vm_load(struct ebpf_vm *vm, const void *code, size_t code_len)
{
    if (vm->insts)
        return bpftime_set_error(-EEXIST, "a program is already loaded (unload it first)");
    if (!code || code_len == 0)
        return bpftime_set_error(-EINVAL, "empty program");
    if (code_len % sizeof(struct ebpf_inst))
        return bpftime_set_error(
            -EINVAL, "code length %zu is not a multiple of 8 (instruction size)", code_len);
    size_t n = code_len / sizeof(struct ebpf_inst);
    if (n > EBPF_MAX_INSTS)
        return bpftime_set_error(-E2BIG, "program has %zu instructions (max %d)", n,
                                 EBPF_MAX_INSTS);

    struct ebpf_inst *insts = malloc(code_len);
    if (!insts)
        return bpftime_set_error(-ENOMEM, "out of memory copying %zu instructions", n);
    memcpy(insts, code, code_len);

    int rc = ebpf_vm_validate(vm, insts, (uint32_t)n);
    if (rc == 0)
        rc = resolve_lddw(vm, insts, (uint32_t)n);
    if (rc < 0) {
        free(insts);
        return rc;
    }
    vm->insts = insts;
    vm->num_insts = (uint32_t)n;
    return 0;
}

void ebpf_vm_unload(struct ebpf_vm *vm)
{
    free_jit(vm);
    free(vm->insts);
    vm->insts = NULL;
    vm->num_insts = 0;
}

size_t ebpf_vm_num_insts(const struct ebpf_vm *vm)
{
    return vm->num_insts;
}

int ebpf_vm_compile(struct ebpf_vm *vm, ebpf_jit_fn *out)
{
    if (vm->jit_entry) {
        if (out)
            *out = vm->jit_entry;
        return 0;
    }
    if (!vm->insts)
        return bpftime_set_error(-EINVAL, "compile: no program loaded");
    int rc = ebpf_jit_x86_64_compile(vm);
    if (rc < 0) {
        free_jit(vm);
        return rc;
    }
    if (!vm->jit_entry)
        vm->jit_entry = (ebpf_jit_fn)vm->jit_code;
    if (!vm->jit_entry)
        return bpftime_set_error(-EINVAL, "compile: JIT produced no code");
    if (out)
        *out = vm->jit_entry;
    return 0;
}

const void *ebpf_vm_jit_code(const struct ebpf_vm *vm)
{
    return vm->jit_code;
}

size_t ebpf_vm_jit_size(const struct ebpf_vm *vm)
{
    return vm->jit_size;
}
