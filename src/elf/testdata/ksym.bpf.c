// A weak __ksym variable: no kernel symbols in userspace, so its address is 0
// (libbpf leaves a weak ksym the kernel lacks at 0 too); a strong one is refused.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const int bpf_prog_active __ksym __weak;

SEC("xdp")
int weak_ksym(struct xdp_md *ctx)
{
    return &bpf_prog_active ? 1 : 2;
}

char _license[] SEC("license") = "GPL";
