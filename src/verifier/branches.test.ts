// What the fall-through of a conditional jump knows: `if r1 != K goto out`
// continues only with r1 == K, `if r1 >= K goto out` only with r1 < K. An
// access at r0 + r1 into a 16-byte map value is then exactly in bounds or
// one byte past it (hand-computed: offset + size <= 16), so the verdict
// shows whether the negated comparison refined r1 at all, and exactly.

import { describe, expect, test } from "bun:test";
import { assemble, encode } from "../asm/index.ts";
import { verify } from "./index.ts";
import { NEG_MAPS } from "./testdata/negative.ts"; // map 0: array, value_size 16

/** r1 = an unknown u32 from the value; `branch` (jumps to the exit when taken); then a u32 read at r0 + r1. */
function program(branch: string): Uint8Array {
  const text = `
    *(u32 *)(r10 - 4) = 0
    r2 = r10
    r2 += -4
    ld_pseudo r1, 5, 0
    call 1
    if r0 == 0 goto +5
    r1 = *(u32 *)(r0 + 0)
    ${branch} goto +3
    r0 += r1
    r1 = *(u32 *)(r0 + 0)
    r0 = 0
    r0 = 0
    exit`;
  return encode(assemble(text));
}

const verdict = (branch: string) =>
  verify({ insts: program(branch), type: "xdp", maps: NEG_MAPS }).ok;

describe("the fall-through side of a jump bounds the register", () => {
  for (const r of ["r1", "w1"]) {
    test(`${r} != K: the fall-through has ${r} == K`, () => {
      expect(verdict(`if ${r} != 12`)).toBe(true); // 12 + 4 = 16
      expect(verdict(`if ${r} != 13`)).toBe(false); // 13 + 4 = 17
    });
    test(`${r} >= K: the fall-through has ${r} < K`, () => {
      expect(verdict(`if ${r} >= 13`)).toBe(true); // at most 12
      expect(verdict(`if ${r} >= 14`)).toBe(false); // 13 possible
    });
  }
  test("without a branch the offset is unbounded: refused", () => {
    expect(verdict("if r1 == 0xfffff")).toBe(false); // r1 != 0xfffff: no upper bound
  });
});
