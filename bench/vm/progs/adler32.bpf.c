/* Adler-32 over the whole buffer, the textbook way: a modulo per byte. */
#include "bench_prog.h"

PROG(adler32)
{
    u32 a = 1, b = 0;
    for (u64 i = 0; i < len; i++) {
        a = (a + mem[i]) % 65521;
        b = (b + a) % 65521;
    }
    return ((u64)b << 16) | a;
}
