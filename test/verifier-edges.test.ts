// The verifier at the exact edges of a map value: the last byte in bounds is
// accepted and the first byte past it refused, for every access size, reads
// and writes, constant and variable offsets. The JIT has no bounds checks
// (it trusts the verifier), so one byte of slack here is an out-of-bounds
// access in production. Expected verdicts are computed by hand from
// value_size; where bpf() is allowed the kernel's verifier is asked too.
import { describe, expect, test } from "bun:test";
import { assemble, encode } from "../src/asm/index.ts";
import { verify, type MapInfo } from "../src/verifier/index.ts";
import { kernelUnavailable, kernelVerdict } from "../src/verifier/testdata/kernel.ts";

const VALUE_SIZE = 16;
const maps: MapInfo[] = [
  { name: "arr", type: "array", keySize: 4, valueSize: VALUE_SIZE, maxEntries: 4 },
];

const LOOKUP = `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  ld_pseudo r1, 5, 0
  call 1
  if r0 == 0 goto +LEN`;

const SIZES = { u8: 1, u16: 2, u32: 4, u64: 8 } as const;
type Width = keyof typeof SIZES;

interface Edge {
  name: string;
  body: string[];
  ok: boolean;
}

/** A constant-offset access of `w` at `off` (read or write). */
function constAccess(w: Width, off: number, write: boolean): Edge {
  const body = write ? [`*(${w} *)(r0 + ${off}) = 1`] : [`r1 = *(${w} *)(r0 + ${off})`];
  return {
    name: `${write ? "write" : "read"} ${w} at ${off}`,
    body,
    ok: off >= 0 && off + SIZES[w] <= VALUE_SIZE,
  };
}

/** A read of `w` at r0 + idx, where the program bounds idx to [0, max]. */
function varAccess(w: Width, max: number): Edge {
  return {
    name: `read ${w} at a variable offset in [0, ${max}]`,
    body: ["r1 = *(u32 *)(r0 + 0)", `if r1 > ${max} goto +2`, "r0 += r1", `r1 = *(${w} *)(r0 + 0)`],
    ok: max + SIZES[w] <= VALUE_SIZE,
  };
}

/** A read of `w` at r0 + idx, idx bounded to [min, max] (a lower bound above 0). */
function varAccessFrom(w: Width, min: number, max: number): Edge {
  return {
    name: `read ${w} at a variable offset in [${min}, ${max}]`,
    body: [
      "r1 = *(u32 *)(r0 + 0)",
      `if r1 < ${min} goto +3`,
      `if r1 > ${max} goto +2`,
      "r0 += r1",
      `r1 = *(${w} *)(r0 + 0)`,
    ],
    ok: max + SIZES[w] <= VALUE_SIZE,
  };
}

function program(e: Edge): Uint8Array {
  const text = `${LOOKUP.replace("LEN", String(e.body.length))}\n${e.body.join("\n")}\nr0 = 0\nexit`;
  return encode(assemble(text));
}

const edges: Edge[] = [];
for (const w of Object.keys(SIZES) as Width[]) {
  const last = VALUE_SIZE - SIZES[w];
  for (const write of [false, true]) {
    edges.push(constAccess(w, last, write)); // last in bounds
    edges.push(constAccess(w, last + 1, write)); // one byte past the end
    edges.push(constAccess(w, 0, write));
    edges.push(constAccess(w, -1, write));
  }
  edges.push(varAccess(w, last));
  edges.push(varAccess(w, last + 1));
  edges.push(varAccessFrom(w, 4, last));
  edges.push(varAccessFrom(w, 4, last + 1));
}

describe("map value bounds at the edge (value_size 16)", () => {
  for (const e of edges)
    test(`${e.name}: ${e.ok ? "accepted" : "refused"}`, () => {
      const r = verify({ insts: program(e), type: "xdp", maps });
      if (e.ok) expect(r.error?.reason).toBeUndefined();
      else expect(r.error?.reason).toMatch(/invalid access to map value|min value is negative/);
      expect(r.ok).toBe(e.ok);
    });
});

