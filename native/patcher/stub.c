/* The two assembly stubs every hooked function goes through, and the
 * routine that runs a callback with the vector registers saved around it.
 *
 * Enter: a function's patched first bytes jump to its thunk (in the
 * trampoline, near the function):
 *       push [rip+ctx]            ; the function's struct patcher_fn *
 *       jmp  [rip+enter_stub]
 * The stub builds a `struct pt_regs` frame on the stack (every general-purpose
 * register: callers compiled with IPA-RA may keep live values even in
 * caller-saved registers across a call to a local function, so every one is
 * restored), aligns the stack to 16 and calls
 * bpftime_patcher_dispatch_enter(fn, regs). That returns where to continue:
 * the relocated prologue (run the function), or the caller's return address
 * (override). regs->rsp says which stack pointer to continue with.
 *
 * Vector registers are not saved here: the dispatcher is compiled to use
 * general-purpose registers only (BPFTIME_GPR_ONLY_BEGIN), and it runs each
 * callback that does not promise the same (BPFTIME_HOOK_F_GPR_ONLY) through
 * bpftime_call_preserving_vectors(), which saves all of them - the upper
 * halves of ymm/zmm included: a hooked function may take __m256/__m512
 * arguments, and glibc's string functions end with vzeroupper. So a hook
 * whose callbacks (the uprobe program's JIT code) touch no vector register
 * pays nothing for them.
 *
 * Fast paths (patcher.h, bpftime_hook_fast; set up by republish() in
 * patcher.c): with one on_enter listener that has one, the enter stub
 * calls its function itself once the frame is built (marking the thread as
 * the dispatcher does); with one on_leave listener, the thunk's literal
 * points at bpftime_patcher_leave_only_stub, which pushes the shadow entry
 * without building a frame and calls the function. Both fall back to the
 * dispatcher for anything unusual.
 *
 * Leave: for on_leave listeners the enter stub calls the function (see
 * Exit); the trap path replaces its return address by
 * bpftime_patcher_leave_stub instead. Either way the function returns into
 * the leave stub, which builds the same frame and calls
 * bpftime_patcher_dispatch_leave(regs); that pops the per-thread shadow
 * stack and returns the original return address.
 *
 * Frame (addresses grow down, P = frame base, kept in rbx):
 *   P+184  stack at entry (return address on enter; caller's stack on leave)
 *   P+176  fn pointer pushed by the thunk (enter) / scratch (leave); then
 *          how to leave (STUB_EXIT_*), written by the dispatcher
 *   P+168  flags saved by pushfq before anything can change them
 *   P+0    struct pt_regs (168 bytes)
 *
 * Exit: the continuation address is stored just below the new stack
 * pointer N (N-8: outside the frame in every case), all general-purpose
 * registers are reloaded from the frame, the status flags set back with
 * sahf (and OF with an add), rsp = N, then as the dispatcher said in the
 * frame's slot 176 (STUB_EXIT_*, patcher_internal.h):
 *   jmp [rsp-8]              run the function (no on_leave) or a trap-path
 *                            return
 *   rsp += 8; call [rsp-16]  run the function as our callee: on_leave
 *                            listeners, its return address in the shadow
 *                            stack; its ret lands in the leave stub, where
 *                            the return stack buffer says (no mispredict)
 *   rsp -= 8; ret            to the caller (override, leave after a call)
 * Only when DF, TF or AC was set (never at a function entry) eflags goes to
 * N-16 and rsp = N-16; popfq; rsp = N; jmp [rsp-8].
 * The two words below rsp are inside the 128-byte red zone, which signal
 * delivery never touches. An indirect jmp (not ret) keeps the return stack
 * buffer balanced. */
#include "patcher/patcher_internal.h"

#include <stddef.h>

#define S_(x) #x
#define S(x) S_(x)

