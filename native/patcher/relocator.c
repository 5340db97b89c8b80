/* Planning a patch and relocating the overwritten instructions (capstone).
 *
 * The relocated copy runs at a different address, so everything that depends
 * on rip is rewritten:
 *   - RIP-relative memory operands: new displacement; if the target is out of
 *     rel32 reach from the trampoline, the operand is rewritten to [scratch]
 *     with a scratch register loaded with the absolute address (saved and
 *     restored around it, below the red zone).
 *   - jmp/jcc rel8/rel32: widened to rel32, or an absolute jmp through an
 *     inline literal when out of reach (jcc: inverted jcc over it); jrcxz and
 *     loop* (rel8 only) via a short hop. Branches whose target is inside the
 *     relocated bytes go to the relocated copy of the target.
 *   - call rel32: rel32 or `call [rip+lit]`; `call next` (the get-pc idiom)
 *     becomes a push of the original return address.
 * The rest is copied verbatim (endbr64 is never relocated: the patch goes
 * after it, see patcher.c). */
#include "patcher/patcher_internal.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <string.h>

#define SCAN_WINDOW 4096 /* bytes scanned for branches when the size is unknown */

static bool fits_rel32(int64_t d)
{
    return d >= INT32_MIN && d <= INT32_MAX;
}

bool patcher_is_endbr64(const uint8_t *code)
{
    return code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa;
}

size_t patcher_emit_jmp(uint8_t *buf, uint64_t at, uint64_t target)
{
    int64_t d = (int64_t)(target - (at + 5));
    if (fits_rel32(d)) {
        int32_t r = (int32_t)d;
        buf[0] = 0xe9;
        memcpy(buf + 1, &r, 4);
        return 5;
    }
    static const uint8_t abs_jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
    memcpy(buf, abs_jmp, 6);
    memcpy(buf + 6, &target, 8);
    return 14;
}

static int open_capstone(csh *cs)
{
    if (cs_open(CS_ARCH_X86, CS_MODE_64, cs) != CS_ERR_OK)
        return bpftime_set_error(-ENOMEM, "capstone: cs_open failed");
    cs_option(*cs, CS_OPT_DETAIL, CS_OPT_ON);
    return 0;
}

static bool is_terminator(const cs_insn *insn)
{
    switch (insn->id) {
    case X86_INS_RET:
    case X86_INS_RETF:
    case X86_INS_RETFQ:
    case X86_INS_JMP:
    case X86_INS_LJMP:
    case X86_INS_UD2:
    case X86_INS_HLT:
    case X86_INS_INT3: return true;
    default: return false;
    }
}

static bool is_padding(const cs_insn *insn)
{
    return insn->id == X86_INS_NOP || insn->id == X86_INS_INT3;
}

/* Skips legacy prefixes; returns the offset of the opcode (REX included). */
static size_t prefix_len(const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i < n) {
        switch (b[i]) {
        case 0x66:
        case 0x67:
        case 0xf2:
        case 0xf3:
        case 0xf0:
        case 0x2e:
        case 0x36:
        case 0x3e:
        case 0x26:
        case 0x64:
        case 0x65: i++; continue;
        }
        break;
    }
    return i;
}

/* Direct relative branch (jmp/jcc/jrcxz/loop/call with an immediate target):
 * returns true and the absolute target. */
