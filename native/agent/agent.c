/* The LD_PRELOAD / injected agent: see agent.h.
 *
 * Threads: after start-up only the watcher thread drives the attach manager
 * (it is not thread-safe); `agent.lock` is held around each refresh so fork()
 * (pthread_atfork) never copies a half-updated manager into the child. The
 * watcher blocks every signal: the host's handlers never run on it. */
#include "agent/agent.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "attach/attach_manager.h"
#include "attach/syscall_sud.h"
#include "attach/syscall_tracepoint.h"
#include "attach/uprobe.h"
#include "common/error.h"
#include "common/log.h"
#include "patcher/patcher.h"
#include "runtime/bpftime_runtime.h"

#define WATCH_INTERVAL_MS 100

/* The agent's whole state: one per process. */
struct agent_ctx {
    pthread_mutex_t start_lock; /* serialises start/stop callers */
    pthread_mutex_t lock;       /* held while the manager changes (watcher, fork) */
    struct bpftime_region *region;
    struct bpftime_attach_manager *manager;
    struct bpftime_attach_impl *uprobe, *uretprobe, *usdt; /* owned by the manager */
    struct bpftime_attach_impl *sys_enter, *sys_exit;      /* owned by the manager */
    pthread_t thread;
    bool joinable;      /* a watcher thread exists and nobody joined it yet */
    bool forked_child;  /* this process is a fork of the one that started */
    atomic_int running; /* hooks may be in place */
    atomic_int stop_fd; /* eventfd the watcher polls; -1 when stopped */
    char shm[BPFTIME_NAME_LEN + 1];
};

static struct agent_ctx agent = {
    .start_lock = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .stop_fd = -1,
};

/* Detaches everything and closes the region (watcher thread, or start-up
 * failure paths). */
static void teardown(void)
{
    pthread_mutex_lock(&agent.lock);
    if (agent.manager) {
        if (agent.forked_child) {
            /* The manager's instance entry belongs to the parent: only unhook. */
            bpftime_attach_manager_deinstantiate(agent.manager);
        } else {
            bpftime_attach_manager_destroy(agent.manager);
            agent.manager = NULL;
            agent.uprobe = agent.uretprobe = agent.usdt = NULL;
            agent.sys_enter = agent.sys_exit = NULL;
        }
    }
    if (agent.region && !agent.manager) {
        bpftime_region_close(agent.region);
        agent.region = NULL;
    }
    int fd = atomic_exchange(&agent.stop_fd, -1);
    if (fd >= 0)
        close(fd);
    atomic_store(&agent.running, 0);
    pthread_mutex_unlock(&agent.lock);
}

static void *watcher(void *unused)
{
    (void)unused;
    /* The agent's own syscalls are never traced (syscall targets). */
    bpftime_sud_exclude_thread();
    prctl(PR_SET_NAME, "bpftime-agent", 0, 0, 0);
    for (;;) {
        int fd = atomic_load(&agent.stop_fd);
        if (fd < 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, WATCH_INTERVAL_MS);
        if (n > 0)
            break; /* stop requested */
        pthread_mutex_lock(&agent.lock);
        /* A forked child's first round: become an instance of its own, so
         * `bpftime list` shows it and it cleans up after itself like any
         * started process. */
        if (agent.forked_child && bpftime_attach_manager_after_fork(agent.manager) == 0)
            agent.forked_child = false;
        int rc = bpftime_attach_manager_refresh(agent.manager);
        if (rc < 0)
            BPFTIME_WARN("agent: cannot follow region %s: %s", agent.shm,
                         bpftime_last_error_message());
        else if (rc > 0)
            BPFTIME_INFO("agent: region %s changed: %d link(s) attached", agent.shm,
                         bpftime_attach_manager_attached(agent.manager));
        /* Waiting uprobes whose library was loaded since: hook them, and say so
         * in the region (they are no longer "waiting"). */
        if (bpftime_uprobe_impl_retry(agent.uprobe) + bpftime_uprobe_impl_retry(agent.uretprobe) +
                bpftime_uprobe_impl_retry(agent.usdt) >
            0)
            bpftime_attach_manager_report(agent.manager);
        pthread_mutex_unlock(&agent.lock);
    }
    teardown();
    BPFTIME_INFO("agent: stopped; every hook removed");
    return NULL;
}

