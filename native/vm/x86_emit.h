/* x86-64 JIT internals shared by jit_x86_64.c and its tests (not a public
 * header). */
#ifndef BPFTIME_X86_EMIT_H
#define BPFTIME_X86_EMIT_H

#include "vm/vm_internal.h"

/* Options of ebpf_jit_x86_64_compile_opts (tests use them to cover the
 * fallback paths on machines that do have the features). */
#define EBPF_JIT_NO_BMI2 0x1u     /* variable shifts through cl instead of shlx/shrx/sarx */
#define EBPF_JIT_NO_REL32 0x2u    /* helper calls as mov rax, imm64; call rax */
#define EBPF_JIT_NO_PEEPHOLE 0x4u /* one eBPF instruction at a time, no pair fusion */
#define EBPF_JIT_NO_INLINE 0x8u   /* array lookups call helper 1 even with a map_inline callback */

int ebpf_jit_x86_64_compile_opts(struct ebpf_vm *vm, unsigned opts);

/* Byte offset of the tail-call entry inside every JIT image: past the
 * entry thunk and the frame prologue of the main function. */
#define EBPF_JIT_TAIL_ENTRY_OFFSET 34

#endif
