/* BPF_MAP_TYPE_LPM_TRIE, with the kernel's semantics (kernel/bpf/lpm_trie.c):
 * keys are struct bpf_lpm_trie_key { u32 prefixlen; u8 data[key_size - 4]; }
 * (bits most significant first); a lookup returns the value of the longest
 * stored prefix that matches the key's first prefixlen bits; update and
 * delete act on the exact prefix; get_next_key walks the kernel's post-order
 * (longer prefixes before the prefixes they extend, the 0 branch before the
 * 1 branch); the map must be created with BPF_F_NO_PREALLOC, as the kernel
 * demands.
 *
 * Storage is a flat table of max_entries slots scanned linearly under the
 * map's lock (O(max_entries) per operation, not the kernel's O(prefix
 * length)): results are the kernel's, speed is not the point for the
 * small tries tracing tools keep. */
#include "runtime/runtime_internal.h"

#define F_NO_PREALLOC (1u << 0)
#define F_NUMA_NODE (1u << 2)
#define F_ACCESS_MASK ((1u << 3) | (1u << 4))
#define LPM_DATA_MAX 256u

struct lpm_slot {
    uint32_t in_use;
    uint32_t prefixlen;
    /* data (round_up8(key_size - 4)), then value (round_up8(value_size)) */
};
#define SLOT_HDR 8u

static uint64_t data_stride(uint32_t key_size)
{
    return round_up8(key_size - 4);
}

static uint64_t slot_size(uint32_t key_size, uint32_t value_size)
{
    return SLOT_HDR + data_stride(key_size) + round_up8(value_size);
}

int lpm_check_spec(uint32_t key_size, uint32_t value_size, uint32_t max_entries, uint32_t flags)
{
    if (max_entries == 0 || !(flags & F_NO_PREALLOC) ||
        (flags & ~(F_NO_PREALLOC | F_NUMA_NODE | F_ACCESS_MASK)) || key_size < 5 ||
        key_size > 4 + LPM_DATA_MAX || value_size < 1)
        return bpftime_set_error(-EINVAL,
                                 "lpm_trie map needs key_size 5..%u (u32 prefixlen + data), "
                                 "value_size > 0, max_entries > 0 and map_flags "
                                 "BPF_F_NO_PREALLOC (got %u, %u, %u, 0x%x)",
                                 4 + LPM_DATA_MAX, key_size, value_size, max_entries, flags);
    return 0;
}

uint64_t lpm_storage_need(const struct shm_map *m)
{
    uint64_t ss = slot_size(m->key_size, m->value_size);
    if (m->max_entries > (UINT64_MAX - SHM_LPM_HDR) / ss)
        return UINT64_MAX;
    return SHM_LPM_HDR + ss * m->max_entries;
}

int lpm_storage_check(struct bpftime_region *r, const struct shm_map *m, const void *data)
{
    const struct shm_lpm *t = data;
    if (t->count > m->max_entries)
        return rt_damaged(r, "map %u: its lpm trie entry count is out of range", m->id);
    return 0;
}

/* ---- keys ---- */

static uint32_t max_prefixlen(const struct bpftime_map *h)
{
    return (h->key_size - 4) * 8;
}

static struct lpm_slot *slot_at(const struct bpftime_map *h, uint32_t i)
{
    return (struct lpm_slot *)(void *)(h->data + SHM_LPM_HDR +
                                       slot_size(h->key_size, h->value_size) * i);
}

static uint8_t *slot_data(struct lpm_slot *s)
{
    return (uint8_t *)s + SLOT_HDR;
}

static uint8_t *slot_value(const struct bpftime_map *h, struct lpm_slot *s)
{
    return slot_data(s) + data_stride(h->key_size);
}

static int bit_at(const uint8_t *d, uint32_t i)
{
    return (d[i / 8] >> (7 - i % 8)) & 1;
}

/* Do the first n bits of a and b agree? */
static bool bits_equal(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    if (memcmp(a, b, n / 8))
        return false;
    for (uint32_t i = n / 8 * 8; i < n; i++)
        if (bit_at(a, i) != bit_at(b, i))
            return false;
    return true;
}

static uint32_t key_prefixlen(const void *key)
{
    uint32_t p;
    memcpy(&p, key, 4);
    return p;
}

static const uint8_t *key_data(const void *key)
{
    return (const uint8_t *)key + 4;
}

/* The slot holding exactly this prefix, or NULL. Under the lock. */
static struct lpm_slot *find_exact(const struct bpftime_map *h, const void *key)
{
    uint32_t plen = key_prefixlen(key);
    for (uint32_t i = 0; i < h->max_entries; i++) {
        struct lpm_slot *s = slot_at(h, i);
        if (s->in_use && s->prefixlen == plen && bits_equal(slot_data(s), key_data(key), plen))
            return s;
    }
    return NULL;
}

/* The longest stored prefix matching the key's first prefixlen bits. */
static struct lpm_slot *find_longest(const struct bpftime_map *h, const void *key)
{
    uint32_t plen = key_prefixlen(key);
    struct lpm_slot *best = NULL;
    if (plen > max_prefixlen(h))
        return NULL; /* as the kernel: such a key matches nothing */
    for (uint32_t i = 0; i < h->max_entries; i++) {
        struct lpm_slot *s = slot_at(h, i);
        if (!s->in_use || s->prefixlen > plen)
            continue;
        if ((!best || s->prefixlen > best->prefixlen) &&
            bits_equal(slot_data(s), key_data(key), s->prefixlen))
            best = s;
    }
    return best;
}

