/* BPF_MAP_TYPE_STACK_TRACE and the stack helpers, as the kernel's
 * (kernel/bpf/stackmap.c, arch/x86/events/core.c perf_callchain_user):
 *
 * User stacks are walked through frame pointers from the probed function's
 * registers (the invocation's pt_regs: uprobes, uretprobes, USDT): the
 * instruction pointer first; at an entry probe (rip is the probed address)
 * whose original instruction is `push %rbp` or endbr64 the return address
 * at *rsp next, as the kernel adds (the instruction is read from the
 * mapped file: in memory the hook has replaced it); then each frame's return
 * address along the rbp chain until a read faults, the address leaves user
 * space or the depth is reached. Code built without frame pointers gives
 * short or wrong chains, as in the kernel. Without registers (a program
 * type with no probed function) the stack is empty. Kernel stacks are
 * always empty in userspace: bpf_get_stack() returns 0 with the buffer
 * zeroed, bpf_get_stackid() -EFAULT, as the kernel does for an empty trace.
 * Build-id stacks (BPF_F_STACK_BUILD_ID, BPF_F_USER_BUILD_ID) are not
 * supported.
 *
 * The map: key a u32 id, value value_size/8 u64 addresses (zero-padded).
 * bpf_get_stackid() hashes the addresses with jhash2 (seed 0) into one of
 * roundup_pow2(max_entries) buckets, as the kernel, so ids are the kernel's
 * for the same addresses; an occupied bucket with another stack is -EEXIST
 * unless BPF_F_REUSE_STACKID. All under the map's lock. */
#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"

#define MAX_STACK 127u /* sysctl_perf_event_max_stack's default */
#define F_SKIP_MASK 0xffull
#define F_USER_STACK (1ull << 8)
#define F_FAST_STACK_CMP (1ull << 9)
#define F_REUSE_STACKID (1ull << 10)
#define F_USER_BUILD_ID (1ull << 11)
#define F_STACK_BUILD_ID (1u << 5) /* map_flags */
#define F_NUMA_NODE (1u << 2)
#define F_ACCESS_MASK ((1u << 3) | (1u << 4))
#define USER_TOP 0x00007ffffffff000ull /* x86-64 TASK_SIZE_MAX */

/* The kernel's x86-64 struct pt_regs, as the invocation's regs are laid out. */
struct pt_regs_x86 {
    uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
    uint64_t rax, rcx, rdx, rsi, rdi, orig_rax;
    uint64_t rip, cs, eflags, rsp, ss;
};

/* ---- the user stack ---- */

struct find_file {
    uint64_t addr;
    char path[256];
    uint64_t file_off;
    bool found;
};

static int find_segment(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct find_file *f = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uint64_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD || f->addr < lo || f->addr >= lo + ph->p_filesz)
            continue;
        snprintf(f->path, sizeof f->path, "%s",
                 info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : "/proc/self/exe");
        f->file_off = ph->p_offset + (f->addr - lo);
        f->found = true;
        return 1;
    }
    return 0;
}

/* The kernel's is_uprobe_at_func_entry(): the probed instruction, as the
 * file has it, is push %rbp or endbr64. Cached per thread (a probe's address
 * repeats). */
static bool entry_insn_pushes_rbp(uint64_t addr)
{
    static _Thread_local uint64_t cached_addr;
    static _Thread_local bool cached_result;
    if (addr && addr == cached_addr)
        return cached_result;
    struct find_file f = {.addr = addr};
    uint8_t insn[4] = {0};
    bool yes = false;
    dl_iterate_phdr(find_segment, &f);
    if (f.found) {
        int fd = open(f.path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (pread(fd, insn, sizeof insn, (off_t)f.file_off) == (ssize_t)sizeof insn)
                yes = insn[0] == 0x55 ||
                      (insn[0] == 0xf3 && insn[1] == 0x0f && insn[2] == 0x1e && insn[3] == 0xfa);
            close(fd);
        }
    }
    cached_addr = addr;
    cached_result = yes;
    return yes;
}

