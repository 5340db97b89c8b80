/* RFC 9669 conformance: every instruction and its edge cases, run on the
 * interpreter and (when present) the JIT. One VM_CASE per row. */
#include "vm/tests/vm_case.h"

#define I64_MIN 0x8000000000000000ULL
#define U64_MAX 0xffffffffffffffffULL

/* r0 = a; r0 OP= imm, with the instruction maker `insn` (width, signedness) */
#define K_CASE(insn, name, OP, a, imm, want) \
    VM_CASE(name, .expect = (want), CODE(LDDW(0, a), insn(OP, 0, imm), EXIT()))
/* r0 = a; r1 = b; r0 OP= r1 */
#define X_CASE(insn, name, OP, a, b, want) \
    VM_CASE(name, .expect = (want), CODE(LDDW(0, a), LDDW(1, b), insn(OP, 0, 1), EXIT()))
#define K64(...) K_CASE(ALU64_IMM, __VA_ARGS__)
#define X64(...) X_CASE(ALU64_REG, __VA_ARGS__)
#define K32(...) K_CASE(ALU32_IMM, __VA_ARGS__)
#define X32(...) X_CASE(ALU32_REG, __VA_ARGS__)
#define SK64(...) K_CASE(SALU64_IMM, __VA_ARGS__)
#define SX64(...) X_CASE(SALU64_REG, __VA_ARGS__)
#define SK32(...) K_CASE(SALU32_IMM, __VA_ARGS__)
#define SX32(...) X_CASE(SALU32_REG, __VA_ARGS__)

/* ---- add / sub / mul ---- */
K64(add64_k, BPF_ADD, 1, 2, 3)
K64(add64_k_negative_imm_sign_extends, BPF_ADD, 5, -1, 4)
X64(add64_x_wraps, BPF_ADD, U64_MAX, 2, 1)
K32(add32_k_wraps, BPF_ADD, 0xffffffff, 1, 0)
X32(add32_x_zero_extends, BPF_ADD, 0x100000005ULL, 0x100000003ULL, 8)
K32(add32_k_negative_imm, BPF_ADD, 5, -1, 4)
K64(sub64_k, BPF_SUB, 10, 3, 7)
X64(sub64_x_underflow, BPF_SUB, 0, 1, U64_MAX)
X32(sub32_x_underflow, BPF_SUB, 0, 1, 0xffffffff)
K32(sub32_k_zero_extends, BPF_SUB, 0xffffffff00000010ULL, 1, 0xf)
K64(mul64_k, BPF_MUL, 7, 6, 42)
K64(mul64_k_negative_imm, BPF_MUL, 3, -2, (uint64_t)-6)
X64(mul64_x_wraps, BPF_MUL, 0x100000000ULL, 0x100000000ULL, 0)
X64(mul64_x_large, BPF_MUL, 0xffffffffULL, 0xffffffffULL, 0xfffffffe00000001ULL)
X32(mul32_x_wraps, BPF_MUL, 0x10000, 0x10000, 0)
K32(mul32_k_negative_imm, BPF_MUL, 3, -2, 0xfffffffa)
X32(mul32_x_ignores_upper_bits, BPF_MUL, 0x500000003ULL, 0x700000004ULL, 12)

/* ---- unsigned div / mod ---- */
K64(div64_k, BPF_DIV, 100, 7, 14)
X64(div64_x, BPF_DIV, U64_MAX, 2, 0x7fffffffffffffffULL)
X64(div64_x_by_zero_is_zero, BPF_DIV, 5, 0, 0)
K64(div64_k_by_zero_is_zero, BPF_DIV, 5, 0, 0)
K64(div64_k_negative_imm_is_unsigned_huge, BPF_DIV, U64_MAX - 1, -1, 0)
K64(div64_k_all_ones_by_all_ones, BPF_DIV, U64_MAX, -1, 1)
X32(div32_x, BPF_DIV, 0x100000064ULL, 10, 10)
X32(div32_x_by_zero_is_zero, BPF_DIV, 0x10000000aULL, 0, 0)
X32(div32_x_divisor_low_bits_zero, BPF_DIV, 10, 0x100000000ULL, 0)
K32(div32_k_negative_imm_unsigned, BPF_DIV, 0xffffffff, -1, 1)
K32(div32_k_by_zero, BPF_DIV, 77, 0, 0)
K64(mod64_k, BPF_MOD, 100, 7, 2)
X64(mod64_x_by_zero_keeps_dst, BPF_MOD, 0x123456789abcULL, 0, 0x123456789abcULL)
K64(mod64_k_by_zero_keeps_dst, BPF_MOD, U64_MAX, 0, U64_MAX)
K64(mod64_k_negative_imm_unsigned, BPF_MOD, 5, -1, 5)
X32(mod32_x, BPF_MOD, 0x100000064ULL, 7, 2)
X32(mod32_x_by_zero_truncates_dst, BPF_MOD, 0xffffffff00000005ULL, 0, 5)
X32(mod32_x_divisor_low_bits_zero, BPF_MOD, 0x1234567800000009ULL, 0x100000000ULL, 9)
K32(mod32_k_by_zero_truncates_dst, BPF_MOD, 0xabcdef0012345678ULL, 0, 0x12345678)
K32(mod32_k_negative_imm_unsigned, BPF_MOD, 0xfffffffe, -1, 0xfffffffe)

/* ---- signed div / mod (off = 1) ---- */
SK64(sdiv64_k, BPF_DIV, (uint64_t)-100, 7, (uint64_t)-14)
SX64(sdiv64_x_both_negative, BPF_DIV, (uint64_t)-100, (uint64_t)-7, 14)
SX64(sdiv64_x_int_min_by_minus_one, BPF_DIV, I64_MIN, U64_MAX, I64_MIN)
SK64(sdiv64_k_int_min_by_minus_one, BPF_DIV, I64_MIN, -1, I64_MIN)
SX64(sdiv64_x_by_zero_is_zero, BPF_DIV, (uint64_t)-9, 0, 0)
SK64(sdiv64_k_by_minus_one, BPF_DIV, 5, -1, (uint64_t)-5)
SK32(sdiv32_k, BPF_DIV, (uint32_t)-100, 7, 0xfffffff2)
SX32(sdiv32_x_int_min_by_minus_one, BPF_DIV, 0x80000000, 0xffffffff, 0x80000000)
SK32(sdiv32_k_int_min_by_minus_one, BPF_DIV, 0xffffffff80000000ULL, -1, 0x80000000)
SX32(sdiv32_x_by_zero_is_zero, BPF_DIV, 0xfffffff0, 0x100000000ULL, 0)
SX32(sdiv32_x_uses_low_bits_signed, BPF_DIV, 0x00000000fffffff6ULL, 0x0000000200000002ULL,
     0xfffffffb)
