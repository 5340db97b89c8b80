// Regression tests for the three root causes of issue 14, at the level of the
// abstract domain (the verifier and end-to-end levels are in the negative
// suite, testdata/negative.ts, and test/soundness-e2e.test.ts). Each expected
// value is what the VM computes (native/vm/interp.c), stated from the eBPF
// semantics: a 32-bit shift count is masked to 5 bits, a 64-bit multiply wraps.

import { describe, expect, test } from "bun:test";
import * as ref from "../scalar-reference.ts";
import { alu, constScalar, rangeScalar, refine, unknownScalar } from "../scalar.ts";
import { contains } from "./contains.ts";

describe("32-bit left shift by a register holding 32..63", () => {
  // w7 = unknown | 1; w8 = 32: the VM computes w7 << (32 & 31) = w7, never 0.
  const w7 = alu("or", unknownScalar(), constScalar(1n), false);
  const w8 = constScalar(32n);

  test("the result may be non-zero (fast domain)", () => {
    const r = alu("lsh", w7, w8, false);
    expect(contains(r, 1n)).toBe(true);
    // `if w7 == 0` must not be a certainty
    expect(refine("jne", r, constScalar(0n), true)).toBeDefined();
  });

  test("the result may be non-zero (reference domain)", () => {
    const r = ref.alu(
      "lsh",
      ref.alu("or", ref.unknownScalar(), ref.constScalar(1n), false),
      ref.constScalar(32n),
      false,
    );
    expect(r.umax).toBeGreaterThan(0n);
  });

  test("a count in 32..63 that is not a constant", () => {
    const r = alu("lsh", w7, rangeScalar(32n, 63n), false);
    expect(contains(r, 1n)).toBe(true);
  });

  test("a constant count below 32 stays exact", () => {
    const r = alu("lsh", constScalar(3n), constScalar(4n), false);
    expect(r.umin).toBe(48n);
    expect(r.umax).toBe(48n);
  });
});

describe("64-bit multiply whose signed product overflows", () => {
  // x in [0, 2^32-1]: x * x reaches 0xfffffffe00000001, negative as s64.
  const x = rangeScalar(0n, 0xffffffffn);
  const big = 0xffffffffn * 0xffffffffn;

  test("the product's signed range includes the negative wrap (fast domain)", () => {
    const r = alu("mul", x, x, true);
    expect(contains(r, big)).toBe(true);
    // s>>= 63 of it may be -1, not a known 0
    const sign = alu("arsh", r, constScalar(63n), true);
    expect(contains(sign, (1n << 64n) - 1n)).toBe(true);
  });

  test("the same through the reference domain", () => {
    const r = ref.alu(
      "mul",
      ref.rangeScalar(0n, 0xffffffffn),
      ref.rangeScalar(0n, 0xffffffffn),
      true,
    );
    expect(r.smin).toBeLessThan(0n);
  });

  test("32-bit multiply wraps as the VM does", () => {
    const r = alu("mul", x, x, false);
    expect(contains(r, big & 0xffffffffn)).toBe(true);
  });

  test("a product that fits keeps exact bounds", () => {
    const r = alu("mul", rangeScalar(2n, 3n), rangeScalar(5n, 7n), true);
    expect([r.umin, r.umax, r.smin, r.smax]).toEqual([10n, 21n, 10n, 21n]);
  });
});
