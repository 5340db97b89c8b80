/* CALLS/2 x (bpf_map_delete_elem of a present key + bpf_map_update_elem
 * putting it back) on a hash map: CALLS helper calls per run. The figure is
 * the mean of a delete and an insert (the kernel has no array delete). */
#include "maps_bench.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, NKEYS);
    __type(key, __u32);
    __type(value, __u64);
} m SEC(".maps");

SEC("xdp")
int hash_delete(struct xdp_md *ctx)
{
    __u32 seed = seed_of(ctx);
#pragma clang loop unroll(full)
    for (int i = 0; i < CALLS / 2; i++) {
        __u32 key = KEY(i, seed);
        __u64 val = i;
        bpf_map_delete_elem(&m, &key);
        bpf_map_update_elem(&m, &key, &val, BPF_ANY);
    }
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
