/* Shared bits of the map-helper benchmark programs: each program makes
 * CALLS helper calls per run with a key that changes every call (so neither
 * the compiler nor a cache of the last key can fold them), unrolled so the
 * loop costs nothing next to the calls. The key is also mixed with a byte
 * of the packet, which the compiler cannot know. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CALLS 100
#define NKEYS 64 /* keys 0..63: all present after the first run */

static __always_inline __u32 seed_of(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    if (data + 1 > end)
        return 0;
    return *(__u8 *)data & 1;
}

#define KEY(i, seed) ((__u32)(((i) * 7 + (seed)) & (NKEYS - 1)))