SK64(smod64_k, BPF_MOD, (uint64_t)-100, 7, (uint64_t)-2)
SK64(smod64_k_negative_divisor, BPF_MOD, 100, -7, 2)
SX64(smod64_x_int_min_by_minus_one, BPF_MOD, I64_MIN, U64_MAX, 0)
SK64(smod64_k_int_min_by_minus_one, BPF_MOD, I64_MIN, -1, 0)
SX64(smod64_x_by_zero_keeps_dst, BPF_MOD, (uint64_t)-5, 0, (uint64_t)-5)
SK32(smod32_k, BPF_MOD, (uint32_t)-100, 7, 0xfffffffe)
SX32(smod32_x_int_min_by_minus_one, BPF_MOD, 0x80000000, 0xffffffff, 0)
SK32(smod32_k_int_min_by_minus_one, BPF_MOD, 0x80000000, -1, 0)
SX32(smod32_x_by_zero_truncates_dst, BPF_MOD, 0xfffffffffffffffbULL, 0, 0xfffffffb)

/* ---- bitwise ---- */
K64(or64_k, BPF_OR, 0xf0, 0x0f, 0xff)
K64(or64_k_negative_imm_sets_upper, BPF_OR, 0, -2, 0xfffffffffffffffeULL)
X64(or64_x, BPF_OR, 0xff00000000000000ULL, 1, 0xff00000000000001ULL)
X32(or32_x_zero_extends, BPF_OR, 0xff00000000000000ULL, 1, 1)
K64(and64_k_minus_one_keeps_all, BPF_AND, 0x123456789abcdef0ULL, -1, 0x123456789abcdef0ULL)
K64(and64_k, BPF_AND, 0x123456789abcdef0ULL, 0xff, 0xf0)
X64(and64_x, BPF_AND, 0xff00ff00ff00ff00ULL, 0x0ff00ff00ff00ff0ULL, 0x0f000f000f000f00ULL)
K32(and32_k_zero_extends, BPF_AND, U64_MAX, -1, 0xffffffff)
K64(xor64_k, BPF_XOR, 0xff, 0x0f, 0xf0)
X64(xor64_x_self_pattern, BPF_XOR, 0xaaaaaaaaaaaaaaaaULL, U64_MAX, 0x5555555555555555ULL)
K32(xor32_k_zero_extends, BPF_XOR, 0xffffffff00000000ULL, 1, 1)
X32(xor32_x, BPF_XOR, 0x1234, 0x1234, 0)

/* ---- shifts: amounts are masked to the width ---- */
K64(lsh64_k_63, BPF_LSH, 1, 63, I64_MIN)
X64(lsh64_x_by_64_is_masked, BPF_LSH, 1, 64, 1)
X64(lsh64_x_by_65_is_1, BPF_LSH, 1, 65, 2)
K64(lsh64_k_zero, BPF_LSH, 0x1234, 0, 0x1234)
K64(rsh64_k_63, BPF_RSH, I64_MIN, 63, 1)
X64(rsh64_x_by_64_is_masked, BPF_RSH, 0x80, 64, 0x80)
X64(rsh64_x_logical, BPF_RSH, U64_MAX, 4, 0x0fffffffffffffffULL)
K64(arsh64_k_63, BPF_ARSH, I64_MIN, 63, U64_MAX)
X64(arsh64_x_negative, BPF_ARSH, (uint64_t)-16, 2, (uint64_t)-4)
X64(arsh64_x_positive, BPF_ARSH, 0x4000000000000000ULL, 62, 1)
X64(arsh64_x_by_64_is_masked, BPF_ARSH, (uint64_t)-3, 64, (uint64_t)-3)
K32(lsh32_k_31, BPF_LSH, 1, 31, 0x80000000)
X32(lsh32_x_by_32_is_masked, BPF_LSH, 0xffffffff00000003ULL, 32, 3)
K32(lsh32_k_zero_extends, BPF_LSH, U64_MAX, 4, 0xfffffff0)
X32(lsh32_x_by_33_is_1, BPF_LSH, 1, 33, 2)
K32(rsh32_k, BPF_RSH, 0xffffffff80000000ULL, 4, 0x08000000)
X32(rsh32_x_by_33_is_1, BPF_RSH, 0x80000000, 33, 0x40000000)
K32(arsh32_k_sign, BPF_ARSH, 0x80000000, 4, 0xf8000000)
X32(arsh32_x_by_32_is_masked, BPF_ARSH, 0xffffffff80000000ULL, 32, 0x80000000)
K32(arsh32_k_31, BPF_ARSH, 0x80000000, 31, 0xffffffff)
K32(arsh32_k_ignores_upper_bits, BPF_ARSH, 0xffffffff40000000ULL, 30, 1)
K64(lsh64_k_by_64_is_masked, BPF_LSH, 3, 64, 3)
K64(rsh64_k_by_65_is_1, BPF_RSH, 4, 65, 2)
K64(arsh64_k_by_127_is_63, BPF_ARSH, I64_MIN, 127, U64_MAX)
K32(lsh32_k_by_32_is_masked, BPF_LSH, 0xffffffff00000005ULL, 32, 5)
K32(rsh32_k_by_33_is_1, BPF_RSH, 8, 33, 4)
K32(arsh32_k_by_63_is_31, BPF_ARSH, 0x80000000, 63, 0xffffffff)
X64(sub64_x_same_register_pattern, BPF_SUB, 5, 5, 0)
VM_CASE(div64_x_dst_equals_src, .expect = 1,
        CODE(MOV64_IMM(3, 9), ALU64_REG(BPF_DIV, 3, 3), MOV64_REG(0, 3), EXIT()))
VM_CASE(mod64_x_dst_equals_src, .expect = 0,
        CODE(MOV64_IMM(3, 9), ALU64_REG(BPF_MOD, 3, 3), MOV64_REG(0, 3), EXIT()))
VM_CASE(lsh64_x_dst_equals_src, .expect = 3ULL << 3,
        CODE(MOV64_IMM(4, 3), ALU64_REG(BPF_LSH, 4, 4), MOV64_REG(0, 4), EXIT()))

