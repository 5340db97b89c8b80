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

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
    /* clang-format off */
    static const void *const labels[256] = {
        [0 ... 255] = &&op_invalid,
        /* ALU64 */
        [0x07] = &&add64_k, [0x0f] = &&add64_x, [0x17] = &&sub64_k, [0x1f] = &&sub64_x,
        [0x27] = &&mul64_k, [0x2f] = &&mul64_x, [0x37] = &&div64_k, [0x3f] = &&div64_x,
        [0x47] = &&or64_k, [0x4f] = &&or64_x, [0x57] = &&and64_k, [0x5f] = &&and64_x,
        [0x67] = &&lsh64_k, [0x6f] = &&lsh64_x, [0x77] = &&rsh64_k, [0x7f] = &&rsh64_x,
        [0x87] = &&neg64, [0x97] = &&mod64_k, [0x9f] = &&mod64_x, [0xa7] = &&xor64_k,
        [0xaf] = &&xor64_x, [0xb7] = &&mov64_k, [0xbf] = &&mov64_x, [0xc7] = &&arsh64_k,
        [0xcf] = &&arsh64_x, [0xd7] = &&bswap,
        /* ALU32 */
        [0x04] = &&add32_k, [0x0c] = &&add32_x, [0x14] = &&sub32_k, [0x1c] = &&sub32_x,
        [0x24] = &&mul32_k, [0x2c] = &&mul32_x, [0x34] = &&div32_k, [0x3c] = &&div32_x,
        [0x44] = &&or32_k, [0x4c] = &&or32_x, [0x54] = &&and32_k, [0x5c] = &&and32_x,
        [0x64] = &&lsh32_k, [0x6c] = &&lsh32_x, [0x74] = &&rsh32_k, [0x7c] = &&rsh32_x,
        [0x84] = &&neg32, [0x94] = &&mod32_k, [0x9c] = &&mod32_x, [0xa4] = &&xor32_k,
        [0xac] = &&xor32_x, [0xb4] = &&mov32_k, [0xbc] = &&mov32_x, [0xc4] = &&arsh32_k,
        [0xcc] = &&arsh32_x, [0xd4] = &&le, [0xdc] = &&be,
        /* JMP */
        [0x05] = &&ja, [0x15] = &&jeq_k, [0x1d] = &&jeq_x, [0x25] = &&jgt_k, [0x2d] = &&jgt_x,
        [0x35] = &&jge_k, [0x3d] = &&jge_x, [0x45] = &&jset_k, [0x4d] = &&jset_x,
        [0x55] = &&jne_k, [0x5d] = &&jne_x, [0x65] = &&jsgt_k, [0x6d] = &&jsgt_x,
        [0x75] = &&jsge_k, [0x7d] = &&jsge_x, [0x85] = &&call, [0x95] = &&exit,
        [0xa5] = &&jlt_k, [0xad] = &&jlt_x, [0xb5] = &&jle_k, [0xbd] = &&jle_x,
        [0xc5] = &&jslt_k, [0xcd] = &&jslt_x, [0xd5] = &&jsle_k, [0xdd] = &&jsle_x,
        /* JMP32 */
        [0x06] = &&ja32, [0x16] = &&jeq32_k, [0x1e] = &&jeq32_x, [0x26] = &&jgt32_k,
        [0x2e] = &&jgt32_x, [0x36] = &&jge32_k, [0x3e] = &&jge32_x, [0x46] = &&jset32_k,
        [0x4e] = &&jset32_x, [0x56] = &&jne32_k, [0x5e] = &&jne32_x, [0x66] = &&jsgt32_k,
        [0x6e] = &&jsgt32_x, [0x76] = &&jsge32_k, [0x7e] = &&jsge32_x, [0xa6] = &&jlt32_k,
        [0xae] = &&jlt32_x, [0xb6] = &&jle32_k, [0xbe] = &&jle32_x, [0xc6] = &&jslt32_k,
        [0xce] = &&jslt32_x, [0xd6] = &&jsle32_k, [0xde] = &&jsle32_x,
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
div64_k:
    tmp = IMM;
    goto div64;
div64_x:
    tmp = SRC;
div64:
    if (unlikely(tmp == 0))
        DST = 0;
    else if (OFF == 0)
        DST = DST / tmp;
    else if ((int64_t)tmp == -1)
        DST = -DST;
    else
        DST = (uint64_t)((int64_t)DST / (int64_t)tmp);
    NEXT();
mod64_k:
    tmp = IMM;
    goto mod64;
mod64_x:
    tmp = SRC;
mod64:
    if (unlikely(tmp == 0))
        ;
    else if (OFF == 0)
        DST = DST % tmp;
    else if ((int64_t)tmp == -1)
        DST = 0;
    else
        DST = (uint64_t)((int64_t)DST % (int64_t)tmp);
    NEXT();
div32_k:
    tmp = IMM32;
    goto div32;
div32_x:
    tmp = (uint32_t)SRC;
div32:
    if (unlikely(tmp == 0))
        DST = 0;
    else if (OFF == 0)
        DST = (uint32_t)DST / (uint32_t)tmp;
    else if ((int32_t)tmp == -1)
        DST = (uint32_t) - (uint32_t)DST;
    else
        DST = (uint32_t)((int32_t)(uint32_t)DST / (int32_t)(uint32_t)tmp);
    NEXT();
mod32_k:
    tmp = IMM32;
    goto mod32;
mod32_x:
    tmp = (uint32_t)SRC;
mod32:
    if (unlikely(tmp == 0))
        DST = (uint32_t)DST;
    else if (OFF == 0)
        DST = (uint32_t)DST % (uint32_t)tmp;
    else if ((int32_t)tmp == -1)
        DST = 0;
    else
        DST = (uint32_t)((int32_t)(uint32_t)DST % (int32_t)(uint32_t)tmp);
    NEXT();

mov64_k:
    DST = IMM;
    NEXT();
mov64_x:
    switch (OFF) {
    case 8: DST = (uint64_t)(int64_t)(int8_t)SRC; break;
    case 16: DST = (uint64_t)(int64_t)(int16_t)SRC; break;
    case 32: DST = (uint64_t)(int64_t)(int32_t)SRC; break;
    default: DST = SRC;
    }
    NEXT();
mov32_k:
    DST = IMM32;
    NEXT();
mov32_x:
    switch (OFF) {
    case 8: DST = (uint32_t)(int32_t)(int8_t)SRC; break;
    case 16: DST = (uint32_t)(int32_t)(int16_t)SRC; break;
    default: DST = (uint32_t)SRC;
    }
    NEXT();

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
#undef SHIFT64
#undef SHIFT32
#undef ATOMIC
}
