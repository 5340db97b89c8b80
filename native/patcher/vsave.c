/* bpftime_call_preserving_vectors(): calls a C function with every vector
 * register saved before and restored after (see patcher.h).
 *
 * What "every vector register" is depends on the CPU, decided once at load:
 *   SSE only       xmm0-15, 16 x movdqu (256 bytes)
 *   AVX, AVX2      ymm0-15, 16 x vmovdqu (512 bytes): cheaper than xsave
 *   AVX-512        xsavec (else xsave) of SSE, AVX, opmask and zmm state:
 *                  zmm0-31 and k0-7 (about 2.5 KiB of stack)
 * x87 state, MXCSR, PKRU and AMX tiles are left alone: C code leaves the
 * first two as it found them, and the others are not ours to restore. */
#include <cpuid.h>
#include <stdint.h>

#include "patcher/patcher_internal.h"

enum { VSAVE_SSE = 1, VSAVE_AVX = 2, VSAVE_XSAVE = 3, VSAVE_XSAVEC = 4 };

/* Read by the assembly below. */
PATCHER_HIDDEN int bpftime_vsave_kind = VSAVE_SSE;
PATCHER_HIDDEN uint64_t bpftime_vsave_size = 0; /* bytes, xsave kinds */
PATCHER_HIDDEN uint32_t bpftime_vsave_mask = 0; /* xsave component bitmap */

#define XCR0_SSE (1u << 1)
#define XCR0_AVX (1u << 2)
#define XCR0_AVX512 (7u << 5) /* opmask, ZMM_Hi256, Hi16_ZMM */

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

__attribute__((constructor)) static void vsave_init(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
        return; /* SSE only: the OS does not manage the wider state */
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & (XCR0_SSE | XCR0_AVX)) != (XCR0_SSE | XCR0_AVX))
        return;
    if ((xcr0 & XCR0_AVX512) == 0) {
        bpftime_vsave_kind = VSAVE_AVX;
        return;
    }
    uint32_t mask = (uint32_t)(xcr0 & (XCR0_SSE | XCR0_AVX | XCR0_AVX512));
    /* Standard-format size: the end of the highest component saved (also
     * enough for the compacted format). */
    uint64_t size = 576;
    for (unsigned i = 2; i < 8; i++) {
        if (!(mask & (1u << i)))
            continue;
        __cpuid_count(0xd, i, a, b, c, d);
        if ((uint64_t)b + a > size)
            size = (uint64_t)b + a;
    }
    __cpuid_count(0xd, 1, a, b, c, d);
    bpftime_vsave_mask = mask;
    bpftime_vsave_size = (size + 63) & ~(uint64_t)63;
    bpftime_vsave_kind = (a & (1u << 1)) ? VSAVE_XSAVEC : VSAVE_XSAVE;
}

/* rdi = fn, rsi/rdx/rcx = its arguments. rbx/r12-r15 hold them across the
 * save; r15 keeps the result across the restore. Frame-pointer based so the
 * stack can be realigned for the save area. */
#define SAVE_XMM(i) "movdqu %xmm" #i ", " #i "*16(%rsp)\n\t"
#define LOAD_XMM(i) "movdqu " #i "*16(%rsp), %xmm" #i "\n\t"
#define SAVE_YMM(i) "vmovdqu %ymm" #i ", " #i "*32(%rsp)\n\t"
#define LOAD_YMM(i) "vmovdqu " #i "*32(%rsp), %ymm" #i "\n\t"
#define ALL16(m) \
    m(0) m(1) m(2) m(3) m(4) m(5) m(6) m(7) m(8) m(9) m(10) m(11) m(12) m(13) m(14) m(15)
#define CALL_FN \
    "movq %r12, %rdi\n\t" \
    "movq %r13, %rsi\n\t" \
    "movq %r14, %rdx\n\t" \
    "call *%rbx\n\t" \
    "movq %rax, %r15\n\t"

