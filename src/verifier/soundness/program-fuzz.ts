// Program-level soundness check: random programs (unknown values from
// helpers and the context, random ALU and branch steps on them, then memory
// accesses at offsets computed from them) and mutations of the accepted
// ones go through the verifier; every program it accepts is run on the
// reference interpreter (ref-interp.ts) with several random inputs, and any
// access outside what the program may touch is a failure.

import { type Instruction, encode, ins, lddw } from "../../asm/index.ts";
import type { MapInfo } from "../verifier.ts";
import { verify } from "../verifier.ts";
import { Rng } from "./domain-fuzz.ts";
import { Unmodelled, Violation, memObject, refRun } from "./ref-interp.ts";

const VALUE_SIZE = 64;
const MAPS: MapInfo[] = [
  { name: "arr", type: "array", keySize: 4, valueSize: VALUE_SIZE, maxEntries: 2 },
];
const SCALARS = [7, 8, 9];
// shifts and multiply twice: the operations whose bounds went wrong before
const ALU = [
  0x00, 0x10, 0x20, 0x20, 0x30, 0x40, 0x50, 0x60, 0x60, 0x70, 0x70, 0x90, 0xa0, 0xc0, 0xc0,
];
const JMP = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
const IMMS = [
  0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 33, 48, 63, 64, 0xff, 0xffff, 0x7fffffff, -1, -8, -64,
  -0x80000000,
];

function imm(rng: Rng): number {
  return rng.below(3) ? IMMS[rng.below(IMMS.length)]! : rng.u32() | 0;
}

/** One random step on the scalar registers (single-slot instruction). */
function step(rng: Rng): Instruction {
  const dst = SCALARS[rng.below(3)]!;
  const src = SCALARS[rng.below(3)]!;
  const cls = rng.below(2) ? 0x07 : 0x04;
  switch (rng.below(12)) {
    case 10:
    case 11:
      return ins(cls | 0xb0, dst, 0, 0, imm(rng)); // a constant
    case 0:
      return ins(cls | 0x80, dst); // neg
    case 1:
      return ins(cls | 0x08 | 0xb0, dst, src, [0, 8, 16, 32][rng.below(cls === 0x07 ? 4 : 3)]!); // mov/movsx
    case 2: {
      const bits = [16, 32, 64][rng.below(3)]!;
      return rng.below(2)
        ? ins(0xd7, dst, 0, 0, bits)
        : ins(0xd4 | (rng.below(2) << 3), dst, 0, 0, bits);
    }
    case 3:
      return ins(cls | 0x50, dst, 0, 0, [0xf, 0x3f, 0xff, 0x7fff][rng.below(4)]!); // bound by a mask
    default: {
      const op = ALU[rng.below(ALU.length)]!;
      const off = (op === 0x30 || op === 0x90) && rng.below(3) === 0 ? 1 : 0;
      return rng.below(2)
        ? ins(cls | 0x08 | op, dst, src, off)
        : ins(cls | op, dst, 0, off, imm(rng));
    }
  }
}

/**
 * A random program: unknowns, steps and forward branches (sometimes inside a
 * bounded loop), then accesses at computed offsets.
 */
export function randomProgram(rng: Rng): Instruction[] {
  const pro: Instruction[] = [
    ins(0xbf, 6, 1), // r6 = ctx
    ins(0x85, 0, 0, 0, 7), // r0 = random
    ins(0xbf, 7, 0),
    ins(0x85, 0, 0, 0, 7),
    // r8: often a known constant, as a count or divisor held in a register
    rng.below(2) ? ins(0xb7, 8, 0, 0, imm(rng)) : ins(0xbf, 8, 0),
    ins(0x79, 9, 6, 8 * rng.below(21)), // r9 = a pt_regs field
  ];
  const nBody = 2 + rng.below(10);
  const body: (Instruction | "jump")[] = [];
  for (let i = 0; i < nBody; i++) body.push(rng.below(4) === 0 ? "jump" : step(rng));
  const epi: Instruction[] = [];
  // usually the register the body wrote last: the result of the most operations
  const last = [...body].reverse().find((b): b is Instruction => b !== "jump");
  const offReg = last && rng.below(3) ? last.dst : SCALARS[rng.below(3)]!;
  const size = [1, 2, 4, 8][rng.below(4)]!;
  const sizeBits = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 }[size]!;
  const fixed = rng.below(2) ? 0 : rng.below(9) * 8 - 16;
  if (rng.below(2)) {
    // map value + offset
    epi.push(
      ins(0x62, 10, 0, -4, rng.below(3)), // *(u32 *)(r10 - 4) = key
      ins(0xbf, 2, 10),
      ins(0x07, 2, 0, 0, -4),
      lddw(1, 0, 5),
      ins(0x85, 0, 0, 0, 1),
      ins(0x15, 0, 0, 0, 0), // if r0 == 0 goto out (patched below)
      ins(0x0f, 0, offReg), // r0 += off
      rng.below(2) ? ins(0x62 | sizeBits, 0, 0, fixed, 1) : ins(0x61 | sizeBits, 3, 0, fixed),
    );
  } else {
    // stack + offset
    epi.push(
      ins(0xbf, 1, 10),
      ins(0x07, 1, 0, 0, -VALUE_SIZE),
      ins(0x0f, 1, offReg),
      ins(0x62 | sizeBits, 1, 0, fixed, 0),
    );
  }
  // usually bound the offset first (32- or 64-bit compare, or a mask), as real programs do
  const bound = rng.below(5);
  const limit = [7, 31, 56, 60, 63, 64, 100][rng.below(7)]!;
  if (bound === 1 || bound === 2)
    epi.unshift(
      ins((bound === 1 ? 0x05 : 0x06) | [0x20, 0x30, 0x60][rng.below(3)]!, offReg, 0, 0, limit),
    );
  else if (bound === 3 || bound === 4)
    epi.unshift(ins((rng.below(2) ? 0x07 : 0x04) | 0x50, offReg, 0, 0, limit));
  // forward jumps in the epilogue go to `out`
  const slots = (xs: Instruction[]): number =>
    xs.reduce((n, x) => n + (x.opcode === 0x18 ? 2 : 1), 0);
  for (let i = 0; i < epi.length; i++) {
    const x = epi[i]!;
    const isJump = (x.opcode & 7) === 0x05 || (x.opcode & 7) === 0x06;
    if (isJump && x.opcode !== 0x85) x.off = slots(epi.slice(i + 1));
  }
  epi.push(ins(0xb7, 0, 0, 0, 0), ins(0x95)); // out
  // resolve branches: forward, to a later body instruction or the epilogue
  const out: Instruction[] = [...pro];
  for (let i = 0; i < body.length; i++) {
    const b = body[i]!;
    if (b !== "jump") {
      out.push(b);
      continue;
    }
    const skip = rng.below(body.length - i);
    const dst = SCALARS[rng.below(3)]!;
    const op = JMP[rng.below(JMP.length)]!;
    const cls = rng.below(3) ? 0x05 : 0x06;
    out.push(
      rng.below(2)
        ? ins(cls | op, dst, 0, skip, imm(rng))
        : ins(cls | 0x08 | op, dst, SCALARS[rng.below(3)]!, skip),
    );
  }
  if (rng.below(3) === 0) {
    // a bounded loop around the body (r4 counts 2..4 iterations): states of
    // successive iterations meet at the loop head, where pruning and
    // precision decide which of them are explored
    const loop = out.slice(pro.length);
    const times = 2 + rng.below(3);
    return [
      ...pro,
      ins(0xb7, 4, 0, 0, 0), // r4 = 0
      ...loop,
      ins(0x07, 4, 0, 0, 1), // r4 += 1
      ins(0xa5, 4, 0, -(loop.length + 2), times), // if r4 < times goto the body
      ...epi,
    ];
  }
  return [...out, ...epi];
}

