/* Wiring a region's program into a VM: helpers, lddw map relocation, tail
 * calls through prog_array maps, and the region heap as accessible memory.
 *
 * Each setup makes a process-local context (struct prog_local) that the
 * VM's callbacks get as their user pointer; contexts live until the region
 * handle is closed (or, for VMs the region owns, bpftime_prog_unload_vm),
 * so a VM must not outlive the region handle it was set up with. */
#include <stdlib.h>

#include "runtime/runtime_internal.h"
#include "vm/ebpf_vm.h"

/* lddw pseudo sources, as the kernel's/libbpf's */
#define PSEUDO_MAP_FD 1
#define PSEUDO_MAP_VALUE 2
#define PSEUDO_MAP_IDX 5
#define PSEUDO_MAP_IDX_VALUE 6

#define TC_CACHE 8

struct prog_local {
    struct prog_local *next;
    struct bpftime_region *r;
    uint32_t prog_id;
    uint32_t nr_maps;
    struct bpftime_map **maps; /* program map index -> handle */
    struct ebpf_vm *vm;        /* set when the region owns the VM */
    int refs;                  /* owned VMs: bpftime_prog_load_vm calls not yet unloaded */
    bool holds;                /* its maps count as held by this process (see prog_publish_holds) */
    /* tail-call targets this program reached, each holding a reference
     * (released with this context); under r->local_lock */
    struct {
        uint32_t prog_id;
        struct ebpf_vm *vm;
    } tc[TC_CACHE];
    int ntc;
};

static uint64_t lddw_reloc(void *user, uint32_t src, uint32_t imm, uint32_t next_imm, bool *ok)
{
    struct prog_local *pl = user;
    *ok = false;
    if (imm >= pl->nr_maps)
        return 0;
    struct bpftime_map *h = pl->maps[imm];
    switch (src) {
    case PSEUDO_MAP_FD:
    case PSEUDO_MAP_IDX: *ok = true; return (uint64_t)(uintptr_t)h;
    case PSEUDO_MAP_VALUE:
    case PSEUDO_MAP_IDX_VALUE:
        /* global data: address of element 0's value + offset */
        if (h->type != BPFTIME_MAP_ARRAY || next_imm >= h->value_size)
            return 0;
        *ok = true;
        return (uint64_t)(uintptr_t)(h->data + next_imm);
    default: return 0;
    }
}

/* JIT: a plain array's lookup is computed inline. Only handles of this
 * program's own maps are described (the constant is never dereferenced
 * otherwise). A program's maps cannot be deleted while the program exists
 * and an array's storage never moves, so the JIT may embed the address, as
 * PSEUDO_MAP_VALUE relocations already do (and with the same caveat: a VM
 * kept after its program and then its maps were deleted would reach freed
 * storage, where the helper would see a retired handle and return NULL).
 * Per-CPU arrays pick the calling CPU's slot and prog_arrays hold ids:
 * both keep the helper. */
static bool map_inline(void *user, uint64_t map, struct ebpf_array_inline *out)
{
    struct prog_local *pl = user;
    struct bpftime_map *h = NULL;
    for (uint32_t i = 0; i < pl->nr_maps; i++)
        if ((uint64_t)(uintptr_t)pl->maps[i] == map) {
            h = pl->maps[i];
            break;
        }
    if (!h || h->magic != MAP_HANDLE_MAGIC || h->type != BPFTIME_MAP_ARRAY || h->percpu ||
        h->key_size != 4)
        return false;
    out->values = (uint64_t)(uintptr_t)h->data;
    out->stride = h->stride;
    out->max_entries = h->max_entries;
    return true;
}

static bool bounds_check(void *user, uint64_t addr, uint64_t size, bool write)
{
    (void)write;
    struct prog_local *pl = user;
    uint64_t lo = (uint64_t)(uintptr_t)pl->r->base + pl->r->heap_off;
    uint64_t hi = (uint64_t)(uintptr_t)pl->r->base + pl->r->size;
    return addr >= lo && addr <= hi && size <= hi - addr;
}

