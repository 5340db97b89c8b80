/* A growable eBPF program builder for the VM's C tests: emit instructions
 * one by one, load p->v / p->n, prog_free to start over. */
#ifndef BPFTIME_VM_TESTS_PROG_BUILDER_H
#define BPFTIME_VM_TESTS_PROG_BUILDER_H

#include <stdint.h>
#include <stdlib.h>

#include "vm/vm_internal.h"

struct prog {
    struct ebpf_inst *v;
    uint32_t n, cap;
};

static inline void prog_emit(struct prog *p, uint8_t op, uint8_t dst, uint8_t src, int16_t off,
                             int32_t imm)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->v = realloc(p->v, p->cap * sizeof *p->v);
        if (!p->v)
            abort();
    }
    p->v[p->n++] = (struct ebpf_inst){.opcode = op, .dst = dst, .src = src, .off = off, .imm = imm};
}

static inline void prog_lddw(struct prog *p, uint8_t dst, uint64_t v)
{
    prog_emit(p, 0x18, dst, 0, 0, (int32_t)(uint32_t)v);
    prog_emit(p, 0x00, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
}

static inline void prog_free(struct prog *p)
{
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

#endif