/** One field of one instruction changed (any field, any value): a mutated program. */
export function mutate(rng: Rng, code: Uint8Array): Uint8Array {
  const c = code.slice();
  const i = rng.below(c.length / 8) * 8;
  switch (rng.below(4)) {
    case 0:
      c[i] = rng.below(256);
      break;
    case 1:
      c[i + 1] = rng.below(11) | (rng.below(11) << 4);
      break;
    case 2:
      new DataView(c.buffer).setInt16(i + 2, rng.below(64) - 32, true);
      break;
    default:
      new DataView(c.buffer).setInt32(i + 4, imm(rng), true);
  }
  return c;
}

export interface ProgramFuzzResult {
  generated: number;
  accepted: number;
  runs: number;
  steps: number;
  unmodelled: number;
  failures: string[];
}

const hex = (code: Uint8Array): string => Buffer.from(code).toString("hex");

/** Runs an accepted program on `inputs` random inputs; returns a failure message or undefined. */
function runAccepted(
  rng: Rng,
  code: Uint8Array,
  inputs: number,
  res: ProgramFuzzResult,
): string | undefined {
  for (let k = 0; k < inputs; k++) {
    // inputs biased to the edges: the values a wrong bound forgets
    const val = (): bigint => (rng.below(3) === 0 ? BigInt(rng.u32()) : rng.value() & 0xffffffffn);
    const env = {
      ctx: memObject("ctx", 168, false, () => (rng.below(2) ? 0xff : rng.below(256))),
      maps: [
        {
          values: [
            memObject("map value 0", VALUE_SIZE, true),
            memObject("map value 1", VALUE_SIZE, true),
          ],
        },
      ],
      random: [val(), val()],
    };
    try {
      res.steps += refRun(code, env).steps;
      res.runs++;
    } catch (e) {
      if (e instanceof Unmodelled) {
        res.unmodelled++;
        return undefined;
      }
      if (e instanceof Violation)
        return `${e.message} (program ${hex(code)}, random ${env.random.map((v) => `0x${v.toString(16)}`).join(",")})`;
      throw e;
    }
  }
  return undefined;
}

export function programFuzz(opts: {
  seed: number;
  programs: number;
  mutations?: number;
  inputs?: number;
  /** the verifier under test (tests pass a broken one to show the check can fail) */
  accepts?: (code: Uint8Array) => boolean;
}): ProgramFuzzResult {
  const accepts =
    opts.accepts ??
    ((code: Uint8Array) =>
      verify({ insts: code, type: "kprobe", maps: MAPS }, { budget: 200_000 }).ok);
  const rng = new Rng(opts.seed);
  const res: ProgramFuzzResult = {
    generated: 0,
    accepted: 0,
    runs: 0,
    steps: 0,
    unmodelled: 0,
    failures: [],
  };
  const consider = (code: Uint8Array): boolean => {
    res.generated++;
    if (!accepts(code)) return false;
    res.accepted++;
    const f = runAccepted(rng, code, opts.inputs ?? 8, res);
    if (f) res.failures.push(`seed ${opts.seed}: ${f}`);
    return true;
  };
  for (let p = 0; p < opts.programs && res.failures.length < 3; p++) {
    const code = encode(randomProgram(rng));
    if (!consider(code)) continue;
    for (let m = 0; m < (opts.mutations ?? 4); m++) consider(mutate(rng, code));
  }
  return res;
}
