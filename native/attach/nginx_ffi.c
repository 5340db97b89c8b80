/* Entry points for the control plane (bun:ffi) to drive an nginx URL-filter
 * attach implementation in its own process: the same code nginx workers run,
 * exercised by tests and by `bpftime` without starting nginx. */
#include <errno.h>

#include "attach/attach_manager.h"
#include "attach/event_provider.h"
#include "attach/nginx_url_filter.h"

BPFTIME_API int bpftime_event_provider_add_nginx(struct bpftime_event_provider *ep,
                                                 struct bpftime_attach_impl **out);

/* Registers a new nginx URL-filter implementation with the provider's
 * manager; *out is the implementation (owned by the manager). */
int bpftime_event_provider_add_nginx(struct bpftime_event_provider *ep,
                                     struct bpftime_attach_impl **out)
{
    struct bpftime_attach_impl *impl = bpftime_nginx_url_filter_impl_create();
    if (!impl)
        return bpftime_set_error(
            -ENOMEM, "cannot create the nginx URL-filter implementation: out of memory");
    int err = bpftime_attach_manager_register_impl(bpftime_shm_event_provider_manager(ep), impl);
    if (err < 0) {
        impl->ops->destroy(impl);
        return err;
    }
    *out = impl;
    return 0;
}
