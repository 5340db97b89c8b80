/* Interceptor: hooks, listener lists, the dispatcher the stubs call, the
 * per-thread shadow stack, and safe code patching while other threads run.
 *
 * Hot path (no locks, no syscalls): the enter stub calls
 * bpftime_patcher_dispatch_enter(), which reads the function's listener array
 * with one acquire load, runs the callbacks, and for on_leave listeners
 * remembers the return address in a thread-local shadow stack (the stub then
 * calls the function so that it returns into the leave stub; the trap path
 * swaps the return address with the leave stub instead). The dispatcher is
 * compiled to general-purpose registers only; callbacks that may touch
 * vector registers run through bpftime_call_preserving_vectors(). A per-thread `busy` flag makes hooked functions
 * called from inside a callback (or from malloc & co. used here) run
 * unhooked instead of recursing.
 *
 * Reclamation: listener arrays and hook handles removed by detach are freed
 * only after a grace period: each thread has a sequence counter that is odd
 * while it runs callbacks; the writer publishes the new array, issues
 * membarrier(PRIVATE_EXPEDITED) (so readers need no fence of their own), then
 * waits until every counter seen odd has moved. So when detach returns, no
 * thread is still inside that hook's callbacks.
 *
 * Code patching (all under the patcher lock; batched by transactions):
 *   1. int3 over the first byte of every site; sync all cores
 *      (membarrier SYNC_CORE, or a signal round as fallback).
 *   2. For sites being hooked: a signal round over all threads moves any
 *      thread whose rip is inside the bytes about to be overwritten to the
 *      same instruction in the relocated copy.
 *   3. Write bytes 1..n; sync. 4. Write the first byte; sync.
 * A thread hitting the int3 meanwhile gets SIGTRAP; the handler resumes it in
 * the relocated original instructions (the function runs unhooked once). The
 * handler knows every site ever patched (append-only list), so a late trap is
 * still recognised. Trampolines and function contexts are never freed.
 *
 * Trap path (where the jump does not fit, or BPFTIME_HOOK_F_TRAP): the site's
 * patch is the int3 alone (patch_len 1: step 1 above is the whole change, and
 * no thread can be inside one byte); its trampoline holds only the displaced
 * instruction, relocated, and the jump back (a nop is not even run: the
 * thread resumes after it). trap_handler() runs the same dispatcher as the
 * enter stub with a pt_regs built from the signal frame, so listeners,
 * override, on_leave (return-address replacement), the busy flag and the
 * grace period behave as on the jump path. */
#include "patcher/patcher_internal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "common/log.h"

#define TRAMP_SIZE 256
#define TRAMP_CODE_OFF 16
#define SHADOW_DEPTH 1024
#define HOOK_MAGIC 0x6b6f6f68u /* "hook" */
#define SIGNAL_ROUND_TIMEOUT_NS (2ll * 1000 * 1000 * 1000)

/* ---- types -------------------------------------------------------------- */

struct listener {
    int (*on_enter)(struct bpftime_hook_regs *, void *);
    void (*on_leave)(struct bpftime_hook_regs *, void *);
    void *user;
    struct bpftime_hook *hook;
    bool gpr_only; /* BPFTIME_HOOK_F_GPR_ONLY: no vector save around it */
    const struct bpftime_hook_fast *fast;
};

/* Immutable once published. */
struct listener_array {
    size_t n;
    bool any_leave;
    bool one_gpr_enter; /* one listener: on_enter only, GPR-only (the uprobe case) */
    struct listener l[];
};

/* The first fields are read by the enter stub (offsets in patcher_internal.h). */
struct patcher_fn {
    uint64_t func;
    uint64_t relocated;
    _Atomic(struct listener_array *) listeners;
    /* The one listener's fast path while it may be taken (see
     * bpftime_hook_fast), else NULL; the stub reads it again once the thread
     * is marked inside. */
    _Atomic(const struct bpftime_hook_fast *) fast;
    /* The same for a single on_leave listener: the thunk goes to the
     * leave-only stub (which only pushes the shadow entry and calls the
     * function) and dispatch_leave calls fast->fn directly. */
    _Atomic(const struct bpftime_hook_fast *) fast_leave;
    uint64_t patch_addr;
    size_t patch_len;
    uint8_t orig[PATCHER_MAX_PATCH];
    uint8_t jump[PATCHER_MAX_PATCH];
    struct patcher_reloc_map map;
    uint8_t *tramp;
    bool trap;      /* trap path: int3 over the first byte, see trap_dispatch() */
    bool installed; /* jump bytes are in memory */
    bool want;      /* should be, once pending changes are applied */
    int nhooks;
    struct patcher_fn *next; /* all contexts ever created */
};

struct bpftime_hook {
    uint32_t magic;
    struct patcher_fn *fn;
};

struct shadow_entry {
    uint64_t ret;  /* original return address */
    uint64_t slot; /* where it was on the stack (rsp at function entry) */
    struct patcher_fn *fn;
    bool called; /* the stub called the function (STUB_EXIT_CALL) */
};

struct thread_state {
    _Atomic uint64_t seq; /* odd while the owner runs callbacks */
    atomic_bool in_use;
    struct thread_state *next; /* all states ever created (never freed: reused) */
    int top;
    struct shadow_entry shadow[SHADOW_DEPTH];
};

/* Per-thread hot data. initial-exec keeps the access a single %fs-relative
 * load (no __tls_get_addr, which may call malloc on first use in a thread);
 * it is 16 bytes of the static TLS surplus glibc keeps for dlopen. The
 * enter stub's fast path reads it too, by its assembly name. */
struct patcher_tls {
    struct thread_state *st;
    int busy;
};
PATCHER_HIDDEN __thread struct patcher_tls tls __asm__("bpftime_patcher_tls")
    __attribute__((tls_model("initial-exec")));

