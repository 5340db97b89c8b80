/* bpf_map_delete_elem on array and per-CPU array maps: the kernel's verifier
 * accepts the call (it fails at run time with -EINVAL), so ours must too. */
#include "common.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} slots SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} pcpu_slots SEC(".maps");

SEC("xdp")
int array_delete(struct xdp_md *ctx)
{
    __u32 key = ctx->ingress_ifindex & 3;
    long a = bpf_map_delete_elem(&slots, &key);
    long b = bpf_map_delete_elem(&pcpu_slots, &key);
    return a == -22 && b == -22 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
