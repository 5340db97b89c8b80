/* Global variables (.bss/.data/.rodata maps through direct value access). */
#include "common.h"

volatile __u64 hits = 0;
__u32 threshold = 10;
const volatile __u32 limit = 100;
char seen[16];

SEC("xdp")
int globals_prog(struct xdp_md *ctx)
{
    __sync_fetch_and_add(&hits, 1);
    __u32 q = ctx->rx_queue_index;
    seen[q & 15] = 1;
    if (q > limit)
        return XDP_DROP;
    return hits > threshold ? XDP_PASS : XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
