/* The interpreter: every RFC 9669 instruction (ISA v4), checked memory
 * accesses, bpf-to-bpf calls, tail calls and an instruction budget.
 *
 * Speed: one indirect jump per instruction through a table of label
 * addresses (GCC labels-as-values), registers in a local array, and memory
 * checks whose fast path is two range comparisons (stack, then the mem
 * given to exec); regions and the bounds-check callback are out of line.
 * ebpf_vm_load has already validated the structure (opcodes, registers,
 * jump targets, lddw pairs, exit at the end), so the loop does not re-check
 * any of that. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vm/vm_internal.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define EBPF_STR_(x) #x
#define EBPF_STR(x) EBPF_STR_(x)
#define STACK_TOTAL (EBPF_STACK_SIZE * EBPF_MAX_CALL_DEPTH)

struct frame {
    const struct ebpf_inst *ret_ip; /* instruction after the call */
    struct ebpf_vm *vm;             /* program the caller runs (tail calls can switch it) */
    uint64_t saved[4];              /* r6-r9 */
};

/* Accepts accesses outside stack and mem: configured regions, then the
 * callback of the running program's VM. */
static __attribute__((noinline)) bool slow_access_ok(const struct ebpf_vm *vm, uint64_t addr,
                                                     uint64_t size, bool write)
{
    for (int i = 0; i < vm->num_regions; i++) {
        const struct ebpf_region *r = &vm->regions[i];
        uint64_t off = addr - r->base;
        if (off < r->len && r->len - off >= size && (!write || r->writable))
            return true;
    }
    if (vm->bounds_check)
        return vm->bounds_check(vm->bounds_check_user, addr, size, write);
    return false;
}

static __attribute__((noinline, cold)) int fault(struct ebpf_vm *vm, const struct ebpf_vm *cur,
                                                 const struct ebpf_inst *ip, const char *what,
                                                 uint64_t addr, unsigned size)
{
    char text[64];
    uint32_t idx = (uint32_t)(ip - cur->insts);
    ebpf_insn_format(cur->insts, cur->num_insts, idx, text, sizeof text);
    return bpftime_set_error(-EFAULT, "%s of %u bytes at 0x%" PRIx64 " at instruction %u%s: %s",
                             what, size, addr, idx, cur != vm ? " (of a tail-called program)" : "",
                             text);
}

static __attribute__((noinline, cold)) int insn_error(struct ebpf_vm *vm, const struct ebpf_vm *cur,
                                                      const struct ebpf_inst *ip, int code,
                                                      const char *what)
{
    char text[64];
    uint32_t idx = (uint32_t)(ip - cur->insts);
    ebpf_insn_format(cur->insts, cur->num_insts, idx, text, sizeof text);
    return bpftime_set_error(code, "%s at instruction %u%s: %s", what, idx,
                             cur != vm ? " (of a tail-called program)" : "", text);
}

/* Bytes touched by a load/store opcode (size field, bits 3-4). */
static unsigned access_size(uint8_t opcode)
{
    static const unsigned sizes[4] = {4, 2, 1, 8};
    return sizes[(opcode >> 3) & 3];
}

static inline uint16_t bswap16(uint16_t x)
{
    return __builtin_bswap16(x);
}
static inline uint32_t bswap32(uint32_t x)
{
    return __builtin_bswap32(x);
}
static inline uint64_t bswap64(uint64_t x)
{
    return __builtin_bswap64(x);
}

