/* CALLS/2 x (bpf_map_delete_elem of a present key + bpf_map_update_elem
 * putting it back) on a hash map: CALLS helper calls per run. The figure is
 * the mean of a delete and an insert (the kernel has no array delete). */
#include "maps_bench.h"

BENCH_MAP(BPF_MAP_TYPE_HASH);

SEC("xdp")
int hash_delete(struct xdp_md *ctx)
{
    FOR_KEYS(CALLS / 2, {
        bpf_map_delete_elem(&m, &key);
        bpf_map_update_elem(&m, &key, &val, BPF_ANY);
    })
    return XDP_PASS;
}