static int start_watcher(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&agent.thread, NULL, watcher, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        agent.joinable = true;
    return -rc;
}

static void join_old_watcher(void)
{
    if (agent.joinable) {
        pthread_join(agent.thread, NULL);
        agent.joinable = false;
    }
}

static void atfork_prepare(void)
{
    pthread_mutex_lock(&agent.lock);
}
static void atfork_parent(void)
{
    pthread_mutex_unlock(&agent.lock);
}
static void atfork_child(void)
{
    /* The watcher thread does not exist here; the hooks (copied memory) do.
     * Start a new watcher so the child follows the region too. */
    pthread_mutex_unlock(&agent.lock);
    pthread_mutex_init(&agent.start_lock, NULL);
    agent.joinable = false;
    if (!atomic_load(&agent.running))
        return;
    agent.forked_child = true;
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int old = atomic_exchange(&agent.stop_fd, fd);
    if (old >= 0)
        close(old); /* the parent's: shared with it after fork */
    if (fd < 0 || start_watcher() < 0)
        BPFTIME_WARN("agent: forked child %d keeps its hooks but does not follow the region",
                     (int)getpid());
}

/* Creates and registers the uprobe, uretprobe, usdt and syscall enter/exit
 * implementations (the manager owns what it registered). */
static int register_impls(void)
{
    agent.uprobe = bpftime_uprobe_impl_create(0);
    agent.uretprobe = bpftime_uprobe_impl_create(1);
    agent.usdt = bpftime_usdt_impl_create();
    agent.sys_enter = bpftime_syscall_impl_create(0);
    agent.sys_exit = bpftime_syscall_impl_create(1);
    struct bpftime_attach_impl *impls[] = {agent.uprobe, agent.uretprobe, agent.usdt,
                                           agent.sys_enter, agent.sys_exit};
    int rc = 0;
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
        if (impls[i] && rc == 0 &&
            bpftime_attach_manager_register_impl(agent.manager, impls[i]) == 0)
            continue;
        if (impls[i])
            impls[i]->ops->destroy(impls[i]);
        rc = -ENOMEM;
    }
    return rc;
}

static int agent_start(const char *shm);

int bpftime_agent_start(const char *shm)
{
    /* Nothing the agent does here (reading the region, starting its watcher
     * thread) is a syscall of the process's own: not traced, and the
     * watcher is not a thread that syscall links catch. */
    int prev = bpftime_sud_suspend_thread();
    int rc = agent_start(shm);
    bpftime_sud_resume_thread(prev);
    return rc;
}

static int agent_start(const char *shm)
{
    pthread_mutex_lock(&agent.start_lock);
    int rc;
    if (atomic_load(&agent.running)) {
        rc = -EALREADY;
        goto out;
    }
    join_old_watcher();
    static bool atfork_registered;
    if (!atfork_registered) {
        /* Lock order is agent.lock, then the patcher's lock (the watcher
         * attaches under agent.lock). Prepare handlers run in reverse order
         * of registration: initialise the patcher (which registers its own)
         * first so that ours runs first. */
        if (bpftime_hook_transaction_begin() == 0)
            bpftime_hook_transaction_commit();
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        atfork_registered = true;
    }
    const char *name = shm && *shm ? shm : BPFTIME_DEFAULT_REGION;
    snprintf(agent.shm, sizeof agent.shm, "%s", name);
    agent.forked_child = false;
    rc = bpftime_region_open(name, &agent.region);
    if (rc == 0) {
        /* a damaged region must never crash the process we live in */
        rc = bpftime_region_validate(agent.region);
        if (rc < 0)
            bpftime_region_close(agent.region);
    }
    if (rc < 0) {
        agent.region = NULL;
        BPFTIME_WARN("agent: %s; process %d runs without bpftime", bpftime_last_error_message(),
                     (int)getpid());
        goto out;
    }
    agent.manager = bpftime_attach_manager_create(agent.region);
    if (!agent.manager || register_impls() < 0) {
        BPFTIME_WARN("agent: cannot create the attach manager (out of memory)");
        bpftime_attach_manager_destroy(agent.manager);
        agent.manager = NULL;
        bpftime_region_close(agent.region);
        agent.region = NULL;
        rc = -ENOMEM;
        goto out;
    }
    atomic_store(&agent.running, 1);
    pthread_mutex_lock(&agent.lock);
    rc = bpftime_attach_manager_instantiate(agent.manager);
    pthread_mutex_unlock(&agent.lock);
    if (rc < 0) {
        BPFTIME_WARN("agent: cannot read region %s: %s", name, bpftime_last_error_message());
        teardown();
        goto out;
    }
    BPFTIME_INFO("agent: region %s: %d link(s) attached in process %d", name, rc, (int)getpid());
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        BPFTIME_WARN("agent: eventfd: %s; hooks stay as they are now", strerror(errno));
        goto out;
    }
    atomic_store(&agent.stop_fd, fd);
    int trc = start_watcher();
    if (trc < 0)
        BPFTIME_WARN("agent: cannot start the watcher thread: %s; hooks stay as they are now",
                     strerror(-trc));