_Static_assert(offsetof(struct patcher_fn, func) == PATCHER_FN_FUNC, "stub offsets");
_Static_assert(offsetof(struct patcher_fn, relocated) == PATCHER_FN_RELOCATED, "stub offsets");
_Static_assert(offsetof(struct patcher_fn, fast) == PATCHER_FN_FAST, "stub offsets");
_Static_assert(offsetof(struct patcher_fn, fast_leave) == PATCHER_FN_FAST_LEAVE, "stub offsets");
_Static_assert(offsetof(struct patcher_tls, st) == PATCHER_TLS_ST, "stub offsets");
_Static_assert(offsetof(struct patcher_tls, busy) == PATCHER_TLS_BUSY, "stub offsets");
_Static_assert(offsetof(struct thread_state, seq) == PATCHER_STATE_SEQ, "stub offsets");
_Static_assert(offsetof(struct bpftime_hook_fast, fn) == PATCHER_FAST_FN, "stub offsets");
_Static_assert(offsetof(struct thread_state, top) == PATCHER_STATE_TOP, "stub offsets");
_Static_assert(offsetof(struct thread_state, shadow) == PATCHER_STATE_SHADOW, "stub offsets");
_Static_assert(sizeof(struct shadow_entry) == 1 << PATCHER_SHADOW_SHIFT, "stub offsets");
_Static_assert(offsetof(struct shadow_entry, ret) == PATCHER_SHADOW_RET, "stub offsets");
_Static_assert(offsetof(struct shadow_entry, slot) == PATCHER_SHADOW_SLOT, "stub offsets");
_Static_assert(offsetof(struct shadow_entry, fn) == PATCHER_SHADOW_FN, "stub offsets");
_Static_assert(offsetof(struct shadow_entry, called) == PATCHER_SHADOW_CALLED, "stub offsets");
_Static_assert(SHADOW_DEPTH == PATCHER_SHADOW_DEPTH, "stub offsets");
_Static_assert(offsetof(struct bpftime_hook_fast, gate) == PATCHER_FAST_GATE, "stub offsets");

/* The patcher's process-wide context. */
static struct patcher_global {
    pthread_mutex_t lock;
    pthread_once_t once;
    int init_error;
    int txn_depth;
    _Atomic(struct patcher_fn *) fns;
    _Atomic(struct thread_state *) states;
    atomic_bool membarrier_ok;
    bool sync_core_ok;
    pthread_key_t key;
    int fixup_signal;
    struct sigaction old_trap;
    /* Memory waiting for a grace period before free(). */
    void **garbage;
    size_t ngarbage, garbage_cap;
    /* Current signal round (read by the fixup handler). */
    struct patcher_fn *const *_Atomic round_fns;
    _Atomic size_t round_nfns;
    pid_t *_Atomic round_tids;
    atomic_int *_Atomic round_acks;
    _Atomic size_t round_ntids;
} patcher = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .once = PTHREAD_ONCE_INIT,
};

static void fatal(const char *msg)
{
    ssize_t r = write(2, msg, strlen(msg));
    (void)r;
    abort();
}

/* ---- thread states ------------------------------------------------------ */

static void thread_state_release(void *p)
{
    struct thread_state *st = p;
    st->top = 0;
    if (tls.st == st)
        tls.st = NULL;
    atomic_store(&st->in_use, false);
}

static struct thread_state *thread_state_get(void)
{
    struct thread_state *st;
    for (st = atomic_load(&patcher.states); st; st = st->next) {
        bool expect = false;
        if (!atomic_load_explicit(&st->in_use, memory_order_relaxed) &&
            atomic_compare_exchange_strong(&st->in_use, &expect, true))
            break;
    }
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return NULL;
        atomic_store(&st->in_use, true);
        struct thread_state *head = atomic_load(&patcher.states);
        do {
            st->next = head;
        } while (!atomic_compare_exchange_weak(&patcher.states, &head, st));
    }
    st->top = 0;
    pthread_setspecific(patcher.key, st);
    tls.st = st;
    return st;
}

/* From here to the end of the dispatcher: general-purpose registers only
 * (the stubs save no vector register; see stub.c). */
BPFTIME_GPR_ONLY_BEGIN

static inline void reader_begin(struct thread_state *st)
{
    uint64_t s = atomic_load_explicit(&st->seq, memory_order_relaxed);
    atomic_store_explicit(&st->seq, s + 1, memory_order_relaxed);
    /* The writer's membarrier() stands in for a full fence here. */
    if (atomic_load_explicit(&patcher.membarrier_ok, memory_order_relaxed))
        atomic_signal_fence(memory_order_seq_cst);
    else
        atomic_thread_fence(memory_order_seq_cst);
}

static inline void reader_end(struct thread_state *st)
{
    uint64_t s = atomic_load_explicit(&st->seq, memory_order_relaxed);
    atomic_store_explicit(&st->seq, s + 1, memory_order_release);
}

BPFTIME_GPR_ONLY_END

/* Waits until no thread can still be using memory unpublished before the
 * call. Must not hold the patcher lock (a callback may be waiting for it). */
