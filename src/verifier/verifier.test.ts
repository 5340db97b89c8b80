// Positive suite (real C compiled with clang 14 and clang-19 v3/v4, loaded
// with src/elf), kernel agreement on it, the public API, the context rewrite,
// the log, and the abstract domain.

import { describe, expect, test } from "bun:test";
import { assemble, decode, disassembleLines, encode } from "../asm/index.ts";
import { BpftimeError } from "../errors.ts";
import {
  contextLayout,
  nativeContextSize,
  rewriteContextAccesses,
  verify,
  verifyOrThrow,
} from "./index.ts";
import {
  alu,
  branchTaken,
  constScalar,
  rangeScalar,
  refine,
  scalarWithin,
  unknownScalar,
  zeroExtend32,
} from "./scalar.ts";
import { compiledPrograms } from "./testdata/compile.ts";
import { kernelUnavailable, kernelVerdict } from "./testdata/kernel.ts";
import { tnumAdd, tnumConst, tnumIn, tnumMul, tnumRange } from "./tnum.ts";

const asm = (text: string): Uint8Array => encode(assemble(text));

describe("positive suite: clang output is accepted", () => {
  const { programs, skipped } = compiledPrograms();
  if (skipped) {
    console.log(skipped);
    test.skip(skipped, () => {});
    return;
  }
  test("covers every source with every compiler", () => {
    expect(programs.length).toBeGreaterThanOrEqual(30);
  });
  for (const p of programs) {
    test(p.label, () => {
      const r = verify({ insts: p.insts, type: p.type, maps: p.maps });
      if (!r.ok) throw new Error(`${p.label}: ${r.error!.message}`);
      expect(r.stats.insnsProcessed).toBeGreaterThan(0);
    });
  }
});

describe("positive suite: the kernel agrees", () => {
  const why = kernelUnavailable() ?? compiledPrograms().skipped;
  if (why) {
    test.skip(`kernel differential skipped: ${why}`, () => {});
    return;
  }
  for (const p of compiledPrograms().programs) {
    // nginx_url_filter has no kernel program type: nothing to compare.
    if (p.type === "nginx_url_filter") continue;
    test(
      p.label,
      () => {
        const v = kernelVerdict(p);
        if (!v) throw new Error(`the kernel could not judge ${p.label}`);
        if (!v.ok)
          throw new Error(`kernel rejects ${p.label}:\n${v.log.split("\n").slice(-5).join("\n")}`);
      },
      60_000,
    );
  }
});

