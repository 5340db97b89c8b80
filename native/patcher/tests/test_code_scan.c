/* bpftime_code_is_gpr_only() on hand-assembled bytes: what counts as
 * "general-purpose registers only, and stays inside itself" (patcher.h).
 * A wrong 1 would run code that clobbers vector registers on a hook path
 * that does not save them; a wrong 0 only costs a save, so each rule is
 * checked from both sides: the byte sequence just inside it and just
 * outside. Encodings are from the Intel SDM. */
#include "patcher/patcher.h"
#include "test/harness.h"

#define GPR_ONLY(...) \
    ({ \
        static const uint8_t code_[] = {__VA_ARGS__}; \
        bpftime_code_is_gpr_only(code_, sizeof code_); \
    })

TEST(plain_integer_code_is_gpr_only)
{
    CHECK_EQ(GPR_ONLY(0x48, 0x89, 0xf8, 0xc3), 1); /* mov rax, rdi; ret */
    CHECK_EQ(GPR_ONLY(0x48, 0x01, 0xf0, 0x48, 0x0f, 0xaf, 0xc7),
             1);                                         /* add rax, rsi; imul rax, rdi */
    CHECK_EQ(GPR_ONLY(0x41, 0x54, 0x41, 0x5c, 0xc3), 1); /* push r12; pop r12; ret */
    CHECK_EQ(GPR_ONLY(0x31, 0xc0, 0xc3), 1);             /* xor eax, eax; ret */
}

TEST(nothing_or_undecodable_bytes_answer_no)
{
    CHECK_EQ(bpftime_code_is_gpr_only(NULL, 4), 0);
    static const uint8_t ret = 0xc3;
    CHECK_EQ(bpftime_code_is_gpr_only(&ret, 0), 0);
    CHECK_EQ(bpftime_code_is_gpr_only(&ret, 1), 1);
    CHECK_EQ(GPR_ONLY(0x06), 0);                         /* push es: invalid in 64-bit mode */
    CHECK_EQ(GPR_ONLY(0x48, 0x89, 0xf8, 0x48), 0);       /* a truncated last instruction */
    CHECK_EQ(GPR_ONLY(0x48, 0x89, 0xf8, 0x06, 0xc3), 0); /* the bad byte in the middle */
}

TEST(vector_and_x87_instructions_answer_no)
{
    CHECK_EQ(GPR_ONLY(0x66, 0x0f, 0xef, 0xc0), 0);       /* pxor xmm0, xmm0 */
    CHECK_EQ(GPR_ONLY(0x0f, 0xef, 0xc0), 0);             /* pxor mm0, mm0 */
    CHECK_EQ(GPR_ONLY(0x0f, 0x77), 0);                   /* emms */
    CHECK_EQ(GPR_ONLY(0xd9, 0xe8), 0);                   /* fld1 */
    CHECK_EQ(GPR_ONLY(0xc5, 0xf8, 0x77), 0);             /* vzeroupper */
    CHECK_EQ(GPR_ONLY(0x0f, 0xae, 0x17), 0);             /* ldmxcsr [rdi] */
    CHECK_EQ(GPR_ONLY(0x0f, 0xae, 0x27), 0);             /* xsave [rdi] */
    CHECK_EQ(GPR_ONLY(0x0f, 0xae, 0x2f), 0);             /* xrstor [rdi] */
    CHECK_EQ(GPR_ONLY(0xf2, 0x48, 0x0f, 0x2a, 0xc7), 0); /* cvtsi2sd xmm0, rdi */
    /* AVX-512 mask registers: named neither f.., v.. nor ..mm.. */
    CHECK_EQ(GPR_ONLY(0xc5, 0xf8, 0x92, 0xc8), 0); /* kmovw k1, eax: writes k1 */
    CHECK_EQ(GPR_ONLY(0xc5, 0xf8, 0x93, 0xc1), 0); /* kmovw eax, k1: reads k1 */
    CHECK_EQ(GPR_ONLY(0xc5, 0xf8, 0x91, 0x08), 0); /* kmovw [rax], k1: reads rax, then k1 */
    /* the integer instruction next to them still passes */
    CHECK_EQ(GPR_ONLY(0x48, 0x89, 0xf8, 0x66, 0x0f, 0xef, 0xc0), 0); /* mov; pxor */
}

TEST(jumps_and_calls_must_stay_inside)
{
    /* jmp rel8 to the next instruction: inside */
    CHECK_EQ(GPR_ONLY(0xeb, 0x00, 0xc3), 1);
    /* jmp rel8 to the byte just past the end: outside (the end is exclusive) */
    CHECK_EQ(GPR_ONLY(0x90, 0xeb, 0x00), 0);
    /* jmp rel8 back to the first byte: inside; one byte before it: outside */
    CHECK_EQ(GPR_ONLY(0x90, 0xeb, 0xfd), 1);
    CHECK_EQ(GPR_ONLY(0x90, 0xeb, 0xfc), 0);
    /* je rel8 inside and outside */
    CHECK_EQ(GPR_ONLY(0x74, 0x00, 0xc3), 1);
    CHECK_EQ(GPR_ONLY(0x74, 0x7f, 0xc3), 0);
    /* call rel32 to the next instruction (inside), and far away */
    CHECK_EQ(GPR_ONLY(0xe8, 0x00, 0x00, 0x00, 0x00, 0xc3), 1);
    CHECK_EQ(GPR_ONLY(0xe8, 0x00, 0x10, 0x00, 0x00, 0xc3), 0);
    /* indirect call and jump: could go anywhere */
    CHECK_EQ(GPR_ONLY(0xff, 0xd0), 0); /* call rax */
    CHECK_EQ(GPR_ONLY(0xff, 0xe0), 0); /* jmp rax */
}

TEST(syscalls_and_interrupts_answer_no)
{
    CHECK_EQ(GPR_ONLY(0x0f, 0x05), 0);       /* syscall */
    CHECK_EQ(GPR_ONLY(0xcd, 0x80), 0);       /* int 0x80 */
    CHECK_EQ(GPR_ONLY(0x0f, 0x34), 0);       /* sysenter */
    CHECK_EQ(GPR_ONLY(0x31, 0xc0, 0xc3), 1); /* and xor eax, eax; ret passes */
}
