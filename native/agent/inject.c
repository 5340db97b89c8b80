/* The injector: makes a running process call functions of ours through
 * ptrace (x86-64 Linux), used by `bpftime inject PID` / `bpftime eject PID`.
 *
 * One remote call: PTRACE_SEIZE + PTRACE_INTERRUPT the main thread, save its
 * registers and extended FPU state, point rip at the function with the
 * arguments in rdi/rsi and a return address of 0 on a stack below the red
 * zone, resume, and wait for the SIGSEGV at rip 0 that the return produces.
 * Then the saved state is put back (orig_rax included, so a system call the
 * thread was blocked in restarts as after any signal) and the thread is
 * released. Signals arriving meanwhile are delivered as usual. Only the main
 * thread stops; the others keep running. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/error.h"
#include "attach/elf_symbols.h"

#define CALL_TIMEOUT_NS (10ll * 1000 * 1000 * 1000)
#define XSTATE_MAX 16384

struct tracee {
    int pid;
    int mem_fd;
    struct user_regs_struct saved;
    uint8_t *xstate;
    struct iovec xiov;
    bool have_xstate;
    int pending_sig; /* a stop signal to give back at detach */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* waitpid with a deadline; returns 0 with *status, or -ETIMEDOUT / -errno. */
static int wait_stop(int pid, int *status, uint64_t deadline)
{
    for (;;) {
        int r = waitpid(pid, status, __WALL | WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0)
            return -errno;
        if (now_ns() > deadline)
            return -ETIMEDOUT;
        struct timespec ts = {0, 200 * 1000};
        nanosleep(&ts, NULL);
    }
}

static bool is_stop_signal(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static int seize(struct tracee *t, int pid)
{
    memset(t, 0, sizeof *t);
    t->pid = pid;
    t->mem_fd = -1;
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) {
        int e = errno;
        if (e == EPERM)
            return bpftime_set_error(-EPERM,
                                     "cannot trace process %d: permission denied (same user and "
                                     "kernel.yama.ptrace_scope 0, or CAP_SYS_PTRACE, are needed)",
                                     pid);
        if (e == ESRCH)
            return bpftime_set_error(-ESRCH, "no process %d", pid);
        return bpftime_set_error(-e, "cannot trace process %d: %s", pid, strerror(e));
    }
    if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) {
        int e = errno;
        ptrace(PTRACE_DETACH, pid, 0, 0);
        return bpftime_set_error(-e, "cannot stop process %d: %s", pid, strerror(e));
    }
    uint64_t deadline = now_ns() + CALL_TIMEOUT_NS;
    for (;;) {
        int st;
        int rc = wait_stop(pid, &st, deadline);
        if (rc < 0) {
            ptrace(PTRACE_DETACH, pid, 0, 0);
            return bpftime_set_error(rc, "process %d did not stop: %s", pid, strerror(-rc));
        }
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return bpftime_set_error(-ESRCH, "process %d exited", pid);
        if (!WIFSTOPPED(st))
            continue;
        if ((st >> 16) == PTRACE_EVENT_STOP)
            break; /* our interrupt (or a group stop) */
        /* A signal was on its way: hold it until we are done. */
        int sig = WSTOPSIG(st);
        if (is_stop_signal(sig))
            t->pending_sig = sig;
        ptrace(PTRACE_CONT, pid, 0, is_stop_signal(sig) ? 0 : sig);
    }
    if (ptrace(PTRACE_GETREGS, pid, 0, &t->saved) < 0) {
        int e = errno;
        ptrace(PTRACE_DETACH, pid, 0, 0);
        return bpftime_set_error(-e, "cannot read the registers of process %d: %s", pid,
                                 strerror(e));
    }
    t->xstate = calloc(1, XSTATE_MAX);
    if (t->xstate) {
        t->xiov = (struct iovec){t->xstate, XSTATE_MAX};
        t->have_xstate = ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &t->xiov) == 0;
    }
    char mem[64];
    snprintf(mem, sizeof mem, "/proc/%d/mem", pid);
    t->mem_fd = open(mem, O_RDWR | O_CLOEXEC);
    if (t->mem_fd < 0) {
        int e = errno;
        ptrace(PTRACE_DETACH, pid, 0, 0);
        free(t->xstate);
        return bpftime_set_error(-e, "cannot open %s: %s", mem, strerror(e));
    }
    return 0;
}

