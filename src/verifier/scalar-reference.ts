// The reference (BigInt) form of the scalar domain: the slow path scalar.ts
// takes for the rare operations (multiplication, division, byte swaps) and
// for formatting, and the reference scalar.fuzz.test.ts compares the fast
// form against. It is not the soundness oracle: that is the VM itself
// (soundness/domain-fuzz.ts), since this file and scalar.ts share logic.
//
// The scalar abstract domain: a tnum plus unsigned/signed 64-bit and 32-bit
// (subregister) ranges, kept consistent with each other after every step
// (`sync`, the counterpart of the kernel's reg_bounds_sync). Pointers use the
// same structure for their variable offset.
//
// Everything is BigInt: unsigned fields hold [0, 2^64) (or [0, 2^32)),
// signed fields hold the two's complement interpretation.

import {
  U32,
  U64,
  type Tnum,
  tnumAdd,
  tnumAnd,
  tnumArshift,
  tnumCast,
  tnumConst,
  tnumIntersect,
  tnumIsConst,
  tnumLshift,
  tnumMul,
  tnumOr,
  tnumRange,
  tnumRshift,
  tnumSub,
  tnumSubreg,
  tnumToString,
  tnumUnknown,
  tnumWithSubreg,
  tnumXor,
} from "./tnum.ts";

export const S64_MIN = -(1n << 63n);
export const S64_MAX = (1n << 63n) - 1n;
export const S32_MIN = -(1n << 31n);
export const S32_MAX = (1n << 31n) - 1n;

export interface Scalar {
  var: Tnum;
  umin: bigint;
  umax: bigint;
  smin: bigint;
  smax: bigint;
  u32min: bigint;
  u32max: bigint;
  s32min: bigint;
  s32max: bigint;
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);

export function unknownScalar(): Scalar {
  return {
    var: tnumUnknown,
    umin: 0n,
    umax: U64,
    smin: S64_MIN,
    smax: S64_MAX,
    u32min: 0n,
    u32max: U32,
    s32min: S32_MIN,
    s32max: S32_MAX,
  };
}

export function constScalar(v: bigint): Scalar {
  const u = u64(v);
  const l = u32(u);
  return {
    var: tnumConst(u),
    umin: u,
    umax: u,
    smin: s64(u),
    smax: s64(u),
    u32min: l,
    u32max: l,
    s32min: s32(l),
    s32max: s32(l),
  };
}

/** Unsigned range [lo, hi] (64-bit). */
export function rangeScalar(lo: bigint, hi: bigint): Scalar {
  const s = unknownScalar();
  s.umin = lo;
  s.umax = hi;
  return sync(s);
}

export const cloneScalar = (s: Scalar): Scalar => ({ ...s });

export const isConst = (s: Scalar): boolean => tnumIsConst(s.var);
export const isConst32 = (s: Scalar): boolean => (s.var.mask & U32) === 0n;

export function isUnknown(s: Scalar): boolean {
  return (
    s.var.mask === U64 &&
    s.umin === 0n &&
    s.umax === U64 &&
    s.smin === S64_MIN &&
    s.smax === S64_MAX &&
    s.u32min === 0n &&
    s.u32max === U32 &&
    s.s32min === S32_MIN &&
    s.s32max === S32_MAX
  );
}

/** True when no concrete value satisfies all the constraints. */
export function isBottom(s: Scalar): boolean {
  return (
    s.umin > s.umax ||
    s.smin > s.smax ||
    s.u32min > s.u32max ||
    s.s32min > s.s32max ||
    (s.var.value & s.var.mask) !== 0n
  );
}

function updateBounds(s: Scalar): void {
  const v32 = s.var.value & U32;
  const m32 = s.var.mask & U32;
  s.s32min = max(s.s32min, s32(v32 | (m32 & 0x80000000n)));
  s.s32max = min(s.s32max, s32(v32 | (m32 & 0x7fffffffn)));
  s.u32min = max(s.u32min, v32);
  s.u32max = min(s.u32max, v32 | m32);
  const sign = 1n << 63n;
  s.smin = max(s.smin, s64(s.var.value | (s.var.mask & sign)));
  s.smax = min(s.smax, s64(s.var.value | (s.var.mask & ~sign & U64)));
  s.umin = max(s.umin, s.var.value);
  s.umax = min(s.umax, s.var.value | s.var.mask);
}

