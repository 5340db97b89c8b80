/* Syscall User Dispatch: see syscall_sud.h. x86-64 Linux only. */
#include "attach/syscall_sud.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#endif
#define SUD_OFF 0
#define SUD_ON 1
#define SEL_ALLOW 0
#define SEL_BLOCK 1
#define SI_SYS_USER_DISPATCH 2 /* si_code of a SUD SIGSYS */
#define K_SA_RESTORER 0x04000000

#define STUB_AREA (64 * 1024) /* the allowed range: restorer + per-site stubs */
#define MAX_SITES 1024
#define MAX_EXCLUDED 8
#define SYNC_WAIT_NS 1000000000ull
/* A clone that makes a thread with its own TLS (what pthread_create does). */
#define CLONE_THREAD_FLAGS ((uint64_t)(CLONE_THREAD | CLONE_SETTLS))

/* Code templates, copied into the stub area (never run where they are).
 *   restorer: rt_sigreturn, the sa_restorer of our SIGSYS handler;
 *   plain:    the caller's syscall, natively, then back to the caller;
 *   thread:   the same for clone/clone3 of a thread: the child side first
 *             switches SUD on for itself (the function in the last slot),
 *             keeping every register the caller's code expects.
 * The last 8 bytes of plain, and the 16 of thread, are the slots (return
 * address; thread: return address, then the child function). */
__asm__(".pushsection .text\n"
        ".globl bpftime_sud_tpl_restorer\n.hidden bpftime_sud_tpl_restorer\n"
        ".globl bpftime_sud_tpl_restorer_end\n.hidden bpftime_sud_tpl_restorer_end\n"
        ".globl bpftime_sud_tpl_plain\n.hidden bpftime_sud_tpl_plain\n"
        ".globl bpftime_sud_tpl_plain_end\n.hidden bpftime_sud_tpl_plain_end\n"
        ".globl bpftime_sud_tpl_thread\n.hidden bpftime_sud_tpl_thread\n"
        ".globl bpftime_sud_tpl_thread_end\n.hidden bpftime_sud_tpl_thread_end\n"
        "bpftime_sud_tpl_restorer:\n"
        "  mov $15, %eax\n"
        "  syscall\n"
        "  ud2\n"
        "bpftime_sud_tpl_restorer_end:\n"
        "bpftime_sud_tpl_plain:\n"
        "  syscall\n"
        "  jmp *.Lsud_plain_ret(%rip)\n"
        ".Lsud_plain_ret: .quad 0\n"
        "bpftime_sud_tpl_plain_end:\n"
        "bpftime_sud_tpl_thread:\n"
        "  syscall\n"
        "  test %rax, %rax\n"
        "  jnz 1f\n"
        "  push %rdi\n  push %rsi\n  push %rdx\n  push %r10\n"
        "  push %r8\n  push %r9\n  push %rax\n  push %rbp\n"
        "  mov %rsp, %rbp\n"
        "  and $-16, %rsp\n"
        "  call *.Lsud_thread_fn(%rip)\n"
        "  mov %rbp, %rsp\n"
        "  pop %rbp\n  pop %rax\n  pop %r9\n  pop %r8\n"
        "  pop %r10\n  pop %rdx\n  pop %rsi\n  pop %rdi\n"
        "1: jmp *.Lsud_thread_ret(%rip)\n"
        ".Lsud_thread_ret: .quad 0\n"
        ".Lsud_thread_fn: .quad 0\n"
        "bpftime_sud_tpl_thread_end:\n"
        ".popsection\n");
extern const unsigned char bpftime_sud_tpl_restorer[], bpftime_sud_tpl_restorer_end[];
extern const unsigned char bpftime_sud_tpl_plain[], bpftime_sud_tpl_plain_end[];
extern const unsigned char bpftime_sud_tpl_thread[], bpftime_sud_tpl_thread_end[];

enum stub_kind { STUB_PLAIN = 1, STUB_THREAD = 2 };

struct site {
    uint64_t addr; /* 0: free */
    uint32_t kind;
    unsigned char *stub;
};