static uint32_t user_stack(uint64_t *ips, uint32_t max)
{
    struct bpftime_invocation *inv = bpftime_invocation_get();
    if (!inv || !inv->regs || max == 0)
        return 0;
    const struct pt_regs_x86 *regs = inv->regs;
    uint32_t n = 0;
    ips[n++] = regs->rip;
    if (n < max && regs->rip == inv->func_ip && entry_insn_pushes_rbp(regs->rip)) {
        uint64_t ret;
        if (bpftime_safe_read(&ret, (const void *)(uintptr_t)regs->rsp, 8) == 0)
            ips[n++] = ret;
    }
    uint64_t fp = regs->rbp;
    while (n < max) {
        uint64_t frame[2]; /* next frame pointer, return address */
        if (fp > USER_TOP - sizeof frame)
            break;
        if (bpftime_safe_read(frame, (const void *)(uintptr_t)fp, sizeof frame) != 0)
            break;
        ips[n++] = frame[1];
        fp = frame[0];
    }
    return n;
}

/* ---- the map ---- */

struct stack_elem {
    uint32_t hash;
    uint32_t nr;
    uint32_t next_free; /* index + 1 of the next free element; 0 ends the list */
    uint32_t reserved;
    uint64_t ips[];
};

static uint64_t elem_size(const struct shm_map *m)
{
    return sizeof(struct stack_elem) + m->value_size;
}

static uint32_t n_buckets(uint32_t max_entries)
{
    uint32_t n = 1;
    while (n < max_entries)
        n <<= 1;
    return n;
}

int stackmap_check_spec(uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                        uint32_t flags)
{
    if (flags & F_STACK_BUILD_ID)
        return bpftime_set_error(-EOPNOTSUPP,
                                 "stack_trace map: build-id stacks (BPF_F_STACK_BUILD_ID) are "
                                 "not supported; store addresses");
    if (flags & ~(F_NUMA_NODE | F_ACCESS_MASK))
        return bpftime_set_error(-EINVAL, "stack_trace map does not accept map_flags 0x%x",
                                 flags & ~(F_NUMA_NODE | F_ACCESS_MASK));
    if (max_entries == 0 || key_size != 4 || value_size < 8 || value_size % 8 ||
        value_size / 8 > MAX_STACK)
        return bpftime_set_error(-EINVAL,
                                 "stack_trace map needs key_size 4, value_size a multiple of 8 "
                                 "up to %u frames, max_entries > 0 (got %u, %u, %u)",
                                 MAX_STACK, key_size, value_size, max_entries);
    if (max_entries > (1u << 31))
        return bpftime_set_error(-E2BIG, "stack_trace map max_entries %u is too large",
                                 max_entries);
    return 0;
}

uint64_t stackmap_storage_need(const struct shm_map *m)
{
    uint64_t nb = n_buckets(m->max_entries);
    uint64_t esz = elem_size(m);
    if (esz && m->max_entries > (UINT64_MAX - SHM_STACKMAP_HDR - nb * 4) / esz)
        return UINT64_MAX;
    return SHM_STACKMAP_HDR + round_up8(nb * 4) + esz * m->max_entries;
}

static uint32_t *buckets(void *data)
{
    return (uint32_t *)(void *)((uint8_t *)data + SHM_STACKMAP_HDR);
}

static struct stack_elem *elem(void *data, const struct shm_map *m, uint32_t nb, uint32_t idx)
{
    return (struct stack_elem *)(void *)((uint8_t *)data + SHM_STACKMAP_HDR +
                                         round_up8((uint64_t)nb * 4) + elem_size(m) * idx);
}

void stackmap_storage_init(void *data, const struct shm_map *m)
{
    struct shm_stackmap *s = data;
    s->n_buckets = n_buckets(m->max_entries);
    for (uint32_t i = 0; i < m->max_entries; i++)
        elem(data, m, s->n_buckets, i)->next_free = i + 1 < m->max_entries ? i + 2 : 0;
    s->free_head = 1;
}

