#include "attach/attach_impl.h"

int64_t bpftime_attach_impl_attach(struct bpftime_attach_impl *impl, const void *arg,
                                   uint32_t arg_len, uint64_t cookie, struct bpftime_attach_cb cb)
{
    uint64_t id = ++impl->next_attach_id;
    int err = impl->ops->attach(impl, arg, arg_len, cookie, cb, id);
    return err < 0 ? err : (int64_t)id;
}

int bpftime_attach_impl_detach(struct bpftime_attach_impl *impl, uint64_t attach_id)
{
    return impl->ops->detach(impl, attach_id);
}
