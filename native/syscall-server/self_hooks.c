/* Uprobes in the application itself (see app_server.h). On the kernel a
 * uprobe fires in every process that runs the probed code, the loader
 * included: bpftrace's BEGIN and END probes are uprobes on functions of
 * bpftrace itself, which it calls right after attaching and before
 * exiting. So the syscall server hooks the application as the agent hooks
 * the processes it is preloaded into: an attach manager with the uprobe and
 * uretprobe implementations on the region. It follows the region
 * synchronously whenever the application makes or drops a link (BEGIN runs
 * right after), not on a timer: links other tools add later are hooked at
 * the application's next link change. */
#include <pthread.h>

#include "attach/attach_manager.h"
#include "attach/event_provider.h"
#include "attach/uprobe.h"
#include "bpftime/api.h"
#include "common/log.h"
#include "runtime/bpftime_runtime.h"
#include "syscall-server/app_server.h"

static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bpftime_event_provider *provider;
static struct bpftime_attach_manager *manager;
static struct bpftime_attach_impl *uprobe, *uretprobe;

int app_self_hooks_start(struct bpftime_region *r)
{
    pthread_mutex_lock(&hooks_lock);
    provider = bpftime_shm_event_provider_create(r);
    manager = provider ? bpftime_shm_event_provider_manager(provider) : NULL;
    uprobe = bpftime_uprobe_impl_create(0);
    uretprobe = bpftime_uprobe_impl_create(1);
    int rc = -1;
    if (manager && uprobe && uretprobe &&
        bpftime_attach_manager_register_impl(manager, uprobe) == 0) {
        uprobe = NULL; /* the manager's now */
        if (bpftime_attach_manager_register_impl(manager, uretprobe) == 0) {
            uretprobe = NULL;
            rc = bpftime_event_provider_instantiate(provider);
        }
    }
    if (rc < 0) {
        BPFTIME_WARN("syscall server: the application's own uprobes are off: %s",
                     bpftime_last_error_message());
        if (uprobe)
            uprobe->ops->destroy(uprobe);
        if (uretprobe)
            uretprobe->ops->destroy(uretprobe);
        uprobe = uretprobe = NULL;
        bpftime_event_provider_destroy(provider);
        provider = NULL;
        manager = NULL;
    }
    pthread_mutex_unlock(&hooks_lock);
    return rc < 0 ? rc : 0;
}

void app_self_hooks_refresh(void)
{
    pthread_mutex_lock(&hooks_lock);
    if (manager && bpftime_attach_manager_refresh(manager) < 0)
        BPFTIME_WARN("syscall server: cannot follow the region: %s", bpftime_last_error_message());
    pthread_mutex_unlock(&hooks_lock);
}