/* The kernel's struct sigaction (rt_sigaction), to give our own restorer. */
struct k_sigaction {
    void (*handler)(int, siginfo_t *, void *);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

static unsigned char *area; /* STUB_AREA bytes, RWX; [area, area+STUB_AREA) is allowed */
static size_t area_used;
static struct site sites[MAX_SITES];
static atomic_flag sites_lock = ATOMIC_FLAG_INIT;

static _Atomic(const struct bpftime_sud_hooks *) hooks;
atomic_int bpftime_sud_wanted; /* what the threads should be (see syscall_sud.h) */
static atomic_uint acks;       /* sync requests handled since the last broadcast */
static atomic_long inflight;   /* hook calls running */
static atomic_ulong nr_calls;
static pid_t excluded_tids[MAX_EXCLUDED];
static atomic_int nr_excluded;
static pthread_mutex_t control = PTHREAD_MUTEX_INITIALIZER; /* start/stop callers */
static bool handler_installed, atfork_registered;

/* Per thread. The kernel reads the selector on every syscall. */
static __thread __attribute__((tls_model("initial-exec"))) volatile char selector;
static __thread __attribute__((tls_model("initial-exec"))) int thread_on;
static __thread __attribute__((tls_model("initial-exec"))) int thread_suspended;
static __thread __attribute__((tls_model("initial-exec"))) int thread_excluded;

static long raw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

static void set_selector(char v)
{
    atomic_signal_fence(memory_order_seq_cst);
    selector = v;
    atomic_signal_fence(memory_order_seq_cst);
}

/* The selector this thread should have outside our handler. */
static void settle_selector(void)
{
    set_selector(thread_on && !thread_suspended ? SEL_BLOCK : SEL_ALLOW);
}

static long sud_prctl(int mode)
{
    return raw_syscall6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, mode,
                        mode == SUD_ON ? (long)(uintptr_t)area : 0, mode == SUD_ON ? STUB_AREA : 0,
                        mode == SUD_ON ? (long)(uintptr_t)&selector : 0, 0);
}

/* Brings the calling thread to the wanted state (selector stays ALLOW). */
static void thread_sync(void)
{
    if (thread_excluded)
        return;
    int want = atomic_load(&bpftime_sud_wanted);
    if (want && !thread_on) {
        set_selector(SEL_ALLOW);
        if (sud_prctl(SUD_ON) == 0)
            thread_on = 1;
    } else if (!want && thread_on) {
        sud_prctl(SUD_OFF);
        thread_on = 0;
    }
}

/* Child side of a thread clone (the thread stub calls it before anything of
 * the new thread runs): fresh TLS, so this thread starts uncaught. */
static void thread_child_start(void)
{
    thread_sync();
    settle_selector();
}

static void sites_lock_acquire(void)
{
    while (atomic_flag_test_and_set_explicit(&sites_lock, memory_order_acquire))
        ;
}

/* The stub that runs a syscall natively and returns to `ret_addr`, made on
 * first use; NULL when the area is full. Called from the SIGSYS handler:
 * the spin lock cannot be held by this thread (SIGSYS is blocked inside the
 * handler, and nothing else takes it). */
static unsigned char *stub_for(uint64_t ret_addr, enum stub_kind kind)
{
    uint64_t h = (ret_addr * 0x9E3779B97F4A7C15ull + kind) >> 32;
    unsigned char *found = NULL;
    sites_lock_acquire();
    for (unsigned i = 0; i < MAX_SITES; i++) {
        struct site *s = &sites[(h + i) % MAX_SITES];
        if (s->addr == ret_addr && s->kind == (uint32_t)kind) {
            found = s->stub;
            break;
        }
        if (s->addr != 0)
            continue;
        const unsigned char *tpl =
            kind == STUB_THREAD ? bpftime_sud_tpl_thread : bpftime_sud_tpl_plain;
        const unsigned char *end =
            kind == STUB_THREAD ? bpftime_sud_tpl_thread_end : bpftime_sud_tpl_plain_end;
        size_t len = (size_t)(end - tpl);
        size_t at = (area_used + 15) & ~(size_t)15;
        if (at + len > STUB_AREA)
            break;
        unsigned char *stub = area + at;
        memcpy(stub, tpl, len);
        if (kind == STUB_THREAD) {
            uint64_t fn = (uint64_t)(uintptr_t)thread_child_start;
            memcpy(stub + len - 16, &ret_addr, 8);
            memcpy(stub + len - 8, &fn, 8);
        } else {
            memcpy(stub + len - 8, &ret_addr, 8);
        }
        area_used = at + len;
        s->stub = stub;
        s->kind = kind;
        s->addr = ret_addr;
        found = stub;
        break;
    }
    atomic_flag_clear_explicit(&sites_lock, memory_order_release);
    return found;
}

