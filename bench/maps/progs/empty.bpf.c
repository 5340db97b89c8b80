/* The per-run overhead (context set-up, dispatch) both sides subtract. */
#include "maps_bench.h"

SEC("xdp")
int empty(struct xdp_md *ctx)
{
    return seed_of(ctx) ? XDP_PASS : XDP_PASS;
}
