/* Targeted JIT tests, one per instruction class: every opcode with every
 * (dst, src) register pair and edge-case values, run on the interpreter and
 * the JIT, comparing all ten registers afterwards (so clobbering a register
 * the instruction should not touch — rax/rdx around div, rcx around shifts,
 * the scratch registers of atomics — is caught too). A few tests check
 * values against the RFC directly, independent of the interpreter. */
#include <stdarg.h>
#include <time.h>

#include "vm/tests/test_jit_util.h"

/* Every block: set r0-r9, run the instruction(s) under test, store r0-r9 and
 * a flag slot into the next 88-byte record of mem. [r10-8] holds the record
 * cursor, [r10-16] the data area the memory tests use. */
#define REC 88
#define DATA_LEN 1024
#define SLOT(k) ((int16_t)(-8 * ((k) + 3)))
#define FLAG 10

static const uint64_t V[] = {
    0,
    1,
    2,
    3,
    (uint64_t)-1,
    (uint64_t)-2,
    7,
    31,
    32,
    33,
    63,
    64,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    0x100000000ULL,
    0x8000000000000000ULL,
    0x7fffffffffffffffULL,
    0x8000000000000001ULL,
    0x123456789abcdef0ULL,
    0xfedcba9876543210ULL,
    0xdeadbeef,
    0xffff,
    0x8000,
    0x80,
    255,
    0xffffffff80000000ULL,
    0x00000000fffffffeULL,
    10,
    (uint64_t)-10,
};
#define NV (sizeof V / sizeof V[0])
static const int32_t IMMS[] = {0,       1,        -1,      2,   3,     7,  8,          16,
                               31,      32,       33,      63,  64,    -7, 0x7fffffff, INT32_MIN,
                               0x12345, -0x12345, 1 << 30, 255, 65535, 10, -10,        100};
#define NI (sizeof IMMS / sizeof IMMS[0])

struct blocks {
    struct prog p;
    uint32_t count;
    char (*desc)[96];
    uint32_t cap;
};

static void blk_begin(struct blocks *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void blk_begin(struct blocks *b, const char *fmt, ...)
{
    if (b->count == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->desc = realloc(b->desc, b->cap * sizeof *b->desc);
        if (!b->desc)
            abort();
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->desc[b->count], sizeof b->desc[0], fmt, ap);
    va_end(ap);
    struct prog *p = &b->p;
    for (int k = 0; k < 10; k++)
        prog_lddw(p, (uint8_t)k,
                  0x0101010101010101ULL * (uint64_t)(k + 1) ^ (b->count * 0x9e37ULL));
    prog_emit(p, 0x7a, 10, 0, SLOT(FLAG), 0); /* flag = 0 */
}

static void blk_end(struct blocks *b)
{
    struct prog *p = &b->p;
    for (int k = 0; k < 10; k++)
        prog_emit(p, 0x7b, 10, (uint8_t)k, SLOT(k), 0);
    prog_emit(p, 0x79, 1, 10, -8, 0);
    for (int k = 0; k <= FLAG; k++) {
        prog_emit(p, 0x79, 2, 10, SLOT(k), 0);
        prog_emit(p, 0x7b, 1, 2, (int16_t)(8 * k), 0);
    }
    prog_emit(p, 0x07, 1, 0, 0, REC);
    prog_emit(p, 0x7b, 10, 1, -8, 0);
    b->count++;
}

static void blk_start_prog(struct blocks *b)
{
    memset(b, 0, sizeof *b);
    /* r1 = mem: data area first, records after it */
    prog_emit(&b->p, 0x7b, 10, 1, -16, 0);
    prog_emit(&b->p, 0x07, 1, 0, 0, DATA_LEN);
    prog_emit(&b->p, 0x7b, 10, 1, -8, 0);
}

/* Loads the data-area pointer + 256 into register r. */
static void blk_data_ptr(struct blocks *b, uint8_t r)
{
    prog_emit(&b->p, 0x79, r, 10, -16, 0);
    prog_emit(&b->p, 0x07, r, 0, 0, 256);
}

/* Runs the blocks on both engines and compares every record. */
static void blk_check(struct test_ctx *t, struct blocks *b, unsigned opts)
{
    prog_emit(&b->p, 0xb7, 0, 0, 0, 0);
    prog_emit(&b->p, 0x95, 0, 0, 0, 0);
    size_t len = DATA_LEN + (size_t)b->count * REC;
    uint8_t *mi = calloc(1, len), *mj = calloc(1, len);
    CHECK(mi && mj);
    for (size_t i = 0; i < DATA_LEN; i++)
        mi[i] = mj[i] = (uint8_t)(i * 37 + 11);
    struct jt_result r;
    char err[256];
    if (jt_run_both(&b->p, opts, mi, mj, len, &r, err, sizeof err)) {
        test_fail(t, __FILE__, __LINE__, "%s", err);
        goto out;
    }
    long d = jt_first_diff(mi, mj, len);
    if (d >= 0) {
        uint64_t vi, vj;
        memcpy(&vi, mi + d, 8);
        memcpy(&vj, mj + d, 8);
        if (d < DATA_LEN)
            test_fail(t, __FILE__, __LINE__,
                      "data area differs at byte %ld: interp 0x%" PRIx64 " jit 0x%" PRIx64, d, vi,
                      vj);
        else {
            long rec = (d - DATA_LEN) / REC, k = ((d - DATA_LEN) % REC) / 8;
            test_fail(t, __FILE__, __LINE__,
                      "block %ld (%s): %s%ld interp 0x%" PRIx64 " jit 0x%" PRIx64 " (opts %u)", rec,
                      b->desc[rec], k == FLAG ? "flag" : "r", k == FLAG ? 0 : k, vi, vj, opts);
        }
    }
    CHECK_EQ(r.r_jit, r.r_interp);
out:
    free(mi);
    free(mj);
    prog_free(&b->p);
    free(b->desc);
}

/* interesting register pairs for the fully crossed value sets: generic,
 * rax/rdx (div), rcx (shifts), same register */
static const uint8_t HOT[][2] = {{1, 2}, {0, 3}, {3, 0}, {4, 1}, {1, 4},
                                 {4, 4}, {0, 0}, {3, 3}, {6, 9}};

static void alu_blocks(struct blocks *b, uint8_t opcode, int16_t off)
{
    bool x = opcode & 0x08;
    for (uint8_t d = 0; d < 10; d++) {
        for (uint8_t s = 0; s < 10; s++) {
            if (!x && s > 0)
                break;
            for (unsigned c = 0; c < 6; c++) {
                unsigned pi = d * 10u + s;
                uint64_t a = V[(pi * 7 + c * 3) % NV], v = V[(pi * 5 + c * 11 + 1) % NV];
                int32_t imm = IMMS[(pi + c * 5) % NI];
                blk_begin(b, "op 0x%02x off %d r%u r%u a=0x%" PRIx64 " b=0x%" PRIx64 " imm=%d",
                          opcode, off, d, s, a, v, imm);
                if (x)
                    prog_lddw(&b->p, s, v);
                prog_lddw(&b->p, d, a);
                prog_emit(&b->p, opcode, d, x ? s : 0, off, x ? 0 : imm);
                blk_end(b);
            }
        }
    }
    for (size_t h = 0; h < sizeof HOT / sizeof HOT[0]; h++) {
        uint8_t d = HOT[h][0], s = HOT[h][1];
        for (size_t ia = 0; ia < NV; ia++) {
            size_t nb = x ? NV : NI;
            for (size_t ib = 0; ib < nb; ib++) {
                uint64_t a = V[ia], v = x ? V[ib] : 0;
                int32_t imm = x ? 0 : IMMS[ib];
                blk_begin(b, "op 0x%02x off %d r%u r%u a=0x%" PRIx64 " b=0x%" PRIx64 " imm=%d",
                          opcode, off, d, s, a, v, imm);
                if (x)
                    prog_lddw(&b->p, s, v);
                prog_lddw(&b->p, d, a);
                prog_emit(&b->p, opcode, d, x ? s : 0, off, x ? 0 : imm);
                blk_end(b);
            }
            if (!x && h > 0)
                break; /* immediates: one register is enough beyond the first pair */
        }
    }
}

static void check_alu(struct test_ctx *t, uint8_t opcode, int16_t off, unsigned opts)
{
    struct blocks b;
    blk_start_prog(&b);
    alu_blocks(&b, opcode, off);
    blk_check(t, &b, opts);
}

static const uint8_t ALU_OPS[] = {0x00, 0x10, 0x20, 0x30, 0x40, 0x50,
                                  0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0};

#define ALU_TEST(name, cls, src) \
    TEST(name) \
    { \
        for (size_t i = 0; i < sizeof ALU_OPS && !test_failed(t); i++) \
            check_alu(t, (uint8_t)(ALU_OPS[i] | (cls) | (src)), 0, 0); \
    }
ALU_TEST(jit_alu64_reg, 0x07, 0x08)
ALU_TEST(jit_alu64_imm, 0x07, 0x00)
ALU_TEST(jit_alu32_reg, 0x04, 0x08)
ALU_TEST(jit_alu32_imm, 0x04, 0x00)

TEST(jit_neg)
{
    check_alu(t, 0x87, 0, 0);
    if (!test_failed(t))
        check_alu(t, 0x84, 0, 0);
}

TEST(jit_sdiv_smod)
{
    static const uint8_t ops[] = {0x3f, 0x37, 0x9f, 0x97, 0x3c, 0x34, 0x9c, 0x94};
    for (size_t i = 0; i < sizeof ops && !test_failed(t); i++)
        check_alu(t, ops[i], 1, 0);
}

TEST(jit_movsx)
{
    check_alu(t, 0xbf, 8, 0);
    if (!test_failed(t))
        check_alu(t, 0xbf, 16, 0);
    if (!test_failed(t))
        check_alu(t, 0xbf, 32, 0);
    if (!test_failed(t))
        check_alu(t, 0xbc, 8, 0);
    if (!test_failed(t))
        check_alu(t, 0xbc, 16, 0);
}

TEST(jit_shifts_without_bmi2)
{
    static const uint8_t ops[] = {0x6f, 0x7f, 0xcf, 0x6c, 0x7c, 0xcc};
    for (size_t i = 0; i < sizeof ops && !test_failed(t); i++)
        check_alu(t, ops[i], 0, EBPF_JIT_NO_BMI2);
}

TEST(jit_byte_swap)
{
    struct blocks b;
    blk_start_prog(&b);
    static const uint8_t ops[] = {0xd4, 0xdc, 0xd7};
    static const int32_t widths[] = {16, 32, 64};
    for (size_t o = 0; o < 3; o++)
        for (size_t w = 0; w < 3; w++)
            for (uint8_t d = 0; d < 10; d++)
                for (size_t ia = 0; ia < NV; ia += 3) {
                    blk_begin(&b, "op 0x%02x imm %d r%u a=0x%" PRIx64, ops[o], widths[w], d,
                              V[(ia + d) % NV]);
                    prog_lddw(&b.p, d, V[(ia + d) % NV] ^ 0x0102030405060708ULL);
                    prog_emit(&b.p, ops[o], d, 0, 0, widths[w]);
                    blk_end(&b);
                }
    blk_check(t, &b, 0);
}

static const uint8_t CONDS[] = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0};