_Static_assert(offsetof(struct bpftime_hook_regs, r15) == 0, "pt_regs layout");
_Static_assert(offsetof(struct bpftime_hook_regs, rax) == 80, "pt_regs layout");
_Static_assert(offsetof(struct bpftime_hook_regs, rdi) == 112, "pt_regs layout");
_Static_assert(offsetof(struct bpftime_hook_regs, orig_rax) == 120, "pt_regs layout");
_Static_assert(offsetof(struct bpftime_hook_regs, rip) == 128, "pt_regs layout");
_Static_assert(offsetof(struct bpftime_hook_regs, eflags) == 144, "pt_regs layout");
_Static_assert(offsetof(struct bpftime_hook_regs, rsp) == 152, "pt_regs layout");
_Static_assert(sizeof(struct bpftime_hook_regs) == 168, "pt_regs layout");

#define SAVE_GPRS \
    "movq %r15, 0(%rsp)\n\t" \
    "movq %r14, 8(%rsp)\n\t" \
    "movq %r13, 16(%rsp)\n\t" \
    "movq %r12, 24(%rsp)\n\t" \
    "movq %rbp, 32(%rsp)\n\t" \
    "movq %rbx, 40(%rsp)\n\t" \
    "movq %r11, 48(%rsp)\n\t" \
    "movq %r10, 56(%rsp)\n\t" \
    "movq %r9, 64(%rsp)\n\t" \
    "movq %r8, 72(%rsp)\n\t" \
    "movq %rax, 80(%rsp)\n\t" \
    "movq %rcx, 88(%rsp)\n\t" \
    "movq %rdx, 96(%rsp)\n\t" \
    "movq %rsi, 104(%rsp)\n\t" \
    "movq %rdi, 112(%rsp)\n\t" \
    "movq 168(%rsp), %rax\n\t" \
    "movq %rax, 144(%rsp)\n\t" \
    "leaq 184(%rsp), %rax\n\t" \
    "movq %rax, 152(%rsp)\n\t" \
    "movq $-1, 120(%rsp)\n\t" \
    "xorl %eax, %eax\n\t" \
    "movw $0x33, %ax\n\t" \
    "movq %rax, 136(%rsp)\n\t" \
    "movw $0x2b, %ax\n\t" \
    "movq %rax, 160(%rsp)\n\t" \
    "movq $0, 128(%rsp)\n\t" \
    "movq %rsp, %rbx\n\t" \
    "testl $0x400, 144(%rsp)\n\t" \
    "jz 1f\n\t" \
    "cld\n" /* C runs with DF clear; a +OFF site may have it set */ \
    "1:\n\t"

/* Reloads every general-purpose register from the frame at rsp and the
 * status flags with sahf (SF ZF AF PF CF) and an add that overflows exactly
 * when OF was set - a few cycles instead of popfq's microcode - then
 * rsp = N (the frame's rsp slot). Only for frames whose DF, TF and AC are
 * clear. */
#define RESTORE_FAST \
    "movq 0(%rsp), %r15\n\t" \
    "movq 8(%rsp), %r14\n\t" \
    "movq 16(%rsp), %r13\n\t" \
    "movq 24(%rsp), %r12\n\t" \
    "movq 32(%rsp), %rbp\n\t" \
    "movq 40(%rsp), %rbx\n\t" \
    "movq 48(%rsp), %r11\n\t" \
    "movq 56(%rsp), %r10\n\t" \
    "movq 64(%rsp), %r9\n\t" \
    "movq 72(%rsp), %r8\n\t" \
    "movq 88(%rsp), %rcx\n\t" \
    "movq 96(%rsp), %rdx\n\t" \
    "movq 104(%rsp), %rsi\n\t" \
    "movq 112(%rsp), %rdi\n\t" \
    "movzbl 145(%rsp), %eax\n\t" \
    "shrb $3, %al\n\t" \
    "andb $1, %al\n\t" \
    "movb 144(%rsp), %ah\n\t" \
    "addb $0x7f, %al\n\t" \
    "sahf\n\t" \
    "movq 80(%rsp), %rax\n\t" \
    "movq 152(%rsp), %rsp\n\t"