/* ---- neg / mov / movsx ---- */
VM_CASE(neg64, .expect = (uint64_t)-5, CODE(MOV64_IMM(0, 5), NEG64(0), EXIT()))
VM_CASE(neg64_int_min, .expect = I64_MIN, CODE(LDDW(0, I64_MIN), NEG64(0), EXIT()))
VM_CASE(neg32, .expect = 0xfffffffb, CODE(MOV64_IMM(0, 5), NEG32(0), EXIT()))
VM_CASE(neg32_upper_bits_ignored, .expect = 0, CODE(LDDW(0, 0x100000000ULL), NEG32(0), EXIT()))
VM_CASE(mov64_k_sign_extends, .expect = U64_MAX, CODE(MOV64_IMM(0, -1), EXIT()))
VM_CASE(mov32_k_zero_extends, .expect = 0xffffffff, CODE(MOV32_IMM(0, -1), EXIT()))
VM_CASE(mov64_x, .expect = 0x123456789ULL, CODE(LDDW(3, 0x123456789ULL), MOV64_REG(0, 3), EXIT()))
VM_CASE(mov32_x_truncates, .expect = 0x23456789,
        CODE(LDDW(3, 0x123456789ULL), MOV32_REG(0, 3), EXIT()))
VM_CASE(mov32_k_clears_upper, .expect = 7, CODE(LDDW(0, U64_MAX), MOV32_IMM(0, 7), EXIT()))
VM_CASE(movsx64_8_negative, .expect = 0xffffffffffffff80ULL,
        CODE(MOV64_IMM(1, 0x180), MOVSX64_REG(0, 1, 8), EXIT()))
VM_CASE(movsx64_8_positive, .expect = 0x7f, CODE(MOV64_IMM(1, 0x27f), MOVSX64_REG(0, 1, 8), EXIT()))
VM_CASE(movsx64_16_negative, .expect = 0xffffffffffff8000ULL,
        CODE(MOV64_IMM(1, 0x18000), MOVSX64_REG(0, 1, 16), EXIT()))
VM_CASE(movsx64_32_negative, .expect = 0xffffffff80000000ULL,
        CODE(LDDW(1, 0x1280000000ULL), MOVSX64_REG(0, 1, 32), EXIT()))
VM_CASE(movsx64_32_positive, .expect = 0x7fffffff,
        CODE(LDDW(1, 0xff7fffffffULL), MOVSX64_REG(0, 1, 32), EXIT()))
VM_CASE(movsx32_8_zero_extends, .expect = 0xffffff80,
        CODE(MOV64_IMM(1, 0x180), MOVSX32_REG(0, 1, 8), EXIT()))
VM_CASE(movsx32_16, .expect = 0xffffffff,
        CODE(LDDW(1, 0xffffffffffffffffULL), MOVSX32_REG(0, 1, 16), EXIT()))
VM_CASE(movsx32_16_positive, .expect = 0x1234,
        CODE(LDDW(1, 0xffff00001234ULL), MOVSX32_REG(0, 1, 16), EXIT()))

/* ---- byte order ---- */
#define SWAP_CASE(name, insn, want) \
    VM_CASE(name, .expect = (want), CODE(LDDW(0, 0x1122334455667788ULL), insn, EXIT()))
SWAP_CASE(le16_truncates, LE(0, 16), 0x7788)
SWAP_CASE(le32_truncates, LE(0, 32), 0x55667788)
SWAP_CASE(le64_unchanged, LE(0, 64), 0x1122334455667788ULL)
SWAP_CASE(be16, BE(0, 16), 0x8877)
SWAP_CASE(be32, BE(0, 32), 0x88776655)
SWAP_CASE(be64, BE(0, 64), 0x8877665544332211ULL)
SWAP_CASE(bswap16, BSWAP(0, 16), 0x8877)
SWAP_CASE(bswap32, BSWAP(0, 32), 0x88776655)
SWAP_CASE(bswap64, BSWAP(0, 64), 0x8877665544332211ULL)

/* ---- lddw ---- */
VM_CASE(lddw, .expect = 0x123456789abcdef0ULL, CODE(LDDW(0, 0x123456789abcdef0ULL), EXIT()))
VM_CASE(lddw_high_bit, .expect = 0x80000000ffffffffULL,
        CODE(LDDW(0, 0x80000000ffffffffULL), EXIT()))
VM_CASE(lddw_to_r9, .expect = 0xdeadbeef00000001ULL,
        CODE(LDDW(9, 0xdeadbeef00000001ULL), MOV64_REG(0, 9), EXIT()))

/* ---- conditional jumps: r0 = 1 when taken ---- */
/* r1 = a; if (r1 OP imm) goto +1, with the jump maker `insn` (width) */
#define JK_CASE(insn, name, OP, a, imm, taken) \
    VM_CASE( \
        name, .expect = (taken), \
        CODE(MOV64_IMM(0, 0), LDDW(1, a), insn(OP, 1, imm, 1), EXIT(), MOV64_IMM(0, 1), EXIT()))
/* r1 = a; r2 = b; if (r1 OP r2) goto +1 */
#define JX_CASE(insn, name, OP, a, b, taken) \
    VM_CASE(name, .expect = (taken), \
            CODE(MOV64_IMM(0, 0), LDDW(1, a), LDDW(2, b), insn(OP, 1, 2, 1), EXIT(), \
                 MOV64_IMM(0, 1), EXIT()))
#define JK(...) JK_CASE(JMP_IMM, __VA_ARGS__)
#define JX(...) JX_CASE(JMP_REG, __VA_ARGS__)
#define JK32(...) JK_CASE(JMP32_IMM, __VA_ARGS__)
#define JX32(...) JX_CASE(JMP32_REG, __VA_ARGS__)

