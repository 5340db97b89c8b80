/* BPF_MAP_TYPE_BLOOM_FILTER, as the kernel's (kernel/bpf/bloom_filter.c):
 * no keys; push sets nr_hash_funcs bits of a power-of-two bit array, peek
 * answers "maybe present" (0) or "certainly absent" (-ENOENT). The bit array
 * is sized as the kernel sizes it (max_entries * nr_hash_funcs * 7 / 5 bits,
 * a power of two, at least 64) and the bits come from the same jhash with
 * the same seed, so with BPF_F_ZERO_SEED even the false positives are the
 * kernel's (test/maps-kernel.test.ts compares them). Without it the seed is
 * random, as in the kernel. nr_hash_funcs is map_extra's low 4 bits (0: 5). */
#include <sys/random.h>

#include "runtime/runtime_internal.h"

#define BLOOM_NR_HASH_MASK 0xfu
#define BLOOM_DEFAULT_HASHES 5u
#define F_ZERO_SEED (1u << 6)

/* ---- geometry ---- */

static uint32_t nr_hashes(uint64_t map_extra)
{
    uint32_t n = (uint32_t)(map_extra & BLOOM_NR_HASH_MASK);
    return n ? n : BLOOM_DEFAULT_HASHES;
}

/* The bit array's mask and byte size, as bloom_map_alloc computes them. */
static void geometry(uint32_t max_entries, uint64_t map_extra, uint32_t *mask, uint64_t *bytes)
{
    uint64_t bits = (uint64_t)max_entries * nr_hashes(map_extra);
    if (bits > UINT32_MAX || (bits / 5) * 7 > UINT32_MAX || (bits / 5) * 7 > (1ull << 31)) {
        *mask = UINT32_MAX;
        *bytes = (1ull << 32) / 8;
    } else {
        bits = (bits / 5) * 7;
        if (bits <= 64) {
            bits = 64;
        } else {
            uint64_t p = 1;
            while (p < bits)
                p <<= 1;
            bits = p;
        }
        *mask = (uint32_t)(bits - 1);
        *bytes = bits / 8;
    }
    *bytes = round_up8(*bytes);
}

int bloom_check_spec(uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                     uint64_t map_extra)
{
    if (key_size != 0 || value_size == 0 || max_entries == 0)
        return bpftime_set_error(-EINVAL,
                                 "bloom_filter map needs key_size 0, value_size > 0, "
                                 "max_entries > 0 (got %u, %u, %u)",
                                 key_size, value_size, max_entries);
    if (map_extra & ~(uint64_t)BLOOM_NR_HASH_MASK)
        return bpftime_set_error(-EINVAL,
                                 "bloom_filter map_extra 0x%llx: only its low 4 bits "
                                 "(the number of hash functions, 0 for 5) may be set",
                                 (unsigned long long)map_extra);
    return 0;
}

uint64_t bloom_storage_need(const struct shm_map *m)
{
    uint32_t mask;
    uint64_t bytes;
    geometry(m->max_entries, m->map_extra, &mask, &bytes);
    return SHM_BLOOM_HDR + bytes;
}

void bloom_storage_init(void *data, const struct shm_map *m)
{
    struct shm_bloom *b = data;
    uint64_t bytes;
    geometry(m->max_entries, m->map_extra, &b->bitset_mask, &bytes);
    b->nr_hash_funcs = nr_hashes(m->map_extra);
    b->hash_seed = 0;
    if (!(m->map_flags & F_ZERO_SEED) && getrandom(&b->hash_seed, sizeof b->hash_seed, 0) != 4)
        b->hash_seed = (uint32_t)rt_now_ns(CLOCK_MONOTONIC) * 2654435761u;
}

int bloom_storage_check(struct bpftime_region *r, const struct shm_map *m, const void *data)
{
    const struct shm_bloom *b = data;
    uint32_t mask;
    uint64_t bytes;
    geometry(m->max_entries, m->map_extra, &mask, &bytes);
    if (b->nr_hash_funcs != nr_hashes(m->map_extra) || b->bitset_mask != mask)
        return rt_damaged(r, "map %u: its bloom filter header does not match the map", m->id);
    return 0;
}

/* ---- operations (the handle's geometry was checked when it was made) ---- */

static uint32_t bit_of(const struct bpftime_map *h, const struct shm_bloom *b, const void *value,
                       uint32_t i)
{
    uint32_t seed = b->hash_seed + i;
    uint32_t v = h->value_size % 4 == 0 ? bpftime_jhash2(value, h->value_size / 4, seed)
                                        : bpftime_jhash(value, h->value_size, seed);
    return v & b->bitset_mask;
}

int bloom_push(struct bpftime_map *h, const void *value, uint64_t flags)
{
    if (flags != BPFTIME_ANY)
        return bpftime_set_error(-EINVAL, "map %u: bloom_filter push flags must be BPF_ANY", h->id);
    struct shm_bloom *b = (struct shm_bloom *)h->data;
    uint8_t *bits = h->data + SHM_BLOOM_HDR;
    for (uint32_t i = 0; i < b->nr_hash_funcs; i++) {
        uint32_t bit = bit_of(h, b, value, i);
        __atomic_fetch_or(&bits[bit / 8], (uint8_t)(1u << (bit % 8)), __ATOMIC_RELAXED);
    }
    return 0;
}

int bloom_peek(struct bpftime_map *h, const void *value)
{
    struct shm_bloom *b = (struct shm_bloom *)h->data;
    const uint8_t *bits = h->data + SHM_BLOOM_HDR;
    for (uint32_t i = 0; i < b->nr_hash_funcs; i++) {
        uint32_t bit = bit_of(h, b, value, i);
        if (!(__atomic_load_n(&bits[bit / 8], __ATOMIC_RELAXED) & (1u << (bit % 8))))
            return bpftime_set_error(-ENOENT, "map %u: not in the bloom filter", h->id);
    }
    return 0;
}
