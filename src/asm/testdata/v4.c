// ISA v4 (clang-19 -mcpu=v4): movsx, ldsx, bswap, sdiv/smod, gotol, st imm.
typedef unsigned long long u64;
typedef long long s64;
typedef int s32;
typedef short s16;
typedef signed char s8;

__attribute__((section("tc/v4"))) int v4(s64 *ctx) {
  s8 b = ((s8 *)ctx)[3];
  s16 h = ((s16 *)ctx)[5];
  s32 w = ((s32 *)ctx)[7];
  s64 x = ctx[4];
  x += (s8)x + (s16)ctx[5] + (s32)ctx[6];
  x += __builtin_bswap64(x) + __builtin_bswap32((unsigned)w) + __builtin_bswap16((unsigned short)h);
  x = x / (ctx[1] | 1) + (x % (ctx[2] | 1));
  s32 y = w / (h | 1) + w % (b | 1);
  int acc = 0;
  for (int i = 0; i < 64; i++) {
    if (ctx[i & 7] == i) acc += i * 3;
    else acc ^= (int)ctx[(i + 1) & 7];
    if (acc > 1000000) break;
  }
  return (int)(x + y + b + acc);
}
