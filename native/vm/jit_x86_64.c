/* x86-64 JIT: translates verified eBPF (RFC 9669, ISA v4) into native code.
 *
 * What makes it fast:
 *  - Register mapping chosen for the SysV calling convention: r0 -> rax,
 *    r1..r5 -> rdi rsi rdx rcx r8 (a helper call is a bare `call`: the
 *    arguments are already where the C function wants them and the result
 *    lands in r0), r6..r9 -> rbx r13 r14 r15 (callee-saved, so they survive
 *    helper calls for free), r10 -> rbp. r9/r10/r11 are scratch, r12 holds
 *    the tail-call count. No eBPF register ever lives in memory.
 *  - One x86 instruction per eBPF instruction for almost everything: ALU ops
 *    use the imm8/imm32 forms, loads/stores use [base+disp8/disp32] directly,
 *    32-bit ALU ops rely on x86's implicit zero-extension (no extra movs),
 *    compare-and-branch is `cmp`/`test` + `jcc` (the pair macro-fuses), and
 *    jumps are rel8 when the target is near (iterated to a fixed point).
 *  - Variable shifts use BMI2 shlx/shrx/sarx when the CPU has them (no cl
 *    juggling); constant shifts, multiplications by powers of two, unsigned
 *    division/modulo by powers of two become shifts/ands; `x op= 0` and
 *    `mov rX, rX` vanish; `mov` of 0 is `xor`; lddw picks the shortest mov.
 *  - Peepholes for what clang's BPF backend emits (never across a jump
 *    target): address arithmetic `rA = rB; rA += rC; rA = *(rA + off)`
 *    becomes one load with a [base + index + disp] operand, `rA = rB;
 *    rA += rC/imm` becomes `lea`, `rA = rB; rA <<= 32; rA >>= 32` becomes
 *    `mov r32, r32`, `lsh 32; rsh 32` -> `mov r32, r32`, `lsh 32; arsh 32`
 *    -> `movsxd`; jumps/compares to the next instruction disappear.
 *  - Division only pays for what the RFC requires: the zero-divisor and
 *    INT_MIN/-1 checks are skipped when the divisor is a constant, and
 *    32-bit unsigned division/modulo by a constant is a multiply by the
 *    reciprocal (no `div` at all), as native compilers do.
 *  - Helper calls are `call rel32` when the code lands within +-2 GiB of the
 *    helper (the mapping is placed near the library), bpf-to-bpf calls are
 *    `call rel32`, tail calls jump straight into the target's code.
 *  - bpf_map_lookup_elem on a plain array is no call at all, as in the
 *    kernel: when r1 at `call 1` is a constant from an lddw in the same
 *    basic block and the VM's map_inline callback describes that map as an
 *    array, the lookup is a bounds check and an address computation
 *    (`key < max_entries ? values + key * stride : NULL`).
 *  - No bounds checks and no per-instruction dispatch: programs are verified
 *    before they are compiled.
 *
 * Layout of an image:
 *   0:  entry thunk   push r12; xor r12d,r12d; call F0; pop r12; ret
 *   16: F0 prologue   push rbp,rbx,r13,r14,r15; mov rbp,rsp; sub rsp,512
 *   34: tail-call entry (EBPF_JIT_TAIL_ENTRY_OFFSET) = first instruction
 * Every function (main and each bpf-to-bpf callee) has the same prologue and
 * epilogue (mov rsp,rbp; pop r15,r14,r13,rbx,rbp; ret), so its own 512-byte
 * eBPF frame sits right below its saved registers, r6-r9 and r10 are
 * preserved across local calls, and a tail call from any function can jump
 * to the target's entry past its prologue reusing the current frame: the
 * target's exit then returns to this function's caller, as in the kernel.
 * rsp stays 16-byte aligned in every body, so helpers are called directly.
 *
 * Code is emitted into a heap buffer in passes until every instruction's
 * size is stable (jumps only ever shrink from rel32 to rel8, so this
 * converges), then copied into an RW mapping that is mprotect'ed R+X. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm/vm_internal.h"
#include "vm/x86_emit.h"

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

static const uint8_t regmap_[11] = {RAX, RDI, RSI, RDX, RCX, R8, RBX, R13, R14, R15, RBP};

/* load validated the register numbers; the clamp only keeps a corrupted
 * program from reading past the table */
static inline int xreg(unsigned r)
{
    return regmap_[r <= 10 ? r : 0];
}

/* x86 condition codes */
enum {
    CC_B = 2,
    CC_AE = 3,
    CC_E = 4,
    CC_NE = 5,
    CC_BE = 6,
    CC_A = 7,
    CC_L = 12,
    CC_GE = 13,
    CC_LE = 14,
    CC_G = 15
};

#define THUNK_LEN 16
#define PROLOGUE_LEN 18
#define MAX_PASSES 16

/* per-instruction flags */
#define F_JUMP_TARGET 1
#define F_FUNC_ENTRY 2

struct jit {
    struct ebpf_vm *vm;
    const struct ebpf_inst *insts;
    uint32_t n;
    unsigned opts;
    bool bmi2;
    bool sized;    /* start/end hold the previous pass's offsets */
    bool all_long; /* fallback layout: every jump rel32 */
    bool oom;
    uint8_t *buf;
    size_t len, cap;
    uint8_t *flags;
    uint32_t *start, *end;   /* previous pass: code of insn i */
    uint32_t *nstart, *nend; /* this pass */
    uintptr_t base;          /* final address of the code, 0 = unknown */
    size_t base_len;         /* bytes mapped at base */
    int err_insn;
    const char *err_what;
    struct inline_site *inl; /* `call 1` sites inlined, by increasing insn */
    uint32_t ninl;
};

struct inline_site {
    uint32_t insn;
    struct ebpf_array_inline a;
};

/* ---- byte emission ---- */

static void grow(struct jit *j, size_t need)
{
    if (j->oom)
        return;
    size_t cap = j->cap ? j->cap : 4096;
    while (cap < j->len + need)
        cap *= 2;
    uint8_t *b = realloc(j->buf, cap);
    if (!b) {
        j->oom = true;
        return;
    }
    j->buf = b;
    j->cap = cap;
}

static inline void emit1(struct jit *j, uint8_t b)
{
    if (j->len + 1 > j->cap) {
        grow(j, 1);
        if (j->oom)
            return;
    }
    j->buf[j->len++] = b;
}

static void emit2(struct jit *j, uint8_t a, uint8_t b)
{
    emit1(j, a);
    emit1(j, b);
}

static void emit4(struct jit *j, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        emit1(j, (uint8_t)(v >> (8 * i)));
}

static void emit8(struct jit *j, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        emit1(j, (uint8_t)(v >> (8 * i)));
}

static inline bool is_imm8(int64_t v)
{
    return v >= -128 && v <= 127;
}

/* ---- instruction encoding ---- */

