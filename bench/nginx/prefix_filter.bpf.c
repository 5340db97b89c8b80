// The nginx benchmark's eBPF filter: the same check as the native C module
// in bench/nginx/baseline (403 unless the URL starts with the prefix), so the
// bpftime column measures the runtime, not extra work. The full example
// (examples/url_filter.bpf.c, which also counts and emits an event per
// request) is measured with `--object examples/build/url_filter.bpf.o`.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpftime/nginx_url_filter.h"

#define MAX_PREFIX 256

SEC("nginx/url_filter")
int prefix_filter(struct nginx_url_ctx *ctx)
{
    const char *url = (const char *)(long)ctx->url;
    const char *url_end = (const char *)(long)ctx->url_end;
    const char *prefix = (const char *)(long)ctx->arg;
    const char *prefix_end = (const char *)(long)ctx->arg_end;

    for (int i = 0; i < MAX_PREFIX; i++) {
        if (prefix + i + 1 > prefix_end)
            return BPFTIME_NGINX_ACCEPT;
        if (url + i + 1 > url_end || url[i] != prefix[i])
            return BPFTIME_NGINX_REFUSE;
    }
    return BPFTIME_NGINX_ACCEPT;
}

char LICENSE[] SEC("license") = "GPL";
