/* The interpreter (being written). */
#include <errno.h>

#include "vm/vm_internal.h"

int ebpf_vm_exec(struct ebpf_vm *vm, void *mem, size_t mem_len, uint64_t *ret)
{
    (void)mem;
    (void)mem_len;
    (void)ret;
    return ebpf_vm_set_error(vm, -ENOTSUP, "interpreter not yet implemented");
}
