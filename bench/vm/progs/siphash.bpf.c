/* SipHash-2-4 with a fixed key over the whole buffer: 64-bit add, rotate,
 * xor rounds on four state words. */
#include "bench_prog.h"

INLINE u64 sip_rotl(u64 x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND \
    do { \
        v0 += v1; \
        v1 = sip_rotl(v1, 13); \
        v1 ^= v0; \
        v0 = sip_rotl(v0, 32); \
        v2 += v3; \
        v3 = sip_rotl(v3, 16); \
        v3 ^= v2; \
        v0 += v3; \
        v3 = sip_rotl(v3, 21); \
        v3 ^= v0; \
        v2 += v1; \
        v1 = sip_rotl(v1, 17); \
        v1 ^= v2; \
        v2 = sip_rotl(v2, 32); \
    } while (0)

PROG(siphash)
{
    const u64 k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
    u64 v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    u64 v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    u64 n = len & ~7ULL;
    for (u64 i = 0; i < n; i += 8) {
        u64 m = load64(mem + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    u64 b = len << 56;
    for (u64 i = n; i < len; i++)
        b |= (u64)mem[i] << (8 * (i - n));
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}