int ebpf_vm_exec(struct ebpf_vm *vm, void *mem, size_t mem_len, uint64_t *ret)
{
    if (!vm->insts)
        return bpftime_set_error(-EINVAL, "exec: no program loaded");

        /* clang-format off */
#define ALU_OPS(code, name) \
    [(code) | 0x07] = &&name##64_k, [(code) | 0x0f] = &&name##64_x, \
    [(code) | 0x04] = &&name##32_k, [(code) | 0x0c] = &&name##32_x
#define JMP_OPS(code, name) \
    [(code) | 0x05] = &&name##_k, [(code) | 0x0d] = &&name##_x, \
    [(code) | 0x06] = &&name##32_k, [(code) | 0x0e] = &&name##32_x
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
    static const void *const labels[256] = {
        [0 ... 255] = &&op_invalid,
        /* opcode = operation | source (0x08: register) | class (ALU64 7,
         * ALU 4, JMP 5, JMP32 6); both sources, both widths */
        ALU_OPS(0x00, add), ALU_OPS(0x10, sub), ALU_OPS(0x20, mul), ALU_OPS(0x30, div),
        ALU_OPS(0x40, or), ALU_OPS(0x50, and), ALU_OPS(0x60, lsh), ALU_OPS(0x70, rsh),
        ALU_OPS(0x90, mod), ALU_OPS(0xa0, xor), ALU_OPS(0xb0, mov), ALU_OPS(0xc0, arsh),
        [0x87] = &&neg64, [0x84] = &&neg32, [0xd7] = &&bswap, [0xd4] = &&le, [0xdc] = &&be,
        JMP_OPS(0x10, jeq), JMP_OPS(0x20, jgt), JMP_OPS(0x30, jge), JMP_OPS(0x40, jset),
        JMP_OPS(0x50, jne), JMP_OPS(0x60, jsgt), JMP_OPS(0x70, jsge), JMP_OPS(0xa0, jlt),
        JMP_OPS(0xb0, jle), JMP_OPS(0xc0, jslt), JMP_OPS(0xd0, jsle),
        [0x05] = &&ja, [0x06] = &&ja32, [0x85] = &&call, [0x8d] = &&callx, [0x95] = &&exit,
        /* loads and stores */
        [0x18] = &&lddw,
        [0x61] = &&ldxw, [0x69] = &&ldxh, [0x71] = &&ldxb, [0x79] = &&ldxdw,
        [0x81] = &&ldxsw, [0x89] = &&ldxsh, [0x91] = &&ldxsb,
        [0x62] = &&stw, [0x6a] = &&sth, [0x72] = &&stb, [0x7a] = &&stdw,
        [0x63] = &&stxw, [0x6b] = &&stxh, [0x73] = &&stxb, [0x7b] = &&stxdw,
        [0xc3] = &&atomic32, [0xdb] = &&atomic64,
    };
#pragma GCC diagnostic pop
    /* clang-format on */

    _Alignas(16) uint8_t stack[STACK_TOTAL];
    struct frame frames[EBPF_MAX_CALL_DEPTH];
    uint64_t reg[11];
    const uint64_t stack_lo = (uint64_t)(uintptr_t)stack;
    const uint64_t mem_lo = (uint64_t)(uintptr_t)mem;
    const uint64_t mem_size = mem ? mem_len : 0;
    struct ebpf_vm *cur = vm;
    const struct ebpf_inst *ip = vm->insts;
    uint64_t remaining = vm->budget ? vm->budget : EBPF_DEFAULT_BUDGET;
    const uint64_t budget = remaining;
    const struct ebpf_inst *block = ip; /* start of the straight-line run being executed */
    unsigned depth = 0;
    unsigned tail_calls = 0;
    uint64_t addr, tmp;
    int rc;

    memset(reg, 0, sizeof reg);
    reg[1] = mem_lo;
    reg[2] = mem_len;
    reg[10] = stack_lo + STACK_TOTAL;

#define DST reg[ip->dst]
#define SRC reg[ip->src]
#define IMM ((uint64_t)(int64_t)ip->imm)
#define IMM32 ((uint32_t)ip->imm)
#define OFF ip->off
#define DISPATCH() goto *labels[ip->opcode]
/* The budget is charged per straight-line run, at the jump, call or exit
 * that ends it, so ALU and memory instructions pay nothing for it. */
#define CHARGE() \
    do { \
        uint64_t n_ = (uint64_t)(ip - block) + 1; \
        if (unlikely(n_ > remaining)) \
            goto out_budget; \
        remaining -= n_; \
    } while (0)
#define NEXT() \
    do { \
        ip++; \
        DISPATCH(); \
    } while (0)
/* Fast path: the whole call stack (frames may pass pointers to callers'
 * stack), then mem; anything else goes out of line. */
#define ACCESS_OK(a, size, write) \
    (((a)-stack_lo < STACK_TOTAL && STACK_TOTAL - ((a)-stack_lo) >= (size)) || \
     ((a)-mem_lo < mem_size && mem_size - ((a)-mem_lo) >= (size)) || \
     slow_access_ok(cur, (a), (size), (write)))
#define LOAD(T, dst_expr) \
    do { \
        addr = SRC + (uint64_t)(int64_t)OFF; \
        if (unlikely(!ACCESS_OK(addr, sizeof(T), false))) \
            goto out_read_fault; \
        T v_; \
        memcpy(&v_, (const void *)(uintptr_t)addr, sizeof(T)); \
        DST = (dst_expr); \
        NEXT(); \
    } while (0)
#define STORE(T, value) \
    do { \
        addr = DST + (uint64_t)(int64_t)OFF; \
        if (unlikely(!ACCESS_OK(addr, sizeof(T), true))) \
            goto out_write_fault; \
        T v_ = (T)(value); \
        memcpy((void *)(uintptr_t)addr, &v_, sizeof(T)); \
        NEXT(); \
    } while (0)
#define ALU64(name, op) \
    name##64_k : DST = DST op IMM; \
    NEXT(); \
    name##64_x : DST = DST op SRC; \
    NEXT();
#define ALU32(name, op) \
    name##32_k : DST = (uint32_t)((uint32_t)DST op IMM32); \
    NEXT(); \
    name##32_x : DST = (uint32_t)((uint32_t)DST op(uint32_t) SRC); \
    NEXT();
#define JMP(name, cond_k, cond_x) \
    name##_k : CHARGE(); \
    if (cond_k) \
        ip += OFF; \
    block = ++ip; \
    DISPATCH(); \
    name##_x : CHARGE(); \
    if (cond_x) \
        ip += OFF; \
    block = ++ip; \
    DISPATCH();
#define SHIFT64(name, T, op) \
    name##64_k : DST = (uint64_t)((T)DST op(IMM & 63)); \
    NEXT(); \
    name##64_x : DST = (uint64_t)((T)DST op(SRC & 63)); \
    NEXT();
#define SHIFT32(name, T, op) \
    name##32_k : DST = (uint32_t)((T)(uint32_t)DST op(IMM32 & 31)); \
    NEXT(); \
    name##32_x : DST = (uint32_t)((T)(uint32_t)DST op(SRC & 31)); \
    NEXT();
/* off 8/16/32 on a register move sign-extends that many bits to the width
 * of T (for ALU32, 32 is a plain move) */
#define MOV(name, T, ST, imm) \
    name##_k : DST = (imm); \
    NEXT(); \
    name##_x : switch (OFF) \
    { \
    case 8: DST = (T)(ST)(int8_t)SRC; break; \
    case 16: DST = (T)(ST)(int16_t)SRC; break; \
    case 32: DST = (T)(ST)(int32_t)SRC; break; \
    default: DST = (T)SRC; \
    } \
    NEXT();
/* tmp = the divisor (imm, or src cut to T); off 0 = unsigned, 1 = signed */
#define DIVMOD(name, T, ST, imm, op, by_zero, by_minus_one) \
    name##_k : tmp = (imm); \
    goto name; \
    name##_x : tmp = (T)SRC; \
    name: \
    if (unlikely(tmp == 0)) \
        DST = (by_zero); \
    else if (OFF == 0) \
        DST = (T)DST op(T) tmp; \
    else if ((ST)tmp == -1) \
        DST = (by_minus_one); \
    else \
        DST = (T)((ST)(T)DST op(ST)(T) tmp); \
    NEXT();
/* One body for both widths: the old value of a fetch goes to src, that of
 * a compare-exchange to r0 whether or not it matched. */
#define ATOMIC(name, T) \
    name : { \
        addr = DST + (uint64_t)(int64_t)OFF; \
        if (unlikely(!ACCESS_OK(addr, sizeof(T), true))) \
            goto out_write_fault; \
        if (unlikely(addr & (sizeof(T) - 1))) \
            goto out_misaligned; \
        T *p = (T *)(uintptr_t)addr; \
        T v = (T)SRC, old; \
        switch (ip->imm) { \
        case 0x00: __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); break; \
        case 0x01: SRC = __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); break; \
        case 0x40: __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); break; \
        case 0x41: SRC = __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); break; \
        case 0x50: __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); break; \
        case 0x51: SRC = __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); break; \
        case 0xa0: __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); break; \
        case 0xa1: SRC = __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); break; \
        case 0xe1: SRC = __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); break; \
        case 0xf1: \
            old = (T)reg[0]; \
            __atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
            reg[0] = old; \
            break; \
        } \
        NEXT(); \
    }