function deduce32(s: Scalar): void {
  // The 64-bit ranges tell us about the low half when the high half is fixed.
  if (s.umin >> 32n === s.umax >> 32n) {
    s.u32min = max(s.u32min, u32(s.umin));
    s.u32max = min(s.u32max, u32(s.umax));
    if (s32(s.umin) <= s32(s.umax)) {
      s.s32min = max(s.s32min, s32(s.umin));
      s.s32max = min(s.s32max, s32(s.umax));
    }
  }
  if (s.smin >> 32n === s.smax >> 32n) {
    if (u32(s.smin) <= u32(s.smax)) {
      s.u32min = max(s.u32min, u32(s.smin));
      s.u32max = min(s.u32max, u32(s.smax));
    }
    if (s32(s.smin) <= s32(s.smax)) {
      s.s32min = max(s.s32min, s32(s.smin));
      s.s32max = min(s.s32max, s32(s.smax));
    }
  }
  if (s32(s.u32min) <= s32(s.u32max)) {
    s.s32min = max(s.s32min, s32(s.u32min));
    s.s32max = min(s.s32max, s32(s.u32max));
  }
  if (u32(s.s32min) <= u32(s.s32max)) {
    s.u32min = max(s.u32min, u32(s.s32min));
    s.u32max = min(s.u32max, u32(s.s32max));
  }
}

function deduce64(s: Scalar): void {
  if (s64(s.umin) <= s64(s.umax)) {
    s.smin = max(s.smin, s64(s.umin));
    s.smax = min(s.smax, s64(s.umax));
  }
  if (u64(s.smin) <= u64(s.smax)) {
    s.umin = max(s.umin, u64(s.smin));
    s.umax = min(s.umax, u64(s.smax));
  }
  // The high half is fixed: the 32-bit range bounds the low half.
  if (s.umin >> 32n === s.umax >> 32n && s.u32min <= s.u32max) {
    const hi = s.umin & ~U32 & U64;
    s.umin = max(s.umin, hi | s.u32min);
    s.umax = min(s.umax, hi | s.u32max);
  }
  if (s.smin >> 32n === s.smax >> 32n && s.u32min <= s.u32max) {
    const hi = (s.smin >> 32n) << 32n;
    s.smin = max(s.smin, hi + s.u32min);
    s.smax = min(s.smax, hi + s.u32max);
  }
}

function boundOffset(s: Scalar): void {
  if (s.umin > s.umax || s.u32min > s.u32max) return;
  const v64 = tnumIntersect(s.var, tnumRange(s.umin, s.umax));
  const v32 = tnumIntersect(tnumSubreg(v64), tnumRange(s.u32min, s.u32max));
  s.var = tnumWithSubreg(v64, v32);
}

/** Make all the components agree (in place); returns s. */
export function sync(s: Scalar): Scalar {
  updateBounds(s);
  deduce32(s);
  deduce64(s);
  deduce32(s);
  boundOffset(s);
  updateBounds(s);
  return s;
}

// ---------------------------------------------------------------- ALU

export type AluKind =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "sdiv"
  | "mod"
  | "smod"
  | "or"
  | "and"
  | "lsh"
  | "rsh"
  | "arsh"
  | "xor"
  | "neg";

function fromUnsignedRange(lo: bigint, hi: bigint, v: Tnum): Scalar {
  const s = unknownScalar();
  s.var = v;
  s.umin = lo;
  s.umax = hi;
  return s;
}

