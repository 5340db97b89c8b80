/* Shared bits of the map-helper benchmark programs: each program makes
 * CALLS helper calls per run with a key that changes every call (so neither
 * the compiler nor a cache of the last key can fold them), unrolled so the
 * loop costs nothing next to the calls. The key is also mixed with a byte
 * of the packet, which the compiler cannot know. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "../../../test/fixtures/map_def.h"

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

/* The map every program uses, `m`: NKEYS __u32 keys to __u64 values. */
#define BENCH_MAP(map_type) DEFINE_MAP(m, map_type, __u32, __u64, NKEYS)

/* Runs the statements n times, unrolled, with `__u32 key = KEY(i, seed)` and
 * `__u64 val = i` in scope (ctx is the program's xdp_md). */
#define FOR_KEYS(n, ...)                                                                           \
    __u32 seed = seed_of(ctx);                                                                     \
    _Pragma("clang loop unroll(full)") for (int i = 0; i < (n); i++)                               \
    {                                                                                              \
        __u32 key = KEY(i, seed);                                                                  \
        __u64 val = i;                                                                             \
        (void)val;                                                                                 \
        __VA_ARGS__                                                                                \
    }

char LICENSE[] SEC("license") = "GPL";