static void jmp_blocks(struct blocks *b, uint8_t cls)
{
    for (size_t ci = 0; ci < sizeof CONDS; ci++) {
        for (int x = 0; x <= 1; x++) {
            uint8_t op = (uint8_t)(CONDS[ci] | cls | (x ? 0x08 : 0));
            for (unsigned pi = 0; pi < 100; pi++) {
                uint8_t d = (uint8_t)(pi / 10), s = (uint8_t)(pi % 10);
                if (!x && s > 0)
                    continue;
                for (unsigned c = 0; c < (x ? 4u : 40u); c++) {
                    uint64_t a = V[(pi * 7 + c * 3) % NV], v = V[(pi * 5 + c * 11 + 1) % NV];
                    int32_t imm = IMMS[(pi + c * 5) % NI];
                    if (c % 5 == 0)
                        v = a; /* equal operands */
                    if (!x && c % 7 == 0)
                        a = (uint64_t)(int64_t)imm;
                    bool far = c % 3 == 2;
                    blk_begin(b, "op 0x%02x r%u r%u a=0x%" PRIx64 " b=0x%" PRIx64 " imm=%d%s", op,
                              d, s, a, v, imm, far ? " far" : "");
                    if (x)
                        prog_lddw(&b->p, s, v);
                    prog_lddw(&b->p, d, a);
                    int n = far ? 40 : 1;
                    prog_emit(&b->p, op, d, x ? s : 0, (int16_t)n, x ? 0 : imm);
                    for (int k = 0; k < n; k++)
                        prog_emit(&b->p, 0x7a, 10, 0, SLOT(FLAG), k + 1);
                    blk_end(b);
                }
            }
        }
    }
}

TEST(jit_jmp64)
{
    struct blocks b;
    blk_start_prog(&b);
    jmp_blocks(&b, 0x05);
    blk_check(t, &b, 0);
}

TEST(jit_jmp32)
{
    struct blocks b;
    blk_start_prog(&b);
    jmp_blocks(&b, 0x06);
    blk_check(t, &b, 0);
}

/* r0 of the program on the JIT (memory-less); frees it. A failure to
 * compile or run fails the test (and returns a value no check expects). */
static uint64_t jit_result(struct test_ctx *t, struct prog *p)
{
    uint64_t r = 0xbadbadbadULL;
    char err[256];
    int rc = jt_run_jit(p, 0, NULL, 0, &r, err, sizeof err);
    prog_free(p);
    if (rc)
        test_fail(t, __FILE__, __LINE__, "%s", err);
    return r;
}

/* If-conversion (`if cond goto +1; mov` -> cmp + cmov): every condition,
 * JMP and JMP32, register and immediate compares, each mov form (64/32-bit,
 * register/immediate, negative immediates) into a register whose upper half
 * is set (a taken jump must leave all 64 bits), movsx (not converted),
 * and the same shape where the mov is also a jump target (must stay a
 * branch: the mov runs whenever it is jumped to). */
static void select_blocks(struct blocks *b, uint8_t cls)
{
    static const uint8_t MOVS[] = {0xbf, 0xbc, 0xb7, 0xb4};
    static const int32_t MIMM[] = {5, -5, INT32_MIN, 0};
    for (size_t ci = 0; ci < sizeof CONDS; ci++) {
        for (int x = 0; x <= 1; x++) {
            uint8_t op = (uint8_t)(CONDS[ci] | cls | (x ? 0x08 : 0));
            for (unsigned c = 0; c < 40; c++) {
                uint8_t d = (uint8_t)(c % 10), s = (uint8_t)((c * 3 + 1) % 10);
                uint8_t md = (uint8_t)((c * 7 + 2) % 10), ms = (uint8_t)((c + 5) % 10);
                uint8_t mop = MOVS[c % 4];
                int16_t moff = (mop == 0xbf || mop == 0xbc) && c % 9 == 4 ? 8 : 0; /* movsx */
                int32_t mimm = MIMM[(c / 4) % 4];
                bool target = c % 5 == 3;
                uint64_t a = V[(c * 7 + ci) % NV], v = V[(c * 5 + ci * 3 + 1) % NV];
                int32_t imm = IMMS[(c + ci) % NI];
                if (c % 3 == 0)
                    v = a;
                if (!x && c % 4 == 1)
                    a = (uint64_t)(int64_t)imm;
                blk_begin(b,
                          "op 0x%02x r%u r%u a=0x%" PRIx64 " b=0x%" PRIx64
                          " imm=%d; mov 0x%02x off %d r%u r%u imm %d%s",
                          op, d, s, a, v, imm, mop, moff, md, ms, mimm, target ? " target" : "");
                prog_lddw(&b->p, md, 0xa5a5a5a5c3c3c3c3ULL); /* upper half must survive */
                prog_lddw(&b->p, ms, 0xfedcba9880000001ULL ^ c);
                if (x)
                    prog_lddw(&b->p, s, v);
                prog_lddw(&b->p, d, a);
                if (target) /* a second way into the mov */
                    prog_emit(&b->p, (uint8_t)(0x55 | cls), d, 0, 1, (int32_t)a);
                prog_emit(&b->p, op, d, x ? s : 0, 1, x ? 0 : imm);
                prog_emit(&b->p, mop, md, (mop & 0x08) ? ms : 0, moff, (mop & 0x08) ? 0 : mimm);
                blk_end(b);
            }
        }
    }
}

