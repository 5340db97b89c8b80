/* Hash-table style arithmetic: bucket = word % prime, mixed with a
 * division, as in jhash-then-modulo map lookups. */
#include "bench_prog.h"

PROG(modhash)
{
    u64 acc = 0;
    u64 n = len / 4;
    for (u64 i = 0; i < n; i++) {
        u32 w = load32(mem + i * 4);
        u32 b = w % 1021;
        acc = acc * 33 + b + (w / 7);
    }
    return acc;
}
