#include "attach/nginx_url_filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attach/attach_manager.h"
#include "bpftime/nginx_url_filter.h"

struct entry {
    uint64_t attach_id;
    char *arg; /* NUL-terminated copy; arg_len bytes are exposed */
    uint32_t arg_len;
    struct bpftime_attach_cb cb;
};

struct nginx_impl {
    struct bpftime_attach_impl base;
    struct entry *entries; /* in attach order */
    size_t n, cap;
};

static int nginx_attach(struct bpftime_attach_impl *impl, const void *arg, uint32_t arg_len,
                        uint64_t cookie, struct bpftime_attach_cb cb, uint64_t attach_id)
{
    struct nginx_impl *ni = (struct nginx_impl *)impl;
    (void)cookie;
    if (ni->n == ni->cap) {
        size_t cap = ni->cap ? ni->cap * 2 : 4;
        struct entry *e = realloc(ni->entries, cap * sizeof *e);
        if (!e)
            return bpftime_set_error(-ENOMEM, "out of memory");
        ni->entries = e;
        ni->cap = cap;
    }
    char *copy = malloc((size_t)arg_len + 1);
    if (!copy)
        return bpftime_set_error(-ENOMEM, "out of memory");
    if (arg_len)
        memcpy(copy, arg, arg_len);
    copy[arg_len] = 0;
    ni->entries[ni->n++] = (struct entry){attach_id, copy, arg_len, cb};
    return 0;
}

static int nginx_detach(struct bpftime_attach_impl *impl, uint64_t attach_id)
{
    struct nginx_impl *ni = (struct nginx_impl *)impl;
    for (size_t i = 0; i < ni->n; i++) {
        if (ni->entries[i].attach_id != attach_id)
            continue;
        free(ni->entries[i].arg);
        memmove(&ni->entries[i], &ni->entries[i + 1], (ni->n - i - 1) * sizeof *ni->entries);
        ni->n--;
        return 0;
    }
    return bpftime_set_error(-ENOENT, "no nginx URL-filter attach %llu",
                             (unsigned long long)attach_id);
}

static void nginx_destroy(struct bpftime_attach_impl *impl)
{
    struct nginx_impl *ni = (struct nginx_impl *)impl;
    for (size_t i = 0; i < ni->n; i++)
        free(ni->entries[i].arg);
    free(ni->entries);
    free(ni);
}

static const struct bpftime_attach_impl_ops nginx_ops = {
    .name = "nginx URL filter",
    .target_type = BPFTIME_TARGET_NGINX_URL_FILTER,
    .attach = nginx_attach,
    .detach = nginx_detach,
    .destroy = nginx_destroy,
};

struct bpftime_attach_impl *bpftime_nginx_url_filter_impl_create(void)
{
    struct nginx_impl *ni = calloc(1, sizeof *ni);
    if (!ni)
        return NULL;
    ni->base.ops = &nginx_ops;
    return &ni->base;
}

int bpftime_nginx_url_filter_run(struct bpftime_attach_impl *impl, const char *url, size_t url_len,
                                 const char *method, size_t method_len)
{
    struct nginx_impl *ni = (struct nginx_impl *)impl;
    struct nginx_url_ctx ctx = {
        .url = (uintptr_t)url,
        .url_end = (uintptr_t)url + url_len,
        .method = (uintptr_t)method,
        .method_end = (uintptr_t)method + method_len,
    };
    for (size_t i = 0; i < ni->n; i++) {
        struct entry *e = &ni->entries[i];
        ctx.arg = (uintptr_t)e->arg;
        ctx.arg_end = (uintptr_t)e->arg + e->arg_len;
        uint64_t r;
        int err = e->cb.run(e->cb.data, &ctx, sizeof ctx, &r);
        if (err < 0)
            return err;
        if (r == BPFTIME_NGINX_REFUSE)
            return 403;
        if (r >= 400 && r <= 599)
            return (int)r;
    }
    return 0;
}