#define SIGSYS_BIT (1ull << (SIGSYS - 1))

/* Whether this thread's code believes it blocked SIGSYS (it never is: a SUD
 * SIGSYS that finds itself blocked kills the process). */
static __thread __attribute__((tls_model("initial-exec"))) int thread_app_blocks_sigsys;

/* rt_sigprocmask on the interrupted context's mask: a mask set inside the
 * handler would be undone by its rt_sigreturn. SIGSYS stays unblocked; the
 * caller is told what it asked for. */
static int64_t emulate_sigprocmask(ucontext_t *uc, const uint64_t *a)
{
    if (a[3] != 8)
        return -EINVAL;
    uint64_t *mask = (uint64_t *)(void *)&uc->uc_sigmask;
    uint64_t old = *mask | (thread_app_blocks_sigsys ? SIGSYS_BIT : 0);
    if (a[1]) {
        uint64_t set, now = old;
        memcpy(&set, (const void *)(uintptr_t)a[1], 8);
        switch (a[0]) {
        case SIG_BLOCK: now |= set; break;
        case SIG_UNBLOCK: now &= ~set; break;
        case SIG_SETMASK: now = set; break;
        default: return -EINVAL;
        }
        thread_app_blocks_sigsys = (now & SIGSYS_BIT) != 0;
        *mask = now & ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)) | SIGSYS_BIT);
    }
    if (a[2])
        memcpy((void *)(uintptr_t)a[2], &old, 8);
    return 0;
}

/* rt_sigaction: our SIGSYS handler stays (the process's own is not set),
 * and no other handler may block SIGSYS while it runs. */
static int64_t emulate_sigaction(const uint64_t *a)
{
    if (a[0] == SIGSYS && a[1]) {
        if (a[2])
            memset((void *)(uintptr_t)a[2], 0, sizeof(struct k_sigaction));
        return 0;
    }
    struct k_sigaction act;
    const void *actp = (const void *)(uintptr_t)a[1];
    if (actp && a[3] == 8) {
        memcpy(&act, actp, sizeof act);
        act.mask &= ~SIGSYS_BIT;
        actp = &act;
    }
    return raw_syscall6(SYS_rt_sigaction, (long)a[0], (long)(uintptr_t)actp, (long)a[2], (long)a[3],
                        0, 0);
}

/* Which syscalls cannot be made from inside the handler: they must run at
 * the caller's own stack and registers (or never return). */
static enum stub_kind passthrough_kind(long nr, const uint64_t *a)
{
    const uint64_t thread = CLONE_THREAD_FLAGS;
    switch (nr) {
    case SYS_clone: return (a[0] & thread) == thread ? STUB_THREAD : STUB_PLAIN;
    case SYS_clone3: {
        uint64_t flags = 0;
        if (a[0])
            memcpy(&flags, (const void *)(uintptr_t)a[0], 8);
        return (flags & thread) == thread ? STUB_THREAD : STUB_PLAIN;
    }
    case SYS_rt_sigreturn:
    case SYS_fork:
    case SYS_vfork:
    case SYS_execve:
    case SYS_execveat:
    case SYS_exit:
    case SYS_exit_group: return STUB_PLAIN;
    default: return 0;
    }
}