TEST(jit_select_cmov)
{
    for (uint8_t cls = 0x05; cls <= 0x06; cls++) {
        for (unsigned opts = 0; opts <= EBPF_JIT_NO_PEEPHOLE; opts += EBPF_JIT_NO_PEEPHOLE) {
            struct blocks b;
            blk_start_prog(&b);
            select_blocks(&b, cls);
            blk_check(t, &b, opts);
        }
    }
}

/* The RFC's answer, independent of the interpreter: when the jump is taken
 * the destination keeps all 64 bits; when it falls through, the 32-bit mov
 * writes the value zero-extended. */
TEST(jit_select_keeps_upper_half)
{
    for (int moves = 0; moves <= 1; moves++) {
        struct prog p = {0};
        prog_lddw(&p, 0, 0x1122334455667788ULL);
        prog_emit(&p, 0xb7, 2, 0, 0, moves ? 7 : 9);
        prog_emit(&p, 0x25, 2, 0, 1, 8);          /* if r2 > 8 goto +1 */
        prog_emit(&p, 0xb4, 0, 0, 0, 0x12345678); /* w0 = 0x12345678 */
        prog_emit(&p, 0x95, 0, 0, 0, 0);
        CHECK_EQ(jit_result(t, &p), moves ? 0x12345678ULL : 0x1122334455667788ULL);
    }
}

/* Runs the blocks `gen` writes with and without peepholes. */
static void check_gen(struct test_ctx *t, void (*gen)(struct blocks *))
{
    for (unsigned opts = 0; opts <= EBPF_JIT_NO_PEEPHOLE; opts += EBPF_JIT_NO_PEEPHOLE) {
        struct blocks b;
        blk_start_prog(&b);
        gen(&b);
        blk_check(t, &b, opts);
    }
}

/* Rotate fusion (`rT = rX; rT >>= W-b; rX <<= b; rX |= rT` -> rol): 64- and
 * 32-bit, both shift orders, every amount, with rT dead afterwards
 * (overwritten), live (read by the record), live on one side of a branch,
 * and shapes that are not rotates (amounts not summing to W, a 32-bit mov
 * feeding 64-bit shifts, the or the other way round). */
static void rotate_blocks(struct blocks *b)
{
    for (int w = 0; w <= 1; w++) {
        uint8_t lsh = w ? 0x67 : 0x64, rsh = w ? 0x77 : 0x74, orr = w ? 0x4f : 0x4c;
        int width = w ? 64 : 32;
        for (int left = 1; left < width; left++) {
            for (unsigned shape = 0; shape < 8; shape++) {
                uint8_t T = (uint8_t)((left + shape) % 10), X = (uint8_t)((left * 3 + 1) % 10);
                if (T == X)
                    X = (uint8_t)((X + 1) % 10);
                int rr = left, rl = width - left; /* shift amounts */
                if (shape == 5)
                    rl = (rl + 1) % width; /* not a rotate */
                uint8_t mov = shape == 6 ? 0xbc : w ? 0xbf : (left % 2 ? 0xbf : 0xbc);
                bool swap = shape % 2;
                blk_begin(b, "rotate w%d left %d shape %u T r%u X r%u", w, left, shape, T, X);
                prog_lddw(&b->p, X, 0x8123456789abcdefULL ^ ((uint64_t)left << 40));
                prog_emit(&b->p, mov, T, X, 0, 0);
                if (swap) {
                    prog_emit(&b->p, lsh, T, 0, 0, rr);
                    prog_emit(&b->p, rsh, X, 0, 0, rl);
                } else {
                    prog_emit(&b->p, rsh, T, 0, 0, rl);
                    prog_emit(&b->p, lsh, X, 0, 0, rr);
                }
                if (shape == 7)
                    prog_emit(&b->p, orr, T, X, 0, 0);
                else
                    prog_emit(&b->p, orr, X, T, 0, 0);
                if (shape == 2 || shape == 3) {
                    prog_emit(&b->p, 0xb7, T, 0, 0, 77); /* T dead */
                } else if (shape == 4) {                 /* T read on one side only */
                    prog_emit(&b->p, 0x55, X, 0, 2, 5);
                    prog_emit(&b->p, 0x07, T, 0, 0, 1);
                    prog_emit(&b->p, 0x05, 0, 0, 1, 0);
                    prog_emit(&b->p, 0xb7, T, 0, 0, 9);
                }
                blk_end(b);
            }
        }
    }
}

TEST(jit_rotate_fusion)
{
    check_gen(t, rotate_blocks);
}

/* The rotate's value from the RFC, independent of the interpreter, with the
 * temporary dead (the fused form computes only the rotate). */
TEST(jit_rotate_value)
{
    struct prog p = {0};
    prog_lddw(&p, 6, 0x8000000000000001ULL);
    prog_emit(&p, 0xbf, 1, 6, 0, 0);
    prog_emit(&p, 0x77, 1, 0, 0, 51);
    prog_emit(&p, 0x67, 6, 0, 0, 13);
    prog_emit(&p, 0x4f, 6, 1, 0, 0);
    prog_emit(&p, 0xb7, 1, 0, 0, 0);
    prog_emit(&p, 0xbf, 0, 6, 0, 0);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    CHECK_EQ(jit_result(t, &p), (1ULL << 12) | (1ULL << 13));
}

/* The rotate's temporary is r0 and stays live through a `ja` to the exit:
 * a jump writes no register, so the fused form must still compute it
 * (0x8000000000000001 >> 51 = 1 << 12). */
TEST(jit_rotate_temp_live_through_ja)
{
    struct prog p = {0};
    prog_lddw(&p, 6, 0x8000000000000001ULL);
    prog_emit(&p, 0xbf, 0, 6, 0, 0);
    prog_emit(&p, 0x77, 0, 0, 0, 51);
    prog_emit(&p, 0x67, 6, 0, 0, 13);
    prog_emit(&p, 0x4f, 6, 0, 0, 0);
    prog_emit(&p, 0x05, 0, 0, 0, 0); /* ja +0 */
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    CHECK_EQ(jit_result(t, &p), 1ULL << 12);
}

/* Address fusion `rA = rB; rA += imm; rA += rC [; rA = *(size *)(rA + off)]`
 * -> lea / one load from [B + C + imm + off]: every load size, registers
 * including r10 as the base, and the shapes that must not fuse (C == A, the
 * load into another register, a jump target inside). */
