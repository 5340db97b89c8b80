// bpf-to-bpf calls, several programs per section, every SEC form we accept.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct nginx_url_ctx {
    const char *url;
    unsigned int url_len;
};

static __noinline int leaf(int x)
{
    return x * 3 + 1;
}

static __noinline int middle(int x)
{
    return leaf(x) + leaf(x + 1);
}

static __noinline int other(int x)
{
    return x ^ 0x55;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
    return middle(ctx->ingress_ifindex) > 0 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
    return other(ctx->rx_queue_index) ? XDP_DROP : XDP_PASS;
}

SEC("uprobe")
int bare_uprobe(void *ctx)
{
    return leaf(2);
}

SEC("uprobe//usr/lib/libfoo.so:foo_func+0x10")
int uprobe_off(void *ctx)
{
    return 0;
}

SEC("uretprobe//bin/true:main")
int uret(void *ctx)
{
    return other(1);
}

SEC("socket")
int sock(struct __sk_buff *skb)
{
    return skb->len;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp(void *ctx)
{
    return 0;
}

SEC("kprobe/do_sys_open")
int kp(void *ctx)
{
    return 0;
}

static __noinline int same_section_helper(int a)
{
    return a + 100;
}

SEC("nginx/url_filter")
int url_filter(struct nginx_url_ctx *ctx)
{
    if (ctx->url_len > 4)
        return 1;
    return middle(0);
}

char LICENSE[] SEC("license") = "GPL";