int stackmap_storage_check(struct bpftime_region *r, const struct shm_map *m, const void *data)
{
    const struct shm_stackmap *s = data;
    if (s->n_buckets != n_buckets(m->max_entries) || s->free_head > m->max_entries)
        return rt_damaged(r, "map %u: its stack map header does not match the map", m->id);
    return 0;
}

/* A bucket's element, or NULL when empty or damaged (index out of range). */
static struct stack_elem *bucket_elem(struct bpftime_map *h, uint32_t id)
{
    struct shm_stackmap *s = (struct shm_stackmap *)h->data;
    uint32_t idx = buckets(h->data)[id];
    if (idx == 0 || idx > h->max_entries)
        return NULL;
    struct stack_elem *e = elem(h->data, h->m, n_buckets(h->max_entries), idx - 1);
    (void)s;
    return e->nr <= h->value_size / 8 ? e : NULL;
}

static void free_push(struct bpftime_map *h, uint32_t idx)
{
    struct shm_stackmap *s = (struct shm_stackmap *)h->data;
    elem(h->data, h->m, n_buckets(h->max_entries), idx - 1)->next_free = s->free_head;
    s->free_head = idx;
}

/* jhash2 of the addresses (seed 0), as the kernel's bucket choice */
static uint32_t stack_hash(const uint64_t *ips, uint32_t nr)
{
    uint32_t words[MAX_STACK * 2];
    memcpy(words, ips, (size_t)nr * 8);
    return bpftime_jhash2(words, nr * 2, 0);
}

static int64_t stackid(struct bpftime_map *h, const uint64_t *ips, uint32_t nr, uint64_t flags)
{
    uint32_t nb = n_buckets(h->max_entries);
    uint32_t hash = stack_hash(ips, nr);
    uint32_t id = hash & (nb - 1);
    int64_t rc;
    shm_lock(&h->m->lock);
    struct stack_elem *b = bucket_elem(h, id);
    bool hash_matches = b && b->hash == hash;
    if (hash_matches && (flags & F_FAST_STACK_CMP)) {
        rc = id;
        goto out;
    }
    if (hash_matches && b->nr == nr && memcmp(b->ips, ips, (size_t)nr * 8) == 0) {
        rc = id;
        goto out;
    }
    if (b && !(flags & F_REUSE_STACKID)) {
        rc = -EEXIST;
        goto out;
    }
    struct shm_stackmap *s = (struct shm_stackmap *)h->data;
    uint32_t idx = s->free_head;
    if (idx == 0 || idx > h->max_entries) {
        rc = -ENOMEM;
        goto out;
    }
    struct stack_elem *e = elem(h->data, h->m, nb, idx - 1);
    s->free_head = e->next_free;
    e->hash = hash;
    e->nr = nr;
    memcpy(e->ips, ips, (size_t)nr * 8);
    uint32_t old = buckets(h->data)[id];
    buckets(h->data)[id] = idx;
    if (old && old <= h->max_entries)
        free_push(h, old);
    rc = id;
out:
    shm_unlock(&h->m->lock);
    return rc;
}

/* ---- helpers ---- */

int64_t bpftime_get_stackid(struct bpftime_map *h, uint64_t flags)
{
    if (!h || h->type != BPFTIME_MAP_STACK_TRACE)
        return -EINVAL;
    if (flags & ~(F_SKIP_MASK | F_USER_STACK | F_FAST_STACK_CMP | F_REUSE_STACKID))
        return -EINVAL;
    uint32_t skip = (uint32_t)(flags & F_SKIP_MASK);
    uint32_t depth = h->value_size / 8 + skip;
    if (depth > MAX_STACK)
        depth = MAX_STACK;
    uint64_t ips[MAX_STACK];
    uint32_t nr = (flags & F_USER_STACK) ? user_stack(ips, depth) : 0;
    if (nr <= skip)
        return -EFAULT; /* nothing left after skipping (or an empty kernel stack) */
    return stackid(h, ips + skip, nr - skip, flags);
}

