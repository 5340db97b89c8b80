/* The two assembly stubs every hooked function goes through.
 *
 * Enter: a function's patched first bytes jump to its thunk (in the
 * trampoline, near the function):
 *       push [rip+ctx]            ; the function's struct patcher_fn *
 *       jmp  [rip+enter_stub]
 * The stub builds a `struct pt_regs` frame on the stack, saves xmm0-15 (the
 * C callback may clobber them; callers compiled with IPA-RA may even keep live
 * values in caller-saved registers across a call to a local function, so every
 * register is restored), aligns the stack to 16 and calls
 * bpftime_patcher_dispatch_enter(fn, regs). That returns where to continue:
 * the relocated prologue (run the function), or the caller's return address
 * (override). regs->rsp says which stack pointer to continue with.
 *
 * Leave: on_leave listeners get the function's return address replaced by
 * bpftime_patcher_leave_stub; the stub builds the same frame and calls
 * bpftime_patcher_dispatch_leave(regs), which pops the per-thread shadow stack
 * and returns the original return address.
 *
 * Frame (addresses grow down, P = frame base):
 *   P+184  stack at entry (return address on enter; caller's stack on leave)
 *   P+176  fn pointer pushed by the thunk (enter) / scratch slot (leave)
 *   P+168  flags saved by pushfq before anything can change them
 *   P+0    struct pt_regs (168 bytes)
 *   below  16-aligned xmm save area (256 bytes)
 *
 * Exit: the continuation address and eflags are stored just below the new
 * stack pointer N (N-8, N-16: outside the frame in every case), all
 * general-purpose registers are reloaded from the frame, then
 *   rsp = N-16; popfq; rsp = N; jmp [rsp-8]
 * The two words below rsp are inside the 128-byte red zone, which signal
 * delivery never touches. An indirect jmp (not ret) keeps the return stack
 * buffer balanced. */
#include "patcher/patcher_internal.h"

#include <stddef.h>

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
    "movw %cs, %ax\n\t" \
    "movq %rax, 136(%rsp)\n\t" \
    "movw %ss, %ax\n\t" \
    "movq %rax, 160(%rsp)\n\t" \
    "movq $0, 128(%rsp)\n\t" \
    "movq %rsp, %rbx\n\t"

#define SAVE_XMM \
    "leaq -256(%rsp), %rsp\n\t" \
    "andq $-16, %rsp\n\t" \
    "movdqa %xmm0, 0(%rsp)\n\t" \
    "movdqa %xmm1, 16(%rsp)\n\t" \
    "movdqa %xmm2, 32(%rsp)\n\t" \
    "movdqa %xmm3, 48(%rsp)\n\t" \
    "movdqa %xmm4, 64(%rsp)\n\t" \
    "movdqa %xmm5, 80(%rsp)\n\t" \
    "movdqa %xmm6, 96(%rsp)\n\t" \
    "movdqa %xmm7, 112(%rsp)\n\t" \
    "movdqa %xmm8, 128(%rsp)\n\t" \
    "movdqa %xmm9, 144(%rsp)\n\t" \
    "movdqa %xmm10, 160(%rsp)\n\t" \
    "movdqa %xmm11, 176(%rsp)\n\t" \
    "movdqa %xmm12, 192(%rsp)\n\t" \
    "movdqa %xmm13, 208(%rsp)\n\t" \
    "movdqa %xmm14, 224(%rsp)\n\t" \
    "movdqa %xmm15, 240(%rsp)\n\t"

__asm__("\t.text\n"
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
        ".cfi_offset %rbp, -160\n\t" SAVE_XMM "movq 176(%rbx), %rdi\n\t" /* fn */
        "movq 0(%rdi), %rax\n\t" /* fn->func: rip at entry */
        "movq %rax, 128(%rbx)\n\t"
        "movq %rbx, %rsi\n\t"
        "call bpftime_patcher_dispatch_enter\n\t"
        "jmp bpftime_patcher_stub_exit\n\t"
        ".cfi_endproc\n"
        "\t.size bpftime_patcher_enter_stub, .-bpftime_patcher_enter_stub\n"

        "\t.p2align 4\n"
        "\t.globl bpftime_patcher_leave_stub\n"
        "\t.hidden bpftime_patcher_leave_stub\n"
        "\t.type bpftime_patcher_leave_stub, @function\n"
        "bpftime_patcher_leave_stub:\n\t"
        ".cfi_startproc\n\t"
        /* The real return address lives in the shadow stack: stop unwinding. */
        ".cfi_undefined %rip\n\t"
        "leaq -8(%rsp), %rsp\n\t"
        "pushfq\n\t"
        "leaq -168(%rsp), %rsp\n\t" SAVE_GPRS SAVE_XMM "movq %rbx, %rdi\n\t"
        "call bpftime_patcher_dispatch_leave\n\t"
        "jmp bpftime_patcher_stub_exit\n\t"
        ".cfi_endproc\n"
        "\t.size bpftime_patcher_leave_stub, .-bpftime_patcher_leave_stub\n"

        /* rax = continuation, rbx = frame, rsp = xmm save area */
        "\t.p2align 4\n"
        "\t.type bpftime_patcher_stub_exit, @function\n"
        "bpftime_patcher_stub_exit:\n\t"
        "movdqa 0(%rsp), %xmm0\n\t"
        "movdqa 16(%rsp), %xmm1\n\t"
        "movdqa 32(%rsp), %xmm2\n\t"
        "movdqa 48(%rsp), %xmm3\n\t"
        "movdqa 64(%rsp), %xmm4\n\t"
        "movdqa 80(%rsp), %xmm5\n\t"
        "movdqa 96(%rsp), %xmm6\n\t"
        "movdqa 112(%rsp), %xmm7\n\t"
        "movdqa 128(%rsp), %xmm8\n\t"
        "movdqa 144(%rsp), %xmm9\n\t"
        "movdqa 160(%rsp), %xmm10\n\t"
        "movdqa 176(%rsp), %xmm11\n\t"
        "movdqa 192(%rsp), %xmm12\n\t"
        "movdqa 208(%rsp), %xmm13\n\t"
        "movdqa 224(%rsp), %xmm14\n\t"
        "movdqa 240(%rsp), %xmm15\n\t"
        "movq %rbx, %rsp\n\t"
        "movq 152(%rsp), %rcx\n\t"
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
        "\t.size bpftime_patcher_stub_exit, .-bpftime_patcher_stub_exit\n");
