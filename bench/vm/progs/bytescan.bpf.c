/* memchr-like: for 32 different bytes, the index of the first occurrence
 * (or len), folded into one value. Early-exit scans. */
#include "bench_prog.h"

PROG(bytescan)
{
    u64 acc = 0;
    for (u32 t = 0; t < 32; t++) {
        u8 c = (u8)(t * 37 + 1);
        u64 i = 0;
        while (i < len && mem[i] != c)
            i++;
        acc = acc * 31 + i;
    }
    return acc;
}
