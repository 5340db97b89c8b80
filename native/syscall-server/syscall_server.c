/* libbpftime-syscall-server.so: see bpftime_syscall_server.h. */
#include "syscall-server/bpftime_syscall_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "attach/attach_manager.h"
#include "attach/nginx_url_filter.h"
#include "common/log.h"
#include "runtime/bpftime_runtime.h"

struct bpftime_ss {
    struct bpftime_region *region;
    struct bpftime_attach_manager *manager;
    struct bpftime_attach_impl *nginx; /* owned by the manager */
    char error[512];
};

struct bpftime_ss *bpftime_ss_open(const char *shm_name, char *err, size_t errlen) {
    const char *name = shm_name && *shm_name ? shm_name : BPFTIME_DEFAULT_REGION;
    struct bpftime_ss *ss = calloc(1, sizeof *ss);
    if (!ss) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (bpftime_region_open(name, &ss->region) < 0) {
        snprintf(err, errlen, "%s", bpftime_last_error());
        free(ss);
        return NULL;
    }
    ss->manager = bpftime_attach_manager_create(ss->region);
    ss->nginx = bpftime_nginx_url_filter_impl_create();
    if (!ss->manager || !ss->nginx ||
        bpftime_attach_manager_register_impl(ss->manager, ss->nginx) < 0) {
        snprintf(err, errlen, "cannot create the attach manager: out of memory");
        bpftime_ss_close(ss);
        return NULL;
    }
    /* An nginx worker runs requests one at a time on one thread: between two
     * requests no program can be running, so replaced code is freed at once. */
    bpftime_attach_manager_set_single_threaded(ss->manager, 1);
    int n = bpftime_attach_manager_instantiate(ss->manager);
    if (n < 0) {
        snprintf(err, errlen, "%s", bpftime_attach_manager_error(ss->manager));
        bpftime_ss_close(ss);
        return NULL;
    }
    BPFTIME_INFO("region %s: %d nginx URL-filter link(s) attached", name, n);
    return ss;
}

void bpftime_ss_close(struct bpftime_ss *ss) {
    if (!ss) return;
    if (ss->manager) {
        bpftime_attach_manager_destroy(ss->manager);
    } else if (ss->nginx) {
        ss->nginx->ops->destroy(ss->nginx);
    }
    if (ss->region) bpftime_region_close(ss->region);
    free(ss);
}

int bpftime_ss_nginx_url_filter(struct bpftime_ss *ss, const char *url, size_t url_len,
                                const char *method, size_t method_len) {
    int err = bpftime_attach_manager_refresh(ss->manager);
    if (err < 0) {
        snprintf(ss->error, sizeof ss->error, "%s", bpftime_attach_manager_error(ss->manager));
        return err;
    }
    int verdict = bpftime_nginx_url_filter_run(ss->nginx, url, url_len, method, method_len);
    if (verdict < 0) snprintf(ss->error, sizeof ss->error, "a URL-filter program failed to run");
    return verdict;
}

const char *bpftime_ss_error(const struct bpftime_ss *ss) { return ss->error; }