/* The C offsets the stubs use, as assembler symbols. */
// clang-format off
__asm__(".equ PATCHER_FAST_FN, " S(PATCHER_FAST_FN) "\n"
        ".equ PATCHER_FAST_GATE, " S(PATCHER_FAST_GATE) "\n"
        ".equ PATCHER_FN_FAST, " S(PATCHER_FN_FAST) "\n"
        ".equ PATCHER_FN_FAST_LEAVE, " S(PATCHER_FN_FAST_LEAVE) "\n"
        ".equ PATCHER_FN_FUNC, " S(PATCHER_FN_FUNC) "\n"
        ".equ PATCHER_FN_RELOCATED, " S(PATCHER_FN_RELOCATED) "\n"
        ".equ PATCHER_SHADOW_CALLED, " S(PATCHER_SHADOW_CALLED) "\n"
        ".equ PATCHER_SHADOW_DEPTH, " S(PATCHER_SHADOW_DEPTH) "\n"
        ".equ PATCHER_SHADOW_FN, " S(PATCHER_SHADOW_FN) "\n"
        ".equ PATCHER_SHADOW_RET, " S(PATCHER_SHADOW_RET) "\n"
        ".equ PATCHER_SHADOW_SHIFT, " S(PATCHER_SHADOW_SHIFT) "\n"
        ".equ PATCHER_SHADOW_SLOT, " S(PATCHER_SHADOW_SLOT) "\n"
        ".equ PATCHER_STATE_SEQ, " S(PATCHER_STATE_SEQ) "\n"
        ".equ PATCHER_STATE_SHADOW, " S(PATCHER_STATE_SHADOW) "\n"
        ".equ PATCHER_STATE_TOP, " S(PATCHER_STATE_TOP) "\n"
        ".equ PATCHER_TLS_BUSY, " S(PATCHER_TLS_BUSY) "\n"
        ".equ PATCHER_TLS_ST, " S(PATCHER_TLS_ST) "\n"
        ".equ STUB_EXIT_JMP, " S(STUB_EXIT_JMP) "\n");
// clang-format on

