/* xxHash32 (seed 0) over the whole buffer: four lanes of 32-bit multiply
 * and rotate, then the tail and the avalanche. */
#include "bench_prog.h"

#define XXH_P1 2654435761U
#define XXH_P2 2246822519U
#define XXH_P3 3266489917U
#define XXH_P4 668265263U
#define XXH_P5 374761393U

INLINE u32 xxh_rotl(u32 x, int r)
{
    return (x << r) | (x >> (32 - r));
}

INLINE u32 xxh_round(u32 acc, u32 in)
{
    acc += in * XXH_P2;
    acc = xxh_rotl(acc, 13);
    return acc * XXH_P1;
}

PROG(xxh32)
{
    u64 i = 0;
    u32 h;
    if (len >= 16) {
        u32 v1 = XXH_P1 + XXH_P2, v2 = XXH_P2, v3 = 0, v4 = 0 - XXH_P1;
        for (; i + 16 <= len; i += 16) {
            v1 = xxh_round(v1, load32(mem + i));
            v2 = xxh_round(v2, load32(mem + i + 4));
            v3 = xxh_round(v3, load32(mem + i + 8));
            v4 = xxh_round(v4, load32(mem + i + 12));
        }
        h = xxh_rotl(v1, 1) + xxh_rotl(v2, 7) + xxh_rotl(v3, 12) + xxh_rotl(v4, 18);
    } else {
        h = XXH_P5;
    }
    h += (u32)len;
    for (; i + 4 <= len; i += 4)
        h = xxh_rotl(h + load32(mem + i) * XXH_P3, 17) * XXH_P4;
    for (; i < len; i++)
        h = xxh_rotl(h + mem[i] * XXH_P5, 11) * XXH_P1;
    h ^= h >> 15;
    h *= XXH_P2;
    h ^= h >> 13;
    h *= XXH_P3;
    h ^= h >> 16;
    return h;
}
