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
    const char *url = (const char *)(long)ctx->url;
    const char *url_end = (const char *)(long)ctx->url_end;
    const char *prefix = (const char *)(long)ctx->arg;
    const char *prefix_end = (const char *)(long)ctx->arg_end;

    for (int i = 0; i < MAX_PREFIX; i++) {
        if (prefix + i + 1 > prefix_end)
            return 404; /* the whole prefix matched: hide it */
        if (url + i + 1 > url_end || url[i] != prefix[i])
            return BPFTIME_NGINX_ACCEPT;
    }
    return 404;
}

char LICENSE[] SEC("license") = "GPL";
