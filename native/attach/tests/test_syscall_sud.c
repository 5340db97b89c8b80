/* Syscall User Dispatch (attach/syscall_sud.c) in this process: hooks see
 * the syscalls of every thread (started before or after), can skip one with
 * a value, the exit hook sees results, and stop switches everything off. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach/syscall_sud.h"
#include "test/harness.h"

static atomic_int getppid_enters, getppid_exits, sched_yield_enters;
static atomic_long last_exit_ret;
static _Atomic pid_t last_tid;

static int enter(const struct bpftime_sud_call *c, int64_t *ret)
{
    if (c->nr == SYS_getppid) {
        atomic_fetch_add(&getppid_enters, 1);
        atomic_store(&last_tid, (pid_t)syscall(SYS_gettid));
    }
    if (c->nr == SYS_sched_yield)
        atomic_fetch_add(&sched_yield_enters, 1);
    /* skip close(-77) and return 4242 instead */
    if (c->nr == SYS_close && (int)c->args[0] == -77) {
        *ret = 4242;
        return 1;
    }
    return 0;
}

static void on_exit_hook(const struct bpftime_sud_call *c, int64_t ret)
{
    if (c->nr == SYS_getppid) {
        atomic_fetch_add(&getppid_exits, 1);
        atomic_store(&last_exit_ret, ret);
    }
}

static const struct bpftime_sud_hooks hooks = {.enter = enter, .exit = on_exit_hook};

static void *thread_body(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        getppid();
    return (void *)(intptr_t)syscall(SYS_gettid);
}

TEST(hooks_see_syscalls_and_results)
{
    CHECK_EQ(bpftime_sud_probe(), 0);
    CHECK_EQ(bpftime_sud_start(&hooks), 0);
    pid_t ppid = getppid();
    for (int i = 0; i < 2; i++)
        getppid();
    bpftime_sud_stop();
    uint64_t dispatched = bpftime_sud_calls();
    getppid(); /* not seen: SUD is off, no SIGSYS at all */
    close(-1);
    CHECK_EQ(bpftime_sud_calls(), dispatched);
    CHECK_EQ(atomic_load(&getppid_enters), 3);
    CHECK_EQ(atomic_load(&getppid_exits), 3);
    CHECK_EQ(atomic_load(&last_exit_ret), (long)ppid);
    CHECK_EQ(ppid, (pid_t)syscall(SYS_getppid));
}

/* Stopped and started again, this thread is caught again; stopped, not. */
TEST(a_restart_catches_the_thread_again)
{
    CHECK_EQ(bpftime_sud_start(&hooks), 0);
    getppid();
    bpftime_sud_stop();
    getppid();
    CHECK_EQ(atomic_load(&getppid_enters), 1);
    CHECK_EQ(bpftime_sud_start(&hooks), 0);
    uint64_t before = bpftime_sud_calls();
    getppid();
    getppid();
    uint64_t after = bpftime_sud_calls(); /* a counter read, no syscall */
    bpftime_sud_stop();
    getppid();
    CHECK_EQ(after - before, 2);
    CHECK_EQ(atomic_load(&getppid_enters), 3);
    CHECK_EQ(atomic_load(&getppid_exits), 3);
}

TEST(override_skips_the_syscall)
{
    CHECK_EQ(bpftime_sud_start(&hooks), 0);
    long r = syscall(SYS_close, -77);
    int e = errno;
    long r2 = syscall(SYS_close, -78);
    int e2 = errno;
    bpftime_sud_stop();
    CHECK_EQ(r, 4242);
    CHECK_EQ(r2, -1);
    CHECK_EQ(e2, EBADF);
    (void)e;
}

TEST(threads_started_later_and_before_are_caught)
{
    /* a thread that exists before start, waiting on a pipe */
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    CHECK_EQ(bpftime_sud_start(&hooks), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_body, NULL), 0);
    void *tid;
    CHECK_EQ(pthread_join(th, &tid), 0);
    CHECK_EQ(atomic_load(&getppid_enters), 5);
    CHECK_EQ(atomic_load(&last_tid), (pid_t)(intptr_t)tid);
    bpftime_sud_stop();
    close(fds[0]);
    close(fds[1]);
}

static atomic_int go;
static void *early_body(void *arg)
{
    (void)arg;
    while (!atomic_load(&go))
        sched_yield();
    for (int i = 0; i < 4; i++)
        getppid();
    return NULL;
}

