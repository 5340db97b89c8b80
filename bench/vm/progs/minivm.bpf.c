/* A tiny interpreter: a classic-BPF-like accumulator machine (A, X, 16
 * instructions of {op, k}, forward jumps only) written in eBPF, running a
 * small filter over every 64-byte block of the buffer. The filter's code is
 * the buffer's first 128 bytes (written by prepare_minivm below), as a
 * program would find it in a map value. */
#include "bench_prog.h"

enum {
    MV_LDB,  /* A = block[k] */
    MV_LDW,  /* A = 32-bit word at block[k & ~3] */
    MV_LDX,  /* X = block[k] */
    MV_ADDK, /* A += k */
    MV_ADDX, /* A += X */
    MV_XORX, /* A ^= X */
    MV_ANDK, /* A &= k */
    MV_SHRK, /* A >>= k */
    MV_MULK, /* A *= k */
    MV_JEQ,  /* if (A == (k & 0xff)) skip (k >> 8) instructions */
    MV_JGT,  /* if (A > (k & 0xff)) skip (k >> 8) instructions */
    MV_TAX,  /* X = A */
    MV_RET,  /* return A */
};

struct minivm_insn {
    u32 op;
    u32 k;
};

PROG(minivm)
{
    if (len < 128 + 64)
        return 0;
    const struct minivm_insn *code = (const struct minivm_insn *)mem; /* the filter */

    u64 acc = 0;
    for (u64 off = 128; off + 64 <= len; off += 64) {
        const u8 *blk = mem + off;
        u32 a = 0, x = 0;
        for (u32 pc = 0; pc < 16; pc++) {
            u32 k = code[pc].k;
            switch (code[pc].op) {
            case MV_LDB: a = blk[k & 63]; break;
            case MV_LDW: a = load32(blk + (k & 60)); break;
            case MV_LDX: x = blk[k & 63]; break;
            case MV_ADDK: a += k; break;
            case MV_ADDX: a += x; break;
            case MV_XORX: a ^= x; break;
            case MV_ANDK: a &= k; break;
            case MV_SHRK: a >>= k & 31; break;
            case MV_MULK: a *= k; break;
            case MV_JEQ:
                if (a == (k & 0xff))
                    pc += k >> 8;
                break;
            case MV_JGT:
                if (a > (k & 0xff))
                    pc += k >> 8;
                break;
            case MV_TAX: x = a; break;
            default: /* MV_RET */ pc = 16; break;
            }
        }
        acc = acc * 31 + a;
    }
    return acc;
}

#ifndef __bpf__
static void prepare_minivm(u8 *buf, u64 len)
{
    static const struct minivm_insn filter[16] = {
        {MV_LDB, 12},
        {MV_JEQ, (2 << 8) | 'a'},
        {MV_LDW, 20},
        {MV_ANDK, 0xff00ff},
        {MV_LDX, 23},
        {MV_ADDX, 0},
        {MV_TAX, 0},
        {MV_LDB, 9},
        {MV_JGT, (3 << 8) | 'c'},
        {MV_MULK, 2654435761u},
        {MV_SHRK, 7},
        {MV_XORX, 0},
        {MV_ADDK, 0x9e37},
        {MV_XORX, 0},
        {MV_RET, 0},
        {MV_RET, 0},
    };
    if (len >= sizeof filter)
        memcpy(buf, filter, sizeof filter);
}
#endif
