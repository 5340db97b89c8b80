// Conditional jumps (signed, unsigned, 32-bit with -mcpu=v3), loops, bit tests.
typedef unsigned long long u64;
typedef long long s64;
typedef unsigned int u32;
typedef int s32;

__attribute__((section("xdp"))) int branch(u64 *ctx) {
  u64 a = ctx[0], b = ctx[1];
  s64 s = (s64)ctx[2];
  u32 w = (u32)ctx[3];
  s32 sw = (s32)ctx[4];
  int r = 0;
  if (a == 7) r += 1;
  if (a != b) r += 2;
  if (a > b) r += 3;
  if (a >= 100) r += 4;
  if (a < b) r += 5;
  if (a <= 1000) r += 6;
  if (s > -5) r += 7;
  if (s < -1000) r += 8;
  if (s >= (s64)b) r += 9;
  if (s <= 3) r += 10;
  if (a & 0x40) r += 11;
  if (w == 9) r += 12;
  if (w > 0x7fffffff) r += 13;
  if (sw < -3) r += 14;
  if (sw >= 12) r += 15;
  for (int i = 0; i < 8; i++) {
    if (ctx[5 + (i & 1)] == (u64)i) break;
    r += i;
  }
  return r;
}
