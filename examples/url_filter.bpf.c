// nginx URL filter: accept requests whose URL starts with the attach
// target's prefix (`bpftime attach PROG nginx --prefix /aaaa`), refuse the
// rest with 403; count decisions per verdict and send each decision (URL,
// verdict) to a ringbuf that `bpftime events events` prints.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpftime/nginx_url_filter.h"

#define MAX_PREFIX 256
#define MAX_URL 128

enum verdict { REFUSED = 0, ACCEPTED = 1 };

struct decision {
    __u32 verdict;
    __u32 url_len;
    char url[MAX_URL];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} verdict_counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* A subprogram (bpf-to-bpf call); its signature also puts struct decision
 * into the object's BTF, so `bpftime events` decodes records by name. */
static __attribute__((noinline)) int fill_decision(struct decision *d, __u32 verdict,
                                                   const char *url, const char *url_end)
{
    __u32 len = 0;
    d->verdict = verdict;
    __builtin_memset(d->url, 0, sizeof(d->url));
    for (int i = 0; i < MAX_URL - 1; i++) {
        if (url + i + 1 > url_end)
            break;
        d->url[i] = url[i];
        len = i + 1;
    }
    d->url_len = len;
    return 0;
}

SEC("nginx/url_filter")
int url_filter(struct nginx_url_ctx *ctx)
{
    const char *url = (const char *)(long)ctx->url;
    const char *url_end = (const char *)(long)ctx->url_end;
    __u32 verdict = bpftime_url_has_arg_prefix(ctx, MAX_PREFIX) ? ACCEPTED : REFUSED;

    __u64 *count = bpf_map_lookup_elem(&verdict_counts, &verdict);
    if (count)
        __sync_fetch_and_add(count, 1);

    struct decision *d = bpf_ringbuf_reserve(&events, sizeof(*d), 0);
    if (d) {
        fill_decision(d, verdict, url, url_end);
        bpf_ringbuf_submit(d, 0);
    }
    return verdict;
}

char LICENSE[] SEC("license") = "GPL";
