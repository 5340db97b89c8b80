// nginx URL blocklist: the opposite of url_filter — hide every URL under the
// target's prefix with a 404 (a program may answer any status in 400..599),
// let the rest through. Swapped in for url_filter with `bpftime replace` to
// change a running nginx's policy without a reload.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpftime/nginx_url_filter.h"

#define MAX_PREFIX 256

SEC("nginx/url_filter")
int url_blocklist(struct nginx_url_ctx *ctx)
{
    /* the whole prefix matched: hide it */
    return bpftime_url_has_arg_prefix(ctx, MAX_PREFIX) ? 404 : BPFTIME_NGINX_ACCEPT;
}

char LICENSE[] SEC("license") = "GPL";
