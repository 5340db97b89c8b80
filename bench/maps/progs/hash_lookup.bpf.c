/* CALLS x bpf_map_lookup_elem on a hash map (hits: every key present). */
#include "maps_bench.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, NKEYS);
    __type(key, __u32);
    __type(value, __u64);
} m SEC(".maps");

SEC("xdp")
int hash_lookup(struct xdp_md *ctx)
{
    __u32 seed = seed_of(ctx);
    __u64 sum = 0;
#pragma clang loop unroll(full)
    for (int i = 0; i < CALLS; i++) {
        __u32 key = KEY(i, seed);
        __u64 *v = bpf_map_lookup_elem(&m, &key);
        if (v)
            sum += *v;
        else
            bpf_map_update_elem(&m, &key, &sum, BPF_ANY); /* first run fills the map */
    }
    return sum == 12345 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