JK(jeq_k_taken, BPF_JEQ, 5, 5, 1)
JK(jeq_k_not_taken, BPF_JEQ, 5, 6, 0)
JK(jeq_k_imm_sign_extends, BPF_JEQ, U64_MAX, -1, 1)
JX(jeq_x_taken, BPF_JEQ, 0x100000000ULL, 0x100000000ULL, 1)
JX(jeq_x_not_taken_upper_bits, BPF_JEQ, 0x100000000ULL, 0, 0)
JK(jne_k_taken, BPF_JNE, 5, 6, 1)
JX(jne_x_not_taken, BPF_JNE, 7, 7, 0)
JK(jgt_k_unsigned, BPF_JGT, U64_MAX, 1, 1)
JK(jgt_k_equal_not_taken, BPF_JGT, 1, 1, 0)
JK(jgt_k_imm_minus_one_is_max, BPF_JGT, 0xffffffffULL, -1, 0)
JX(jgt_x_taken, BPF_JGT, 3, 2, 1)
JK(jge_k_equal_taken, BPF_JGE, 9, 9, 1)
JX(jge_x_not_taken, BPF_JGE, 8, 9, 0)
JK(jlt_k_taken, BPF_JLT, 1, 2, 1)
JX(jlt_x_unsigned_not_taken, BPF_JLT, U64_MAX, 1, 0)
JK(jle_k_equal_taken, BPF_JLE, 4, 4, 1)
JX(jle_x_not_taken, BPF_JLE, 5, 4, 0)
JK(jsgt_k_signed_not_taken, BPF_JSGT, U64_MAX, 1, 0)
JX(jsgt_x_taken, BPF_JSGT, 1, U64_MAX, 1)
JK(jsge_k_equal_taken, BPF_JSGE, (uint64_t)-3, -3, 1)
JX(jsge_x_not_taken, BPF_JSGE, I64_MIN, 0, 0)
JK(jslt_k_taken, BPF_JSLT, U64_MAX, 0, 1)
JX(jslt_x_not_taken, BPF_JSLT, 0, I64_MIN, 0)
JK(jsle_k_equal_taken, BPF_JSLE, (uint64_t)-1, -1, 1)
JX(jsle_x_not_taken, BPF_JSLE, 1, (uint64_t)-1, 0)
JK(jset_k_taken, BPF_JSET, 0x6, 0x2, 1)
JK(jset_k_not_taken, BPF_JSET, 0x6, 0x9, 0)
JX(jset_x_upper_bits, BPF_JSET, 0x100000000ULL, 0x100000000ULL, 1)
JK32(jeq32_k_ignores_upper, BPF_JEQ, 0x100000000ULL, 0, 1)
JX32(jeq32_x_ignores_upper, BPF_JEQ, 0xabc00000005ULL, 5, 1)
JK32(jne32_k_not_taken, BPF_JNE, 0x1ffffffffULL, -1, 0)
JK32(jgt32_k_unsigned, BPF_JGT, 0xffffffffULL, 1, 1)
JX32(jgt32_x_upper_ignored, BPF_JGT, 0x100000001ULL, 2, 0)
JK32(jge32_k_equal, BPF_JGE, 0x700000007ULL, 7, 1)
JX32(jlt32_x_taken, BPF_JLT, 1, 0x100000002ULL, 1)
JK32(jle32_k_not_taken, BPF_JLE, 8, 7, 0)
JK32(jsgt32_k_negative_not_taken, BPF_JSGT, 0x80000000ULL, 0, 0)
JX32(jsgt32_x_taken, BPF_JSGT, 1, 0xffffffffULL, 1)
JK32(jsge32_k_equal, BPF_JSGE, 0xfffffffeULL, -2, 1)
JX32(jslt32_x_taken, BPF_JSLT, 0xffffffffULL, 0, 1)
JK32(jslt32_k_upper_ignored, BPF_JSLT, 0x7fffffff00000001ULL, 2, 1)
JK32(jsle32_k_not_taken, BPF_JSLE, 3, 2, 0)
JK32(jset32_k_upper_ignored, BPF_JSET, 0x100000000ULL, -1, 0)
JX32(jset32_x_taken, BPF_JSET, 0x80000000ULL, 0xffffffff80000000ULL, 1)

VM_CASE(ja_skips, .expect = 1, CODE(MOV64_IMM(0, 1), JA(1), MOV64_IMM(0, 2), EXIT()))
VM_CASE(ja32_skips_with_imm, .expect = 1, CODE(MOV64_IMM(0, 1), JA32(1), MOV64_IMM(0, 2), EXIT()))
/* sum 1..10 with a backward conditional jump */
VM_CASE(loop_backward_jump, .expect = 55,
        CODE(MOV64_IMM(0, 0), MOV64_IMM(1, 10), ALU64_REG(BPF_ADD, 0, 1), ALU64_IMM(BPF_SUB, 1, 1),
             JMP_IMM(BPF_JNE, 1, 0, -3), EXIT()))
/* backward ja32 loop: count to 5 */
VM_CASE(loop_ja32_backward, .expect = 5,
        CODE(MOV64_IMM(0, 0), ALU64_IMM(BPF_ADD, 0, 1), JMP_IMM(BPF_JEQ, 0, 5, 1), JA32(-3),
             EXIT()))
VM_CASE(program_ending_in_ja, .expect = 3, CODE(MOV64_IMM(0, 3), JA(1), EXIT(), EXIT(), JA(-3)))
#define MEM16 \
    MEM(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, \
        0x80)

/* ---- loads ---- */
VM_CASE(ldxb, MEM16, .expect = 0x33, CODE(LDX(BPF_B, 0, 1, 2), EXIT()))
VM_CASE(ldxh, MEM16, .expect = 0x4433, CODE(LDX(BPF_H, 0, 1, 2), EXIT()))
VM_CASE(ldxw, MEM16, .expect = 0x88776655, CODE(LDX(BPF_W, 0, 1, 4), EXIT()))
VM_CASE(ldxdw, MEM16, .expect = 0x8877665544332211ULL, CODE(LDX(BPF_DW, 0, 1, 0), EXIT()))
VM_CASE(ldxdw_unaligned, MEM16, .expect = 0x9988776655443322ULL, CODE(LDX(BPF_DW, 0, 1, 1), EXIT()))
VM_CASE(ldx_negative_offset, MEM16, .expect = 0x80,
        CODE(MOV64_REG(2, 1), ALU64_IMM(BPF_ADD, 2, 16), LDX(BPF_B, 0, 2, -1), EXIT()))
VM_CASE(ldxb_clears_upper, MEM16, .expect = 0x11,
        CODE(LDDW(0, U64_MAX), LDX(BPF_B, 0, 1, 0), EXIT()))
VM_CASE(ldxsb_negative, MEM16, .expect = 0xffffffffffffff80ULL,
        CODE(LDXSX(BPF_B, 0, 1, 15), EXIT()))
VM_CASE(ldxsb_positive, MEM16, .expect = 0x11, CODE(LDXSX(BPF_B, 0, 1, 0), EXIT()))
VM_CASE(ldxsh_negative, MEM16, .expect = 0xffffffffffff80ffULL,
        CODE(LDXSX(BPF_H, 0, 1, 14), EXIT()))