/* flags for emit_op */
#define W 0x01    /* REX.W: 64-bit operand */
#define P66 0x02  /* operand-size prefix: 16-bit operand */
#define LOCK 0x04 /* lock prefix */
#define BREG 0x08 /* reg field is a byte register (force REX for sil/dil/bpl/spl) */
#define BRM 0x10  /* register-form rm is a byte register */
#define MEM 0x20  /* rm is [rm + disp] */

/* [lock] [66] [REX] opcode(1-3 bytes) modrm [sib] [disp]. `op` holds the
 * opcode bytes big-endian in its low `oplen` bytes. */
static void emit_op(struct jit *j, unsigned fl, uint32_t op, int oplen, int reg, int rm,
                    int32_t disp)
{
    if (fl & LOCK)
        emit1(j, 0xF0);
    if (fl & P66)
        emit1(j, 0x66);
    uint8_t rex = 0x40 | ((fl & W) ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0);
    bool force =
        ((fl & BREG) && reg >= 4 && reg < 8) || ((fl & BRM) && !(fl & MEM) && rm >= 4 && rm < 8);
    if (rex != 0x40 || force)
        emit1(j, rex);
    for (int i = oplen - 1; i >= 0; i--)
        emit1(j, (uint8_t)(op >> (8 * i)));
    if (!(fl & MEM)) {
        emit1(j, (uint8_t)(0xC0 | ((reg & 7) << 3) | (rm & 7)));
        return;
    }
    int mod;
    if (disp == 0 && (rm & 7) != RBP)
        mod = 0;
    else if (is_imm8(disp))
        mod = 1;
    else
        mod = 2;
    emit1(j, (uint8_t)((mod << 6) | ((reg & 7) << 3) | (rm & 7)));
    if ((rm & 7) == RSP)
        emit1(j, 0x24);
    if (mod == 1)
        emit1(j, (uint8_t)disp);
    else if (mod == 2)
        emit4(j, (uint32_t)disp);
}

