// The scalar abstract domain: a tnum plus unsigned/signed 64-bit and 32-bit
// (subregister) ranges, kept consistent with each other after every step
// (`sync`, the counterpart of the kernel's reg_bounds_sync). Pointers use the
// same structure for their variable offset.
//
// This is the fast form: every 64-bit quantity is a pair of 32-bit numbers
// (hi, lo) — lo and unsigned hi in [0, 2^32), signed hi (smin, smax) in
// int32 — so the hot path never touches BigInt. It mirrors
// scalar-reference.ts (the BigInt form) operation by operation; rare
// operations (multiplication, division, modulo, byte swaps, formatting)
// convert to the reference form and back. scalar.fuzz.test.ts checks that
// both agree; soundness/domain-fuzz.ts checks both against the VM.
//
// Scalars are immutable once they are in a register (states share them);
// only the functions here change the fresh objects they build.

import * as big from "./scalar-reference.ts";
import { type Tnum } from "./tnum.ts";

export const S64_MIN = big.S64_MIN;
export const S64_MAX = big.S64_MAX;
export const S32_MIN = big.S32_MIN;
export const S32_MAX = big.S32_MAX;

const M32 = 0xffffffff;
const TWO32 = 0x100000000;

export class Scalar {
  constructor(
    /** tnum value (known-1 bits), hi and lo */
    public vh: number,
    public vl: number,
    /** tnum mask (unknown bits) */
    public mh: number,
    public ml: number,
    public uminH: number,
    public uminL: number,
    public umaxH: number,
    public umaxL: number,
    /** signed: hi is int32 */
    public sminH: number,
    public sminL: number,
    public smaxH: number,
    public smaxL: number,
    /** 32-bit subregister: unsigned in [0, 2^32), signed int32 */
    public wumin: number,
    public wumax: number,
    public wsmin: number,
    public wsmax: number,
  ) {}

  // BigInt views (tests, messages, logs): not for the hot path.
  get umin(): bigint {
    return big64(this.uminH, this.uminL);
  }
  get umax(): bigint {
    return big64(this.umaxH, this.umaxL);
  }
  get smin(): bigint {
    return BigInt.asIntN(64, big64(this.sminH >>> 0, this.sminL));
  }
  get smax(): bigint {
    return BigInt.asIntN(64, big64(this.smaxH >>> 0, this.smaxL));
  }
  get u32min(): bigint {
    return BigInt(this.wumin);
  }
  get u32max(): bigint {
    return BigInt(this.wumax);
  }
  get s32min(): bigint {
    return BigInt(this.wsmin);
  }
  get s32max(): bigint {
    return BigInt(this.wsmax);
  }
  get var(): Tnum {
    return { value: big64(this.vh, this.vl), mask: big64(this.mh, this.ml) };
  }

  // Number views: exact below 2^53 and monotonic above (the same doubles as
  // Number(bigint)), so comparisons with small bounds are exact.
  get uminN(): number {
    return this.uminH * TWO32 + this.uminL;
  }
  get umaxN(): number {
    return this.umaxH * TWO32 + this.umaxL;
  }
  get sminN(): number {
    return this.sminH * TWO32 + this.sminL;
  }
  get smaxN(): number {
    return this.smaxH * TWO32 + this.smaxL;
  }
  /** umin read as a signed 64-bit value (the value of a constant). */
  get uminS(): number {
    return (this.uminH | 0) * TWO32 + this.uminL;
  }
}

const big64 = (h: number, l: number): bigint => (BigInt(h) << 32n) | BigInt(l);

// ---------------------------------------------------------------- pairs

/** Result registers of the pair helpers (no allocation). */
let RH = 0;
let RL = 0;

/** a < b for pairs whose hi halves have the same signedness. */
const lt = (ah: number, al: number, bh: number, bl: number): boolean =>
  ah < bh || (ah === bh && al < bl);

/** (RH, RL) = a + b mod 2^64 (unsigned hi); returns the carry out. */
function add(ah: number, al: number, bh: number, bl: number): number {
  let l = al + bl;
  let c = 0;
  if (l > M32) {
    l -= TWO32;
    c = 1;
  }
  let h = ah + bh + c;
  c = 0;
  if (h > M32) {
    h -= TWO32;
    c = 1;
  }
  RH = h;
  RL = l;
  return c;
}

/** (RH, RL) = a - b mod 2^64 (unsigned hi); returns the borrow out. */
function sub(ah: number, al: number, bh: number, bl: number): number {
  let l = al - bl;
  let b = 0;
  if (l < 0) {
    l += TWO32;
    b = 1;
  }
  let h = ah - bh - b;
  b = 0;
  if (h < 0) {
    h += TWO32;
    b = 1;
  }
  RH = h;
  RL = l;
  return b;
}

function shl(h: number, l: number, s: number): void {
  if (s === 0) {
    RH = h;
    RL = l;
  } else if (s < 32) {
    RH = ((h << s) | (l >>> (32 - s))) >>> 0;
    RL = (l << s) >>> 0;
  } else {
    RH = (l << (s - 32)) >>> 0;
    RL = 0;
  }
}

function shr(h: number, l: number, s: number): void {
  if (s === 0) {
    RH = h;
    RL = l;
  } else if (s < 32) {
    RL = ((l >>> s) | (h << (32 - s))) >>> 0;
    RH = h >>> s;
  } else {
    RL = h >>> (s - 32);
    RH = 0;
  }
}

/** Arithmetic shift of the signed pair; RH is left unsigned. */
function sar(h: number, l: number, s: number): void {
  h |= 0;
  if (s === 0) {
    RH = h >>> 0;
    RL = l;
  } else if (s < 32) {
    RL = ((l >>> s) | (h << (32 - s))) >>> 0;
    RH = (h >> s) >>> 0;
  } else {
    RL = (h >> (s - 32)) >>> 0;
    RH = (h >> 31) >>> 0;
  }
}

function bitLength(h: number, l: number): number {
  if (h) return 64 - Math.clz32(h);
  return l ? 32 - Math.clz32(l) : 0;
}

