/* Instruction builders for VM tests (interpreter and JIT), RFC 9669 encoding.
 *
 * Each macro is one `struct ebpf_inst` initializer (LDDW is two), so a
 * program is written as an array initializer:
 *
 *     static const struct ebpf_inst prog[] = {
 *         MOV64_IMM(0, 1), ALU64_IMM(BPF_ADD, 0, 2), EXIT(),
 *     };
 *
 * Registers are plain numbers 0..10. Opcode constants use the kernel uapi
 * names and values; they are only defined when <linux/bpf.h> has not. */
#ifndef BPFTIME_VM_TESTS_INSN_MACROS_H
#define BPFTIME_VM_TESTS_INSN_MACROS_H

#include "vm/vm_internal.h"

#ifndef BPF_ALU64
/* classes */
#define BPF_LD 0x00
#define BPF_LDX 0x01
#define BPF_ST 0x02
#define BPF_STX 0x03
#define BPF_ALU 0x04
#define BPF_JMP 0x05
#define BPF_JMP32 0x06
#define BPF_ALU64 0x07
/* source */
#define BPF_K 0x00
#define BPF_X 0x08
/* ALU operations */
#define BPF_ADD 0x00
#define BPF_SUB 0x10
#define BPF_MUL 0x20
#define BPF_DIV 0x30
#define BPF_OR 0x40
#define BPF_AND 0x50
#define BPF_LSH 0x60
#define BPF_RSH 0x70
#define BPF_NEG 0x80
#define BPF_MOD 0x90
#define BPF_XOR 0xa0
#define BPF_MOV 0xb0
#define BPF_ARSH 0xc0
#define BPF_END 0xd0
#define BPF_TO_LE 0x00
#define BPF_TO_BE 0x08
/* jumps */
#define BPF_JA 0x00
#define BPF_JEQ 0x10
#define BPF_JGT 0x20
#define BPF_JGE 0x30
#define BPF_JSET 0x40
#define BPF_JNE 0x50
#define BPF_JSGT 0x60
#define BPF_JSGE 0x70
#define BPF_CALL 0x80
#define BPF_EXIT 0x90
#define BPF_JLT 0xa0
#define BPF_JLE 0xb0
#define BPF_JSLT 0xc0
#define BPF_JSLE 0xd0
/* sizes and modes */
#define BPF_W 0x00
#define BPF_H 0x08
#define BPF_B 0x10
#define BPF_DW 0x18
#define BPF_IMM 0x00
#define BPF_MEM 0x60
#define BPF_MEMSX 0x80
#define BPF_ATOMIC 0xc0
/* atomic operations (imm) */
#define BPF_FETCH 0x01
#define BPF_XCHG (0xe0 | BPF_FETCH)
#define BPF_CMPXCHG (0xf0 | BPF_FETCH)
#endif

#define INSN(op_, dst_, src_, off_, imm_) \
    { \
        .opcode = (uint8_t)(op_), .dst = (dst_), .src = (src_), .off = (int16_t)(off_), \
        .imm = (int32_t)(imm_) \
    }

