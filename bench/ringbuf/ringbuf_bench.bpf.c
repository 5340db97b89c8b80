/* The ringbuf benchmark's producer: each run writes CALLS 16-byte records
 * (reserve + submit, as programs usually do) into `rb`. Run by
 * BPF_PROG_TEST_RUN from each producer process of ringbuf_bench.c. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CALLS 100

struct rec {
    __u64 seq;
    __u64 pid;
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4 << 20);
} rb SEC(".maps");

SEC("xdp")
int produce(struct xdp_md *ctx)
{
    __u64 pid = bpf_get_prandom_u32();
    for (int i = 0; i < CALLS; i++) {
        struct rec *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
        if (!r)
            continue;
        r->seq = i;
        r->pid = pid;
        bpf_ringbuf_submit(r, 0);
    }
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