#define JMP64(name, T, op) JMP(name, (T)DST op(T) IMM, (T)DST op(T) SRC)
#define JMP32(name, T, op) JMP(name##32, (T)DST op(T) IMM32, (T)DST op(T) SRC)
/* Each operation at both widths; `sign` is uint or int. */
#define ALU(name, op) ALU64(name, op) ALU32(name, op)
#define JMP_CMP(name, sign, op) JMP64(name, sign##64_t, op) JMP32(name, sign##32_t, op)

    DISPATCH();

    ALU(add, +)
    ALU(sub, -)
    ALU(mul, *)
    ALU(or, |)
    ALU(and, &)
    ALU(xor, ^)

    SHIFT64(lsh, uint64_t, <<)
    SHIFT64(rsh, uint64_t, >>)
    SHIFT64(arsh, int64_t, >>)
    SHIFT32(lsh, uint32_t, <<)
    SHIFT32(rsh, uint32_t, >>)
    SHIFT32(arsh, int32_t, >>)
neg64:
    DST = -DST;
    NEXT();
neg32:
    DST = (uint32_t) - (uint32_t)DST;
    NEXT();

    /* Division: off 0 = unsigned, off 1 = signed. By zero: div gives 0, mod
     * leaves dst (truncated to 32 bits for ALU32). Signed overflow
     * (INT_MIN / -1) gives INT_MIN, its modulo 0. */
    DIVMOD(div64, uint64_t, int64_t, IMM, /, 0, -DST)
    DIVMOD(mod64, uint64_t, int64_t, IMM, %, DST, 0)
    DIVMOD(div32, uint32_t, int32_t, IMM32, /, 0, (uint32_t) - (uint32_t)DST)
    DIVMOD(mod32, uint32_t, int32_t, IMM32, %, (uint32_t)DST, 0)

    MOV(mov64, uint64_t, int64_t, IMM)
    MOV(mov32, uint32_t, int32_t, IMM32)

    /* Byte order: this host is little-endian, so to-le only truncates. */
