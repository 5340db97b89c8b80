/* Inline function hooking on x86-64 (in the spirit of frida-gum's Interceptor).
 *
 * bpftime_hook_attach() overwrites the first instructions of a function with a
 * jump to a per-function trampoline. The trampoline saves every general-purpose
 * register into a frame laid out exactly like the kernel's x86-64 `struct
 * pt_regs`, calls the listeners' on_enter callbacks (with every vector
 * register saved around those that do not promise to leave them alone:
 * BPFTIME_HOOK_F_GPR_ONLY), then runs the relocated original prologue and
 * jumps back into the function. Listeners with on_leave get the function's
 * return intercepted (uretprobe style) through a per-thread shadow stack of
 * return addresses.
 *
 * Several hooks on one function share one patch (a listener list read with one
 * atomic load on the hot path). Patches can be batched in a transaction so
 * that many functions are (un)patched with one pass over the threads.
 *
 * Errors: functions return 0 or a negative errno code with the message in
 * bpftime_last_error_message() (bpftime/api.h).
 *
 * Threading: attach/detach may run while other threads execute the target.
 * When bpftime_hook_detach() returns, no callback of that hook is running or
 * will run again (the caller may free `user`), except on the calling thread
 * itself when detach is called from inside a callback. */
#ifndef BPFTIME_PATCHER_H
#define BPFTIME_PATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpftime/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Same layout as the kernel's x86-64 `struct pt_regs`, so eBPF programs using
 * libbpf's PT_REGS_PARM1()/PT_REGS_RC() read it unchanged.
 *   on_enter: rip = function address, rdi.. = arguments, rsp = stack pointer at
 *             entry (points at the return address), orig_rax = -1.
 *   on_leave: rax = return value, rip = the address being returned to, rsp =
 *             stack pointer after the return.
 * Callbacks may modify general-purpose registers and eflags: the changed values
 * are what the function (on_enter) or its caller (on_leave) sees. rip, rsp, cs
 * and ss are informational; writes to them are ignored. */
struct bpftime_hook_regs {
    uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
    uint64_t rax, rcx, rdx, rsi, rdi, orig_rax;
    uint64_t rip, cs, eflags, rsp, ss;
};

/* on_enter return values. */
enum {
    BPFTIME_HOOK_CONTINUE = 0,
    /* Skip the function body: return straight to the caller with regs->rax
     * (and the other registers as left in regs). on_leave callbacks still run,
     * seeing the overridden rax. Used by bpf_override_return. */
    BPFTIME_HOOK_OVERRIDE = 1,
};

struct bpftime_hook_callbacks {
    /* May be NULL. Return BPFTIME_HOOK_CONTINUE or BPFTIME_HOOK_OVERRIDE. */
    int (*on_enter)(struct bpftime_hook_regs *regs, void *user);
    /* May be NULL. Called when the function returns; regs->rax is the result. */
    void (*on_leave)(struct bpftime_hook_regs *regs, void *user);
};

/* Code between these compiles to general-purpose registers only (GCC's
 * target("general-regs-only")), so it cannot clobber a vector register the
 * hooked function's caller left live. Other compilers: not available
 * (BPFTIME_HAVE_GPR_ONLY 0), and callers must not claim
 * BPFTIME_HOOK_F_GPR_ONLY. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define BPFTIME_HAVE_GPR_ONLY 1
#define BPFTIME_GPR_ONLY_BEGIN \
    _Pragma("GCC push_options") _Pragma("GCC target(\"general-regs-only\")")
#define BPFTIME_GPR_ONLY_END _Pragma("GCC pop_options")
#else
#define BPFTIME_HAVE_GPR_ONLY 0
#define BPFTIME_GPR_ONLY_BEGIN
#define BPFTIME_GPR_ONLY_END
#endif

/* Calls fn(a, b, c) with every vector register saved before and restored
 * after (ymm upper halves, and zmm0-31/k0-7 on AVX-512 machines); returns
 * what fn returned in rax. For code on a hook's path that may run ordinary C
 * (helpers, the interpreter) while the hooked function's vector arguments
 * are live. */
uint64_t bpftime_call_preserving_vectors(const void *fn, void *a, void *b, void *c)
    __attribute__((visibility("hidden")));

/* 1 when the machine code [code, code + len) uses no vector or x87
 * register and leaves itself only by returning: no call or jump outside it,
 * no indirect call or jump (JIT output that calls no helper). 0 otherwise,
 * or when it does not decode. */
int bpftime_code_is_gpr_only(const void *code, size_t len) __attribute__((visibility("hidden")));

struct bpftime_hook;

/* Hooks `func`. The function's size is looked up in the dynamic symbol table
 * when possible; otherwise the patcher is conservative (see
 * bpftime_hook_attach_ex). On success *out receives the hook handle. */
int bpftime_hook_attach(void *func, const struct bpftime_hook_callbacks *cb, void *user,
                        struct bpftime_hook **out);

/* As bpftime_hook_attach, with the function's size in bytes (e.g. the ELF
 * symbol's st_size; 0 = unknown). A known size lets the patcher overwrite
 * bytes after an early `ret` and bounds the scan for branches back into the
 * patched bytes. */
int bpftime_hook_attach_ex(void *func, size_t func_size, const struct bpftime_hook_callbacks *cb,
                           void *user, struct bpftime_hook **out);

