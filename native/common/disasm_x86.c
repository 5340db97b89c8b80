/* x86-64 disassembly through capstone, for `bpftime disasm --jited`: the
 * JIT's output printed one instruction per line, objdump style. */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bpftime/api.h"

BPFTIME_API int bpftime_disasm_x86(const uint8_t *code, uint64_t len, char *out, uint64_t cap);

/* Writes "   offset:\tbytes\tmnemonic operands\n" lines into out (NUL-terminated,
 * truncated to cap). Returns the number of bytes written, or a negative errno. */
int bpftime_disasm_x86(const uint8_t *code, uint64_t len, char *out, uint64_t cap)
{
    csh handle;
    if (cap == 0)
        return -EINVAL;
    out[0] = 0;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK)
        return -ENOSYS;
    cs_insn *insn;
    size_t count = cs_disasm(handle, code, len, 0, 0, &insn);
    uint64_t used = 0;
    for (size_t i = 0; i < count && used + 1 < cap; i++) {
        char bytes[64] = {0};
        for (uint16_t b = 0; b < insn[i].size && b < 15; b++)
            snprintf(bytes + 3 * b, sizeof bytes - 3 * b, "%02x ", insn[i].bytes[b]);
        int n =
            snprintf(out + used, cap - used, "%8llx:\t%-30s\t%s %s\n",
                     (unsigned long long)insn[i].address, bytes, insn[i].mnemonic, insn[i].op_str);
        if (n < 0)
            break;
        used += (uint64_t)n < cap - used ? (uint64_t)n : cap - used - 1;
    }
    if (count)
        cs_free(insn, count);
    cs_close(&handle);
    return (int)used;
}
