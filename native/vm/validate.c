/* Load-time structural validation and a one-line instruction formatter.
 *
 * This is not the verifier (src/verifier/ does the safety analysis): it only
 * guarantees what the interpreter and the JIT rely on without re-checking —
 * every opcode known, registers in range and r10 never written, every jump
 * and local call landing on an instruction start, complete lddw pairs, and no
 * way to run past the last instruction. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/vm_internal.h"

#define CLS(op) ((op)&0x07)
#define CLS_LD 0x00
#define CLS_LDX 0x01
#define CLS_ST 0x02
#define CLS_STX 0x03
#define CLS_ALU 0x04
#define CLS_JMP 0x05
#define CLS_JMP32 0x06
#define CLS_ALU64 0x07
#define SRC_X 0x08
#define OPF(op) ((op)&0xf0)

static const char *const alu_names[16] = {
    "add", "sub", "mul", "div", "or",   "and", "lsh", "rsh",
    "neg", "mod", "xor", "mov", "arsh", "end", NULL,  NULL,
};
static const char *const jmp_names[16] = {
    "ja",   "jeq",  "jgt", "jge", "jset", "jne",  "jsgt", "jsge",
    "call", "exit", "jlt", "jle", "jslt", "jsle", NULL,   NULL,
};
static const char *const size_names[4] = {"w", "h", "b", "dw"};

static const char *atomic_name(int32_t imm)
{
    switch (imm) {
    case 0x00: return "add";
    case 0x01: return "fetch_add";
    case 0x40: return "or";
    case 0x41: return "fetch_or";
    case 0x50: return "and";
    case 0x51: return "fetch_and";
    case 0xa0: return "xor";
    case 0xa1: return "fetch_xor";
    case 0xe1: return "xchg";
    case 0xf1: return "cmpxchg";
    default: return NULL;
    }
}

void ebpf_insn_format(const struct ebpf_inst *insts, uint32_t num_insts, uint32_t idx, char *buf,
                      size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    if (idx >= num_insts)
        return;
    const struct ebpf_inst *in = &insts[idx];
    uint8_t op = in->opcode;
    int x = (op & SRC_X) != 0;
    const char *sz = size_names[(op >> 3) & 3];
    char srcbuf[24];
    if (x)
        snprintf(srcbuf, sizeof srcbuf, "r%u", in->src);
    else
        snprintf(srcbuf, sizeof srcbuf, "%d", in->imm);

    switch (CLS(op)) {
    case CLS_ALU:
    case CLS_ALU64: {
        const char *name = alu_names[OPF(op) >> 4];
        const char *w = CLS(op) == CLS_ALU ? "32" : "";
        if (!name)
            break;
        if (OPF(op) == 0x80) {
            snprintf(buf, len, "neg%s r%u", w, in->dst);
        } else if (OPF(op) == 0xd0) {
            const char *kind = CLS(op) == CLS_ALU64 ? "bswap" : x ? "be" : "le";
            snprintf(buf, len, "%s%d r%u", kind, in->imm, in->dst);
        } else if ((OPF(op) == 0x30 || OPF(op) == 0x90) && in->off == 1) {
            snprintf(buf, len, "s%s%s r%u, %s", name, w, in->dst, srcbuf);
        } else if (OPF(op) == 0xb0 && x && in->off) {
            snprintf(buf, len, "movsx%d%s r%u, r%u", in->off, w, in->dst, in->src);
        } else {
            snprintf(buf, len, "%s%s r%u, %s", name, w, in->dst, srcbuf);
        }
        return;
    }
    case CLS_JMP:
    case CLS_JMP32: {
        const char *name = jmp_names[OPF(op) >> 4];
        const char *w = CLS(op) == CLS_JMP32 ? "32" : "";
        if (!name)
            break;
        if (OPF(op) == 0x00) {
            if (CLS(op) == CLS_JMP32)
                snprintf(buf, len, "ja32 %+d", in->imm);
            else
                snprintf(buf, len, "ja %+d", in->off);
        } else if (OPF(op) == 0x80) {
            if (x)
                snprintf(buf, len, "callx r%u", in->dst);
            else if (in->src == 1)
                snprintf(buf, len, "call local %+d", in->imm);
            else
                snprintf(buf, len, "call %d", in->imm);
        } else if (OPF(op) == 0x90) {
            snprintf(buf, len, "exit");
        } else {
            snprintf(buf, len, "%s%s r%u, %s, %+d", name, w, in->dst, srcbuf, in->off);
        }
        return;
    }
    case CLS_LD:
        if (op == 0x18) {
            uint64_t v = (uint32_t)in->imm;
            if (idx + 1 < num_insts)
                v |= (uint64_t)(uint32_t)in[1].imm << 32;
            if (in->src)
                snprintf(buf, len, "lddw r%u, pseudo%u %d", in->dst, in->src, in->imm);
            else
                snprintf(buf, len, "lddw r%u, 0x%" PRIx64, in->dst, v);
            return;
        }
        break;
    case CLS_LDX:
        snprintf(buf, len, "ldx%s%s r%u, [r%u%+d]", (op & 0xe0) == 0x80 ? "s" : "", sz, in->dst,
                 in->src, in->off);
        return;
    case CLS_ST: snprintf(buf, len, "st%s [r%u%+d], %d", sz, in->dst, in->off, in->imm); return;
    case CLS_STX:
        if ((op & 0xe0) == 0xc0) {
            const char *a = atomic_name(in->imm);
            snprintf(buf, len, "lock %s%s [r%u%+d], r%u", a ? a : "?", op == 0xc3 ? "32" : "",
                     in->dst, in->off, in->src);
        } else {
            snprintf(buf, len, "stx%s [r%u%+d], r%u", sz, in->dst, in->off, in->src);
        }
        return;
    }
    if (op == 0 && idx > 0 && insts[idx - 1].opcode == 0x18)
        snprintf(buf, len, "(lddw high half 0x%x)", (unsigned)in->imm);
    else
        snprintf(buf, len, "unknown opcode 0x%02x", op);
}

#define FAIL(code, ...) return bpftime_set_error(code, __VA_ARGS__)

/* Checks one instruction in isolation. */
static int check_insn(struct ebpf_vm *vm, const struct ebpf_inst *in, uint32_t i)
{
    uint8_t op = in->opcode;
    int x = (op & SRC_X) != 0;
    char text[64];

    if (in->dst > 10)
        FAIL(-EINVAL, "instruction %u: invalid destination register r%u", i, in->dst);
    if (in->src > 10 && !(op == 0x18 || (op == 0x85)))
        FAIL(-EINVAL, "instruction %u: invalid source register r%u", i, in->src);

    switch (CLS(op)) {
    case CLS_ALU:
    case CLS_ALU64: {
        unsigned o = OPF(op);
        bool is64 = CLS(op) == CLS_ALU64;
        if (o >= 0xe0)
            goto unknown;
        if (o == 0x80 && x)
            goto unknown; /* neg has no register form */
        if (o == 0xd0) {
            if (is64 && x)
                goto unknown; /* bswap is BPF_ALU64|BPF_END|BPF_TO_LE only */
            if (in->imm != 16 && in->imm != 32 && in->imm != 64)
                FAIL(-EINVAL, "instruction %u: byte swap width %d (must be 16, 32 or 64)", i,
                     in->imm);
        }
        if ((o == 0x30 || o == 0x90) && in->off != 0 && in->off != 1)
            FAIL(-EINVAL, "instruction %u: unknown division variant (offset %d, must be 0 or 1)", i,
                 in->off);
        if (o == 0xb0) {
            bool ok =
                in->off == 0 || (x && (in->off == 8 || in->off == 16 || (is64 && in->off == 32)));
            if (!ok)
                FAIL(-EINVAL, "instruction %u: unknown mov variant (offset %d)", i, in->off);
        }
        if (in->dst == 10)
            goto r10;
        return 0;
    }
    case CLS_JMP:
    case CLS_JMP32: {
        unsigned o = OPF(op);
        bool is32 = CLS(op) == CLS_JMP32;
        if (o >= 0xe0)
            goto unknown;
        if (o == 0x00 && x)
            goto unknown;
        if (o == 0x80) {
            if (is32)
                goto unknown;
            if (x) {
                /* callx dst: the helper id is in dst at run time */
                if (in->src != 0 || in->off != 0 || in->imm != 0)
                    FAIL(-EINVAL,
                         "instruction %u: callx r%u has reserved fields set (src %u, offset %d, "
                         "imm %d; all must be 0)",
                         i, in->dst, in->src, in->off, in->imm);
                return 0;
            }
            if (in->src == 0) {
                uint32_t id = (uint32_t)in->imm;
                if (id != EBPF_HELPER_TAIL_CALL && (id >= EBPF_MAX_HELPERS || !vm->helpers[id]))
                    FAIL(-ENOENT, "instruction %u: call to unknown helper %u (not registered)", i,
                         id);
            } else if (in->src != 1) {
                FAIL(-EINVAL,
                     "instruction %u: unsupported call kind (src %u; kfunc calls are "
                     "not supported)",
                     i, in->src);
            }
            return 0;
        }
        if (o == 0x90) {
            if (is32 || x)
                goto unknown;
            return 0;
        }
        return 0;
    }
    case CLS_LD:
        if (op != 0x18)
            goto unknown; /* legacy packet access (abs/ind) is not supported */
        if (in->src > 6)
            FAIL(-EINVAL, "instruction %u: unknown lddw pseudo source %u", i, in->src);
        if (in->dst == 10)
            goto r10;
        return 0;
    case CLS_LDX:
        if (op != 0x61 && op != 0x69 && op != 0x71 && op != 0x79 && op != 0x81 && op != 0x89 &&
            op != 0x91)
            goto unknown;
        if (in->dst == 10)
            goto r10;
        return 0;
    case CLS_ST:
        if (op != 0x62 && op != 0x6a && op != 0x72 && op != 0x7a)
            goto unknown;
        return 0;
    case CLS_STX:
        if (op == 0x63 || op == 0x6b || op == 0x73 || op == 0x7b)
            return 0;
        if (op == 0xc3 || op == 0xdb) {
            if (!atomic_name(in->imm))
                FAIL(-EINVAL, "instruction %u: unknown atomic operation 0x%x", i,
                     (unsigned)in->imm);
            if ((in->imm & 1) && in->imm != 0xf1 && in->src == 10)
                goto r10;
            return 0;
        }
        goto unknown;
    }
unknown:
    FAIL(-EINVAL, "instruction %u: unknown opcode 0x%02x", i, op);
r10:
    ebpf_insn_format(in, 1, 0, text, sizeof text);
    FAIL(-EINVAL, "instruction %u: writes read-only register r10 (%s)", i, text);
}