/** Stack edges: the frame is the 512 bytes below r10 (hand-computed verdicts). */
const STACK: Array<{ name: string; text: string; ok: boolean }> = [
  { name: "write u8 at r10-1", text: "*(u8 *)(r10 - 1) = 1", ok: true },
  { name: "write u8 at r10+0", text: "*(u8 *)(r10 + 0) = 1", ok: false },
  { name: "write u64 at r10-8", text: "*(u64 *)(r10 - 8) = 1", ok: true },
  { name: "write u64 at r10-512", text: "*(u64 *)(r10 - 512) = 1", ok: true },
  { name: "write u8 at r10-513", text: "*(u8 *)(r10 - 513) = 1", ok: false },
  { name: "write u64 at r10-520", text: "*(u64 *)(r10 - 520) = 1", ok: false },
];
const stackProgram = (text: string) => encode(assemble(`${text}\nr0 = 0\nexit`));

describe("stack bounds at the edge", () => {
  for (const e of STACK)
    test(`${e.name}: ${e.ok ? "accepted" : "refused"}`, () => {
      const r = verify({ insts: stackProgram(e.text), type: "xdp", maps: [] });
      if (e.ok) expect(r.error?.reason).toBeUndefined();
      else expect(r.error?.reason).toMatch(/invalid stack access/);
      expect(r.ok).toBe(e.ok);
    });
});

/** Ringbuf reserved memory (8 bytes): its edges, read after the null check. */
const rbMaps: MapInfo[] = [
  { name: "rb", type: "ringbuf", keySize: 0, valueSize: 0, maxEntries: 4096 },
];
const MEM: Array<{ name: string; off: number; w: Width; ok: boolean }> = [
  { name: "read u8 at 7 of 8 reserved bytes", off: 7, w: "u8", ok: true },
  { name: "read u8 at 8 of 8 reserved bytes", off: 8, w: "u8", ok: false },
  { name: "read u64 at 0 of 8 reserved bytes", off: 0, w: "u64", ok: true },
  { name: "read u8 at -1 of 8 reserved bytes", off: -1, w: "u8", ok: false },
];
const memProgram = (off: number, w: Width) =>
  encode(
    assemble(`
  ld_pseudo r1, 5, 0
  r2 = 8
  r3 = 0
  call 131
  if r0 == 0 goto +5
  *(u64 *)(r0 + 0) = 0
  r6 = *(${w} *)(r0 ${off < 0 ? "-" : "+"} ${Math.abs(off)})
  r1 = r0
  r2 = 0
  call 133
  r0 = 0
  exit`),
  );

describe("ringbuf reserved memory at the edge", () => {
  for (const e of MEM)
    test(`${e.name}: ${e.ok ? "accepted" : "refused"}`, () => {
      const r = verify({ insts: memProgram(e.off, e.w), type: "xdp", maps: rbMaps });
      if (e.ok) expect(r.error?.reason).toBeUndefined();
      else expect(r.error?.reason).toMatch(/invalid access to memory/);
      expect(r.ok).toBe(e.ok);
    });
});

const why = kernelUnavailable();
if (why) console.log(`skip: map value edges vs the kernel: ${why}`);
describe.skipIf(!!why)("map value bounds at the edge: the kernel agrees", () => {
  for (const e of edges)
    test(e.name, () => {
      const v = kernelVerdict({ insts: program(e), type: "xdp", maps });
      expect(v).toBeDefined(); // array maps and xdp exist in every kernel with bpf()
      expect(v!.ok).toBe(e.ok);
    });
  for (const e of MEM)
    test(e.name, () => {
      const v = kernelVerdict({ insts: memProgram(e.off, e.w), type: "xdp", maps: rbMaps });
      expect(v).toBeDefined();
      expect(v!.ok).toBe(e.ok);
    });
  for (const e of STACK)
    test(e.name, () => {
      const v = kernelVerdict({ insts: stackProgram(e.text), type: "xdp", maps: [] });
      expect(v).toBeDefined();
      expect(v!.ok).toBe(e.ok);
    });
});