static void release(struct tracee *t)
{
    ptrace(PTRACE_SETREGS, t->pid, 0, &t->saved);
    if (t->have_xstate)
        ptrace(PTRACE_SETREGSET, t->pid, (void *)NT_X86_XSTATE, &t->xiov);
    ptrace(PTRACE_DETACH, t->pid, 0, t->pending_sig);
    if (t->mem_fd >= 0)
        close(t->mem_fd);
    free(t->xstate);
}

/* Calls func(a0, a1) in the tracee; data (data_len bytes) is copied to its
 * stack first and a0/a1 equal to UINT64_MAX are replaced by its address. */
static int remote_call(struct tracee *t, uint64_t func, uint64_t a0, uint64_t a1, const void *data,
                       size_t data_len, uint64_t *ret)
{
    struct user_regs_struct regs = t->saved;
    uint64_t sp = (t->saved.rsp - 512) & ~15ull; /* below the red zone */
    if (data_len) {
        sp = (sp - data_len) & ~15ull;
        if (pwrite(t->mem_fd, data, data_len, (off_t)sp) != (ssize_t)data_len)
            return bpftime_set_error(-EIO, "cannot write to process %d: %s", t->pid,
                                     strerror(errno));
        if (a0 == UINT64_MAX)
            a0 = sp;
        if (a1 == UINT64_MAX)
            a1 = sp;
    }
    sp -= 8; /* rsp % 16 == 8 at function entry, as after a call */
    uint64_t zero = 0;
    if (pwrite(t->mem_fd, &zero, 8, (off_t)sp) != 8)
        return bpftime_set_error(-EIO, "cannot write to process %d: %s", t->pid, strerror(errno));
    regs.rip = func;
    regs.rdi = a0;
    regs.rsi = a1;
    regs.rax = 0;
    regs.rsp = sp;
    regs.orig_rax = (unsigned long long)-1; /* no system call restart for our call */
    if (ptrace(PTRACE_SETREGS, t->pid, 0, &regs) < 0)
        return bpftime_set_error(-errno, "cannot set registers: %s", strerror(errno));
    int sig = 0;
    uint64_t deadline = now_ns() + CALL_TIMEOUT_NS;
    for (;;) {
        if (ptrace(PTRACE_CONT, t->pid, 0, sig) < 0)
            return bpftime_set_error(-errno, "cannot resume process %d: %s", t->pid,
                                     strerror(errno));
        sig = 0;
        int st;
        int rc = wait_stop(t->pid, &st, deadline);
        if (rc == -ETIMEDOUT) {
            ptrace(PTRACE_INTERRUPT, t->pid, 0, 0);
            wait_stop(t->pid, &st, now_ns() + CALL_TIMEOUT_NS);
            return bpftime_set_error(rc, "the call in process %d did not return within 10 s",
                                     t->pid);
        }
        if (rc < 0)
            return bpftime_set_error(rc, "waitpid: %s", strerror(-rc));
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return bpftime_set_error(-ESRCH, "process %d exited during the call", t->pid);
        if (!WIFSTOPPED(st))
            continue;
        if ((st >> 16) == PTRACE_EVENT_STOP)
            continue;
        int s = WSTOPSIG(st);
        if (s == SIGSEGV) {
            struct user_regs_struct now;
            if (ptrace(PTRACE_GETREGS, t->pid, 0, &now) < 0)
                return bpftime_set_error(-errno, "cannot read registers: %s", strerror(errno));
            if (now.rip == 0) {
                *ret = now.rax;
                return 0;
            }
            return bpftime_set_error(
                -EFAULT, "the call in process %d faulted at 0x%llx (registers restored)", t->pid,
                now.rip);
        }
        if (is_stop_signal(s))
            t->pending_sig = s;
        else
            sig = s; /* deliver it now, as it would have been */
    }
}

static int read_remote_str(struct tracee *t, uint64_t addr, char *buf, size_t len)
{
    if (!addr)
        return -EFAULT;
    ssize_t n = pread(t->mem_fd, buf, len - 1, (off_t)addr);
    if (n <= 0)
        return -EFAULT;
    buf[n] = 0;
    return 0;
}

