// Test-only snapshot of the verifier before the performance rewrite (commit
// 1a389cb): the oracle for the differential checks in ../../differential.test.ts
// and bench/verifier/run.ts. Do not use it from production code.

// Tristate numbers ("tnums"): a 64-bit value where every bit is known 0, known
// 1 or unknown. `value` holds the known-1 bits, `mask` the unknown bits
// (value & mask == 0). The same abstract domain as the kernel's
// kernel/bpf/tnum.c, written from its published semantics; all arithmetic is
// on unsigned 64-bit BigInts.

export const U64 = (1n << 64n) - 1n;
export const U32 = 0xffffffffn;

export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);

export const tnumConst = (v: bigint): Tnum => ({ value: u64(v), mask: 0n });
export const tnumUnknown: Tnum = { value: 0n, mask: U64 };

/** Number of significant bits of a non-negative value below 2^64. */
export function bitLength(x: bigint): number {
  if (x === 0n) return 0;
  const hi = Number(x >> 32n);
  if (hi) return 64 - Math.clz32(hi);
  return 32 - Math.clz32(Number(x));
}

/** Smallest tnum containing every value of the unsigned range [min, max]. */
export function tnumRange(min: bigint, max: bigint): Tnum {
  const chi = min ^ max;
  const bits = bitLength(chi);
  if (bits > 63) return tnumUnknown;
  const delta = (1n << BigInt(bits)) - 1n;
  return { value: min & ~delta & U64, mask: delta };
}

export const tnumIsConst = (a: Tnum): boolean => a.mask === 0n;
export const tnumIsUnknown = (a: Tnum): boolean => a.mask === U64;

export const tnumLshift = (a: Tnum, s: number): Tnum => ({
  value: u64(a.value << BigInt(s)),
  mask: u64(a.mask << BigInt(s)),
});
export const tnumRshift = (a: Tnum, s: number): Tnum => ({
  value: a.value >> BigInt(s),
  mask: a.mask >> BigInt(s),
});
/** Arithmetic right shift of the low `bits` (32 or 64) bits; the result is zero-extended. */
export function tnumArshift(a: Tnum, s: number, bits: 32 | 64): Tnum {
  const v = BigInt.asIntN(bits, a.value) >> BigInt(s);
  const m = BigInt.asIntN(bits, a.mask) >> BigInt(s);
  return { value: BigInt.asUintN(bits, v), mask: BigInt.asUintN(bits, m) };
}

export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  const sm = u64(a.mask + b.mask);
  const sv = u64(a.value + b.value);
  const sigma = u64(sm + sv);
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return { value: sv & ~mu & U64, mask: mu };
}

export function tnumSub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const alpha = u64(dv + a.mask);
  const beta = u64(dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return { value: dv & ~mu & U64, mask: mu };
}

export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return { value: v, mask: alpha & beta & ~v & U64 };
}

export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return { value: v, mask: mu & ~v & U64 };
}

export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return { value: v & ~mu & U64, mask: mu };
}

export function tnumMul(a: Tnum, b: Tnum): Tnum {
  if (tnumIsConst(a) && tnumIsConst(b)) return tnumConst(a.value * b.value);
  const accV = u64(a.value * b.value);
  let accM: Tnum = { value: 0n, mask: 0n };
  let x = a;
  let y = b;
  while (x.value !== 0n || x.mask !== 0n) {
    if (x.value & 1n) accM = tnumAdd(accM, { value: 0n, mask: y.mask });
    else if (x.mask & 1n) accM = tnumAdd(accM, { value: 0n, mask: y.value | y.mask });
    x = tnumRshift(x, 1);
    y = tnumLshift(y, 1);
  }
  return tnumAdd({ value: accV, mask: 0n }, accM);
}

/** Values in both a and b (a and b are assumed to overlap). */
export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return { value: v & ~mu & U64, mask: mu };
}

/** Truncate to `size` bytes. */
export function tnumCast(a: Tnum, size: number): Tnum {
  if (size >= 8) return a;
  const m = (1n << BigInt(size * 8)) - 1n;
  return { value: a.value & m, mask: a.mask & m };
}

/** Is every value of b also a value of a? */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if (b.mask & ~a.mask) return false;
  return a.value === (b.value & ~a.mask);
}

export const tnumSubreg = (a: Tnum): Tnum => tnumCast(a, 4);
export const tnumClearSubreg = (a: Tnum): Tnum => ({
  value: a.value & ~U32 & U64,
  mask: a.mask & ~U32 & U64,
});
/** Replace the low 32 bits of a with those of b. */
export const tnumWithSubreg = (a: Tnum, b: Tnum): Tnum => tnumOr(tnumClearSubreg(a), tnumSubreg(b));

export const tnumEq = (a: Tnum, b: Tnum): boolean => a.value === b.value && a.mask === b.mask;

export function tnumIsAligned(a: Tnum, size: number): boolean {
  if (size <= 1) return true;
  return ((a.value | a.mask) & BigInt(size - 1)) === 0n;
}

export function tnumToString(a: Tnum): string {
  return `(0x${a.value.toString(16)}; 0x${a.mask.toString(16)})`;
}
