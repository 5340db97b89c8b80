/* Constant-bound loops that clang keeps as loops; bounded variable offsets
 * into a map value; nested loops. */
#include "common.h"

struct table {
    __u32 hist[32];
    __u8 bytes[64];
};

DEFINE_MAP(tbl, BPF_MAP_TYPE_ARRAY, __u32, struct table, 1);

SEC("xdp")
int loops_prog(struct xdp_md *ctx)
{
    __u32 zero = 0;
    struct table *t = bpf_map_lookup_elem(&tbl, &zero);
    if (!t)
        return 0;
    __u32 acc = 0;
#pragma clang loop unroll(disable)
    for (__u32 i = 0; i < 32; i++) {
        acc += t->hist[i];
        t->hist[i] = acc;
    }
#pragma clang loop unroll(disable)
    for (int i = 0; i < 8; i++) {
#pragma clang loop unroll(disable)
        for (int j = 0; j < 8; j++)
            t->bytes[(i * 8 + j) & 63] ^= (__u8)(i + j);
    }
    __u32 k = bpf_get_prandom_u32();
    if (k < 64)
        t->bytes[k]++;
    t->hist[k % 32] += 1;
    return acc & 1;
}

char LICENSE[] SEC("license") = "GPL";