TEST(a_thread_running_before_start_is_caught)
{
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, early_body, NULL), 0);
    CHECK_EQ(bpftime_sud_start(&hooks), 0);
    atomic_store(&go, 1);
    CHECK_EQ(pthread_join(th, NULL), 0);
    bpftime_sud_stop();
    CHECK_EQ(atomic_load(&getppid_enters), 4);
}

TEST(fork_child_is_caught_and_exec_works)
{
    CHECK_EQ(bpftime_sud_start(&hooks), 0);
    pid_t p = fork();
    if (p == 0) {
        getppid();
        getppid();
        _exit(atomic_load(&getppid_enters) == 2 ? 0 : 10 + atomic_load(&getppid_enters));
    }
    int st = 0;
    CHECK_EQ(waitpid(p, &st, 0), p);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    pid_t q = fork();
    if (q == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(99);
    }
    CHECK_EQ(waitpid(q, &st, 0), q);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    bpftime_sud_stop();
    CHECK_EQ(atomic_load(&getppid_enters), 0);
}

static atomic_int usr1_seen;
static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&usr1_seen, 1);
    getppid(); /* a syscall inside another handler */
}

TEST(signal_handlers_and_masks_survive)
{
    signal(SIGUSR1, on_usr1);
    CHECK_EQ(bpftime_sud_start(&hooks), 0);
    raise(SIGUSR1); /* the handler returns through rt_sigreturn: caught and passed through */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0);
    raise(SIGUSR1); /* blocked: stays pending */
    int seen_blocked = atomic_load(&usr1_seen);
    sigset_t now;
    CHECK_EQ(sigprocmask(SIG_SETMASK, NULL, &now), 0);
    CHECK(sigismember(&now, SIGUSR1));
    CHECK_EQ(sigprocmask(SIG_SETMASK, &old, NULL), 0); /* delivered now */
    bpftime_sud_stop();
    CHECK_EQ(seen_blocked, 1);
    CHECK_EQ(atomic_load(&usr1_seen), 2);
    /* The first SIGUSR1 arrives while our SIGSYS handler makes tgkill for
     * raise(): its handler's getppid runs with the selector at ALLOW and is
     * not seen (the documented limit). The second, delivered when the mask
     * is restored, runs on the caller's context and is seen. */
    CHECK_EQ(atomic_load(&getppid_enters), 1);
}

static void app_sigsys(int sig)
{
    (void)sig;
    _exit(77); /* would mean our handler was replaced */
}

static atomic_int full_mask_runs;
static void on_usr2(int sig)
{
    (void)sig;
    atomic_fetch_add(&full_mask_runs, 1);
    getppid(); /* a syscall while "every" signal is blocked */
}

TEST(the_process_cannot_take_sigsys_away)
{
    CHECK_EQ(bpftime_sud_start(&hooks), 0);
    /* its own SIGSYS handler: accepted, not installed */
    struct sigaction sa = {0};
    sa.sa_handler = app_sigsys;
    CHECK_EQ(sigaction(SIGSYS, &sa, NULL), 0);
    getppid();
    /* a handler whose mask blocks every signal, SIGSYS included */
    struct sigaction full = {0};
    full.sa_handler = on_usr2;
    sigfillset(&full.sa_mask);
    CHECK_EQ(sigaction(SIGUSR2, &full, NULL), 0);
    sigset_t block, old;
    sigfillset(&block);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &block, &old), 0); /* reported, SIGSYS not applied */
    getppid();
    sigset_t now;
    CHECK_EQ(sigprocmask(SIG_SETMASK, NULL, &now), 0);
    CHECK(sigismember(&now, SIGSYS)); /* the caller sees what it asked for */
    CHECK_EQ(sigprocmask(SIG_SETMASK, &old, NULL), 0);
    /* delivered when the mask is restored, on the caller's context: its
     * getppid is caught while "every" signal is blocked */
    sigset_t usr2, before;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &usr2, &before), 0);
    kill(getpid(), SIGUSR2);
    CHECK_EQ(sigprocmask(SIG_SETMASK, &before, NULL), 0);
    bpftime_sud_stop();
    CHECK_EQ(atomic_load(&full_mask_runs), 1);
    CHECK_EQ(atomic_load(&getppid_enters), 3);
}