// ---------------------------------------------------------------- tnums

/** Result tnum of the helpers below. */
let TVH = 0;
let TVL = 0;
let TMH = 0;
let TML = 0;

function tAdd(
  avh: number,
  avl: number,
  amh: number,
  aml: number,
  bvh: number,
  bvl: number,
  bmh: number,
  bml: number,
): void {
  add(amh, aml, bmh, bml);
  const smh = RH;
  const sml = RL;
  add(avh, avl, bvh, bvl);
  const svh = RH;
  const svl = RL;
  add(smh, sml, svh, svl);
  const muh = (RH ^ svh) | amh | bmh;
  const mul = (RL ^ svl) | aml | bml;
  TVH = (svh & ~muh) >>> 0;
  TVL = (svl & ~mul) >>> 0;
  TMH = muh >>> 0;
  TML = mul >>> 0;
}

function tSub(
  avh: number,
  avl: number,
  amh: number,
  aml: number,
  bvh: number,
  bvl: number,
  bmh: number,
  bml: number,
): void {
  sub(avh, avl, bvh, bvl);
  const dvh = RH;
  const dvl = RL;
  add(dvh, dvl, amh, aml);
  const alh = RH;
  const all = RL;
  sub(dvh, dvl, bmh, bml);
  const muh = (alh ^ RH) | amh | bmh;
  const mul = (all ^ RL) | aml | bml;
  TVH = (dvh & ~muh) >>> 0;
  TVL = (dvl & ~mul) >>> 0;
  TMH = muh >>> 0;
  TML = mul >>> 0;
}

/** Smallest tnum containing the unsigned range [min, max]. */
function tRange(minH: number, minL: number, maxH: number, maxL: number): void {
  const bits = bitLength((minH ^ maxH) >>> 0, (minL ^ maxL) >>> 0);
  if (bits > 63) {
    TVH = TVL = 0;
    TMH = TML = M32;
    return;
  }
  const dh = bits > 32 ? 2 ** (bits - 32) - 1 : 0;
  const dl = bits >= 32 ? M32 : 2 ** bits - 1;
  TVH = (minH & ~dh) >>> 0;
  TVL = (minL & ~dl) >>> 0;
  TMH = dh;
  TML = dl;
}

// ---------------------------------------------------------------- building

export const unknownScalar = (): Scalar =>
  new Scalar(
    0,
    0,
    M32,
    M32,
    0,
    0,
    M32,
    M32,
    -0x80000000,
    0,
    0x7fffffff,
    M32,
    0,
    M32,
    -0x80000000,
    0x7fffffff,
  );

/** Constant (hi, lo), both unsigned 32-bit. */
export const constPair = (h: number, l: number): Scalar =>
  new Scalar(h, l, 0, 0, h, l, h, l, h | 0, l, h | 0, l, l, l, l | 0, l | 0);

/** Constant from a JS integer (|v| < 2^53). */
export function constNum(v: number): Scalar {
  if (v >= 0 && v <= M32) return constPair(0, v);
  if (v < 0 && v >= -0x80000000) return constPair(M32, v >>> 0);
  return constScalar(BigInt(v));
}

export function constScalar(v: bigint): Scalar {
  const u = BigInt.asUintN(64, v);
  return constPair(Number(u >> 32n), Number(u & 0xffffffffn));
}

/** Unsigned range [lo, hi] (64-bit). */
export function rangeScalar(lo: bigint, hi: bigint): Scalar {
  const s = unknownScalar();
  s.uminH = Number(lo >> 32n);
  s.uminL = Number(lo & 0xffffffffn);
  s.umaxH = Number(hi >> 32n);
  s.umaxL = Number(hi & 0xffffffffn);
  return sync(s);
}

function rangeLow(hi: number): Scalar {
  const s = unknownScalar();
  s.umaxH = 0;
  s.umaxL = hi;
  return sync(s);
}

export const cloneScalar = (s: Scalar): Scalar =>
  new Scalar(
    s.vh,
    s.vl,
    s.mh,
    s.ml,
    s.uminH,
    s.uminL,
    s.umaxH,
    s.umaxL,
    s.sminH,
    s.sminL,
    s.smaxH,
    s.smaxL,
    s.wumin,
    s.wumax,
    s.wsmin,
    s.wsmax,
  );

export const isConst = (s: Scalar): boolean => s.mh === 0 && s.ml === 0;
export const isConst32 = (s: Scalar): boolean => s.ml === 0;
/** The constant 0. */
export const isZero = (s: Scalar): boolean =>
  s.mh === 0 && s.ml === 0 && s.uminH === 0 && s.uminL === 0;

export function isUnknown(s: Scalar): boolean {
  return (
    s.mh === M32 &&
    s.ml === M32 &&
    s.uminH === 0 &&
    s.uminL === 0 &&
    s.umaxH === M32 &&
    s.umaxL === M32 &&
    s.sminH === -0x80000000 &&
    s.sminL === 0 &&
    s.smaxH === 0x7fffffff &&
    s.smaxL === M32 &&
    s.wumin === 0 &&
    s.wumax === M32 &&
    s.wsmin === -0x80000000 &&
    s.wsmax === 0x7fffffff
  );
}

/** True when no concrete value satisfies all the constraints. */
export function isBottom(s: Scalar): boolean {
  return (
    lt(s.umaxH, s.umaxL, s.uminH, s.uminL) ||
    lt(s.smaxH, s.smaxL, s.sminH, s.sminL) ||
    s.wumin > s.wumax ||
    s.wsmin > s.wsmax ||
    (s.vh & s.mh) !== 0 ||
    (s.vl & s.ml) !== 0
  );
}

/** Conversion to and from the reference form. */
export function toBig(s: Scalar): big.Scalar {
  return {
    var: s.var,
    umin: s.umin,
    umax: s.umax,
    smin: s.smin,
    smax: s.smax,
    u32min: s.u32min,
    u32max: s.u32max,
    s32min: s.s32min,
    s32max: s.s32max,
  };
}