/* The kernel's post-order: <0 when a comes before b. */
static int post_order(const struct lpm_slot *a, const struct lpm_slot *b)
{
    const uint8_t *da = (const uint8_t *)a + SLOT_HDR, *db = (const uint8_t *)b + SLOT_HDR;
    uint32_t n = a->prefixlen < b->prefixlen ? a->prefixlen : b->prefixlen;
    for (uint32_t i = 0; i < n; i++) {
        int x = bit_at(da, i), y = bit_at(db, i);
        if (x != y)
            return x - y;
    }
    /* one extends the other: the longer (a child) first */
    return a->prefixlen > b->prefixlen ? -1 : a->prefixlen < b->prefixlen ? 1 : 0;
}

/* ---- operations ---- */

void *lpm_lookup_ptr(struct bpftime_map *h, const void *key)
{
    shm_lock(&h->m->lock);
    struct lpm_slot *s = find_longest(h, key);
    shm_unlock(&h->m->lock);
    return s ? slot_value(h, s) : NULL;
}

int lpm_lookup(struct bpftime_map *h, const void *key, void *value)
{
    shm_lock(&h->m->lock);
    struct lpm_slot *s = find_longest(h, key);
    if (s)
        memcpy(value, slot_value(h, s), h->value_size);
    shm_unlock(&h->m->lock);
    return s ? 0 : bpftime_set_error(-ENOENT, "map %u: no prefix matches the key", h->id);
}

int lpm_update(struct bpftime_map *h, const void *key, const void *value, uint64_t flags)
{
    if (flags > BPFTIME_EXIST)
        return bpftime_set_error(-EINVAL, "map %u: invalid update flags 0x%llx", h->id,
                                 (unsigned long long)flags);
    if (key_prefixlen(key) > max_prefixlen(h))
        return bpftime_set_error(-EINVAL, "map %u: prefixlen %u is longer than the key's %u bits",
                                 h->id, key_prefixlen(key), max_prefixlen(h));
    struct shm_lpm *t = (struct shm_lpm *)h->data;
    int rc = 0;
    shm_lock(&h->m->lock);
    struct lpm_slot *s = find_exact(h, key);
    if (s) {
        if (flags == BPFTIME_NOEXIST) {
            rc = bpftime_set_error(-EEXIST, "map %u: the prefix exists", h->id);
            goto out;
        }
    } else {
        if (flags == BPFTIME_EXIST) {
            rc = bpftime_set_error(-ENOENT, "map %u: no such prefix", h->id);
            goto out;
        }
        if (t->count >= h->max_entries) {
            rc = bpftime_set_error(-ENOSPC, "map %u is full (max_entries %u)", h->id,
                                   h->max_entries);
            goto out;
        }
        for (uint32_t i = 0; i < h->max_entries && !s; i++)
            if (!slot_at(h, i)->in_use)
                s = slot_at(h, i);
        if (!s) {
            rc = rt_damaged(h->r, "map %u: its lpm trie count says there is room, none is free",
                            h->id);
            goto out;
        }
        t->count++;
    }
    s->prefixlen = key_prefixlen(key);
    memcpy(slot_data(s), key_data(key), h->key_size - 4);
    memcpy(slot_value(h, s), value, h->value_size);
    s->in_use = 1;
out:
    shm_unlock(&h->m->lock);
    return rc;
}

int lpm_delete(struct bpftime_map *h, const void *key)
{
    if (key_prefixlen(key) > max_prefixlen(h))
        return bpftime_set_error(-EINVAL, "map %u: prefixlen %u is longer than the key's %u bits",
                                 h->id, key_prefixlen(key), max_prefixlen(h));
    struct shm_lpm *t = (struct shm_lpm *)h->data;
    shm_lock(&h->m->lock);
    struct lpm_slot *s = find_exact(h, key);
    if (s) {
        s->in_use = 0;
        if (t->count)
            t->count--;
    }
    shm_unlock(&h->m->lock);
    return s ? 0 : bpftime_set_error(-ENOENT, "map %u: no such prefix", h->id);
}

int lpm_get_next_key(struct bpftime_map *h, const void *key, void *next)
{
    shm_lock(&h->m->lock);
    struct lpm_slot *cur = NULL, *best = NULL;
    if (key && key_prefixlen(key) <= max_prefixlen(h))
        cur = find_exact(h, key); /* a missing key restarts from the first */
    for (uint32_t i = 0; i < h->max_entries; i++) {
        struct lpm_slot *s = slot_at(h, i);
        if (!s->in_use || s == cur || (cur && post_order(s, cur) <= 0))
            continue;
        if (!best || post_order(s, best) < 0)
            best = s;
    }
    if (best) {
        memcpy(next, &best->prefixlen, 4);
        memcpy((uint8_t *)next + 4, slot_data(best), h->key_size - 4);
    }
    shm_unlock(&h->m->lock);
    return best ? 0 : bpftime_set_error(-ENOENT, "map %u: no more keys", h->id);
}
