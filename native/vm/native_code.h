/* The optimizing tier's loader: native code compiled ahead of time by the
 * control plane (src/llvm: verified bytecode -> LLVM IR -> clang -O2) as one
 * flat position-independent image, made runnable in this process.
 *
 * The image holds no address of this process: helper addresses and the
 * values of lddw pseudo sources (map pointers) are read through its env
 * table, which the loader fills from a loaded VM (its registered helpers and
 * its resolved lddw values) before mapping the image read+exec (never W+X).
 * The same blob therefore runs in every process that loaded the program.
 *
 * The entry has the JIT's contract (ebpf_jit_fn: r1 = mem, r2 = mem_len),
 * so callers may use either. Like JIT code it does not bounds-check: only
 * blobs made from verified programs may be loaded. */
#ifndef BPFTIME_NATIVE_CODE_H
#define BPFTIME_NATIVE_CODE_H

#include "vm/ebpf_vm.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ebpf_native_code;

/* Maps `blob` for the program loaded in `vm` (which must stay loaded while
 * the code may run). Errors: -EINVAL a malformed blob or one made for
 * another program (instruction count, lddw slots), -ENOENT a helper the
 * code calls is not registered in vm, -ENOMEM. */
BPFTIME_API int ebpf_native_load(const struct ebpf_vm *vm, const void *blob, size_t blob_len,
                                 struct ebpf_native_code **out);
BPFTIME_API ebpf_jit_fn ebpf_native_entry(const struct ebpf_native_code *nc);
BPFTIME_API size_t ebpf_native_size(const struct ebpf_native_code *nc);
BPFTIME_API void ebpf_native_free(struct ebpf_native_code *nc);

/* One run (for bindings that cannot call a function pointer): *ret = r0. */
BPFTIME_API void ebpf_native_run(const struct ebpf_native_code *nc, void *mem, size_t mem_len,
                                 uint64_t *ret);

#ifdef __cplusplus
}
#endif

#endif
