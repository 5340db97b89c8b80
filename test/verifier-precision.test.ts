// Pruning stays sound with precision tracking. The verifier compares a new
// state with an explored one only on the scalars whose exact value mattered
// (src/verifier/precision.ts); each program here has a safe path explored
// first and an unsafe one after it that reaches the same instruction with a
// different value. If a precision mark were missing (an ALU step, a spill, a
// subprogram argument or result, a decided branch, a helper's size, the
// marks a pruned path inherits), the unsafe path would be pruned against the
// safe one and the program accepted. Each must be refused — by the kernel
// too, where bpf() is allowed — and each safe twin (the unsafe value made
// safe) accepted, so the refusal comes from the value and nothing else.
import { describe, expect, test } from "bun:test";
import { assemble, encode } from "../src/asm/index.ts";
import { verify, type MapInfo } from "../src/verifier/index.ts";
import { kernelUnavailable, kernelVerdict } from "../src/verifier/testdata/kernel.ts";

const maps: MapInfo[] = [
  { name: "arr", type: "array", keySize: 4, valueSize: 16, maxEntries: 4 },
  { name: "rb", type: "ringbuf", keySize: 0, valueSize: 0, maxEntries: 4096 },
];

/** r0 = a map value of 16 bytes (or exit 0); clobbers r1-r5. */
const LOOKUP = `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  ld_pseudo r1, 5, 0
  call 1
  if r0 == 0 goto out`;

/** A random r6 to branch on; the forward target of each branch is explored first. */
const RANDOM = `
  call 7
  r6 = r0`;

/** r7 = the u64 at fp-16, used as an offset into a map value (the LOOKUP's) */
const USE_FP16 = `
      ${LOOKUP}
      r7 = *(u64 *)(r10 - 16)
      r0 += r7
      r1 = *(u64 *)(r0 + 0)
    out:
      r0 = 0
      exit`;

interface Case {
  name: string;
  /** the program with BAD as the unsafe value (SAFE replaces it in the twin) */
  asm: string;
  bad: number;
  safe: number;
}

