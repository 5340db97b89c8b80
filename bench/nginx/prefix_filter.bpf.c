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
    return bpftime_url_has_arg_prefix(ctx, MAX_PREFIX) ? BPFTIME_NGINX_ACCEPT
                                                       : BPFTIME_NGINX_REFUSE;
}

char LICENSE[] SEC("license") = "GPL";