static void dispatch(siginfo_t *si, ucontext_t *uc)
{
    (void)si;
    greg_t *g = uc->uc_mcontext.gregs;
    struct bpftime_sud_call c = {
        .nr = (long)g[REG_RAX],
        .args = {(uint64_t)g[REG_RDI], (uint64_t)g[REG_RSI], (uint64_t)g[REG_RDX],
                 (uint64_t)g[REG_R10], (uint64_t)g[REG_R8], (uint64_t)g[REG_R9]},
        .mctx = &uc->uc_mcontext,
        .site = (uint64_t)g[REG_RIP],
    };
    atomic_fetch_add_explicit(&nr_calls, 1, memory_order_relaxed);
    if (!atomic_load_explicit(&bpftime_sud_wanted, memory_order_relaxed)) {
        /* Stopped while this thread could not hear it (SIGSYS blocked): the
         * syscall runs as made, and SUD goes off here. */
        thread_sync();
    }
    int64_t ret = 0;
    int skip = 0;
    atomic_fetch_add(&inflight, 1);
    const struct bpftime_sud_hooks *h = atomic_load(&hooks);
    if (h && h->enter)
        skip = h->enter(&c, &ret);
    atomic_fetch_sub(&inflight, 1);
    if (!skip) {
        enum stub_kind kind = passthrough_kind(c.nr, c.args);
        if (kind) {
            unsigned char *stub = stub_for(c.site, kind);
            if (stub) {
                g[REG_RIP] = (greg_t)(uintptr_t)stub; /* rax still holds the number */
            } else {
                /* No room for a stub: this thread goes uncaught and makes
                 * the syscall again, natively. */
                BPFTIME_WARN("syscall dispatch: stub area full; thread %ld no longer traced",
                             raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0));
                sud_prctl(SUD_OFF);
                thread_on = 0;
                g[REG_RIP] -= 2;
            }
            return;
        }
        if (c.nr == SYS_rt_sigprocmask)
            ret = emulate_sigprocmask(uc, c.args);
        else if (c.nr == SYS_rt_sigaction)
            ret = emulate_sigaction(c.args);
        else
            ret = raw_syscall6(c.nr, (long)c.args[0], (long)c.args[1], (long)c.args[2],
                               (long)c.args[3], (long)c.args[4], (long)c.args[5]);
    }
    g[REG_RAX] = (greg_t)ret;
    atomic_fetch_add(&inflight, 1);
    h = atomic_load(&hooks);
    if (h && h->exit)
        h->exit(&c, ret);
    atomic_fetch_sub(&inflight, 1);
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    set_selector(SEL_ALLOW);
    /* Suspended for the whole handler: a suspend/resume pair inside it (a
     * program run by the attach manager) must not set BLOCK before we return. */
    int suspended = thread_suspended;
    thread_suspended = 1;
    int saved_errno = errno;
    if (si->si_code == SI_SYS_USER_DISPATCH) {
        dispatch(si, ctx);
    } else if (si->si_code == SI_TKILL &&
               si->si_pid == (pid_t)raw_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0)) {
        thread_sync(); /* a start/stop broadcast */
        atomic_fetch_add(&acks, 1);
    }
    errno = saved_errno;
    thread_suspended = suspended;
    settle_selector();
}

static void atfork_child(void)
{
    /* SUD is not inherited by fork: the child of a caught thread is caught again. */
    if (thread_on) {
        thread_on = 0;
        thread_sync();
        settle_selector();
    }
}

int bpftime_sud_probe(void)
{
    /* An invalid mode: EINVAL where SUD exists, another error where it does not. */
    long rc = raw_syscall6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, 2, 0, 0, 0, 0);
    if (rc == -EINVAL)
        return 0;
    return bpftime_set_error(-EOPNOTSUPP,
                             "this kernel has no Syscall User Dispatch (prctl "
                             "PR_SET_SYSCALL_USER_DISPATCH: %s); syscall targets need Linux 5.11+",
                             strerror((int)-rc));
}