function add64(a: Scalar, b: Scalar): Scalar {
  const r = unknownScalar();
  r.var = tnumAdd(a.var, b.var);
  const umax = a.umax + b.umax;
  if (umax <= U64) {
    r.umin = a.umin + b.umin;
    r.umax = umax;
  } else if (a.umin + b.umin > U64) {
    // Always wraps: the range shifted down by 2^64 is exact.
    r.umin = a.umin + b.umin - (1n << 64n);
    r.umax = umax - (1n << 64n);
  }
  const smin = a.smin + b.smin;
  const smax = a.smax + b.smax;
  if (smin >= S64_MIN && smax <= S64_MAX) {
    r.smin = smin;
    r.smax = smax;
  }
  return r;
}

function sub64(a: Scalar, b: Scalar): Scalar {
  const r = unknownScalar();
  r.var = tnumSub(a.var, b.var);
  if (a.umin >= b.umax) {
    r.umin = a.umin - b.umax;
    r.umax = a.umax - b.umin;
  } else if (a.umax < b.umin) {
    r.umin = a.umin - b.umax + (1n << 64n);
    r.umax = a.umax - b.umin + (1n << 64n);
  }
  const smin = a.smin - b.smax;
  const smax = a.smax - b.smin;
  if (smin >= S64_MIN && smax <= S64_MAX) {
    r.smin = smin;
    r.smax = smax;
  }
  return r;
}

function op64(kind: AluKind, a: Scalar, b: Scalar): Scalar {
  switch (kind) {
    case "add":
      return add64(a, b);
    case "sub":
      return sub64(a, b);
    case "neg":
      return sub64(constScalar(0n), a);
    case "mul": {
      const r = unknownScalar();
      r.var = tnumMul(a.var, b.var);
      // As the kernel (scalar_min_max_mul): keep a range only when no
      // product in it overflows; the corners bound a product of two ranges.
      if (a.umax * b.umax <= U64) {
        r.umin = a.umin * b.umin;
        r.umax = a.umax * b.umax;
      }
      const p = [a.smin * b.smin, a.smin * b.smax, a.smax * b.smin, a.smax * b.smax];
      if (p.every((x) => x >= S64_MIN && x <= S64_MAX)) {
        r.smin = p.reduce(min);
        r.smax = p.reduce(max);
      }
      return r;
    }
    case "and": {
      const v = tnumAnd(a.var, b.var);
      const r = fromUnsignedRange(v.value, min(a.umax, b.umax), v);
      if (a.smin >= 0n || b.smin >= 0n) {
        r.smin = 0n;
        r.smax = min(a.smin >= 0n ? a.smax : S64_MAX, b.smin >= 0n ? b.smax : S64_MAX);
      }
      return r;
    }
    case "or": {
      const v = tnumOr(a.var, b.var);
      const r = fromUnsignedRange(max(a.umin, b.umin), v.value | v.mask, v);
      if (a.smin >= 0n && b.smin >= 0n) {
        r.smin = r.umin;
        r.smax = r.umax;
      }
      return r;
    }
    case "xor": {
      // Two non-negative operands have their sign bits known 0, so the result's
      // is too and sync derives smin/smax = umin/umax (the kernel's explicit
      // non-negative case in scalar_min_max_xor adds nothing here).
      const v = tnumXor(a.var, b.var);
      return fromUnsignedRange(v.value, v.value | v.mask, v);
    }
    case "lsh": {
      if (!isConst(b) || b.umin >= 64n) return unknownScalar();
      const sh = b.umin;
      const r = unknownScalar();
      r.var = tnumLshift(a.var, Number(sh));
      if (a.umax << sh <= U64) {
        r.umin = a.umin << sh;
        r.umax = a.umax << sh;
      }
      return r;
    }
    case "rsh": {
      if (b.umax >= 64n) return unknownScalar();
      const r = unknownScalar();
      r.umin = a.umin >> b.umax;
      r.umax = a.umax >> b.umin;
      if (isConst(b)) r.var = tnumRshift(a.var, Number(b.umin));
      return r;
    }
    case "arsh": {
      if (!isConst(b) || b.umin >= 64n) return unknownScalar();
      const sh = b.umin;
      const r = unknownScalar();
      r.var = tnumArshift(a.var, Number(sh), 64);
      r.smin = a.smin >> sh;
      r.smax = a.smax >> sh;
      return r;
    }
    case "div": {
      // Unlike the kernel (which forgets the range), unsigned division and
      // modulo keep one: by design, soundness/kernel-differences.test.ts.
      const r = unknownScalar();
      if (isConst(a) && isConst(b)) return constScalar(b.umin === 0n ? 0n : a.umin / b.umin);
      if (b.umin > 0n) {
        r.umin = a.umin / b.umax;
        r.umax = a.umax / b.umin;
      } else {
        r.umin = 0n;
        r.umax = a.umax;
      }
      return r;
    }
    case "mod": {
      if (isConst(a) && isConst(b)) return constScalar(b.umin === 0n ? a.umin : a.umin % b.umin);
      const r = unknownScalar();
      r.umin = 0n;
      r.umax = b.umin > 0n ? min(a.umax, b.umax - 1n) : a.umax;
      return r;
    }
    case "sdiv":
    case "smod":
      return unknownScalar();
  }
}