VM_CASE(ldxsh_positive, MEM16, .expect = 0x2211, CODE(LDXSX(BPF_H, 0, 1, 0), EXIT()))
VM_CASE(ldxsw_negative, MEM16, .expect = 0xffffffffccbbaa99ULL, CODE(LDXSX(BPF_W, 0, 1, 8), EXIT()))
VM_CASE(ldxsw_positive, MEM16, .expect = 0x44332211, CODE(LDXSX(BPF_W, 0, 1, 0), EXIT()))
VM_CASE(mem_len_in_r2, MEM16, .expect = 16, CODE(MOV64_REG(0, 2), EXIT()))

/* ---- stores ---- */
#define ZERO8 MEM(0, 0, 0, 0, 0, 0, 0, 0)
VM_CASE(stb_imm, ZERO8, .expect = 0, EXPECT_MEM(0, 0, 0x7f, 0, 0, 0, 0, 0),
        CODE(ST_IMM(BPF_B, 1, 2, 0x37f), MOV64_IMM(0, 0), EXIT()))
VM_CASE(sth_imm, ZERO8, .expect = 0, EXPECT_MEM(0x34, 0x12, 0, 0, 0, 0, 0, 0),
        CODE(ST_IMM(BPF_H, 1, 0, 0x1234), MOV64_IMM(0, 0), EXIT()))
VM_CASE(stw_imm, ZERO8, .expect = 0, EXPECT_MEM(0, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde),
        CODE(ST_IMM(BPF_W, 1, 4, 0xdeadbeef), MOV64_IMM(0, 0), EXIT()))
VM_CASE(stdw_imm_sign_extends, ZERO8, .expect = 0,
        EXPECT_MEM(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
        CODE(ST_IMM(BPF_DW, 1, 0, -2), MOV64_IMM(0, 0), EXIT()))
VM_CASE(stxb, ZERO8, .expect = 0, EXPECT_MEM(0x88, 0, 0, 0, 0, 0, 0, 0),
        CODE(LDDW(2, 0x1122334455667788ULL), STX(BPF_B, 1, 2, 0), MOV64_IMM(0, 0), EXIT()))
VM_CASE(stxh, ZERO8, .expect = 0, EXPECT_MEM(0, 0x88, 0x77, 0, 0, 0, 0, 0),
        CODE(LDDW(2, 0x1122334455667788ULL), STX(BPF_H, 1, 2, 1), MOV64_IMM(0, 0), EXIT()))
VM_CASE(stxw, ZERO8, .expect = 0, EXPECT_MEM(0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0),
        CODE(LDDW(2, 0x1122334455667788ULL), STX(BPF_W, 1, 2, 0), MOV64_IMM(0, 0), EXIT()))
VM_CASE(stxdw, ZERO8, .expect = 0, EXPECT_MEM(0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11),
        CODE(LDDW(2, 0x1122334455667788ULL), STX(BPF_DW, 1, 2, 0), MOV64_IMM(0, 0), EXIT()))
VM_CASE(stack_store_load, .expect = 0x1122334455667788ULL,
        CODE(LDDW(1, 0x1122334455667788ULL), STX(BPF_DW, 10, 1, -8), LDX(BPF_DW, 0, 10, -8),
             EXIT()))
VM_CASE(stack_bottom_of_frame, .expect = 0xab,
        CODE(ST_IMM(BPF_B, 10, -512, 0xab), LDX(BPF_B, 0, 10, -512), EXIT()))
VM_CASE(stack_pointer_to_helper, .expect = 0x4242,
        CODE(ST_IMM(BPF_DW, 10, -16, 0x4242), MOV64_REG(1, 10), ALU64_IMM(BPF_ADD, 1, -16),
             CALL_HELPER(CASE_HELPER_DEREF), EXIT()))

/* ---- atomics ---- */
#define A8 MEM(0x10, 0, 0, 0, 0, 0, 0, 0)
VM_CASE(atomic64_add, A8, .expect = 0, EXPECT_MEM(0x15, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, 5), ATOMIC(BPF_DW, BPF_ADD, 1, 2, 0), MOV64_IMM(0, 0), EXIT()))
VM_CASE(atomic64_fetch_add_returns_old, A8, .expect = 0x10, EXPECT_MEM(0x15, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, 5), ATOMIC(BPF_DW, BPF_ADD | BPF_FETCH, 1, 2, 0), MOV64_REG(0, 2),
             EXIT()))
VM_CASE(atomic32_add, A8, .expect = 0, EXPECT_MEM(0x0f, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, -1), ATOMIC(BPF_W, BPF_ADD, 1, 2, 0), MOV64_IMM(0, 0), EXIT()))
VM_CASE(atomic32_fetch_add_zero_extends, MEM(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0),
        .expect = 0xffffffff, EXPECT_MEM(0, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, 1), ATOMIC(BPF_W, BPF_ADD | BPF_FETCH, 1, 2, 0), MOV64_REG(0, 2), EXIT()))
VM_CASE(atomic64_or, A8, .expect = 0, EXPECT_MEM(0x11, 0, 0, 0, 0, 0, 0, 0x80),
        CODE(LDDW(2, 0x8000000000000001ULL), ATOMIC(BPF_DW, BPF_OR, 1, 2, 0), MOV64_IMM(0, 0),
             EXIT()))
VM_CASE(atomic64_fetch_or, A8, .expect = 0x10, EXPECT_MEM(0x13, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, 3), ATOMIC(BPF_DW, BPF_OR | BPF_FETCH, 1, 2, 0), MOV64_REG(0, 2), EXIT()))
VM_CASE(atomic32_or, A8, .expect = 0, EXPECT_MEM(0x10, 0, 0, 0x80, 0, 0, 0, 0),
        CODE(MOV32_IMM(2, 0x80000000), ATOMIC(BPF_W, BPF_OR, 1, 2, 0), MOV64_IMM(0, 0), EXIT()))
VM_CASE(atomic32_fetch_or, A8, .expect = 0x10, EXPECT_MEM(0x11, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, 1), ATOMIC(BPF_W, BPF_OR | BPF_FETCH, 1, 2, 0), MOV64_REG(0, 2), EXIT()))
VM_CASE(atomic64_and, MEM(0xff, 0xff, 0, 0, 0, 0, 0, 0xff), .expect = 0,
        EXPECT_MEM(0x0f, 0, 0, 0, 0, 0, 0, 0xff),
        CODE(LDDW(2, 0xff0000000000000fULL), ATOMIC(BPF_DW, BPF_AND, 1, 2, 0), MOV64_IMM(0, 0),
             EXIT()))
