/* Map lookups with null checks, updates, deletes, per-cpu and hash maps. */
#include "common.h"

struct val {
    __u64 packets;
    __u64 bytes;
    __u32 slots[16];
};

DEFINE_MAP(flows, BPF_MAP_TYPE_HASH, __u32, struct val, 1024);

DEFINE_MAP(scratch, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct val, 1);

SEC("xdp")
int maps_prog(struct xdp_md *ctx)
{
    __u32 key = ctx->ingress_ifindex;
    __u32 zero = 0;
    struct val *v = bpf_map_lookup_elem(&flows, &key);
    if (!v) {
        struct val *s = bpf_map_lookup_elem(&scratch, &zero);
        if (!s)
            return XDP_ABORTED;
        __builtin_memset(s, 0, sizeof(*s));
        s->packets = 1;
        bpf_map_update_elem(&flows, &key, s, BPF_ANY);
        return XDP_PASS;
    }
    __sync_fetch_and_add(&v->packets, 1);
    v->bytes += ctx->data_end - ctx->data;
    __u32 idx = bpf_get_prandom_u32() & 15;
    v->slots[idx]++;
    if (v->packets > 1000)
        bpf_map_delete_elem(&flows, &key);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