/** Zero-extended 32-bit subregister viewed as a 64-bit scalar. */
export function zext32(a: Scalar): Scalar {
  return sync({
    var: tnumSubreg(a.var),
    umin: a.u32min,
    umax: a.u32max,
    smin: a.u32min,
    smax: a.u32max,
    u32min: a.u32min,
    u32max: a.u32max,
    s32min: a.s32min,
    s32max: a.s32max,
  });
}

/** Sign-extended 32-bit subregister viewed as a 64-bit scalar. */
export function sext32(a: Scalar): Scalar {
  const r = unknownScalar();
  const sub = tnumSubreg(a.var);
  const hi = 0xffffffff00000000n;
  if (sub.value & 0x80000000n) r.var = { value: sub.value | hi, mask: sub.mask };
  else if (sub.mask & 0x80000000n) r.var = { value: sub.value, mask: sub.mask | hi };
  else r.var = sub;
  r.smin = a.s32min;
  r.smax = a.s32max;
  r.u32min = a.u32min;
  r.u32max = a.u32max;
  r.s32min = a.s32min;
  r.s32max = a.s32max;
  return sync(r);
}

/** Keep the low 32 bits of results computed on 64-bit views; zero-extend. */
function truncate32(ru: Scalar, rs: Scalar | undefined): Scalar {
  const r = unknownScalar();
  let v = tnumSubreg(ru.var);
  if (rs) v = tnumIntersect(v, tnumSubreg(rs.var));
  r.var = v;
  if (ru.umin >> 32n === ru.umax >> 32n) {
    r.u32min = ru.umin & U32;
    r.u32max = ru.umax & U32;
  }
  for (const x of rs ? [ru, rs] : [ru]) {
    if ((x.smin - S32_MIN) >> 32n === (x.smax - S32_MIN) >> 32n) {
      r.s32min = max(r.s32min, s32(x.smin));
      r.s32max = min(r.s32max, s32(x.smax));
    }
  }
  r.umin = 0n;
  r.umax = U32;
  r.smin = 0n;
  r.smax = U32;
  return sync(r);
}

/** Zero-extend the low 32 bits (what every ALU32 write does to the register). */
export function zeroExtend32(a: Scalar): Scalar {
  return truncate32(zext32(a), sext32(a));
}

function constFold(kind: AluKind, x: bigint, y: bigint, bits: 32 | 64): bigint | undefined {
  const m = bits === 64 ? U64 : U32;
  const sh = bits === 64 ? 63n : 31n;
  const sx = (v: bigint): bigint => BigInt.asIntN(bits, v);
  switch (kind) {
    case "add":
      return (x + y) & m;
    case "sub":
      return (x - y) & m;
    case "mul":
      return (x * y) & m;
    case "div":
      return y === 0n ? 0n : x / y;
    case "mod":
      return y === 0n ? x : x % y;
    case "or":
      return x | y;
    case "and":
      return x & y;
    case "xor":
      return x ^ y;
    case "lsh":
      return (x << (y & sh)) & m;
    case "rsh":
      return x >> (y & sh);
    case "arsh":
      return (sx(x) >> (y & sh)) & m;
    case "neg":
      return -x & m;
    default:
      return undefined;
  }
}

