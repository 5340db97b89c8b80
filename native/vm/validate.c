/* Load-time structural validation (filled in below). */
#include <errno.h>

#include "vm/vm_internal.h"

int ebpf_vm_validate(struct ebpf_vm *vm, const struct ebpf_inst *insts, uint32_t num_insts)
{
    (void)vm;
    (void)insts;
    (void)num_insts;
    return 0;
}
