/* Byte scan bounded by data_end and by a constant; loop not unrolled. */
#include "common.h"

SEC("xdp")
int xdp_scan(struct xdp_md *ctx)
{
    unsigned char *p = (void *)(long)ctx->data;
    unsigned char *end = (void *)(long)ctx->data_end;
    __u32 sum = 0;
#pragma clang loop unroll(disable)
    for (int i = 0; i < 64; i++) {
        if (p + i + 1 > end)
            break;
        sum += p[i];
        if (p[i] == 0)
            break;
    }
    return sum & 3;
}

SEC("xdp")
int xdp_walk(struct xdp_md *ctx)
{
    unsigned char *p = (void *)(long)ctx->data;
    unsigned char *end = (void *)(long)ctx->data_end;
    int n = 0;
#pragma clang loop unroll(disable)
    for (int i = 0; i < 32; i++) {
        if (p + 1 > end)
            break;
        if (*p == '\n')
            n++;
        p++;
    }
    return n;
}

char LICENSE[] SEC("license") = "GPL";