static void lea3_blocks(struct blocks *b)
{
    static const uint8_t LOADS[] = {0x71, 0x69, 0x61, 0x79, 0x91, 0x89, 0x81, 0};
    for (unsigned c = 0; c < 8 * 12; c++) {
        unsigned shape = c / 8;
        uint8_t ld = shape == 4 ? 0 : LOADS[c % 8]; /* shape 4: scalars, no load */
        bool stack = shape % 3 == 0;
        uint8_t A = (uint8_t)(shape % 10), B = stack ? 10 : (uint8_t)((shape + 3) % 10),
                C = (uint8_t)((shape * 7 + 5) % 10);
        if (C == B && !stack)
            C = (uint8_t)((C + 1) % 10);
        if (A == B)
            A = (uint8_t)((A + 2) % 10);
        if (shape == 4)
            C = A; /* rA += rA: not fused */
        if (C == B || (stack && C == 10))
            C = (uint8_t)((C + 4) % 10);
        int32_t imm = stack ? -64 : (int32_t)(shape * 3) - 16;
        int16_t off = (int16_t)((c % 5) * 2);
        blk_begin(b, "lea3 load 0x%02x shape %u A r%u B r%u C r%u imm %d off %d", ld, shape, A, B,
                  C, imm, off);
        if (shape == 4)
            prog_lddw(&b->p, B, 0x123456789ULL);
        else if (!stack)
            blk_data_ptr(b, B);
        else /* the bytes it reads: the register slots, which may hold pointers */
            for (int16_t o = -64; o < -24; o += 8)
                prog_emit(&b->p, 0x7a, 10, 0, o, (int32_t)(0x9e3779b9u * (uint32_t)(o + c)));
        prog_emit(&b->p, 0xb7, C, 0, 0, (int32_t)(c % 7) * 2);
        if (C == A)
            prog_emit(&b->p, 0xb7, C, 0, 0, stack ? -24 : 40);
        if (shape == 7) { /* the add is a jump target */
            prog_emit(&b->p, 0xbf, A, B, 0, 0);
            prog_emit(&b->p, 0x05, 0, 0, 1, 0);
        }
        prog_emit(&b->p, 0xbf, A, B, 0, 0);
        prog_emit(&b->p, 0x07, A, 0, 0, imm);
        prog_emit(&b->p, 0x0f, A, C, 0, 0);
        uint8_t D = A; /* shape 5: the load goes to another register */
        while (shape == 5 && (D == A || D == B || D == C))
            D = (uint8_t)((D + 1) % 10);
        if (ld)
            prog_emit(&b->p, ld, D, A, off, 0);
        if ((!ld || shape == 5) && shape != 4) /* no pointer in the record: an offset */
            prog_emit(&b->p, 0x1f, A, B, 0, 0);
        if (!stack && shape != 4)
            prog_emit(&b->p, 0xb7, B, 0, 0, 0);
        blk_end(b);
    }
}

TEST(jit_address_fusion)
{
    check_gen(t, lea3_blocks);
}

/* `rA = rB; rA &= 0xff/0xffff` -> movzx: both mov widths, both and widths,
 * every register pair (byte registers sil/dil/bpl need a REX prefix), other
 * masks (not fused), A == B, and the and as a jump target. */
static void movzx_blocks(struct blocks *b)
{
    static const int32_t MASKS[] = {0xff, 0xffff, 0x7f, 0xfff};
    for (uint8_t A = 0; A < 10; A++) {
        for (uint8_t B = 0; B < 10; B++) {
            unsigned c = A * 10u + B;
            uint8_t mov = c % 2 ? 0xbf : 0xbc, and = c % 3 ? 0x57 : 0x54;
            int32_t mask = MASKS[(c / 2) % 4];
            bool target = c % 11 == 5;
            blk_begin(b, "movzx mov 0x%02x and 0x%02x mask 0x%x r%u r%u%s", mov, and, mask, A, B,
                      target ? " target" : "");
            prog_lddw(&b->p, B, 0x8877665544332211ULL * (c + 1));
            if (target) {
                prog_emit(&b->p, 0xbf, A, B, 0, 0);
                prog_emit(&b->p, 0x05, 0, 0, 1, 0);
            }
            prog_emit(&b->p, mov, A, B, 0, 0);
            prog_emit(&b->p, and, A, 0, 0, mask);
            blk_end(b);
        }
    }
}

TEST(jit_movzx_fusion)
{
    check_gen(t, movzx_blocks);
}

/* `rA = rB; rA += rC; rD = *(size *)(rA + off)` with D != A: one load from
 * [B + C + off] when rA is dead afterwards; rA must keep B + C when it is
 * read later, directly or on one side of a branch. Every load size. */
static void dead_temp_blocks(struct blocks *b)
{
    static const uint8_t LOADS[] = {0x71, 0x69, 0x61, 0x79, 0x91, 0x89, 0x81};
    for (unsigned c = 0; c < 7 * 3 * 4; c++) {
        uint8_t ld = LOADS[c % 7];
        unsigned use = (c / 7) % 3; /* 0: A dead, 1: A read, 2: A read on one side */
        uint8_t A = (uint8_t)(c / 21 % 4), B = (uint8_t)(A + 4), C = (uint8_t)(A + 5),
                D = (uint8_t)((A + 7) % 10);
        int16_t off = (int16_t)(c % 5);
        blk_begin(b, "dead temp load 0x%02x use %u A r%u B r%u C r%u D r%u off %d", ld, use, A, B,
                  C, D, off);
        blk_data_ptr(b, B);
        prog_emit(&b->p, 0xb7, C, 0, 0, (int32_t)(c % 13));
        prog_emit(&b->p, 0xbf, A, B, 0, 0);
        prog_emit(&b->p, 0x0f, A, C, 0, 0);
        prog_emit(&b->p, ld, D, A, off, 0);
        if (use == 0) {
            prog_emit(&b->p, 0xb7, A, 0, 0, 3);
        } else if (use == 1) {
            prog_emit(&b->p, 0x1f, A, B, 0, 0); /* the offset, not the pointer */
        } else {
            prog_emit(&b->p, 0x55, D, 0, 2, 0x61); /* if D != 'a' keep A (an offset) */
            prog_emit(&b->p, 0xb7, A, 0, 0, 5);
            prog_emit(&b->p, 0x05, 0, 0, 1, 0);
            prog_emit(&b->p, 0x1f, A, B, 0, 0);
        }
        prog_emit(&b->p, 0xb7, B, 0, 0, 0);
        blk_end(b);
    }
}

TEST(jit_address_dead_temp)
{
    check_gen(t, dead_temp_blocks);
}

/* Big-endian 16-bit reads spelled byte by byte (`rX = *(u8 *)(rB + o + 1);
 * rY = *(u8 *)(rB + o); rY <<= 8; rY |= rX`, either load order, 32- or
 * 64-bit shift and or) -> one word load and a byte swap: the low byte's
 * register dead or live afterwards, X or Y being the base, and shapes that
 * are not the idiom (offsets not adjacent, shift by 7). */
static void be16_blocks(struct blocks *b)
{
    for (unsigned c = 0; c < 2 * 2 * 3 * 4 * 3; c++) {
        bool swap = c % 2, w = (c / 2) % 2;
        unsigned who = (c / 4) % 3;   /* 0: B apart, 1: X is B, 2: Y is B */
        unsigned xuse = (c / 12) % 4; /* 0,1: X dead, 2: X read, 3: X read on one side */
        unsigned bad = c / 48;        /* 0: the idiom, 1: offsets apart, 2: shift by 7 */
        uint8_t B = 3, X = who == 1 ? 3 : 6, Y = who == 2 ? 3 : 7;
        if (who) /* the load that replaces the base comes second */
            swap = who == 1;
        int16_t o = (int16_t)(c % 9);
        int16_t olo = (int16_t)(o + (bad == 1 ? 2 : 1));
        blk_begin(b, "be16 swap %d w %d who %u xuse %u bad %u o %d", swap, w, who, xuse, bad, o);
        blk_data_ptr(b, B);
        if (!swap) {
            prog_emit(&b->p, 0x71, X, B, olo, 0);
            prog_emit(&b->p, 0x71, Y, B, o, 0);
        } else {
            prog_emit(&b->p, 0x71, Y, B, o, 0);
            prog_emit(&b->p, 0x71, X, B, olo, 0);
        }
        prog_emit(&b->p, w ? 0x67 : 0x64, Y, 0, 0, bad == 2 ? 7 : 8);
        prog_emit(&b->p, w ? 0x4f : 0x4c, Y, X, 0, 0);
        if (xuse <= 1) {
            prog_emit(&b->p, 0xb7, X, 0, 0, 11);
        } else if (xuse == 3) {
            prog_emit(&b->p, 0x55, Y, 0, 1, 0x1234);
            prog_emit(&b->p, 0xb7, X, 0, 0, 12);
        }
        if (B != X && B != Y)
            prog_emit(&b->p, 0xb7, B, 0, 0, 0); /* no pointer in the record */
        blk_end(b);
    }
}