static bool is_jump(uint8_t op)
{
    uint8_t c = CLS(op);
    if (c != CLS_JMP && c != CLS_JMP32)
        return false;
    return OPF(op) != 0x80 && OPF(op) != 0x90;
}

int ebpf_vm_validate(struct ebpf_vm *vm, const struct ebpf_inst *insts, uint32_t n)
{
    if (n == 0)
        FAIL(-EINVAL, "empty program");

    /* Which slots are the second half of an lddw (not an instruction start). */
    uint8_t *second = calloc(n, 1);
    if (!second)
        FAIL(-ENOMEM, "out of memory validating %u instructions", n);
    int rc = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (insts[i].opcode != 0x18)
            continue;
        if (i + 1 >= n) {
            rc = bpftime_set_error(-EINVAL,
                                   "instruction %u: lddw is truncated (last instruction, no "
                                   "second half)",
                                   i);
            goto out;
        }
        const struct ebpf_inst *h = &insts[i + 1];
        if (h->opcode != 0 || h->dst != 0 || h->src != 0 || h->off != 0) {
            rc = bpftime_set_error(
                -EINVAL, "instruction %u: malformed second half of the lddw at %u", i + 1, i);
            goto out;
        }
        second[i + 1] = 1;
        i++;
    }

    for (uint32_t i = 0; i < n; i++) {
        if (second[i])
            continue;
        const struct ebpf_inst *in = &insts[i];
        rc = check_insn(vm, in, i);
        if (rc < 0)
            goto out;
        int64_t target = -1;
        const char *kind = "jump";
        if (is_jump(in->opcode)) {
            int32_t delta = in->opcode == 0x06 ? in->imm : in->off;
            target = (int64_t)i + 1 + delta;
        } else if (in->opcode == 0x85 && in->src == 1) {
            target = (int64_t)i + 1 + in->imm;
            kind = "local call";
        } else {
            continue;
        }
        if (target < 0 || target >= (int64_t)n) {
            rc = bpftime_set_error(
                -EINVAL, "instruction %u: %s target %" PRId64 " is outside the program (0..%u)", i,
                kind, target, n - 1);
            goto out;
        }
        if (second[target]) {
            rc = bpftime_set_error(
                -EINVAL, "instruction %u: %s target %" PRId64 " is the second half of an lddw", i,
                kind, target);
            goto out;
        }
    }

    uint8_t last = insts[n - 1].opcode;
    if (second[n - 1] || (last != 0x95 && last != 0x05 && last != 0x06)) {
        rc = bpftime_set_error(-EINVAL,
                               "instruction %u: program does not end with exit or ja "
                               "(execution could run past the end)",
                               n - 1);
        goto out;
    }
out:
    free(second);
    return rc;
}
