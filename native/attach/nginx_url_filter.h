/* The nginx URL-filter attach implementation.
 *
 * nginx (through the syscall server) calls bpftime_nginx_url_filter_run()
 * for each request; every program linked to an nginx URL-filter target runs
 * on a struct nginx_url_ctx (include/bpftime/nginx_url_filter.h) holding
 * the URL, the method and that target's argument. Programs run in attach
 * order (link-id order); the first refusal decides. */
#ifndef BPFTIME_NGINX_URL_FILTER_IMPL_H
#define BPFTIME_NGINX_URL_FILTER_IMPL_H

#include <stddef.h>

#include "attach/attach_impl.h"
#include "bpftime/api.h"

struct bpftime_attach_impl *bpftime_nginx_url_filter_impl_create(void);

/* Returns 0 (continue), an HTTP status (403 for a program returning 0, or
 * the program's 400..599 return value), or -EFAULT when a program could not
 * run. Single-threaded, like an nginx worker. */
BPFTIME_API int bpftime_nginx_url_filter_run(struct bpftime_attach_impl *impl, const char *url,
                                             size_t url_len, const char *method, size_t method_len);

#endif
