/* Header parsing with data_end checks: eth -> ipv4 -> count per protocol. */
#include "common.h"
#include <bpf/bpf_endian.h>

DEFINE_MAP(proto_count, BPF_MAP_TYPE_ARRAY, __u32, __u64, 256);

SEC("xdp")
int xdp_parse(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return XDP_PASS;
    if (eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end)
        return XDP_DROP;
    __u32 key = ip->protocol;
    __u64 *c = bpf_map_lookup_elem(&proto_count, &key);
    if (c)
        __sync_fetch_and_add(c, 1);
    if (ip->ihl < 5)
        return XDP_DROP;
    return ip->ttl > 1 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
