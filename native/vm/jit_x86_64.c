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
 * The main function (and any function containing a tail call) has this full
 * prologue and epilogue (mov rsp,rbp; pop r15,r14,r13,rbx,rbp; ret); other
 * bpf-to-bpf callees save only what they use (frame_of), behind nops that
 * keep every prologue PROLOGUE_LEN bytes long. So a function's own 512-byte
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
#define F_LOOP_HEAD 4 /* target of a backward jump */

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
    unsigned frame;          /* FR_* of the function being emitted */
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

/* What a function's prologue saves (FR_* bits). The main function always
 * has the full frame: tail calls enter a program past its prologue
 * (EBPF_JIT_TAIL_ENTRY_OFFSET) and its exit pops the full set. */
#define FR_R6 0x01    /* rbx */
#define FR_R7 0x02    /* r13 */
#define FR_R8 0x04    /* r14 */
#define FR_R9 0x08    /* r15 */
#define FR_STACK 0x10 /* rbp + 512-byte eBPF frame (r10) */
#define FR_FULL (FR_R6 | FR_R7 | FR_R8 | FR_R9 | FR_STACK)
#define FR_CALLS 0x20 /* makes calls: rsp must be 16-byte aligned in the body */

/* A bpf-to-bpf callee saves only the callee-saved registers it writes and
 * sets up rbp and its 512-byte frame only if it uses r10: r6-r9 and r10 are
 * preserved for the caller either way, and a leaf like `return x * k` is a
 * bare call. A callee containing a tail call keeps the full frame (the
 * target's exit pops it). Conservative: any definition of r6-r9 by an ALU
 * op, a load or an atomic's fetch counts as a write. */
static unsigned frame_of(const struct jit *j, uint32_t entry)
{
    if (entry == 0 || (j->opts & EBPF_JIT_NO_PEEPHOLE))
        return FR_FULL;
    unsigned fr = 0;
    for (uint32_t i = entry; i < j->n && (i == entry || !(j->flags[i] & F_FUNC_ENTRY)); i++) {
        const struct ebpf_inst *in = &j->insts[i];
        uint8_t cls = in->opcode & 7;
        if (in->dst == 10 || in->src == 10)
            fr |= FR_STACK;
        if (in->opcode == 0x85 && in->src == 0 && in->imm == EBPF_HELPER_TAIL_CALL)
            return FR_FULL;
        if (cls == 5 && (in->opcode & 0xf0) == 0x80)
            fr |= FR_CALLS;
        if ((cls == 0 || cls == 1 || cls == 4 || cls == 7) && in->dst >= 6 && in->dst <= 9)
            fr |= FR_R6 << (in->dst - 6);
        if (cls == 3 && (in->opcode & 0xe0) == 0xc0 && in->src >= 6 && in->src <= 9)
            fr |= FR_R6 << (in->src - 6); /* atomic with fetch writes src */
        if (in->opcode == 0x18)
            i++;
    }
    return fr;
}

