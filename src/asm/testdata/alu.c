// Arithmetic, shifts, divisions, byte swaps and sign extensions.
typedef unsigned long long u64;
typedef long long s64;
typedef unsigned int u32;
typedef int s32;
typedef short s16;
typedef signed char s8;

__attribute__((section("tc"))) int alu(u64 *ctx) {
  u64 a = ctx[0], b = ctx[1];
  u32 c = (u32)ctx[2], d = (u32)ctx[3];
  a += b * 3;
  a -= b << 7;
  a ^= 0xffffffff12345678ULL;
  a |= b >> 3;
  a &= ~b;
  c = c * d + 11;
  c ^= d >> 5;
  c = c % (d | 1);
  a = a / (b | 1);
  a += (s64)a >> 9;
  a += (s32)c >> 2;
  a += __builtin_bswap64(b) + __builtin_bswap32(c) + __builtin_bswap16((unsigned short)d);
  a += (s64)(s8)b + (s64)(s16)c + (s64)(s32)d;
  a = -a;
  c = -c;
  return (int)(a + c);
}

__attribute__((section("tc/signed"))) int sdiv(s64 *ctx) {
#if defined(__BPF_CPU_VERSION__) && __BPF_CPU_VERSION__ >= 4
  s64 x = ctx[0] / (ctx[1] | 1);
  s32 y = (s32)ctx[2] % ((s32)ctx[3] | 1);
  return (int)(x + y);
#else
  return (int)ctx[0];
#endif
}
