// bpf_loop callbacks: ld_imm64 of a .text function address (BPF_PSEUDO_FUNC).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
static int cb(__u32 i, void *ctx) { return 0; }
static int cb2(__u32 i, void *ctx) { return 1; }
SEC("xdp") int loop(struct xdp_md *c) { bpf_loop(4, cb2, 0, 0); bpf_loop(4, cb, 0, 0); return 2; }
char _l[] SEC("license") = "GPL";