__asm__(
    "\t.text\n"
    "\t.p2align 4\n"
    "\t.globl bpftime_patcher_enter_stub\n"
    "\t.hidden bpftime_patcher_enter_stub\n"
    "\t.type bpftime_patcher_enter_stub, @function\n"
    "bpftime_patcher_enter_stub:\n\t"
    ".cfi_startproc\n\t"
    ".cfi_def_cfa_offset 16\n\t"
    "pushfq\n\t"
    ".cfi_adjust_cfa_offset 8\n\t"
    "leaq -168(%rsp), %rsp\n\t"
    ".cfi_adjust_cfa_offset 168\n\t" SAVE_GPRS
    /* Unwinders (debuggers, backtraces from callbacks) see the hooked
     * function's caller through the frame kept in rbx. */
    ".cfi_def_cfa_register %rbx\n\t"
    ".cfi_offset %rbx, -152\n\t"
    ".cfi_offset %rbp, -160\n\t"
    "andq $-16, %rsp\n\t"
    "movq 176(%rbx), %rdi\n\t"             /* fn */
    "movq PATCHER_FN_FUNC(%rdi), %rax\n\t" /* rip at entry */
    "movq %rax, 128(%rbx)\n\t"
    "cmpq $0, PATCHER_FN_FAST(%rdi)\n\t"
    "jne 2f\n"
    "1:\n\t" /* the dispatcher */
    "movq %rbx, %rsi\n\t"
    "call bpftime_patcher_dispatch_enter\n\t"
    "jmp bpftime_patcher_stub_exit\n"
    /* The fast path (bpftime_hook_fast): the dispatcher's one-listener
     * case, in line. rcx = &tls (from %fs), rdx = tls.st, rsi = fast. */
    "2:\n\t"
    "movq bpftime_patcher_tls@gottpoff(%rip), %rcx\n\t"
    "movq %fs:PATCHER_TLS_ST(%rcx), %rdx\n\t"
    "testq %rdx, %rdx\n\t" /* the thread's first hit: allocations */
    "jz 1b\n\t"
    "cmpl $0, %fs:PATCHER_TLS_BUSY(%rcx)\n\t" /* inside a callback */
    "jne 1b\n\t"
    "movl $1, %fs:PATCHER_TLS_BUSY(%rcx)\n\t"
    /* seq odd: inside (reader_begin; the writer's membarrier stands in
     * for a fence, and the fast path is only set up when it works). */
    "incq PATCHER_STATE_SEQ(%rdx)\n\t"
    "movq PATCHER_FN_FAST(%rdi), %rsi\n\t"
    "testq %rsi, %rsi\n\t"
    "jz 3f\n\t"
    "movq PATCHER_FAST_FN(%rsi), %rax\n\t"
    "movq (%rax), %rax\n\t"
    "testq %rax, %rax\n\t"
    "jz 3f\n\t"
    "movq PATCHER_FAST_GATE(%rsi), %r8\n\t"
    "cmpl $0, (%r8)\n\t"
    "jne 3f\n\t"
    "movq PATCHER_FAST_GATE+8(%rsi), %r8\n\t"
    "cmpl $0, (%r8)\n\t"
    "jne 3f\n\t"
    "movq %rbx, %rdi\n\t"
    "movl $168, %esi\n\t"
    "movq %rcx, %r12\n\t" /* callee-saved (restored from the frame) */
    "movq %rdx, %r13\n\t"
    "call *%rax\n\t"
    "incq PATCHER_STATE_SEQ(%r13)\n\t" /* even: left (x86 stores are ordered) */
    "movl $0, %fs:PATCHER_TLS_BUSY(%r12)\n\t"
    "movq 176(%rbx), %rdi\n\t"
    "movq PATCHER_FN_RELOCATED(%rdi), %rax\n\t"
    /* stub_exit's STUB_EXIT_JMP case, without its tests */
    "movq %rbx, %rsp\n\t"
    "movq 152(%rsp), %rcx\n\t"
    "testl $0x40500, 144(%rsp)\n\t"
    "jnz 4f\n\t"
    "movq %rax, -8(%rcx)\n\t" RESTORE_FAST "jmp *-8(%rsp)\n"
    "4:\n\t"
    "movq $STUB_EXIT_JMP, 176(%rbx)\n\t"
    "jmp bpftime_patcher_stub_exit\n"
    "3:\n\t" /* not now: leave, and take the dispatcher */
    "incq PATCHER_STATE_SEQ(%rdx)\n\t"
    "movl $0, %fs:PATCHER_TLS_BUSY(%rcx)\n\t"
    "jmp 1b\n\t"
    ".cfi_endproc\n"
    "\t.size bpftime_patcher_enter_stub, .-bpftime_patcher_enter_stub\n"

    /* rax = continuation, rbx = frame, frame+176 = how to leave
     * (STUB_EXIT_*, written by the dispatcher). */
    "\t.p2align 4\n"
    "\t.type bpftime_patcher_stub_exit, @function\n"
    "bpftime_patcher_stub_exit:\n\t"
    "movq %rbx, %rsp\n\t"
    "movq 152(%rsp), %rcx\n\t"
    "testl $0x40500, 144(%rsp)\n\t"
    "jnz 1f\n\t"
    /* read before the store: on enter, N-8 is that very slot */
    "cmpq $1, 176(%rsp)\n\t"
    "movq %rax, -8(%rcx)\n\t"
    "je 2f\n\t"
    "ja 3f\n\t"
    /* STUB_EXIT_JMP */
    RESTORE_FAST "jmp *-8(%rsp)\n"
    /* STUB_EXIT_RET: the continuation is the address the thread's last
     * call pushed on the return stack buffer (the caller, on override
     * or after a call-mode leave): ret keeps the buffer in step. */
    "3:\n\t" RESTORE_FAST "leaq -8(%rsp), %rsp\n\t"
    "ret\n"
    /* DF, TF or AC set: eflags through popfq; always a jmp (the
     * dispatcher never asks for call mode with such flags). */
    "1:\n\t"
    "movq %rax, -8(%rcx)\n\t"
    "movq 144(%rsp), %rax\n\t"
    "movq %rax, -16(%rcx)\n\t"
    "movq 0(%rsp), %r15\n\t"
    "movq 8(%rsp), %r14\n\t"
    "movq 16(%rsp), %r13\n\t"
    "movq 24(%rsp), %r12\n\t"
    "movq 32(%rsp), %rbp\n\t"
    "movq 40(%rsp), %rbx\n\t"
    "movq 48(%rsp), %r11\n\t"
    "movq 56(%rsp), %r10\n\t"
    "movq 64(%rsp), %r9\n\t"
    "movq 72(%rsp), %r8\n\t"
    "movq 80(%rsp), %rax\n\t"
    "movq 88(%rsp), %rcx\n\t"
    "movq 96(%rsp), %rdx\n\t"
    "movq 104(%rsp), %rsi\n\t"
    "movq 112(%rsp), %rdi\n\t"
    "movq 152(%rsp), %rsp\n\t"
    "leaq -16(%rsp), %rsp\n\t"
    "popfq\n\t"
    "leaq 8(%rsp), %rsp\n\t"
    "jmp *-8(%rsp)\n"
    /* STUB_EXIT_CALL (enter, with on_leave listeners): the return
     * address (kept in the shadow stack) is dropped and the function
     * is called from here, so its ret comes back right below, into the
     * leave stub, as the return stack buffer predicts. */
    "2:\n\t" RESTORE_FAST "leaq 8(%rsp), %rsp\n\t"
    "call *-16(%rsp)\n"
    "\t.size bpftime_patcher_stub_exit, .-bpftime_patcher_stub_exit\n"

    /* Falls in from the call above; other threads' replaced return
     * addresses (the trap path) land here too. */
    "\t.globl bpftime_patcher_leave_stub\n"
    "\t.hidden bpftime_patcher_leave_stub\n"
    "\t.type bpftime_patcher_leave_stub, @function\n"
    "bpftime_patcher_leave_stub:\n\t"
    ".cfi_startproc\n\t"
    /* The real return address lives in the shadow stack: stop unwinding. */
    ".cfi_undefined %rip\n\t"
    "leaq -8(%rsp), %rsp\n\t"
    "pushfq\n\t"
    "leaq -168(%rsp), %rsp\n\t" SAVE_GPRS "andq $-16, %rsp\n\t"
    "movq %rbx, %rdi\n\t"
    "call bpftime_patcher_dispatch_leave\n\t"
    "jmp bpftime_patcher_stub_exit\n\t"
    ".cfi_endproc\n"
    "\t.size bpftime_patcher_leave_stub, .-bpftime_patcher_leave_stub\n"

    /* The leave-only stub (a site whose one listener is on_leave with a
     * fast path): no frame on the way in, only the shadow entry
     * (shadow_push's work), then the function is called as in
     * STUB_EXIT_CALL. Entered from the thunk: [rsp] = fn, [rsp+8] = the
     * return address. Flags are kept with lahf/seto and sahf/add (what
     * runs here changes no other flag). Anything unusual - the thread's
     * first hit, inside a callback, the shadow stack full, no fast path
     * any more - leaves the stack as the thunk did and goes to the enter
     * stub. A signal handler hooked on this thread while the entry is
     * being written runs unhooked (busy). */
    "\t.p2align 4\n"
    "\t.globl bpftime_patcher_leave_only_stub\n"
    "\t.hidden bpftime_patcher_leave_only_stub\n"
    "\t.type bpftime_patcher_leave_only_stub, @function\n"
    "bpftime_patcher_leave_only_stub:\n\t"
    "pushq %rax\n\t"
    "lahf\n\t"
    "seto %al\n\t"
    "pushq %rax\n\t"
    "pushq %rcx\n\t"
    "pushq %rdx\n\t"
    "pushq %rsi\n\t"
    "pushq %r8\n\t" /* 48(%rsp) = fn, 56(%rsp) = return address */
    "movq 48(%rsp), %r8\n\t"
    "cmpq $0, PATCHER_FN_FAST_LEAVE(%r8)\n\t"
    "je 9f\n\t"
    "movq bpftime_patcher_tls@gottpoff(%rip), %rcx\n\t"
    "movq %fs:PATCHER_TLS_ST(%rcx), %rdx\n\t"
    "testq %rdx, %rdx\n\t"
    "jz 9f\n\t"
    "cmpl $0, %fs:PATCHER_TLS_BUSY(%rcx)\n\t"
    "jne 9f\n\t"
    "movl $1, %fs:PATCHER_TLS_BUSY(%rcx)\n\t"
    "leaq 56(%rsp), %rsi\n\t" /* slot: the stack at function entry */
    "movslq PATCHER_STATE_TOP(%rdx), %rax\n"
    /* Entries at or below this frame were left by longjmp: dropped. */
    "1:\n\t"
    "testq %rax, %rax\n\t"
    "jz 2f\n\t"
    "movq %rax, %rcx\n\t"
    "shlq $PATCHER_SHADOW_SHIFT, %rcx\n\t"
    "cmpq %rsi, PATCHER_STATE_SHADOW-(1<<PATCHER_SHADOW_SHIFT)+PATCHER_SHADOW_SLOT(%rdx,%rcx)\n\t"
    "ja 2f\n\t"
    "decq %rax\n\t"
    "jmp 1b\n"
    "2:\n\t"
    "cmpq $PATCHER_SHADOW_DEPTH, %rax\n\t"
    "je 8f\n\t"
    "movq %rax, %rcx\n\t"
    "shlq $PATCHER_SHADOW_SHIFT, %rcx\n\t"
    "leaq PATCHER_STATE_SHADOW(%rdx,%rcx), %rcx\n\t"
    "movq (%rsi), %r8\n\t"
    "movq %r8, PATCHER_SHADOW_RET(%rcx)\n\t"
    "movq %rsi, PATCHER_SHADOW_SLOT(%rcx)\n\t"
    "movq 48(%rsp), %r8\n\t"
    "movq %r8, PATCHER_SHADOW_FN(%rcx)\n\t"
    "movb $1, PATCHER_SHADOW_CALLED(%rcx)\n\t"
    "incl %eax\n\t"
    "movl %eax, PATCHER_STATE_TOP(%rdx)\n\t"
    "movq PATCHER_FN_RELOCATED(%r8), %r8\n\t"
    "movq %r8, 48(%rsp)\n\t" /* fn's slot: where to call */
    "movq bpftime_patcher_tls@gottpoff(%rip), %rcx\n\t"
    "movl $0, %fs:PATCHER_TLS_BUSY(%rcx)\n\t"
    "popq %r8\n\t"
    "popq %rsi\n\t"
    "popq %rdx\n\t"
    "popq %rcx\n\t"
    "popq %rax\n\t"
    "addb $0x7f, %al\n\t"
    "sahf\n\t"
    "popq %rax\n\t"
    "leaq 16(%rsp), %rsp\n\t" /* the return address is in the shadow entry */
    "call *-16(%rsp)\n\t"
    "jmp bpftime_patcher_leave_stub\n"
    "8:\n\t"
    "movq bpftime_patcher_tls@gottpoff(%rip), %rcx\n\t"
    "movl $0, %fs:PATCHER_TLS_BUSY(%rcx)\n"
    "9:\n\t"
    "popq %r8\n\t"
    "popq %rsi\n\t"
    "popq %rdx\n\t"
    "popq %rcx\n\t"
    "popq %rax\n\t"
    "addb $0x7f, %al\n\t"
    "sahf\n\t"
    "popq %rax\n\t"
    "jmp bpftime_patcher_enter_stub\n"
    "\t.size bpftime_patcher_leave_only_stub, .-bpftime_patcher_leave_only_stub\n");
