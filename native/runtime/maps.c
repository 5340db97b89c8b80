/* Maps with the kernel's semantics: array, percpu_array, prog_array, hash,
 * percpu_hash, lru_hash, lru_percpu_hash, queue, stack, and the storage of
 * array_of_maps/hash_of_maps (their own rules: map_of_maps.c) (ringbuf and
 * perf_event_array storage is set up here, their records live in
 * ringbuf.c). Flags and errnos follow kernel/bpf/arraymap.c, hashtab.c and
 * queue_stack_maps.c. */
#include <stdlib.h>
#include <time.h>

#include "runtime/runtime_internal.h"

#define BPF_F_NO_PREALLOC (1u << 0)
#define HASH_MAX_LOCKS 256u
#define PERF_DEFAULT_BUF (64u * 1024u)

static bool is_percpu(uint32_t t)
{
    return bpftime_map_type_flags(t) & BPFTIME_MAP_F_PERCPU;
}
static bool is_hash(uint32_t t)
{
    return t == BPFTIME_MAP_HASH || t == BPFTIME_MAP_PERCPU_HASH || t == BPFTIME_MAP_LRU_HASH ||
           t == BPFTIME_MAP_LRU_PERCPU_HASH || t == BPFTIME_MAP_HASH_OF_MAPS;
}
static bool is_lru(uint32_t t)
{
    return t == BPFTIME_MAP_LRU_HASH || t == BPFTIME_MAP_LRU_PERCPU_HASH;
}
static bool is_array(uint32_t t)
{
    return t == BPFTIME_MAP_ARRAY || t == BPFTIME_MAP_PERCPU_ARRAY || t == BPFTIME_MAP_PROG_ARRAY ||
           t == BPFTIME_MAP_ARRAY_OF_MAPS;
}
static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}
static uint64_t roundup_pow2(uint64_t v)
{
    uint64_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

static const char *type_name(uint32_t t)
{
    const char *n = bpftime_map_type_name(t);
    return n ? n : "unknown";
}

/* map_flags the kernel accepts per map type (include/uapi/linux/bpf.h);
 * anything else is refused with its errno, so programs and scripts behave
 * the same here and there. Accepted flags that only tune the kernel's memory
 * (NUMA node, mmapable, zero seed, …) change nothing here. */
#define F_NO_PREALLOC (1u << 0)
#define F_NO_COMMON_LRU (1u << 1)
#define F_NUMA_NODE (1u << 2)
#define F_ACCESS_MASK \
    ((1u << 3) | (1u << 4) | (1u << 7) | (1u << 8)) /* RDONLY WRONLY RDONLY_PROG WRONLY_PROG */
#define F_RDONLY (1u << 3)
#define F_RDONLY_PROG (1u << 7)
#define F_ZERO_SEED (1u << 6)
#define F_MMAPABLE (1u << 10)
#define F_PRESERVE_ELEMS (1u << 11)
#define F_INNER_MAP (1u << 12)
#define PERCPU_MAX_VALUE (32u << 10)
#define ENOTSUPP_KERNEL 524 /* the kernel's internal ENOTSUPP, which bpf() returns */

static int check_flags(uint32_t type, uint32_t flags)
{
    uint32_t allowed;
    switch (type) {
    case BPFTIME_MAP_ARRAY:
    case BPFTIME_MAP_PERCPU_ARRAY:
        allowed = F_NUMA_NODE | F_ACCESS_MASK | F_INNER_MAP |
                  (type == BPFTIME_MAP_ARRAY ? F_MMAPABLE | F_PRESERVE_ELEMS : 0);
        break;
    case BPFTIME_MAP_PROG_ARRAY:
    case BPFTIME_MAP_PERF_EVENT_ARRAY:
        allowed = F_NUMA_NODE | F_ACCESS_MASK | F_PRESERVE_ELEMS | F_INNER_MAP;
        break;
    case BPFTIME_MAP_HASH:
    case BPFTIME_MAP_PERCPU_HASH:
        allowed = F_NO_PREALLOC | F_NUMA_NODE | F_ACCESS_MASK | F_ZERO_SEED;
        break;
    case BPFTIME_MAP_LRU_HASH:
    case BPFTIME_MAP_LRU_PERCPU_HASH:
        if (flags & F_NO_PREALLOC)
            return bpftime_set_error(
                -ENOTSUPP_KERNEL,
                "LRU maps are always preallocated: BPF_F_NO_PREALLOC is not supported");
        allowed = F_NO_COMMON_LRU | F_NUMA_NODE | F_ACCESS_MASK | F_ZERO_SEED;
        break;
    case BPFTIME_MAP_QUEUE:
    case BPFTIME_MAP_STACK: allowed = F_NUMA_NODE | F_ACCESS_MASK; break;
    case BPFTIME_MAP_RINGBUF: allowed = F_NUMA_NODE; break;
    case BPFTIME_MAP_BLOOM_FILTER: allowed = F_NUMA_NODE | F_ZERO_SEED | F_ACCESS_MASK; break;
    case BPFTIME_MAP_LPM_TRIE: allowed = F_NO_PREALLOC | F_NUMA_NODE | F_ACCESS_MASK; break;
    case BPFTIME_MAP_ARRAY_OF_MAPS: allowed = F_NUMA_NODE | F_ACCESS_MASK; break;
    case BPFTIME_MAP_HASH_OF_MAPS:
        allowed = F_NO_PREALLOC | F_NUMA_NODE | F_ACCESS_MASK | F_ZERO_SEED;
        break;
    default: return 0; /* the type itself is refused below */
    }
    if (flags & ~allowed)
        return bpftime_set_error(-EINVAL, "%s map does not accept map_flags 0x%x", type_name(type),
                                 flags & ~allowed);
    return 0;
}

int map_check_spec(struct bpftime_region *r, uint32_t type, uint32_t key_size, uint32_t value_size,
                   uint32_t *max_entries, uint32_t map_flags, uint64_t *map_extra)
{
    const char *tn = type_name(type);
    int rc = check_flags(type, map_flags);
    if (rc)
        return rc;
    switch (type) {
    case BPFTIME_MAP_ARRAY:
    case BPFTIME_MAP_PERCPU_ARRAY:
        if (key_size != 4 || value_size == 0 || *max_entries == 0)
            return bpftime_set_error(-EINVAL,
                                     "%s map needs key_size 4, value_size > 0, max_entries > 0 "
                                     "(got %u, %u, %u)",
                                     tn, key_size, value_size, *max_entries);
        break;
    case BPFTIME_MAP_PROG_ARRAY:
        if (key_size != 4 || value_size != 4 || *max_entries == 0)
            return bpftime_set_error(-EINVAL,
                                     "prog_array map needs key_size 4, value_size 4, "
                                     "max_entries > 0 (got %u, %u, %u)",
                                     key_size, value_size, *max_entries);
        break;
    case BPFTIME_MAP_HASH:
    case BPFTIME_MAP_PERCPU_HASH:
    case BPFTIME_MAP_LRU_HASH:
    case BPFTIME_MAP_LRU_PERCPU_HASH:
        /* Like the kernel, only programs are held to 512-byte keys (their
         * stack); the control plane may use larger ones. */
        if (key_size == 0 || value_size == 0 || *max_entries == 0)
            return bpftime_set_error(-EINVAL,
                                     "%s map needs key_size > 0, value_size > 0, "
                                     "max_entries > 0 (got %u, %u, %u)",
                                     tn, key_size, value_size, *max_entries);
        if ((uint64_t)key_size + value_size > (1u << 20))
            return bpftime_set_error(-E2BIG,
                                     "%s map key_size + value_size %llu is too large (max 1 MiB)",
                                     tn, (unsigned long long)key_size + value_size);
        break;
    case BPFTIME_MAP_QUEUE:
    case BPFTIME_MAP_STACK:
        if (key_size != 0 || value_size == 0 || *max_entries == 0)
            return bpftime_set_error(-EINVAL,
                                     "%s map needs key_size 0, value_size > 0, max_entries > 0 "
                                     "(got %u, %u, %u)",
                                     tn, key_size, value_size, *max_entries);
        break;
    case BPFTIME_MAP_RINGBUF:
        if (key_size != 0 || value_size != 0 || !is_pow2(*max_entries) ||
            *max_entries % SHM_PAGE != 0)
            return bpftime_set_error(-EINVAL,
                                     "ringbuf map needs key_size 0, value_size 0 and max_entries "
                                     "a power of two multiple of %u (got %u, %u, %u)",
                                     SHM_PAGE, key_size, value_size, *max_entries);
        break;
    case BPFTIME_MAP_BLOOM_FILTER:
        rc = bloom_check_spec(key_size, value_size, *max_entries, *map_extra);
        if (rc)
            return rc;
        break;
    case BPFTIME_MAP_STACK_TRACE:
        rc = stackmap_check_spec(key_size, value_size, *max_entries, map_flags);
        if (rc)
            return rc;
        break;
    case BPFTIME_MAP_LPM_TRIE:
        rc = lpm_check_spec(key_size, value_size, *max_entries, map_flags);
        if (rc)
            return rc;
        break;
    case BPFTIME_MAP_ARRAY_OF_MAPS:
    case BPFTIME_MAP_HASH_OF_MAPS:
        /* values are inner map ids (fds from user space), as the kernel */
        if (value_size != 4 || key_size == 0 || *max_entries == 0 ||
            (type == BPFTIME_MAP_ARRAY_OF_MAPS && key_size != 4))
            return bpftime_set_error(-EINVAL,
                                     "%s map needs key_size %s, value_size 4 (an inner map id), "
                                     "max_entries > 0 (got %u, %u, %u)",
                                     tn, type == BPFTIME_MAP_ARRAY_OF_MAPS ? "4" : "> 0", key_size,
                                     value_size, *max_entries);
        break;
    case BPFTIME_MAP_PERF_EVENT_ARRAY:
        if (key_size != 4 || value_size != 4)
            return bpftime_set_error(-EINVAL,
                                     "perf_event_array map needs key_size 4 and value_size 4 "
                                     "(got %u, %u)",
                                     key_size, value_size);
        if (*max_entries == 0 || *max_entries > r->ncpus)
            *max_entries = r->ncpus;
        if (*map_extra == 0)
            *map_extra = PERF_DEFAULT_BUF;
        if (!is_pow2(*map_extra) || *map_extra % SHM_PAGE != 0)
            return bpftime_set_error(-EINVAL,
                                     "perf_event_array per-CPU buffer (map_extra) must be a power "
                                     "of two multiple of %u (got %llu)",
                                     SHM_PAGE, (unsigned long long)*map_extra);
        break;
    default: {
        char names[512] = "";
        size_t len = 0;
        for (uint32_t t = 0; t < 256 && len < sizeof names; t++)
            if (bpftime_map_type_flags(t) & BPFTIME_MAP_F_IMPL)
                len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "",
                                        bpftime_map_type_name(t));
        return bpftime_set_error(-EINVAL, "map type %u (%s) is not supported (supported: %s)", type,
                                 tn, names);
    }
    }
    if ((uint64_t)value_size > (1u << 20))
        return bpftime_set_error(-E2BIG, "%s map value_size %u is too large (max 1 MiB)", tn,
                                 value_size);
    /* The kernel's per-CPU allocator caps each CPU's value at 32 KiB. */
    if (is_percpu(type) && value_size > PERCPU_MAX_VALUE)
        return bpftime_set_error(-E2BIG,
                                 "%s map value_size %u is too large for a per-CPU value (max %u)",
                                 tn, value_size, PERCPU_MAX_VALUE);
    return 0;
}

