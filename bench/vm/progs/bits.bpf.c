/* Bit tricks per 64-bit word: SWAR popcount, rotate-mix, parity. */
#include "bench_prog.h"

PROG(bits)
{
    u64 acc = 0, par = 0;
    u64 n = len / 8;
    for (u64 i = 0; i < n; i++) {
        u64 x = load64(mem + i * 8);
        u64 c = x - ((x >> 1) & 0x5555555555555555ULL);
        c = (c & 0x3333333333333333ULL) + ((c >> 2) & 0x3333333333333333ULL);
        c = (c + (c >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
        c = (c * 0x0101010101010101ULL) >> 56;
        acc += c;
        acc ^= (acc << 13) | (acc >> 51);
        x ^= x >> 32;
        x ^= x >> 16;
        x ^= x >> 8;
        par += (0x6996 >> ((x ^ (x >> 4)) & 0xf)) & 1;
    }
    return acc ^ par;
}