static void synchronize(void)
{
    if (atomic_load(&patcher.membarrier_ok))
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    atomic_thread_fence(memory_order_seq_cst);
    for (struct thread_state *st = atomic_load(&patcher.states); st; st = st->next) {
        if (st == tls.st)
            continue; /* detach from inside our own callback */
        uint64_t s = atomic_load_explicit(&st->seq, memory_order_acquire);
        if (!(s & 1))
            continue;
        /* Sleep rather than yield: the thread we wait for may need our CPU. */
        while (atomic_load_explicit(&st->seq, memory_order_acquire) == s) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
}

/* ---- grace periods for callers (the attach manager's programs) -------- */

struct bpftime_hook_grace {
    size_t n;
    struct {
        struct thread_state *st;
        uint64_t seq;
    } busy[];
};

struct bpftime_hook_grace *bpftime_hook_grace_begin(void)
{
    size_t n = 0;
    for (struct thread_state *st = atomic_load(&patcher.states); st; st = st->next)
        n++;
    struct bpftime_hook_grace *g = malloc(sizeof *g + n * sizeof g->busy[0]);
    if (!g)
        return NULL;
    g->n = 0;
    for (struct thread_state *st = atomic_load(&patcher.states); st && g->n < n; st = st->next) {
        uint64_t seq = atomic_load_explicit(&st->seq, memory_order_acquire);
        if (seq & 1) {
            g->busy[g->n].st = st;
            g->busy[g->n].seq = seq;
            g->n++;
        }
    }
    return g;
}

bool bpftime_hook_grace_passed(const struct bpftime_hook_grace *g)
{
    for (size_t i = 0; i < g->n; i++)
        if (atomic_load_explicit(&g->busy[i].st->seq, memory_order_acquire) == g->busy[i].seq)
            return false;
    return true;
}

static void atfork_prepare(void)
{
    pthread_mutex_lock(&patcher.lock);
}
static void atfork_parent(void)
{
    pthread_mutex_unlock(&patcher.lock);
}
static void atfork_child(void)
{
    /* Only the forking thread survives: free the others' states. */
    for (struct thread_state *st = atomic_load(&patcher.states); st; st = st->next) {
        if (st == tls.st)
            continue;
        uint64_t s = atomic_load(&st->seq);
        if (s & 1)
            atomic_store(&st->seq, s + 1);
        st->top = 0;
        atomic_store(&st->in_use, false);
    }
    pthread_mutex_unlock(&patcher.lock);
}

/* ---- dispatcher (called by the stubs) ---------------------------------- */

BPFTIME_GPR_ONLY_BEGIN

/* Remembers the return address at `slot` (the stack at function entry) so
 * that on_leave runs when the function returns. The stub (call_it) calls the
 * function itself and the address stays in place until it drops it; the
 * trap path has no stub around the function: the address is replaced by the
 * leave stub. Returns false when the shadow stack is full (no on_leave). */
static bool shadow_push(struct thread_state *st, struct patcher_fn *fn, uint64_t slot, bool call_it)
{
    /* Entries at or below the current frame belong to frames that were left
     * without returning (longjmp, exceptions): drop them. */
    while (st->top > 0 && st->shadow[st->top - 1].slot <= slot)
        st->top--;
    if (st->top == SHADOW_DEPTH)
        return false; /* too deep: this call gets no on_leave */
    uint64_t *ret = (uint64_t *)slot;
    st->shadow[st->top++] = (struct shadow_entry){*ret, slot, fn, call_it};
    if (!call_it)
        *ret = (uint64_t)bpftime_patcher_leave_stub;
    return true;
}

/* DF, TF or AC: the stub leaves through popfq and a jmp (see stub.c). */
#define SLOW_EFLAGS 0x40500u

/* A callback that may touch vector registers runs with all of them saved,
 * unless they are saved already (the trap path: the signal frame has them). */
static inline int call_enter(const struct listener *l, struct bpftime_hook_regs *regs,
                             bool vectors_saved)
{
    if (l->gpr_only || vectors_saved)
        return l->on_enter(regs, l->user);
    return (int)bpftime_call_preserving_vectors((const void *)l->on_enter, regs, l->user, NULL);
}

static inline void call_leave(const struct listener *l, struct bpftime_hook_regs *regs,
                              bool vectors_saved)
{
    if (l->gpr_only || vectors_saved)
        l->on_leave(regs, l->user);
    else
        bpftime_call_preserving_vectors((const void *)l->on_leave, regs, l->user, NULL);
}

/* The C twin of the enter stub's fast path (bpftime_hook_fast), for
 * on_leave: true when it ran fast->fn. The caller has marked the thread. */
static inline bool run_fast(const struct bpftime_hook_fast *fast, struct bpftime_hook_regs *regs)
{
    if (!fast || *fast->gate[0] || *fast->gate[1])
        return false;
    void *fn = *fast->fn;
    if (!fn)
        return false;
    ((uint64_t(*)(void *, size_t))fn)(regs, sizeof *regs);
    return true;
}

/* exit: the stub's exit slot (STUB_EXIT_*, preset to JMP), NULL on the trap
 * path. */
static uint64_t dispatch_enter(struct patcher_fn *fn, struct bpftime_hook_regs *regs,
                               bool vectors_saved, uint64_t *exit)
{
    uint64_t entry_rsp = regs->rsp;
    if (tls.busy)
        return fn->relocated;
    tls.busy = 1;
    struct thread_state *st = tls.st;
    /* calloc on a thread's first hit: ordinary C, which may use vectors. */
    if (!st && !(st = (struct thread_state *)bpftime_call_preserving_vectors(
                     (const void *)thread_state_get, NULL, NULL, NULL))) {
        tls.busy = 0;
        return fn->relocated;
    }
    reader_begin(st);
    uint64_t cont = fn->relocated;
    int override = 0;
    struct listener_array *arr = atomic_load_explicit(&fn->listeners, memory_order_acquire);
    if (arr && arr->one_gpr_enter) {
        /* The common case, with no loop: one uprobe on the function (the
         * stub's fast path, when it sent us here for the thread's first hit
         * or from a signal frame, is taken the same). */
        override = !run_fast(atomic_load_explicit(&fn->fast, memory_order_acquire), regs) &&
                   arr->l[0].on_enter(regs, arr->l[0].user) == BPFTIME_HOOK_OVERRIDE;
        if (override) {
            cont = *(uint64_t *)entry_rsp;
            regs->rip = cont;
            if (exit && !(regs->eflags & SLOW_EFLAGS))
                *exit = STUB_EXIT_RET;
        }
    } else if (arr) {
        for (size_t i = 0; i < arr->n; i++)
            if (arr->l[i].on_enter &&
                call_enter(&arr->l[i], regs, vectors_saved) == BPFTIME_HOOK_OVERRIDE)
                override = 1;
        if (override) {
            /* Return to the caller now: pop the return address. */
            cont = *(uint64_t *)entry_rsp;
            regs->rip = cont;
            regs->rsp = entry_rsp + 8;
            if (arr->any_leave)
                for (size_t i = 0; i < arr->n; i++)
                    if (arr->l[i].on_leave)
                        call_leave(&arr->l[i], regs, vectors_saved);
        } else if (arr->any_leave && shadow_push(st, fn, entry_rsp, exit != NULL)) {
            if (exit && !(regs->eflags & SLOW_EFLAGS)) {
                *exit = STUB_EXIT_CALL;
            } else if (exit) { /* a callback set DF/TF/AC: through the leave stub */
                st->shadow[st->top - 1].called = false;
                *(uint64_t *)entry_rsp = (uint64_t)bpftime_patcher_leave_stub;
            }
        }
        if (override && exit && !(regs->eflags & SLOW_EFLAGS))
            *exit = STUB_EXIT_RET;
    }
    regs->rsp = override ? entry_rsp + 8 : entry_rsp; /* writes by callbacks are ignored */
    reader_end(st);
    tls.busy = 0;
    return cont;
}

uint64_t bpftime_patcher_dispatch_enter(struct patcher_fn *fn, struct bpftime_hook_regs *regs)
{
    uint64_t *exit = (uint64_t *)regs + STUB_FRAME_EXIT_SLOT; /* fn was there: read */
    *exit = STUB_EXIT_JMP;
    return dispatch_enter(fn, regs, false, exit);
}

uint64_t bpftime_patcher_dispatch_leave(struct bpftime_hook_regs *regs)
{
    struct thread_state *st = tls.st;
    uint64_t slot = regs->rsp - 8;
    if (!st)
        fatal("bpftime patcher: function return with no shadow stack on this thread\n");
    while (st->top > 0 && st->shadow[st->top - 1].slot < slot)
        st->top--;
    if (st->top == 0 || st->shadow[st->top - 1].slot != slot)
        fatal("bpftime patcher: function return does not match the shadow stack "
              "(stack switched?)\n");
    struct shadow_entry e = st->shadow[--st->top];
    regs->rip = e.ret;
    /* Called by the stub: the caller's call is what the return stack buffer
     * holds next, so ret to it. */
    ((uint64_t *)regs)[STUB_FRAME_EXIT_SLOT] = e.called ? STUB_EXIT_RET : STUB_EXIT_JMP;
    if (!tls.busy) {
        tls.busy = 1;
        reader_begin(st);
        struct listener_array *arr = atomic_load_explicit(&e.fn->listeners, memory_order_acquire);
        if (run_fast(atomic_load_explicit(&e.fn->fast_leave, memory_order_acquire), regs))
            arr = NULL;
        if (arr)
            for (size_t i = 0; i < arr->n; i++)
                if (arr->l[i].on_leave)
                    call_leave(&arr->l[i], regs, false);
        reader_end(st);
        tls.busy = 0;
    }
    regs->rsp = slot + 8;
    return e.ret;
}

BPFTIME_GPR_ONLY_END

/* ---- signals: int3 redirection and thread fix-ups ---------------------- */

/* The trap path: a thread hit the int3 of a site hooked with a trap. The
 * registers come from (and go back to) the signal frame, so callbacks see and
 * change them as on the jump path; the kernel saves and restores the vector
 * registers with the frame. The thread resumes where dispatch says: the
 * displaced instruction's relocated copy (which jumps back after it), the
 * next instruction (an emulated nop), or the caller (override). */
static void trap_dispatch(struct patcher_fn *fn, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    uint16_t ss;
    __asm__("movw %%ss, %0" : "=r"(ss));
    struct bpftime_hook_regs regs = {
        .r15 = (uint64_t)g[REG_R15],
        .r14 = (uint64_t)g[REG_R14],
        .r13 = (uint64_t)g[REG_R13],
        .r12 = (uint64_t)g[REG_R12],
        .rbp = (uint64_t)g[REG_RBP],
        .rbx = (uint64_t)g[REG_RBX],
        .r11 = (uint64_t)g[REG_R11],
        .r10 = (uint64_t)g[REG_R10],
        .r9 = (uint64_t)g[REG_R9],
        .r8 = (uint64_t)g[REG_R8],
        .rax = (uint64_t)g[REG_RAX],
        .rcx = (uint64_t)g[REG_RCX],
        .rdx = (uint64_t)g[REG_RDX],
        .rsi = (uint64_t)g[REG_RSI],
        .rdi = (uint64_t)g[REG_RDI],
        .orig_rax = (uint64_t)-1,
        .rip = fn->func,
        .cs = (uint64_t)g[REG_CSGSFS] & 0xffff,
        .eflags = (uint64_t)g[REG_EFL],
        .rsp = (uint64_t)g[REG_RSP],
        .ss = ss,
    };
    uint64_t cont = dispatch_enter(fn, &regs, true, NULL); /* sigreturn restores the vectors */
    g[REG_R15] = (greg_t)regs.r15;
    g[REG_R14] = (greg_t)regs.r14;
    g[REG_R13] = (greg_t)regs.r13;
    g[REG_R12] = (greg_t)regs.r12;
    g[REG_RBP] = (greg_t)regs.rbp;
    g[REG_RBX] = (greg_t)regs.rbx;
    g[REG_R11] = (greg_t)regs.r11;
    g[REG_R10] = (greg_t)regs.r10;
    g[REG_R9] = (greg_t)regs.r9;
    g[REG_R8] = (greg_t)regs.r8;
    g[REG_RAX] = (greg_t)regs.rax;
    g[REG_RCX] = (greg_t)regs.rcx;
    g[REG_RDX] = (greg_t)regs.rdx;
    g[REG_RSI] = (greg_t)regs.rsi;
    g[REG_RDI] = (greg_t)regs.rdi;
    g[REG_EFL] = (greg_t)regs.eflags; /* sigreturn keeps the privileged bits */
    g[REG_RSP] = (greg_t)regs.rsp;    /* dispatch sets it: entry, or +8 on override */
    g[REG_RIP] = (greg_t)cont;
}

/* SIGTRAP: an int3 the patcher wrote. Jump-path sites hold one only while
 * their bytes are being written (the thread runs the relocated original
 * instructions: the function runs unhooked once); trap-path sites hold one
 * for as long as they are hooked. The list of sites is append-only, so a trap
 * that arrives after a detach restored the byte is still recognised. */
static void trap_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    /* An int3 reports SI_KERNEL; kill(SIGTRAP) or a single step do not. */
    if (si && si->si_code == SI_KERNEL) {
        for (struct patcher_fn *fn = atomic_load(&patcher.fns); fn; fn = fn->next) {
            if (fn->patch_addr != rip - 1)
                continue;
            if (fn->trap) {
                int saved_errno = errno;
                trap_dispatch(fn, uc);
                errno = saved_errno;
            } else {
                uc->uc_mcontext.gregs[REG_RIP] = (greg_t)fn->relocated;
            }
            return;
        }
    }
    /* Not ours: behave as if we were not installed. */
    struct sigaction *old = &patcher.old_trap;
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction)
            old->sa_sigaction(sig, si, ucv);
    } else if (old->sa_handler == SIG_IGN) {
        return;
    } else if (old->sa_handler != SIG_DFL) {
        old->sa_handler(sig);
    } else {
        signal(SIGTRAP, SIG_DFL);
        raise(SIGTRAP); /* delivered (fatally) when this handler returns */
    }
}

