/* Spilled pointers under register pressure, switch tables, tail calls,
 * socket filter context, 32-bit arithmetic. */
#include "common.h"

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u32);
} jump SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} acc SEC(".maps");

SEC("xdp")
int pressure(struct xdp_md *ctx)
{
    unsigned char *data = (void *)(long)ctx->data;
    unsigned char *end = (void *)(long)ctx->data_end;
    if (data + 16 > end)
        return XDP_PASS;
    __u32 zero = 0;
    __u64 *a = bpf_map_lookup_elem(&acc, &zero);
    __u64 t1 = bpf_ktime_get_ns();
    __u64 r1 = bpf_get_prandom_u32();
    __u64 t2 = bpf_ktime_get_ns();
    __u64 r2 = bpf_get_prandom_u32();
    /* data, end, a, t1, r1, t2 all live across calls: some get spilled */
    __u64 x = data[0] + data[15] + t1 + r1 + t2 + r2;
    if (a)
        *a += x + (end - data);
    return data[3] & 1;
}

SEC("xdp")
int tail(struct xdp_md *ctx)
{
    bpf_tail_call(ctx, &jump, ctx->rx_queue_index & 3);
    return XDP_PASS;
}

SEC("xdp")
int classify(struct xdp_md *ctx)
{
    __u32 q = ctx->rx_queue_index;
    switch (q) {
    case 0: return XDP_PASS;
    case 1: return XDP_DROP;
    case 2: return XDP_TX;
    case 3: return XDP_ABORTED;
    case 7: return XDP_REDIRECT;
    default: return (q * 7u) % 5u;
    }
}

SEC("socket")
int sock(struct __sk_buff *skb)
{
    __u32 len = skb->len;
    skb->cb[0] = len;
    if (skb->protocol == 8 && len > 100)
        return 0;
    __u32 w = len;
    w = (w << 3) ^ (w >> 5);
    w += skb->mark;
    return w & 0xffff;
}

char LICENSE[] SEC("license") = "GPL";
