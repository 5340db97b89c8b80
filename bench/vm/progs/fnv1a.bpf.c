/* FNV-1a 64 over the whole buffer: one multiply per byte, serial chain. */
#include "bench_prog.h"

PROG(fnv1a)
{
    u64 h = 0xcbf29ce484222325ULL;
    for (u64 i = 0; i < len; i++) {
        h ^= mem[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