static struct ebpf_vm *tail_call(void *user, uint64_t map, uint64_t index)
{
    struct prog_local *pl = user;
    struct bpftime_map *h = (struct bpftime_map *)(uintptr_t)map;
    if (!h || h->magic != MAP_HANDLE_MAGIC || h->type != BPFTIME_MAP_PROG_ARRAY)
        return NULL;
    uint32_t idx = (uint32_t)index;
    if (idx >= h->max_entries)
        return NULL;
    uint32_t prog =
        __atomic_load_n((uint32_t *)(void *)(h->data + (size_t)idx * h->stride), __ATOMIC_ACQUIRE);
    if (!prog)
        return NULL;
    struct bpftime_region *r = pl->r;
    struct ebpf_vm *vm = NULL;
    pthread_mutex_lock(&r->local_lock);
    for (int i = 0; i < pl->ntc; i++)
        if (pl->tc[i].prog_id == prog) {
            vm = pl->tc[i].vm;
            break;
        }
    pthread_mutex_unlock(&r->local_lock);
    if (vm)
        return vm;
    /* first call to this target from this context: the target must be of
     * the caller's type (stores check the array's owner type; this also
     * covers an entry stored before the caller began using the array) */
    shm_lock(&r->hdr->table_lock);
    const struct shm_prog *caller = prog_entry_by_id(r, pl->prog_id);
    const struct shm_prog *target = prog_entry_by_id(r, prog);
    bool same = caller && target && caller->type == target->type;
    shm_unlock(&r->hdr->table_lock);
    if (!same)
        return NULL;
    /* take a reference */
    if (bpftime_prog_load_vm(r, prog, &vm) != 0)
        return NULL;
    pthread_mutex_lock(&r->local_lock);
    if (pl->ntc < TC_CACHE) {
        pl->tc[pl->ntc].prog_id = prog;
        pl->tc[pl->ntc].vm = vm;
        pl->ntc++;
    } /* else the reference lives until region close */
    pthread_mutex_unlock(&r->local_lock);
    return vm;
}

/* release_refs: give back tail-call references (not at region close, when
 * every context goes anyway). */
static void prog_local_free(struct prog_local *pl, bool release_refs)
{
    if (release_refs)
        for (int i = 0; i < pl->ntc; i++)
            bpftime_prog_unload_vm(pl->r, pl->tc[i].prog_id);
    if (pl->vm)
        ebpf_vm_destroy(pl->vm);
    free(pl->maps);
    free(pl);
}

static void unlink_local(struct bpftime_region *r, struct prog_local *dead)
{
    pthread_mutex_lock(&r->local_lock);
    for (struct prog_local **pp = &r->progs; *pp; pp = &(*pp)->next)
        if (*pp == dead) {
            *pp = dead->next;
            break;
        }
    pthread_mutex_unlock(&r->local_lock);
}

static int setup(struct bpftime_region *r, uint32_t prog_id, struct ebpf_vm *vm,
                 struct prog_local **out)
{
    int n = bpftime_prog_get_map_ids(r, prog_id, NULL, 0);
    if (n < 0)
        return n;
    struct prog_local *pl = calloc(1, sizeof *pl);
    uint32_t *ids = calloc((size_t)n + 1, sizeof *ids);
    if (pl)
        pl->maps = calloc((size_t)n + 1, sizeof *pl->maps);
    if (!pl || !ids || !pl->maps) {
        free(ids);
        if (pl)
            free(pl->maps);
        free(pl);
        return bpftime_set_error(-ENOMEM, "out of memory");
    }
    pl->r = r;
    pl->prog_id = prog_id;
    int got = bpftime_prog_get_map_ids(r, prog_id, ids, (uint32_t)n);
    if (got != n) {
        free(ids);
        prog_local_free(pl, false);
        return got < 0 ? got
                       : bpftime_set_error(-EAGAIN, "program %u changed during setup", prog_id);
    }
    pl->nr_maps = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        pl->maps[i] = bpftime_map_handle(r, ids[i]);
        if (!pl->maps[i]) {
            int rc = bpftime_last_errno() == -EUCLEAN
                         ? -EUCLEAN /* damaged: keep the message that says so */
                         : bpftime_set_error(
                               -ENOENT, "program %u: map index %d refers to map %u, which is gone",
                               prog_id, i, ids[i]);
            free(ids);
            prog_local_free(pl, false);
            return rc;
        }
    }
    free(ids);
    int rc = bpftime_register_helpers(vm);
    if (rc) {
        prog_local_free(pl, false);
        return rc;
    }
    ebpf_vm_set_lddw_reloc(vm, lddw_reloc, pl);
    ebpf_vm_set_bounds_check(vm, bounds_check, pl);
    ebpf_vm_set_tail_call(vm, tail_call, pl);
    ebpf_vm_set_map_inline(vm, map_inline, pl);
    uint8_t *heap = r->base + r->heap_off;
    rc = ebpf_vm_add_region(vm, heap, r->size - r->heap_off, true);
    if (rc) {
        prog_local_free(pl, false);
        return bpftime_set_error(rc, "program %u: %s", prog_id, ebpf_vm_error(vm));
    }
    pthread_mutex_lock(&r->local_lock);
    pl->next = r->progs;
    r->progs = pl;
    pl->holds = true;
    pthread_mutex_unlock(&r->local_lock);
    rc = prog_publish_holds(r);
    if (rc) {
        /* a map went between reading the program and holding it */
        unlink_local(r, pl);
        prog_local_free(pl, false);
        prog_publish_holds(r);
        return rc;
    }
    *out = pl;
    return 0;
}

