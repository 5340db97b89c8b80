/* Many bpf-to-bpf calls: every 8-byte word goes through a chain of small
 * noinline subprograms (classify, mix, fold), as a program split into
 * functions for readability would. */
#include "bench_prog.h"

SUBPROG u64 calls_mix(u64 x, u64 seed);
SUBPROG u64 calls_classify(u64 w);
SUBPROG u64 calls_fold(u64 acc, u64 v, u64 kind);

PROG(calls)
{
    u64 acc = 0;
    for (u64 i = 0; i + 8 <= len; i += 8) {
        u64 w = load64(mem + i);
        u64 kind = calls_classify(w);
        acc = calls_fold(acc, calls_mix(w, i), kind);
    }
    return acc;
}

SUBPROG u64 calls_mix(u64 x, u64 seed)
{
    x ^= seed * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

SUBPROG u64 calls_classify(u64 w)
{
    u64 letters = 0;
    for (int i = 0; i < 8; i++) {
        u8 c = w >> (8 * i);
        letters += c >= 'a' && c <= 'z';
    }
    return letters == 8 ? 0 : letters >= 4 ? 1 : 2;
}

SUBPROG u64 calls_fold(u64 acc, u64 v, u64 kind)
{
    if (kind == 0)
        return acc + v;
    if (kind == 1)
        return (acc ^ v) * 3;
    return (acc << 7 | acc >> 57) ^ v;
}