const hiU = (x: bigint): number => Number(BigInt.asUintN(64, x) >> 32n);
const loU = (x: bigint): number => Number(BigInt.asUintN(64, x) & 0xffffffffn);

export function fromBig(b: big.Scalar): Scalar {
  return new Scalar(
    hiU(b.var.value),
    loU(b.var.value),
    hiU(b.var.mask),
    loU(b.var.mask),
    hiU(b.umin),
    loU(b.umin),
    hiU(b.umax),
    loU(b.umax),
    hiU(b.smin) | 0,
    loU(b.smin),
    hiU(b.smax) | 0,
    loU(b.smax),
    Number(b.u32min),
    Number(b.u32max),
    Number(b.s32min),
    Number(b.s32max),
  );
}

// ---------------------------------------------------------------- sync

function updateBounds(s: Scalar): void {
  const vh = s.vh;
  const vl = s.vl;
  const mh = s.mh;
  const ml = s.ml;
  let x = vl | (ml & 0x80000000);
  if (x > s.wsmin) s.wsmin = x;
  x = vl | (ml & 0x7fffffff);
  if (x < s.wsmax) s.wsmax = x;
  if (vl > s.wumin) s.wumin = vl;
  x = (vl | ml) >>> 0;
  if (x < s.wumax) s.wumax = x;
  let h = vh | (mh & 0x80000000);
  if (lt(s.sminH, s.sminL, h, vl)) {
    s.sminH = h;
    s.sminL = vl;
  }
  h = vh | (mh & 0x7fffffff);
  if (lt(h, x, s.smaxH, s.smaxL)) {
    s.smaxH = h;
    s.smaxL = x;
  }
  if (lt(s.uminH, s.uminL, vh, vl)) {
    s.uminH = vh;
    s.uminL = vl;
  }
  h = (vh | mh) >>> 0;
  if (lt(h, x, s.umaxH, s.umaxL)) {
    s.umaxH = h;
    s.umaxL = x;
  }
}

function deduce32(s: Scalar): void {
  // The 64-bit ranges tell us about the low half when the high half is fixed.
  if (s.uminH === s.umaxH) {
    if (s.uminL > s.wumin) s.wumin = s.uminL;
    if (s.umaxL < s.wumax) s.wumax = s.umaxL;
    const a = s.uminL | 0;
    const b = s.umaxL | 0;
    if (a <= b) {
      if (a > s.wsmin) s.wsmin = a;
      if (b < s.wsmax) s.wsmax = b;
    }
  }
  if (s.sminH === s.smaxH) {
    if (s.sminL <= s.smaxL) {
      if (s.sminL > s.wumin) s.wumin = s.sminL;
      if (s.smaxL < s.wumax) s.wumax = s.smaxL;
    }
    const a = s.sminL | 0;
    const b = s.smaxL | 0;
    if (a <= b) {
      if (a > s.wsmin) s.wsmin = a;
      if (b < s.wsmax) s.wsmax = b;
    }
  }
  {
    const a = s.wumin | 0;
    const b = s.wumax | 0;
    if (a <= b) {
      if (a > s.wsmin) s.wsmin = a;
      if (b < s.wsmax) s.wsmax = b;
    }
  }
  {
    const a = s.wsmin >>> 0;
    const b = s.wsmax >>> 0;
    if (a <= b) {
      if (a > s.wumin) s.wumin = a;
      if (b < s.wumax) s.wumax = b;
    }
  }
}

function deduce64(s: Scalar): void {
  // unsigned range read as signed
  let ah = s.uminH | 0;
  let bh = s.umaxH | 0;
  if (!lt(bh, s.umaxL, ah, s.uminL)) {
    if (lt(s.sminH, s.sminL, ah, s.uminL)) {
      s.sminH = ah;
      s.sminL = s.uminL;
    }
    if (lt(bh, s.umaxL, s.smaxH, s.smaxL)) {
      s.smaxH = bh;
      s.smaxL = s.umaxL;
    }
  }
  ah = s.sminH >>> 0;
  bh = s.smaxH >>> 0;
  if (!lt(bh, s.smaxL, ah, s.sminL)) {
    if (lt(s.uminH, s.uminL, ah, s.sminL)) {
      s.uminH = ah;
      s.uminL = s.sminL;
    }
    if (lt(bh, s.smaxL, s.umaxH, s.umaxL)) {
      s.umaxH = bh;
      s.umaxL = s.smaxL;
    }
  }
  // The high half is fixed: the 32-bit range bounds the low half.
  if (s.uminH === s.umaxH && s.wumin <= s.wumax) {
    const hi = s.uminH;
    if (lt(s.uminH, s.uminL, hi, s.wumin)) {
      s.uminH = hi;
      s.uminL = s.wumin;
    }
    if (lt(hi, s.wumax, s.umaxH, s.umaxL)) {
      s.umaxH = hi;
      s.umaxL = s.wumax;
    }
  }
  if (s.sminH === s.smaxH && s.wumin <= s.wumax) {
    const hi = s.sminH;
    if (lt(s.sminH, s.sminL, hi, s.wumin)) {
      s.sminH = hi;
      s.sminL = s.wumin;
    }
    if (lt(hi, s.wumax, s.smaxH, s.smaxL)) {
      s.smaxH = hi;
      s.smaxL = s.wumax;
    }
  }
}

