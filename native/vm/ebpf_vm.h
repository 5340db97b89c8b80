/* The bpftime eBPF VM: interpreter and x86-64 JIT behind one small API.
 *
 * The shape follows ubpf's (create, register helper by index, load, exec,
 * compile, data relocation callback, bounds-check callback, unload) so that a
 * system libubpf can stand in behind the same interface (see vm/ubpf_backend).
 *
 * Errors: functions returning int give 0 or a negative errno-style code; the
 * message for the calling thread's last failure is ebpf_vm_error(vm), the
 * same text as bpftime_last_error_message() (bpftime/api.h). */
#ifndef BPFTIME_EBPF_VM_H
#define BPFTIME_EBPF_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bpftime/api.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EBPF_STACK_SIZE 512              /* bytes per frame, as the kernel */
#define EBPF_MAX_CALL_DEPTH 8            /* bpf-to-bpf frames, including the main one */
#define EBPF_MAX_INSTS 1000000           /* largest program accepted by load */
#define EBPF_MAX_HELPERS 1024            /* helper ids 0..1023 */
#define EBPF_DEFAULT_BUDGET 100000000ULL /* interpreter instruction budget per exec */

struct ebpf_vm;

typedef uint64_t (*ebpf_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5);

/* The JIT-compiled entry: same contract as ebpf_vm_exec (r1 = mem, r2 = mem_len). */
typedef uint64_t (*ebpf_jit_fn)(void *mem, size_t mem_len);

/* Resolves an lddw whose src_reg is a pseudo source libbpf emits
 * (1 = BPF_PSEUDO_MAP_FD, 2 = BPF_PSEUDO_MAP_VALUE, 3 = BTF_ID, 4 = FUNC,
 *  5 = BPF_PSEUDO_MAP_IDX, 6 = BPF_PSEUDO_MAP_IDX_VALUE).
 * imm is the first instruction's imm, next_imm the second's (the offset for
 * *_VALUE). Returns the 64-bit value to load; sets *ok = false if the
 * reference cannot be resolved (load then fails naming the instruction). */
typedef uint64_t (*ebpf_lddw_reloc_fn)(void *user, uint32_t src_reg, uint32_t imm,
                                       uint32_t next_imm, bool *ok);

/* Extra memory the interpreter accepts besides its stack and the mem given
 * to exec (e.g. a map value the runtime handed out). Return true if
 * [addr, addr+size) may be accessed. */
typedef bool (*ebpf_bounds_check_fn)(void *user, uint64_t addr, uint64_t size, bool write);

/* Tail call: return the VM of the program at `index` in prog array `map`,
 * or NULL (the call then falls through, as in the kernel).
 *
 * A call to helper id 12 (bpf_tail_call(ctx, map, index)) is never a normal
 * helper call: it consults this callback (r2 = map, r3 = index). On success
 * the returned VM's program runs in place of the current one with the same
 * r1 (ctx) and a fresh frame, and its exit returns to whoever called the
 * current function; at most 33 tail calls per run, as the kernel. On
 * failure execution continues after the call with r0 = -ENOENT. The JIT
 * jumps into the target's JIT code, so targets must be compiled first (an
 * uncompiled target is a failed tail call for JIT code). */
typedef struct ebpf_vm *(*ebpf_tail_call_fn)(void *user, uint64_t map, uint64_t index);

/* Inline array lookups (JIT only). A plain array map's layout as the JIT
 * may embed it: element i's value lives at values + i * stride for
 * i < max_entries. */
struct ebpf_array_inline {
    uint64_t values;      /* address of element 0's value */
    uint32_t stride;      /* bytes from one value to the next (value_size rounded up to 8) */
    uint32_t max_entries; /* keys >= max_entries find nothing (NULL) */
};

/* Asked by the JIT, at compile time, about the constant r1 of a
 * `call 1` (bpf_map_lookup_elem) when r1 comes from an lddw in the same
 * basic block. Return true and fill *out only if `map` is a plain array
 * whose storage stays at that address for as long as the VM's code may run
 * (not per-CPU, not a prog_array): the JIT then computes the value address
 * inline, as the kernel does, instead of calling helper 1. */
