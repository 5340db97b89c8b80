/* State shared by the VM's files (API, interpreter, JIT); not a public header. */
#ifndef BPFTIME_VM_INTERNAL_H
#define BPFTIME_VM_INTERNAL_H

#include "common/error.h"
#include "vm/ebpf_vm.h"

#define EBPF_MAX_REGIONS 64

struct ebpf_inst {
    uint8_t opcode;
    uint8_t dst : 4;
    uint8_t src : 4;
    int16_t off;
    int32_t imm;
};
_Static_assert(sizeof(struct ebpf_inst) == 8, "eBPF instruction is 8 bytes");

struct ebpf_region {
    uintptr_t base;
    size_t len;
    bool writable;
};

struct ebpf_vm {
    struct ebpf_inst *insts; /* loaded code; lddw pseudo sources already resolved */
    uint32_t num_insts;

    ebpf_helper_fn helpers[EBPF_MAX_HELPERS];
    const char *helper_names[EBPF_MAX_HELPERS];

    ebpf_lddw_reloc_fn lddw_reloc;
    void *lddw_reloc_user;
    ebpf_bounds_check_fn bounds_check;
    void *bounds_check_user;
    ebpf_tail_call_fn tail_call;
    void *tail_call_user;
    ebpf_map_inline_fn map_inline; /* JIT: inline array lookups (optional) */
    void *map_inline_user;

    struct ebpf_region regions[EBPF_MAX_REGIONS];
    int num_regions;
    uint64_t budget;

    void *jit_code;   /* mmap'ed, read+exec after compile */
    size_t jit_size;  /* bytes of machine code */
    size_t jit_alloc; /* bytes mapped */
    ebpf_jit_fn jit_entry;
};

/* Implemented by validate.c: structural checks run by ebpf_vm_load before
 * lddw pseudo sources are resolved. Returns 0 or a negative code with
 * the error message naming the instruction index. */
int ebpf_vm_validate(struct ebpf_vm *vm, const struct ebpf_inst *insts, uint32_t num_insts);

/* Short objdump-like text of instruction idx ("ldxw r0, [r1+64]") for
 * error messages; always NUL-terminates buf. */
void ebpf_insn_format(const struct ebpf_inst *insts, uint32_t num_insts, uint32_t idx, char *buf,
                      size_t len);

/* Helper id that is not called directly: the interpreter (and the JIT) treat
 * a call to it as bpf_tail_call(ctx, map, index) through vm->tail_call. */
#define EBPF_HELPER_TAIL_CALL 12
#define EBPF_MAX_TAIL_CALLS 33

/* bpf_map_lookup_elem: the JIT inlines it for arrays (see ebpf_map_inline_fn) */
#define EBPF_HELPER_MAP_LOOKUP 1

/* Implemented by jit_x86_64.c: translate vm->insts into vm->jit_code. */
int ebpf_jit_x86_64_compile(struct ebpf_vm *vm);

#endif
