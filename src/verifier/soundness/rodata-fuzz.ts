// Soundness of one rule: a load at a constant offset from a frozen read-only
// map with known contents (.rodata, .kconfig) is that constant to the
// verifier. Random contents, offsets (also split between the pointer and the
// instruction), sizes and sign-extending loads: the VM (interpreter and JIT)
// runs the load on the same bytes, and the verifier must prove the loaded
// register equals exactly what the VM read — the program it is given takes
// an invalid stack read unless `value == VM's value`, so it is accepted only
// when its constant is the VM's (a wrong constant, or no constant at all,
// leaves the invalid read reachable). Nothing here decodes bytes in
// TypeScript: the expected value comes from the VM.

import { type Instruction, encode, ins, lddw } from "../../asm/index.ts";
import { Vm, type Engine } from "../../native/index.ts";
import { verify } from "../verifier.ts";
import { Rng } from "./domain-fuzz.ts";

/** ldx (zero-extending) and ldxsx opcodes by size in bytes */
const LDX: Record<number, number> = { 1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79 };
const LDXSX: Record<number, number> = { 1: 0x91, 2: 0x89, 4: 0x81 };
const PSEUDO_MAP_IDX_VALUE = 6;

export interface RodataCase {
  contents: Uint8Array;
  /** added to the map value pointer before the load */
  ptrOff: number;
  /** the load instruction's offset */
  insnOff: number;
  size: number;
  signed: boolean;
}

function randomCase(rng: Rng): RodataCase {
  const len = 1 + rng.below(64);
  const contents = new Uint8Array(len);
  // bytes with the sign bit set as often as not, and runs of 0x00 / 0xff
  for (let i = 0; i < len; i++) contents[i] = [0, 0xff, 0x80, 0x7f][rng.below(8)] ?? rng.below(256);
  const sizes = [1, 2, 4, 8].filter((s) => s <= len);
  const size = sizes[rng.below(sizes.length)]!;
  const signed = size < 8 && rng.below(2) === 1;
  const at = rng.below(len - size + 1);
  const ptrOff = rng.below(at + 1);
  return { contents, ptrOff, insnOff: at - ptrOff, size, signed };
}

function load(c: RodataCase): Instruction {
  return ins((c.signed ? LDXSX : LDX)[c.size]!, 0, 1, c.insnOff, 0);
}

/** What the VM reads: r1 = the contents; r1 += ptrOff; r0 = load; exit. */
function vmValue(c: RodataCase, engine: Engine): bigint {
  const vm = new Vm(encode([ins(0x07, 1, 0, 0, c.ptrOff), load(c), ins(0x95)]));
  try {
    return vm.run(new Uint8Array(c.contents), engine).returnValue;
  } finally {
    vm.close();
  }
}

/** The same load from the map; an invalid stack read unless r0 == expected. */
function verifierProgram(c: RodataCase, expected: bigint): Uint8Array {
  return encode([
    lddw(1, 0, PSEUDO_MAP_IDX_VALUE), // r1 = &rodata[0]
    ins(0x07, 1, 0, 0, c.ptrOff), // r1 += ptrOff
    load(c), // r0 = *(size *)(r1 + insnOff)
    lddw(2, expected), // r2 = what the VM read
    ins(0x1d, 0, 2, 1, 0), // if r0 == r2 goto +1
    ins(0x79, 0, 10, 0, 0), // r0 = *(u64 *)(r10 + 0): out of the stack
    ins(0xb7, 0, 0, 0, 0), // r0 = 0
    ins(0x95), // exit
  ]);
}

export function rodataAccepts(c: RodataCase, expected: bigint): { ok: boolean; why?: string } {
  const maps = [
    {
      name: "rodata",
      type: "array" as const,
      keySize: 4,
      valueSize: c.contents.length,
      maxEntries: 1,
      readOnly: true,
      initialValue: c.contents,
    },
  ];
  const r = verify({ insts: verifierProgram(c, expected), type: "xdp", maps });
  return r.ok ? { ok: true } : { ok: false, why: r.error?.message };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

export function rodataFuzz(opts: { seed: number; cases: number; engines: Engine[] }): {
  checked: number;
  failures: string[];
} {
  const rng = new Rng(opts.seed);
  const failures: string[] = [];
  let checked = 0;
  for (let i = 0; i < opts.cases && failures.length < 5; i++) {
    const c = randomCase(rng);
    const what = `seed ${opts.seed} case ${i}: contents ${hex(c.contents)}, ${c.signed ? "signed " : ""}${c.size}-byte load at ${c.ptrOff}+${c.insnOff}`;
    const values = opts.engines.map((e) => vmValue(c, e));
    if (values.some((v) => v !== values[0])) {
      failures.push(`${what}: the engines disagree (${values.join(", ")})`);
      continue;
    }
    const r = rodataAccepts(c, values[0]!);
    if (!r.ok)
      failures.push(
        `${what}: the verifier does not prove r0 == 0x${values[0]!.toString(16)} (${r.why})`,
      );
    checked++;
  }
  return { checked, failures };
}