/* op reg, [base + index*2^scale + disp] */
static void emit_op_sib(struct jit *j, unsigned fl, uint32_t op, int oplen, int reg, int base,
                        int index, int scale, int32_t disp)
{
    if (fl & P66)
        emit1(j, 0x66);
    uint8_t rex = 0x40 | ((fl & W) ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((index & 8) ? 2 : 0) |
                  ((base & 8) ? 1 : 0);
    if (rex != 0x40)
        emit1(j, rex);
    for (int i = oplen - 1; i >= 0; i--)
        emit1(j, (uint8_t)(op >> (8 * i)));
    int mod = (disp == 0 && (base & 7) != RBP) ? 0 : is_imm8(disp) ? 1 : 2;
    emit1(j, (uint8_t)((mod << 6) | ((reg & 7) << 3) | 4));
    emit1(j, (uint8_t)((scale << 6) | ((index & 7) << 3) | (base & 7)));
    if (mod == 1)
        emit1(j, (uint8_t)disp);
    else if (mod == 2)
        emit4(j, (uint32_t)disp);
}

/* two-operand ALU, register form: op rm, reg (opcode 01/29/21/09/31/39/85/89) */
static void alu_rr(struct jit *j, bool w, uint8_t opc, int dst, int src)
{
    emit_op(j, w ? W : 0, opc, 1, src, dst, 0);
}

/* group-1 ALU with immediate: ext = /0 add, /1 or, /4 and, /5 sub, /6 xor, /7 cmp */
static void alu_ri(struct jit *j, bool w, int ext, int dst, int32_t imm)
{
    if (is_imm8(imm)) {
        emit_op(j, w ? W : 0, 0x83, 1, ext, dst, 0);
        emit1(j, (uint8_t)imm);
    } else {
        emit_op(j, w ? W : 0, 0x81, 1, ext, dst, 0);
        emit4(j, (uint32_t)imm);
    }
}

static void mov_rr(struct jit *j, bool w, int dst, int src)
{
    emit_op(j, w ? W : 0, 0x89, 1, src, dst, 0);
}

/* 32-bit mov: writes the low half and zeroes the upper */
static void zext32(struct jit *j, int r)
{
    mov_rr(j, false, r, r);
}

/* Loads a 64-bit constant with the shortest encoding. */
static void mov_imm64(struct jit *j, int dst, uint64_t v)
{
    if (v == 0) {
        emit_op(j, 0, 0x31, 1, dst, dst, 0); /* xor r32, r32 */
    } else if (v <= 0xffffffffull) {
        if (dst & 8)
            emit1(j, 0x41);
        emit1(j, (uint8_t)(0xB8 | (dst & 7)));
        emit4(j, (uint32_t)v);
    } else if ((int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX) {
        emit_op(j, W, 0xC7, 1, 0, dst, 0);
        emit4(j, (uint32_t)v);
    } else {
        emit1(j, (uint8_t)(0x48 | ((dst & 8) ? 1 : 0)));
        emit1(j, (uint8_t)(0xB8 | (dst & 7)));
        emit8(j, v);
    }
}

/* shift by constant: ext /4 shl, /5 shr, /7 sar */
static void shift_ri(struct jit *j, bool w, int ext, int dst, uint8_t n)
{
    if (n == 1) {
        emit_op(j, w ? W : 0, 0xD1, 1, ext, dst, 0);
    } else {
        emit_op(j, w ? W : 0, 0xC1, 1, ext, dst, 0);
        emit1(j, n);
    }
}

/* BMI2 shlx/shrx/sarx dst, dst, cnt (pp: 1 = 66 shlx, 2 = F3 sarx, 3 = F2 shrx) */
static void shiftx(struct jit *j, bool w, int pp, int dst, int cnt)
{
    emit1(j, 0xC4);
    emit1(j, (uint8_t)(((dst & 8) ? 0 : 0x80) | 0x40 | ((dst & 8) ? 0 : 0x20) | 0x02));
    emit1(j, (uint8_t)((w ? 0x80 : 0) | ((~cnt & 15) << 3) | pp));
    emit1(j, 0xF7);
    emit1(j, (uint8_t)(0xC0 | ((dst & 7) << 3) | (dst & 7)));
}

/* Jumps. A pass decides rel8/rel32 from the previous pass's offsets; the
 * jump is always the last bytes of its instruction's code, so its end is
 * end[i] of the previous pass. cc < 0 is an unconditional jmp. */
static void emit_jump(struct jit *j, int cc, uint32_t i, uint32_t target)
{
    int64_t disp = 0;
    bool near = false;
    if (j->sized) {
        disp = (int64_t)j->start[target] - (int64_t)j->end[i];
        near = !j->all_long && is_imm8(disp);
    }
    if (near) {
        emit1(j, cc < 0 ? 0xEB : (uint8_t)(0x70 | cc));
        emit1(j, (uint8_t)disp);
    } else if (cc < 0) {
        emit1(j, 0xE9);
        emit4(j, (uint32_t)disp);
    } else {
        emit2(j, 0x0F, (uint8_t)(0x80 | cc));
        emit4(j, (uint32_t)disp);
    }
}

/* Forward jump inside one instruction's code: emit jcc rel8 now, patch
 * the displacement once the label is reached. */
static size_t fwd_jcc(struct jit *j, int cc)
{
    emit1(j, cc < 0 ? 0xEB : (uint8_t)(0x70 | cc));
    emit1(j, 0);
    return j->len;
}

static void fwd_label(struct jit *j, size_t at)
{
    if (j->oom)
        return;
    j->buf[at - 1] = (uint8_t)(j->len - at);
}

/* call to an absolute address (helpers, tail-call callback). rel32 when the
 * whole mapping is within reach of the target, else through rax. */
static void emit_call_abs(struct jit *j, uintptr_t fn)
{
    if (j->base && !(j->opts & EBPF_JIT_NO_REL32)) {
        int64_t lo = (int64_t)fn - (int64_t)j->base;
        int64_t hi = (int64_t)fn - (int64_t)(j->base + j->base_len);
        if (lo > INT32_MIN + 4096 && lo < INT32_MAX - 4096 && hi > INT32_MIN + 4096 &&
            hi < INT32_MAX - 4096) {
            emit1(j, 0xE8);
            emit4(j, (uint32_t)(int32_t)((int64_t)fn - (int64_t)(j->base + j->len + 4)));
            return;
        }
    }
    mov_imm64(j, RAX, fn);
    emit2(j, 0xFF, 0xD0); /* call rax */
}

static void emit_prologue(struct jit *j)
{
    emit1(j, 0x55);       /* push rbp */
    emit1(j, 0x53);       /* push rbx */
    emit2(j, 0x41, 0x55); /* push r13 */
    emit2(j, 0x41, 0x56); /* push r14 */
    emit2(j, 0x41, 0x57); /* push r15 */
    emit1(j, 0x48);       /* mov rbp, rsp */
    emit2(j, 0x89, 0xE5);
    emit1(j, 0x48); /* sub rsp, 512 */
    emit2(j, 0x81, 0xEC);
    emit4(j, EBPF_STACK_SIZE);
}

static void emit_epilogue(struct jit *j)
{
    emit1(j, 0x48); /* mov rsp, rbp */
    emit2(j, 0x89, 0xEC);
    emit2(j, 0x41, 0x5F); /* pop r15 */
    emit2(j, 0x41, 0x5E); /* pop r14 */
    emit2(j, 0x41, 0x5D); /* pop r13 */
    emit1(j, 0x5B);       /* pop rbx */
    emit1(j, 0x5D);       /* pop rbp */
    emit1(j, 0xC3);       /* ret */
}

static void emit_thunk(struct jit *j)
{
    emit2(j, 0x41, 0x54); /* push r12 */
    emit1(j, 0x45);       /* xor r12d, r12d */
    emit2(j, 0x31, 0xE4);
    emit1(j, 0xE8); /* call F0 (offset 16) */
    emit4(j, THUNK_LEN - 10);
    emit2(j, 0x41, 0x5C); /* pop r12 */
    emit1(j, 0xC3);       /* ret */
    while (j->len < THUNK_LEN)
        emit1(j, 0xCC);
}

/* ---- instruction groups ---- */

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int log2u(uint64_t v)
{
    return 63 - __builtin_clzll(v);
}

/* 32-bit unsigned x / d and x % d for a constant d > 1 that is not a power
 * of two, with a multiply by a precomputed reciprocal instead of div
 * (Granlund-Montgomery): q = floor(x * m / 2^s). x is copied to r10 first,
 * q is built in r11.
 *   m < 2^32:        q = (x * m) >> s                 (x * m < 2^64)
 *   m = 2^32 + m':   q = (((x * m') >> 32) + x) >> (s - 32)   */
static void emit_udiv32_const(struct jit *j, bool mod, int dst, uint32_t d)
{
    int l = 64 - __builtin_clzll((uint64_t)d - 1); /* ceil(log2 d) */
    int s = 32 + l - 1;
    unsigned __int128 p = (unsigned __int128)1 << s;
    uint64_t m = (uint64_t)((p + d - 1) / d);
    bool wide = (unsigned __int128)m * d - p > ((unsigned __int128)1 << (s - 32));
    if (wide) {
        s = 32 + l;
        p = (unsigned __int128)1 << s;
        m = (uint64_t)((p + d - 1) / d); /* in (2^32, 2^33) */
    }
    mov_rr(j, false, R10, dst); /* x, zero-extended */
    if (!wide) {
        mov_imm64(j, R11, m);
        emit_op(j, W, 0x0FAF, 2, R11, R10, 0); /* imul r11, r10 */
        shift_ri(j, true, 5, R11, (uint8_t)s);
    } else {
        mov_imm64(j, R11, m - (1ull << 32));
        emit_op(j, W, 0x0FAF, 2, R11, R10, 0);
        shift_ri(j, true, 5, R11, 32);
        alu_rr(j, true, 0x01, R11, R10);
        if (s > 32)
            shift_ri(j, true, 5, R11, (uint8_t)(s - 32));
    }
    if (!mod) {
        mov_rr(j, false, dst, R11);
        return;
    }
    /* x - q * d, 32-bit */
    emit_op(j, 0, 0x69, 1, R11, R11, 0); /* imul r11d, r11d, d */
    emit4(j, d);
    alu_rr(j, false, 0x29, R10, R11); /* sub r10d, r11d */
    mov_rr(j, false, dst, R10);
}

/* dst = dst / src or dst % src (RFC 9669: x/0 = 0, x%0 = x, INT_MIN/-1 =
 * INT_MIN, INT_MIN%-1 = 0). src < 0 means the divisor is the constant imm. */
static void emit_divmod(struct jit *j, bool w, bool mod, bool sgn, int dst, int src, int32_t imm)
{
    bool nonzero = false, not_m1 = !sgn;
    if (src < 0) {
        uint64_t uv = w ? (uint64_t)(int64_t)imm : (uint64_t)(uint32_t)imm;
        if (imm == 0) {
            if (!mod)
                emit_op(j, 0, 0x31, 1, dst, dst, 0);
            else if (!w)
                zext32(j, dst);
            return;
        }
        if (!sgn && is_pow2(uv)) {
            if (mod) {
                if (uv - 1 <= INT32_MAX)
                    alu_ri(j, w, 4, dst, (int32_t)(uv - 1));
                else
                    goto general; /* 64-bit mask that does not fit imm32 */
            } else if (uv == 1) {
                if (!w)
                    zext32(j, dst);
            } else {
                shift_ri(j, w, 5, dst, (uint8_t)log2u(uv));
            }
            return;
        }
        if (sgn && (imm == -1 || imm == 1)) {
            if (mod)
                emit_op(j, 0, 0x31, 1, dst, dst, 0); /* x % +-1 = 0 */
            else if (imm == -1)
                emit_op(j, w ? W : 0, 0xF7, 1, 3, dst, 0); /* neg */
            else if (!w)
                zext32(j, dst);
            return;
        }
        if (!sgn && !w && !(j->opts & EBPF_JIT_NO_PEEPHOLE)) {
            emit_udiv32_const(j, mod, dst, (uint32_t)imm);
            return;
        }
    general:
        mov_imm64(j, R11, w ? (uint64_t)(int64_t)imm : (uint64_t)(uint32_t)imm);
        nonzero = true;
        not_m1 = true;
    } else {
        mov_rr(j, w, R11, src);
    }
    if (dst != RAX)
        mov_rr(j, true, R9, RAX);
    if (dst != RDX)
        mov_rr(j, true, R10, RDX);
    if (dst != RAX || !w)
        mov_rr(j, w, RAX, dst);
    size_t to_zero = 0, to_done = 0, to_normal = 0;
    if (!nonzero) {
        emit_op(j, w ? W : 0, 0x85, 1, R11, R11, 0); /* test r11, r11 */
        to_zero = fwd_jcc(j, CC_E);
    }
    if (!not_m1) {
        alu_ri(j, w, 7, R11, -1); /* cmp r11, -1 */
        to_normal = fwd_jcc(j, CC_NE);
        if (mod)
            emit_op(j, 0, 0x31, 1, RAX, RAX, 0);
        else
            emit_op(j, w ? W : 0, 0xF7, 1, 3, RAX, 0); /* neg */
        to_done = fwd_jcc(j, -1);
        fwd_label(j, to_normal);
    }
    if (sgn) {
        if (w)
            emit1(j, 0x48);
        emit1(j, 0x99);                            /* cqo / cdq */
        emit_op(j, w ? W : 0, 0xF7, 1, 7, R11, 0); /* idiv r11 */
    } else {
        emit_op(j, 0, 0x31, 1, RDX, RDX, 0);
        emit_op(j, w ? W : 0, 0xF7, 1, 6, R11, 0); /* div r11 */
    }
    if (mod)
        mov_rr(j, w, RAX, RDX);
    if (!nonzero) {
        size_t skip = fwd_jcc(j, -1);
        fwd_label(j, to_zero);
        if (!mod)
            emit_op(j, 0, 0x31, 1, RAX, RAX, 0);
        /* mod by zero: rax already holds dst (zero-extended for 32-bit) */
        fwd_label(j, skip);
    }
    if (to_done)
        fwd_label(j, to_done);
    if (dst != RAX) {
        mov_rr(j, true, dst, RAX);
        mov_rr(j, true, RAX, R9);
    }
    if (dst != RDX)
        mov_rr(j, true, RDX, R10);
}

/* dst <<= src etc. ext: /4 shl, /5 shr, /7 sar */
static void emit_shift_reg(struct jit *j, bool w, int ext, int dst, int src)
{
    if (j->bmi2) {
        shiftx(j, w, ext == 4 ? 1 : ext == 7 ? 2 : 3, dst, src);
        return;
    }
    if (src == RCX) {
        emit_op(j, w ? W : 0, 0xD3, 1, ext, dst, 0);
        return;
    }
    mov_rr(j, true, R11, RCX);
    mov_rr(j, false, RCX, src);
    if (dst == RCX) {
        emit_op(j, w ? W : 0, 0xD3, 1, ext, R11, 0);
        mov_rr(j, true, RCX, R11);
    } else {
        emit_op(j, w ? W : 0, 0xD3, 1, ext, dst, 0);
        mov_rr(j, true, RCX, R11);
    }
}

/* Can instructions i+1 .. i+n be folded into instruction i? Only if none of
 * them is entered from elsewhere. */
static bool fusable(const struct jit *j, uint32_t i, uint32_t n)
{
    if (j->opts & EBPF_JIT_NO_PEEPHOLE || i + n >= j->n)
        return false;
    for (uint32_t k = 1; k <= n; k++)
        if (j->flags[i + k] & (F_JUMP_TARGET | F_FUNC_ENTRY))
            return false;
    return true;
}

/* Address arithmetic clang emits for the eBPF target, folded into x86
 * addressing modes (instruction i is `rA = rB`, 64-bit):
 *   rA = rB; rA += rC; rA = *(size *)(rA + off)  ->  mov(zx/sx) A, [B + C + off]
 *   rA = rB; rA += rC                           ->  lea A, [B + C]
 *   rA = rB; rA += imm                          ->  lea A, [B + imm]
 *   rA = rB; rA <<= 32; rA >>= 32               ->  mov A32, B32
 * Returns the number of following instructions consumed, or -1. */
static int fuse_mov64(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    if (!fusable(j, i, 1))
        return -1;
    const struct ebpf_inst *n1 = &j->insts[i + 1];
    int a = xreg(in->dst), b = xreg(in->src);
    if (n1->dst != in->dst)
        return -1;
    if (n1->opcode == 0x0f) { /* rA += rC */
        int c = xreg(n1->src);
        if (n1->src == in->dst)
            c = b; /* rA = rB; rA += rA  ->  rB + rB */
        if (fusable(j, i, 2)) {
            const struct ebpf_inst *n2 = &j->insts[i + 2];
            if (n2->dst == in->dst && n2->src == in->dst) {
                int32_t off = n2->off;
                switch (n2->opcode) {
                case 0x71: emit_op_sib(j, 0, 0x0FB6, 2, a, b, c, 0, off); return 2;
                case 0x69: emit_op_sib(j, 0, 0x0FB7, 2, a, b, c, 0, off); return 2;
                case 0x61: emit_op_sib(j, 0, 0x8B, 1, a, b, c, 0, off); return 2;
                case 0x79: emit_op_sib(j, W, 0x8B, 1, a, b, c, 0, off); return 2;
                case 0x91: emit_op_sib(j, W, 0x0FBE, 2, a, b, c, 0, off); return 2;
                case 0x89: emit_op_sib(j, W, 0x0FBF, 2, a, b, c, 0, off); return 2;
                case 0x81: emit_op_sib(j, W, 0x63, 1, a, b, c, 0, off); return 2;
                }
            }
        }
        emit_op_sib(j, W, 0x8D, 1, a, b, c, 0, 0); /* lea */
        return 1;
    }
    if (n1->opcode == 0x07) { /* rA += imm */
        emit_op(j, W | MEM, 0x8D, 1, a, b, n1->imm);
        return 1;
    }
    if (n1->opcode == 0x67 && n1->imm == 32 && fusable(j, i, 2)) {
        const struct ebpf_inst *n2 = &j->insts[i + 2];
        if (n2->opcode == 0x77 && n2->dst == in->dst && n2->imm == 32) {
            mov_rr(j, false, a, b);
            return 2;
        }
    }
    return -1;
}

static int emit_alu(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    bool w = (in->opcode & 7) == 7;
    bool x = in->opcode & 0x08;
    int dst = xreg(in->dst);
    int src = xreg(in->src);
    int32_t imm = in->imm;
    uint8_t op = in->opcode & 0xf0;

    switch (op) {
    case 0x00:   /* add */
    case 0x10:   /* sub */
    case 0x40:   /* or */
    case 0x50:   /* and */
    case 0xa0: { /* xor */
        static const uint8_t rr[16] = {
            [0x0] = 0x01, [0x1] = 0x29, [0x4] = 0x09, [0x5] = 0x21, [0xa] = 0x31};
        static const uint8_t ext[16] = {[0x0] = 0, [0x1] = 5, [0x4] = 1, [0x5] = 4, [0xa] = 6};
        if (x) {
            alu_rr(j, w, rr[op >> 4], dst, src);
        } else if (imm == 0 && op != 0x50) {
            if (!w)
                zext32(j, dst);
        } else if (imm == 0 && op == 0x50) {
            emit_op(j, 0, 0x31, 1, dst, dst, 0);
        } else if (imm == -1 && op == 0x50) {
            if (!w)
                zext32(j, dst);
        } else {
            alu_ri(j, w, ext[op >> 4], dst, imm);
        }
        return 0;
    }
    case 0x20: /* mul */
        if (x) {
            emit_op(j, w ? W : 0, 0x0FAF, 2, dst, src, 0);
        } else if (imm == 0) {
            emit_op(j, 0, 0x31, 1, dst, dst, 0);
        } else if (imm == 1) {
            if (!w)
                zext32(j, dst);
        } else if (imm > 0 && is_pow2((uint64_t)imm)) {
            shift_ri(j, w, 4, dst, (uint8_t)log2u((uint64_t)imm));
        } else if (is_imm8(imm)) {
            emit_op(j, w ? W : 0, 0x6B, 1, dst, dst, 0);
            emit1(j, (uint8_t)imm);
        } else {
            emit_op(j, w ? W : 0, 0x69, 1, dst, dst, 0);
            emit4(j, (uint32_t)imm);
        }
        return 0;
    case 0x30: /* div */
    case 0x90: /* mod */
        if (in->off != 0 && in->off != 1)
            return -1;
        emit_divmod(j, w, op == 0x90, in->off == 1, dst, x ? src : -1, imm);
        return 0;
    case 0x80: /* neg */ emit_op(j, w ? W : 0, 0xF7, 1, 3, dst, 0); return 0;
    case 0x60:   /* lsh */
    case 0x70:   /* rsh */
    case 0xc0: { /* arsh */
        int e = op == 0x60 ? 4 : op == 0x70 ? 5 : 7;
        if (x) {
            emit_shift_reg(j, w, e, dst, src);
            return 0;
        }
        uint8_t n = (uint8_t)(imm & (w ? 63 : 31));
        if (n == 0) {
            if (!w)
                zext32(j, dst);
            return 0;
        }
        /* clang's zero/sign extension idiom: lsh 32; rsh/arsh 32 */
        if (w && op == 0x60 && n == 32 && i + 1 < j->n && !(j->opts & EBPF_JIT_NO_PEEPHOLE) &&
            !(j->flags[i + 1] & (F_JUMP_TARGET | F_FUNC_ENTRY))) {
            const struct ebpf_inst *nx = &j->insts[i + 1];
            if ((nx->opcode == 0x77 || nx->opcode == 0xc7) && nx->dst == in->dst && nx->imm == 32) {
                if (nx->opcode == 0x77)
                    zext32(j, dst);
                else
                    emit_op(j, W, 0x63, 1, dst, dst, 0); /* movsxd */
                return 1;
            }
        }
        shift_ri(j, w, e, dst, n);
        return 0;
    }
    case 0xb0: /* mov */
        if (!x) {
            if (w)
                mov_imm64(j, dst, (uint64_t)(int64_t)imm);
            else
                mov_imm64(j, dst, (uint64_t)(uint32_t)imm);
            return 0;
        }
        switch (in->off) {
        case 0:
            if (w) {
                int n = fuse_mov64(j, i);
                if (n >= 0)
                    return n;
            }
            if (!w || dst != src)
                mov_rr(j, w, dst, src);
            return 0;
        case 8: emit_op(j, (w ? W : 0) | BRM, 0x0FBE, 2, dst, src, 0); return 0;
        case 16: emit_op(j, w ? W : 0, 0x0FBF, 2, dst, src, 0); return 0;
        case 32:
            if (!w)
                return -1;
            emit_op(j, W, 0x63, 1, dst, src, 0);
            return 0;
        }
        return -1;
    case 0xd0:                    /* byte swap */
        if (in->opcode == 0xd4) { /* to little endian: truncate */
            if (imm == 16)
                emit_op(j, 0, 0x0FB7, 2, dst, dst, 0);
            else if (imm == 32)
                zext32(j, dst);
            else if (imm != 64)
                return -1;
            return 0;
        }
        /* 0xdc to big endian, 0xd7 unconditional bswap */
        if (imm == 16) {
            emit_op(j, P66, 0xC1, 1, 1, dst, 0); /* ror r16, 8 */
            emit1(j, 8);
            emit_op(j, 0, 0x0FB7, 2, dst, dst, 0);
        } else if (imm == 32 || imm == 64) {
            if (imm == 64 || (dst & 8))
                emit1(j, (uint8_t)(0x40 | (imm == 64 ? 8 : 0) | ((dst & 8) ? 1 : 0)));
            emit2(j, 0x0F, (uint8_t)(0xC8 | (dst & 7)));
        } else {
            return -1;
        }
        return 0;
    }
    return -1;
}

static int emit_jmp(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    bool w = (in->opcode & 7) == 5;
    uint8_t op = in->opcode & 0xf0;
    int dst = xreg(in->dst);
    int src = xreg(in->src);

    if (op == 0x00) { /* ja */
        int64_t t = (int64_t)i + 1 + (w ? in->off : in->imm);
        if (t != (int64_t)i + 1)
            emit_jump(j, -1, i, (uint32_t)t);
        return 0;
    }
    int cc;
    switch (op) {
    case 0x10: cc = CC_E; break;
    case 0x20: cc = CC_A; break;
    case 0x30: cc = CC_AE; break;
    case 0x40: cc = CC_NE; break; /* jset: test, jnz */
    case 0x50: cc = CC_NE; break;
    case 0x60: cc = CC_G; break;
    case 0x70: cc = CC_GE; break;
    case 0xa0: cc = CC_B; break;
    case 0xb0: cc = CC_BE; break;
    case 0xc0: cc = CC_L; break;
    case 0xd0: cc = CC_LE; break;
    default: return -1;
    }
    uint32_t t = (uint32_t)((int64_t)i + 1 + in->off);
    if (t == i + 1)
        return 0; /* flags are not eBPF state: nothing to do */
    if (in->opcode & 0x08) {
        alu_rr(j, w, op == 0x40 ? 0x85 : 0x39, dst, src);
    } else if (op == 0x40) {
        emit_op(j, w ? W : 0, 0xF7, 1, 0, dst, 0); /* test r, imm32 */
        emit4(j, (uint32_t)in->imm);
    } else if (in->imm == 0) {
        alu_rr(j, w, 0x85, dst, dst); /* test r, r: same flags as cmp r, 0 */
    } else {
        alu_ri(j, w, 7, dst, in->imm);
    }
    emit_jump(j, cc, i, t);
    return 0;
}

static void emit_tail_call(struct jit *j)
{
    /* r1 = ctx (rdi), r2 = map (rsi), r3 = index (rdx) */
    emit_op(j, 0, 0x83, 1, 7, R12, 0); /* cmp r12d, 33 */
    emit1(j, EBPF_MAX_TAIL_CALLS);
    size_t f1 = fwd_jcc(j, CC_AE);
    mov_imm64(j, R11, (uintptr_t)j->vm);
    emit_op(j, W | MEM, 0x8B, 1, RAX, R11, (int32_t)offsetof(struct ebpf_vm, tail_call));
    emit_op(j, W, 0x85, 1, RAX, RAX, 0);
    size_t f2 = fwd_jcc(j, CC_E);
    emit1(j, 0x57); /* push rdi (twice: keeps rsp 16-aligned) */
    emit1(j, 0x57);
    emit_op(j, W | MEM, 0x8B, 1, RDI, R11, (int32_t)offsetof(struct ebpf_vm, tail_call_user));
    emit2(j, 0xFF, 0xD0); /* call rax */
    emit1(j, 0x5F);
    emit1(j, 0x5F);
    emit_op(j, W, 0x85, 1, RAX, RAX, 0);
    size_t f3 = fwd_jcc(j, CC_E);
    emit_op(j, W | MEM, 0x8B, 1, RAX, RAX, (int32_t)offsetof(struct ebpf_vm, jit_code));
    emit_op(j, W, 0x85, 1, RAX, RAX, 0);
    size_t f4 = fwd_jcc(j, CC_E);
    emit_op(j, 0, 0xFF, 1, 0, R12, 0); /* inc r12d */
    alu_ri(j, true, 0, RAX, EBPF_JIT_TAIL_ENTRY_OFFSET);
    emit2(j, 0xFF, 0xE0); /* jmp rax */
    fwd_label(j, f1);
    fwd_label(j, f2);
    fwd_label(j, f3);
    fwd_label(j, f4);
    mov_imm64(j, RAX, (uint64_t)(int64_t)-ENOENT);
}

static const struct inline_site *find_inline_site(const struct jit *j, uint32_t i)
{
    uint32_t lo = 0, hi = j->ninl;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (j->inl[mid].insn < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < j->ninl && j->inl[lo].insn == i ? &j->inl[lo] : NULL;
}

/* bpf_map_lookup_elem(array, key) inline: r2 (rsi) points to the u32 key;
 * r0 = key < max_entries ? values + key * stride : 0. r1-r5 are dead after
 * a call, so rsi is free scratch; r6-r9, r10 and the stack are untouched. */
static void emit_array_lookup(struct jit *j, const struct ebpf_array_inline *a)
{
    emit_op(j, MEM, 0x8B, 1, RSI, RSI, 0);             /* mov esi, [rsi] */
    emit_op(j, 0, 0x31, 1, RAX, RAX, 0);               /* xor eax, eax (before cmp) */
    alu_ri(j, false, 7, RSI, (int32_t)a->max_entries); /* cmp esi, max_entries */
    size_t out = fwd_jcc(j, CC_AE);
    uint32_t st = a->stride;
    int scale = 0;
    if (st == 1 || st == 2 || st == 4 || st == 8) {
        scale = log2u(st);
    } else if (is_pow2(st)) {
        shift_ri(j, true, 4, RSI, (uint8_t)log2u(st));
    } else if (st != 0) {
        if (is_imm8((int32_t)st)) { /* imul rsi, rsi, stride */
            emit_op(j, W, 0x6B, 1, RSI, RSI, 0);
            emit1(j, (uint8_t)st);
        } else {
            emit_op(j, W, 0x69, 1, RSI, RSI, 0);
            emit4(j, st);
        }
    }
    mov_imm64(j, RAX, a->values);
    if (st != 0)
        emit_op_sib(j, W, 0x8D, 1, RAX, RAX, RSI, scale, 0); /* lea rax, [rax + rsi*s] */
    fwd_label(j, out);
}

static int emit_call(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    if (in->src == 1) {
        uint32_t t = (uint32_t)((int64_t)i + 1 + in->imm);
        int64_t disp = 0;
        if (j->sized)
            disp = (int64_t)j->start[t] - PROLOGUE_LEN - (int64_t)j->end[i];
        emit1(j, 0xE8);
        emit4(j, (uint32_t)disp);
        return 0;
    }
    if (in->src != 0)
        return -1;
    uint32_t id = (uint32_t)in->imm;
    if (id == EBPF_HELPER_TAIL_CALL) {
        emit_tail_call(j);
        return 0;
    }
    if (id == EBPF_HELPER_MAP_LOOKUP && j->ninl) {
        const struct inline_site *site = find_inline_site(j, i);
        if (site) {
            emit_array_lookup(j, &site->a);
            return 0;
        }
    }
    if (id >= EBPF_MAX_HELPERS || !j->vm->helpers[id]) {
        j->err_what = "call to unregistered helper";
        return -1;
    }
    emit_call_abs(j, (uintptr_t)j->vm->helpers[id]);
    return 0;
}

/* callx dst: r0 = helpers[dst](r1..r5) when dst names a registered helper
 * (not the tail call), else r0 = -ENOENT without a call, as the interpreter.
 * The table is read at run time: r9 (scratch) holds the id, r11 the table. */
static void emit_callx(struct jit *j, const struct ebpf_inst *in)
{
    mov_rr(j, true, R9, xreg(in->dst));
    alu_ri(j, true, 7, R9, EBPF_MAX_HELPERS); /* cmp r9, max */
    size_t out_of_range = fwd_jcc(j, CC_AE);
    alu_ri(j, true, 7, R9, EBPF_HELPER_TAIL_CALL);
    size_t tail = fwd_jcc(j, CC_E);
    mov_imm64(j, R11, (uintptr_t)j->vm->helpers);
    emit_op_sib(j, W, 0x8B, 1, RAX, R11, R9, 3, 0); /* mov rax, [r11 + r9*8] */
    emit_op(j, W, 0x85, 1, RAX, RAX, 0);
    size_t none = fwd_jcc(j, CC_E);
    emit2(j, 0xFF, 0xD0); /* call rax */
    size_t done = fwd_jcc(j, -1);
    fwd_label(j, out_of_range);
    fwd_label(j, tail);
    fwd_label(j, none);
    mov_imm64(j, RAX, (uint64_t)(int64_t)-ENOENT);
    fwd_label(j, done);
}

static int emit_mem(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    uint8_t cls = in->opcode & 7, size = in->opcode & 0x18, mode = in->opcode & 0xe0;
    int dst = xreg(in->dst);
    int src = xreg(in->src);
    int32_t off = in->off;

    if (cls == 1) { /* LDX */
        if (mode == 0x60) {
            switch (size) {
            case 0x10: emit_op(j, MEM, 0x0FB6, 2, dst, src, off); return 0;
            case 0x08: emit_op(j, MEM, 0x0FB7, 2, dst, src, off); return 0;
            case 0x00: emit_op(j, MEM, 0x8B, 1, dst, src, off); return 0;
            case 0x18: emit_op(j, W | MEM, 0x8B, 1, dst, src, off); return 0;
            }
        } else if (mode == 0x80) {
            switch (size) {
            case 0x10: emit_op(j, W | MEM, 0x0FBE, 2, dst, src, off); return 0;
            case 0x08: emit_op(j, W | MEM, 0x0FBF, 2, dst, src, off); return 0;
            case 0x00: emit_op(j, W | MEM, 0x63, 1, dst, src, off); return 0;
            }
        }
        return -1;
    }
    if (cls == 2) { /* ST imm */
        if (mode != 0x60)
            return -1;
        switch (size) {
        case 0x10:
            emit_op(j, MEM, 0xC6, 1, 0, dst, off);
            emit1(j, (uint8_t)in->imm);
            return 0;
        case 0x08:
            emit_op(j, P66 | MEM, 0xC7, 1, 0, dst, off);
            emit2(j, (uint8_t)in->imm, (uint8_t)(in->imm >> 8));
            return 0;
        case 0x00:
            emit_op(j, MEM, 0xC7, 1, 0, dst, off);
            emit4(j, (uint32_t)in->imm);
            return 0;
        case 0x18:
            emit_op(j, W | MEM, 0xC7, 1, 0, dst, off);
            emit4(j, (uint32_t)in->imm);
            return 0;
        }
        return -1;
    }
    /* STX */
    if (mode == 0x60) {
        switch (size) {
        case 0x10: emit_op(j, BREG | MEM, 0x88, 1, src, dst, off); return 0;
        case 0x08: emit_op(j, P66 | MEM, 0x89, 1, src, dst, off); return 0;
        case 0x00: emit_op(j, MEM, 0x89, 1, src, dst, off); return 0;
        case 0x18: emit_op(j, W | MEM, 0x89, 1, src, dst, off); return 0;
        }
        return -1;
    }
    if (mode != 0xc0 || (size != 0x00 && size != 0x18))
        return -1;
    unsigned w = size == 0x18 ? W : 0;
    switch (in->imm) {
    case 0x00: emit_op(j, w | LOCK | MEM, 0x01, 1, src, dst, off); return 0;
    case 0x40: emit_op(j, w | LOCK | MEM, 0x09, 1, src, dst, off); return 0;
    case 0x50: emit_op(j, w | LOCK | MEM, 0x21, 1, src, dst, off); return 0;
    case 0xa0: emit_op(j, w | LOCK | MEM, 0x31, 1, src, dst, off); return 0;
    case 0x01: emit_op(j, w | LOCK | MEM, 0x0FC1, 2, src, dst, off); return 0; /* xadd */
    case 0xe1: emit_op(j, w | MEM, 0x87, 1, src, dst, off); return 0;          /* xchg */
    case 0xf1:
        emit_op(j, w | LOCK | MEM, 0x0FB1, 2, src, dst, off); /* cmpxchg */
        if (!w)
            zext32(j, RAX); /* success leaves eax unwritten: clear the top half */
        return 0;
    case 0x41:
    case 0x51:
    case 0xa1: {
        /* fetch-or/and/xor: cmpxchg loop, rax is the comparand */
        uint8_t opc = in->imm == 0x41 ? 0x09 : in->imm == 0x51 ? 0x21 : 0x31;
        emit_op(j, W | MEM, 0x8D, 1, R11, dst, off); /* lea r11, [dst+off] */
        mov_rr(j, true, R9, RAX);
        int operand = src == RAX ? R9 : src;
        emit_op(j, w | MEM, 0x8B, 1, RAX, R11, 0);
        size_t loop = j->len;
        mov_rr(j, w, R10, RAX);
        alu_rr(j, w, opc, R10, operand);
        emit_op(j, w | LOCK | MEM, 0x0FB1, 2, R10, R11, 0);
        emit1(j, 0x70 | CC_NE);
        emit1(j, (uint8_t)(int8_t)((int64_t)loop - (int64_t)(j->len + 1)));
        if (src != RAX) {
            mov_rr(j, w, src, RAX);
            mov_rr(j, true, RAX, R9);
        }
        return 0;
    }
    }
    return -1;
}

/* One pass over the program; returns 0 or -1 with j->err_insn set. */
static int emit_pass(struct jit *j)
{
    j->len = 0;
    emit_thunk(j);
    for (uint32_t i = 0; i < j->n; i++) {
        const struct ebpf_inst *in = &j->insts[i];
        if (j->flags[i] & F_FUNC_ENTRY)
            emit_prologue(j);
        j->nstart[i] = (uint32_t)j->len;
        int rc = 0;
        switch (in->opcode & 7) {
        case 0: /* LD: only lddw */
            if (in->opcode != 0x18 || i + 1 >= j->n) {
                rc = -1;
                break;
            }
            mov_imm64(j, xreg(in->dst),
                      (uint64_t)(uint32_t)in->imm | ((uint64_t)(uint32_t)in[1].imm << 32));
            rc = 1;
            break;
        case 1:
        case 2:
        case 3: rc = emit_mem(j, i); break;
        case 4:
        case 7: rc = emit_alu(j, i); break;
        case 5:
        case 6:
            if (in->opcode == 0x85)
                rc = emit_call(j, i);
            else if (in->opcode == 0x8d)
                emit_callx(j, in);
            else if (in->opcode == 0x95)
                emit_epilogue(j);
            else
                rc = emit_jmp(j, i);
            break;
        }
        if (rc < 0) {
            j->err_insn = (int)i;
            return -1;
        }
        j->nend[i] = (uint32_t)j->len;
        for (; rc > 0; rc--) { /* following slots consumed (lddw, fused instructions) */
            i++;
            j->nstart[i] = j->nend[i] = (uint32_t)j->len;
        }
    }
    return j->oom ? -2 : 0;
}

/* Runs passes until the sizes are stable. */
static int converge(struct jit *j)
{
    size_t prev = SIZE_MAX;
    for (int pass = 0; pass < MAX_PASSES; pass++) {
        int rc = emit_pass(j);
        if (rc)
            return rc;
        uint32_t *t = j->start;
        j->start = j->nstart;
        j->nstart = t;
        t = j->end;
        j->end = j->nend;
        j->nend = t;
        bool stable = j->sized && j->len == prev;
        j->sized = true;
        if (stable)
            return 0;
        prev = j->len;
    }
    /* Not converged (never seen): fall back to the all-rel32 layout. */
    j->all_long = true;
    for (int pass = 0; pass < 2; pass++) {
        int rc = emit_pass(j);
        if (rc)
            return rc;
        memcpy(j->start, j->nstart, j->n * sizeof *j->start);
        memcpy(j->end, j->nend, j->n * sizeof *j->end);
    }
    return -3;
}

static int scan(struct jit *j)
{
    j->flags[0] |= F_FUNC_ENTRY;
    for (uint32_t i = 0; i < j->n; i++) {
        const struct ebpf_inst *in = &j->insts[i];
        uint8_t cls = in->opcode & 7;
        if (in->opcode == 0x18) {
            i++;
            continue;
        }
        if (cls != 5 && cls != 6)
            continue;
        int64_t t;
        if (in->opcode == 0x85) {
            if (in->src != 1)
                continue;
            t = (int64_t)i + 1 + in->imm;
            if (t < 0 || t >= j->n)
                return (int)i;
            j->flags[t] |= F_FUNC_ENTRY;
            continue;
        }
        if (in->opcode == 0x95)
            continue;
        t = (int64_t)i + 1 + (in->opcode == 0x06 ? in->imm : in->off);
        if (t < 0 || t >= j->n)
            return (int)i;
        j->flags[t] |= F_JUMP_TARGET;
    }
    return -1;
}

/* May instruction `in` change r1? Conservative: anything but a store,
 * or an ALU/load into another register, counts as a write. */
static bool may_write_r1(const struct ebpf_inst *in)
{
    switch (in->opcode & 7) {
    case 1: /* LDX */
    case 4: /* ALU */
    case 7: /* ALU64 */ return in->dst == 1;
    case 2: /* ST imm */ return false;
    case 3: /* STX; atomics with fetch write their src register */
        return (in->opcode & 0xe0) == 0xc0 && (in->src == 1 || in->dst == 1);
    default: /* LD, jumps, calls, exit */ return true;
    }
}

/* Finds the `call 1` sites whose r1 is a constant map pointer loaded by an
 * lddw earlier in the same basic block (no jump target, function entry,
 * jump or call in between, no other write to r1), and asks the map_inline
 * callback about each. Runs once, after scan(). Returns 0 or -1 (OOM). */
static int find_inline_sites(struct jit *j)
{
    if (!j->vm->map_inline || (j->opts & EBPF_JIT_NO_INLINE))
        return 0;
    uint32_t cap = 0;
    bool known = false;
    uint64_t r1 = 0;
    for (uint32_t i = 0; i < j->n; i++) {
        const struct ebpf_inst *in = &j->insts[i];
        if (j->flags[i] & (F_JUMP_TARGET | F_FUNC_ENTRY))
            known = false;
        if (in->opcode == 0x18) {
            if (in->dst == 1) {
                known = in->src == 0 && i + 1 < j->n;
                if (known)
                    r1 = (uint64_t)(uint32_t)in->imm | ((uint64_t)(uint32_t)in[1].imm << 32);
            }
            i++;
            continue;
        }
        if (known && in->opcode == 0x85 && in->src == 0 && in->imm == EBPF_HELPER_MAP_LOOKUP) {
            struct ebpf_array_inline a = {0};
            if (j->vm->map_inline(j->vm->map_inline_user, r1, &a) && a.stride <= INT32_MAX) {
                if (j->ninl == cap) {
                    cap = cap ? cap * 2 : 8;
                    struct inline_site *v = realloc(j->inl, cap * sizeof *v);
                    if (!v)
                        return -1;
                    j->inl = v;
                }
                j->inl[j->ninl++] = (struct inline_site){.insn = i, .a = a};
            }
        }
        if (may_write_r1(in))
            known = false;
    }
    return 0;
}

static bool cpu_has_bmi2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("bmi2");
}

int ebpf_jit_x86_64_compile_opts(struct ebpf_vm *vm, unsigned opts)
{
    struct jit j = {0};
    int rc = 0;
    if (!vm->insts || vm->num_insts == 0)
        return bpftime_set_error(-EINVAL, "jit: no program loaded");
    j.vm = vm;
    j.insts = vm->insts;
    j.n = vm->num_insts;
    j.opts = opts;
    j.bmi2 = !(opts & EBPF_JIT_NO_BMI2) && cpu_has_bmi2();
    j.err_insn = -1;
    j.flags = calloc(j.n, 1);
    j.start = calloc(j.n, sizeof(uint32_t));
    j.end = calloc(j.n, sizeof(uint32_t));
    j.nstart = calloc(j.n, sizeof(uint32_t));
    j.nend = calloc(j.n, sizeof(uint32_t));
    void *map = MAP_FAILED;
    size_t map_len = 0;
    if (!j.flags || !j.start || !j.end || !j.nstart || !j.nend) {
        rc = bpftime_set_error(-ENOMEM, "jit: out of memory");
        goto out;
    }
    int bad = scan(&j);
    if (bad >= 0) {
        rc = bpftime_set_error(-EINVAL, "jit: jump or call target out of range at instruction %d",
                               bad);
        goto out;
    }
    if (find_inline_sites(&j) < 0) {
        rc = bpftime_set_error(-ENOMEM, "jit: out of memory");
        goto out;
    }

    /* Size with absolute helper calls, map near the library so helper
     * calls can be rel32, then settle the layout for that address. */
    int r = converge(&j);
    if (r == -3)
        r = 0;
    if (r == 0) {
        long page = sysconf(_SC_PAGESIZE);
        map_len = (j.len + (size_t)page - 1) & ~((size_t)page - 1);
        uintptr_t hint = ((uintptr_t)&ebpf_jit_x86_64_compile_opts & ~((uintptr_t)page - 1));
        hint = hint > (512u << 20) ? hint - (256u << 20) : 0;
        map =
            mmap((void *)hint, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED) {
            rc = bpftime_set_error(-ENOMEM, "jit: mmap of %zu bytes failed", map_len);
            goto out;
        }
        j.base = (uintptr_t)map;
        j.base_len = map_len;
        r = converge(&j);
        if (r == -3)
            r = 0;
    }
    if (r == -2) {
        rc = bpftime_set_error(-ENOMEM, "jit: out of memory");
        goto out;
    }
    if (r < 0) {
        char text[64];
        ebpf_insn_format(vm->insts, vm->num_insts, (uint32_t)j.err_insn, text, sizeof text);
        rc = bpftime_set_error(-EINVAL, "jit: %s at instruction %d: %s",
                               j.err_what ? j.err_what : "unsupported instruction", j.err_insn,
                               text);
        goto out;
    }
    if (j.len > map_len) { /* cannot happen: the second layout only shrinks */
        rc = bpftime_set_error(-EINVAL, "jit: code grew after placement");
        goto out;
    }
    memcpy(map, j.buf, j.len);
    if (mprotect(map, map_len, PROT_READ | PROT_EXEC) != 0) {
        rc = bpftime_set_error(-errno, "jit: mprotect R+X failed");
        goto out;
    }
    vm->jit_code = map;
    vm->jit_size = j.len;
    vm->jit_alloc = map_len;
    vm->jit_entry = (ebpf_jit_fn)map;
    map = MAP_FAILED;
out:
    if (map != MAP_FAILED)
        munmap(map, map_len);
    free(j.buf);
    free(j.inl);
    free(j.flags);
    free(j.start);
    free(j.end);
    free(j.nstart);
    free(j.nend);
    return rc;
}

int ebpf_jit_x86_64_compile(struct ebpf_vm *vm)
{
    return ebpf_jit_x86_64_compile_opts(vm, 0);
}