/* Address of `symbol` of the object mapped as `binary` in process pid. */
static int remote_symbol(int pid, const char *binary, const char *symbol, uint64_t *addr)
{
    char path[PATH_MAX];
    uint64_t bias, value, size;
    int ifunc;
    int rc = bpftime_find_mapping(pid, binary, path, sizeof path, &bias);
    if (rc < 0)
        return rc;
    char file[PATH_MAX + 32];
    snprintf(file, sizeof file, "/proc/%d/root%s", pid, path);
    rc = bpftime_elf_lookup_symbol(file, symbol, &value, &size, &ifunc);
    if (rc < 0)
        return rc;
    *addr = bias + value;
    return 0;
}

static bool agent_loaded(int pid, const char *agent_path)
{
    char path[PATH_MAX];
    uint64_t bias;
    return bpftime_find_mapping(pid, agent_path, path, sizeof path, &bias) == 0;
}

int bpftime_agent_inject(int pid, const char *agent_path, const char *shm)
{
    char real[PATH_MAX];
    if (!realpath(agent_path, real))
        return bpftime_set_error(-errno, "agent library %s: %s", agent_path, strerror(errno));
    if (pid <= 0 || pid == getpid())
        return bpftime_set_error(-EINVAL, "cannot inject into process %d", pid);
    uint64_t dlopen_addr, dlerror_addr = 0;
    int rc = remote_symbol(pid, "libc.so.6", "dlopen", &dlopen_addr);
    if (rc < 0) {
        return bpftime_set_error(rc, "process %d: %s (only glibc >= 2.34 processes are supported)",
                                 pid, bpftime_last_error_message());
    }
    remote_symbol(pid, "libc.so.6", "dlerror", &dlerror_addr);

    struct tracee t;
    rc = seize(&t, pid);
    if (rc < 0)
        return rc;
    uint64_t ret = 0;
    if (!agent_loaded(pid, real)) {
        rc = remote_call(&t, dlopen_addr, UINT64_MAX, 2 /* RTLD_NOW */, real, strlen(real) + 1,
                         &ret);
        if (rc == 0 && ret == 0) {
            char msg[512] = "unknown error";
            uint64_t m = 0;
            if (dlerror_addr && remote_call(&t, dlerror_addr, 0, 0, NULL, 0, &m) == 0)
                read_remote_str(&t, m, msg, sizeof msg);
            rc = bpftime_set_error(-ENOEXEC, "dlopen in process %d failed: %s", pid, msg);
        }
    }
    uint64_t start_addr = 0;
    if (rc == 0)
        rc = remote_symbol(pid, real, "bpftime_agent_start", &start_addr);
    if (rc == 0) {
        const char *name = shm && *shm ? shm : "bpftime";
        rc = remote_call(&t, start_addr, UINT64_MAX, 0, name, strlen(name) + 1, &ret);
    }
    release(&t);
    if (rc < 0)
        return rc;
    int r = (int)(int32_t)ret;
    if (r == -EALREADY)
        return bpftime_set_error(-EALREADY, "the agent is already running in process %d", pid);
    if (r < 0)
        return bpftime_set_error(
            r, "the agent in process %d could not start (%s); see that process's stderr", pid,
            strerror(-r));
    return r;
}

int bpftime_agent_eject(int pid)
{
    uint64_t stop_addr;
    int rc = remote_symbol(pid, "libbpftime-agent", "bpftime_agent_request_stop", &stop_addr);
    if (rc == -ENOENT)
        return bpftime_set_error(-ESRCH, "no bpftime agent is loaded in process %d", pid);
    if (rc < 0)
        return rc;
    struct tracee t;
    rc = seize(&t, pid);
    if (rc < 0)
        return rc;
    uint64_t ret = 0;
    rc = remote_call(&t, stop_addr, 0, 0, NULL, 0, &ret);
    release(&t);
    if (rc < 0)
        return rc;
    if ((int)(int32_t)ret == -ESRCH)
        return bpftime_set_error(-ESRCH, "the bpftime agent in process %d is not running", pid);
    return 0;
}
