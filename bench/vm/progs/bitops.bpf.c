/* Bit manipulation by hand over the buffer's 32-bit words: popcount (the
 * SWAR way), count leading zeros (binary search on the bits), bit reversal
 * (swap halves, bytes, nibbles, pairs, bits), parity. */
#include "bench_prog.h"

INLINE u32 bitops_popcount(u32 x)
{
    x = x - ((x >> 1) & 0x55555555);
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333);
    x = (x + (x >> 4)) & 0x0f0f0f0f;
    return (x * 0x01010101) >> 24;
}

INLINE u32 bitops_clz(u32 x)
{
    if (x == 0)
        return 32;
    u32 n = 0;
    for (int s = 16; s > 0; s >>= 1) { /* binary search for the top bit */
        if ((x >> (32 - s)) == 0) {
            n += s;
            x <<= s;
        }
    }
    return n;
}

INLINE u32 bitops_reverse(u32 x)
{
    x = (x >> 16) | (x << 16);
    x = ((x & 0xff00ff00) >> 8) | ((x & 0x00ff00ff) << 8);
    x = ((x & 0xf0f0f0f0) >> 4) | ((x & 0x0f0f0f0f) << 4);
    x = ((x & 0xcccccccc) >> 2) | ((x & 0x33333333) << 2);
    x = ((x & 0xaaaaaaaa) >> 1) | ((x & 0x55555555) << 1);
    return x;
}

PROG(bitops)
{
    u64 pop = 0, lz = 0, rev = 0, par = 0;
    for (u64 i = 0; i + 4 <= len; i += 4) {
        u32 w = load32(mem + i) >> (i & 31); /* vary the leading zeros */
        pop += bitops_popcount(w);
        lz += bitops_clz(w);
        rev = (rev << 1) ^ bitops_reverse(w);
        u32 p = w ^ (w >> 16);
        p ^= p >> 8;
        p ^= p >> 4;
        par += (0x6996 >> (p & 15)) & 1;
    }
    return (pop << 48) ^ (lz << 32) ^ rev ^ (par << 20);
}
