/* MurmurHash64A over 8-byte words. */
#include "bench_prog.h"

PROG(murmur)
{
    const u64 m = 0xc6a4a7935bd1e995ULL;
    u64 h = 0x8445d61a4e774912ULL ^ (len * m);
    u64 n = len / 8;
    for (u64 i = 0; i < n; i++) {
        u64 k = load64(mem + i * 8);
        k *= m;
        k ^= k >> 47;
        k *= m;
        h ^= k;
        h *= m;
    }
    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;
    return h;
}