static void emit_nops(struct jit *j, int n)
{
    static const uint8_t nop[9][9] = {
        {0x90},
        {0x66, 0x90},
        {0x0F, 0x1F, 0x00},
        {0x0F, 0x1F, 0x40, 0x00},
        {0x0F, 0x1F, 0x44, 0x00, 0x00},
        {0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00},
        {0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00},
        {0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
        {0x66, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
    };
    while (n > 0) {
        int k = n > 9 ? 9 : n;
        for (int b = 0; b < k; b++)
            emit1(j, nop[k - 1][b]);
        n -= k;
    }
}

static int frame_pushes(unsigned fr)
{
    return __builtin_popcount(fr & FR_FULL);
}

/* Bytes below the pushes: the eBPF frame, plus 8 when needed to keep rsp
 * 16-byte aligned in the body (entry is at 8 mod 16). */
static int32_t frame_alloc(unsigned fr)
{
    int32_t a = (fr & FR_STACK) ? EBPF_STACK_SIZE : 0;
    return frame_pushes(fr) % 2 == 0 && (fr & (FR_CALLS | FR_STACK)) ? a + 8 : a;
}

/* The registers a frame may save, in push order. */
static const struct {
    unsigned bit;
    uint8_t reg;
} FRAME_SAVED[5] = {{FR_STACK, RBP}, {FR_R6, RBX}, {FR_R7, R13}, {FR_R8, R14}, {FR_R9, R15}};

/* push (0x50) or pop (0x58) of a 64-bit register */
static void push_pop(struct jit *j, int reg, uint8_t op)
{
    if (reg & 8)
        emit1(j, 0x41);
    emit1(j, (uint8_t)(op | (reg & 7)));
}

/* Bytes of the prologue proper (without its leading nops). */
static int prologue_bytes(unsigned fr)
{
    int32_t alloc = frame_alloc(fr);
    return (fr & FR_STACK ? 1 : 0) + (fr & FR_R6 ? 1 : 0) +
           2 * frame_pushes(fr & ~(FR_R6 | FR_STACK)) + (fr & FR_STACK ? 3 : 0) +
           (alloc == 0       ? 0
            : is_imm8(alloc) ? 4
                             : 7);
}

/* Always PROLOGUE_LEN bytes (a shorter one is preceded by nops), so any
 * call may land PROLOGUE_LEN bytes before the first instruction whatever
 * the callee saves; emit_call skips the nops. */
static void emit_prologue(struct jit *j, unsigned fr)
{
    int32_t alloc = frame_alloc(fr);
    int n = prologue_bytes(fr);
    emit_nops(j, PROLOGUE_LEN - n);
    for (int k = 0; k < 5; k++) /* push rbp, rbx, r13, r14, r15 */
        if (fr & FRAME_SAVED[k].bit)
            push_pop(j, FRAME_SAVED[k].reg, 0x50);
    if (fr & FR_STACK) {
        emit1(j, 0x48); /* mov rbp, rsp */
        emit2(j, 0x89, 0xE5);
    }
    if (alloc)
        alu_ri(j, true, 5, RSP, alloc); /* sub rsp, alloc */
}

static void emit_epilogue(struct jit *j, unsigned fr)
{
    if (fr & FR_STACK) {
        emit1(j, 0x48); /* mov rsp, rbp */
        emit2(j, 0x89, 0xEC);
    } else if (frame_alloc(fr)) {
        alu_ri(j, true, 0, RSP, frame_alloc(fr)); /* add rsp, alloc */
    }
    for (int k = 4; k >= 0; k--) /* pop r15, r14, r13, rbx, rbp */
        if (fr & FRAME_SAVED[k].bit)
            push_pop(j, FRAME_SAVED[k].reg, 0x58);
    emit1(j, 0xC3); /* ret */
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

/* Does instruction `in` read eBPF register r? (conservative: yes if unsure) */
static bool reads_reg(const struct ebpf_inst *in, unsigned r)
{
    uint8_t cls = in->opcode & 7, op = in->opcode & 0xf0;
    switch (cls) {
    case 0: return false; /* lddw */
    case 1: return in->src == r;
    case 2: return in->dst == r;
    case 3: return in->dst == r || in->src == r || ((in->opcode & 0xe0) == 0xc0 && r == 0);
    case 4:
    case 7:
        if (op == 0xb0) /* mov */
            return (in->opcode & 0x08) && in->src == r;
        return in->dst == r || ((in->opcode & 0x08) && in->src == r);
    default: /* jumps, calls, exit */
        if (in->opcode == 0x95)
            return r == 0;
        if ((in->opcode & 0xf0) == 0x80) /* call, and callx (its target in a register) */
            return r <= 5 || in->dst == r || in->src == r;
        return in->dst == r || ((in->opcode & 0x08) && in->src == r);
    }
}

/* State of one liveness question: a step budget and the jump targets
 * already being explored (a path that comes back to one adds nothing). */
struct live_walk {
    int budget;
    int nseen;
    uint32_t seen[32];
};

/* Is eBPF register r dead on entry to instruction k, i.e. written before it
 * is read on every path (or at exit, for r1-r9)? Follows both sides of
 * conditional jumps, around loops, within a small budget; anything unclear
 * counts as live. After a call r1-r5 hold nothing a verified program may
 * read. */
static bool dead_walk(const struct jit *j, uint32_t k, unsigned r, struct live_walk *w)
{
    while (k < j->n) {
        if (--w->budget < 0)
            return false;
        const struct ebpf_inst *in = &j->insts[k];
        if (reads_reg(in, r))
            return false;
        uint8_t cls = in->opcode & 7;
        if (in->opcode == 0x95)
            return true; /* r0 was read above */
        if (in->opcode == 0x85)
            return r <= 5; /* r0 written; r1-r5 clobbered (read was checked above) */
        if ((in->opcode & 0xf0) == 0x80 || (in->opcode & 0xf0) == 0x90)
            return false; /* any other call or exit form: not modelled */
        if ((cls == 0 || cls == 1 || cls == 4 || cls == 7) && in->dst == r)
            return true;
        if (cls == 5 || cls == 6) {
            int64_t off = in->opcode == 0x06 ? in->imm : in->off;
            int64_t t = (int64_t)k + 1 + off;
            if (t < 0 || t >= j->n)
                return false;
            bool seen = false;
            for (int s = 0; s < w->nseen; s++)
                seen |= w->seen[s] == (uint32_t)t;
            if (!seen) {
                if (w->nseen == (int)(sizeof w->seen / sizeof w->seen[0]))
                    return false;
                w->seen[w->nseen++] = (uint32_t)t;
            }
            if ((in->opcode & 0xf0) == 0x00) { /* ja */
                if (seen)
                    return true;
                k = (uint32_t)t;
                continue;
            }
            if (!seen && !dead_walk(j, (uint32_t)t, r, w))
                return false;
        }
        k += in->opcode == 0x18 ? 2 : 1;
    }
    return false;
}

static bool reg_dead_at(const struct jit *j, uint32_t k, unsigned r)
{
    struct live_walk w = {.budget = 128, .nseen = 0};
    return dead_walk(j, k, r, &w);
}

/* Loads of every size from [base + index + disp]: opcode, its length, flags. */
static bool load_form(uint8_t opcode, uint32_t *op, int *oplen, unsigned *fl)
{
    switch (opcode) {
    case 0x71: *op = 0x0FB6, *oplen = 2, *fl = 0; return true; /* movzx byte */
    case 0x69: *op = 0x0FB7, *oplen = 2, *fl = 0; return true; /* movzx word */
    case 0x61: *op = 0x8B, *oplen = 1, *fl = 0; return true;
    case 0x79: *op = 0x8B, *oplen = 1, *fl = W; return true;
    case 0x91: *op = 0x0FBE, *oplen = 2, *fl = W; return true; /* movsx byte */
    case 0x89: *op = 0x0FBF, *oplen = 2, *fl = W; return true; /* movsx word */
    case 0x81: *op = 0x63, *oplen = 1, *fl = W; return true;   /* movsxd */
    default: return false;
    }
}

/* An address into an array on the stack or in a buffer, as clang computes
 * it (instruction i is `rA = rB`, 64-bit, C != A):
 *   rA = rB; rA += imm; rA += rC                    ->  lea A, [B + C + imm]
 *   rA = rB; rA += imm; rA += rC; rA = *(rA + off)  ->  mov A, [B + C + imm + off]
 * Returns the number of following instructions consumed, or -1. */
static int fuse_lea3(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    if (!fusable(j, i, 2))
        return -1;
    const struct ebpf_inst *n1 = &in[1], *n2 = &in[2];
    if (n2->opcode != 0x0f || n2->dst != in->dst || n2->src == in->dst)
        return -1;
    int a = xreg(in->dst), b = xreg(in->src), c = xreg(n2->src);
    if (fusable(j, i, 3)) {
        const struct ebpf_inst *n3 = &in[3];
        int64_t disp = (int64_t)n1->imm + n3->off;
        uint32_t op;
        int oplen;
        unsigned fl;
        if (n3->dst == in->dst && n3->src == in->dst && load_form(n3->opcode, &op, &oplen, &fl) &&
            disp >= INT32_MIN && disp <= INT32_MAX) {
            emit_op_sib(j, fl, op, oplen, a, b, c, 0, (int32_t)disp);
            return 3;
        }
    }
    emit_op_sib(j, W, 0x8D, 1, a, b, c, 0, n1->imm);
    return 2;
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
            uint32_t op;
            int oplen;
            unsigned fl;
            /* the address only feeds a load into another register: if
             * nothing reads rA afterwards, the load takes [B + C + off] */
            if (n2->src == in->dst && n2->dst != in->dst &&
                load_form(n2->opcode, &op, &oplen, &fl) && reg_dead_at(j, i + 3, in->dst)) {
                emit_op_sib(j, fl, op, oplen, xreg(n2->dst), b, c, 0, n2->off);
                return 2;
            }
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
        int n = fuse_lea3(j, i);
        if (n >= 0)
            return n;
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

/* Rotates as clang writes them for BPF (no rotate instruction):
 *   rT = rX; rT >>= W-b; rX <<= b; rX |= rT   (or the shifts the other way:
 *   rT <<= b; rX >>= W-b) -> rol X, b
 * in 64-bit (W = 64) or 32-bit (W = 32) ALU ops. rT's value (X >> (W-b))
 * is computed too unless rT is dead afterwards. Returns the number of
 * following instructions consumed (3), or -1. */
static int fuse_rotate(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    if (!fusable(j, i, 3) || (in->opcode != 0xbf && in->opcode != 0xbc) || in->off != 0)
        return -1;
    const struct ebpf_inst *a = &in[1], *b = &in[2], *c = &in[3];
    unsigned T = in->dst, X = in->src;
    if (T == X || a->dst != T || b->dst != X || c->dst != X || c->src != T || a->off || b->off ||
        c->off)
        return -1;
    bool w = c->opcode == 0x4f;
    if ((!w && c->opcode != 0x4c) || (w && in->opcode != 0xbf))
        return -1; /* a 32-bit mov feeding 64-bit shifts is not a rotate */
    uint8_t lsh = w ? 0x67 : 0x64, rsh = w ? 0x77 : 0x74;
    int width = w ? 64 : 32;
    int left; /* rotate left by this much */
    if (a->opcode == rsh && b->opcode == lsh)
        left = b->imm;
    else if (a->opcode == lsh && b->opcode == rsh)
        left = a->imm;
    else
        return -1;
    if (left <= 0 || left >= width || a->imm + b->imm != width)
        return -1;
    bool t_dead = reg_dead_at(j, i + 4, T);
    int xt = xreg(T), xx = xreg(X);
    if (!t_dead) { /* rT's own value: X >> (W-b) or X << b */
        mov_rr(j, w, xt, xx);
        shift_ri(j, w, a->opcode == rsh ? 5 : 4, xt, (uint8_t)a->imm);
    }
    shift_ri(j, w, 0, xx, (uint8_t)left); /* rol */
    return 3;
}

/* `rA = rB; rA &= 0xff` (or 0xffff; either mov width, either and width:
 * all give B's low byte/word zero-extended) -> movzx A, B8/B16. Returns
 * the number of following instructions consumed (1), or -1. */
static int fuse_movzx(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    if (!fusable(j, i, 1))
        return -1;
    const struct ebpf_inst *n1 = &in[1];
    if ((n1->opcode != 0x54 && n1->opcode != 0x57) || n1->dst != in->dst || n1->off)
        return -1;
    if (n1->imm == 0xff)
        emit_op(j, BRM, 0x0FB6, 2, xreg(in->dst), xreg(in->src), 0);
    else if (n1->imm == 0xffff)
        emit_op(j, 0, 0x0FB7, 2, xreg(in->dst), xreg(in->src), 0);
    else
        return -1;
    return 1;
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
        case 0: {
            int n = fuse_rotate(j, i);
            if (n < 0)
                n = fuse_movzx(j, i);
            if (n >= 0)
                return n;
        }
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

/* x86 condition code of a conditional eBPF jump, or -1 */
static int jmp_cc(uint8_t op)
{
    switch (op) {
    case 0x10: return CC_E;
    case 0x20: return CC_A;
    case 0x30: return CC_AE;
    case 0x40: return CC_NE; /* jset: test, jnz */
    case 0x50: return CC_NE;
    case 0x60: return CC_G;
    case 0x70: return CC_GE;
    case 0xa0: return CC_B;
    case 0xb0: return CC_BE;
    case 0xc0: return CC_L;
    case 0xd0: return CC_LE;
    default: return -1;
    }
}

/* The flags of a conditional jump's comparison (cmp or test). */
static void emit_compare(struct jit *j, const struct ebpf_inst *in)
{
    bool w = (in->opcode & 7) == 5;
    uint8_t op = in->opcode & 0xf0;
    int dst = xreg(in->dst);
    if (in->opcode & 0x08) {
        alu_rr(j, w, op == 0x40 ? 0x85 : 0x39, dst, xreg(in->src));
    } else if (op == 0x40) {
        emit_op(j, w ? W : 0, 0xF7, 1, 0, dst, 0); /* test r, imm32 */
        emit4(j, (uint32_t)in->imm);
    } else if (in->imm == 0) {
        alu_rr(j, w, 0x85, dst, dst); /* test r, r: same flags as cmp r, 0 */
    } else {
        alu_ri(j, w, 7, dst, in->imm);
    }
}

/* If-conversion: `if cond goto +1; rD = x` (clang's min/max/select over a
 * branch, as BPF has no conditional move) becomes `cmp; cmov!cond rD, x`,
 * with no branch to mispredict. x is a register or an immediate; a 32-bit
 * mov zero-extends x into r11 first, so a false condition leaves all 64
 * bits of rD as they were (a 32-bit cmov would clear the upper half even
 * when it does not move). The mov must not be a jump target. Returns the
 * number of following instructions consumed (1), or -1 when the pattern
 * does not apply. */
static int emit_select(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    int cc = jmp_cc(in->opcode & 0xf0);
    if (cc < 0 || in->off != 1 || !fusable(j, i, 1))
        return -1;
    const struct ebpf_inst *mv = &j->insts[i + 1];
    int dst = xreg(mv->dst), src = xreg(mv->src);
    switch (mv->opcode) {
    case 0xbf: /* rD = rS */
        if (mv->off != 0)
            return -1; /* movsx */
        break;
    case 0xbc: /* wD = wS */
        if (mv->off != 0)
            return -1;
        mov_rr(j, false, R11, src);
        src = R11;
        break;
    case 0xb7: /* rD = imm (sign-extended) */
    case 0xb4: /* wD = imm */
        /* an explicit mov, never mov_imm64's flag-clobbering xor; before the compare anyway */
        if (mv->opcode == 0xb7 && mv->imm < 0) {
            emit_op(j, W, 0xC7, 1, 0, R11, 0);
        } else {
            emit1(j, 0x41);
            emit1(j, 0xB8 | (R11 & 7));
        }
        emit4(j, (uint32_t)mv->imm);
        src = R11;
        break;
    default: return -1;
    }
    emit_compare(j, in);
    emit_op(j, W, 0x0F40 | (cc ^ 1), 2, dst, src, 0); /* cmov!cc dst, src */
    return 1;
}

static int emit_jmp(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    bool w = (in->opcode & 7) == 5;
    uint8_t op = in->opcode & 0xf0;

    if (op == 0x00) { /* ja */
        int64_t t = (int64_t)i + 1 + (w ? in->off : in->imm);
        if (t != (int64_t)i + 1)
            emit_jump(j, -1, i, (uint32_t)t);
        return 0;
    }
    int cc = jmp_cc(op);
    if (cc < 0)
        return -1;
    uint32_t t = (uint32_t)((int64_t)i + 1 + in->off);
    if (t == i + 1)
        return 0; /* flags are not eBPF state: nothing to do */
    int fused = emit_select(j, i);
    if (fused >= 0)
        return fused;
    emit_compare(j, in);
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
            disp = (int64_t)j->start[t] - prologue_bytes(frame_of(j, t)) - (int64_t)j->end[i];
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

/* A big-endian 16-bit read as C spells it byte by byte (packet fields,
 * checksums), in either load order:
 *   rX = *(u8 *)(rB + o + 1); rY = *(u8 *)(rB + o); rY <<= 8; rY |= rX
 * -> movzx Y, word [B + o]; ror Y16, 8 (and X's byte only if X is read
 * later). Both bytes are read by the program, so the word is in bounds.
 * Returns the number of following instructions consumed (3), or -1. */
static int fuse_be16(struct jit *j, uint32_t i)
{
    const struct ebpf_inst *in = &j->insts[i];
    if (!fusable(j, i, 3))
        return -1;
    const struct ebpf_inst *l2 = &in[1], *sh = &in[2], *orr = &in[3];
    if (l2->opcode != 0x71 || l2->src != in->src || in->dst == l2->dst)
        return -1;
    if ((sh->opcode != 0x64 && sh->opcode != 0x67) || sh->imm != 8 || sh->off)
        return -1;
    if ((orr->opcode != 0x4c && orr->opcode != 0x4f) || orr->off)
        return -1;
    /* which load is the high byte (Y, shifted) and which the low (X) */
    const struct ebpf_inst *hi = sh->dst == l2->dst ? l2 : sh->dst == in->dst ? in : NULL;
    if (!hi)
        return -1;
    const struct ebpf_inst *lo = hi == l2 ? in : l2;
    if (orr->dst != hi->dst || orr->src != lo->dst || lo->off != hi->off + 1)
        return -1;
    if (in->dst == in->src) /* the first load must not change the base */
        return -1;
    int base = xreg(in->src), y = xreg(hi->dst), x = xreg(lo->dst);
    bool x_live = !reg_dead_at(j, i + 4, lo->dst);
    if (x_live && y == base) /* the byte before the word overwrites the base */
        emit_op(j, MEM, 0x0FB6, 2, x, base, lo->off);
    emit_op(j, MEM, 0x0FB7, 2, y, base, hi->off);
    emit_op(j, P66, 0xC1, 1, 1, y, 0); /* ror y16, 8 */
    emit1(j, 8);
    if (x_live && y != base) /* x may be the base: after the word */
        emit_op(j, MEM, 0x0FB6, 2, x, base, lo->off);
    return 3;
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
        if (in->opcode == 0x71) {
            int n = fuse_be16(j, i);
            if (n >= 0)
                return n;
        }
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

/* Loop heads start on a 16-byte boundary (nops before them, run once per
 * entry into the loop), as native compilers align loops: a hot loop then
 * does not straddle fetch blocks depending on where the code before it
 * ended. Not at function entries (calls and tail calls land at fixed
 * distances from the prologue). */
static void align_loop_head(struct jit *j)
{
    if (!(j->opts & EBPF_JIT_NO_PEEPHOLE))
        emit_nops(j, (int)((16 - j->len % 16) % 16));
}

/* One pass over the program; returns 0 or -1 with j->err_insn set. */
static int emit_pass(struct jit *j)
{
    j->len = 0;
    emit_thunk(j);
    for (uint32_t i = 0; i < j->n; i++) {
        const struct ebpf_inst *in = &j->insts[i];
        if (j->flags[i] & F_FUNC_ENTRY) {
            j->frame = frame_of(j, i);
            emit_prologue(j, j->frame);
        } else if (j->flags[i] & F_LOOP_HEAD) {
            align_loop_head(j);
        }
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
                emit_epilogue(j, j->frame);
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
        /* with loop alignment a shrinking jump can be offset by growing
         * padding: stable means the same layout, not just the same length */
        bool stable = j->sized && j->len == prev &&
                      memcmp(j->start, j->nstart, j->n * sizeof *j->start) == 0 &&
                      memcmp(j->end, j->nend, j->n * sizeof *j->end) == 0;
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
        j->flags[t] |= F_JUMP_TARGET | (t <= i ? F_LOOP_HEAD : 0);
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