describe("API", () => {
  test("verifyOrThrow names the instruction, its text and the reason", () => {
    let err: unknown;
    try {
      verifyOrThrow({ insts: asm("r0 = *(u32 *)(r1 + 0x40)\nexit"), type: "xdp", maps: [] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpftimeError);
    expect((err as BpftimeError).code).toBe("verifier");
    expect((err as BpftimeError).message).toBe(
      "instruction 0 (r0 = *(u32 *)(r1 + 64)): invalid access to context at offset 64 size 4 (context is 24 bytes)",
    );
  });

  test("result carries stats and, on request, the log", () => {
    const r = verify(
      {
        insts: asm(`
          r0 = *(u32 *)(r1 + 0x0)
          r1 = 0
          loop:
          r1 += 1
          if r1 < 10 goto loop
          r0 = 0
          exit`),
        type: "xdp",
        maps: [],
      },
      { log: true },
    );
    expect(r.ok).toBe(true);
    expect(r.stats.insnsProcessed).toBeGreaterThan(20);
    expect(r.stats.statesExplored).toBeGreaterThan(0);
    expect(r.log[0]).toBe("0: (61) r0 = *(u32 *)(r1 + 0) ; R0_w=packet(r=0) R1=ctx()");
    expect(r.log).toContain("3: (a5) if r1 < 10 goto -2 ; R0=packet(r=0) R1=9");
    expect(verify({ insts: asm("r0 = 0\nexit"), type: "xdp", maps: [] }).log).toEqual([]);
  });

  test("the budget bounds the work", () => {
    const r = verify(
      {
        insts: asm("r0 = 0\nr1 = 0\nr1 += 1\nif r1 < 100000 goto -2\nexit"),
        type: "xdp",
        maps: [],
      },
      { budget: 1000 },
    );
    expect(r.ok).toBe(false);
    expect(r.error!.reason).toContain("program too complex or unbounded loop");
  });

  test("unknown program type is an invalid_argument error", () => {
    expect(() => verify({ insts: asm("r0 = 0\nexit"), type: "nope" as "xdp", maps: [] })).toThrow(
      "unknown program type",
    );
  });

  test("pruning keeps diamond-shaped code linear", () => {
    // 30 independent if/else diamonds: 2^30 paths without pruning
    let text = "r7 = 0\n";
    for (let i = 0; i < 30; i++)
      text += `r2 = *(u32 *)(r1 + 12)\nif r2 & 1 goto +2\nr7 += 1\ngoto +1\nr7 += 2\n`;
    text += "r0 = r7\nexit";
    const r = verify({ insts: asm(text), type: "xdp", maps: [] });
    expect(r.ok).toBe(true);
    expect(r.stats.insnsProcessed).toBeLessThan(2000);
    expect(r.stats.statesPruned).toBeGreaterThan(0);
  });
});

describe("context rewrite", () => {
  test("xdp pointer loads become 64-bit loads at 8*k, scalars move", () => {
    const insts = asm(`
      r2 = *(u32 *)(r1 + 0x0)
      r3 = *(u32 *)(r1 + 0x4)
      r4 = *(u32 *)(r1 + 0xc)
      r5 = r2
      r5 += 1
      r0 = 0
      if r5 > r3 goto +1
      r0 = *(u8 *)(r2 + 0x0)
      exit`);
    const r = verify({ insts, type: "xdp", maps: [] });
    expect(r.ok).toBe(true);
    expect(r.ctxAccesses).toEqual([
      { index: 0, off: 0, size: 4, nativeOff: 0, nativeSize: 8 },
      { index: 1, off: 4, size: 4, nativeOff: 8, nativeSize: 8 },
      { index: 2, off: 12, size: 4, nativeOff: 24, nativeSize: 4 },
    ]);
    const out = disassembleLines(decode(rewriteContextAccesses(insts, "xdp", r.ctxAccesses)));
    expect(out.slice(0, 3)).toEqual([
      "r2 = *(u64 *)(r1 + 0)",
      "r3 = *(u64 *)(r1 + 8)",
      "r4 = *(u32 *)(r1 + 24)",
    ]);
    expect(nativeContextSize("xdp")).toBe(48);
    expect(contextLayout("xdp").find((f) => f.name === "data_end")).toMatchObject({
      kernelOff: 4,
      nativeOff: 8,
      nativeSize: 8,
      kind: "packet_end",
    });
  });

  test("socket filter cb stores move too; pt_regs and nginx need nothing", () => {
    const insts = asm("r2 = 7\n*(u32 *)(r1 + 0x30) = r2\nr0 = 0\nexit");
    const r = verify({ insts, type: "socket_filter", maps: [] });
    expect(r.ok).toBe(true);
    const out = disassembleLines(
      decode(rewriteContextAccesses(insts, "socket_filter", r.ctxAccesses)),
    );
    expect(out[1]).toBe("*(u32 *)(r1 + 96) = r2");
    const k = asm("r0 = *(u64 *)(r1 + 0x70)\nexit");
    const rk = verify({ insts: k, type: "kprobe", maps: [] });
    expect(rk.ok).toBe(true);
    expect(rewriteContextAccesses(k, "kprobe", rk.ctxAccesses)).toEqual(k);
    expect(nativeContextSize("nginx_url_filter")).toBe(48);
  });

  test("a rewrite list that does not match the program is refused", () => {
    const insts = asm("r0 = 0\nexit");
    expect(() =>
      rewriteContextAccesses(insts, "xdp", [
        { index: 0, off: 0, size: 4, nativeOff: 0, nativeSize: 8 },
      ]),
    ).toThrow("not the verified context access");
  });
});

describe("accepted shapes (assembler)", () => {
  const maps = [
    { name: "m", type: "array", keySize: 4, valueSize: 64, maxEntries: 1 },
    { name: "rb", type: "ringbuf", keySize: 0, valueSize: 0, maxEntries: 4096 },
  ];
  const ok = (text: string, type: "xdp" | "kprobe" = "xdp") => {
    const r = verify({ insts: asm(text), type, maps });
    if (!r.ok) throw new Error(r.error!.message);
  };

  test("32-bit comparison bounds a zero-extended index", () => {
    ok(`
      *(u32 *)(r10 - 4) = 0
      r2 = r10
      r2 += -4
      ld_pseudo r1, 5, 0
      call 1
      if r0 == 0 goto +7
      r6 = r0
      call 7
      w0 &= 0xff
      if w0 > 56 goto +3
      r6 += r0
      r0 = *(u64 *)(r6 + 0)
      r0 = 0
      r0 = 0
      exit`);
  });

  test("spilled pointers survive a helper call", () => {
    ok(`
      *(u64 *)(r10 - 8) = r1
      call 5
      r1 = *(u64 *)(r10 - 8)
      r0 = *(u32 *)(r1 + 12)
      exit`);
  });

  test("null check on a copy transitions the original", () => {
    ok(`
      *(u32 *)(r10 - 4) = 0
      r2 = r10
      r2 += -4
      ld_pseudo r1, 5, 0
      call 1
      r6 = r0
      if r6 == 0 goto +1
      r0 = *(u64 *)(r0 + 56)
      r0 = 0
      exit`);
  });

  test("ringbuf discarded on the error path, submitted otherwise", () => {
    ok(
      `
      ld_pseudo r1, 5, 1
      r2 = 16
      r3 = 0
      call 131
      if r0 == 0 goto +9
      r6 = r0
      *(u64 *)(r6 + 8) = 0
      call 7
      r1 = r6
      r2 = 0
      if r0 > 5 goto +2
      call 132
      goto +1
      call 133
      r0 = 0
      exit`,
      "kprobe",
    );
  });
});
describe("abstract domain", () => {
  test("tnum arithmetic", () => {
    expect(tnumAdd(tnumConst(3n), tnumConst(4n))).toEqual(tnumConst(7n));
    const r = tnumRange(0n, 7n);
    expect(r).toEqual({ value: 0n, mask: 7n });
    expect(tnumIn(r, tnumConst(5n))).toBe(true);
    expect(tnumIn(r, tnumConst(8n))).toBe(false);
    expect(tnumMul(tnumConst(6n), tnumConst(7n))).toEqual(tnumConst(42n));
  });

  test("ranges through ALU ops, 64 and 32 bit", () => {
    const a = rangeScalar(0n, 10n);
    const s = alu("add", a, constScalar(5n), true);
    expect([s.umin, s.umax]).toEqual([5n, 15n]);
    const m = alu("and", unknownScalar(), constScalar(0xffn), true);
    expect([m.umin, m.umax]).toEqual([0n, 255n]);
    const w = alu("sub", rangeScalar(0n, 10n), constScalar(5n), false);
    expect([w.s32min, w.s32max]).toEqual([-5n, 5n]);
    expect(w.umax).toBe(0xffffffffn);
    const z = zeroExtend32(constScalar(-1n));
    expect(z.umin).toBe(0xffffffffn);
    expect(alu("lsh", rangeScalar(1n, 3n), constScalar(4n), true).umax).toBe(48n);
  });

  test("branch refinement and decided branches", () => {
    const [t] = refine("jlt", unknownScalar(), constScalar(16n), false)!;
    expect(t.umax).toBe(15n);
    const [f] = refine("jge", rangeScalar(0n, 100n), constScalar(16n), false)!;
    expect(f.umin).toBe(16n);
    expect(branchTaken("jgt", rangeScalar(5n, 9n), constScalar(10n), false)).toBe(0);
    expect(branchTaken("jne", constScalar(3n), constScalar(3n), false)).toBe(0);
    expect(branchTaken("jslt", constScalar(-1n), constScalar(0n), false)).toBe(1);
    expect(branchTaken("jgt", unknownScalar(), constScalar(3n), true)).toBe(-1);
    expect(refine("jeq", constScalar(1n), constScalar(2n), false)).toBeUndefined();
    expect(scalarWithin(unknownScalar(), rangeScalar(3n, 4n))).toBe(true);
    expect(scalarWithin(rangeScalar(3n, 4n), unknownScalar())).toBe(false);
  });
});