VM_CASE(atomic64_fetch_and, A8, .expect = 0x10, EXPECT_MEM(0, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, 1), ATOMIC(BPF_DW, BPF_AND | BPF_FETCH, 1, 2, 0), MOV64_REG(0, 2),
             EXIT()))
VM_CASE(atomic32_and, MEM(0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0), .expect = 0,
        EXPECT_MEM(0x0f, 0, 0, 0, 0xff, 0, 0, 0),
        CODE(MOV64_IMM(2, 0x0f), ATOMIC(BPF_W, BPF_AND, 1, 2, 0), MOV64_IMM(0, 0), EXIT()))
VM_CASE(atomic32_fetch_and, A8, .expect = 0x10, EXPECT_MEM(0x10, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, 0x30), ATOMIC(BPF_W, BPF_AND | BPF_FETCH, 1, 2, 0), MOV64_REG(0, 2),
             EXIT()))
VM_CASE(atomic64_xor, A8, .expect = 0, EXPECT_MEM(0x01, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, 0x11), ATOMIC(BPF_DW, BPF_XOR, 1, 2, 0), MOV64_IMM(0, 0), EXIT()))
VM_CASE(atomic64_fetch_xor, A8, .expect = 0x10, EXPECT_MEM(0, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, 0x10), ATOMIC(BPF_DW, BPF_XOR | BPF_FETCH, 1, 2, 0), MOV64_REG(0, 2),
             EXIT()))
VM_CASE(atomic32_xor, A8, .expect = 0, EXPECT_MEM(0xef, 0xff, 0xff, 0xff, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, -1), ATOMIC(BPF_W, BPF_XOR, 1, 2, 0), MOV64_IMM(0, 0), EXIT()))
VM_CASE(atomic32_fetch_xor, A8, .expect = 0x10, EXPECT_MEM(0x11, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(2, 1), ATOMIC(BPF_W, BPF_XOR | BPF_FETCH, 1, 2, 0), MOV64_REG(0, 2), EXIT()))
VM_CASE(atomic64_xchg, A8, .expect = 0x10, EXPECT_MEM(0x99, 0, 0, 0, 0, 0, 0, 0x77),
        CODE(LDDW(2, 0x7700000000000099ULL), ATOMIC(BPF_DW, BPF_XCHG, 1, 2, 0), MOV64_REG(0, 2),
             EXIT()))
VM_CASE(atomic32_xchg_zero_extends, MEM(1, 2, 3, 0x84, 5, 6, 7, 8), .expect = 0x84030201,
        EXPECT_MEM(0x99, 0, 0, 0, 5, 6, 7, 8),
        CODE(LDDW(2, 0x7700000000000099ULL), ATOMIC(BPF_W, BPF_XCHG, 1, 2, 0), MOV64_REG(0, 2),
             EXIT()))
/* cmpxchg: r0 = old value either way; store only when it matched r0 */
VM_CASE(atomic64_cmpxchg_success, A8, .expect = 0x10 + 0x1000,
        EXPECT_MEM(0x77, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(0, 0x10), MOV64_IMM(2, 0x77), ATOMIC(BPF_DW, BPF_CMPXCHG, 1, 2, 0),
             LDX(BPF_DW, 3, 1, 0), JMP_IMM(BPF_JNE, 3, 0x77, 1), ALU64_IMM(BPF_ADD, 0, 0x1000),
             EXIT()))
VM_CASE(atomic64_cmpxchg_failure, A8, .expect = 0x10, EXPECT_MEM(0x10, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(0, 0x11), MOV64_IMM(2, 0x77), ATOMIC(BPF_DW, BPF_CMPXCHG, 1, 2, 0), EXIT()))
VM_CASE(atomic32_cmpxchg_compares_low_bits, A8, .expect = 0x10,
        EXPECT_MEM(0x77, 0, 0, 0, 0, 0, 0, 0),
        CODE(LDDW(0, 0xffffffff00000010ULL), MOV64_IMM(2, 0x77),
             ATOMIC(BPF_W, BPF_CMPXCHG, 1, 2, 0), EXIT()))
VM_CASE(atomic32_cmpxchg_failure, A8, .expect = 0x10, EXPECT_MEM(0x10, 0, 0, 0, 0, 0, 0, 0),
        CODE(MOV64_IMM(0, 0x12), MOV64_IMM(2, 0x77), ATOMIC(BPF_W, BPF_CMPXCHG, 1, 2, 0), EXIT()))
VM_CASE(atomic_on_stack, .expect = 12,
        CODE(ST_IMM(BPF_DW, 10, -8, 5), MOV64_IMM(1, 7), ATOMIC(BPF_DW, BPF_ADD, 10, 1, -8),
             LDX(BPF_DW, 0, 10, -8), EXIT()))

/* ---- helper calls ---- */
VM_CASE(call_helper_args, .expect = 1 + 2 + 3 + 4 + 5,
        CODE(MOV64_IMM(1, 1), MOV64_IMM(2, 2), MOV64_IMM(3, 3), MOV64_IMM(4, 4), MOV64_IMM(5, 5),
             CALL_HELPER(CASE_HELPER_SUM5), EXIT()))
VM_CASE(call_helper_return, .expect = 0xfeedf00dcafebeefULL,
        CODE(CALL_HELPER(CASE_HELPER_CONST), EXIT()))
VM_CASE(call_helper_preserves_r6_r9, .expect = 6 + 7 + 8 + 9,
        CODE(MOV64_IMM(6, 6), MOV64_IMM(7, 7), MOV64_IMM(8, 8), MOV64_IMM(9, 9),
             CALL_HELPER(CASE_HELPER_CONST), MOV64_REG(0, 6), ALU64_REG(BPF_ADD, 0, 7),
             ALU64_REG(BPF_ADD, 0, 8), ALU64_REG(BPF_ADD, 0, 9), EXIT()))

/* ---- callx: call the helper whose id a register holds ----
 * The encoding and meaning of the public conformance suites (0x8d, the
 * register in dst, src/off/imm zero; the value is a helper id, as `call`'s
 * imm). A value naming no registered helper (out of range, unregistered, the
 * tail-call id, any upper bit set) runs nothing: r0 = -ENOENT and execution
 * goes on, in both engines. */
