// XDP example that rewrites the packet: swap the Ethernet source and
// destination MAC addresses and decrement the IPv4 TTL (fixing the header
// checksum incrementally), then XDP_TX; anything that is not IPv4 passes.
// `bpftime run xdp_swap.bpf.o --data in.bin --data-out out.bin` gives the
// same bytes and verdict as the kernel's BPF_PROG_TEST_RUN.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int xdp_swap(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return XDP_DROP;
    if (eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end)
        return XDP_DROP;
    if (ip->ttl <= 1)
        return XDP_DROP;

    unsigned char tmp[ETH_ALEN];
    __builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
    __builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
    __builtin_memcpy(eth->h_source, tmp, ETH_ALEN);

    /* RFC 1624 incremental update for TTL - 1 (the TTL is the high byte). */
    __u32 sum = (__u32)bpf_ntohs(ip->check) + 0x0100;
    sum = (sum & 0xffff) + (sum >> 16);
    ip->check = bpf_htons((__u16)sum);
    ip->ttl--;
    return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
