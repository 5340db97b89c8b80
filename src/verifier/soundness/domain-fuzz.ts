// Soundness fuzz of the scalar domain against the VM: for random abstract
// inputs A, B (built by the domain's own operations from a concrete value
// they must contain) and random concrete a ∈ A, b ∈ B, the VM's result of
// `a OP b` must lie in the domain's abstract result — for every ALU operation
// and width, shift, division, sign extension, byte swap and conditional jump
// (a jump's taken side must be allowed by `refine`, and its refined operands
// must still hold a and b).
//
// Used by soundness/domain.test.ts (a sample on every run) and by
// bench/verifier-soundness (millions of operations). Failures carry the seed
// and the inputs so a run can be replayed.

import type { Engine } from "../../native/index.ts";
import {
  type AluKind,
  type CmpKind,
  type Scalar,
  alu,
  byteSwap,
  castScalar,
  constScalar,
  negateCmp,
  rangeScalar,
  refine,
  scalarToString,
  signExtend,
  unknownScalar,
  zeroExtend32,
} from "../scalar.ts";
import { why } from "./contains.ts";
import { type OpCode, VmOp } from "./vm-oracle.ts";

const U64 = (1n << 64n) - 1n;

type Domain =
  | { kind: "value"; f: (a: Scalar, b: Scalar) => Scalar }
  | { kind: "jump"; cmp: CmpKind; is32: boolean };

export interface FuzzOp {
  name: string;
  code: OpCode;
  domain: Domain;
}

const ALU_OPS: [AluKind, number, number?][] = [
  ["add", 0x00],
  ["sub", 0x10],
  ["mul", 0x20],
  ["div", 0x30],
  ["sdiv", 0x30, 1],
  ["or", 0x40],
  ["and", 0x50],
  ["lsh", 0x60],
  ["rsh", 0x70],
  ["mod", 0x90],
  ["smod", 0x90, 1],
  ["xor", 0xa0],
  ["arsh", 0xc0],
];

const JUMPS: [CmpKind, number][] = [
  ["jeq", 0x10],
  ["jgt", 0x20],
  ["jge", 0x30],
  ["jset", 0x40],
  ["jne", 0x50],
  ["jsgt", 0x60],
  ["jsge", 0x70],
  ["jlt", 0xa0],
  ["jle", 0xb0],
  ["jslt", 0xc0],
  ["jsle", 0xd0],
];

/** Every operation the fuzz covers, with its VM opcode and what the verifier computes for it. */
export function fuzzOps(): FuzzOp[] {
  const ops: FuzzOp[] = [];
  const value = (f: (a: Scalar, b: Scalar) => Scalar): Domain => ({ kind: "value", f });
  for (const is64 of [true, false]) {
    const w = is64 ? 64 : 32;
    const cls = is64 ? 0x07 : 0x04;
    for (const [kind, op, off] of ALU_OPS)
      ops.push({
        name: `${kind}${w}`,
        code: { opcode: cls | 0x08 | op, off },
        domain: value((a, b) => alu(kind, a, b, is64)),
      });
    ops.push({
      name: `neg${w}`,
      code: { opcode: cls | 0x80, unary: true },
      domain: value((a) => alu("neg", a, a, is64)),
    });
    for (const bits of is64 ? [8, 16, 32] : [8, 16])
      ops.push({
        name: `movsx${w}_${bits}`,
        code: { opcode: cls | 0x08 | 0xb0, off: bits },
        domain: value((_a, b) => (is64 ? signExtend(b, bits) : zeroExtend32(signExtend(b, bits)))),
      });
    for (const [cmp, op] of JUMPS)
      ops.push({
        name: `${cmp}${is64 ? "" : "32"}`,
        code: { opcode: (is64 ? 0x05 : 0x06) | 0x08 | op, jump: true },
        domain: { kind: "jump", cmp, is32: !is64 },
      });
  }
  ops.push({
    name: "mov32",
    code: { opcode: 0xbc },
    domain: value((_a, b) => zeroExtend32(b)),
  });
  for (const bits of [16, 32, 64]) {
    ops.push({
      name: `le${bits}`,
      code: { opcode: 0xd4, imm: bits, unary: true },
      domain: value((a) => castScalar(a, bits / 8)),
    });
    ops.push({
      name: `be${bits}`,
      code: { opcode: 0xdc, imm: bits, unary: true },
      domain: value((a) => byteSwap(a, bits)),
    });
    ops.push({
      name: `bswap${bits}`,
      code: { opcode: 0xd7, imm: bits, unary: true },
      domain: value((a) => byteSwap(a, bits)),
    });
  }
  return ops;
}

// ------------------------------------------------------------ random inputs