/* gettid without going through libc (whose syscall() may be hooked). */
static inline pid_t raw_gettid(void)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_gettid) : "rcx", "r11", "memory");
    return (pid_t)r;
}

static void fixup_handler(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    int saved_errno = errno;
    ucontext_t *uc = ucv;
    uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    struct patcher_fn *const *fns = atomic_load(&patcher.round_fns);
    size_t nfns = atomic_load(&patcher.round_nfns);
    for (size_t i = 0; fns && i < nfns; i++) {
        const struct patcher_fn *fn = fns[i];
        if (rip > fn->patch_addr && rip < fn->patch_addr + fn->patch_len) {
            for (int k = 0; k < fn->map.n; k++)
                if (fn->patch_addr + fn->map.orig_off[k] == rip)
                    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(fn->relocated + fn->map.new_off[k]);
        }
    }
    pid_t self = raw_gettid();
    pid_t *tids = atomic_load(&patcher.round_tids);
    atomic_int *acks = atomic_load(&patcher.round_acks);
    size_t n = atomic_load(&patcher.round_ntids);
    for (size_t i = 0; tids && i < n; i++)
        if (tids[i] == self)
            atomic_store(&acks[i], 1);
    errno = saved_errno;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* True when thread tid is blocked in a system call at a user pc outside every
 * patch of this round (/proc/self/task/TID/syscall: "nr args… sp pc"). Such a
 * thread cannot be between the patched instructions — the first byte already
 * holds int3, so none can newly enter them — and is left alone: signalling it
 * would cut short calls the kernel never restarts (nanosleep, poll, …). */
static bool blocked_outside(pid_t tid, struct patcher_fn *const *fns, size_t nfns)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return false;
    buf[len] = 0;
    char *end;
    long nr = strtol(buf, &end, 10);
    if (end == buf || nr < 0)
        return false; /* "running", or blocked outside a syscall */
    char *last = strrchr(buf, ' ');
    if (!last)
        return false;
    uint64_t pc = strtoull(last + 1, NULL, 16);
    for (size_t i = 0; i < nfns; i++)
        if (pc > fns[i]->patch_addr && pc < fns[i]->patch_addr + fns[i]->patch_len)
            return false;
    return true;
}