TEST(jit_be16_fusion)
{
    check_gen(t, be16_blocks);
}

TEST(jit_ja_forms)
{
    /* ja +0 (no code), ja back/forward with 16-bit off, gotol with 32-bit imm */
    struct prog p = {0};
    prog_emit(&p, 0xb7, 0, 0, 0, 0);
    prog_emit(&p, 0x05, 0, 0, 0, 0);   /* ja +0 */
    prog_emit(&p, 0x06, 0, 0, 0, 300); /* gotol +300 */
    for (int i = 0; i < 300; i++)
        prog_emit(&p, 0x07, 0, 0, 0, 1000); /* skipped */
    prog_emit(&p, 0x07, 0, 0, 0, 1);        /* r0 += 1 */
    prog_emit(&p, 0xa5, 0, 0, 2, 5);        /* if r0 < 5 goto +2 */
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    prog_emit(&p, 0x05, 0, 0, -5, 0); /* ja back to r0 += 1 */
    uint64_t r;
    char err[256];
    int rc = jt_run_jit(&p, 0, NULL, 0, &r, err, sizeof err);
    prog_free(&p);
    CHECK_EQ(rc, 0);
    CHECK_EQ(r, 5);
}

/* loads, stores and sign-extending loads through every base register */
TEST(jit_ldx_st_stx)
{
    struct blocks b;
    blk_start_prog(&b);
    static const uint8_t ldx[] = {0x71, 0x69, 0x61, 0x79, 0x91, 0x89, 0x81};
    static const uint8_t stx[] = {0x73, 0x6b, 0x63, 0x7b};
    static const uint8_t st[] = {0x72, 0x6a, 0x62, 0x7a};
    static const int16_t offs[] = {0, 1, 3, 8, -8, -256, 255, 100, -129, 128};
    for (uint8_t base = 0; base < 10; base++) {
        for (uint8_t r = 0; r < 10; r++) {
            for (size_t o = 0; o < sizeof offs / sizeof offs[0]; o++) {
                int16_t off = offs[o];
                uint8_t l = ldx[(base + r + o) % sizeof ldx];
                blk_begin(&b, "ldx 0x%02x r%u = [r%u%+d]", l, r, base, off);
                blk_data_ptr(&b, base);
                prog_emit(&b.p, l, r, base, off, 0);
                if (r != base)
                    prog_emit(&b.p, 0xb7, base, 0, 0, 0); /* drop the pointer */
                blk_end(&b);
                if (r == base)
                    continue;
                uint8_t s = stx[(base * 3 + r + o) % sizeof stx];
                blk_begin(&b, "stx 0x%02x [r%u%+d] = r%u", s, base, off, r);
                prog_lddw(&b.p, r, V[(base + o * 3 + r) % NV] ^ 0xa5a5a5a5a5a5a5a5ULL);
                blk_data_ptr(&b, base);
                prog_emit(&b.p, s, base, r, off, 0);
                prog_emit(&b.p, 0xb7, base, 0, 0, 0);
                blk_end(&b);
            }
            uint8_t s = st[(base + r) % sizeof st];
            int32_t imm = IMMS[(base * 10 + r) % NI];
            blk_begin(&b, "st 0x%02x [r%u+%d] = %d", s, base, r * 8, imm);
            blk_data_ptr(&b, base);
            prog_emit(&b.p, s, base, 0, (int16_t)(r * 8 - 40), imm);
            prog_emit(&b.p, 0xb7, base, 0, 0, 0);
            blk_end(&b);
        }
    }
    /* the stack through r10: store, then read back with every size */
    for (uint8_t r = 0; r < 10; r++) {
        for (size_t l = 0; l < sizeof ldx; l++) {
            blk_begin(&b, "stack ldx 0x%02x r%u", ldx[l], r);
            prog_lddw(&b.p, r, 0x8899aabbccddeeffULL ^ r);
            prog_emit(&b.p, 0x7b, 10, r, -200, 0);
            prog_emit(&b.p, st[l % 4], 10, 0, (int16_t)(-200 + (int)l), -3);
            prog_emit(&b.p, ldx[l], r, 10, (int16_t)(-200 + (int)(l % 2)), 0);
            blk_end(&b);
        }
    }
    blk_check(t, &b, 0);
}

TEST(jit_atomics)
{
    struct blocks b;
    blk_start_prog(&b);
    static const int32_t ops[] = {0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1};
    for (int size = 0; size < 2; size++) {
        uint8_t opcode = size ? 0xdb : 0xc3;
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            for (uint8_t base = 0; base < 10; base++) {
                for (uint8_t s = 0; s < 10; s++) {
                    if (s == base)
                        continue;
                    int16_t off = (int16_t)(((base * 10 + s) % 32) * 8 - 128);
                    for (int c = 0; c < 2; c++) {
                        uint64_t v = V[(base * 7 + s * 3 + o + (unsigned)c * 5) % NV];
                        blk_begin(&b, "atomic%s op 0x%02x [r%u%+d] r%u v=0x%" PRIx64 " c=%d",
                                  size ? "64" : "32", ops[o], base, off, s, v, c);
                        prog_lddw(&b.p, s, v);
                        blk_data_ptr(&b, base);
                        if (ops[o] == 0xf1 && base != 0) {
                            /* make r0 match the memory word half of the time */
                            if (c)
                                prog_emit(&b.p, size ? 0x79 : 0x61, 0, base, off, 0);
                        }
                        prog_emit(&b.p, opcode, base, s, off, ops[o]);
                        if (!(ops[o] == 0xf1 && base == 0))
                            prog_emit(&b.p, 0xb7, base, 0, 0, 0);
                        blk_end(&b);
                    }
                }
            }
        }
    }
    blk_check(t, &b, 0);
}

/* ---- RFC rules checked against literal values ---- */

static uint64_t run_alu(struct test_ctx *t, uint8_t op, int16_t off, uint64_t a, uint64_t v,
                        int32_t imm, unsigned opts)
{
    struct prog p = {0};
    prog_lddw(&p, 0, a);
    prog_lddw(&p, 3, v);
    prog_emit(&p, op, 0, (op & 0x08) ? 3 : 0, off, imm);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    uint64_t r = 0xdead;
    char err[256];
    if (jt_run_jit(&p, opts, NULL, 0, &r, err, sizeof err))
        test_fail(t, __FILE__, __LINE__, "%s", err);
    prog_free(&p);
    return r;
}

TEST(jit_rfc_division_rules)
{
    const uint64_t MIN64 = 0x8000000000000000ULL;
    CHECK_EQ(run_alu(t, 0x3f, 0, 1234, 0, 0, 0), 0);                  /* div64 by 0 */
    CHECK_EQ(run_alu(t, 0x9f, 0, 1234, 0, 0, 0), 1234);               /* mod64 by 0 */
    CHECK_EQ(run_alu(t, 0x9c, 0, 0xffffffff00000005ULL, 0, 0, 0), 5); /* mod32 by 0 zext */
    CHECK_EQ(run_alu(t, 0x94, 0, 0xffffffff00000005ULL, 0, 0, 0), 5); /* mod32 by imm 0 */
    CHECK_EQ(run_alu(t, 0x37, 0, 1234, 0, 0, 0), 0);                  /* div64 by imm 0 */
    CHECK_EQ(run_alu(t, 0x3f, 1, MIN64, (uint64_t)-1, 0, 0), MIN64);  /* sdiv INT_MIN/-1 */
    CHECK_EQ(run_alu(t, 0x9f, 1, MIN64, (uint64_t)-1, 0, 0), 0);      /* smod INT_MIN%-1 */
    CHECK_EQ(run_alu(t, 0x37, 1, MIN64, 0, -1, 0), MIN64);
    CHECK_EQ(run_alu(t, 0x97, 1, MIN64, 0, -1, 0), 0);
    CHECK_EQ(run_alu(t, 0x3c, 1, 0x80000000, (uint64_t)-1, 0, 0), 0x80000000); /* 32-bit */
    CHECK_EQ(run_alu(t, 0x9c, 1, 0x80000000, (uint64_t)-1, 0, 0), 0);
    CHECK_EQ(run_alu(t, 0x3f, 1, (uint64_t)-7, 2, 0, 0), (uint64_t)-3); /* truncation */
    CHECK_EQ(run_alu(t, 0x9f, 1, (uint64_t)-7, 2, 0, 0), (uint64_t)-1); /* sign of dividend */
    CHECK_EQ(run_alu(t, 0x3f, 1, 7, 0, 0, 0), 0);                       /* sdiv by 0 */
    CHECK_EQ(run_alu(t, 0x9f, 1, (uint64_t)-7, 0, 0, 0), (uint64_t)-7); /* smod by 0 */
    CHECK_EQ(run_alu(t, 0x34, 0, 100, 0, (int32_t)0x80000000, 0), 0);   /* u32 imm 2^31 */
    CHECK_EQ(run_alu(t, 0x34, 0, 0xffffffff, 0, (int32_t)0x80000000, 0), 1);
    CHECK_EQ(run_alu(t, 0x94, 0, 0xffffffff, 0, (int32_t)0x80000000, 0), 0x7fffffff);
    CHECK_EQ(run_alu(t, 0x37, 0, 100, 0, 7, 0), 14);
    CHECK_EQ(run_alu(t, 0x97, 0, 100, 0, 7, 0), 2);
}