/** splitmix64 on two 32-bit halves is not needed: xorshift128+ on numbers. */
export class Rng {
  private s0: number;
  private s1: number;
  constructor(seed: number) {
    this.s0 = seed >>> 0 || 1;
    this.s1 = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0 || 2;
  }
  u32(): number {
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x ^= x << 11;
    x ^= x >>> 8;
    this.s1 = (x ^ y ^ (y >>> 19)) >>> 0;
    return (this.s1 + this.s0) >>> 0;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
  /** A value biased to the interesting places: small, near 2^31/2^32/2^63, all ones. */
  value(): bigint {
    const bits = [1, 2, 3, 5, 8, 16, 31, 32, 33, 48, 62, 63, 64][this.below(13)]!;
    const mag = this.u64() & ((1n << BigInt(bits)) - 1n);
    switch (this.below(7)) {
      case 6:
        return BigInt(this.below(72)); // a shift count
      case 0:
        return -mag & U64; // negative
      case 1:
        return (0xffffffffn - mag) & U64; // near 2^32
      case 2:
        return ((1n << 63n) + mag - 8n) & U64; // near the sign bit
      default:
        return mag;
    }
  }
}

const CMPS: CmpKind[] = [
  "jeq",
  "jne",
  "jgt",
  "jge",
  "jlt",
  "jle",
  "jsgt",
  "jsge",
  "jslt",
  "jsle",
  "jset",
];

function holds(k: CmpKind, a: bigint, b: bigint, is32: boolean): boolean {
  const bits = is32 ? 32 : 64;
  const ua = BigInt.asUintN(bits, a);
  const ub = BigInt.asUintN(bits, b);
  const sa = BigInt.asIntN(bits, a);
  const sb = BigInt.asIntN(bits, b);
  switch (k) {
    case "jeq":
      return ua === ub;
    case "jne":
      return ua !== ub;
    case "jgt":
      return ua > ub;
    case "jge":
      return ua >= ub;
    case "jlt":
      return ua < ub;
    case "jle":
      return ua <= ub;
    case "jsgt":
      return sa > sb;
    case "jsge":
      return sa >= sb;
    case "jslt":
      return sa < sb;
    case "jsle":
      return sa <= sb;
    case "jset":
      return (ua & ub) !== 0n;
    case "jnset":
      return (ua & ub) === 0n;
  }
}

export class Unsound extends Error {}

/** Constants every operation sees as its second operand: all shift counts 0..64 and edges. */
const COUNTS: bigint[] = [
  ...Array.from({ length: 66 }, (_, i) => BigInt(i)),
  127n,
  128n,
  255n,
  256n,
  0x7fffn,
  0x8000n,
  0xffffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x100000020n,
  (1n << 63n) - 1n,
  1n << 63n,
  U64,
];

/**
 * An abstract value and a concrete member of it, built as the verifier
 * builds them from x: a constant, a range, a tnum, then comparisons that x
 * satisfies, sometimes a 32-bit move (the member is then x's low half). Each
 * step is itself a domain operation on a sound input, so its result must
 * contain the member: if it does not, that step is unsound (thrown).
 */
export function abstractFor(rng: Rng, x: bigint): [Scalar, bigint] {
  let s: Scalar;
  switch (rng.below(5)) {
    case 0:
      return [constScalar(x), x];
    case 1: {
      const lo = x - (rng.value() & ((1n << BigInt(rng.below(64) + 1)) - 1n));
      const hi = x + (rng.value() & ((1n << BigInt(rng.below(64) + 1)) - 1n));
      s = rangeScalar(lo < 0n ? 0n : lo, hi > U64 ? U64 : hi);
      check(s, x, `range ${hex(lo)}..${hex(hi)}`);
      break;
    }
    case 2: {
      const m = rng.value() | rng.value();
      s = alu("or", alu("and", unknownScalar(), constScalar(m), true), constScalar(x & ~m), true);
      check(s, x, `tnum (${hex(x & ~m)}; ${hex(m)})`);
      break;
    }
    default:
      s = unknownScalar();
  }
  for (let n = rng.below(4); n > 0; n--) {
    const k = CMPS[rng.below(CMPS.length)]!;
    const is32 = rng.below(3) === 0;
    const c = rng.below(4) === 0 ? x : rng.value();
    const kk = holds(k, x, c, is32) ? k : negateCmp(k);
    const what = `refine ${kk}${is32 ? "32" : ""} ${hex(c)} of ${scalarToString(s)}`;
    const r = refine(kk, s, constScalar(c), is32);
    if (!r) throw new Unsound(`${what}: impossible, but ${hex(x)} satisfies it`);
    check(r[0], x, what);
    s = r[0];
  }
  if (rng.below(8) === 0) {
    const what = `zero-extension of ${scalarToString(s)}`;
    s = zeroExtend32(s);
    x &= 0xffffffffn;
    check(s, x, what);
  }
  return [s, x];
}

/** Concrete members of s: its bounds (the places a wrong bound shows) and random ones. */
function members(rng: Rng, s: Scalar, x: bigint, n: number): bigint[] {
  const out = [x];
  const cands = [
    s.umin,
    s.umax,
    BigInt.asUintN(64, s.smin),
    BigInt.asUintN(64, s.smax),
    s.var.value,
    s.var.value | s.var.mask,
  ];
  while (out.length < n) {
    const v =
      rng.below(2) === 0 ? cands[rng.below(cands.length)]! : (rng.u64() & s.var.mask) | s.var.value;
    if (why(s, v) === undefined || rng.below(4) === 0) out.push(why(s, v) ? x : v);
  }
  return out;
}

const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

function check(s: Scalar, v: bigint, what: string): void {
  const w = why(s, v);
  if (w) throw new Unsound(`${what}: ${hex(v)} is outside ${scalarToString(s)} (${w})`);
}

export interface FuzzResult {
  checked: number;
  failures: string[];
}

/**
 * `pairs` abstract input pairs per operation, `perPair` concrete pairs each,
 * on the given engines. Stops an operation at its first failure.
 */
export function fuzz(opts: {
  seed: number;
  pairs: number;
  perPair: number;
  engines: Engine[];
  ops?: FuzzOp[];
}): FuzzResult {
  const res: FuzzResult = { checked: 0, failures: [] };
  for (const op of opts.ops ?? fuzzOps()) {
    const rng = new Rng(opts.seed ^ hash(op.name));
    const abs: [Scalar, Scalar][] = [];
    const as: bigint[] = [];
    const bs: bigint[] = [];
    try {
      // every edge (shift counts, sign bits) as a constant and as the top of a
      // range [0, c], then random pairs
      // (twice as a constant, against a biased and a uniform first operand)
      const edges = 3 * COUNTS.length;
      for (let i = 0; i < edges + opts.pairs; i++) {
        const c = i < edges ? COUNTS[Math.floor(i / 3)]! : undefined;
        const x = c !== undefined && i % 3 === 1 ? rng.u64() : rng.value();
        const [A, xa] = abstractFor(rng, x);
        const [B, yb]: [Scalar, bigint] =
          c === undefined
            ? abstractFor(rng, rng.value())
            : i % 3 === 2
              ? [rangeScalar(0n, c), c]
              : [constScalar(c), c];
        abs.push([A, B]);
        const ma = members(rng, A, xa, opts.perPair);
        const mb = members(rng, B, yb, opts.perPair);
        for (let j = 0; j < opts.perPair; j++) {
          as.push(ma[j]!);
          bs.push(mb[j]!);
        }
      }
    } catch (e) {
      if (!(e instanceof Unsound)) throw e;
      res.failures.push(`${op.name} (seed ${opts.seed}): ${e.message}`);
      continue;
    }
    const vm = new VmOp(op.code);
    try {
      for (const engine of opts.engines) {
        const out = vm.run(BigUint64Array.from(as), BigUint64Array.from(bs), engine);
        const failure = checkOp(op, abs, as, bs, out, opts.perPair);
        res.checked += as.length;
        if (failure) {
          res.failures.push(`${op.name} on the ${engine} (seed ${opts.seed}): ${failure}`);
          break;
        }
      }
    } finally {
      vm.close();
    }
  }
  return res;
}

function checkOp(
  op: FuzzOp,
  abs: [Scalar, Scalar][],
  as: bigint[],
  bs: bigint[],
  out: BigUint64Array,
  perPair: number,
): string | undefined {
  for (let p = 0; p < abs.length; p++) {
    const [A, B] = abs[p]!;
    const d = op.domain;
    let R: Scalar | undefined;
    let t: [Scalar, Scalar] | undefined;
    let f: [Scalar, Scalar] | undefined;
    if (d.kind === "value") R = d.f(A, B);
    else {
      t = refine(d.cmp, A, B, d.is32);
      f = refine(negateCmp(d.cmp), A, B, d.is32);
    }
    for (let j = p * perPair; j < (p + 1) * perPair; j++) {
      const a = as[j]!;
      const b = bs[j]!;
      const c = out[j]!;
      const inputs = `a=${hex(a)} in ${scalarToString(A)}, b=${hex(b)} in ${scalarToString(B)}`;
      if (R) {
        const w = why(R, c);
        if (w) return `${inputs}: the VM gives ${hex(c)}, outside ${scalarToString(R)} (${w})`;
        continue;
      }
      const side = c === 1n ? t : f;
      const name = c === 1n ? "taken" : "not taken";
      if (!side) return `${inputs}: the VM's jump is ${name}, which the domain calls impossible`;
      const wa = why(side[0], a) ?? "";
      const wb = why(side[1], b) ?? "";
      if (wa || wb)
        return `${inputs}: ${name}, refined to ${scalarToString(side[0])} / ${scalarToString(side[1])} which loses a or b (${wa || wb})`;
    }
  }
  return undefined;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
