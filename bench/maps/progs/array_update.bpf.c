/* CALLS x bpf_map_update_elem(BPF_ANY) on a array map (existing keys after the first run). */
#include "maps_bench.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, NKEYS);
    __type(key, __u32);
    __type(value, __u64);
} m SEC(".maps");

SEC("xdp")
int array_update(struct xdp_md *ctx)
{
    __u32 seed = seed_of(ctx);
#pragma clang loop unroll(full)
    for (int i = 0; i < CALLS; i++) {
        __u32 key = KEY(i, seed);
        __u64 val = i;
        bpf_map_update_elem(&m, &key, &val, BPF_ANY);
    }
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
