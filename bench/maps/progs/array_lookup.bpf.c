/* CALLS x bpf_map_lookup_elem on a array map (hits: every key present). */
#include "maps_bench.h"

BENCH_MAP(BPF_MAP_TYPE_ARRAY);

SEC("xdp")
int array_lookup(struct xdp_md *ctx)
{
    __u64 sum = 0;
    FOR_KEYS(CALLS, {
        __u64 *v = bpf_map_lookup_elem(&m, &key);
        if (v)
            sum += *v;
    })
    return sum == 12345 ? XDP_DROP : XDP_PASS;
}