le:
    switch (ip->imm) {
    case 16: DST = (uint16_t)DST; break;
    case 32: DST = (uint32_t)DST; break;
    }
    NEXT();
be:
bswap:
    switch (ip->imm) {
    case 16: DST = bswap16((uint16_t)DST); break;
    case 32: DST = bswap32((uint32_t)DST); break;
    default: DST = bswap64(DST);
    }
    NEXT();

ja:
    CHARGE();
    ip += OFF;
    block = ++ip;
    DISPATCH();
ja32:
    CHARGE();
    ip += ip->imm;
    block = ++ip;
    DISPATCH();

    JMP_CMP(jeq, uint, ==)
    JMP_CMP(jne, uint, !=)
    JMP_CMP(jgt, uint, >)
    JMP_CMP(jge, uint, >=)
    JMP_CMP(jlt, uint, <)
    JMP_CMP(jle, uint, <=)
    JMP_CMP(jsgt, int, >)
    JMP_CMP(jsge, int, >=)
    JMP_CMP(jslt, int, <)
    JMP_CMP(jsle, int, <=)
    JMP(jset, DST & IMM, DST & SRC)
    JMP(jset32, (uint32_t)DST & IMM32, (uint32_t)DST & (uint32_t)SRC)

lddw:
    DST = (uint64_t)(uint32_t)ip[0].imm | ((uint64_t)(uint32_t)ip[1].imm << 32);
    ip += 2;
    DISPATCH();

ldxw:
    LOAD(uint32_t, v_);
ldxh:
    LOAD(uint16_t, v_);
ldxb:
    LOAD(uint8_t, v_);
ldxdw:
    LOAD(uint64_t, v_);
ldxsw:
    LOAD(int32_t, (uint64_t)(int64_t)v_);
ldxsh:
    LOAD(int16_t, (uint64_t)(int64_t)v_);
ldxsb:
    LOAD(int8_t, (uint64_t)(int64_t)v_);
stw:
    STORE(uint32_t, ip->imm);
sth:
    STORE(uint16_t, ip->imm);
stb:
    STORE(uint8_t, ip->imm);
stdw:
    STORE(uint64_t, IMM);
stxw:
    STORE(uint32_t, SRC);
stxh:
    STORE(uint16_t, SRC);
stxb:
    STORE(uint8_t, SRC);
stxdw:
    STORE(uint64_t, SRC);

    /* Atomics are really atomic (lock-prefixed on x86) so that programs
     * sharing a map value across threads or processes count correctly. */
    ATOMIC(atomic32, uint32_t)
    ATOMIC(atomic64, uint64_t)

call:
    if (ip->src == 1) {
        /* bpf-to-bpf call: new 512-byte frame below the caller's */
        CHARGE();
        if (unlikely(depth + 1 >= EBPF_MAX_CALL_DEPTH))
            goto out_depth;
        struct frame *f = &frames[depth++];
        f->ret_ip = ip + 1;
        f->vm = cur;
        memcpy(f->saved, &reg[6], sizeof f->saved);
        reg[10] -= EBPF_STACK_SIZE;
        ip += ip->imm + 1;
        block = ip;
        DISPATCH();
    }
    if (unlikely((uint32_t)ip->imm == EBPF_HELPER_TAIL_CALL))
        goto tail_call;
    {
        ebpf_helper_fn fn = cur->helpers[(uint32_t)ip->imm];
        if (unlikely(!fn))
            goto out_no_helper;
        reg[0] = fn(reg[1], reg[2], reg[3], reg[4], reg[5]);
    }
    NEXT();