/* Where to hook, for bpftime_hook_attach_site. */
struct bpftime_hook_site {
    void *addr;       /* the instruction to hook (reported as regs->rip) */
    void *func;       /* start of the function containing it (NULL: addr starts one) */
    size_t func_size; /* bytes of that function from func (0 = unknown) */
    unsigned flags;   /* BPFTIME_HOOK_F_* */
    /* Optional: a direct call for the enter stub (see bpftime_hook_fast). */
    const struct bpftime_hook_fast *fast;
};

/* The fast path of a hook (uprobe.c's, for a program whose JIT code calls
 * nothing): while the site has this one listener - on_enter only, with
 * BPFTIME_HOOK_F_GPR_ONLY - the enter stub, having built the pt_regs frame
 * and marked the thread inside (busy flag, grace-period sequence), loads
 * *fn and calls it as fn(regs, sizeof *regs) instead of going through the
 * dispatcher and on_enter. It takes the dispatcher (and so on_enter) instead
 * when *fn is NULL or either gate word is nonzero (statistics on, a syscall
 * link: things on_enter handles). fn must touch no vector register, return
 * no override and leave the registers in the frame as the function should
 * see them: it is on_enter's own fast case, not something else. The
 * descriptor must outlive the hook and its grace period; *fn and the gates
 * are read only between the thread's marks, so what they point to is
 * covered by the detach's (and bpftime_hook_grace's) grace period. */
struct bpftime_hook_fast {
    void *const volatile *fn;         /* uint64_t fn(void *regs, size_t len) */
    const volatile uint32_t *gate[2]; /* never NULL: point at a zero word */
};

/* Always use the trap path (int3), even where a jump would fit: for sites
 * in the middle of code whose surroundings are unknown (USDT nops). */
#define BPFTIME_HOOK_F_TRAP 1u

/* Site flag: the callbacks leave every vector register (xmm/ymm/zmm, k) as they found
 * it: they are compiled between BPFTIME_GPR_ONLY_BEGIN/END and call only
 * code that keeps the same promise, or that runs through
 * bpftime_call_preserving_vectors(). Without this flag the patcher saves
 * and restores all vector registers around each callback (a hooked function
 * may receive arguments in any of them, and ordinary C code - glibc's
 * memcpy, say - clobbers them). */
#define BPFTIME_HOOK_F_GPR_ONLY 2u

/* Hooks any instruction. The jump path is used when the jump fits: the
 * instructions it covers lie inside the function and no branch of the
 * function (scanned from site->func) lands inside them. Otherwise the trap
 * path: int3 over the instruction's first byte; the SIGTRAP handler (chained
 * with any handler installed before the patcher's first use) runs the
 * callbacks with the registers of the trapping thread, then resumes it at a
 * relocated copy of the instruction (or after it, for a nop). The trap path
 * costs a signal delivery per hit (bench/uprobe measures it); a thread that
 * blocks SIGTRAP, or a handler installed over ours later, makes it fatal. */
int bpftime_hook_attach_site(const struct bpftime_hook_site *site,
                             const struct bpftime_hook_callbacks *cb, void *user,
                             struct bpftime_hook **out);

/* 1 when the hook's site uses the trap path, 0 when it uses the jump. */
int bpftime_hook_uses_trap(const struct bpftime_hook *hook);

/* 1 when the patcher's code (jump or int3) is in memory at addr, a hooked
 * site (or the instruction after its endbr64); else 0. */
int bpftime_hook_patched_at(const void *addr);

/* Decodes forward from `func` and says whether func + off starts an
 * instruction: 1 yes, 0 no (*insn_off = the offset of the instruction it is
 * inside), or a negative errno when the bytes before it do not decode.
 * `code` holds the function's bytes [0, len) — a file image or memory that is
 * not patched. */
int bpftime_insn_boundary(const uint8_t *code, size_t len, uint64_t func, uint64_t off,
                          uint64_t *insn_off);

/* Grace periods for memory a callback may use (the attach manager's
 * compiled programs): begin records the threads running callbacks now;
 * passed says, without waiting, whether each has left the callbacks it was
 * in. A callback's reads are counted from before its hook's dispatcher ran
 * to after it returned, with no fence on its side: call begin only once the
 * old memory has been unpublished for a while (a second: the callers'
 * plain stores are visible by then), or after membarrier. begin returns
 * NULL when out of memory; free() the result. */
struct bpftime_hook_grace;
struct bpftime_hook_grace *bpftime_hook_grace_begin(void) __attribute__((visibility("hidden")));
bool bpftime_hook_grace_passed(const struct bpftime_hook_grace *g)
    __attribute__((visibility("hidden")));

/* Removes the hook; the last hook of a function restores its original bytes
 * exactly. The handle is freed. */
int bpftime_hook_detach(struct bpftime_hook *hook);

/* Batch patching: attaches and detaches between begin and commit only update
 * listener lists; commit writes all code changes in one pass. Transactions
 * nest; the outermost commit applies. They are process-wide: attaches made by
 * other threads meanwhile join the open transaction. */
int bpftime_hook_transaction_begin(void);
int bpftime_hook_transaction_commit(void);

/* Convenience for on_enter: `return bpftime_hook_override_return(regs, v);` */
static inline int bpftime_hook_override_return(struct bpftime_hook_regs *regs, uint64_t value)
{
    regs->rax = value;
    return BPFTIME_HOOK_OVERRIDE;
}

#ifdef __cplusplus
}
#endif

#endif
