/* bpftime_code_is_gpr_only(): does machine code stay in general-purpose
 * registers and inside itself? (see patcher.h). Used on JIT output: a
 * program whose code passes runs on a hook's path with no vector register
 * saved. Every doubt answers 0, which only costs a save. */
#include <capstone/capstone.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "patcher/patcher_internal.h"

static bool vector_or_x87_reg(unsigned reg)
{
    return (reg >= X86_REG_FP0 && reg <= X86_REG_FP7) || (reg >= X86_REG_K0 && reg <= X86_REG_K7) ||
           (reg >= X86_REG_MM0 && reg <= X86_REG_MM7) ||
           (reg >= X86_REG_ST0 && reg <= X86_REG_ST7) ||
           (reg >= X86_REG_XMM0 && reg <= X86_REG_ZMM31);
}

static bool insn_ok(csh cs, const cs_insn *in, uint64_t lo, uint64_t hi)
{
    /* x87 and every SIMD extension (their mnemonics start with f or v, or
     * name an mm register), and what saves or loads their state, whatever
     * registers capstone reports. */
    const char *m = in->mnemonic;
    if (m[0] == 'f' || m[0] == 'v' || strstr(in->op_str, "mm") || strstr(m, "xsave") ||
        strstr(m, "xrstor") || strstr(m, "mxcsr") || strcmp(m, "emms") == 0)
        return false;
    cs_regs rd, wr;
    uint8_t nrd = 0, nwr = 0;
    if (cs_regs_access(cs, in, rd, &nrd, wr, &nwr) == CS_ERR_OK) {
        for (unsigned i = 0; i < nrd; i++)
            if (vector_or_x87_reg(rd[i]))
                return false;
        for (unsigned i = 0; i < nwr; i++)
            if (vector_or_x87_reg(wr[i]))
                return false;
    }
    if (cs_insn_group(cs, in, X86_GRP_CALL) || cs_insn_group(cs, in, X86_GRP_JUMP)) {
        const cs_x86 *x = &in->detail->x86;
        if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
            return false; /* indirect: could go anywhere */
        uint64_t target = (uint64_t)x->operands[0].imm;
        return target >= lo && target < hi;
    }
    /* Software interrupts and syscalls leave the code too. */
    if (in->id == X86_INS_SYSCALL || in->id == X86_INS_INT || in->id == X86_INS_INTO ||
        in->id == X86_INS_SYSENTER)
        return false;
    return true;
}

int bpftime_code_is_gpr_only(const void *code, size_t len)
{
    if (!code || !len)
        return 0;
    csh cs;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
        return 0;
    cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
    cs_insn *in = cs_malloc(cs);
    const uint8_t *p = code;
    size_t left = len;
    uint64_t addr = (uint64_t)(uintptr_t)code;
    int ok = in != NULL;
    while (ok && left > 0) {
        if (!cs_disasm_iter(cs, &p, &left, &addr, in)) {
            ok = 0; /* does not decode: cannot say */
            break;
        }
        ok = insn_ok(cs, in, (uint64_t)(uintptr_t)code, (uint64_t)(uintptr_t)code + len);
    }
    if (in)
        cs_free(in, 1);
    cs_close(&cs);
    return ok;
}
