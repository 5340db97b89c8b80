/* Catching a process's own syscalls with Syscall User Dispatch (SUD).
 *
 * prctl(PR_SET_SYSCALL_USER_DISPATCH) makes the kernel turn each syscall of
 * the calling thread into a SIGSYS while the thread's selector byte says
 * BLOCK, except for syscalls made from one address range (the "allowed"
 * range). Our SIGSYS handler sets the selector to ALLOW (so everything it
 * does itself - the eBPF programs, their helpers, logging - runs unseen), calls
 * the enter hook, makes the syscall itself, calls the exit hook, writes the
 * result into the interrupted context's rax, sets the selector back to BLOCK
 * and returns through a restorer (rt_sigreturn) that lives in the allowed
 * range. The allowed range is one page of our own code: that restorer and
 * per-call-site stubs that run a syscall natively and jump back (for the
 * syscalls a signal handler cannot make on the caller's behalf: rt_sigreturn,
 * clone/clone3/fork/vfork, execve, exit).
 *
 * SUD is per thread and not inherited by new threads or forked children:
 *   - starting: every thread of the process (but those marked with
 *     bpftime_sud_exclude_thread, the agent's own) is sent a SIGSYS with
 *     tgkill; the handler sees it came from this process and switches SUD on
 *     (or off) for itself;
 *   - a clone with CLONE_THREAD|CLONE_SETTLS made by a caught thread runs
 *     through a stub whose child side switches SUD on in the new thread
 *     before it runs any of its own code: threads started later are caught,
 *     whoever starts them (libc, a dlopen'ed library, JIT-ed code);
 *   - fork: the child of a caught thread is caught again (pthread_atfork).
 * Not caught: threads that block SIGSYS forever, syscalls made from the
 * vDSO (clock_gettime, gettimeofday: no syscall at all), and syscalls made
 * inside another signal handler that interrupted our handler.
 *
 * Only one set of hooks exists per process (the syscall attach
 * implementation, syscall_tracepoint.c); SUD is on only while it has links. */
#ifndef BPFTIME_SYSCALL_SUD_H
#define BPFTIME_SYSCALL_SUD_H

#include <stdatomic.h>
#include <stdint.h>

/* One intercepted syscall, as the caller made it. */
struct bpftime_sud_call {
    long nr;
    uint64_t args[6]; /* rdi rsi rdx r10 r8 r9 */
    const void *mctx; /* the caller's mcontext_t (registers), for pt_regs contexts */
    uint64_t site;    /* address right after the syscall instruction */
};

struct bpftime_sud_hooks {
    /* Before the syscall. Returns 1 with *ret set to skip the syscall and
     * return *ret instead (bpf_override_return), else 0. */
    int (*enter)(const struct bpftime_sud_call *c, int64_t *ret);
    /* After the syscall, with its result (not called for syscalls that do
     * not return to the caller: exit, execve, rt_sigreturn, clone, fork). */
    void (*exit)(const struct bpftime_sud_call *c, int64_t ret);
};

/* 0 if this kernel supports SUD, else a negative errno with the reason. */
int bpftime_sud_probe(void);

/* Switches SUD on in every thread of the process but the excluded ones and
 * routes their syscalls to hooks (which must stay valid until stop).
 * Waits (up to a second) until each thread switched. 0 or a negative errno. */
int bpftime_sud_start(const struct bpftime_sud_hooks *hooks);

/* Switches SUD off everywhere; waits until no hook is running. */
void bpftime_sud_stop(void);

/* The calling thread is never caught (the agent's watcher). */
void bpftime_sud_exclude_thread(void);

/* Nonzero from bpftime_sud_start to bpftime_sud_stop: while no syscall link
 * exists, a program run skips bpftime_sud_suspend_thread (one load instead
 * of two calls). A run that began just before a start does not suspend;
 * the syscalls its helpers make meanwhile may be seen once as the
 * process's own. */
extern atomic_int bpftime_sud_wanted;

/* Suspends / resumes catching on the calling thread (e.g. while the agent
 * starts its own thread, so that thread is not caught). suspend returns
 * the previous state for resume. */
int bpftime_sud_suspend_thread(void);
void bpftime_sud_resume_thread(int prev);

/* Syscalls seen since start (all threads), for tests and statistics. */
uint64_t bpftime_sud_calls(void);

#endif
