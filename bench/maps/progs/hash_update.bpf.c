/* CALLS x bpf_map_update_elem(BPF_ANY) on a hash map (existing keys after the first run). */
#include "maps_bench.h"

BENCH_MAP(BPF_MAP_TYPE_HASH);

SEC("xdp")
int hash_update(struct xdp_md *ctx)
{
    FOR_KEYS(CALLS, { bpf_map_update_elem(&m, &key, &val, BPF_ANY); })
    return XDP_PASS;
}