export function alu(kind: AluKind, a: Scalar, b: Scalar, is64: boolean): Scalar {
  if (isConst(a) && isConst(b)) {
    const bits = is64 ? 64 : 32;
    const m = is64 ? U64 : U32;
    const v = constFold(kind, a.var.value & m, b.var.value & m, bits);
    if (v !== undefined) return constScalar(v);
  }
  if (is64) return sync(op64(kind, a, b));
  const bu = zext32(b);
  switch (kind) {
    case "add":
    case "sub":
    case "mul":
    case "and":
    case "or":
    case "xor":
    case "neg":
      return truncate32(sync(op64(kind, zext32(a), bu)), sync(op64(kind, sext32(a), sext32(b))));
    case "lsh":
    case "rsh":
    case "div":
    case "mod":
      // The VM masks a 32-bit shift count to 5 bits; a count that may be 32
      // or more gives an unknown result, as in the kernel (never "shifted out").
      if ((kind === "lsh" || kind === "rsh") && bu.umax >= 32n)
        return zeroExtend32(unknownScalar());
      return truncate32(sync(op64(kind, zext32(a), bu)), undefined);
    case "arsh": {
      if (!isConst(bu) || bu.umin >= 32n) return zeroExtend32(unknownScalar());
      const sh = bu.umin;
      const x = sext32(a);
      const r = unknownScalar();
      r.var = tnumArshift(x.var, Number(sh), 64);
      r.smin = x.smin >> sh;
      r.smax = x.smax >> sh;
      const rs = sync(r);
      return truncate32(rs, rs);
    }
    case "sdiv":
    case "smod":
      return zeroExtend32(unknownScalar());
  }
}

/** Truncate to `size` bytes and zero-extend (narrow loads, le16/le32). */
export function castScalar(a: Scalar, size: number): Scalar {
  if (size >= 8) return cloneScalar(a);
  if (size === 4) return zeroExtend32(a);
  const lim = (1n << BigInt(size * 8)) - 1n;
  const r = unknownScalar();
  r.var = tnumCast(a.var, size);
  if (a.umin >> BigInt(size * 8) === a.umax >> BigInt(size * 8)) {
    r.umin = a.umin & lim;
    r.umax = a.umax & lim;
  } else {
    r.umin = 0n;
    r.umax = lim;
  }
  return sync(r);
}

/** Sign-extend the low `bits` bits to 64 bits (movsx, ldsx). */
export function signExtend(a: Scalar, bits: number): Scalar {
  const c = castScalar(a, bits / 8);
  if (isConst(c)) return constScalar(BigInt.asIntN(bits, c.umin));
  const lim = 1n << BigInt(bits - 1);
  if (c.umax < lim) return c; // sign bit known clear
  const r = unknownScalar();
  r.smin = -lim;
  r.smax = lim - 1n;
  return sync(r);
}

export function byteSwap(a: Scalar, bits: number): Scalar {
  if (!isConst(a)) return rangeScalar(0n, (1n << BigInt(bits)) - 1n);
  let v = a.umin & ((1n << BigInt(bits)) - 1n);
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) {
    out = (out << 8n) | (v & 0xffn);
    v >>= 8n;
  }
  return constScalar(out);
}

// ---------------------------------------------------------------- branches

export type CmpKind =
  | "jeq"
  | "jne"
  | "jgt"
  | "jge"
  | "jlt"
  | "jle"
  | "jsgt"
  | "jsge"
  | "jslt"
  | "jsle"
  | "jset"
  | "jnset"; // the false side of jset

export function negateCmp(k: CmpKind): CmpKind {
  const m: Record<CmpKind, CmpKind> = {
    jeq: "jne",
    jne: "jeq",
    jgt: "jle",
    jle: "jgt",
    jge: "jlt",
    jlt: "jge",
    jsgt: "jsle",
    jsle: "jsgt",
    jsge: "jslt",
    jslt: "jsge",
    jset: "jnset",
    jnset: "jset",
  };
  return m[k];
}

