/* CALLS x bpf_map_lookup_elem on a hash map (hits: every key present). */
#include "maps_bench.h"

BENCH_MAP(BPF_MAP_TYPE_HASH);

SEC("xdp")
int hash_lookup(struct xdp_md *ctx)
{
    __u64 sum = 0;
    FOR_KEYS(CALLS, {
        __u64 *v = bpf_map_lookup_elem(&m, &key);
        if (v)
            sum += *v;
        else
            bpf_map_update_elem(&m, &key, &sum, BPF_ANY); /* first run fills the map */
    })
    return sum == 12345 ? XDP_DROP : XDP_PASS;
}