#define ENOENT_R0 ((uint64_t)(int64_t)-ENOENT)
VM_CASE(callx_helper_by_register, .expect = 1 + 2 + 3 + 4 + 5,
        CODE(MOV64_IMM(1, 1), MOV64_IMM(2, 2), MOV64_IMM(3, 3), MOV64_IMM(4, 4), MOV64_IMM(5, 5),
             MOV64_IMM(9, CASE_HELPER_SUM5), CALLX(9), EXIT()))
/* the id register is also the first argument: read before the call */
VM_CASE(callx_id_in_argument_register, .expect = CASE_HELPER_SUM5 + 2 + 3 + 4 + 5,
        CODE(MOV64_IMM(1, CASE_HELPER_SUM5), MOV64_IMM(2, 2), MOV64_IMM(3, 3), MOV64_IMM(4, 4),
             MOV64_IMM(5, 5), CALLX(1), EXIT()))
VM_CASE(callx_id_in_r0, .expect = 0xfeedf00dcafebeefULL,
        CODE(MOV64_IMM(0, CASE_HELPER_CONST), CALLX(0), EXIT()))
VM_CASE(callx_preserves_r6_r9, .expect = 6 + 7 + 8 + CASE_HELPER_CONST,
        CODE(MOV64_IMM(6, 6), MOV64_IMM(7, 7), MOV64_IMM(8, 8), MOV64_IMM(9, CASE_HELPER_CONST),
             CALLX(9), MOV64_REG(0, 6), ALU64_REG(BPF_ADD, 0, 7), ALU64_REG(BPF_ADD, 0, 8),
             ALU64_REG(BPF_ADD, 0, 9), EXIT()))
/* the suites' shape: an id nothing registered, then r0 is overwritten */
VM_CASE(callx_unregistered_then_continue, .expect = 2,
        CODE(MOV64_IMM(1, -1), MOV64_IMM(2, 5), CALLX(2), MOV64_IMM(0, 2), EXIT()))
VM_CASE(callx_unregistered_id_is_enoent, .expect = ENOENT_R0,
        CODE(MOV64_IMM(2, 5), CALLX(2), EXIT()))
VM_CASE(callx_last_helper_id_unregistered, .expect = ENOENT_R0,
        CODE(MOV64_IMM(2, EBPF_MAX_HELPERS - 1), CALLX(2), EXIT()))
VM_CASE(callx_first_id_out_of_range, .expect = ENOENT_R0,
        CODE(MOV64_IMM(2, EBPF_MAX_HELPERS), CALLX(2), EXIT()))
VM_CASE(callx_upper_bits_are_not_ignored, .expect = ENOENT_R0,
        CODE(LDDW(2, 0x100000000ULL | CASE_HELPER_CONST), CALLX(2), EXIT()))
VM_CASE(callx_negative_id, .expect = ENOENT_R0, CODE(MOV64_IMM(2, -1), CALLX(2), EXIT()))
/* bpf_tail_call is only reached by `call 12` */
VM_CASE(callx_tail_call_id_is_enoent, .expect = ENOENT_R0,
        CODE(MOV64_IMM(2, EBPF_HELPER_TAIL_CALL), CALLX(2), EXIT()))
VM_CASE(callx_in_subprogram, .expect = 0xfeedf00dcafebeefULL,
        CODE(CALL_LOCAL(1), EXIT(), MOV64_IMM(3, CASE_HELPER_CONST), CALLX(3), EXIT()))
VM_CASE(callx_reserved_src_refused, .load_err = -EINVAL, .err = "callx",
        CODE(MOV64_IMM(2, 1), RAW(BPF_JMP | BPF_CALL | BPF_X, 2, 1, 0, 0), EXIT()))
VM_CASE(callx_reserved_imm_refused, .load_err = -EINVAL, .err = "callx",
        CODE(MOV64_IMM(2, 1), RAW(BPF_JMP | BPF_CALL | BPF_X, 2, 0, 0, 2), EXIT()))
VM_CASE(callx_reserved_off_refused, .load_err = -EINVAL, .err = "callx",
        CODE(MOV64_IMM(2, 1), RAW(BPF_JMP | BPF_CALL | BPF_X, 2, 0, 1, 0), EXIT()))
VM_CASE(callx_jmp32_is_unknown, .load_err = -EINVAL, .err = "unknown opcode 0x8e",
        CODE(MOV64_IMM(2, 1), RAW(BPF_JMP32 | BPF_CALL | BPF_X, 2, 0, 0, 0), EXIT()))

/* ---- bpf-to-bpf calls ---- */
VM_CASE(local_call_returns_value, .expect = 42,
        CODE(CALL_LOCAL(1), EXIT(), MOV64_IMM(0, 42), EXIT()))
VM_CASE(local_call_passes_args, .expect = 30,
        CODE(MOV64_IMM(1, 10), MOV64_IMM(2, 20), CALL_LOCAL(1), EXIT(), MOV64_REG(0, 1),
             ALU64_REG(BPF_ADD, 0, 2), EXIT()))
/* the callee clobbers r6-r9; the caller sees its own values again */
VM_CASE(local_call_preserves_r6_r9, .expect = 6 + 7 + 8 + 9,
        CODE(MOV64_IMM(6, 6), MOV64_IMM(7, 7), MOV64_IMM(8, 8), MOV64_IMM(9, 9), CALL_LOCAL(5),
             MOV64_REG(0, 6), ALU64_REG(BPF_ADD, 0, 7), ALU64_REG(BPF_ADD, 0, 8),
             ALU64_REG(BPF_ADD, 0, 9), EXIT(), MOV64_IMM(6, 100), MOV64_IMM(7, 100),
             MOV64_IMM(8, 100), MOV64_IMM(9, 100), EXIT()))
/* the callee's r10-8 is a different slot from the caller's */
VM_CASE(local_call_separate_stack, .expect = 0x1111 + 0x2222,
        CODE(ST_IMM(BPF_DW, 10, -8, 0x1111), CALL_LOCAL(3), LDX(BPF_DW, 1, 10, -8),
             ALU64_REG(BPF_ADD, 0, 1), EXIT(), ST_IMM(BPF_DW, 10, -8, 0x2222),
             LDX(BPF_DW, 0, 10, -8), EXIT()))
/* a pointer to the caller's frame stays usable in the callee */
VM_CASE(local_call_reads_caller_stack, .expect = 0x3333,
        CODE(ST_IMM(BPF_DW, 10, -8, 0x3333), MOV64_REG(1, 10), ALU64_IMM(BPF_ADD, 1, -8),
             CALL_LOCAL(1), EXIT(), LDX(BPF_DW, 0, 1, 0), EXIT()))