const CASES: Case[] = [
  {
    name: "a pointer offset: two values join, the safe one first",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      goto join
    safe:
      r8 = 4
    join:
      ${LOOKUP}
      r0 += r8
      r1 = *(u64 *)(r0 + 0)
    out:
      r0 = 0
      exit`,
    bad: 60,
    safe: 8,
  },
  {
    name: "through ALU steps (r9 = r8 * 2 + 1)",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      goto join
    safe:
      r8 = 2
    join:
      r9 = r8
      r9 *= 2
      r9 += 1
      ${LOOKUP}
      r0 += r9
      r1 = *(u8 *)(r0 + 0)
    out:
      r0 = 0
      exit`,
    bad: 8,
    safe: 7,
  },
  {
    name: "through a register added to another (r9 = 1 + r8)",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      goto join
    safe:
      r8 = 2
    join:
      r9 = 1
      r9 += r8
      ${LOOKUP}
      r0 += r9
      r1 = *(u8 *)(r0 + 0)
    out:
      r0 = 0
      exit`,
    bad: 15,
    safe: 14,
  },
  {
    // r7's bound comes from r8 (if r7 > r8): r8's value matters though only
    // r7 becomes the offset
    name: "a bound taken from another register",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      goto join
    safe:
      r8 = 8
    join:
      call 7
      r7 = r0
      if r7 > r8 goto out
      ${LOOKUP}
      r0 += r7
      r1 = *(u64 *)(r0 + 0)
    out:
      r0 = 0
      exit`,
    bad: 9,
    safe: 8,
  },
  {
    name: "through a stack spill and fill",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      goto join
    safe:
      r8 = 4
    join:
      *(u64 *)(r10 - 16) = r8
      r8 = 0
      ${USE_FP16}`,
    bad: 12,
    safe: 8,
  },
  {
    // a zero stored from a register is a spill (as the kernel's), not "zero
    // bytes": its precision is tracked like any spilled scalar's
    name: "a zero stored from a register to the stack on one path",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      *(u64 *)(r10 - 16) = r8
      goto join
    safe:
      r8 = 0
      *(u64 *)(r10 - 16) = r8
    join:
      r8 = 0
      ${USE_FP16}`,
    bad: 12,
    safe: 8,
  },
  {
    name: "through a subprogram's argument",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      goto join
    safe:
      r8 = 4
    join:
      ${LOOKUP}
      r1 = r0
      r2 = r8
      call local read_at
    out:
      r0 = 0
      exit
    read_at:
      r1 += r2
      r0 = *(u64 *)(r1 + 0)
      exit`,
    bad: 9,
    safe: 8,
  },
  {
    name: "through a subprogram's return value",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r1 = BAD
      goto join
    safe:
      r1 = 4
    join:
      call local ident
      r8 = r0
      ${LOOKUP}
      r0 += r8
      r1 = *(u64 *)(r0 + 0)
    out:
      r0 = 0
      exit
    ident:
      r0 = r1
      exit`,
    bad: 16,
    safe: 0,
  },
  {
    // the value lives in the caller's stack; the callee reads it through a pointer
    name: "through the caller's stack, read by a subprogram",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      goto join
    safe:
      r8 = 4
    join:
      *(u64 *)(r10 - 16) = r8
      ${LOOKUP}
      r1 = r0
      r2 = r10
      r2 += -16
      call local read_at
    out:
      r0 = 0
      exit
    read_at:
      r3 = *(u64 *)(r2 + 0)
      r1 += r3
      r0 = *(u64 *)(r1 + 0)
      exit`,
    bad: 12,
    safe: 8,
  },
  {
    // a subprogram writes the value into the caller's stack
    name: "through the caller's stack, written by a subprogram",
    asm: `${RANDOM}
      r1 = r10
      r1 += -16
      r2 = r6
      call local store
      ${USE_FP16}
    store:
      if r2 > 10 goto safe
      r3 = BAD
      goto join
    safe:
      r3 = 4
    join:
      *(u64 *)(r1 + 0) = r3
      r0 = 0
      exit`,
    bad: 9,
    safe: 8,
  },
  {
    // r8 waits in the caller while the subprogram runs (and forks, so its
    // states are compared): the caller's frame needs the mark too
    name: "a caller's register kept across a subprogram call",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      goto join
    safe:
      r8 = 4
    join:
      r1 = r6
      call local noise
      ${LOOKUP}
      r0 += r8
      r1 = *(u64 *)(r0 + 0)
    out:
      r0 = 0
      exit
    noise:
      r0 = 0
      if r1 > 20 goto +1
      r0 = 1
      exit`,
    bad: 9,
    safe: 8,
  },
  {
    name: "a branch the bounds decide guards the unsafe code",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      goto join
    safe:
      r8 = 4
    join:
      if r8 > 15 goto unsafe
      r0 = 0
      exit
    unsafe:
      r0 = *(u64 *)(r10 + 8)
      exit`,
    bad: 16,
    safe: 15,
  },
  {
    name: "a helper's size argument",
    asm: `${RANDOM}
      if r6 > 10 goto safe
      r8 = BAD
      goto join
    safe:
      r8 = 8
    join:
      *(u64 *)(r10 - 8) = 0
      ld_pseudo r1, 5, 1
      r2 = r10
      r2 += -8
      r3 = r8
      r4 = 0
      call 130
      r0 = 0
      exit`,
    bad: 16,
    safe: 4,
  },
  {
    // A: r8=4 reaches join first and marks r8 there. B (r8=4) reaches P,
    // then join, where it is pruned against A: B inherits A's mark, so at
    // P r8 is precise. C (r8=BAD) reaches P after B: not pruned there.
    name: "the marks a pruned path inherits",
    asm: `${RANDOM}
      if r6 > 5 goto a
      if r6 > 2 goto b
      r8 = BAD
      goto p
    b:
      r8 = 4
    p:
      r9 = 0
      goto join
    a:
      r8 = 4
    join:
      ${LOOKUP}
      r0 += r8
      r1 = *(u64 *)(r0 + 0)
    out:
      r0 = 0
      exit`,
    bad: 60,
    safe: 8,
  },
  {
    // the accumulator of a loop (imprecise while it is only added to)
    // becomes an offset after the loop: every iteration's value counts
    name: "a loop accumulator used as an offset after the loop",
    asm: `${RANDOM}
      r7 = 0
      r8 = 0
    loop:
      if r6 & 1 goto small
      r7 += BAD
      goto next
    small:
      r7 += 1
    next:
      r6 >>= 1
      r8 += 1
      if r8 < 4 goto loop
      ${LOOKUP}
      r0 += r7
      r1 = *(u8 *)(r0 + 0)
    out:
      r0 = 0
      exit`,
    bad: 4,
    safe: 3,
  },
];

const kernelSkip = kernelUnavailable();
if (kernelSkip) console.log(`skip: kernel verdicts in verifier-precision: ${kernelSkip}`);

const build = (c: Case, v: number): Uint8Array =>
  encode(assemble(c.asm.replaceAll("BAD", String(v))));

describe("pruning keeps every value that matters (precision tracking)", () => {
  for (const c of CASES) {
    test(`refused: ${c.name}`, () => {
      const insts = build(c, c.bad);
      const r = verify({ insts, type: "xdp", maps });
      expect(r.error?.message ?? "accepted").not.toBe("accepted");
      expect(r.ok).toBe(false);
    });
    test(`accepted with a safe value: ${c.name}`, () => {
      const r = verify({ insts: build(c, c.safe), type: "xdp", maps });
      expect(r.error?.message ?? "accepted").toBe("accepted");
    });
    test.skipIf(kernelSkip !== undefined)(`the kernel agrees: ${c.name}`, () => {
      expect(kernelVerdict({ insts: build(c, c.bad), type: "xdp", maps })?.ok).toBe(false);
      expect(kernelVerdict({ insts: build(c, c.safe), type: "xdp", maps })?.ok).toBe(true);
    });
  }
});

describe("loops converge", () => {
  test("a loop whose body forks every iteration is pruned, not unrolled 2^n times", () => {
    // 64 iterations, two paths each: without pruning 2^64 paths
    const insts = encode(
      assemble(`${RANDOM}
        r7 = 0
        r8 = 0
      loop:
        r9 = r6
        r9 >>= r8
        if r9 & 1 goto one
        r7 += 2
        goto next
      one:
        r7 += 3
      next:
        r8 += 1
        if r8 < 64 goto loop
        r0 = r7
        exit`),
    );
    const r = verify({ insts, type: "xdp", maps });
    expect(r.error?.message ?? "accepted").toBe("accepted");
    expect(r.stats.statesPruned).toBeGreaterThan(0);
    expect(r.stats.insnsProcessed).toBeLessThan(64 * 12 * 2);
  });

  test("a loop that never changes its state is still an infinite loop", () => {
    const insts = encode(
      assemble(`${RANDOM}
        r7 = 0
      loop:
        r7 &= 1
        if r6 > 3 goto loop
        r0 = 0
        exit`),
    );
    const r = verify({ insts, type: "xdp", maps });
    expect(r.error?.reason).toMatch(/infinite loop detected/);
  });

  test("a loop that counts without a bound runs into the instruction budget", () => {
    const insts = encode(
      assemble(`${RANDOM}
        r7 = 0
      loop:
        r7 += 1
        if r6 > 3 goto loop
        r0 = 0
        exit`),
    );
    const r = verify({ insts, type: "xdp", maps }, { budget: 20_000 });
    expect(r.ok).toBe(false);
  });
});