typedef bool (*ebpf_map_inline_fn)(void *user, uint64_t map, struct ebpf_array_inline *out);

BPFTIME_API struct ebpf_vm *ebpf_vm_create(void);
BPFTIME_API void ebpf_vm_destroy(struct ebpf_vm *vm);

BPFTIME_API const char *ebpf_vm_error(const struct ebpf_vm *vm);

BPFTIME_API int ebpf_vm_register_helper(struct ebpf_vm *vm, uint32_t id, const char *name,
                                        ebpf_helper_fn fn);
BPFTIME_API void ebpf_vm_set_lddw_reloc(struct ebpf_vm *vm, ebpf_lddw_reloc_fn fn, void *user);
BPFTIME_API void ebpf_vm_set_bounds_check(struct ebpf_vm *vm, ebpf_bounds_check_fn fn, void *user);
BPFTIME_API void ebpf_vm_set_tail_call(struct ebpf_vm *vm, ebpf_tail_call_fn fn, void *user);
BPFTIME_API void ebpf_vm_set_map_inline(struct ebpf_vm *vm, ebpf_map_inline_fn fn, void *user);

/* Memory regions the interpreter allows (in addition to stack, mem and the
 * bounds-check callback). Returns a negative code if the table is full. */
BPFTIME_API int ebpf_vm_add_region(struct ebpf_vm *vm, const void *base, size_t len, bool writable);
BPFTIME_API void ebpf_vm_clear_regions(struct ebpf_vm *vm);

/* Interpreter instruction budget per exec (0 = default). Counted in
 * instruction slots (lddw = 2) and checked at every jump, call and exit:
 * when it runs out, the straight-line run in progress finishes (up to its
 * next jump or exit; a fault there is reported first), then exec fails
 * with -E2BIG naming the instruction at which the budget ran out. */
BPFTIME_API void ebpf_vm_set_budget(struct ebpf_vm *vm, uint64_t max_insts);

/* Load code: an array of 8-byte little-endian instructions. Validates the
 * structure (known opcodes, registers, jump targets inside the program and
 * not into the middle of an lddw, complete lddw, exit reachable as last
 * instruction, call targets) and resolves lddw pseudo sources through the
 * relocation callback. On failure the message names the instruction index.
 * Register helpers and set the relocation callback before loading: a call
 * to an id with no registered helper (other than 12, the tail call) is
 * refused here. Error codes: -EINVAL malformed, -ENOENT unknown helper or
 * unresolvable lddw, -E2BIG too many instructions, -EEXIST already loaded. */
BPFTIME_API int ebpf_vm_load(struct ebpf_vm *vm, const void *code, size_t code_len);
BPFTIME_API void ebpf_vm_unload(struct ebpf_vm *vm);
BPFTIME_API size_t ebpf_vm_num_insts(const struct ebpf_vm *vm);

/* Interpreter. On entry r1 = mem, r2 = mem_len, r10 = top of a private
 * stack of EBPF_STACK_SIZE bytes per call frame (EBPF_MAX_CALL_DEPTH
 * frames). Accesses are allowed to that stack, to [mem, mem + mem_len), to
 * regions added with ebpf_vm_add_region (writes only if writable) and to
 * whatever the bounds-check callback accepts. Reentrant: several threads
 * may run one loaded VM at once (the error text is per thread).
 * Every memory access is checked; an out-of-bounds access,
 * division helper misuse or exhausted budget returns a negative code with a
 * message naming the instruction index, never a crash. */
BPFTIME_API int ebpf_vm_exec(struct ebpf_vm *vm, void *mem, size_t mem_len, uint64_t *ret);

/* JIT. Compiles once (the code is kept until unload/destroy) and returns the
 * native entry. Code is written, then mprotect'ed read+exec: never W+X. JIT
 * code does not bounds-check: only verified programs may be compiled. */
BPFTIME_API int ebpf_vm_compile(struct ebpf_vm *vm, ebpf_jit_fn *out);
BPFTIME_API const void *ebpf_vm_jit_code(const struct ebpf_vm *vm);
BPFTIME_API size_t ebpf_vm_jit_size(const struct ebpf_vm *vm);

#ifdef __cplusplus
}
#endif

#endif