int prog_publish_holds(struct bpftime_region *r)
{
    uint32_t n = 0, cap = 0;
    uint32_t *ids = NULL;
    bool any = false;
    pthread_mutex_lock(&r->local_lock);
    for (struct prog_local *pl = r->progs; pl; pl = pl->next)
        if (pl->holds) {
            cap += pl->nr_maps;
            any = true;
        }
    /* inner maps reached through outer maps are held while any VM is */
    if (!any)
        r->n_inner_holds = 0;
    cap += r->n_inner_holds;
    ids = cap ? malloc((size_t)cap * sizeof *ids) : NULL;
    for (uint32_t i = 0; ids && i < r->n_inner_holds; i++)
        ids[n++] = r->inner_holds[i];
    for (struct prog_local *pl = r->progs; ids && pl; pl = pl->next) {
        if (!pl->holds)
            continue;
        for (uint32_t i = 0; i < pl->nr_maps; i++) {
            uint32_t id = pl->maps[i]->id, k = 0;
            while (k < n && ids[k] != id)
                k++;
            if (k == n)
                ids[n++] = id;
        }
    }
    pthread_mutex_unlock(&r->local_lock);
    if (cap && !ids)
        return bpftime_set_error(-ENOMEM, "out of memory");
    int rc = instance_publish_holds(r, ids, n);
    free(ids);
    return rc;
}

int bpftime_prog_setup_vm(struct bpftime_region *r, uint32_t prog_id, struct ebpf_vm *vm)
{
    struct prog_local *pl;
    int rc = setup(r, prog_id, vm, &pl);
    if (rc == 0)
        bpftime_helpers_set_trace_region(r);
    return rc;
}

int bpftime_prog_load_vm(struct bpftime_region *r, uint32_t prog_id, struct ebpf_vm **out)
{
    /* One VM per program per region handle, shared by reference count:
     * the attach manager, test runs and tail calls of one process then
     * never destroy each other's VM. */
    pthread_mutex_lock(&r->local_lock);
    for (struct prog_local *pl = r->progs; pl; pl = pl->next) {
        if (pl->prog_id == prog_id && pl->vm) {
            pl->refs++;
            *out = pl->vm;
            pthread_mutex_unlock(&r->local_lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&r->local_lock);

    struct bpftime_prog_info info;
    int rc = bpftime_prog_get(r, prog_id, &info);
    if (rc)
        return rc;
    uint64_t *code = malloc((size_t)info.insn_cnt * 8);
    if (!code)
        return bpftime_set_error(-ENOMEM, "out of memory");
    int n = bpftime_prog_get_insns(r, prog_id, code, info.insn_cnt);
    if (n < 0 || (uint32_t)n != info.insn_cnt) {
        free(code);
        return n < 0 ? n : bpftime_set_error(-EAGAIN, "program %u changed while loading", prog_id);
    }
    struct ebpf_vm *vm = ebpf_vm_create();
    if (!vm) {
        free(code);
        return bpftime_set_error(-ENOMEM, "out of memory");
    }
    struct prog_local *pl;
    rc = setup(r, prog_id, vm, &pl);
    if (rc) {
        free(code);
        ebpf_vm_destroy(vm);
        return rc;
    }
    bpftime_helpers_set_trace_region(r);
    rc = ebpf_vm_load(vm, code, (size_t)info.insn_cnt * 8);
    free(code);
    if (rc) {
        rc = bpftime_set_error(rc, "program %u (%s): %s", prog_id, info.name, ebpf_vm_error(vm));
        /* the context stays (callbacks may reference it) but the VM goes,
         * and with it the hold on the program's maps */
        ebpf_vm_destroy(vm);
        pthread_mutex_lock(&r->local_lock);
        pl->holds = false;
        pthread_mutex_unlock(&r->local_lock);
        prog_publish_holds(r);
        bpftime_map_collect(r);
        return rc;
    }
    pthread_mutex_lock(&r->local_lock);
    pl->vm = vm;
    pl->refs = 1;
    pthread_mutex_unlock(&r->local_lock);
    *out = vm;
    return 0;
}

void bpftime_prog_unload_vm(struct bpftime_region *r, uint32_t prog_id)
{
    struct prog_local *dead = NULL;
    pthread_mutex_lock(&r->local_lock);
    for (struct prog_local **pp = &r->progs; *pp; pp = &(*pp)->next) {
        struct prog_local *pl = *pp;
        if (pl->prog_id == prog_id && pl->vm) {
            if (--pl->refs <= 0) {
                *pp = pl->next;
                dead = pl;
            }
            break;
        }
    }
    pthread_mutex_unlock(&r->local_lock);
    if (dead) {
        prog_local_free(dead, true);
        /* this process lets go of the program's maps: the last holder frees them */
        prog_publish_holds(r);
        bpftime_map_collect(r);
    }
}

void prog_local_free_all(struct bpftime_region *r)
{
    struct prog_local *pl = r->progs;
    r->progs = NULL;
    while (pl) {
        struct prog_local *next = pl->next;
        prog_local_free(pl, false);
        pl = next;
    }
    /* the trace sink must not point at a closed region */
    helpers_clear_trace_region(r);
}