static bool direct_branch_target(const cs_insn *insn, uint64_t *target)
{
    const cs_x86 *x = &insn->detail->x86;
    bool branch = false;
    for (int i = 0; i < insn->detail->groups_count; i++) {
        uint8_t g = insn->detail->groups[i];
        if (g == X86_GRP_JUMP || g == X86_GRP_CALL || g == X86_GRP_BRANCH_RELATIVE)
            branch = true;
    }
    if (!branch || x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
        return false;
    *target = (uint64_t)x->operands[0].imm;
    return true;
}

int patcher_plan_patch(uint64_t func, uint64_t patch_addr, size_t func_size, size_t need,
                       struct patcher_plan *plan)
{
    struct patcher_mapping m;
    if (patcher_find_mapping(patch_addr, &m) != 0 || !(m.prot & 1 /* PROT_READ */))
        return bpftime_set_error(-EFAULT, "address 0x%lx is not in a readable mapping",
                                 (unsigned long)patch_addr);
    uint64_t func_end = func_size ? func + func_size : 0;
    if (func_end && func_end > m.end)
        func_end = m.end;
    uint64_t limit = func_end ? func_end : m.end; /* never decode past the mapping */

    memset(plan, 0, sizeof *plan);
    plan->func = func;
    plan->patch_addr = patch_addr;
    plan->need = need;

    csh cs;
    int err = open_capstone(&cs);
    if (err)
        return err;
    cs_insn *insn = cs_malloc(cs);

    /* 1. Which instructions the jump covers. */
    uint64_t pc = patch_addr;
    int count = 0;
    while (pc < patch_addr + need) {
        const uint8_t *code = (const uint8_t *)pc;
        size_t avail = limit - pc;
        uint64_t addr = pc;
        if (avail == 0 || !cs_disasm_iter(cs, &code, &avail, &addr, insn)) {
            err = bpftime_set_error(-EINVAL,
                                    "function at 0x%lx too short to patch: cannot decode an "
                                    "instruction at +%lu (the jump needs %zu bytes)",
                                    (unsigned long)func, (unsigned long)(pc - func), need);
            goto out;
        }
        if (++count > PATCHER_MAX_INSNS) {
            err = bpftime_set_error(-EINVAL, "too many instructions in the patched bytes");
            goto out;
        }
        pc += insn->size;
        if (is_terminator(insn) && pc < patch_addr + need) {
            /* The function may end here. Bytes after it are ours to overwrite
             * only if the symbol size says they belong to the function, or
             * they are padding up to the next 16-byte boundary. */
            if (func_end && patch_addr + need <= func_end)
                continue;
            uint64_t aligned = (pc + 15) & ~(uint64_t)15;
            bool padding = aligned >= patch_addr + need && aligned <= m.end;
            for (uint64_t p = pc; padding && p < aligned;) {
                const uint8_t *c2 = (const uint8_t *)p;
                size_t a2 = aligned - p;
                uint64_t addr2 = p;
                if (!cs_disasm_iter(cs, &c2, &a2, &addr2, insn) || !is_padding(insn)) {
                    padding = false;
                    break;
                }
                p += insn->size;
            }
            if (!padding) {
                err = bpftime_set_error(
                    -EINVAL,
                    "function at 0x%lx too short to patch: it returns/jumps after %lu bytes "
                    "and the %zu-byte jump would overwrite what follows (give its symbol "
                    "size if the function is longer)",
                    (unsigned long)func, (unsigned long)(pc - func), need);
                goto out;
            }
            plan->reloc_len = pc - patch_addr;
            plan->patch_len = need;
            plan->ends_in_terminator = true;
            break;
        }
        plan->ends_in_terminator = is_terminator(insn);
    }
    if (!plan->patch_len) {
        plan->patch_len = plan->reloc_len = pc - patch_addr;
    }
    if (plan->patch_len > PATCHER_MAX_PATCH) {
        err = bpftime_set_error(-EINVAL, "patched instructions too long (%zu bytes)",
                                plan->patch_len);
        goto out;
    }

    /* 2. No branch from the rest of the function may land inside the
     * overwritten bytes (after their first byte). Linear sweep over the
     * function (symbol size) or, when unknown, until a terminator past every
     * forward branch target seen so far. */
    uint64_t lo = patch_addr, hi = patch_addr + plan->patch_len;
    uint64_t scan_end =
        func_end ? func_end : (func + SCAN_WINDOW < m.end ? func + SCAN_WINDOW : m.end);
    uint64_t furthest = 0;
    pc = func;
    while (pc < scan_end) {
        const uint8_t *code = (const uint8_t *)pc;
        size_t avail = scan_end - pc;
        uint64_t addr = pc;
        if (!cs_disasm_iter(cs, &code, &avail, &addr, insn))
            break; /* data or end */
        uint64_t at = pc;
        pc += insn->size;
        uint64_t target;
        bool inside = at >= lo && at < hi;
        if (direct_branch_target(insn, &target)) {
            if (!inside && target > lo && target < hi) {
                err = bpftime_set_error(
                    -EINVAL,
                    "cannot patch function at 0x%lx: the instruction at +%lu branches back "
                    "into the patched bytes (+%lu)",
                    (unsigned long)func, (unsigned long)(at - func),
                    (unsigned long)(target - func));
                goto out;
            }
            if (target > furthest && target < scan_end)
                furthest = target;
        }
        if (!func_end && is_terminator(insn) && pc >= hi && pc > furthest)
            break;
    }
out:
    cs_free(insn, 1);
    cs_close(&cs);
    return err;
}

int patcher_plan_trap(uint64_t patch_addr, struct patcher_plan *plan)
{
    struct patcher_mapping m;
    if (patcher_find_mapping(patch_addr, &m) != 0 || !(m.prot & 1 /* PROT_READ */))
        return bpftime_set_error(-EFAULT, "address 0x%lx is not in a readable mapping",
                                 (unsigned long)patch_addr);
    memset(plan, 0, sizeof *plan);
    plan->func = patch_addr;
    plan->patch_addr = patch_addr;
    plan->need = 1;
    csh cs;
    int err = open_capstone(&cs);
    if (err)
        return err;
    cs_insn *insn = cs_malloc(cs);
    const uint8_t *code = (const uint8_t *)patch_addr;
    size_t avail = m.end - patch_addr < 16 ? m.end - patch_addr : 16;
    uint64_t addr = patch_addr;
    if (!cs_disasm_iter(cs, &code, &avail, &addr, insn)) {
        err = bpftime_set_error(-EINVAL, "cannot decode the instruction at 0x%lx",
                                (unsigned long)patch_addr);
    } else if (insn->id == X86_INS_INT3) {
        err = bpftime_set_error(-EBUSY, "an int3 is already at 0x%lx", (unsigned long)patch_addr);
    } else {
        plan->patch_len = plan->reloc_len = insn->size;
        plan->ends_in_terminator = is_terminator(insn);
        plan->is_nop = insn->id == X86_INS_NOP;
    }
    cs_free(insn, 1);
    cs_close(&cs);
    return err;
}

int bpftime_insn_boundary(const uint8_t *code, size_t len, uint64_t func, uint64_t off,
                          uint64_t *insn_off)
{
    if (off >= len)
        return bpftime_set_error(-EINVAL, "offset %lu is beyond the %zu bytes given",
                                 (unsigned long)off, len);
    csh cs;
    int err = open_capstone(&cs);
    if (err)
        return err;
    cs_option(cs, CS_OPT_DETAIL, CS_OPT_OFF);
    cs_insn *insn = cs_malloc(cs);
    const uint8_t *p = code;
    size_t avail = len;
    uint64_t addr = func;
    int rc = 0;
    for (bool done = false; !done;) {
        uint64_t at = addr;
        if (!cs_disasm_iter(cs, &p, &avail, &addr, insn)) {
            rc = bpftime_set_error(-EINVAL, "cannot decode the instruction at +%lu",
                                   (unsigned long)(at - func));
            done = true;
        } else if (at - func == off) {
            rc = 1;
            done = true;
        } else if (addr - func > off) {
            *insn_off = at - func;
            rc = 0;
            done = true;
        }
    }
    cs_free(insn, 1);
    cs_close(&cs);
    return rc;
}

/* ---- emission ----------------------------------------------------------- */

struct emitter {
    uint8_t *buf;
    size_t cap, len;
    uint64_t base; /* address buf[0] will execute at */
    bool overflow;
};

static void put(struct emitter *e, const void *p, size_t n)
{
    if (e->len + n > e->cap) {
        e->overflow = true;
        return;
    }
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}
static void put8(struct emitter *e, uint8_t b)
{
    put(e, &b, 1);
}
static void put32(struct emitter *e, int32_t v)
{
    put(e, &v, 4);
}
static void put64(struct emitter *e, uint64_t v)
{
    put(e, &v, 8);
}
static uint64_t here(const struct emitter *e)
{
    return e->base + e->len;
}

struct fixup {
    size_t pos;      /* offset of a rel32 field in the output */
    uint64_t target; /* original address inside the relocated bytes */
};

static void emit_jmp(struct emitter *e, uint64_t target)
{
    uint8_t tmp[14];
    size_t n = patcher_emit_jmp(tmp, here(e), target);
    put(e, tmp, n);
}

/* Absolute jmp through an inline literal: jmp [rip+0]; .quad target */
static void emit_abs_jmp(struct emitter *e, uint64_t target)
{
    static const uint8_t op[6] = {0xff, 0x25, 0, 0, 0, 0};
    put(e, op, 6);
    put64(e, target);
}

/* Emits a rel32 field for `target`: internal targets are fixed up later. */
static void emit_rel32(struct emitter *e, uint64_t target, const struct patcher_plan *plan,
                       struct fixup *fx, int *nfx)
{
    uint64_t lo = plan->patch_addr, hi = plan->patch_addr + plan->reloc_len;
    if (target >= lo && target < hi) {
        fx[(*nfx)++] = (struct fixup){e->len, target};
        put32(e, 0);
    } else {
        put32(e, (int32_t)(target - (here(e) + 4)));
    }
}

static bool reachable(const struct emitter *e, uint64_t target, size_t insn_len,
                      const struct patcher_plan *plan)
{
    uint64_t lo = plan->patch_addr, hi = plan->patch_addr + plan->reloc_len;
    if (target >= lo && target < hi)
        return true; /* internal: always close */
    return fits_rel32((int64_t)(target - (here(e) + insn_len)));
}

static int relocate_branch(struct emitter *e, const cs_insn *insn, uint64_t target,
                           const struct patcher_plan *plan, struct fixup *fx, int *nfx)
{
    const uint8_t *b = insn->bytes;
    size_t p = prefix_len(b, insn->size);
    bool addr32 = memchr(b, 0x67, p) != NULL;
    uint8_t op = b[p];

    if (insn->id == X86_INS_CALL) {
        if (target == insn->address + insn->size) {
            /* get-pc idiom: push the original return address. */
            static const uint8_t push_lit[8] = {0xff, 0x35, 2, 0, 0, 0, 0xeb, 8};
            put(e, push_lit, 8);
            put64(e, insn->address + insn->size);
        } else if (reachable(e, target, 5, plan)) {
            put8(e, 0xe8);
            emit_rel32(e, target, plan, fx, nfx);
        } else {
            static const uint8_t call_lit[8] = {0xff, 0x15, 2, 0, 0, 0, 0xeb, 8};
            put(e, call_lit, 8);
            put64(e, target);
        }
        return 0;
    }
    if (op == 0xeb || op == 0xe9) { /* jmp */
        if (reachable(e, target, 5, plan)) {
            put8(e, 0xe9);
            emit_rel32(e, target, plan, fx, nfx);
        } else {
            emit_abs_jmp(e, target);
        }
        return 0;
    }
    int cc = -1;
    if (op >= 0x70 && op <= 0x7f)
        cc = op - 0x70;
    else if (op == 0x0f && p + 1 < insn->size && b[p + 1] >= 0x80 && b[p + 1] <= 0x8f)
        cc = b[p + 1] - 0x80;
    if (cc >= 0) {
        if (reachable(e, target, 6, plan)) {
            put8(e, 0x0f);
            put8(e, (uint8_t)(0x80 + cc));
            emit_rel32(e, target, plan, fx, nfx);
        } else {
            put8(e, (uint8_t)(0x70 + (cc ^ 1))); /* inverted: skip the absolute jmp */
            put8(e, 14);
            emit_abs_jmp(e, target);
        }
        return 0;
    }
    if (op >= 0xe0 && op <= 0xe3) { /* loopne/loope/loop/jrcxz: rel8 only */
        if (addr32)
            put8(e, 0x67);
        put8(e, op);
        put8(e, 2); /* taken: to the long jump below */
        if (reachable(e, target, 2 + 5, plan)) {
            put8(e, 0xeb);
            put8(e, 5);
            put8(e, 0xe9);
            emit_rel32(e, target, plan, fx, nfx);
        } else {
            put8(e, 0xeb);
            put8(e, 14);
            emit_abs_jmp(e, target);
        }
        return 0;
    }
    return bpftime_set_error(-EINVAL, "cannot relocate branch '%s %s' at 0x%lx", insn->mnemonic,
                             insn->op_str, (unsigned long)insn->address);
}

/* Scratch registers usable in modrm.rm without SIB or REX.B. */
static const struct {
    x86_reg reg, r32, r16, r8;
    uint8_t num;
} scratch_regs[] = {
    {X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL, 0},
    {X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, 1},
    {X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, 2},
    {X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL, 3},
    {X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL, 6},
    {X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL, 7},
};

static int relocate_rip_relative(struct emitter *e, csh cs, const cs_insn *insn, uint64_t target)
{
    const cs_x86 *x = &insn->detail->x86;
    uint8_t bytes[16];
    memcpy(bytes, insn->bytes, insn->size);
    if (x->encoding.disp_offset == 0 || x->encoding.disp_size != 4)
        return bpftime_set_error(-EINVAL, "cannot locate the displacement of '%s %s'",
                                 insn->mnemonic, insn->op_str);
    int64_t d = (int64_t)(target - (here(e) + insn->size));
    if (fits_rel32(d)) {
        int32_t d32 = (int32_t)d;
        memcpy(bytes + x->encoding.disp_offset, &d32, 4);
        put(e, bytes, insn->size);
        return 0;
    }
    /* Out of reach: [rip+disp] -> [scratch+0]. Instructions that move rsp
     * themselves (push/pop/call/jmp through memory) would see our pushes. */
    cs_regs rd, wr;
    uint8_t nrd = 0, nwr = 0;
    if (cs_regs_access(cs, insn, rd, &nrd, wr, &nwr) != CS_ERR_OK)
        return bpftime_set_error(-EINVAL, "capstone cannot list registers of '%s'", insn->mnemonic);
    for (int i = 0; i < nrd; i++)
        if (rd[i] == X86_REG_RSP)
            goto refuse;
    for (int i = 0; i < nwr; i++)
        if (wr[i] == X86_REG_RSP)
            goto refuse;
    int pick = -1;
    for (size_t s = 0; s < sizeof scratch_regs / sizeof scratch_regs[0] && pick < 0; s++) {
        bool used = false;
        for (int i = 0; i < nrd + nwr; i++) {
            x86_reg r = i < nrd ? rd[i] : wr[i - nrd];
            if (r == scratch_regs[s].reg || r == scratch_regs[s].r32 || r == scratch_regs[s].r16 ||
                r == scratch_regs[s].r8)
                used = true;
        }
        if (!used)
            pick = (int)s;
    }
    if (pick < 0)
        goto refuse;
    uint8_t num = scratch_regs[pick].num;
    size_t mo = x->encoding.modrm_offset;
    /* mod=10 (disp32), rm=scratch; disp32 = 0. */
    bytes[mo] = (uint8_t)(0x80 | (bytes[mo] & 0x38) | num);
    memset(bytes + x->encoding.disp_offset, 0, 4);
    /* Clear the B extension bit so rm names the low register. */
    size_t p = prefix_len(bytes, insn->size);
    if (bytes[p] >= 0x40 && bytes[p] <= 0x4f)
        bytes[p] &= (uint8_t)~1;
    else if (bytes[p] == 0xc4 || bytes[p] == 0x62)
        bytes[p + 1] |= 0x20;                                               /* VEX3/EVEX: ~B */
    static const uint8_t skip_red_zone[5] = {0x48, 0x8d, 0x64, 0x24, 0x80}; /* lea rsp,[rsp-128] */
    static const uint8_t back_red_zone[8] = {0x48, 0x8d, 0xa4, 0x24, 0x80, 0, 0, 0}; /* +128 */
    put(e, skip_red_zone, 5);
    put8(e, (uint8_t)(0x50 + num)); /* push scratch */
    put8(e, 0x48);
    put8(e, (uint8_t)(0xb8 + num)); /* movabs scratch, target */
    put64(e, target);
    put(e, bytes, insn->size);
    put8(e, (uint8_t)(0x58 + num)); /* pop scratch */
    put(e, back_red_zone, 8);
    return 0;
refuse:
    return bpftime_set_error(-ERANGE,
                             "cannot relocate '%s %s' at 0x%lx: its RIP-relative target is out "
                             "of reach of the trampoline",
                             insn->mnemonic, insn->op_str, (unsigned long)insn->address);
}

int patcher_relocate(const struct patcher_plan *plan, uint8_t *out, uint64_t out_addr, size_t cap,
                     struct patcher_reloc_map *map)
{
    csh cs;
    int err = open_capstone(&cs);
    if (err)
        return err;
    cs_insn *insn = cs_malloc(cs);
    struct emitter e = {out, cap, 0, out_addr, false};
    struct fixup fx[PATCHER_MAX_INSNS];
    int nfx = 0;
    map->n = 0;

    const uint8_t *code = (const uint8_t *)plan->patch_addr;
    size_t avail = plan->reloc_len;
    uint64_t addr = plan->patch_addr;
    while (avail > 0) {
        if (!cs_disasm_iter(cs, &code, &avail, &addr, insn)) {
            err = bpftime_set_error(-EINVAL, "cannot decode instruction at 0x%lx",
                                    (unsigned long)addr);
            goto out;
        }
        if (map->n < PATCHER_MAX_INSNS) {
            map->orig_off[map->n] = (uint8_t)(insn->address - plan->patch_addr);
            map->new_off[map->n] = (uint16_t)e.len;
            map->n++;
        }
        const cs_x86 *x = &insn->detail->x86;
        uint64_t target;
        int rip_op = -1;
        for (int i = 0; i < x->op_count; i++)
            if (x->operands[i].type == X86_OP_MEM && x->operands[i].mem.base == X86_REG_RIP)
                rip_op = i;
        if (direct_branch_target(insn, &target)) {
            err = relocate_branch(&e, insn, target, plan, fx, &nfx);
        } else if (rip_op >= 0) {
            target = insn->address + insn->size + (uint64_t)x->operands[rip_op].mem.disp;
            err = relocate_rip_relative(&e, cs, insn, target);
        } else {
            put(&e, insn->bytes, insn->size);
        }
        if (err)
            goto out;
    }
    if (!plan->ends_in_terminator)
        emit_jmp(&e, plan->patch_addr + plan->patch_len);
    if (e.overflow) {
        err = bpftime_set_error(-ENOSPC, "relocated code does not fit the trampoline");
        goto out;
    }
    for (int i = 0; i < nfx; i++) {
        uint32_t off = (uint32_t)(fx[i].target - plan->patch_addr);
        int k;
        for (k = 0; k < map->n && map->orig_off[k] != off; k++) {}
        if (k == map->n) {
            err = bpftime_set_error(-EINVAL, "branch into the middle of an instruction at 0x%lx",
                                    (unsigned long)fx[i].target);
            goto out;
        }
        int32_t rel = (int32_t)((int64_t)map->new_off[k] - (int64_t)(fx[i].pos + 4));
        memcpy(out + fx[i].pos, &rel, 4);
    }
    err = (int)e.len;
out:
    cs_free(insn, 1);
    cs_close(&cs);
    return err;
}
