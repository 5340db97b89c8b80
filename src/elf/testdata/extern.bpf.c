// A call to a function defined in another object: must be refused clearly.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int defined_elsewhere(int x);

SEC("xdp")
int calls_extern(struct xdp_md *ctx)
{
    return defined_elsewhere(1);
}

char _license[] SEC("license") = "GPL";
