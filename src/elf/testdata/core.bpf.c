// CO-RE relocations against known context types.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct nginx_url_ctx {
    const char *url;
    unsigned int url_len;
} __attribute__((preserve_access_index));

struct my_xdp_md {
    unsigned int data;
    unsigned int data_end;
} __attribute__((preserve_access_index));

SEC("nginx/url_filter")
int core_nginx(struct nginx_url_ctx *ctx)
{
    return ctx->url_len > 10;
}

SEC("xdp")
int core_xdp(struct xdp_md *ctx)
{
    return bpf_core_field_exists(ctx->data_end) ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