VM_CASE(local_call_nested, .expect = 3,
        CODE(MOV64_IMM(0, 0), CALL_LOCAL(1), EXIT(), ALU64_IMM(BPF_ADD, 0, 1), CALL_LOCAL(1),
             EXIT(), ALU64_IMM(BPF_ADD, 0, 2), EXIT()))
/* 7 nested calls = 8 frames: the limit, still allowed */
VM_CASE(local_call_depth_8_allowed, .expect = 6,
        CODE(MOV64_IMM(0, 0), MOV64_IMM(6, 6), CALL_LOCAL(1), EXIT(),
             /* f: if r6 == 0 return; r6--; r0++; call f */
             JMP_IMM(BPF_JEQ, 6, 0, 3), ALU64_IMM(BPF_SUB, 6, 1), ALU64_IMM(BPF_ADD, 0, 1),
             CALL_LOCAL(-4), EXIT()))
/* 8 nested calls = 9 frames: error at the call, never a crash */
VM_CASE(local_call_depth_9_fails, .exec_err = -E2BIG, .err = "at instruction 7",
        CODE(MOV64_IMM(0, 0), MOV64_IMM(6, 7), CALL_LOCAL(1), EXIT(), JMP_IMM(BPF_JEQ, 6, 0, 3),
             ALU64_IMM(BPF_SUB, 6, 1), ALU64_IMM(BPF_ADD, 0, 1), CALL_LOCAL(-4), EXIT()))
VM_CASE(local_call_infinite_recursion_fails, .exec_err = -E2BIG, .err = "call depth limit",
        CODE(CALL_LOCAL(1), EXIT(), CALL_LOCAL(-1), EXIT()))
VM_CASE(local_call_stack_per_frame_512, .expect = 0x5a,
        /* the callee writes at its r10-512 (its bottom); the caller's r10-1 intact */
        CODE(ST_IMM(BPF_B, 10, -1, 0x5a), CALL_LOCAL(2), LDX(BPF_B, 0, 10, -1), EXIT(),
             ST_IMM(BPF_DW, 10, -512, -1), ST_IMM(BPF_DW, 10, -8, -1), EXIT()))

/* A real program: clang-19 -target bpf -mcpu=v4 -O2 (ISA v4 output: sdiv,
 * smod folded into mul, bswap32, ldsx, atomic add, bpf-to-bpf calls with
 * recursion), from this C source:
 *
 *   typedef unsigned long long u64; typedef long long s64; typedef unsigned int u32; typedef signed char s8; typedef short s16;
 *   static s64 sub(s64 a, s64 b);
 *   static u64 fact(u64 n);
 *   u64 entry(unsigned char *ctx, u64 len) {
 *       volatile s8 c = (s8)ctx[0];
 *       volatile s16 h = *(s16 *)(ctx + 2);
 *       u64 acc = 0;
 *       for (u64 i = 0; i < len; i++) acc = acc * 31 + ctx[i];
 *       s64 q = sub(-(s64)acc, 7);
 *       u32 sw = __builtin_bswap32((u32)acc);
 *       __sync_fetch_and_add((u64 *)(ctx + 8), 5);
 *       return acc ^ (u64)q ^ sw ^ (u64)(s64)c ^ (u64)(s64)h ^ fact(6);
 *   }
 *   static __attribute__((noinline)) s64 sub(s64 a, s64 b) { return a / b + a % b; }
 *   static __attribute__((noinline)) u64 fact(u64 n) { return n <= 1 ? 1 : n * fact(n - 1); }
 *
 * Expected values computed by the same C compiled natively. */
static const uint8_t clang_v4_prog[] = {
    0xbf, 0x16, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x71, 0x61, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x73, 0x1a, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x69, 0x61, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x1a, 0xfc, 0xff, 0x00, 0x00, 0x00, 0x00, 0xb7, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x15, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb7, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xbf, 0x63, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x71, 0x33, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x27, 0x08, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00,
    0x0f, 0x38, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0xad, 0x21, 0xf9, 0xff, 0x00, 0x00, 0x00, 0x00, 0xbf, 0x81, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x87, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x85, 0x10, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
    0xbf, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb7, 0x01, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
    0xdb, 0x16, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0xbf, 0x81, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xd7, 0x01, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0xaf, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x91, 0xa1, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xaf, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x89, 0xa1, 0xfc, 0xff, 0x00, 0x00, 0x00, 0x00, 0xaf, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xb7, 0x01, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x85, 0x10, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00,
    0xaf, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xaf, 0x87, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xbf, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xbf, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x37, 0x00, 0x01, 0x00, 0x07, 0x00, 0x00, 0x00,
    0x27, 0x00, 0x00, 0x00, 0xfa, 0xff, 0xff, 0xff, 0x0f, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb7, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0xa5, 0x01, 0x07, 0x00, 0x02, 0x00, 0x00, 0x00, 0xb7, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0xbf, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xbf, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x2f, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
    0xbf, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x25, 0x03, 0xfa, 0xff, 0x02, 0x00, 0x00, 0x00,
    0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

TEST(clang_v4_program_interpreter_and_jit)
{
    struct ebpf_vm *vm = case_vm();
    CHECK_EQ(ebpf_vm_load(vm, clang_v4_prog, sizeof clang_v4_prog), 0);
    _Alignas(8) uint8_t m[32], want[32];
    for (int i = 0; i < 32; i++)
        m[i] = want[i] = (uint8_t)(i * 37 + 0x85);
    uint64_t v;
    memcpy(&v, want + 8, 8);
    v += 5;
    memcpy(want + 8, &v, 8);
    uint64_t r = 0;
    CHECK_EQ(ebpf_vm_exec(vm, m, sizeof m, &r), 0);
    CHECK_EQ(r, 0xe93e725e3bf6cf6eULL);
    CHECK(memcmp(m, want, sizeof m) == 0);
    ebpf_jit_fn fn;
    int have = case_try_compile(t, vm, &fn);
    CHECK(have >= 0);
    if (have) {
        for (int i = 0; i < 32; i++)
            m[i] = (uint8_t)(i * 37 + 0x85);
        CHECK_EQ(fn(m, sizeof m), 0xe93e725e3bf6cf6eULL);
        CHECK(memcmp(m, want, sizeof m) == 0);
    }
    ebpf_vm_destroy(vm);
}
