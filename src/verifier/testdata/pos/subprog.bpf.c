/* bpf-to-bpf calls: stack pointers passed down, values returned, nesting. */
#include "common.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

static __attribute__((noinline)) __u64 bump(__u32 idx, __u64 by)
{
    __u64 *c = bpf_map_lookup_elem(&counters, &idx);
    if (!c)
        return 0;
    *c += by;
    return *c;
}

static __attribute__((noinline)) int fill(__u64 *buf, int n)
{
    if (n > 4)
        n = 4;
    for (int i = 0; i < 4; i++)
        if (i < n)
            buf[i] = i * 3;
        else
            buf[i] = 0;
    return n;
}

static __attribute__((noinline)) __u64 sum(__u64 *buf)
{
    __u64 s = 0;
    for (int i = 0; i < 4; i++)
        s += buf[i];
    return s + bump(1, 2);
}

SEC("xdp")
int subprog_prog(struct xdp_md *ctx)
{
    __u64 buf[4];
    int n = fill(buf, ctx->rx_queue_index);
    __u64 s = sum(buf);
    bump(0, s);
    return n > 2 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
