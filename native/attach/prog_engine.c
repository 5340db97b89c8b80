#include "attach/prog_engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* The image stored for the program, mapped for vm; NULL (with a warning
 * when there was one) lets the caller use the JIT. */
static struct ebpf_native_code *load_image(struct bpftime_region *r, uint32_t prog_id,
                                           struct ebpf_vm *vm)
{
    const char *engine = getenv("BPFTIME_VM");
    if (engine && strcmp(engine, "jit") == 0)
        return NULL;
    int len = bpftime_prog_get_native(r, prog_id, NULL, 0);
    if (len <= 0)
        return NULL;
    void *blob = malloc((size_t)len);
    if (!blob) {
        BPFTIME_WARN("program %u: no memory to read its LLVM image; the JIT runs it", prog_id);
        return NULL;
    }
    struct ebpf_native_code *nc = NULL;
    int got = bpftime_prog_get_native(r, prog_id, blob, (uint32_t)len);
    if (got != len)
        BPFTIME_WARN("program %u: its LLVM image changed while read; the JIT runs it", prog_id);
    else if (ebpf_native_load(vm, blob, (size_t)len, &nc) < 0) {
        BPFTIME_WARN("program %u: LLVM image refused (%s); the JIT runs it", prog_id,
                     ebpf_vm_error(vm));
        nc = NULL;
    }
    free(blob);
    return nc;
}

int bpftime_prog_code_make(struct bpftime_region *r, uint32_t prog_id, struct ebpf_vm *vm,
                           struct prog_code *out)
{
    memset(out, 0, sizeof *out);
    out->image = load_image(r, prog_id, vm);
    if (out->image) {
        out->fn = ebpf_native_entry(out->image);
        BPFTIME_DEBUG("program %u: runs the LLVM tier's code", prog_id);
        return 0;
    }
    return ebpf_vm_compile(vm, &out->fn);
}

void bpftime_prog_code_free(struct prog_code *c)
{
    if (c->image)
        ebpf_native_free(c->image);
    memset(c, 0, sizeof *c);
}
