// Membership of a concrete 64-bit value in an abstract scalar, written from
// the definition of each component (not from the domain's code), so the
// soundness checks do not share logic with what they check.

import type { Scalar } from "../scalar.ts";

const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;

/** Every constraint of s holds for the value v (taken modulo 2^64). */
export function contains(s: Scalar, v: bigint): boolean {
  return why(s, v) === undefined;
}

/** The first constraint of s that v breaks, or undefined. */
export function why(s: Scalar, v: bigint): string | undefined {
  const u = BigInt.asUintN(64, v);
  const sv = BigInt.asIntN(64, v);
  const l = u & M32;
  const sl = BigInt.asIntN(32, l);
  const t = s.var;
  if ((u & ~t.mask & M64) !== t.value) return "tnum";
  if (u < s.umin || u > s.umax) return "unsigned 64-bit range";
  if (sv < s.smin || sv > s.smax) return "signed 64-bit range";
  if (l < s.u32min || l > s.u32max) return "unsigned 32-bit range";
  if (sl < s.s32min || sl > s.s32max) return "signed 32-bit range";
  return undefined;
}