callx : {
    /* callx dst: call the helper whose id dst holds (the conformance suites'
     * meaning). An id naming no registered helper runs nothing and gives
     * r0 = -ENOENT, as the JIT does: a failed call, never a jump into the
     * unknown. The tail call is only reachable through `call 12`. */
    uint64_t id = DST;
    ebpf_helper_fn fn =
        id < EBPF_MAX_HELPERS && id != EBPF_HELPER_TAIL_CALL ? cur->helpers[id] : NULL;
    reg[0] = fn ? fn(reg[1], reg[2], reg[3], reg[4], reg[5]) : (uint64_t)(int64_t)-ENOENT;
    NEXT();
}

tail_call : {
    /* bpf_tail_call(ctx, map, index): on success the target program runs
     * in place of this one (same frame, r1 = ctx) and its exit returns to
     * whoever called this one; on failure execution continues with a
     * negative r0, as the kernel's helper. */
    ebpf_tail_call_fn tc = cur->tail_call ? cur->tail_call : vm->tail_call;
    void *tc_user = cur->tail_call ? cur->tail_call_user : vm->tail_call_user;
    struct ebpf_vm *next = NULL;
    if (tc && tail_calls < EBPF_MAX_TAIL_CALLS)
        next = tc(tc_user, reg[2], reg[3]);
    if (!next || !next->insts) {
        reg[0] = (uint64_t)(int64_t)-ENOENT;
        NEXT();
    }
    CHARGE();
    tail_calls++;
    cur = next;
    ip = block = next->insts;
    reg[10] = stack_lo + STACK_TOTAL - (uint64_t)depth * EBPF_STACK_SIZE;
    DISPATCH();
}

exit:
    CHARGE();
    if (depth == 0) {
        if (ret)
            *ret = reg[0];
        return 0;
    }
    {
        struct frame *f = &frames[--depth];
        memcpy(&reg[6], f->saved, sizeof f->saved);
        reg[10] += EBPF_STACK_SIZE;
        cur = f->vm;
        ip = block = f->ret_ip;
    }
    DISPATCH();

op_invalid:
    /* Only reachable if the code changed after load validated it. */
    rc = insn_error(vm, cur, ip, -EINVAL, "invalid instruction");
    goto out;
out_read_fault:
    rc = fault(vm, cur, ip, "out-of-bounds read", addr, access_size(ip->opcode));
    goto out;
out_write_fault:
    rc = fault(vm, cur, ip, "out-of-bounds write", addr, access_size(ip->opcode));
    goto out;
out_misaligned:
    rc = fault(vm, cur, ip, "misaligned atomic access", addr, ip->opcode == 0xdb ? 8 : 4);
    goto out;
out_depth:
    rc = insn_error(vm, cur, ip, -E2BIG,
                    "call depth limit of " EBPF_STR(EBPF_MAX_CALL_DEPTH) " frames exceeded");
    goto out;
out_no_helper:
    rc = insn_error(vm, cur, ip, -ENOENT, "call to unregistered helper");
    goto out;
out_budget : {
    /* The run from `block` to ip is straight-line: find the instruction at
     * which the budget ran out (lddw takes two slots). */
    const struct ebpf_inst *p = block;
    uint64_t left = remaining;
    for (;;) {
        uint64_t w = p->opcode == 0x18 ? 2 : 1;
        if (w > left || p >= ip)
            break;
        left -= w;
        p += w;
    }
    ip = p;
    char what[96];
    snprintf(what, sizeof what, "instruction budget of %" PRIu64 " exhausted", budget);
    rc = insn_error(vm, cur, ip, -E2BIG, what);
}
out:
    return rc;

#undef DST
#undef SRC
#undef IMM
#undef IMM32
#undef OFF
#undef DISPATCH
#undef NEXT
#undef ACCESS_OK
#undef LOAD
#undef STORE
#undef ALU64
#undef ALU32
#undef JMP
#undef JMP64
#undef JMP32
#undef ALU
#undef JMP_CMP
#undef ALU_OPS
#undef DIVMOD
#undef MOV
#undef JMP_OPS
#undef SHIFT64
#undef SHIFT32
#undef ATOMIC
}