function boundOffset(s: Scalar): void {
  if (lt(s.umaxH, s.umaxL, s.uminH, s.uminL) || s.wumin > s.wumax) return;
  // v64 = var ∩ range(umin, umax)
  tRange(s.uminH, s.uminL, s.umaxH, s.umaxL);
  let vh = s.vh | TVH;
  let vl = s.vl | TVL;
  const mh = s.mh & TMH;
  const ml = s.ml & TML;
  vh = (vh & ~mh) >>> 0;
  vl = (vl & ~ml) >>> 0;
  // v32 = subreg(v64) ∩ range(u32min, u32max)
  tRange(0, s.wumin, 0, s.wumax);
  const mu32 = ml & TML;
  const v32 = ((vl | TVL) & ~mu32) >>> 0;
  // var = withSubreg(v64, v32)
  s.vh = vh;
  s.mh = (mh & ~vh) >>> 0;
  s.vl = v32;
  s.ml = (mu32 & ~v32) >>> 0;
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

export type AluKind = big.AluKind;

function add64(a: Scalar, b: Scalar): Scalar {
  const r = unknownScalar();
  tAdd(a.vh, a.vl, a.mh, a.ml, b.vh, b.vl, b.mh, b.ml);
  r.vh = TVH;
  r.vl = TVL;
  r.mh = TMH;
  r.ml = TML;
  if (!add(a.umaxH, a.umaxL, b.umaxH, b.umaxL)) {
    r.umaxH = RH;
    r.umaxL = RL;
    add(a.uminH, a.uminL, b.uminH, b.uminL);
    r.uminH = RH;
    r.uminL = RL;
  } else {
    const uh = RH;
    const ul = RL;
    if (add(a.uminH, a.uminL, b.uminH, b.uminL)) {
      // Always wraps: the range shifted down by 2^64 is exact.
      r.uminH = RH;
      r.uminL = RL;
      r.umaxH = uh;
      r.umaxL = ul;
    }
  }
  // smin >= S64_MIN and smax <= S64_MAX
  add(a.sminH >>> 0, a.sminL, b.sminH >>> 0, b.sminL);
  const lh = RH | 0;
  const ll = RL;
  const underflow = a.sminH < 0 && b.sminH < 0 && lh >= 0;
  add(a.smaxH >>> 0, a.smaxL, b.smaxH >>> 0, b.smaxL);
  const hh = RH | 0;
  const overflow = a.smaxH >= 0 && b.smaxH >= 0 && hh < 0;
  if (!underflow && !overflow) {
    r.sminH = lh;
    r.sminL = ll;
    r.smaxH = hh;
    r.smaxL = RL;
  }
  return r;
}

function sub64(a: Scalar, b: Scalar): Scalar {
  const r = unknownScalar();
  tSub(a.vh, a.vl, a.mh, a.ml, b.vh, b.vl, b.mh, b.ml);
  r.vh = TVH;
  r.vl = TVL;
  r.mh = TMH;
  r.ml = TML;
  if (!lt(a.uminH, a.uminL, b.umaxH, b.umaxL) || lt(a.umaxH, a.umaxL, b.uminH, b.uminL)) {
    sub(a.uminH, a.uminL, b.umaxH, b.umaxL);
    r.uminH = RH;
    r.uminL = RL;
    sub(a.umaxH, a.umaxL, b.uminH, b.uminL);
    r.umaxH = RH;
    r.umaxL = RL;
  }
  sub(a.sminH >>> 0, a.sminL, b.smaxH >>> 0, b.smaxL);
  const lh = RH | 0;
  const ll = RL;
  const underflow = a.sminH < 0 && b.smaxH >= 0 && lh >= 0;
  sub(a.smaxH >>> 0, a.smaxL, b.sminH >>> 0, b.sminL);
  const hh = RH | 0;
  const overflow = a.smaxH >= 0 && b.sminH < 0 && hh < 0;
  if (!underflow && !overflow) {
    r.sminH = lh;
    r.sminL = ll;
    r.smaxH = hh;
    r.smaxL = RL;
  }
  return r;
}

const ZERO = constPair(0, 0);

/** op64 of the reference form for add/sub/neg/and/or/xor/lsh/rsh/arsh (not synced). */
function op64(kind: AluKind, a: Scalar, b: Scalar): Scalar | undefined {
  switch (kind) {
    case "add":
      return add64(a, b);
    case "sub":
      return sub64(a, b);
    case "neg":
      return sub64(ZERO, a);
    case "and": {
      const r = unknownScalar();
      const vh = a.vh & b.vh;
      const vl = a.vl & b.vl;
      r.vh = vh >>> 0;
      r.vl = vl >>> 0;
      r.mh = ((a.vh | a.mh) & (b.vh | b.mh) & ~vh) >>> 0;
      r.ml = ((a.vl | a.ml) & (b.vl | b.ml) & ~vl) >>> 0;
      r.uminH = r.vh;
      r.uminL = r.vl;
      if (lt(a.umaxH, a.umaxL, b.umaxH, b.umaxL)) {
        r.umaxH = a.umaxH;
        r.umaxL = a.umaxL;
      } else {
        r.umaxH = b.umaxH;
        r.umaxL = b.umaxL;
      }
      const ap = a.sminH >= 0;
      const bp = b.sminH >= 0;
      if (ap || bp) {
        r.sminH = 0;
        r.sminL = 0;
        let h = ap ? a.smaxH : 0x7fffffff;
        let l = ap ? a.smaxL : M32;
        if (bp && lt(b.smaxH, b.smaxL, h, l)) {
          h = b.smaxH;
          l = b.smaxL;
        }
        r.smaxH = h;
        r.smaxL = l;
      }
      return r;
    }
    case "or":
    case "xor": {
      const r = unknownScalar();
      if (kind === "or") {
        const vh = a.vh | b.vh;
        const vl = a.vl | b.vl;
        r.vh = vh >>> 0;
        r.vl = vl >>> 0;
        r.mh = ((a.mh | b.mh) & ~vh) >>> 0;
        r.ml = ((a.ml | b.ml) & ~vl) >>> 0;
        if (lt(a.uminH, a.uminL, b.uminH, b.uminL)) {
          r.uminH = b.uminH;
          r.uminL = b.uminL;
        } else {
          r.uminH = a.uminH;
          r.uminL = a.uminL;
        }
      } else {
        const muh = a.mh | b.mh;
        const mul = a.ml | b.ml;
        r.vh = ((a.vh ^ b.vh) & ~muh) >>> 0;
        r.vl = ((a.vl ^ b.vl) & ~mul) >>> 0;
        r.mh = muh >>> 0;
        r.ml = mul >>> 0;
        r.uminH = r.vh;
        r.uminL = r.vl;
      }
      r.umaxH = (r.vh | r.mh) >>> 0;
      r.umaxL = (r.vl | r.ml) >>> 0;
      if (a.sminH >= 0 && b.sminH >= 0) {
        // signed fields take the unsigned range: not representable above S64_MAX
        if (r.uminH > 0x7fffffff || r.umaxH > 0x7fffffff) return undefined;
        r.sminH = r.uminH;
        r.sminL = r.uminL;
        r.smaxH = r.umaxH;
        r.smaxL = r.umaxL;
      }
      return r;
    }
    case "lsh": {
      if (!isConst(b) || b.uminH !== 0 || b.uminL >= 64) return unknownScalar();
      const sh = b.uminL;
      const r = unknownScalar();
      shl(a.vh, a.vl, sh);
      r.vh = RH;
      r.vl = RL;
      shl(a.mh, a.ml, sh);
      r.mh = RH;
      r.ml = RL;
      if (bitLength(a.umaxH, a.umaxL) + sh <= 64) {
        shl(a.uminH, a.uminL, sh);
        r.uminH = RH;
        r.uminL = RL;
        shl(a.umaxH, a.umaxL, sh);
        r.umaxH = RH;
        r.umaxL = RL;
      }
      return r;
    }
    case "rsh": {
      if (b.umaxH !== 0 || b.umaxL >= 64) return unknownScalar();
      const r = unknownScalar();
      shr(a.uminH, a.uminL, b.umaxL);
      r.uminH = RH;
      r.uminL = RL;
      shr(a.umaxH, a.umaxL, b.uminL);
      r.umaxH = RH;
      r.umaxL = RL;
      if (isConst(b)) {
        shr(a.vh, a.vl, b.uminL);
        r.vh = RH;
        r.vl = RL;
        shr(a.mh, a.ml, b.uminL);
        r.mh = RH;
        r.ml = RL;
      }
      return r;
    }
    case "arsh": {
      if (!isConst(b) || b.uminH !== 0 || b.uminL >= 64) return unknownScalar();
      return arshPair(a, b.uminL);
    }
    default:
      return undefined;
  }
}

function arshPair(a: Scalar, sh: number): Scalar {
  const r = unknownScalar();
  sar(a.vh, a.vl, sh);
  r.vh = RH;
  r.vl = RL;
  sar(a.mh, a.ml, sh);
  r.mh = RH;
  r.ml = RL;
  sar(a.sminH, a.sminL, sh);
  r.sminH = RH | 0;
  r.sminL = RL;
  sar(a.smaxH, a.smaxL, sh);
  r.smaxH = RH | 0;
  r.smaxL = RL;
  return r;
}

/** Zero-extended 32-bit subregister viewed as a 64-bit scalar. */
export function zext32(a: Scalar): Scalar {
  return sync(
    new Scalar(
      0,
      a.vl,
      0,
      a.ml,
      0,
      a.wumin,
      0,
      a.wumax,
      0,
      a.wumin,
      0,
      a.wumax,
      a.wumin,
      a.wumax,
      a.wsmin,
      a.wsmax,
    ),
  );
}

/** Sign-extended 32-bit subregister viewed as a 64-bit scalar. */
export function sext32(a: Scalar): Scalar {
  const r = unknownScalar();
  r.vl = a.vl;
  r.ml = a.ml;
  if (a.vl & 0x80000000) {
    r.vh = M32;
    r.mh = 0;
  } else if (a.ml & 0x80000000) {
    r.vh = 0;
    r.mh = M32;
  } else {
    r.vh = 0;
    r.mh = 0;
  }
  r.sminH = a.wsmin < 0 ? -1 : 0;
  r.sminL = a.wsmin >>> 0;
  r.smaxH = a.wsmax < 0 ? -1 : 0;
  r.smaxL = a.wsmax >>> 0;
  r.wumin = a.wumin;
  r.wumax = a.wumax;
  r.wsmin = a.wsmin;
  r.wsmax = a.wsmax;
  return sync(r);
}

/** floor((x + 2^31) / 2^32) for the signed pair (h, l). */
const s32Bucket = (h: number, l: number): number => h + (l + 0x80000000 > M32 ? 1 : 0);

/** Keep the low 32 bits of results computed on 64-bit views; zero-extend. */
function truncate32(ru: Scalar, rs: Scalar | undefined): Scalar {
  const r = unknownScalar();
  let vl = ru.vl;
  let ml = ru.ml;
  if (rs) {
    const v = vl | rs.vl;
    const mu = ml & rs.ml;
    vl = (v & ~mu) >>> 0;
    ml = mu >>> 0;
  }
  r.vh = 0;
  r.vl = vl;
  r.mh = 0;
  r.ml = ml;
  if (ru.uminH === ru.umaxH) {
    r.wumin = ru.uminL;
    r.wumax = ru.umaxL;
  }
  for (let k = 0; k < 2; k++) {
    const x = k === 0 ? ru : rs;
    if (!x) break;
    if (s32Bucket(x.sminH, x.sminL) === s32Bucket(x.smaxH, x.smaxL)) {
      const a = x.sminL | 0;
      const b = x.smaxL | 0;
      if (a > r.wsmin) r.wsmin = a;
      if (b < r.wsmax) r.wsmax = b;
    }
  }
  r.uminH = 0;
  r.uminL = 0;
  r.umaxH = 0;
  r.umaxL = M32;
  r.sminH = 0;
  r.sminL = 0;
  r.smaxH = 0;
  r.smaxL = M32;
  return sync(r);
}

/** Zero-extend the low 32 bits (what every ALU32 write does to the register). */
export function zeroExtend32(a: Scalar): Scalar {
  return truncate32(zext32(a), sext32(a));
}

/** zeroExtend32(unknownScalar()), shared (scalars are immutable). */
export const UNKNOWN32 = zeroExtend32(unknownScalar());

/** Constant folding (reference constFold) for the kinds done here. */
function constFold(kind: AluKind, a: Scalar, b: Scalar, is64: boolean): Scalar | undefined {
  if (!is64) {
    const x = a.vl;
    const y = b.vl;
    let v: number;
    switch (kind) {
      case "add":
        v = (x + y) >>> 0;
        break;
      case "sub":
        v = (x - y) >>> 0;
        break;
      case "or":
        v = (x | y) >>> 0;
        break;
      case "and":
        v = (x & y) >>> 0;
        break;
      case "xor":
        v = (x ^ y) >>> 0;
        break;
      case "lsh":
        v = (x << (y & 31)) >>> 0;
        break;
      case "rsh":
        v = x >>> (y & 31);
        break;
      case "arsh":
        v = ((x | 0) >> (y & 31)) >>> 0;
        break;
      case "neg":
        v = -x >>> 0;
        break;
      default:
        return undefined;
    }
    return constPair(0, v);
  }
  switch (kind) {
    case "add":
      add(a.vh, a.vl, b.vh, b.vl);
      break;
    case "sub":
      sub(a.vh, a.vl, b.vh, b.vl);
      break;
    case "or":
      RH = (a.vh | b.vh) >>> 0;
      RL = (a.vl | b.vl) >>> 0;
      break;
    case "and":
      RH = (a.vh & b.vh) >>> 0;
      RL = (a.vl & b.vl) >>> 0;
      break;
    case "xor":
      RH = (a.vh ^ b.vh) >>> 0;
      RL = (a.vl ^ b.vl) >>> 0;
      break;
    case "lsh":
      shl(a.vh, a.vl, b.vl & 63);
      break;
    case "rsh":
      shr(a.vh, a.vl, b.vl & 63);
      break;
    case "arsh":
      sar(a.vh, a.vl, b.vl & 63);
      break;
    case "neg":
      sub(0, 0, a.vh, a.vl);
      break;
    default:
      return undefined;
  }
  return constPair(RH, RL);
}

function slowAlu(kind: AluKind, a: Scalar, b: Scalar, is64: boolean): Scalar {
  return fromBig(big.alu(kind, toBig(a), toBig(b), is64));
}

export function alu(kind: AluKind, a: Scalar, b: Scalar, is64: boolean): Scalar {
  switch (kind) {
    case "mul":
    case "div":
    case "mod":
    case "sdiv":
    case "smod":
      return slowAlu(kind, a, b, is64);
  }
  if (isConst(a) && isConst(b)) {
    const c = constFold(kind, a, b, is64);
    if (c) return c;
  }
  if (is64) {
    const r = op64(kind, a, b);
    return r ? sync(r) : slowAlu(kind, a, b, is64);
  }
  const bu = zext32(b);
  switch (kind) {
    case "add":
    case "sub":
    case "and":
    case "or":
    case "xor":
    case "neg": {
      const ru = op64(kind, zext32(a), bu);
      const rs = op64(kind, sext32(a), sext32(b));
      if (!ru || !rs) return slowAlu(kind, a, b, is64);
      return truncate32(sync(ru), sync(rs));
    }
    case "lsh":
    case "rsh":
      // The VM masks a 32-bit shift count to 5 bits; a count that may be 32
      // or more gives an unknown result, as in the kernel (never "shifted out").
      if (bu.umaxH !== 0 || bu.umaxL >= 32) return UNKNOWN32;
      return truncate32(sync(op64(kind, zext32(a), bu)!), undefined);
    case "arsh": {
      if (!isConst(bu) || bu.uminH !== 0 || bu.uminL >= 32) return UNKNOWN32;
      const rs = sync(arshPair(sext32(a), bu.uminL));
      return truncate32(rs, rs);
    }
  }
  return slowAlu(kind, a, b, is64);
}

/** Truncate to `size` bytes and zero-extend (narrow loads, le16/le32). */
export function castScalar(a: Scalar, size: number): Scalar {
  if (size >= 8) return a;
  if (size === 4) return zeroExtend32(a);
  const bits = size * 8;
  const lim = 2 ** bits - 1;
  const r = unknownScalar();
  r.vh = 0;
  r.vl = a.vl & lim;
  r.mh = 0;
  r.ml = a.ml & lim;
  r.uminH = 0;
  r.umaxH = 0;
  if (a.uminH === a.umaxH && a.uminL >>> bits === a.umaxL >>> bits) {
    r.uminL = a.uminL & lim;
    r.umaxL = a.umaxL & lim;
  } else {
    r.uminL = 0;
    r.umaxL = lim;
  }
  return sync(r);
}

/** Unknown value of a `size`-byte load, zero-extended (cached: scalars are immutable). */
const UNKNOWN_SIZED = [1, 2, 4, 8].map((n) => castScalar(unknownScalar(), n));
export function unknownOfSize(size: number): Scalar {
  return size === 1
    ? UNKNOWN_SIZED[0]!
    : size === 2
      ? UNKNOWN_SIZED[1]!
      : size === 4
        ? UNKNOWN_SIZED[2]!
        : castScalar(unknownScalar(), size);
}

/** Sign-extend the low `bits` bits to 64 bits (movsx, ldsx). */
export function signExtend(a: Scalar, bits: number): Scalar {
  const c = castScalar(a, bits / 8);
  if (isConst(c)) {
    const v = c.uminL; // bits <= 32
    const sv = bits === 32 ? v | 0 : (v << (32 - bits)) >> (32 - bits);
    return constPair(sv < 0 ? M32 : 0, sv >>> 0);
  }
  const lim = 2 ** (bits - 1);
  if (c.umaxH === 0 && c.umaxL < lim) return c; // sign bit known clear
  const r = unknownScalar();
  r.sminH = -1;
  r.sminL = -lim >>> 0;
  r.smaxH = 0;
  r.smaxL = lim - 1;
  return sync(r);
}

export function byteSwap(a: Scalar, bits: number): Scalar {
  if (!isConst(a)) return bits === 64 ? rangeScalar(0n, (1n << 64n) - 1n) : rangeLow(2 ** bits - 1);
  return fromBig(big.byteSwap(toBig(a), bits));
}

// ---------------------------------------------------------------- branches

export type CmpKind = big.CmpKind;
export const negateCmp = big.negateCmp;
export const swapCmp = big.swapCmp;

/** A 32- or 64-bit view of a scalar as 64-bit pairs (the reference View). */
class View {
  constructor(
    public uH: number,
    public uL: number,
    public UH: number,
    public UL: number,
    public sH: number,
    public sL: number,
    public SH: number,
    public SL: number,
    public vh: number,
    public vl: number,
    public mh: number,
    public ml: number,
  ) {}
}

function view(s: Scalar, is32: boolean): View {
  return is32
    ? new View(
        0,
        s.wumin,
        0,
        s.wumax,
        s.wsmin < 0 ? -1 : 0,
        s.wsmin >>> 0,
        s.wsmax < 0 ? -1 : 0,
        s.wsmax >>> 0,
        0,
        s.vl,
        0,
        s.ml,
      )
    : new View(
        s.uminH,
        s.uminL,
        s.umaxH,
        s.umaxL,
        s.sminH,
        s.sminL,
        s.smaxH,
        s.smaxL,
        s.vh,
        s.vl,
        s.mh,
        s.ml,
      );
}

function unview(s: Scalar, v: View, is32: boolean): Scalar {
  const r = cloneScalar(s);
  if (is32) {
    r.wumin = v.uL;
    r.wumax = v.UL;
    r.wsmin = v.sL | 0;
    r.wsmax = v.SL | 0;
    // withSubreg(s.var, v.var)
    r.vh = s.vh;
    r.mh = (s.mh & ~s.vh) >>> 0;
    r.vl = v.vl;
    r.ml = (v.ml & ~v.vl) >>> 0;
  } else {
    r.uminH = v.uH;
    r.uminL = v.uL;
    r.umaxH = v.UH;
    r.umaxL = v.UL;
    r.sminH = v.sH;
    r.sminL = v.sL;
    r.smaxH = v.SH;
    r.smaxL = v.SL;
    r.vh = v.vh;
    r.vl = v.vl;
    r.mh = v.mh;
    r.ml = v.ml;
  }
  return r;
}

// x + 1 / x - 1 on view pairs; false when the 64-bit value leaves its range
// (the reference form then finds min > max and refuses the assumption).
function incU(h: number, l: number): boolean {
  if (l !== M32) {
    RH = h;
    RL = l + 1;
    return true;
  }
  if (h === M32) return false;
  RH = h + 1;
  RL = 0;
  return true;
}
function decU(h: number, l: number): boolean {
  if (l !== 0) {
    RH = h;
    RL = l - 1;
    return true;
  }
  if (h === 0) return false;
  RH = h - 1;
  RL = M32;
  return true;
}
function incS(h: number, l: number): boolean {
  if (l !== M32) {
    RH = h;
    RL = l + 1;
    return true;
  }
  if (h === 0x7fffffff) return false;
  RH = h + 1;
  RL = 0;
  return true;
}
function decS(h: number, l: number): boolean {
  if (l !== 0) {
    RH = h;
    RL = l - 1;
    return true;
  }
  if (h === -0x80000000) return false;
  RH = h - 1;
  RL = M32;
  return true;
}

/** jne against the constant (ch, cl) (signed form (sch, cl)): narrow x. */
function jneNarrow(x: View, ch: number, cl: number, sch: number): boolean {
  if (x.uH === ch && x.uL === cl) {
    if (!incU(x.uH, x.uL)) return false;
    x.uH = RH;
    x.uL = RL;
  }
  if (x.UH === ch && x.UL === cl) {
    if (!decU(x.UH, x.UL)) return false;
    x.UH = RH;
    x.UL = RL;
  }
  if (x.sH === sch && x.sL === cl) {
    if (!incS(x.sH, x.sL)) return false;
    x.sH = RH;
    x.sL = RL;
  }
  if (x.SH === sch && x.SL === cl) {
    if (!decS(x.SH, x.SL)) return false;
    x.SH = RH;
    x.SL = RL;
  }
  return true;
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
  const bconst = b.mh === 0 && b.ml === 0;
  const aconst = a.mh === 0 && a.ml === 0;
  switch (k) {
    case "jeq": {
      if (((a.vh ^ b.vh) & ~a.mh & ~b.mh) !== 0 || ((a.vl ^ b.vl) & ~a.ml & ~b.ml) !== 0)
        return undefined;
      const muh = a.mh & b.mh;
      const mul = a.ml & b.ml;
      const vh = ((a.vh | b.vh) & ~muh) >>> 0;
      const vl = ((a.vl | b.vl) & ~mul) >>> 0;
      a.vh = b.vh = vh;
      a.vl = b.vl = vl;
      a.mh = b.mh = muh >>> 0;
      a.ml = b.ml = mul >>> 0;
      if (lt(a.uH, a.uL, b.uH, b.uL)) {
        a.uH = b.uH;
        a.uL = b.uL;
      } else {
        b.uH = a.uH;
        b.uL = a.uL;
      }
      if (lt(b.UH, b.UL, a.UH, a.UL)) {
        a.UH = b.UH;
        a.UL = b.UL;
      } else {
        b.UH = a.UH;
        b.UL = a.UL;
      }
      if (lt(a.sH, a.sL, b.sH, b.sL)) {
        a.sH = b.sH;
        a.sL = b.sL;
      } else {
        b.sH = a.sH;
        b.sL = a.sL;
      }
      if (lt(b.SH, b.SL, a.SH, a.SL)) {
        a.SH = b.SH;
        a.SL = b.SL;
      } else {
        b.SH = a.SH;
        b.SL = a.SL;
      }
      break;
    }
    case "jne":
      if (aconst && bconst && a.vh === b.vh && a.vl === b.vl) return undefined;
      if (bconst && !jneNarrow(a, b.vh, b.vl, is32 ? ((b.vl | 0) < 0 ? -1 : 0) : b.vh | 0))
        return undefined;
      if (aconst && !jneNarrow(b, a.vh, a.vl, is32 ? ((a.vl | 0) < 0 ? -1 : 0) : a.vh | 0))
        return undefined;
      break;
    case "jset":
      if (bconst) {
        const ch = b.vh;
        const cl = b.vl;
        if (((a.vh | a.mh) & ch) === 0 && ((a.vl | a.ml) & cl) === 0) return undefined;
        sub(ch, cl, 0, 1);
        if ((ch & RH) === 0 && (cl & RL) === 0) {
          // tnumOr(a.var, const c)
          const vh = a.vh | ch;
          const vl = a.vl | cl;
          a.mh = (a.mh & ~vh) >>> 0;
          a.ml = (a.ml & ~vl) >>> 0;
          a.vh = vh >>> 0;
          a.vl = vl >>> 0;
        }
      }
      break;
    case "jnset":
      if (bconst) {
        const ch = b.vh;
        const cl = b.vl;
        if ((a.vh & ch) !== 0 || (a.vl & cl) !== 0) return undefined;
        // tnumAnd(a.var, const ~c)
        const vh = a.vh & ~ch;
        const vl = a.vl & ~cl;
        a.mh = ((a.vh | a.mh) & ~ch & ~vh) >>> 0;
        a.ml = ((a.vl | a.ml) & ~cl & ~vl) >>> 0;
        a.vh = vh >>> 0;
        a.vl = vl >>> 0;
      }
      break;
    case "jge":
      if (lt(a.uH, a.uL, b.uH, b.uL)) {
        a.uH = b.uH;
        a.uL = b.uL;
      }
      if (lt(a.UH, a.UL, b.UH, b.UL)) {
        b.UH = a.UH;
        b.UL = a.UL;
      }
      break;
    case "jgt":
      if (!incU(b.uH, b.uL)) return undefined;
      if (lt(a.uH, a.uL, RH, RL)) {
        a.uH = RH;
        a.uL = RL;
      }
      if (!decU(a.UH, a.UL)) return undefined;
      if (lt(RH, RL, b.UH, b.UL)) {
        b.UH = RH;
        b.UL = RL;
      }
      break;
    case "jle":
      if (lt(b.UH, b.UL, a.UH, a.UL)) {
        a.UH = b.UH;
        a.UL = b.UL;
      }
      if (lt(b.uH, b.uL, a.uH, a.uL)) {
        b.uH = a.uH;
        b.uL = a.uL;
      }
      break;
    case "jlt":
      if (!decU(b.UH, b.UL)) return undefined;
      if (lt(RH, RL, a.UH, a.UL)) {
        a.UH = RH;
        a.UL = RL;
      }
      if (!incU(a.uH, a.uL)) return undefined;
      if (lt(b.uH, b.uL, RH, RL)) {
        b.uH = RH;
        b.uL = RL;
      }
      break;
    case "jsge":
      if (lt(a.sH, a.sL, b.sH, b.sL)) {
        a.sH = b.sH;
        a.sL = b.sL;
      }
      if (lt(a.SH, a.SL, b.SH, b.SL)) {
        b.SH = a.SH;
        b.SL = a.SL;
      }
      break;
    case "jsgt":
      if (!incS(b.sH, b.sL)) return undefined;
      if (lt(a.sH, a.sL, RH, RL)) {
        a.sH = RH;
        a.sL = RL;
      }
      if (!decS(a.SH, a.SL)) return undefined;
      if (lt(RH, RL, b.SH, b.SL)) {
        b.SH = RH;
        b.SL = RL;
      }
      break;
    case "jsle":
      if (lt(b.SH, b.SL, a.SH, a.SL)) {
        a.SH = b.SH;
        a.SL = b.SL;
      }
      if (lt(b.sH, b.sL, a.sH, a.sL)) {
        b.sH = a.sH;
        b.sL = a.sL;
      }
      break;
    case "jslt":
      if (!decS(b.SH, b.SL)) return undefined;
      if (lt(RH, RL, a.SH, a.SL)) {
        a.SH = RH;
        a.SL = RL;
      }
      if (!incS(a.sH, a.sL)) return undefined;
      if (lt(b.sH, b.sL, RH, RL)) {
        b.sH = RH;
        b.sL = RL;
      }
      break;
  }
  if (lt(a.UH, a.UL, a.uH, a.uL) || lt(a.SH, a.SL, a.sH, a.sL)) return undefined;
  if (lt(b.UH, b.UL, b.uH, b.uL) || lt(b.SH, b.SL, b.sH, b.sL)) return undefined;
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
    !lt(b.uminH, b.uminL, a.uminH, a.uminL) &&
    !lt(a.umaxH, a.umaxL, b.umaxH, b.umaxL) &&
    !lt(b.sminH, b.sminL, a.sminH, a.sminL) &&
    !lt(a.smaxH, a.smaxL, b.smaxH, b.smaxL) &&
    a.wumin <= b.wumin &&
    a.wumax >= b.wumax &&
    a.wsmin <= b.wsmin &&
    a.wsmax >= b.wsmax &&
    (b.mh & ~a.mh) === 0 &&
    (b.ml & ~a.ml) === 0 &&
    a.vh === (b.vh & ~a.mh) >>> 0 &&
    a.vl === (b.vl & ~a.ml) >>> 0
  );
}

export function scalarEqual(a: Scalar, b: Scalar): boolean {
  return scalarWithin(a, b) && scalarWithin(b, a);
}

export const tnumSame = (a: Scalar, b: Scalar): boolean =>
  a.vh === b.vh && a.vl === b.vl && a.mh === b.mh && a.ml === b.ml;

/** Kernel-log style: "scalar(umin=1,umax=5,var_off=(0x0; 0x7))". */
export function scalarToString(s: Scalar): string {
  return big.scalarToString(toBig(s));
}
