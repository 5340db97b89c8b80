/* The context of a program linked to an nginx URL-filter attach target.
 *
 * Included both by eBPF programs (clang -target bpf, after <linux/types.h>)
 * and by the data plane (native/attach/nginx_url_filter.c), so both sides
 * agree on the layout.
 *
 * Each variable-length field is a [start, end) pair of pointers, exposed
 * like XDP's data/data_end: the verifier only lets a program read bytes it
 * has bounds-checked against the end pointer. The fields are 64-bit so a
 * program reads real pointers with no context rewriting.
 *
 *   url        the request line's URI as the client sent it (path + query)
 *   method     the request method ("GET", "POST", ...)
 *   arg        the attach target's argument (e.g. the accepted prefix given
 *              to `bpftime attach PROG nginx --prefix /aaaa`)
 *
 * Verdict (the program's return value):
 *   0           refuse: nginx answers 403
 *   400..599    refuse with this HTTP status
 *   anything else  let the request continue (next program, then nginx)
 */
#ifndef BPFTIME_NGINX_URL_FILTER_H
#define BPFTIME_NGINX_URL_FILTER_H

#ifdef __bpf__
typedef __u64 bpftime_ctx_ptr;
#else
#include <stdint.h>
typedef uint64_t bpftime_ctx_ptr;
#endif

struct nginx_url_ctx {
    bpftime_ctx_ptr url;
    bpftime_ctx_ptr url_end;
    bpftime_ctx_ptr method;
    bpftime_ctx_ptr method_end;
    bpftime_ctx_ptr arg;
    bpftime_ctx_ptr arg_end;
};

#define BPFTIME_NGINX_REFUSE 0
#define BPFTIME_NGINX_ACCEPT 1

#ifdef __bpf__
/* 1 when the URL starts with the attach target's argument (the whole
 * argument matched, an empty one included), else 0. Looks at no more than
 * `max` bytes of the argument, and every byte read is bounds-checked against
 * its end pointer first, so the verifier accepts it. */
static __attribute__((always_inline)) inline int
bpftime_url_has_arg_prefix(const struct nginx_url_ctx *ctx, int max)
{
    const char *url = (const char *)(long)ctx->url;
    const char *url_end = (const char *)(long)ctx->url_end;
    const char *prefix = (const char *)(long)ctx->arg;
    const char *prefix_end = (const char *)(long)ctx->arg_end;

    for (int i = 0; i < max; i++) {
        if (prefix + i + 1 > prefix_end)
            return 1;
        if (url + i + 1 > url_end || url[i] != prefix[i])
            return 0;
    }
    return 1;
}
#endif

#endif