/* ALU: OP is BPF_ADD, BPF_SUB, ... */
#define ALU64_IMM(OP, d, imm) INSN(BPF_ALU64 | (OP) | BPF_K, d, 0, 0, imm)
#define ALU64_REG(OP, d, s) INSN(BPF_ALU64 | (OP) | BPF_X, d, s, 0, 0)
#define ALU32_IMM(OP, d, imm) INSN(BPF_ALU | (OP) | BPF_K, d, 0, 0, imm)
#define ALU32_REG(OP, d, s) INSN(BPF_ALU | (OP) | BPF_X, d, s, 0, 0)
/* signed division / modulo (off = 1) */
#define SALU64_IMM(OP, d, imm) INSN(BPF_ALU64 | (OP) | BPF_K, d, 0, 1, imm)
#define SALU64_REG(OP, d, s) INSN(BPF_ALU64 | (OP) | BPF_X, d, s, 1, 0)
#define SALU32_IMM(OP, d, imm) INSN(BPF_ALU | (OP) | BPF_K, d, 0, 1, imm)
#define SALU32_REG(OP, d, s) INSN(BPF_ALU | (OP) | BPF_X, d, s, 1, 0)
#define MOV64_IMM(d, imm) ALU64_IMM(BPF_MOV, d, imm)
#define MOV64_REG(d, s) ALU64_REG(BPF_MOV, d, s)
#define MOV32_IMM(d, imm) ALU32_IMM(BPF_MOV, d, imm)
#define MOV32_REG(d, s) ALU32_REG(BPF_MOV, d, s)
/* movsx: BITS is 8, 16 or 32 (32 only for 64-bit) */
#define MOVSX64_REG(d, s, BITS) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, BITS, 0)
#define MOVSX32_REG(d, s, BITS) INSN(BPF_ALU | BPF_MOV | BPF_X, d, s, BITS, 0)
#define NEG64(d) INSN(BPF_ALU64 | BPF_NEG | BPF_K, d, 0, 0, 0)
#define NEG32(d) INSN(BPF_ALU | BPF_NEG | BPF_K, d, 0, 0, 0)
/* byte order: BITS is 16, 32 or 64 */
#define LE(d, BITS) INSN(BPF_ALU | BPF_END | BPF_TO_LE, d, 0, 0, BITS)
#define BE(d, BITS) INSN(BPF_ALU | BPF_END | BPF_TO_BE, d, 0, 0, BITS)
#define BSWAP(d, BITS) INSN(BPF_ALU64 | BPF_END | BPF_TO_LE, d, 0, 0, BITS)

/* 64-bit immediate: two instructions */
#define LDDW(d, imm64) \
    INSN(BPF_LD | BPF_DW | BPF_IMM, d, 0, 0, (uint32_t)(uint64_t)(imm64)), \
        INSN(0, 0, 0, 0, (uint32_t)((uint64_t)(imm64) >> 32))
/* lddw with a pseudo source (map fd, map value, ...), resolved at load */
#define LDDW_PSEUDO(d, src, imm, next_imm) \
    INSN(BPF_LD | BPF_DW | BPF_IMM, d, src, 0, imm), INSN(0, 0, 0, 0, next_imm)

/* memory: SIZE is BPF_W, BPF_H, BPF_B, BPF_DW */
#define LDX(SIZE, d, s, off) INSN(BPF_LDX | BPF_MEM | (SIZE), d, s, off, 0)
#define LDXSX(SIZE, d, s, off) INSN(BPF_LDX | BPF_MEMSX | (SIZE), d, s, off, 0)
#define ST_IMM(SIZE, d, off, imm) INSN(BPF_ST | BPF_MEM | (SIZE), d, 0, off, imm)
#define STX(SIZE, d, s, off) INSN(BPF_STX | BPF_MEM | (SIZE), d, s, off, 0)
/* atomics: SIZE is BPF_W or BPF_DW; AOP is BPF_ADD, BPF_OR, BPF_AND,
 * BPF_XOR (optionally | BPF_FETCH), BPF_XCHG or BPF_CMPXCHG */
#define ATOMIC(SIZE, AOP, d, s, off) INSN(BPF_STX | BPF_ATOMIC | (SIZE), d, s, off, AOP)

/* jumps: off counts instructions after the jump */
#define JA(off) INSN(BPF_JMP | BPF_JA, 0, 0, off, 0)
#define JA32(imm) INSN(BPF_JMP32 | BPF_JA, 0, 0, 0, imm)
#define JMP_IMM(OP, d, imm, off) INSN(BPF_JMP | (OP) | BPF_K, d, 0, off, imm)
#define JMP_REG(OP, d, s, off) INSN(BPF_JMP | (OP) | BPF_X, d, s, off, 0)
#define JMP32_IMM(OP, d, imm, off) INSN(BPF_JMP32 | (OP) | BPF_K, d, 0, off, imm)
#define JMP32_REG(OP, d, s, off) INSN(BPF_JMP32 | (OP) | BPF_X, d, s, off, 0)
#define CALL_HELPER(id) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, id)
/* bpf-to-bpf call: target = this index + 1 + rel */
#define CALL_LOCAL(rel) INSN(BPF_JMP | BPF_CALL, 0, 1, 0, rel)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
/* callx: call the helper whose id register d holds (0x8d, the register in dst) */
#define CALLX(d) INSN(BPF_JMP | BPF_CALL | BPF_X, d, 0, 0, 0)

#define RAW(op, d, s, off, imm) INSN(op, d, s, off, imm)

#endif
