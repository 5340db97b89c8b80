/* Loader of the optimizing tier's blobs (format: src/llvm/compile.ts). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm/native_code.h"
#include "vm/vm_internal.h"

#define BLOB_MAGIC "BPFTLLVM"
#define BLOB_VERSION 1
#define HEADER_SIZE 32
#define SLOT_HELPER 1
#define SLOT_LDDW 2
#define SLOT_HELPER_TABLE 3 /* callx: helpers[id] of this VM, NULL when unregistered */

struct ebpf_native_code {
    void *map;
    size_t map_len;
    size_t size;
    ebpf_jit_fn entry;
};

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The 64-bit value slot (kind, arg) takes in this process. */
static int slot_value(const struct ebpf_vm *vm, uint32_t k, uint32_t kind, uint32_t arg,
                      uint64_t *out)
{
    if (kind == SLOT_HELPER) {
        if (arg >= EBPF_MAX_HELPERS || !vm->helpers[arg])
            return bpftime_set_error(-ENOENT,
                                     "native code: slot %u calls helper %u, which is not "
                                     "registered in this VM",
                                     k, arg);
        *out = (uint64_t)(uintptr_t)vm->helpers[arg];
        return 0;
    }
    if (kind == SLOT_LDDW) {
        if (arg + 1 >= vm->num_insts || vm->insts[arg].opcode != 0x18)
            return bpftime_set_error(-EINVAL,
                                     "native code: slot %u names instruction %u, which is not "
                                     "an lddw of this program: the blob was made for another one",
                                     k, arg);
        const struct ebpf_inst *in = &vm->insts[arg];
        *out = (uint64_t)(uint32_t)in[0].imm | ((uint64_t)(uint32_t)in[1].imm << 32);
        return 0;
    }
    if (kind == SLOT_HELPER_TABLE) {
        *out = (uint64_t)(uintptr_t)vm->helpers;
        return 0;
    }
    return bpftime_set_error(-EINVAL, "native code: slot %u has unknown kind %u", k, kind);
}

int ebpf_native_load(const struct ebpf_vm *vm, const void *blob, size_t blob_len,
                     struct ebpf_native_code **out)
{
    *out = NULL;
    const uint8_t *b = blob;
    if (!vm->insts)
        return bpftime_set_error(-EINVAL, "native code: the VM has no program loaded");
    if (!b || blob_len < HEADER_SIZE || memcmp(b, BLOB_MAGIC, 8) != 0)
        return bpftime_set_error(-EINVAL, "native code: not a bpftime LLVM-tier blob (bad magic)");
    if (rd32(b + 8) != BLOB_VERSION)
        return bpftime_set_error(-EINVAL, "native code: blob version %u, this loader reads %u",
                                 rd32(b + 8), BLOB_VERSION);
    uint32_t ninsts = rd32(b + 12), entry = rd32(b + 16), env = rd32(b + 20);
    uint32_t nslots = rd32(b + 24), size = rd32(b + 28);
    if (ninsts != vm->num_insts)
        return bpftime_set_error(-EINVAL,
                                 "native code: blob made for a program of %u instructions, the VM "
                                 "holds %u",
                                 ninsts, vm->num_insts);
    uint64_t image_off = HEADER_SIZE + (uint64_t)nslots * 8;
    if (image_off + size != blob_len || size == 0 || entry >= size ||
        (uint64_t)env + (uint64_t)nslots * 8 > size || (env & 7) != 0)
        return bpftime_set_error(-EINVAL, "native code: blob sizes or offsets are inconsistent");

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t map_len = (size + page - 1) / page * page;
    void *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return bpftime_set_error(-ENOMEM, "native code: cannot map %u bytes", size);
    memcpy(map, b + image_off, size);
    for (uint32_t k = 0; k < nslots; k++) {
        uint64_t v = 0;
        int rc =
            slot_value(vm, k, rd32(b + HEADER_SIZE + 8 * k), rd32(b + HEADER_SIZE + 8 * k + 4), &v);
        if (rc < 0) {
            munmap(map, map_len);
            return rc;
        }
        memcpy((uint8_t *)map + env + 8 * k, &v, 8);
    }
    /* written, now read+exec: never writable and executable at once */
    if (mprotect(map, map_len, PROT_READ | PROT_EXEC) != 0) {
        munmap(map, map_len);
        return bpftime_set_error(-errno, "native code: mprotect read+exec failed");
    }
    struct ebpf_native_code *nc = calloc(1, sizeof *nc);
    if (!nc) {
        munmap(map, map_len);
        return bpftime_set_error(-ENOMEM, "native code: out of memory");
    }
    nc->map = map;
    nc->map_len = map_len;
    nc->size = size;
    nc->entry = (ebpf_jit_fn)(void *)((uint8_t *)map + entry);
    *out = nc;
    return 0;
}

ebpf_jit_fn ebpf_native_entry(const struct ebpf_native_code *nc)
{
    return nc->entry;
}

size_t ebpf_native_size(const struct ebpf_native_code *nc)
{
    return nc->size;
}

void ebpf_native_run(const struct ebpf_native_code *nc, void *mem, size_t mem_len, uint64_t *ret)
{
    *ret = nc->entry(mem, mem_len);
}

void ebpf_native_free(struct ebpf_native_code *nc)
{
    if (!nc)
        return;
    munmap(nc->map, nc->map_len);
    free(nc);
}