static int setup_once(void)
{
    if (!area) {
        void *p = mmap(NULL, STUB_AREA, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return bpftime_set_error(-errno, "syscall dispatch: cannot map its stub area: %s",
                                     strerror(errno));
        area = p;
        size_t n = (size_t)(bpftime_sud_tpl_restorer_end - bpftime_sud_tpl_restorer);
        memcpy(area, bpftime_sud_tpl_restorer, n);
        area_used = n;
    }
    if (!handler_installed) {
        struct k_sigaction sa = {
            .handler = on_sigsys,
            .flags = SA_SIGINFO | SA_RESTART | K_SA_RESTORER,
            .restorer = (void (*)(void))(void *)area,
            .mask = 0,
        };
        long rc = raw_syscall6(SYS_rt_sigaction, SIGSYS, (long)(uintptr_t)&sa, 0, 8, 0, 0);
        if (rc < 0)
            return bpftime_set_error((int)rc, "syscall dispatch: cannot set the SIGSYS handler: %s",
                                     strerror((int)-rc));
        handler_installed = true;
    }
    if (!atfork_registered) {
        pthread_atfork(NULL, NULL, atfork_child);
        atfork_registered = true;
    }
    return 0;
}

static bool is_excluded(pid_t tid)
{
    int n = atomic_load(&nr_excluded);
    for (int i = 0; i < n && i < MAX_EXCLUDED; i++)
        if (excluded_tids[i] == tid)
            return true;
    return false;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sends every thread but the excluded ones a sync request and waits until
 * they handled it (threads that block SIGSYS never do: bounded wait). */
static void broadcast(void)
{
    pid_t pid = getpid();
    pid_t me = (pid_t)raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    atomic_store(&acks, 0);
    unsigned sent = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) {
        BPFTIME_WARN("syscall dispatch: cannot list threads: %s; only this one switches",
                     strerror(errno));
        thread_sync();
        return;
    }
    struct dirent *e;
    bool self = false;
    while ((e = readdir(d))) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || is_excluded(tid))
            continue;
        if (tid == me) {
            self = true; /* below, directly: no signal needed */
            continue;
        }
        if (raw_syscall6(SYS_tgkill, pid, tid, SIGSYS, 0, 0, 0) == 0)
            sent++;
    }
    closedir(d);
    if (self)
        thread_sync();
    uint64_t deadline = now_ns() + SYNC_WAIT_NS;
    while (atomic_load(&acks) < sent && now_ns() < deadline) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&acks) < sent)
        BPFTIME_DEBUG("syscall dispatch: %u of %u threads switched (the others block SIGSYS)",
                      atomic_load(&acks), sent);
}

int bpftime_sud_start(const struct bpftime_sud_hooks *h)
{
    int rc = bpftime_sud_probe();
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&control);
    int prev = bpftime_sud_suspend_thread();
    rc = setup_once();
    if (rc == 0) {
        atomic_store(&hooks, h);
        atomic_store(&bpftime_sud_wanted, 1);
        broadcast();
    }
    bpftime_sud_resume_thread(prev);
    pthread_mutex_unlock(&control);
    return rc;
}

void bpftime_sud_stop(void)
{
    pthread_mutex_lock(&control);
    int prev = bpftime_sud_suspend_thread();
    if (atomic_load(&bpftime_sud_wanted)) {
        atomic_store(&bpftime_sud_wanted, 0);
        atomic_store(&hooks, NULL);
        broadcast();
        while (atomic_load(&inflight) > 0) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    bpftime_sud_resume_thread(prev);
    pthread_mutex_unlock(&control);
}

void bpftime_sud_exclude_thread(void)
{
    thread_excluded = 1;
    int i = atomic_fetch_add(&nr_excluded, 1);
    if (i < MAX_EXCLUDED)
        excluded_tids[i] = (pid_t)raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    if (thread_on) {
        sud_prctl(SUD_OFF);
        thread_on = 0;
    }
    settle_selector();
}

int bpftime_sud_suspend_thread(void)
{
    int prev = thread_suspended;
    thread_suspended = 1;
    settle_selector();
    return prev;
}

void bpftime_sud_resume_thread(int prev)
{
    thread_suspended = prev;
    settle_selector();
}

uint64_t bpftime_sud_calls(void)
{
    return atomic_load(&nr_calls);
}