/** The same relation with operands swapped: a OP b <=> b swap(OP) a. */
export function swapCmp(k: CmpKind): CmpKind {
  const m: Partial<Record<CmpKind, CmpKind>> = {
    jgt: "jlt",
    jlt: "jgt",
    jge: "jle",
    jle: "jge",
    jsgt: "jslt",
    jslt: "jsgt",
    jsge: "jsle",
    jsle: "jsge",
  };
  return m[k] ?? k;
}

interface View {
  umin: bigint;
  umax: bigint;
  smin: bigint;
  smax: bigint;
  var: Tnum;
}

function view(s: Scalar, is32: boolean): View {
  return is32
    ? { umin: s.u32min, umax: s.u32max, smin: s.s32min, smax: s.s32max, var: tnumSubreg(s.var) }
    : { umin: s.umin, umax: s.umax, smin: s.smin, smax: s.smax, var: s.var };
}

function unview(s: Scalar, v: View, is32: boolean): Scalar {
  const r = cloneScalar(s);
  if (is32) {
    r.u32min = v.umin;
    r.u32max = v.umax;
    r.s32min = v.smin;
    r.s32max = v.smax;
    r.var = tnumWithSubreg(s.var, v.var);
  } else {
    r.umin = v.umin;
    r.umax = v.umax;
    r.smin = v.smin;
    r.smax = v.smax;
    r.var = v.var;
  }
  return r;
}

function tnumConflict(a: Tnum, b: Tnum): boolean {
  return ((a.value ^ b.value) & ~a.mask & ~b.mask & U64) !== 0n;
}

/**
 * Assume `a k b` holds (64-bit or 32-bit comparison) and narrow both
 * operands. Returns undefined when the assumption is impossible.
 */
export function refine(
  k: CmpKind,
  a0: Scalar,
  b0: Scalar,
  is32: boolean,
): [Scalar, Scalar] | undefined {
  const a = view(a0, is32);
  const b = view(b0, is32);
  const bconst = tnumIsConst(b.var);
  const aconst = tnumIsConst(a.var);
  switch (k) {
    case "jeq": {
      if (tnumConflict(a.var, b.var)) return undefined;
      const v = tnumIntersect(a.var, b.var);
      a.umin = b.umin = max(a.umin, b.umin);
      a.umax = b.umax = min(a.umax, b.umax);
      a.smin = b.smin = max(a.smin, b.smin);
      a.smax = b.smax = min(a.smax, b.smax);
      a.var = b.var = v;
      break;
    }
    case "jne":
      if (aconst && bconst && a.var.value === b.var.value) return undefined;
      for (const [x, y, yc] of [
        [a, b, bconst],
        [b, a, aconst],
      ] as const) {
        if (!yc) continue;
        const c = y.var.value;
        const sc = is32 ? s32(c) : s64(c);
        if (x.umin === c) x.umin++;
        if (x.umax === c) x.umax--;
        if (x.smin === sc) x.smin++;
        if (x.smax === sc) x.smax--;
      }
      break;
    case "jset":
      if (bconst) {
        const c = b.var.value;
        if (((a.var.value | a.var.mask) & c) === 0n) return undefined;
        if ((c & (c - 1n)) === 0n) a.var = tnumOr(a.var, { value: c, mask: 0n });
      }
      break;
    case "jnset":
      if (bconst) {
        const c = b.var.value;
        if ((a.var.value & c) !== 0n) return undefined;
        a.var = tnumAnd(a.var, { value: ~c & U64, mask: 0n });
      }
      break;
    case "jge":
      a.umin = max(a.umin, b.umin);
      b.umax = min(b.umax, a.umax);
      break;
    case "jgt":
      a.umin = max(a.umin, b.umin + 1n);
      b.umax = min(b.umax, a.umax - 1n);
      break;
    case "jle":
      a.umax = min(a.umax, b.umax);
      b.umin = max(b.umin, a.umin);
      break;
    case "jlt":
      a.umax = min(a.umax, b.umax - 1n);
      b.umin = max(b.umin, a.umin + 1n);
      break;
    case "jsge":
      a.smin = max(a.smin, b.smin);
      b.smax = min(b.smax, a.smax);
      break;
    case "jsgt":
      a.smin = max(a.smin, b.smin + 1n);
      b.smax = min(b.smax, a.smax - 1n);
      break;
    case "jsle":
      a.smax = min(a.smax, b.smax);
      b.smin = max(b.smin, a.smin);
      break;
    case "jslt":
      a.smax = min(a.smax, b.smax - 1n);
      b.smin = max(b.smin, a.smin + 1n);
      break;
  }
  for (const v of [a, b]) if (v.umin > v.umax || v.smin > v.smax) return undefined;
  const ra = unview(a0, a, is32);
  const rb = unview(b0, b, is32);
  if (isBottom(ra) || isBottom(rb)) return undefined;
  sync(ra);
  sync(rb);
  if (isBottom(ra) || isBottom(rb)) return undefined;
  return [ra, rb];
}