TEST(jit_rfc_shift_masking)
{
    CHECK_EQ(run_alu(t, 0x6f, 0, 1, 65, 0, 0), 2);                     /* 65 & 63 = 1 */
    CHECK_EQ(run_alu(t, 0x6c, 0, 1, 33, 0, 0), 2);                     /* 33 & 31 = 1 */
    CHECK_EQ(run_alu(t, 0x6c, 0, 0xffffffff00000001ULL, 32, 0, 0), 1); /* by 0: zext */
    CHECK_EQ(run_alu(t, 0x6c, 0, 0xffffffff00000001ULL, 32, 0, EBPF_JIT_NO_BMI2), 1);
    CHECK_EQ(run_alu(t, 0xcc, 0, 0x80000000, 31, 0, 0), 0xffffffff); /* arsh32 zext */
    CHECK_EQ(run_alu(t, 0xcc, 0, 0x80000000, 31, 0, EBPF_JIT_NO_BMI2), 0xffffffff);
    CHECK_EQ(run_alu(t, 0x64, 0, 0xffffffff00000001ULL, 0, 32, 0), 1);
    CHECK_EQ(run_alu(t, 0xc7, 0, 0x8000000000000000ULL, 0, 127, 0), (uint64_t)-1);
    CHECK_EQ(run_alu(t, 0x04, 0, 0xffffffff00000001ULL, 0, 0, 0), 1); /* add32 0 zexts */
    CHECK_EQ(run_alu(t, 0x54, 0, 0xffffffff00000001ULL, 0, -1, 0), 1);
    CHECK_EQ(run_alu(t, 0xbc, 0, 0xffffffff00000001ULL, 0, 0, 0), 0); /* mov32 r0, r3 */
}

/* lsh 32; rsh/arsh 32 fused — and not fused when the second is a jump target */
TEST(jit_zext_peephole)
{
    for (int fuse_blocked = 0; fuse_blocked <= 1; fuse_blocked++) {
        for (int sign = 0; sign <= 1; sign++) {
            struct prog p = {0};
            prog_lddw(&p, 6, 0x12345678f0000001ULL);
            prog_emit(&p, 0xb7, 0, 0, 0, 0);
            if (fuse_blocked)
                prog_emit(&p, 0x05, 0, 0, 1, 0); /* ja over the lsh: rsh becomes a target */
            prog_emit(&p, 0x67, 6, 0, 0, 32);
            prog_emit(&p, sign ? 0xc7 : 0x77, 6, 0, 0, 32);
            prog_emit(&p, 0xbf, 0, 6, 0, 0);
            prog_emit(&p, 0x95, 0, 0, 0, 0);
            uint64_t r;
            char err[256];
            int rc = jt_run_jit(&p, 0, NULL, 0, &r, err, sizeof err);
            prog_free(&p);
            CHECK_EQ(rc, 0);
            uint64_t want = fuse_blocked ? (sign ? 0x12345678ULL : 0x12345678ULL)
                                         : (sign ? 0xfffffffff0000001ULL : 0xf0000001ULL);
            CHECK_EQ(r, want);
        }
    }
}

/* ---- calls ---- */

TEST(jit_helper_calls_abs_and_rel32)
{
    for (unsigned opts = 0; opts <= EBPF_JIT_NO_REL32; opts += EBPF_JIT_NO_REL32) {
        struct prog p = {0};
        prog_lddw(&p, 6, 0x6666);
        prog_lddw(&p, 9, 0x9999);
        for (int k = 1; k <= 5; k++)
            prog_emit(&p, 0xb7, (uint8_t)k, 0, 0, k * 10);
        prog_emit(&p, 0x85, 0, 0, 0, 2); /* sum(10,20,30,40,50) */
        prog_emit(&p, 0x0f, 0, 6, 0, 0); /* + r6 */
        prog_emit(&p, 0x0f, 0, 9, 0, 0); /* + r9 */
        prog_emit(&p, 0xbf, 7, 0, 0, 0);
        prog_emit(&p, 0x85, 0, 0, 0, 3); /* const */
        prog_emit(&p, 0x1f, 0, 7, 0, 0);
        prog_emit(&p, 0x95, 0, 0, 0, 0);
        uint64_t r;
        char err[256];
        int rc = jt_run_jit(&p, opts, NULL, 0, &r, err, sizeof err);
        prog_free(&p);
        CHECK_EQ(rc, 0);
        CHECK_EQ(r, 0x0123456789abcdefULL - (150 + 0x6666 + 0x9999));
    }
}

TEST(jit_unregistered_helper_fails_compile)
{
    struct prog p = {0};
    prog_emit(&p, 0x85, 0, 0, 0, 77);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    char err[256];
    struct ebpf_vm *vm = jt_vm(&p, err, sizeof err);
    prog_free(&p);
    if (!vm) { /* load itself may reject it: also fine */
        return;
    }
    int rc = ebpf_jit_x86_64_compile_opts(vm, 0);
    CHECK(rc < 0);
    CHECK_STR_CONTAINS(ebpf_vm_error(vm), "instruction 0");
    ebpf_vm_destroy(vm);
}

/* Call chain of depth 8 (main + 7), each frame writes its whole stack frame
 * and r6-r9, and checks after the call that nothing of its own changed. */