static uint64_t value_area(struct bpftime_region *r, const struct shm_map *m)
{
    return round_up8(m->value_size) * (is_percpu(m->type) ? r->ncpus : 1);
}

static int no_room(struct bpftime_region *r, const struct shm_map *m, uint64_t bytes)
{
    return bpftime_set_error(
        -ENOMEM,
        "region %s has no room for %s map %s (%llu bytes): create the region larger "
        "(`bpftime shm create --size`) or lower max_entries",
        r->name, type_name(m->type), m->name, (unsigned long long)bytes);
}

static uint64_t checked_mul(uint64_t a, uint64_t b)
{
    if (a && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

/* The hash storage of a map: header, locks, buckets, then the element
 * pool, in one block (map_storage_init lays it out, the checks recompute it). */
struct hash_geom {
    uint64_t nb, nl, key_stride, esz, hdr, locks, bytes, pool;
};

static struct hash_geom hash_geom(struct bpftime_region *r, const struct shm_map *m)
{
    struct hash_geom g;
    g.nb = roundup_pow2(m->max_entries);
    g.nl = is_lru(m->type) ? 1 : (g.nb < HASH_MAX_LOCKS ? g.nb : HASH_MAX_LOCKS);
    g.key_stride = round_up8(m->key_size);
    g.esz = SHM_HASH_ELEM_HDR + g.key_stride + value_area(r, m);
    g.hdr = round_up8(sizeof(struct shm_hash));
    g.locks = g.nl * sizeof(shm_mutex_t);
    g.bytes = g.hdr + round_up8(g.locks) + g.nb * 8;
    g.pool = checked_mul(g.esz, m->max_entries);
    return g;
}

uint64_t map_storage_need(struct bpftime_region *r, const struct shm_map *m)
{
    if (is_array(m->type))
        return checked_mul(m->max_entries, value_area(r, m));
    if (is_hash(m->type)) {
        struct hash_geom g = hash_geom(r, m);
        return g.pool > UINT64_MAX - g.bytes ? UINT64_MAX : g.bytes + g.pool;
    }
    if (m->type == BPFTIME_MAP_QUEUE || m->type == BPFTIME_MAP_STACK)
        return SHM_QUEUE_HDR + checked_mul((uint64_t)m->max_entries + 1, m->value_size);
    if (m->type == BPFTIME_MAP_RINGBUF)
        return rb_core_size(m->max_entries);
    if (m->type == BPFTIME_MAP_BLOOM_FILTER)
        return bloom_storage_need(m);
    if (m->type == BPFTIME_MAP_STACK_TRACE)
        return stackmap_storage_need(m);
    if (m->type == BPFTIME_MAP_LPM_TRIE)
        return lpm_storage_need(m);
    return checked_mul(rb_core_size(m->map_extra), m->max_entries);
}

/* m passed map_entry_check: its storage block lies inside the heap. */
int map_storage_check(struct bpftime_region *r, const struct shm_map *m)
{
    uint64_t off = m->data_off;
    if (is_hash(m->type)) {
        struct hash_geom g = hash_geom(r, m);
        const struct shm_hash *hh = rt_ptr(r, off);
        uint64_t locks_off = off + g.hdr, buckets_off = locks_off + round_up8(g.locks);
        if (hh->n_buckets != g.nb || hh->n_locks != g.nl || hh->elem_size != g.esz ||
            hh->key_stride != g.key_stride || hh->locks_off != locks_off ||
            hh->buckets_off != buckets_off || hh->elems_off != buckets_off + g.nb * 8)
            return rt_damaged(r, "map %u: its hash table header does not match the map", m->id);
    } else if (m->type == BPFTIME_MAP_QUEUE || m->type == BPFTIME_MAP_STACK) {
        const struct shm_queue *q = rt_ptr(r, off);
        if (q->size != m->max_entries + 1 || q->head >= q->size || q->tail >= q->size)
            return rt_damaged(r, "map %u: its queue positions are out of range", m->id);
    } else if (m->type == BPFTIME_MAP_BLOOM_FILTER) {
        return bloom_storage_check(r, m, rt_ptr(r, off));
    } else if (m->type == BPFTIME_MAP_STACK_TRACE) {
        return stackmap_storage_check(r, m, rt_ptr(r, off));
    } else if (m->type == BPFTIME_MAP_LPM_TRIE) {
        return lpm_storage_check(r, m, rt_ptr(r, off));
    } else if (m->type == BPFTIME_MAP_RINGBUF) {
        if (!rb_core_ok(rt_ptr(r, off), m->max_entries, 0))
            return rt_damaged(r, "map %u: its ring buffer header does not match the map", m->id);
    } else if (m->type == BPFTIME_MAP_PERF_EVENT_ARRAY) {
        uint64_t core = rb_core_size(m->map_extra);
        for (uint32_t c = 0; c < m->max_entries; c++)
            if (!rb_core_ok(rt_ptr(r, off + c * core), m->map_extra, -(int64_t)(c * core)))
                return rt_damaged(r, "map %u: the ring buffer of cpu %u does not match the map",
                                  m->id, c);
    }
    return 0;
}

int map_storage_init(struct bpftime_region *r, struct shm_map *m)
{
    uint64_t bytes, off;
    if (is_array(m->type)) {
        bytes = checked_mul(m->max_entries, value_area(r, m));
        /* BPF_F_MMAPABLE: applications mmap the values (libbpf's .bss and
         * .data under `bpftime load -- APP`), so they start on a page. */
        bool mmapable = (m->map_flags & F_MMAPABLE) != 0;
        if (bytes >= r->size || !(off = shm_alloc_ex(r, bytes, mmapable)))
            return no_room(r, m, bytes);
    } else if (is_hash(m->type)) {
        uint64_t nb = roundup_pow2(m->max_entries);
        uint32_t nl = is_lru(m->type) ? 1 : (uint32_t)(nb < HASH_MAX_LOCKS ? nb : HASH_MAX_LOCKS);
        uint64_t key_stride = round_up8(m->key_size);
        uint64_t esz = SHM_HASH_ELEM_HDR + key_stride + value_area(r, m);
        uint64_t hdr = round_up8(sizeof(struct shm_hash));
        uint64_t locks = (uint64_t)nl * sizeof(shm_mutex_t);
        bytes = hdr + round_up8(locks) + nb * 8;
        uint64_t pool = checked_mul(esz, m->max_entries);
        if (pool >= r->size || bytes + pool >= r->size || !(off = shm_alloc(r, bytes + pool)))
            return no_room(r, m, bytes + pool);
        struct shm_hash *h = rt_ptr(r, off);
        h->n_buckets = (uint32_t)nb;
        h->n_locks = nl;
        h->elem_size = (uint32_t)esz;
        h->key_stride = (uint32_t)key_stride;
        h->locks_off = off + hdr;
        h->buckets_off = h->locks_off + round_up8(locks);
        h->elems_off = h->buckets_off + nb * 8;
        shm_mutex_init(&h->free_lock);
        shm_mutex_t *lk = rt_ptr(r, h->locks_off);
        for (uint32_t i = 0; i < nl; i++)
            shm_mutex_init(&lk[i]);
        uint64_t *b = rt_ptr(r, h->buckets_off);
        for (uint64_t i = 0; i < nb; i++)
            b[i] = (i << 1) | 1; /* nulls marker of bucket i */
        /* free list through lru_next, in pool order */
        h->free_head = h->elems_off;
        for (uint32_t i = 0; i < m->max_entries; i++) {
            struct shm_hash_elem *e = rt_ptr(r, h->elems_off + (uint64_t)i * esz);
            e->lru_next = i + 1 < m->max_entries ? h->elems_off + (uint64_t)(i + 1) * esz : 0;
            atomic_store_explicit(&e->next, 1, memory_order_relaxed);
        }
        bytes += pool;
    } else if (m->type == BPFTIME_MAP_QUEUE || m->type == BPFTIME_MAP_STACK) {
        uint64_t slots = (uint64_t)m->max_entries + 1;
        bytes = SHM_QUEUE_HDR + checked_mul(slots, m->value_size);
        if (bytes >= r->size || !(off = shm_alloc(r, bytes)))
            return no_room(r, m, bytes);
        struct shm_queue *q = rt_ptr(r, off);
        q->size = (uint32_t)slots;
    } else if (m->type == BPFTIME_MAP_RINGBUF) {
        bytes = rb_core_size(m->max_entries);
        if (bytes >= r->size || !(off = shm_alloc_ex(r, bytes, true)))
            return no_room(r, m, bytes);
        rb_core_init(rt_ptr(r, off), m->max_entries, NULL);
    } else if (m->type == BPFTIME_MAP_BLOOM_FILTER) {
        bytes = bloom_storage_need(m);
        if (bytes >= r->size || !(off = shm_alloc(r, bytes)))
            return no_room(r, m, bytes);
        bloom_storage_init(rt_ptr(r, off), m);
    } else if (m->type == BPFTIME_MAP_STACK_TRACE) {
        bytes = stackmap_storage_need(m);
        if (bytes >= r->size || !(off = shm_alloc(r, bytes)))
            return no_room(r, m, bytes);
        stackmap_storage_init(rt_ptr(r, off), m);
    } else if (m->type == BPFTIME_MAP_LPM_TRIE) {
        bytes = lpm_storage_need(m);
        if (bytes >= r->size || !(off = shm_alloc(r, bytes)))
            return no_room(r, m, bytes);
    } else { /* perf_event_array: one ringbuf core per CPU, one wake word */
        uint64_t core = rb_core_size(m->map_extra);
        bytes = checked_mul(core, m->max_entries);
        if (bytes >= r->size || !(off = shm_alloc_ex(r, bytes, true)))
            return no_room(r, m, bytes);
        struct shm_ringbuf *first = rt_ptr(r, off);
        for (uint32_t c = 0; c < m->max_entries; c++)
            rb_core_init(rt_ptr(r, off + c * core), m->map_extra, first);
    }
    m->data_off = off;
    m->data_size = bytes;
    return 0;
}

void map_storage_free(struct bpftime_region *r, struct shm_map *m)
{
    shm_free(r, m->data_off);
}

const uint8_t *map_value_slot(struct bpftime_region *r, const struct shm_map *m, uint32_t i)
{
    if (i >= m->max_entries)
        return NULL;
    if (is_array(m->type))
        return rt_ptr(r, m->data_off + (uint64_t)i * value_area(r, m));
    if (!is_hash(m->type))
        return NULL;
    struct hash_geom g = hash_geom(r, m);
    const struct shm_hash_elem *e = rt_ptr(r, m->data_off + g.bytes + (uint64_t)i * g.esz);
    if (!__atomic_load_n(&e->in_use, __ATOMIC_ACQUIRE))
        return NULL;
    return (const uint8_t *)e + SHM_HASH_ELEM_HDR + g.key_stride;
}

int map_handle_init(struct bpftime_region *r, struct shm_map *m, struct bpftime_map *h)
{
    int rc = map_entry_check(r, m);
    if (!rc)
        rc = map_storage_check(r, m);
    if (rc)
        return rc;
    h->magic = MAP_HANDLE_MAGIC;
    h->id = m->id;
    h->r = r;
    h->m = m;
    h->type = m->type;
    h->key_size = m->key_size;
    h->value_size = m->value_size;
    h->max_entries = m->max_entries;
    h->ncpus = r->ncpus;
    h->stride = (uint32_t)round_up8(m->value_size);
    h->percpu = is_percpu(m->type);
    h->data = rt_ptr(r, m->data_off);
    if (is_hash(m->type)) {
        struct hash_geom g = hash_geom(r, m);
        h->hash = (struct shm_hash *)h->data;
        h->n_buckets = (uint32_t)g.nb;
        h->n_locks = (uint32_t)g.nl;
        h->key_stride = (uint32_t)g.key_stride;
        h->elem_size = (uint32_t)g.esz;
        h->locks = (shm_mutex_t *)(void *)(h->data + g.hdr);
        h->buckets = (_Atomic uint64_t *)(void *)(h->data + g.hdr + round_up8(g.locks));
        h->elems_lo = m->data_off + g.bytes;
        h->elems_last = h->elems_lo + (uint64_t)(m->max_entries - 1) * g.esz;
    }
    if (m->type == BPFTIME_MAP_RINGBUF || m->type == BPFTIME_MAP_PERF_EVENT_ARRAY)
        h->rb = (struct shm_ringbuf *)h->data;
    if (m->type == BPFTIME_MAP_PERF_EVENT_ARRAY)
        h->rb_core_size = rb_core_size(m->map_extra);
    return 0;
}

/* Under r->local_lock. The handle is retired, not freed: a VM of this
 * process set up before the map went may still hold its address (helpers
 * then see a dead handle and fail instead of touching freed memory). */
void map_handle_drop(struct bpftime_region *r, uint32_t slot)
{
    struct bpftime_map *h = r->maps[slot];
    if (h) {
        h->magic = 0;
        h->retired_next = r->retired_maps;
        r->retired_maps = h;
        r->maps[slot] = NULL;
    }
}

static int this_cpu(const struct bpftime_map *h)
{
    return rt_current_cpu(h->ncpus);
}

/* Copies a value area: control plane moves all CPUs' slots, a program only
 * its own CPU's (new per-CPU elements from a program start zeroed on the
 * other CPUs, as pcpu_init_value). */
static void value_in(const struct bpftime_map *h, uint8_t *dst, const void *src, bool from_prog,
                     bool fresh)
{
    if (!h->percpu) {
        memcpy(dst, src, h->value_size);
        return;
    }
    if (from_prog) {
        int c = this_cpu(h);
        if (fresh)
            memset(dst, 0, (size_t)h->stride * h->ncpus);
        memcpy(dst + (size_t)c * h->stride, src, h->value_size);
        return;
    }
    /* The control plane moves whole 8-byte-rounded slots, padding included,
     * as the kernel's bpf_percpu_*_update/copy do. */
    memcpy(dst, src, (size_t)h->stride * h->ncpus);
}

static void value_out(const struct bpftime_map *h, void *dst, const uint8_t *src)
{
    if (!h->percpu) {
        memcpy(dst, src, h->value_size);
        return;
    }
    memcpy(dst, src, (size_t)h->stride * h->ncpus);
}

static size_t value_area_h(const struct bpftime_map *h)
{
    return (size_t)h->stride * (h->percpu ? h->ncpus : 1);
}

/* ---- arrays ---- */

static uint8_t *array_elem(const struct bpftime_map *h, uint32_t idx)
{
    return h->data + (size_t)idx * value_area_h(h);
}

/* ---- prog_array owner type ----
 * As the kernel (bpf_prog_map_compatible): the programs a prog_array holds
 * share one type, so a tail call never hands a context to a program built
 * for another (an XDP context read as a tracepoint's would leak the host's
 * stack). The owner is the type of the first program (lowest id) whose
 * bytecode references the array, else of the programs it already holds. */

/* A program type for messages (prog_types.def): kprobe's id also covers
 * uprobes, kretprobes and uretprobes. */
static const char *prog_type_text(uint32_t type)
{
    const char *n = bpftime_prog_type_name(type);
    if (type == BPFTIME_PROG_KPROBE)
        return "kprobe/uprobe";
    return n ? n : "unknown";
}

/* Does p reference map_id in an lddw (map pointer or map value)? Under table_lock. */
static bool prog_uses_map(struct bpftime_region *r, const struct shm_prog *p, uint32_t map_id)
{
    const uint8_t *insns = rt_ptr(r, p->insns_off);
    const uint32_t *ids = rt_ptr(r, p->map_ids_off);
    if (!insns || !ids)
        return false;
    for (uint32_t i = 0; i + 1 < p->insn_cnt; i++) {
        const uint8_t *in = insns + (size_t)i * 8;
        if (in[0] != 0x18)
            continue;
        uint32_t src = in[1] >> 4, imm;
        memcpy(&imm, in + 4, 4);
        if ((src == 1 || src == 2 || src == 5 || src == 6) && imm < p->nr_maps &&
            ids[imm] == map_id)
            return true;
        i++; /* second half of the lddw */
    }
    return false;
}

/* The owner type of prog_array h, ignoring slot `skip`; 0 if it has none. Under table_lock. */
uint32_t prog_array_owner(struct bpftime_map *h, uint32_t skip)
{
    struct bpftime_region *r = h->r;
    uint32_t best_id = 0, type = 0;
    for (uint32_t i = 0; i < r->hdr->table_cap[KIND_PROG]; i++) {
        const struct shm_prog *p = table_slot(r, KIND_PROG, i);
        if (p->id && (!best_id || p->id < best_id) && prog_uses_map(r, p, h->id)) {
            best_id = p->id;
            type = p->type;
        }
    }
    if (best_id)
        return type;
    for (uint32_t i = 0; i < h->max_entries; i++) {
        if (i == skip)
            continue;
        uint32_t id = __atomic_load_n((uint32_t *)(void *)array_elem(h, i), __ATOMIC_ACQUIRE);
        const struct shm_prog *p = id ? prog_entry_by_id(r, id) : NULL;
        if (p)
            return p->type;
    }
    return 0;
}

static int array_update(struct bpftime_map *h, const void *key, const void *value, uint64_t flags,
                        bool from_prog)
{
    uint32_t idx;
    memcpy(&idx, key, 4);
    if (flags > BPFTIME_EXIST)
        return bpftime_set_error(-EINVAL, "map %u: unknown update flags 0x%llx", h->id,
                                 (unsigned long long)flags);
    if (idx >= h->max_entries)
        return bpftime_set_error(-E2BIG, "map %u: index %u out of range (max_entries %u)", h->id,
                                 idx, h->max_entries);
    if (flags == BPFTIME_NOEXIST)
        return bpftime_set_error(-EEXIST, "map %u: array elements always exist (BPF_NOEXIST)",
                                 h->id);
    if (h->type == BPFTIME_MAP_PROG_ARRAY) {
        uint32_t prog;
        memcpy(&prog, value, 4);
        if (from_prog)
            return bpftime_set_error(-EINVAL, "prog_array map %u cannot be updated from a program",
                                     h->id);
        shm_lock(&h->r->hdr->table_lock);
        const struct shm_prog *p = prog_entry_by_id(h->r, prog);
        uint32_t type = p ? p->type : 0;
        uint32_t owner = p ? prog_array_owner(h, idx) : 0;
        if (p && (!owner || owner == type))
            __atomic_store_n((uint32_t *)(void *)array_elem(h, idx), prog, __ATOMIC_RELEASE);
        shm_unlock(&h->r->hdr->table_lock);
        if (!p)
            return bpftime_set_error(-EINVAL, "prog_array map %u: no program with id %u", h->id,
                                     prog);
        if (owner && owner != type)
            return bpftime_set_error(
                -EINVAL,
                "prog_array map %u holds %s programs; program %u is %s: a tail call "
                "cannot change the program type (store only %s programs in it)",
                h->id, prog_type_text(owner), prog, prog_type_text(type), prog_type_text(owner));
        gen_bump(h->r); /* data planes compile the new tail-call target */
        return 0;
    }
    if (h->type == BPFTIME_MAP_ARRAY_OF_MAPS) { /* an inner map id, read lock-free */
        uint32_t inner;
        memcpy(&inner, value, 4);
        __atomic_store_n((uint32_t *)(void *)array_elem(h, idx), inner, __ATOMIC_RELEASE);
        return 0;
    }
    /* plain copy, as the kernel (no lock for array values) */
    value_in(h, array_elem(h, idx), value, from_prog, false);
    return 0;
}

static int array_get_next_key(struct bpftime_map *h, const void *key, void *next)
{
    uint32_t idx = 0;
    if (key)
        memcpy(&idx, key, 4);
    if (!key || idx >= h->max_entries) {
        idx = 0;
    } else {
        if (idx + 1 >= h->max_entries)
            return bpftime_set_error(-ENOENT, "map %u: no key after %u", h->id, idx);
        idx++;
    }
    memcpy(next, &idx, 4);
    return 0;
}

/* ---- hash maps ---- */

static uint32_t hash_key(const void *key, uint32_t len)
{
    /* FNV-1a over bytes, then a murmur finaliser for the bucket bits */
    const uint8_t *p = key;
    uint64_t x = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < len; i++)
        x = (x ^ p[i]) * 0x100000001b3ull;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}

#define IS_NULLS(v) ((v)&1)
#define NULLS(b) ((((uint64_t)(b)) << 1) | 1)

/* An element offset read from shared memory (chain, free list, LRU list):
 * NULL unless it lies in this map's element pool. */
static struct shm_hash_elem *elem_at(const struct bpftime_map *h, uint64_t off)
{
    if (off < h->elems_lo || off > h->elems_last)
        return NULL;
    return (struct shm_hash_elem *)(h->r->base + off);
}
static uint8_t *elem_key(struct shm_hash_elem *e)
{
    return (uint8_t *)e + SHM_HASH_ELEM_HDR;
}
static uint8_t *elem_value(const struct bpftime_map *h, struct shm_hash_elem *e)
{
    return (uint8_t *)e + SHM_HASH_ELEM_HDR + h->key_stride;
}
static _Atomic uint64_t *bucket_at(const struct bpftime_map *h, uint32_t b)
{
    return h->buckets + (b & (h->n_buckets - 1));
}
static shm_mutex_t *bucket_lock(const struct bpftime_map *h, uint32_t b)
{
    return &h->locks[b & (h->n_locks - 1)];
}

/* A chain is at most max_entries long and a restart follows a concurrent
 * recycle: walks past these bounds are a damaged (cyclic) chain, which we
 * treat as its end rather than spin forever. */
#define HASH_MAX_RESTARTS 1024u

/* Lock-free lookup over the nulls list (also used under the lock). */
static struct shm_hash_elem *hash_find(const struct bpftime_map *h, const void *key, uint32_t hv)
{
    uint32_t b = hv & (h->n_buckets - 1), restarts = 0;
again:;
    uint64_t v = atomic_load_explicit(bucket_at(h, b), memory_order_acquire);
    for (uint32_t steps = 0; !IS_NULLS(v); steps++) {
        struct shm_hash_elem *e = elem_at(h, v);
        if (!e || steps > h->max_entries)
            return NULL;
        if (e->hash == hv && memcmp(elem_key(e), key, h->key_size) == 0)
            return e;
        v = atomic_load_explicit(&e->next, memory_order_acquire);
    }
    if (v != NULLS(b) && ++restarts < HASH_MAX_RESTARTS)
        goto again; /* followed a recycled element into another chain */
    return NULL;
}

static struct shm_hash_elem *pool_pop(struct bpftime_map *h)
{
    struct shm_hash *hh = h->hash;
    shm_lock(&hh->free_lock);
    uint64_t off = hh->free_head;
    struct shm_hash_elem *e = NULL;
    if (off && (e = elem_at(h, off)) != NULL)
        hh->free_head = e->lru_next;
    shm_unlock(&hh->free_lock);
    return e;
}

static void pool_push(struct bpftime_map *h, struct shm_hash_elem *e)
{
    struct shm_hash *hh = h->hash;
    shm_lock(&hh->free_lock);
    e->lru_next = hh->free_head;
    hh->free_head = rt_off(h->r, e);
    shm_unlock(&hh->free_lock);
}

/* LRU list, under locks[0] (the LRU map's only lock). Head = most recent. */
static void lru_unlink(struct bpftime_map *h, struct shm_hash_elem *e)
{
    struct shm_hash *hh = h->hash;
    uint64_t off = rt_off(h->r, e);
    struct shm_hash_elem *prev = elem_at(h, e->lru_prev), *next = elem_at(h, e->lru_next);
    if (prev)
        prev->lru_next = e->lru_next;
    else if (hh->lru_head == off)
        hh->lru_head = e->lru_next;
    if (next)
        next->lru_prev = e->lru_prev;
    else if (hh->lru_tail == off)
        hh->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = 0;
}

static void lru_push_front(struct bpftime_map *h, struct shm_hash_elem *e)
{
    struct shm_hash *hh = h->hash;
    uint64_t off = rt_off(h->r, e);
    e->lru_prev = 0;
    e->lru_next = hh->lru_head;
    struct shm_hash_elem *head = elem_at(h, hh->lru_head);
    if (head)
        head->lru_prev = off;
    hh->lru_head = off;
    if (!hh->lru_tail)
        hh->lru_tail = off;
}

/* Unlinks e from its bucket chain (under that bucket's lock). The element
 * keeps its next so lock-free readers standing on it can move on. */
static bool chain_unlink(struct bpftime_map *h, struct shm_hash_elem *e)
{
    _Atomic uint64_t *pp = bucket_at(h, e->hash);
    uint64_t target = rt_off(h->r, e);
    uint64_t v = atomic_load_explicit(pp, memory_order_relaxed);
    for (uint32_t steps = 0; !IS_NULLS(v); steps++) {
        struct shm_hash_elem *cur = elem_at(h, v);
        if (!cur || steps > h->max_entries)
            return false;
        if (v == target) {
            atomic_store_explicit(pp, atomic_load_explicit(&cur->next, memory_order_relaxed),
                                  memory_order_release);
            return true;
        }
        pp = &cur->next;
        v = atomic_load_explicit(pp, memory_order_relaxed);
    }
    return false;
}

static int hash_update(struct bpftime_map *h, const void *key, const void *value, uint64_t flags,
                       bool from_prog)
{
    if (flags > BPFTIME_EXIST)
        return bpftime_set_error(-EINVAL, "map %u: unknown update flags 0x%llx", h->id,
                                 (unsigned long long)flags);
    bool lru = is_lru(h->type);
    uint32_t hv = hash_key(key, h->key_size);
    uint32_t b = hv & (h->n_buckets - 1);
    shm_mutex_t *lk = bucket_lock(h, b);
    int rc = 0;
    shm_lock(lk);
    struct shm_hash_elem *e = hash_find(h, key, hv);
    if (e) {
        if (flags == BPFTIME_NOEXIST) {
            rc = bpftime_set_error(-EEXIST, "map %u: key exists (BPF_NOEXIST)", h->id);
        } else {
            value_in(h, elem_value(h, e), value, from_prog, false);
            if (lru) {
                lru_unlink(h, e);
                lru_push_front(h, e);
            }
        }
        goto out;
    }
    if (flags == BPFTIME_EXIST) {
        rc = bpftime_set_error(-ENOENT, "map %u: key does not exist (BPF_EXIST)", h->id);
        goto out;
    }
    e = pool_pop(h);
    if (!e && lru && (e = elem_at(h, h->hash->lru_tail)) != NULL) {
        /* evict the least recently used element (same lock covers all) */
        lru_unlink(h, e);
        chain_unlink(h, e);
        atomic_fetch_sub(&h->hash->count, 1);
    }
    if (!e) {
        rc = bpftime_set_error(-E2BIG, "map %u is full (max_entries %u)", h->id, h->max_entries);
        goto out;
    }
    e->hash = hv;
    e->in_use = 1;
    memcpy(elem_key(e), key, h->key_size);
    value_in(h, elem_value(h, e), value, from_prog, true);
    _Atomic uint64_t *head = bucket_at(h, b);
    atomic_store_explicit(&e->next, atomic_load_explicit(head, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(head, rt_off(h->r, e), memory_order_release);
    if (lru)
        lru_push_front(h, e);
    atomic_fetch_add(&h->hash->count, 1);
out:
    shm_unlock(lk);
    return rc;
}

static int hash_delete(struct bpftime_map *h, const void *key, void *out)
{
    uint32_t hv = hash_key(key, h->key_size);
    uint32_t b = hv & (h->n_buckets - 1);
    shm_mutex_t *lk = bucket_lock(h, b);
    shm_lock(lk);
    struct shm_hash_elem *e = hash_find(h, key, hv);
    if (!e) {
        shm_unlock(lk);
        return bpftime_set_error(-ENOENT, "map %u: no such key", h->id);
    }
    if (out)
        value_out(h, out, elem_value(h, e));
    chain_unlink(h, e);
    if (is_lru(h->type))
        lru_unlink(h, e);
    e->in_use = 0;
    atomic_fetch_sub(&h->hash->count, 1);
    pool_push(h, e);
    shm_unlock(lk);
    return 0;
}

static int hash_get_next_key(struct bpftime_map *h, const void *key, void *next)
{
    uint32_t start = 0;
    if (key) {
        uint32_t hv = hash_key(key, h->key_size);
        uint32_t b = hv & (h->n_buckets - 1);
        shm_mutex_t *lk = bucket_lock(h, b);
        shm_lock(lk);
        struct shm_hash_elem *e = hash_find(h, key, hv);
        if (e) {
            struct shm_hash_elem *n = elem_at(h, atomic_load(&e->next));
            if (n) {
                memcpy(next, elem_key(n), h->key_size);
                shm_unlock(lk);
                return 0;
            }
            start = b + 1;
        }
        /* key not found: start over from the first key, as the kernel */
        shm_unlock(lk);
    }
    for (uint32_t b = start; b < h->n_buckets; b++) {
        if (IS_NULLS(atomic_load_explicit(bucket_at(h, b), memory_order_acquire)))
            continue;
        shm_mutex_t *lk = bucket_lock(h, b);
        shm_lock(lk);
        struct shm_hash_elem *first = elem_at(h, atomic_load(bucket_at(h, b)));
        if (first) {
            memcpy(next, elem_key(first), h->key_size);
            shm_unlock(lk);
            return 0;
        }
        shm_unlock(lk);
    }
    return bpftime_set_error(-ENOENT, "map %u: no more keys", h->id);
}

/* ---- queue / stack ---- */

static int qs_push(struct bpftime_map *h, const void *value, uint64_t flags)
{
    if ((flags & BPFTIME_NOEXIST) || flags > BPFTIME_EXIST)
        return bpftime_set_error(-EINVAL, "map %u: push flags must be BPF_ANY or BPF_EXIST", h->id);
    struct shm_queue *q = (struct shm_queue *)h->data;
    uint8_t *slots = h->data + SHM_QUEUE_HDR;
    int rc = 0;
    uint32_t size = h->max_entries + 1;
    shm_lock(&h->m->lock);
    if (q->head >= size || q->tail >= size) {
        rc = rt_damaged(h->r, "map %u: its queue positions are out of range", h->id);
        goto out;
    }
    if ((q->head + 1) % size == q->tail) {
        if (!(flags & BPFTIME_EXIST)) {
            rc =
                bpftime_set_error(-E2BIG, "map %u is full (max_entries %u)", h->id, h->max_entries);
            goto out;
        }
        q->tail = (q->tail + 1) % size; /* overwrite: drop the oldest */
    }
    memcpy(slots + (size_t)q->head * h->value_size, value, h->value_size);
    q->head = (q->head + 1) % size;
out:
    shm_unlock(&h->m->lock);
    return rc;
}

static int qs_pop(struct bpftime_map *h, void *value, bool remove)
{
    struct shm_queue *q = (struct shm_queue *)h->data;
    uint8_t *slots = h->data + SHM_QUEUE_HDR;
    int rc = 0;
    uint32_t size = h->max_entries + 1;
    shm_lock(&h->m->lock);
    if (q->head >= size || q->tail >= size) {
        rc = rt_damaged(h->r, "map %u: its queue positions are out of range", h->id);
        goto out;
    }
    if (q->head == q->tail) {
        rc = bpftime_set_error(-ENOENT, "map %u is empty", h->id);
        goto out;
    }
    uint32_t idx;
    if (h->type == BPFTIME_MAP_QUEUE) {
        idx = q->tail;
        if (remove)
            q->tail = (q->tail + 1) % size;
    } else {
        idx = q->head == 0 ? size - 1 : q->head - 1;
        if (remove)
            q->head = idx;
    }
    memcpy(value, slots + (size_t)idx * h->value_size, h->value_size);
out:
    shm_unlock(&h->m->lock);
    return rc;
}

/* ---- handle-level API ---- */

static bool handle_ok(const struct bpftime_map *h)
{
    return h && h->magic == MAP_HANDLE_MAGIC;
}

static int unsupported(const struct bpftime_map *h, const char *op)
{
    return bpftime_set_error(-EOPNOTSUPP, "%s map %u does not support %s", type_name(h->type),
                             h->id, op);
}

/* cpu < 0: the calling CPU (per-CPU maps) */
static void *lookup_ptr_cpu(struct bpftime_map *h, const void *key, int cpu)
{
    if (!handle_ok(h))
        return NULL;
    if (h->percpu) {
        if (cpu < 0)
            cpu = this_cpu(h);
        else if ((uint32_t)cpu >= h->ncpus)
            return NULL;
    }
    size_t cpu_off = h->percpu ? (size_t)cpu * h->stride : 0;
    switch (h->type) {
    case BPFTIME_MAP_ARRAY:
    case BPFTIME_MAP_PERCPU_ARRAY: {
        uint32_t idx;
        memcpy(&idx, key, 4);
        if (idx >= h->max_entries)
            return NULL;
        return array_elem(h, idx) + cpu_off;
    }
    case BPFTIME_MAP_HASH:
    case BPFTIME_MAP_PERCPU_HASH: {
        struct shm_hash_elem *e = hash_find(h, key, hash_key(key, h->key_size));
        return e ? elem_value(h, e) + cpu_off : NULL;
    }
    case BPFTIME_MAP_LRU_HASH:
    case BPFTIME_MAP_LRU_PERCPU_HASH: {
        uint32_t hv = hash_key(key, h->key_size);
        shm_mutex_t *lk = bucket_lock(h, hv);
        shm_lock(lk);
        struct shm_hash_elem *e = hash_find(h, key, hv);
        uint8_t *v = NULL;
        if (e) {
            lru_unlink(h, e);
            lru_push_front(h, e);
            v = elem_value(h, e) + cpu_off;
        }
        shm_unlock(lk);
        return v;
    }
    case BPFTIME_MAP_LPM_TRIE: return lpm_lookup_ptr(h, key);
    case BPFTIME_MAP_ARRAY_OF_MAPS: {
        uint32_t idx;
        memcpy(&idx, key, 4);
        return idx < h->max_entries ? outer_lookup_handle(h, array_elem(h, idx)) : NULL;
    }
    case BPFTIME_MAP_HASH_OF_MAPS: {
        struct shm_hash_elem *e = hash_find(h, key, hash_key(key, h->key_size));
        return outer_lookup_handle(h, e ? elem_value(h, e) : NULL);
    }
    default: return NULL;
    }
}

void *bpftime_map_lookup_ptr(struct bpftime_map *h, const void *key)
{
    return lookup_ptr_cpu(h, key, -1);
}

void *bpftime_map_lookup_percpu_ptr(struct bpftime_map *h, const void *key, uint32_t cpu)
{
    if (!handle_ok(h) || !h->percpu || cpu > INT_MAX)
        return NULL;
    return lookup_ptr_cpu(h, key, (int)cpu);
}

int bpftime_map_h_update(struct bpftime_map *h, const void *key, const void *value, uint64_t flags,
                         bool from_prog)
{
    if (!handle_ok(h))
        return bpftime_set_error(-EINVAL, "invalid map handle");
    if (from_prog && (h->m->map_flags & F_RDONLY_PROG))
        return bpftime_set_error(-EPERM, "map %u is read-only to programs (BPF_F_RDONLY_PROG)",
                                 h->id);
    if (map_is_outer(h->type))
        return outer_store(h, key, value, flags, from_prog,
                           is_array(h->type) ? array_update : hash_update);
    if (is_array(h->type))
        return array_update(h, key, value, flags, from_prog);
    if (is_hash(h->type))
        return hash_update(h, key, value, flags, from_prog);
    if (h->type == BPFTIME_MAP_QUEUE || h->type == BPFTIME_MAP_STACK)
        return qs_push(h, value, flags);
    if (h->type == BPFTIME_MAP_BLOOM_FILTER)
        return bloom_push(h, value, flags);
    if (h->type == BPFTIME_MAP_LPM_TRIE)
        return lpm_update(h, key, value, flags);
    if (h->type == BPFTIME_MAP_STACK_TRACE) /* as the kernel: stacks come from get_stackid */
        return bpftime_set_error(-EINVAL,
                                 "map %u: stack_trace maps are filled by "
                                 "bpf_get_stackid(), not updated",
                                 h->id);
    return unsupported(h, "update");
}

/* Empties a slot of an outer map (array slots hold 0 afterwards, as the
 * kernel's fd arrays). */
static int outer_delete(struct bpftime_map *h, const void *key)
{
    if (h->type == BPFTIME_MAP_HASH_OF_MAPS)
        return hash_delete(h, key, NULL);
    uint32_t idx;
    memcpy(&idx, key, 4);
    if (idx >= h->max_entries)
        return bpftime_set_error(-E2BIG, "map %u: index %u out of range", h->id, idx);
    uint32_t old = __atomic_exchange_n((uint32_t *)(void *)array_elem(h, idx), 0, __ATOMIC_ACQ_REL);
    return old ? 0 : bpftime_set_error(-ENOENT, "map %u: slot %u holds no map", h->id, idx);
}

int bpftime_map_h_delete(struct bpftime_map *h, const void *key)
{
    if (!handle_ok(h))
        return bpftime_set_error(-EINVAL, "invalid map handle");
    if (h->type == BPFTIME_MAP_ARRAY_OF_MAPS || h->type == BPFTIME_MAP_HASH_OF_MAPS) {
        int rc = outer_delete(h, key);
        if (!rc)
            bpftime_map_collect(h->r); /* the map it held may have had no other holder */
        return rc;
    }
    if (is_hash(h->type))
        return hash_delete(h, key, NULL);
    if (h->type == BPFTIME_MAP_STACK_TRACE)
        return stackmap_delete(h, key);
    if (h->type == BPFTIME_MAP_LPM_TRIE)
        return lpm_delete(h, key);
    if (h->type == BPFTIME_MAP_PROG_ARRAY) {
        uint32_t idx;
        memcpy(&idx, key, 4);
        if (idx >= h->max_entries)
            return bpftime_set_error(-E2BIG, "map %u: index %u out of range", h->id, idx);
        uint32_t old =
            __atomic_exchange_n((uint32_t *)(void *)array_elem(h, idx), 0, __ATOMIC_ACQ_REL);
        if (old)
            gen_bump(h->r);
        return old ? 0 : bpftime_set_error(-ENOENT, "map %u: slot %u is empty", h->id, idx);
    }
    if (is_array(h->type))
        return bpftime_set_error(-EINVAL, "map %u: array elements cannot be deleted", h->id);
    if (h->type == BPFTIME_MAP_QUEUE || h->type == BPFTIME_MAP_STACK)
        return bpftime_set_error(-EINVAL, "map %u: use pop on a %s map", h->id, type_name(h->type));
    return unsupported(h, "delete");
}

int bpftime_map_h_push(struct bpftime_map *h, const void *value, uint64_t flags)
{
    if (!handle_ok(h))
        return bpftime_set_error(-EINVAL, "invalid map handle");
    if (h->type == BPFTIME_MAP_BLOOM_FILTER)
        return bloom_push(h, value, flags);
    if (h->type != BPFTIME_MAP_QUEUE && h->type != BPFTIME_MAP_STACK)
        return unsupported(h, "push");
    return qs_push(h, value, flags);
}

int bpftime_map_h_pop(struct bpftime_map *h, void *value, bool remove)
{
    if (!handle_ok(h))
        return bpftime_set_error(-EINVAL, "invalid map handle");
    if (h->type == BPFTIME_MAP_BLOOM_FILTER && !remove)
        return bloom_peek(h, value); /* value is the one asked about */
    if (h->type != BPFTIME_MAP_QUEUE && h->type != BPFTIME_MAP_STACK)
        return unsupported(h, remove ? "pop" : "peek");
    return qs_pop(h, value, remove);
}

/* ---- control-plane API by id ---- */

#define GET_HANDLE(r, id) \
    struct bpftime_map *h = bpftime_map_handle((r), (id)); \
    if (!h) \
        return bpftime_last_errno();

/* The control plane comes through FFI: refuse NULL buffers the map needs. */
static int check_bufs(const struct bpftime_map *h, const void *key, bool need_key,
                      const void *value, bool need_value)
{
    if (need_key && h->key_size && !key)
        return bpftime_set_error(-EINVAL, "map %u: a %u-byte key is required", h->id, h->key_size);
    if (need_value && !value)
        return bpftime_set_error(-EINVAL, "map %u: a value buffer is required", h->id);
    return 0;
}

#define CHECK_BUFS(key, nk, value, nv) \
    do { \
        int cb_rc_ = check_bufs(h, (key), (nk), (value), (nv)); \
        if (cb_rc_) \
            return cb_rc_; \
    } while (0)

int bpftime_map_lookup(struct bpftime_region *r, uint32_t id, const void *key, void *value)
{
    GET_HANDLE(r, id);
    CHECK_BUFS(key, true, value, true);
    switch (h->type) {
    case BPFTIME_MAP_ARRAY:
    case BPFTIME_MAP_PERCPU_ARRAY: {
        uint32_t idx;
        memcpy(&idx, key, 4);
        if (idx >= h->max_entries)
            return bpftime_set_error(-ENOENT, "map %u: index %u out of range (max_entries %u)", id,
                                     idx, h->max_entries);
        value_out(h, value, array_elem(h, idx));
        return 0;
    }
    case BPFTIME_MAP_PROG_ARRAY: {
        uint32_t idx, prog;
        memcpy(&idx, key, 4);
        if (idx >= h->max_entries)
            return bpftime_set_error(-ENOENT, "map %u: index %u out of range", id, idx);
        prog = __atomic_load_n((uint32_t *)(void *)array_elem(h, idx), __ATOMIC_ACQUIRE);
        if (!prog)
            return bpftime_set_error(-ENOENT, "map %u: slot %u is empty", id, idx);
        memcpy(value, &prog, 4);
        return 0;
    }
    case BPFTIME_MAP_HASH:
    case BPFTIME_MAP_PERCPU_HASH:
    case BPFTIME_MAP_LRU_HASH:
    case BPFTIME_MAP_LRU_PERCPU_HASH:
    case BPFTIME_MAP_HASH_OF_MAPS: {
        /* under the bucket lock so the copy is not torn by an update;
         * no LRU promotion for control-plane reads (as the kernel's
         * lookup_elem_sys) */
        uint32_t hv = hash_key(key, h->key_size);
        shm_mutex_t *lk = bucket_lock(h, hv);
        shm_lock(lk);
        struct shm_hash_elem *e = hash_find(h, key, hv);
        if (e)
            value_out(h, value, elem_value(h, e));
        shm_unlock(lk);
        return e ? 0 : bpftime_set_error(-ENOENT, "map %u: no such key", id);
    }
    case BPFTIME_MAP_QUEUE:
    case BPFTIME_MAP_STACK: return qs_pop(h, value, false);
    /* as the kernel: the value buffer holds the value asked about */
    case BPFTIME_MAP_BLOOM_FILTER: return bloom_peek(h, value);
    case BPFTIME_MAP_STACK_TRACE: return stackmap_lookup(h, key, value);
    case BPFTIME_MAP_LPM_TRIE: return lpm_lookup(h, key, value);
    case BPFTIME_MAP_ARRAY_OF_MAPS: { /* the inner map's id, as the kernel's syscall lookup */
        uint32_t idx, inner = 0;
        memcpy(&idx, key, 4);
        if (idx < h->max_entries)
            inner = __atomic_load_n((uint32_t *)(void *)array_elem(h, idx), __ATOMIC_ACQUIRE);
        if (!inner)
            return bpftime_set_error(-ENOENT, "map %u: slot %u holds no map", id, idx);
        memcpy(value, &inner, 4);
        return 0;
    }
    default: return unsupported(h, "lookup");
    }
}

/* As the kernel's map_update_elem/map_delete_elem on a frozen map (or one
 * created BPF_F_RDONLY): the control plane may not change it. Programs
 * still may, unless the map is also BPF_F_RDONLY_PROG (the verifier's job;
 * the helpers refuse too, see bpftime_map_h_update). */
static int refuse_frozen(const struct bpftime_map *h, const char *op)
{
    uint32_t flags = __atomic_load_n(&h->m->map_flags, __ATOMIC_ACQUIRE);
    if (flags & SHM_MAP_FROZEN)
        return bpftime_set_error(
            -EPERM,
            "map %u (%s) is frozen (read-only after load, as the kernel freezes "
            ".rodata): it cannot be %s",
            h->id, h->m->name, op);
    if (flags & F_RDONLY)
        return bpftime_set_error(
            -EPERM, "map %u (%s) was created read-only (BPF_F_RDONLY): it cannot be %s", h->id,
            h->m->name, op);
    return 0;
}

#define REFUSE_FROZEN(op) \
    do { \
        int rf_rc_ = refuse_frozen(h, (op)); \
        if (rf_rc_) \
            return rf_rc_; \
    } while (0)

int bpftime_map_update(struct bpftime_region *r, uint32_t id, const void *key, const void *value,
                       uint64_t flags)
{
    GET_HANDLE(r, id);
    CHECK_BUFS(key, true, value, true);
    REFUSE_FROZEN("updated");
    return bpftime_map_h_update(h, key, value, flags, false);
}

int bpftime_map_delete_elem(struct bpftime_region *r, uint32_t id, const void *key)
{
    GET_HANDLE(r, id);
    CHECK_BUFS(key, true, NULL, false);
    REFUSE_FROZEN("changed");
    return bpftime_map_h_delete(h, key);
}

int bpftime_map_lookup_and_delete(struct bpftime_region *r, uint32_t id, const void *key,
                                  void *value)
{
    GET_HANDLE(r, id);
    CHECK_BUFS(key, true, value, true);
    REFUSE_FROZEN("changed");
    if (h->type == BPFTIME_MAP_QUEUE || h->type == BPFTIME_MAP_STACK)
        return qs_pop(h, value, true);
    if (is_hash(h->type) && !map_is_outer(h->type))
        return hash_delete(h, key, value);
    if (h->type == BPFTIME_MAP_STACK_TRACE)
        return stackmap_extract(h, key, value);
    if (h->type == BPFTIME_MAP_BLOOM_FILTER) /* as bpf(): the kernel-internal ENOTSUPP */
        return bpftime_set_error(-ENOTSUPP_KERNEL, "bloom_filter map %u does not support pop",
                                 h->id);
    return unsupported(h, "lookup_and_delete");
}

int bpftime_map_get_next_key(struct bpftime_region *r, uint32_t id, const void *key, void *next_key)
{
    GET_HANDLE(r, id);
    CHECK_BUFS(NULL, false, next_key, true);
    if (is_array(h->type))
        return array_get_next_key(h, key, next_key);
    if (is_hash(h->type))
        return hash_get_next_key(h, key, next_key);
    if (h->type == BPFTIME_MAP_STACK_TRACE)
        return stackmap_get_next_key(h, key, next_key);
    if (h->type == BPFTIME_MAP_LPM_TRIE)
        return lpm_get_next_key(h, key, next_key);
    if (h->type == BPFTIME_MAP_QUEUE || h->type == BPFTIME_MAP_STACK)
        return bpftime_set_error(-EINVAL, "%s map %u has no keys", type_name(h->type), id);
    return unsupported(h, "get_next_key");
}
