/* Map operations as the map grows: one object per (MAP_TYPE, MAX_ENTRIES),
 * compiled by bench/maps-scale/run.sh with -DMAP_TYPE=... -DMAX_ENTRIES=...
 * and run the same way in bpftime and in the kernel (BPF_PROG_TEST_RUN).
 * Each run makes CALLS operations on keys a generator spreads over the
 * whole key range 0..MAX_ENTRIES-1 (so a big map is touched all over, as a
 * real one is, and caches do not hide its size):
 *
 *   fill     inserts the next CALLS keys (run MAX_ENTRIES/CALLS times: full)
 *   base     the generator alone (subtracted from the others)
 *   lookup   CALLS lookups of present keys
 *   update   CALLS updates of present keys
 *   delete   CALLS deletes, each followed by the insert that restores it
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CALLS 100

struct {
    __uint(type, MAP_TYPE);
    __uint(max_entries, MAX_ENTRIES);
    __type(key, __u32);
    __type(value, __u64);
} m SEC(".maps");

/* index 0: the generator's state; index 1: the next key to insert */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} st SEC(".maps");

static __always_inline __u64 *state(__u32 i)
{
    return bpf_map_lookup_elem(&st, &i);
}

/* A 64-bit LCG: the high half, reduced to the key range. */
static __always_inline __u32 next_key(__u64 *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return (__u32)((*x >> 32) % MAX_ENTRIES);
}

SEC("xdp")
int fill(struct xdp_md *ctx)
{
    __u64 *n = state(1);
    if (!n)
        return XDP_ABORTED;
    for (int i = 0; i < CALLS; i++) {
        __u32 key = (__u32)(*n % MAX_ENTRIES);
        __u64 val = key;
        bpf_map_update_elem(&m, &key, &val, BPF_ANY);
        *n += 1;
    }
    return XDP_PASS;
}

#define KEYED_RUN(name, ...)                                                                       \
    SEC("xdp") int name(struct xdp_md *ctx)                                                        \
    {                                                                                              \
        __u64 *x = state(0);                                                                       \
        __u64 sum = 0;                                                                             \
        if (!x)                                                                                    \
            return XDP_ABORTED;                                                                    \
        for (int i = 0; i < CALLS; i++) {                                                          \
            __u32 key = next_key(x);                                                               \
            __u64 val = key;                                                                       \
            (void)val;                                                                             \
            __VA_ARGS__                                                                            \
        }                                                                                          \
        return sum == 12345 ? XDP_DROP : XDP_PASS;                                                 \
    }

KEYED_RUN(base, { sum += val; })
KEYED_RUN(lookup, {
    __u64 *v = bpf_map_lookup_elem(&m, &key);
    if (v)
        sum += *v;
})
KEYED_RUN(update, { sum += bpf_map_update_elem(&m, &key, &val, BPF_EXIST); })
KEYED_RUN(delete, {
    sum += bpf_map_delete_elem(&m, &key);
    sum += bpf_map_update_elem(&m, &key, &val, BPF_NOEXIST);
})

char LICENSE[] SEC("license") = "GPL";