__asm__(
    "\t.text\n"
    "\t.p2align 4\n"
    "\t.globl bpftime_call_preserving_vectors\n"
    "\t.hidden bpftime_call_preserving_vectors\n"
    "\t.type bpftime_call_preserving_vectors, @function\n"
    "bpftime_call_preserving_vectors:\n\t"
    ".cfi_startproc\n\t"
    "pushq %rbp\n\t"
    ".cfi_def_cfa_offset 16\n\t"
    ".cfi_offset %rbp, -16\n\t"
    "movq %rsp, %rbp\n\t"
    ".cfi_def_cfa_register %rbp\n\t"
    "pushq %rbx\n\t"
    ".cfi_offset %rbx, -24\n\t"
    "pushq %r12\n\t"
    ".cfi_offset %r12, -32\n\t"
    "pushq %r13\n\t"
    ".cfi_offset %r13, -40\n\t"
    "pushq %r14\n\t"
    ".cfi_offset %r14, -48\n\t"
    "pushq %r15\n\t"
    ".cfi_offset %r15, -56\n\t"
    "movq %rdi, %rbx\n\t"
    "movq %rsi, %r12\n\t"
    "movq %rdx, %r13\n\t"
    "movq %rcx, %r14\n\t"
    "movl bpftime_vsave_kind(%rip), %eax\n\t"
    "cmpl $2, %eax\n\t"
    "je 2f\n\t"
    "ja 3f\n\t"
    /* SSE */
    "subq $256, %rsp\n\t"
    "andq $-16, %rsp\n\t" ALL16(SAVE_XMM) CALL_FN ALL16(
        LOAD_XMM) "jmp 9f\n"
                  /* AVX */
                  "2:\n\t"
                  "subq $512, %rsp\n\t"
                  "andq $-32, %rsp\n\t" ALL16(SAVE_YMM) CALL_FN ALL16(
                      LOAD_YMM) "jmp 9f\n"
                                /* xsave: the header must be zero before xsave (xrstor checks it) */
                                "3:\n\t"
                                "subq bpftime_vsave_size(%rip), %rsp\n\t"
                                "andq $-64, %rsp\n\t"
                                "xorl %eax, %eax\n\t"
                                "movq %rax, 512(%rsp)\n\t"
                                "movq %rax, 520(%rsp)\n\t"
                                "movq %rax, 528(%rsp)\n\t"
                                "movq %rax, 536(%rsp)\n\t"
                                "movq %rax, 544(%rsp)\n\t"
                                "movq %rax, 552(%rsp)\n\t"
                                "movq %rax, 560(%rsp)\n\t"
                                "movq %rax, 568(%rsp)\n\t"
                                "movl bpftime_vsave_mask(%rip), %eax\n\t"
                                "xorl %edx, %edx\n\t"
                                "cmpl $4, bpftime_vsave_kind(%rip)\n\t"
                                "je 4f\n\t"
                                "xsave64 (%rsp)\n\t"
                                "jmp 5f\n"
                                "4:\n\t"
                                "xsavec64 (%rsp)\n"
                                "5:\n\t" CALL_FN "movl bpftime_vsave_mask(%rip), %eax\n\t"
                                "xorl %edx, %edx\n\t"
                                "xrstor64 (%rsp)\n"
                                "9:\n\t"
                                "movq %r15, %rax\n\t"
                                "leaq -40(%rbp), %rsp\n\t"
                                "popq %r15\n\t"
                                "popq %r14\n\t"
                                "popq %r13\n\t"
                                "popq %r12\n\t"
                                "popq %rbx\n\t"
                                "popq %rbp\n\t"
                                ".cfi_def_cfa %rsp, 8\n\t"
                                "ret\n\t"
                                ".cfi_endproc\n"
                                "\t.size bpftime_call_preserving_vectors, "
                                ".-bpftime_call_preserving_vectors\n");
