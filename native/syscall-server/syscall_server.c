/* libbpftime-syscall-server.so: see bpftime_syscall_server.h.
 *
 * The host side of the design: open the region, create the userspace event
 * provider (whose attach manager runs this process's hooks), register the
 * nginx URL-filter attach implementation, instantiate; then every request
 * refreshes (one atomic load when nothing changed) and runs the filter. */
#include "syscall-server/bpftime_syscall_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "attach/attach_manager.h"
#include "attach/event_provider.h"
#include "attach/nginx_url_filter.h"
#include "common/log.h"
#include "runtime/bpftime_runtime.h"

struct bpftime_ss {
    struct bpftime_region *region;
    struct bpftime_event_provider *provider;
    struct bpftime_attach_manager *manager; /* the provider's */
    struct bpftime_attach_impl *nginx;      /* owned by the manager once registered */
};

static struct bpftime_ss *ss_open(const char *shm_name, int fd);

struct bpftime_ss *bpftime_ss_open(const char *shm_name)
{
    return ss_open(shm_name, -1);
}

struct bpftime_ss *bpftime_ss_open_fd(const char *shm_name, int fd)
{
    return ss_open(shm_name, fd);
}

/* fd < 0: open the region by name. */
static struct bpftime_ss *ss_open(const char *shm_name, int fd)
{
    const char *name = shm_name && *shm_name ? shm_name : BPFTIME_DEFAULT_REGION;
    struct bpftime_ss *ss = calloc(1, sizeof *ss);
    if (!ss) {
        if (fd >= 0)
            close(fd);
        bpftime_set_error(-ENOMEM, "out of memory");
        return NULL;
    }
    int rc = fd >= 0 ? bpftime_region_open_fd(name, fd, &ss->region)
                     : bpftime_region_open(name, &ss->region);
    if (rc < 0) {
        free(ss);
        return NULL;
    }
    ss->provider = bpftime_shm_event_provider_create(ss->region);
    ss->nginx = bpftime_nginx_url_filter_impl_create();
    if (ss->provider)
        ss->manager = bpftime_shm_event_provider_manager(ss->provider);
    if (!ss->provider || !ss->nginx ||
        bpftime_attach_manager_register_impl(ss->manager, ss->nginx) < 0) {
        bpftime_set_error(-ENOMEM, "cannot create the attach manager: out of memory");
        if (ss->nginx && (!ss->manager || bpftime_attach_manager_attached(ss->manager) >= 0))
            ss->nginx->ops->destroy(ss->nginx);
        ss->nginx = NULL;
        bpftime_ss_close(ss);
        return NULL;
    }
    /* An nginx worker runs requests one at a time on one thread: between two
     * requests no program can be running, so replaced code is freed at once. */
    bpftime_attach_manager_set_single_threaded(ss->manager, 1);
    int n = bpftime_event_provider_instantiate(ss->provider);
    if (n < 0) {
        bpftime_ss_close(ss);
        return NULL;
    }
    BPFTIME_INFO("region %s: %d nginx URL-filter link(s) attached", name, n);
    return ss;
}

void bpftime_ss_close(struct bpftime_ss *ss)
{
    if (!ss)
        return;
    bpftime_event_provider_destroy(ss->provider);
    if (ss->region)
        bpftime_region_close(ss->region);
    free(ss);
}

int bpftime_ss_nginx_url_filter(struct bpftime_ss *ss, const char *url, size_t url_len,
                                const char *method, size_t method_len)
{
    int err = bpftime_attach_manager_refresh(ss->manager);
    if (err < 0)
        return err;
    int verdict = bpftime_nginx_url_filter_run(ss->nginx, url, url_len, method, method_len);
    if (verdict < 0)
        return bpftime_set_error(verdict, "a URL-filter program failed to run");
    return verdict;
}