int64_t bpftime_get_stack(void *buf, uint32_t size, uint64_t flags)
{
    int64_t rc = -EINVAL;
    uint32_t copied = 0;
    if (flags & ~(F_SKIP_MASK | F_USER_STACK | F_USER_BUILD_ID))
        goto clear;
    if (flags & F_USER_BUILD_ID) {
        rc = -EOPNOTSUPP;
        goto clear;
    }
    if (size % 8)
        goto clear;
    uint32_t skip = (uint32_t)(flags & F_SKIP_MASK);
    uint32_t depth = size / 8 + skip;
    if (depth > MAX_STACK)
        depth = MAX_STACK;
    uint64_t ips[MAX_STACK];
    uint32_t nr = (flags & F_USER_STACK) ? user_stack(ips, depth) : 0;
    if (nr < skip && (flags & F_USER_STACK)) {
        rc = -EFAULT; /* skipping more frames than there are, as the kernel */
        goto clear;
    }
    uint32_t n = nr > skip ? nr - skip : 0;
    if (n > size / 8)
        n = size / 8;
    copied = n * 8;
    memcpy(buf, ips + skip, copied);
    rc = copied;
clear:
    if (size > copied)
        memset((uint8_t *)buf + copied, 0, size - copied);
    return rc;
}

/* ---- control plane ---- */

static int check_id(struct bpftime_map *h, const void *key, uint32_t *id)
{
    memcpy(id, key, 4);
    return *id < n_buckets(h->max_entries);
}

int stackmap_lookup(struct bpftime_map *h, const void *key, void *value)
{
    uint32_t id;
    if (!check_id(h, key, &id))
        return bpftime_set_error(-ENOENT, "map %u: stack id %u out of range", h->id, id);
    int rc = 0;
    shm_lock(&h->m->lock);
    struct stack_elem *e = bucket_elem(h, id);
    if (e) {
        memcpy(value, e->ips, (size_t)e->nr * 8);
        memset((uint8_t *)value + (size_t)e->nr * 8, 0, h->value_size - (size_t)e->nr * 8);
    } else {
        rc = bpftime_set_error(-ENOENT, "map %u: no stack with id %u", h->id, id);
    }
    shm_unlock(&h->m->lock);
    return rc;
}

/* BPF_MAP_LOOKUP_AND_DELETE_ELEM: the stack, and its bucket emptied. */
int stackmap_extract(struct bpftime_map *h, const void *key, void *value)
{
    int rc = stackmap_lookup(h, key, value);
    return rc ? rc : stackmap_delete(h, key);
}

int stackmap_delete(struct bpftime_map *h, const void *key)
{
    uint32_t id;
    if (!check_id(h, key, &id))
        return bpftime_set_error(-E2BIG, "map %u: stack id %u out of range", h->id, id);
    int rc = 0;
    shm_lock(&h->m->lock);
    uint32_t old = buckets(h->data)[id];
    buckets(h->data)[id] = 0;
    if (old && old <= h->max_entries)
        free_push(h, old);
    else
        rc = bpftime_set_error(-ENOENT, "map %u: no stack with id %u", h->id, id);
    shm_unlock(&h->m->lock);
    return rc;
}

int stackmap_get_next_key(struct bpftime_map *h, const void *key, void *next)
{
    uint32_t nb = n_buckets(h->max_entries), id = 0;
    shm_lock(&h->m->lock);
    if (key) {
        memcpy(&id, key, 4);
        id = id >= nb || !buckets(h->data)[id] ? 0 : id + 1;
    }
    while (id < nb && !buckets(h->data)[id])
        id++;
    shm_unlock(&h->m->lock);
    if (id >= nb)
        return bpftime_set_error(-ENOENT, "map %u: no more stack ids", h->id);
    memcpy(next, &id, 4);
    return 0;
}
