/* The native code a process runs for a stored program: the LLVM tier's
 * image when `bpftime load --opt` stored one in the region and it maps in
 * this process, else the one-pass JIT (docs/ARCHITECTURE.md, "The LLVM
 * tier"). A refused image is not an error: the JIT runs the program and a
 * warning says why. */
#ifndef BPFTIME_PROG_ENGINE_H
#define BPFTIME_PROG_ENGINE_H

#include <stdint.h>

#include "runtime/bpftime_runtime.h"
#include "vm/ebpf_vm.h"
#include "vm/native_code.h"

struct prog_code {
    ebpf_jit_fn fn;                 /* the code to call (either engine) */
    struct ebpf_native_code *image; /* non-NULL: fn is the LLVM tier's entry */
};

/* Fills out for program prog_id loaded in vm (bpftime_prog_load_vm).
 * BPFTIME_VM=jit ignores a stored image. Errors: those of ebpf_vm_compile. */
int bpftime_prog_code_make(struct bpftime_region *r, uint32_t prog_id, struct ebpf_vm *vm,
                           struct prog_code *out);
void bpftime_prog_code_free(struct prog_code *c);

#endif
