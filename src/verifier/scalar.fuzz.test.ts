// Differential fuzzing of the fast scalar domain (scalar.ts, 32-bit pairs)
// against its BigInt form (scalar-reference.ts, still used for rare ops): on
// random well-formed scalars (constants, ranges, and results of earlier
// operations, as the verifier produces them) every operation must give
// exactly the same scalar. The two share code (mul/div/mod call the
// reference), so this checks agreement, not soundness: soundness/ checks
// both against the VM.

import { describe, expect, test } from "bun:test";
import * as ref from "./scalar-reference.ts";
import * as fast from "./scalar.ts";

const U64 = (1n << 64n) - 1n;
const EDGES: bigint[] = [
  0n,
  1n,
  2n,
  3n,
  7n,
  8n,
  15n,
  16n,
  31n,
  32n,
  63n,
  64n,
  0x7fn,
  0x80n,
  0xffn,
  0x100n,
  0x7fffn,
  0x8000n,
  0xffffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x1ffffffffn,
  (1n << 53n) + 1n,
  0x7fffffff00000000n,
  0x7ffffffeffffffffn,
  0x80000000ffffffffn,
  0xfffffffeffffffffn,
  0xffffffff00000000n,
  0xffffffff80000000n,
  (1n << 63n) - 1n,
  1n << 63n,
  (1n << 63n) + 1n,
  U64 - 0x7fffffffn,
  U64 - 0x80000000n,
  U64 - 0xffffffffn,
  U64 - 1n,
  U64,
];

/** xorshift64*: deterministic. */
let seed = 0x9e3779b97f4a7c15n;
function rnd64(): bigint {
  seed ^= seed >> 12n;
  seed ^= (seed << 25n) & U64;
  seed ^= seed >> 27n;
  return (seed * 0x2545f4914f6cdd1dn) & U64;
}
const rndInt = (n: number): number => Number(rnd64() % BigInt(n));
function rndValue(): bigint {
  switch (rndInt(4)) {
    case 0:
      return EDGES[rndInt(EDGES.length)]!;
    case 1:
      return rnd64() & 0xffn;
    case 2:
      return (EDGES[rndInt(EDGES.length)]! + BigInt(rndInt(5)) - 2n) & U64;
    default:
      return rnd64() >> BigInt(rndInt(64));
  }
}

const KINDS: ref.AluKind[] = [
  "add",
  "sub",
  "mul",
  "div",
  "sdiv",
  "mod",
  "smod",
  "or",
  "and",
  "lsh",
  "rsh",
  "arsh",
  "xor",
  "neg",
];
const CMPS: ref.CmpKind[] = [
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
  "jnset",
];

/** A pool of reference scalars grown by applying operations. */
function pool(n: number): ref.Scalar[] {
  const out: ref.Scalar[] = [ref.unknownScalar(), ref.zeroExtend32(ref.unknownScalar())];
  while (out.length < n) {
    const pick = (): ref.Scalar => out[rndInt(out.length)]!;
    switch (rndInt(7)) {
      case 0:
        out.push(ref.constScalar(rndValue()));
        break;
      case 1: {
        const a = rndValue();
        const b = rndValue();
        out.push(ref.rangeScalar(a < b ? a : b, a < b ? b : a));
        break;
      }
      case 2: {
        const k = KINDS[rndInt(KINDS.length)]!;
        const b = rndInt(2) ? pick() : ref.constScalar(BigInt(rndInt(70)));
        out.push(ref.alu(k, pick(), b, rndInt(2) === 0));
        break;
      }
      case 3: {
        const r = ref.refine(CMPS[rndInt(CMPS.length)]!, pick(), pick(), rndInt(2) === 0);
        if (r) out.push(r[rndInt(2)]!);
        break;
      }
      case 4: {
        const r = ref.refine(
          CMPS[rndInt(CMPS.length)]!,
          pick(),
          ref.constScalar(rndValue()),
          rndInt(2) === 0,
        );
        if (r) out.push(r[0]);
        break;
      }
      case 5:
        out.push(ref.castScalar(pick(), [1, 2, 4, 8][rndInt(4)]!));
        break;
      default:
        out.push(ref.signExtend(pick(), [8, 16, 32][rndInt(3)]!));
    }
  }
  return out;
}