/* Interrupts every other thread once and waits until each has run the fixup
 * handler (which moves it out of `fns`' patch bytes). Also serialises every
 * core, as entering the kernel does. */
static void signal_round(struct patcher_fn *const *fns, size_t nfns)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) {
        BPFTIME_WARN("patcher: cannot list threads: %s", strerror(errno));
        return;
    }
    size_t cap = 64, n = 0;
    pid_t *tids = malloc(cap * sizeof *tids);
    pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
    struct dirent *de;
    while (tids && (de = readdir(d))) {
        pid_t tid = (pid_t)atoi(de->d_name);
        if (tid <= 0 || tid == self)
            continue;
        if (n == cap) {
            pid_t *nt = realloc(tids, 2 * cap * sizeof *tids);
            if (!nt)
                break;
            tids = nt;
            cap *= 2;
        }
        tids[n++] = tid;
    }
    closedir(d);
    atomic_int *acks = tids ? calloc(n ? n : 1, sizeof *acks) : NULL;
    if (!tids || !acks) {
        free(tids);
        free(acks);
        BPFTIME_WARN("patcher: out of memory listing threads");
        return;
    }
    atomic_store(&patcher.round_fns, fns);
    atomic_store(&patcher.round_nfns, nfns);
    atomic_store(&patcher.round_acks, acks);
    atomic_store(&patcher.round_tids, tids);
    atomic_store(&patcher.round_ntids, n);
    for (size_t i = 0; i < n; i++)
        if (blocked_outside(tids[i], fns, nfns) ||
            syscall(SYS_tgkill, pid, tids[i], patcher.fixup_signal) != 0)
            atomic_store(&acks[i], 1); /* asleep elsewhere, or already gone */
    int64_t deadline = now_ns() + SIGNAL_ROUND_TIMEOUT_NS;
    for (size_t i = 0; i < n; i++) {
        while (!atomic_load(&acks[i])) {
            /* A thread that exited after tgkill never runs the handler. */
            if (syscall(SYS_tgkill, pid, tids[i], 0) != 0)
                break;
            if (now_ns() > deadline) {
                BPFTIME_WARN("patcher: thread %d did not answer the patch signal "
                             "(signal %d blocked?)",
                             (int)tids[i], patcher.fixup_signal);
                break;
            }
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    atomic_store(&patcher.round_ntids, 0);
    atomic_store(&patcher.round_tids, NULL);
    atomic_store(&patcher.round_acks, NULL);
    atomic_store(&patcher.round_nfns, 0);
    atomic_store(&patcher.round_fns, NULL);
    /* A handler may still be reading the arrays; they are small: leak them
     * only if some thread did not answer. */
    bool all = true;
    for (size_t i = 0; i < n; i++)
        all = all && atomic_load(&acks[i]);
    if (all) {
        free(tids);
        free(acks);
    }
}

static void sync_cores(void)
{
    if (patcher.sync_core_ok &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0)
        return;
    signal_round(NULL, 0);
}

/* ---- initialisation ------------------------------------------------------ */

static void init_once(void)
{
    if (pthread_key_create(&patcher.key, thread_state_release) != 0) {
        patcher.init_error = -EAGAIN;
        return;
    }
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds > 0) {
        if ((cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
            syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
            atomic_store(&patcher.membarrier_ok, true);
        if ((cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) &&
            syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0)
            patcher.sync_core_ok = true;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    /* SA_NODEFER: a callback may run code hooked with a trap (the busy flag
     * then lets it run unhooked); with SIGTRAP blocked that int3 would kill. */
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
    sa.sa_sigaction = trap_handler;
    if (sigaction(SIGTRAP, &sa, &patcher.old_trap) != 0) {
        patcher.init_error = -errno;
        return;
    }
    /* A real-time signal nobody else is likely to use (glibc reserves the
     * lowest ones itself, SIGRTMIN accounts for that). */
    patcher.fixup_signal = SIGRTMIN + 7;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sa.sa_sigaction = fixup_handler;
    if (sigaction(patcher.fixup_signal, &sa, NULL) != 0)
        patcher.init_error = -errno;
}

static int ensure_init(void)
{
    pthread_once(&patcher.once, init_once);
    if (patcher.init_error)
        return bpftime_set_error(patcher.init_error, "patcher initialisation failed: %s",
                                 strerror(-patcher.init_error));
    return 0;
}

/* ---- function contexts ---------------------------------------------------- */

static struct patcher_fn *find_fn(uint64_t func)
{
    for (struct patcher_fn *fn = atomic_load(&patcher.fns); fn; fn = fn->next)
        if (fn->func == func)
            return fn;
    return NULL;
}

static size_t symbol_size(void *func)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (dladdr1(func, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && info.dli_saddr == func)
        return (size_t)sym->st_size;
    return 0;
}

/* Builds the jump path's trampoline for fn into buf: thunk, relocated
 * prologue, two literals at the end. Returns 0 or a negative errno. */
static int build_jump_tramp(struct patcher_fn *fn, const struct patcher_plan *plan, uint8_t *buf)
{
    memset(buf, 0xcc, TRAMP_SIZE);
    uint64_t lit_fn = TRAMP_SIZE - 16, lit_stub = TRAMP_SIZE - 8;
    int32_t d;
    buf[0] = 0xff; /* push [rip+lit_fn] */
    buf[1] = 0x35;
    d = (int32_t)(lit_fn - 6);
    memcpy(buf + 2, &d, 4);
    buf[6] = 0xff; /* jmp [rip+lit_stub] */
    buf[7] = 0x25;
    d = (int32_t)(lit_stub - 12);
    memcpy(buf + 8, &d, 4);
    uint64_t v = (uint64_t)fn;
    memcpy(buf + lit_fn, &v, 8);
    v = (uint64_t)bpftime_patcher_enter_stub;
    memcpy(buf + lit_stub, &v, 8);
    int len = patcher_relocate(plan, buf + TRAMP_CODE_OFF, fn->relocated, lit_fn - TRAMP_CODE_OFF,
                               &fn->map);
    return len < 0 ? len : 0;
}

/* The trap path's trampoline: only the displaced instruction, relocated,
 * and the jump back after it (patcher_relocate emits both). */
static int build_trap_tramp(struct patcher_fn *fn, const struct patcher_plan *plan, uint8_t *buf)
{
    memset(buf, 0xcc, TRAMP_SIZE);
    int len = patcher_relocate(plan, buf + TRAMP_CODE_OFF, fn->relocated,
                               TRAMP_SIZE - TRAMP_CODE_OFF, &fn->map);
    return len < 0 ? len : 0;
}

/* Would [patch_addr, patch_addr + len) overlap a patch already made? */
static struct patcher_fn *overlapping(uint64_t patch_addr, size_t len)
{
    for (struct patcher_fn *o = atomic_load(&patcher.fns); o; o = o->next)
        if (patch_addr < o->patch_addr + o->patch_len && o->patch_addr < patch_addr + len)
            return o;
    return NULL;
}

/* Creates the context of a new site `func`: the jump path when the jump
 * fits (see patcher_plan_patch; scan_func/scan_size bound the search for
 * branches into the overwritten bytes), else — or with force_trap — the trap
 * path. */
static int create_fn(uint64_t func, uint64_t scan_func, size_t scan_size, bool force_trap,
                     struct patcher_fn **out)
{
    struct patcher_mapping m;
    if (patcher_find_mapping(func, &m) != 0 || !(m.prot & PROT_EXEC))
        return bpftime_set_error(-EFAULT, "0x%lx is not in an executable mapping",
                                 (unsigned long)func);
    uint64_t patch_addr = func;
    /* Keep endbr64 in place: indirect calls still land on it, and the jump
     * (or int3) goes right after it. */
    if (m.end - func >= 4 && patcher_is_endbr64((const uint8_t *)func)) {
        patch_addr += 4;
        if (scan_func == func && scan_size) {
            if (scan_size <= 4)
                return bpftime_set_error(-EINVAL, "function at 0x%lx too short to patch",
                                         (unsigned long)func);
        }
    }
    for (struct patcher_fn *o = atomic_load(&patcher.fns); o; o = o->next)
        if (patch_addr > o->patch_addr && patch_addr < o->patch_addr + o->patch_len)
            return bpftime_set_error(-EBUSY,
                                     "0x%lx is inside the patch of the hooked function at 0x%lx",
                                     (unsigned long)func, (unsigned long)o->func);
    if (*(const uint8_t *)patch_addr == 0xcc)
        return bpftime_set_error(-EBUSY,
                                 "an int3 is already at 0x%lx (a kernel uprobe or a debugger's "
                                 "breakpoint)",
                                 (unsigned long)patch_addr);

    bool near = false;
    uint8_t *tramp = patcher_code_alloc(patch_addr, TRAMP_SIZE, &near);
    if (!tramp)
        return bpftime_set_error(-ENOMEM, "cannot allocate trampoline memory");
    struct patcher_fn *fn = calloc(1, sizeof *fn);
    if (!fn)
        return bpftime_set_error(-ENOMEM, "out of memory");
    fn->func = func;
    fn->patch_addr = patch_addr;
    fn->tramp = tramp;
    fn->relocated = (uint64_t)tramp + TRAMP_CODE_OFF;
    uint8_t buf[TRAMP_SIZE];
    struct patcher_plan plan;
    int err = -EINVAL;
    if (!force_trap) {
        err = patcher_plan_patch(scan_func, patch_addr, scan_size, near ? 5 : 14, &plan);
        if (!err && overlapping(patch_addr, plan.patch_len))
            err = bpftime_set_error(-EBUSY, "the jump at 0x%lx would overlap another patch",
                                    (unsigned long)func);
        if (!err)
            err = build_jump_tramp(fn, &plan, buf);
        if (err)
            BPFTIME_DEBUG("patcher: 0x%lx: no jump (%s): using the trap path", (unsigned long)func,
                          bpftime_last_error_message());
    }
    if (err) {
        char why[256];
        snprintf(why, sizeof why, "%s", force_trap ? "" : bpftime_last_error_message());
        err = patcher_plan_trap(patch_addr, &plan);
        if (!err)
            err = build_trap_tramp(fn, &plan, buf);
        if (err) {
            if (why[0])
                err = bpftime_set_error(err, "%s; the trap path cannot take it either: %s", why,
                                        bpftime_last_error_message());
            free(fn);
            return err; /* the trampoline slot is simply wasted */
        }
        fn->trap = true;
        if (plan.is_nop) /* emulated: resume right after it */
            fn->relocated = patch_addr + plan.patch_len;
    }
    fn->patch_len = fn->trap ? 1 : plan.patch_len;
    memcpy(fn->orig, (const void *)patch_addr, fn->patch_len);
    err = patcher_code_write(tramp, buf, TRAMP_SIZE);
    if (err) {
        free(fn);
        return err;
    }
    /* The jump, then int3 over the rest of the overwritten instructions (or
     * the trap path's single int3). */
    memset(fn->jump, 0xcc, sizeof fn->jump);
    if (!fn->trap)
        patcher_emit_jmp(fn->jump, patch_addr, (uint64_t)tramp);

    fn->next = atomic_load(&patcher.fns);
    atomic_store(&patcher.fns, fn); /* we hold the lock: no other writer */
    *out = fn;
    BPFTIME_DEBUG("patcher: 0x%lx: %s %zu bytes at +%lu, trampoline 0x%lx", (unsigned long)func,
                  fn->trap ? "trap over" : "patching", fn->patch_len,
                  (unsigned long)(patch_addr - func), (unsigned long)tramp);
    return 0;
}

/* ---- code patching -------------------------------------------------------- */

static void store_byte(uint64_t addr, uint8_t b)
{
    __atomic_store_n((uint8_t *)addr, b, __ATOMIC_RELEASE);
}

/* Applies every pending (un)patch: the protocol described at the top. */
static int apply_pending(void)
{
    size_t n = 0;
    for (struct patcher_fn *fn = atomic_load(&patcher.fns); fn; fn = fn->next)
        if (fn->want != fn->installed)
            n++;
    if (!n)
        return 0;
    struct patcher_fn **todo = calloc(n, sizeof *todo);
    int *prot = calloc(n, sizeof *prot);
    if (!todo || !prot) {
        free(todo);
        free(prot);
        return bpftime_set_error(-ENOMEM, "out of memory");
    }
    size_t k = 0, nfixup = 0;
    for (struct patcher_fn *fn = atomic_load(&patcher.fns); fn; fn = fn->next)
        if (fn->want != fn->installed)
            todo[k++] = fn;
    /* Sites being hooked whose overwritten bytes hold more than one
     * instruction first: only there can a thread be stopped in the middle
     * (a round costs a scheduling slice of every thread, so skip it when no
     * site needs it). */
    for (size_t i = 0; i < n; i++)
        if (todo[i]->want && todo[i]->map.n > 1) {
            struct patcher_fn *t = todo[nfixup];
            todo[nfixup++] = todo[i];
            todo[i] = t;
        }
    long ps = sysconf(_SC_PAGESIZE);
    int err = 0;
    size_t done = 0;
    for (; done < n; done++) {
        struct patcher_mapping m;
        struct patcher_fn *fn = todo[done];
        if (patcher_find_mapping(fn->patch_addr, &m) != 0) {
            err = bpftime_set_error(-EFAULT, "0x%lx is no longer mapped", (unsigned long)fn->func);
            break;
        }
        prot[done] = m.prot;
        uint64_t lo = fn->patch_addr & ~(uint64_t)(ps - 1);
        uint64_t hi = (fn->patch_addr + fn->patch_len + ps - 1) & ~(uint64_t)(ps - 1);
        if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
            err = bpftime_set_error(-errno, "mprotect 0x%lx RWX: %s", (unsigned long)lo,
                                    strerror(errno));
            break;
        }
    }
    if (!err) {
        for (size_t i = 0; i < n; i++)
            store_byte(todo[i]->patch_addr, 0xcc);
        sync_cores();
        if (nfixup)
            signal_round(todo, nfixup);
        for (size_t i = 0; i < n; i++) {
            struct patcher_fn *fn = todo[i];
            const uint8_t *src = fn->want ? fn->jump : fn->orig;
            for (size_t b = 1; b < fn->patch_len; b++)
                store_byte(fn->patch_addr + b, src[b]);
        }
        sync_cores();
        for (size_t i = 0; i < n; i++) {
            struct patcher_fn *fn = todo[i];
            store_byte(fn->patch_addr, fn->want ? fn->jump[0] : fn->orig[0]);
            fn->installed = fn->want;
        }
        sync_cores();
    }
    /* Restore the original protections (in reverse, so a page shared by
     * two sites ends with what it had before either). */
    for (size_t i = done; i-- > 0;) {
        struct patcher_fn *fn = todo[i];
        uint64_t lo = fn->patch_addr & ~(uint64_t)(ps - 1);
        uint64_t hi = (fn->patch_addr + fn->patch_len + ps - 1) & ~(uint64_t)(ps - 1);
        mprotect((void *)lo, hi - lo, prot[i]);
    }
    if (err)
        for (size_t i = 0; i < n; i++)
            todo[i]->want = todo[i]->installed;
    free(todo);
    free(prot);
    return err;
}

/* ---- listener lists and garbage ---------------------------------------- */

static int add_garbage(void *p)
{
    if (!p)
        return 0;
    if (patcher.ngarbage == patcher.garbage_cap) {
        size_t cap = patcher.garbage_cap ? patcher.garbage_cap * 2 : 16;
        void **g = realloc(patcher.garbage, cap * sizeof *g);
        if (!g)
            return -ENOMEM;
        patcher.garbage = g;
        patcher.garbage_cap = cap;
    }
    patcher.garbage[patcher.ngarbage++] = p;
    return 0;
}

/* Takes the garbage list (under the lock); free it with reclaim(). */
static void **take_garbage(size_t *n)
{
    if (patcher.txn_depth > 0 || patcher.ngarbage == 0) {
        *n = 0;
        return NULL;
    }
    void **g = patcher.garbage;
    *n = patcher.ngarbage;
    patcher.garbage = NULL;
    patcher.ngarbage = patcher.garbage_cap = 0;
    return g;
}

static void reclaim(void **g, size_t n)
{
    if (!g)
        return;
    synchronize();
    for (size_t i = 0; i < n; i++)
        free(g[i]);
    free(g);
}

/* Drops the patcher lock, then frees what the call retired once no thread
 * can still be running through it (outside the lock: the wait is long). */
static void unlock_and_reclaim(void)
{
    size_t ng;
    void **g = take_garbage(&ng);
    pthread_mutex_unlock(&patcher.lock);
    reclaim(g, ng);
}

/* Where a jump-path thunk goes: the enter stub, or the leave-only stub
 * (which falls back to the enter stub itself). An 8-byte literal, so a
 * thread sees one or the other. */
static int set_thunk_stub(struct patcher_fn *fn, const char *stub)
{
    if (fn->trap)
        return 0;
    uint64_t *lit = (uint64_t *)(fn->tramp + TRAMP_SIZE - 8);
    if (__atomic_load_n(lit, __ATOMIC_RELAXED) == (uint64_t)stub)
        return 0;
    return patcher_code_store64(lit, (uint64_t)stub);
}

/* Publishes fn's listener array with `add` appended and/or `remove` left
 * out; the old array goes to the garbage. */
static int republish(struct patcher_fn *fn, const struct listener *add,
                     const struct bpftime_hook *remove)
{
    struct listener_array *old = atomic_load(&fn->listeners);
    size_t n = old ? old->n : 0;
    struct listener_array *arr = calloc(1, sizeof *arr + (n + 1) * sizeof arr->l[0]);
    if (!arr) {
        return bpftime_set_error(-ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (old->l[i].hook != remove)
            arr->l[arr->n++] = old->l[i];
    if (add)
        arr->l[arr->n++] = *add;
    for (size_t i = 0; i < arr->n; i++)
        arr->any_leave |= arr->l[i].on_leave != NULL;
    arr->one_gpr_enter =
        arr->n == 1 && arr->l[0].on_enter && !arr->l[0].on_leave && arr->l[0].gpr_only;
    if (add_garbage(old) != 0) {
        free(arr);
        return bpftime_set_error(-ENOMEM, "out of memory");
    }
    /* The fast path relies on membarrier for its missing fence (reader_begin),
     * and exists only on the jump path (the trap path has no stub). Any
     * thread still taking the old one is inside the grace period the old
     * array's reclaim waits for. */
    const struct bpftime_hook_fast *fast = NULL, *fast_leave = NULL;
    if (arr->n == 1 && arr->l[0].gpr_only && !fn->trap && atomic_load(&patcher.membarrier_ok)) {
        if (arr->one_gpr_enter)
            fast = arr->l[0].fast;
        else if (arr->l[0].on_leave && !arr->l[0].on_enter)
            fast_leave = arr->l[0].fast;
    }
    atomic_store_explicit(&fn->fast, fast, memory_order_release);
    atomic_store_explicit(&fn->fast_leave, fast_leave, memory_order_release);
    atomic_store_explicit(&fn->listeners, arr, memory_order_release);
    /* If this fails the thunk keeps its stub: the leave-only stub checks
     * fast_leave and falls back to the enter stub, so it only costs time. */
    if (set_thunk_stub(fn, fast_leave ? bpftime_patcher_leave_only_stub
                                      : bpftime_patcher_enter_stub) != 0)
        BPFTIME_DEBUG("patcher: 0x%lx: cannot switch the thunk: %s", (unsigned long)fn->func,
                      bpftime_last_error_message());
    return 0;
}

/* ---- public API ------------------------------------------------------------ */

int bpftime_hook_attach(void *func, const struct bpftime_hook_callbacks *cb, void *user,
                        struct bpftime_hook **out)
{
    return bpftime_hook_attach_ex(func, 0, cb, user, out);
}

int bpftime_hook_attach_ex(void *func, size_t func_size, const struct bpftime_hook_callbacks *cb,
                           void *user, struct bpftime_hook **out)
{
    struct bpftime_hook_site site = {.addr = func, .func = func, .func_size = func_size};
    return bpftime_hook_attach_site(&site, cb, user, out);
}

int bpftime_hook_attach_site(const struct bpftime_hook_site *site,
                             const struct bpftime_hook_callbacks *cb, void *user,
                             struct bpftime_hook **out)
{
    if (!site || !site->addr || !cb || !out)
        return bpftime_set_error(-EINVAL, "attach: site, callbacks and out are required");
    if (!cb->on_enter && !cb->on_leave)
        return bpftime_set_error(-EINVAL, "attach: at least one of on_enter/on_leave is required");
    *out = NULL;
    int err = ensure_init();
    if (err)
        return err;
    void *func = site->addr;
    uint64_t scan_func = site->func ? (uint64_t)site->func : (uint64_t)func;
    size_t scan_size = site->func_size;
    if (!scan_size)
        scan_size = symbol_size((void *)scan_func);
    if (scan_func > (uint64_t)func || (scan_size && scan_func + scan_size <= (uint64_t)func))
        return bpftime_set_error(-EINVAL, "attach: 0x%lx is outside its function at 0x%lx",
                                 (unsigned long)func, (unsigned long)scan_func);

    struct bpftime_hook *hook = calloc(1, sizeof *hook);
    if (!hook)
        return bpftime_set_error(-ENOMEM, "out of memory");
    pthread_mutex_lock(&patcher.lock);
    struct patcher_fn *fn = find_fn((uint64_t)func);
    if (!fn) {
        err = create_fn((uint64_t)func, scan_func, scan_size,
                        (site->flags & BPFTIME_HOOK_F_TRAP) != 0, &fn);
    } else if (!fn->installed && !fn->want &&
               memcmp((const void *)fn->patch_addr, fn->orig, fn->patch_len) != 0) {
        err = bpftime_set_error(-EBUSY, "code at 0x%lx changed since it was last hooked",
                                (unsigned long)fn->func);
    }
    if (!err) {
        hook->magic = HOOK_MAGIC;
        hook->fn = fn;
        struct listener l = {cb->on_enter,
                             cb->on_leave,
                             user,
                             hook,
                             BPFTIME_HAVE_GPR_ONLY && (site->flags & BPFTIME_HOOK_F_GPR_ONLY),
                             site->fast};
        err = republish(fn, &l, NULL);
    }
    if (!err) {
        fn->nhooks++;
        fn->want = true;
        if (patcher.txn_depth == 0) {
            err = apply_pending();
            if (err) {
                /* Undo: take the listener out again. */
                republish(fn, NULL, hook);
                fn->nhooks--;
                fn->want = fn->nhooks > 0 && fn->installed;
            }
        }
    }
    unlock_and_reclaim();
    if (err) {
        free(hook);
        return err;
    }
    *out = hook;
    return 0;
}

int bpftime_hook_uses_trap(const struct bpftime_hook *hook)
{
    return hook && hook->magic == HOOK_MAGIC && hook->fn->trap;
}

int bpftime_hook_patched_at(const void *addr)
{
    pthread_mutex_lock(&patcher.lock);
    int r = 0;
    for (struct patcher_fn *fn = atomic_load(&patcher.fns); fn && !r; fn = fn->next)
        r = fn->installed && (fn->func == (uint64_t)addr || fn->patch_addr == (uint64_t)addr);
    pthread_mutex_unlock(&patcher.lock);
    return r;
}

int bpftime_hook_detach(struct bpftime_hook *hook)
{
    if (!hook || hook->magic != HOOK_MAGIC)
        return bpftime_set_error(-EINVAL, "detach: not an attached hook");
    pthread_mutex_lock(&patcher.lock);
    struct patcher_fn *fn = hook->fn;
    int err = republish(fn, NULL, hook);
    if (!err) {
        hook->magic = 0;
        add_garbage(hook); /* freed after the grace period (or leaked on ENOMEM) */
        if (--fn->nhooks == 0) {
            fn->want = false;
            if (patcher.txn_depth == 0)
                err = apply_pending();
        }
    }
    unlock_and_reclaim();
    return err;
}

int bpftime_hook_transaction_begin(void)
{
    int err = ensure_init();
    if (err)
        return err;
    pthread_mutex_lock(&patcher.lock);
    patcher.txn_depth++;
    pthread_mutex_unlock(&patcher.lock);
    return 0;
}

int bpftime_hook_transaction_commit(void)
{
    pthread_mutex_lock(&patcher.lock);
    int err = 0;
    if (patcher.txn_depth == 0) {
        err = bpftime_set_error(-EINVAL, "transaction commit without begin");
    } else if (--patcher.txn_depth == 0) {
        err = apply_pending();
    }
    unlock_and_reclaim();
    return err;
}