/** 1: always true, 0: always false, -1: unknown. */
export function branchTaken(k: CmpKind, a: Scalar, b: Scalar, is32: boolean): 1 | 0 | -1 {
  const t = refine(k, a, b, is32);
  const f = refine(negateCmp(k), a, b, is32);
  if (!t && f) return 0;
  if (t && !f) return 1;
  return -1;
}

// ---------------------------------------------------------------- comparison

/** Every value of b is a value of a (b is at least as precise as a). */
export function scalarWithin(a: Scalar, b: Scalar): boolean {
  return (
    a.umin <= b.umin &&
    a.umax >= b.umax &&
    a.smin <= b.smin &&
    a.smax >= b.smax &&
    a.u32min <= b.u32min &&
    a.u32max >= b.u32max &&
    a.s32min <= b.s32min &&
    a.s32max >= b.s32max &&
    !(b.var.mask & ~a.var.mask & U64) &&
    a.var.value === (b.var.value & ~a.var.mask & U64)
  );
}

export function scalarEqual(a: Scalar, b: Scalar): boolean {
  return scalarWithin(a, b) && scalarWithin(b, a);
}

function fmt(x: bigint): string {
  return x >= -9n && x <= 9n
    ? x.toString()
    : x < 0n
      ? `-0x${(-x).toString(16)}`
      : `0x${x.toString(16)}`;
}

/** Kernel-log style: "scalar(umin=1,umax=5,var_off=(0x0; 0x7))". */
export function scalarToString(s: Scalar): string {
  if (isConst(s)) return fmt(s64(s.umin));
  const parts: string[] = [];
  if (s.smin !== S64_MIN && s.smin !== s64(s.umin)) parts.push(`smin=${fmt(s.smin)}`);
  if (s.smax !== S64_MAX && s.smax !== s64(s.umax)) parts.push(`smax=${fmt(s.smax)}`);
  if (s.umin !== 0n) parts.push(`umin=${fmt(s.umin)}`);
  if (s.umax !== U64) parts.push(`umax=${fmt(s.umax)}`);
  if (s.s32min !== S32_MIN && s.s32min !== s.smin) parts.push(`smin32=${fmt(s.s32min)}`);
  if (s.s32max !== S32_MAX && s.s32max !== s.smax) parts.push(`smax32=${fmt(s.s32max)}`);
  if (s.u32min !== 0n && s.u32min !== s.umin) parts.push(`umin32=${fmt(s.u32min)}`);
  if (s.u32max !== U32 && s.u32max !== s.umax) parts.push(`umax32=${fmt(s.u32max)}`);
  if (
    s.var.mask !== U64 &&
    !(s.var.value === 0n && s.var.mask === (1n << BigInt(s.umax.toString(2).length)) - 1n)
  )
    parts.push(`var_off=${tnumToString(s.var)}`);
  return parts.join(",");
}