out:
    pthread_mutex_unlock(&agent.start_lock);
    return rc;
}

int bpftime_agent_request_stop(void)
{
    int fd = atomic_load(&agent.stop_fd);
    if (fd < 0)
        return -ESRCH;
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    return n == (ssize_t)sizeof one ? 0 : -errno;
}

void bpftime_agent_stop(void)
{
    pthread_mutex_lock(&agent.start_lock);
    if (agent.joinable) {
        bpftime_agent_request_stop();
        join_old_watcher();
    } else if (atomic_load(&agent.running)) {
        teardown(); /* no watcher (it could not start) */
    }
    pthread_mutex_unlock(&agent.start_lock);
}

int bpftime_agent_running(void)
{
    return atomic_load(&agent.running);
}

/* Started by LD_PRELOAD? (An injected agent is started by the injector, and
 * the bpftime CLI dlopens this library only to use the injector.) */
static bool preloaded(void)
{
    const char *pre = getenv("LD_PRELOAD");
    Dl_info info;
    if (!pre || !dladdr((void *)preloaded, &info) || !info.dli_fname)
        return false;
    const char *base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    return strstr(pre, base) != NULL;
}

/* Injector mode: the bpftime CLI runs a helper process with this library
 * preloaded and BPFTIME_AGENT_INJECT=PID (or BPFTIME_AGENT_EJECT=PID); the
 * constructor does the ptrace work, prints one result line on stdout
 * ("ok N" or "error ERRNO MESSAGE") and exits before the helper's main()
 * (the CLI cannot dlopen this library itself: both use initial-exec TLS). */
static bool injector_mode(void)
{
    const char *inj = getenv("BPFTIME_AGENT_INJECT"), *ej = getenv("BPFTIME_AGENT_EJECT");
    if (!(inj && *inj) && !(ej && *ej))
        return false;
    int rc;
    if (inj && *inj) {
        Dl_info info;
        if (!dladdr((void *)injector_mode, &info) || !info.dli_fname)
            rc = bpftime_set_error(-ENOENT, "cannot find the agent library's own path");
        else
            rc = bpftime_agent_inject(atoi(inj), info.dli_fname, getenv("BPFTIME_SHM"));
    } else {
        rc = bpftime_agent_eject(atoi(ej));
    }
    if (rc >= 0)
        printf("ok %d\n", rc);
    else
        printf("error %d %s\n", -rc, bpftime_last_error_message());
    fflush(stdout);
    _exit(0);
}

__attribute__((constructor)) static void agent_init(void)
{
    if (injector_mode())
        return;
    const char *off = getenv("BPFTIME_AGENT_DISABLE");
    if (off && *off && strcmp(off, "0") != 0)
        return;
    if (!preloaded())
        return;
    bpftime_agent_start(getenv("BPFTIME_SHM"));
}

__attribute__((destructor)) static void agent_fini(void)
{
    if (agent.forked_child) {
        /* Hooks die with the process; the instance entry is the parent's. */
        return;
    }
    bpftime_agent_stop();
}