const conv = (s: ref.Scalar): fast.Scalar => fast.fromBig(s);
const back = (s: fast.Scalar): ref.Scalar => fast.toBig(s);
const show = (s: ref.Scalar): string =>
  JSON.stringify(s, (_, v) => (typeof v === "bigint" ? v.toString() : v));

describe("fast scalar domain = BigInt reference", () => {
  const P = pool(400);

  test("conversion round-trips", () => {
    for (const s of P) expect(show(back(conv(s)))).toBe(show(s));
  });

  test("alu, 64 and 32 bit", () => {
    for (let i = 0; i < 6000; i++) {
      const a = P[rndInt(P.length)]!;
      const b = rndInt(3) ? P[rndInt(P.length)]! : ref.constScalar(BigInt(rndInt(70)));
      const k = KINDS[rndInt(KINDS.length)]!;
      const is64 = rndInt(2) === 0;
      const want = show(ref.alu(k, a, b, is64));
      const got = show(back(fast.alu(k, conv(a), conv(b), is64)));
      if (got !== want)
        throw new Error(
          `alu ${k} ${is64}\n a=${show(a)}\n b=${show(b)}\n got ${got}\n want ${want}`,
        );
    }
  });

  test("refine and branchTaken", () => {
    for (let i = 0; i < 6000; i++) {
      const a = P[rndInt(P.length)]!;
      const b = rndInt(2) ? P[rndInt(P.length)]! : ref.constScalar(rndValue());
      const k = CMPS[rndInt(CMPS.length)]!;
      const is32 = rndInt(2) === 0;
      const r = ref.refine(k, a, b, is32);
      const f = fast.refine(k, conv(a), conv(b), is32);
      const want = r ? show(r[0]) + show(r[1]) : "none";
      const got = f ? show(back(f[0])) + show(back(f[1])) : "none";
      if (got !== want)
        throw new Error(
          `refine ${k} ${is32}\n a=${show(a)}\n b=${show(b)}\n got ${got}\n want ${want}`,
        );
      expect(fast.branchTaken(k, conv(a), conv(b), is32)).toBe(ref.branchTaken(k, a, b, is32));
    }
  });

  test("casts, extensions, swaps, comparison, formatting", () => {
    for (const a of P) {
      for (const n of [1, 2, 4, 8])
        expect(show(back(fast.castScalar(conv(a), n)))).toBe(show(ref.castScalar(a, n)));
      for (const n of [8, 16, 32])
        expect(show(back(fast.signExtend(conv(a), n)))).toBe(show(ref.signExtend(a, n)));
      for (const n of [16, 32, 64])
        expect(show(back(fast.byteSwap(conv(a), n)))).toBe(show(ref.byteSwap(a, n)));
      expect(show(back(fast.zeroExtend32(conv(a))))).toBe(show(ref.zeroExtend32(a)));
      expect(fast.scalarToString(conv(a))).toBe(ref.scalarToString(a));
      expect(fast.isBottom(conv(a))).toBe(ref.isBottom(a));
      expect(fast.isUnknown(conv(a))).toBe(ref.isUnknown(a));
      const s = { ...a, var: { ...a.var } };
      expect(show(back(fast.sync(conv(s))))).toBe(show(ref.sync({ ...a, var: { ...a.var } })));
    }
    for (let i = 0; i < 20000; i++) {
      const a = P[rndInt(P.length)]!;
      const b = P[rndInt(P.length)]!;
      expect(fast.scalarWithin(conv(a), conv(b))).toBe(ref.scalarWithin(a, b));
    }
    for (let i = 0; i < 2000; i++) {
      const v = rndValue();
      expect(show(back(fast.constScalar(v)))).toBe(show(ref.constScalar(v)));
      const w = rndValue();
      const [lo, hi] = v < w ? [v, w] : [w, v];
      expect(show(back(fast.rangeScalar(lo, hi)))).toBe(show(ref.rangeScalar(lo, hi)));
    }
    for (const v of [0, 1, -1, 5, -4, 0x7fffffff, -0x80000000, 0xffffffff, 2 ** 40, -(2 ** 40)])
      expect(show(back(fast.constNum(v)))).toBe(show(ref.constScalar(BigInt(v))));
  });
});
