/* CALLS x bpf_map_lookup_elem on a array map (hits: every key present). */
#include "maps_bench.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, NKEYS);
    __type(key, __u32);
    __type(value, __u64);
} m SEC(".maps");

SEC("xdp")
int array_lookup(struct xdp_md *ctx)
{
    __u32 seed = seed_of(ctx);
    __u64 sum = 0;
#pragma clang loop unroll(full)
    for (int i = 0; i < CALLS; i++) {
        __u32 key = KEY(i, seed);
        __u64 *v = bpf_map_lookup_elem(&m, &key);
        if (v)
            sum += *v;
    }
    return sum == 12345 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