TEST(jit_local_calls_depth_frames)
{
    struct prog p = {0};
    /* main: r1 = 6, so main + f(6)..f(0) is 8 frames */
    prog_emit(&p, 0xb7, 1, 0, 0, 6);
    prog_emit(&p, 0x85, 0, 1, 0, 1); /* call f (at index 3) */
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    /* f(r1 = n): fill frame with n, set r6..r9 = n*k, recurse (n-1), verify */
    uint32_t f = p.n;
    (void)f;
    prog_emit(&p, 0xbf, 6, 1, 0, 0); /* r6 = n */
    prog_emit(&p, 0xbf, 7, 1, 0, 0);
    prog_emit(&p, 0x27, 7, 0, 0, 3); /* r7 = 3n */
    prog_emit(&p, 0xbf, 8, 1, 0, 0);
    prog_emit(&p, 0x27, 8, 0, 0, 5);
    prog_emit(&p, 0xbf, 9, 1, 0, 0);
    prog_emit(&p, 0x27, 9, 0, 0, 7);
    for (int k = 1; k <= 64; k++)
        prog_emit(&p, 0x7b, 10, 6, (int16_t)(-8 * k), 0); /* frame[-8k] = n */
    prog_emit(&p, 0xb7, 0, 0, 0, 0);
    prog_emit(&p, 0x15, 1, 0, 3, 0); /* if n == 0 skip call */
    prog_emit(&p, 0xbf, 1, 6, 0, 0);
    prog_emit(&p, 0x17, 1, 0, 0, 1);
    prog_emit(&p, 0x85, 0, 1, 0, (int32_t)(f - (p.n + 1))); /* call f(n-1) */
    /* r0 += n + checks: frame words still n, r7 == 3n ... else r0 |= 1<<40 */
    for (int k = 1; k <= 64; k += 9) {
        prog_emit(&p, 0x79, 2, 10, (int16_t)(-8 * k), 0);
        prog_emit(&p, 0x1d, 2, 6, 2, 0); /* if r2 == r6 skip */
        prog_lddw(&p, 0, 1ULL << 40);
    }
    prog_emit(&p, 0xbf, 2, 6, 0, 0);
    prog_emit(&p, 0x27, 2, 0, 0, 3);
    prog_emit(&p, 0x1d, 2, 7, 2, 0);
    prog_lddw(&p, 0, 1ULL << 41);
    prog_emit(&p, 0xbf, 2, 6, 0, 0);
    prog_emit(&p, 0x27, 2, 0, 0, 7);
    prog_emit(&p, 0x1d, 2, 9, 2, 0);
    prog_lddw(&p, 0, 1ULL << 42);
    prog_emit(&p, 0x0f, 0, 6, 0, 0); /* r0 += n */
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    uint8_t mi[8], mj[8];
    struct jt_result r;
    char err[256];
    int rc = jt_run_both(&p, 0, mi, mj, 0, &r, err, sizeof err);
    prog_free(&p);
    if (rc)
        test_fail(t, __FILE__, __LINE__, "%s", err);
    CHECK_EQ(rc, 0);
    CHECK_EQ(r.r_interp, 21);
    CHECK_EQ(r.r_jit, 21);
}

/* ---- tail calls ---- */

struct tail_ctx {
    struct ebpf_vm *progs[4];
    uint64_t calls;
};

static struct ebpf_vm *tail_lookup(void *user, uint64_t map, uint64_t index)
{
    struct tail_ctx *c = user;
    c->calls++;
    if (map != 0x77 || index >= 4)
        return NULL;
    return c->progs[index];
}

static struct ebpf_vm *tail_vm(struct test_ctx *t, struct prog *p, struct tail_ctx *c)
{
    struct ebpf_vm *vm = jt_load(t, p);
    if (!vm)
        return NULL;
    ebpf_vm_set_tail_call(vm, tail_lookup, c);
    if (ebpf_vm_compile(vm, NULL)) {
        test_fail(t, __FILE__, __LINE__, "compile: %s", ebpf_vm_error(vm));
        ebpf_vm_destroy(vm);
        return NULL;
    }
    return vm;
}

/* bpf_tail_call(r1, map 0x77, index): r2 and r3, then call 12. */
static void emit_tail_call(struct prog *p, int32_t index)
{
    prog_emit(p, 0xb7, 2, 0, 0, 0x77);
    prog_emit(p, 0xb7, 3, 0, 0, index);
    prog_emit(p, 0x85, 0, 0, 0, 12);
}

/* The program (no memory) gives the same r0 on the interpreter and the
 * JIT; frees it. `label` names the case in a failure. */
static void agree_without_memory(struct test_ctx *t, struct prog *p, unsigned opts, int label)
{
    uint8_t mi[8], mj[8];
    struct jt_result r;
    char err[256];
    int rc = jt_run_both(p, opts, mi, mj, 0, &r, err, sizeof err);
    prog_free(p);
    if (rc)
        test_fail(t, __FILE__, __LINE__, "case %d: %s", label, err);
    if (r.r_jit != r.r_interp)
        test_fail(t, __FILE__, __LINE__, "case %d: jit 0x%" PRIx64 " != interp 0x%" PRIx64, label,
                  r.r_jit, r.r_interp);
}

/* Callee frames: a bpf-to-bpf callee saves only the r6-r9 it writes and
 * sets up its eBPF frame only if it uses r10. Every shape (which of r6-r9 it
 * writes x uses its stack x calls a helper), with full frames too
 * (EBPF_JIT_NO_PEEPHOLE): the caller's r6-r9 and stack must survive, the
 * callee's stack must be its own, and helpers, called directly or through
 * callx, must see rsp 16-byte aligned (helper 4 returns the misalignment,
 * folded into r0 above bit 32). */
TEST(jit_callee_saves_only_what_it_uses)
{
    for (unsigned shape = 0; shape < 64; shape++) {
        unsigned mask = shape & 15;
        bool stack = shape & 16, helper = shape & 32;
        for (unsigned opts = 0; opts <= EBPF_JIT_NO_PEEPHOLE; opts += EBPF_JIT_NO_PEEPHOLE) {
            struct prog p = {0};
            for (uint8_t k = 6; k <= 9; k++)
                prog_lddw(&p, k, 0x1111111111111111ULL * k);
            prog_lddw(&p, 1, 0xc0ffee0000000000ULL);
            prog_emit(&p, 0x7b, 10, 1, -8, 0); /* the caller's canary */
            prog_emit(&p, 0xb7, 1, 0, 0, 1234567);
            uint32_t call_at = p.n;
            prog_emit(&p, 0x85, 0, 1, 0, 0); /* call f, fixed below */
            for (uint8_t k = 6; k <= 9; k++) {
                prog_emit(&p, 0xbf, 2, k, 0, 0);
                prog_emit(&p, 0x27, 2, 0, 0, 2 * k + 1);
                prog_emit(&p, 0xaf, 0, 2, 0, 0); /* r0 ^= rk * (2k+1) */
            }
            prog_emit(&p, 0x79, 2, 10, -8, 0);
            prog_emit(&p, 0xaf, 0, 2, 0, 0);
            prog_emit(&p, 0x95, 0, 0, 0, 0);
            p.v[call_at].imm = (int32_t)(p.n - call_at - 1);
            /* f(r1) */
            for (uint8_t k = 6; k <= 9; k++) {
                if (!(mask & (1u << (k - 6))))
                    continue;
                prog_emit(&p, 0xbf, k, 1, 0, 0);
                prog_emit(&p, 0x27, k, 0, 0, k + 11);
            }
            if (stack) {
                prog_emit(&p, 0x7b, 10, 1, -8, 0); /* its own frame, not the caller's */
                prog_emit(&p, 0x07, 1, 0, 0, 1);
                prog_emit(&p, 0x79, 1, 10, -8, 0);
            }
            prog_emit(&p, 0xb7, 0, 0, 0, 0);
            if (helper) {
                prog_emit(&p, 0xbf, 2, 1, 0, 0);
                if (shape & 1) { /* through a register: callx */
                    prog_emit(&p, 0xb7, 3, 0, 0, 4);
                    prog_emit(&p, 0x8d, 3, 0, 0, 0);
                } else {
                    prog_emit(&p, 0x85, 0, 0, 0, 4);
                }
                prog_emit(&p, 0x67, 0, 0, 0, 32);
                prog_emit(&p, 0xbf, 1, 2, 0, 0);
            }
            prog_emit(&p, 0x0f, 0, 1, 0, 0);
            for (uint8_t k = 6; k <= 9; k++)
                if (mask & (1u << (k - 6)))
                    prog_emit(&p, 0x0f, 0, k, 0, 0);
            prog_emit(&p, 0x95, 0, 0, 0, 0);
            agree_without_memory(t, &p, opts, (int)shape);
        }
    }
}

