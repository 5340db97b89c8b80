// The negative suite (testdata/negative.ts): every unsafe program is refused
// with its expected reason; where bpf(BPF_PROG_LOAD) works, the kernel's
// verdict on the same bytecode is checked against the note in the case.

import { describe, expect, test } from "bun:test";
import { assemble, encode } from "../asm/index.ts";
import { verify } from "./index.ts";
import { NEGATIVE, NEG_MAPS, type NegativeCase } from "./testdata/negative.ts";
import { kernelUnavailable, kernelVerdict } from "./testdata/kernel.ts";

function bytesOf(c: NegativeCase): Uint8Array {
  if (c.raw) return new Uint8Array(c.raw);
  return encode(assemble(c.asm!));
}

function input(c: NegativeCase) {
  return { insts: bytesOf(c), type: c.type ?? "xdp", maps: NEG_MAPS } as const;
}

test("the negative suite has at least 60 distinct programs", () => {
  expect(NEGATIVE.length).toBeGreaterThanOrEqual(60);
  expect(new Set(NEGATIVE.map((c) => c.name)).size).toBe(NEGATIVE.length);
  const programs = new Set(NEGATIVE.map((c) => Buffer.from(bytesOf(c)).toString("hex") + c.type));
  expect(programs.size).toBe(NEGATIVE.length);
});

describe("refused with the expected reason", () => {
  for (const c of NEGATIVE) {
    test(c.name, () => {
      const opts = c.budget !== undefined ? { budget: c.budget } : {};
      const r = verify(input(c), opts);
      expect(r.ok).toBe(false);
      expect(r.error!.reason).toContain(c.expect);
      expect(r.error!.message).toStartWith(`instruction ${r.error!.index} (`);
    });
  }
});

describe("kernel verifier agreement", () => {
  const why = kernelUnavailable();
  if (why) {
    test.skip(`kernel differential skipped: ${why}`, () => {});
    return;
  }
  for (const c of NEGATIVE) {
    if (typeof c.kernel === "object" && "skip" in c.kernel) continue;
    test(
      c.name,
      () => {
        const v = kernelVerdict(input(c));
        // every case uses program and map types the kernel has
        if (!v) throw new Error(`the kernel could not judge "${c.name}"`);
        if (c.kernel === "reject") {
          if (v.ok) throw new Error(`kernel accepts "${c.name}" but the case says it rejects`);
        } else if (!v.ok) {
          throw new Error(
            `kernel rejects "${c.name}" but the case documents a disagreement:\n${v.log.split("\n").slice(-4).join("\n")}`,
          );
        }
      },
      60_000,
    );
  }
});