TEST(jit_tail_calls)
{
    struct tail_ctx c = {0};
    struct prog p = {0};
    /* prog 0: mem[0] += 1; tail_call(ctx, 0x77, 0) (itself: the chain
     * stops at 33); after a failed tail call return r0 + 1000 */
    prog_emit(&p, 0x79, 2, 1, 0, 0);
    prog_emit(&p, 0x07, 2, 0, 0, 1);
    prog_emit(&p, 0x7b, 1, 2, 0, 0);
    emit_tail_call(&p, 0);
    prog_emit(&p, 0x07, 0, 0, 0, 1000);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    c.progs[0] = tail_vm(t, &p, &c);
    CHECK(c.progs[0]);
    /* prog 1: tail-calls prog 2 with r6 set (must not leak), prog 2 returns
     * mem[0]*2 + (r1 == ctx) */
    prog_emit(&p, 0xb7, 6, 0, 0, 5);
    emit_tail_call(&p, 2);
    prog_emit(&p, 0xb7, 0, 0, 0, 99); /* not reached */
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    c.progs[1] = tail_vm(t, &p, &c);
    CHECK(c.progs[1]);
    prog_emit(&p, 0x79, 0, 1, 0, 0);
    prog_emit(&p, 0x67, 0, 0, 0, 1);
    prog_emit(&p, 0x79, 2, 1, 8, 0);
    prog_emit(&p, 0x0f, 0, 2, 0, 0);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    c.progs[2] = tail_vm(t, &p, &c);
    CHECK(c.progs[2]);
    /* prog 3: a bpf-to-bpf call whose callee tail-calls prog 2; the result
     * comes back to main, which adds 1 */
    prog_emit(&p, 0xb7, 6, 0, 0, 40);
    prog_emit(&p, 0x85, 0, 1, 0, 3);
    prog_emit(&p, 0x0f, 0, 6, 0, 0);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    prog_emit(&p, 0xb7, 6, 0, 0, 123); /* callee */
    emit_tail_call(&p, 2);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    c.progs[3] = tail_vm(t, &p, &c);
    CHECK(c.progs[3]);

    uint64_t mem[2] = {0, 0};
    uint64_t r = c.progs[0]->jit_entry(mem, sizeof mem);
    CHECK_EQ(mem[0], 34); /* first run + 33 tail calls */
    CHECK_EQ(r, (uint64_t)(int64_t)-ENOENT + 1000);
    /* the interpreter agrees */
    uint64_t mem2[2] = {0, 0}, ri = 0;
    CHECK_EQ(ebpf_vm_exec(c.progs[0], mem2, sizeof mem2, &ri), 0);
    CHECK_EQ(mem2[0], 34);
    CHECK_EQ(ri, r);

    uint64_t m3[2] = {21, 0};
    /* r1 in the target is the same ctx: the program reads it */
    CHECK_EQ(c.progs[1]->jit_entry(m3, sizeof m3), 42);
    CHECK_EQ(c.progs[3]->jit_entry(m3, sizeof m3), 42 + 40);
    /* repeated calls restore every callee-saved register properly */
    for (int i = 0; i < 100; i++)
        CHECK_EQ(c.progs[3]->jit_entry(m3, sizeof m3), 82);
    for (int i = 0; i < 4; i++)
        ebpf_vm_destroy(c.progs[i]);
}

TEST(jit_tail_call_without_callback)
{
    struct prog p = {0};
    prog_emit(&p, 0xb7, 2, 0, 0, 1);
    prog_emit(&p, 0xb7, 3, 0, 0, 0);
    prog_emit(&p, 0x85, 0, 0, 0, 12);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    uint64_t r;
    char err[256];
    CHECK_EQ(jt_run_jit(&p, 0, NULL, 0, &r, err, sizeof err), 0);
    prog_free(&p);
    CHECK_EQ(r, (uint64_t)(int64_t)-ENOENT);
}

/* ---- code properties ---- */

TEST(jit_code_is_not_writable)
{
    struct prog p = {0};
    prog_emit(&p, 0xb7, 0, 0, 0, 7);
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    struct ebpf_vm *vm = jt_load(t, &p);
    CHECK(vm);
    CHECK_EQ(ebpf_vm_compile(vm, NULL), 0);
    uintptr_t code = (uintptr_t)vm->jit_code;
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f);
    char line[512], perms[8] = "";
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char pr[8];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, pr) == 3 && code >= lo && code < hi) {
            memcpy(perms, pr, 5);
            break;
        }
    }
    fclose(f);
    CHECK(strncmp(perms, "r-x", 3) == 0);
    CHECK_EQ(vm->jit_entry(NULL, 0), 7);
    ebpf_vm_destroy(vm);
}

/* Jump distances around the rel8 limit in both directions. */
TEST(jit_jump_sizing_boundaries)
{
    for (int n = 10; n < 50; n++) {
        struct prog p = {0};
        prog_emit(&p, 0xb7, 0, 0, 0, 0);
        prog_emit(&p, 0xb7, 1, 0, 0, 3);
        uint32_t loop = p.n;
        prog_emit(&p, 0x55, 0, 0, (int16_t)n, 12345); /* if r0 != 12345 goto skip */
        for (int k = 0; k < n; k++)
            prog_emit(&p, 0x07, 0, 0, 0, 100000); /* 7 bytes each */
        prog_emit(&p, 0x07, 0, 0, 0, 1);
        prog_emit(&p, 0x17, 1, 0, 0, 1);
        prog_emit(&p, 0x55, 1, 0, (int16_t)((int)loop - (int)p.n - 1), 0); /* loop */
        prog_emit(&p, 0x95, 0, 0, 0, 0);
        uint64_t r;
        char err[256];
        int rc = jt_run_jit(&p, 0, NULL, 0, &r, err, sizeof err);
        prog_free(&p);
        CHECK_EQ(rc, 0);
        CHECK_EQ(r, 3);
    }
}

/* Loop heads are padded to 16 bytes, so a jump that shrinks to rel8 can be
 * offset by padding that grows: the layout must converge to one whose every
 * displacement is right (converge compares the whole layout, not the
 * length; with a length-only check test_jit_diff's random programs crash).
 * Nested loops whose bodies straddle the rel8 range, with forward jumps
 * over the padded heads, against the interpreter. */
TEST(jit_loop_alignment_layouts)
{
    for (int n = 0; n < 48; n++) {
        struct prog p = {0};
        prog_emit(&p, 0xb7, 0, 0, 0, 0);
        prog_emit(&p, 0xb7, 1, 0, 0, 3);
        uint32_t outer = p.n;
        prog_emit(&p, 0xb7, 2, 0, 0, 2);
        uint32_t inner = p.n;
        prog_emit(&p, 0x55, 0, 0, (int16_t)(n / 2 + 1), 12345); /* forward over part of it */
        for (int k = 0; k < n / 2; k++)
            prog_emit(&p, (k + n) % 3 ? 0x07 : 0x0f, 0, k % 3 ? 0 : 2, 0, 100000 + k);
        prog_emit(&p, 0x07, 0, 0, 0, 1);
        prog_emit(&p, 0x17, 2, 0, 0, 1);
        prog_emit(&p, 0x55, 2, 0, (int16_t)((int)inner - (int)p.n - 1), 0);
        for (int k = 0; k < n % 7 + n / 3; k++)
            prog_emit(&p, 0x27, 0, 0, 0, k % 2 ? 3 : 1000003);
        prog_emit(&p, 0x17, 1, 0, 0, 1);
        prog_emit(&p, 0x55, 1, 0, (int16_t)((int)outer - (int)p.n - 1), 0);
        prog_emit(&p, 0x95, 0, 0, 0, 0);
        agree_without_memory(t, &p, 0, n);
    }
}

/* A large program compiles quickly and runs (compile time is per instantiate). */
TEST(jit_large_program_compiles)
{
    struct prog p = {0};
    prog_emit(&p, 0xb7, 0, 0, 0, 0);
    for (int k = 0; k < 200000; k++) {
        if (k % 16 == 0)
            prog_emit(&p, 0xa5, 0, 0, 2, 0x7fffffff); /* if r0 < big goto +2 */
        else
            prog_emit(&p, 0x07, 0, 0, 0, 1);
    }
    prog_emit(&p, 0x95, 0, 0, 0, 0);
    struct ebpf_vm *vm = jt_load(t, &p);
    CHECK(vm);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_EQ(ebpf_vm_compile(vm, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    printf("# jit: 200001 instructions -> %zu bytes in %.1f ms\n", vm->jit_size, ms);
    uint64_t ri;
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &ri), 0);
    CHECK_EQ(vm->jit_entry(NULL, 0), ri);
    ebpf_vm_destroy(vm);
}
