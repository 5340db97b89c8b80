// Equivalence with llvm-objdump: the disassembler's listing must equal
// `llvm-objdump -d` line by line (symbol headers, slot numbers, raw bytes,
// text), for (1) every instruction form, fed to llvm through `.incbin`,
// (2) random valid variants of every form, and (3) small C programs compiled
// with clang 14 and clang-19 (-mcpu=v4). The only differences allowed are the
// documented ones of disasm.ts (llvm prints <unknown> or drops information).
// Sections are read with llvm-objcopy, symbols with llvm-objdump -t.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AluOp,
  Class,
  Mode,
  OP_CALLX,
  type Dialect,
  type DisasmSymbol,
  type Instruction,
  assemble,
  classOf,
  decode,
  disassemble,
  disassembleLines,
  encode,
  enumerateForms,
  instructionProblem,
  isLddw,
  lddwValue,
  modeOf,
  opOf,
  sourceOf,
  Source,
} from "./index.ts";
import { mulberry32 } from "../prng.ts";

const have = (tool: string): boolean => Bun.which(tool) !== null;
const tools14 = ["clang", "llvm-objdump", "llvm-objcopy"].every(have);
const tools19 = ["clang-19", "llvm-objdump-19", "llvm-objcopy"].every(have);
if (!tools14)
  console.log("skip llvm 14 equivalence tests: clang / llvm-objdump / llvm-objcopy not found");
if (!tools19) console.log("skip llvm 19 equivalence tests: clang-19 / llvm-objdump-19 not found");

const dir = mkdtempSync(join(tmpdir(), `bpftime-${process.env.BPFTIME_TEST_RUN ?? "x"}-asm-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sh(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const objdumpOf: Record<Dialect, string> = { llvm14: "llvm-objdump", llvm19: "llvm-objdump-19" };

/** Sections of `llvm-objdump -d`: name -> body lines (from the blank line before the first header). */
function objdumpSections(obj: string, dialect: Dialect): Map<string, string[]> {
  const out = sh([objdumpOf[dialect], "-d", obj]).split("\n");
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of out) {
    const m = /^Disassembly of section (.*):$/.exec(line);
    if (m) {
      current = [];
      sections.set(m[1]!, current);
    } else if (current) {
      current.push(line);
    }
  }
  for (const lines of sections.values()) while (lines.at(-1) === "") lines.pop();
  return sections;
}

/** Symbols of a section from `llvm-objdump -t` (no section or file symbols). */
function symbolsOf(obj: string, section: string): DisasmSymbol[] {
  const syms: DisasmSymbol[] = [];
  for (const line of sh(["llvm-objdump", "-t", obj]).split("\n")) {
    const m = /^([0-9a-f]{16}) (.{7}) (\S+)\t[0-9a-f]+ (.*)$/.exec(line);
    if (!m || m[3] !== section || /[dDf]/.test(m[2]!.slice(5))) continue;
    syms.push({ name: m[4]!, slot: Number(BigInt("0x" + m[1]!) / 8n) });
  }
  return syms.sort((a, b) => a.slot - b.slot);
}

function sectionBytes(obj: string, section: string): Uint8Array {
  const out = join(dir, `section-${Math.random().toString(36).slice(2)}.bin`);
  sh(["llvm-objcopy", "-O", "binary", `--only-section=${section}`, obj, out]);
  return new Uint8Array(readFileSync(out));
}

/** Where llvm-objdump is known to print something else (see disasm.ts). */
function knownDivergence(inst: Instruction, theirs: string, dialect: Dialect): boolean {
  if (theirs === "<unknown>") return true;
  const cls = classOf(inst.opcode);
  const op = opOf(inst.opcode);
  if (dialect === "llvm14" && (cls === Class.ALU || cls === Class.ALU64)) {
    // llvm 14 ignores the v4 offset of sdiv/smod/movsx
    if ((op === AluOp.DIV || op === AluOp.MOD) && inst.off === 1) return true;
    if (op === AluOp.MOV && sourceOf(inst.opcode) === Source.X && inst.off !== 0) return true;
  }
  if (dialect === "llvm14" && inst.opcode === OP_CALLX) return true;
  if (inst.opcode === 0xc3 && inst.imm === 0x01) return true; // 32-bit fetch-add as plain add
  if (cls === Class.LD && modeOf(inst.opcode) === Mode.IND && inst.imm !== 0) return true;
  if (isLddw(inst) && inst.src !== 0 && lddwValue(inst) >> 32n !== 0n) return true;
  return false;
}

interface Comparison {
  mismatches: string[];
  divergences: number;
  lines: number;
}

function compareListing(mine: string[], theirs: string[], dialect: Dialect): Comparison {
  const result: Comparison = { mismatches: [], divergences: 0, lines: theirs.length };
  const n = Math.max(mine.length, theirs.length);
  for (let i = 0; i < n; i++) {
    const a = mine[i];
    const b = theirs[i];
    if (a === b) continue;
    const ma = a === undefined ? null : /^\s*(\d+):\t([0-9a-f ]+)\t(.*)$/.exec(a);
    const mb = b === undefined ? null : /^\s*(\d+):\t([0-9a-f ]+)\t(.*)$/.exec(b);
    if (ma && mb && ma[1] === mb[1] && ma[2] === mb[2]) {
      const bytes = new Uint8Array(ma[2]!.split(" ").map((x) => parseInt(x, 16)));
      const [inst] = decode(bytes);
      if (inst && knownDivergence(inst, mb[3]!, dialect)) {
        result.divergences++;
        continue;
      }
    }
    result.mismatches.push(`line ${i}:\n  mine:   ${a}\n  llvm:   ${b}`);
  }
  return result;
}

/** Disassembles raw instructions through llvm (via .incbin) and compares. */
function compareRaw(insts: Instruction[], dialect: Dialect, name: string): Comparison {
  const bin = join(dir, `${name}.bin`);
  writeFileSync(bin, encode(insts));
  const src = join(dir, `${name}.s`);
  writeFileSync(src, `.text\n.globl f\nf:\n.incbin "${bin}"\n`);
  const obj = join(dir, `${name}.o`);
  sh(["clang", "-target", "bpf", "-c", src, "-o", obj]);
  const theirs = objdumpSections(obj, dialect).get(".text") ?? [];
  const mine = disassembleLines(insts, {
    dialect,
    listing: true,
    symbols: [{ name: "f", slot: 0 }],
  });
  return compareListing(mine, theirs, dialect);
}

/** Deterministic PRNG so failures reproduce. */
const rng = mulberry32;

/** Random valid variants of every form: each field mutated alone, kept when still valid. */
function randomForms(seed: number): Instruction[] {
  const rand = rng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const out: Instruction[] = [];
  for (const f of enumerateForms()) {
    for (let k = 0; k < 4; k++) {
      const v: Instruction = { ...f };
      v.dst = int(0, 10);
      const src = int(0, 10);
      if (instructionProblem({ ...v, src }) === undefined && !isLddw(v)) v.src = src;
      const off = rand() < 0.3 ? int(-3, 3) : int(-32768, 32767);
      if (instructionProblem({ ...v, off }) === undefined) v.off = off;
      if (!isLddw(v)) {
        const imm = rand() < 0.3 ? int(-9, 9) : int(-0x80000000, 0x7fffffff);
        if (instructionProblem({ ...v, imm }) === undefined) v.imm = imm;
      } else if (v.src === 0) {
        v.imm64 = BigInt.asIntN(
          64,
          (BigInt(int(0, 0xffffffff)) << 32n) | BigInt(int(0, 0xffffffff)),
        );
        v.imm = Number(BigInt.asIntN(32, v.imm64));
      }
      out.push(v);
    }
  }
  return out;
}

function expectEquivalent(c: Comparison, what: string): void {
  if (c.mismatches.length) console.log(`${what}:\n${c.mismatches.slice(0, 20).join("\n")}`);
  expect(c.mismatches).toEqual([]);
}

const dialects: [Dialect, boolean][] = [
  ["llvm14", tools14],
  ["llvm19", tools19 && tools14],
];

describe("llvm-objdump equivalence: every instruction form", () => {
  for (const [dialect, ok] of dialects) {
    test.skipIf(!ok)(`all forms (${dialect})`, () => {
      const c = compareRaw(enumerateForms(), dialect, `forms-${dialect}`);
      expectEquivalent(c, `forms ${dialect}`);
      expect(c.lines).toBeGreaterThan(enumerateForms().length);
    });
    test.skipIf(!ok)(`random valid variants (${dialect})`, () => {
      const c = compareRaw(randomForms(0x5eed), dialect, `random-${dialect}`);
      expectEquivalent(c, `random ${dialect}`);
    });
  }
});

interface Build {
  cc: string;
  flags: string[];
  dialect: Dialect;
  ok: boolean;
  programs: string[];
}

const testdata = join(import.meta.dir, "testdata");
const common = ["alu", "mem", "branch", "calls", "atomics"];
const builds: Build[] = [
  { cc: "clang", flags: [], dialect: "llvm14", ok: tools14, programs: common },
  { cc: "clang", flags: ["-mcpu=v3"], dialect: "llvm14", ok: tools14, programs: common },
  { cc: "clang-19", flags: ["-mcpu=v3"], dialect: "llvm19", ok: tools19, programs: common },
  {
    cc: "clang-19",
    flags: ["-mcpu=v4"],
    dialect: "llvm19",
    ok: tools19,
    programs: [...common, "v4"],
  },
  // llvm 14's objdump on v4 code: equal except where llvm 14 cannot decode v4
  {
    cc: "clang-19",
    flags: ["-mcpu=v4"],
    dialect: "llvm14",
    ok: tools19 && tools14,
    programs: [...common, "v4"],
  },
];

describe("llvm-objdump equivalence: compiled programs", () => {
  for (const b of builds) {
    for (const prog of b.programs) {
      const label = `${prog}.c with ${b.cc} ${b.flags.join(" ")} vs ${objdumpOf[b.dialect]}`;
      test.skipIf(!b.ok)(label, () => {
        const obj = join(dir, `${prog}-${b.cc}-${b.flags.join("")}-${b.dialect}.o`);
        sh([
          b.cc,
          "-O2",
          "-g",
          "-target",
          "bpf",
          ...b.flags,
          "-c",
          join(testdata, `${prog}.c`),
          "-o",
          obj,
        ]);
        const sections = objdumpSections(obj, b.dialect);
        expect(sections.size).toBeGreaterThan(0);
        let insts = 0;
        let divergences = 0;
        for (const [section, theirs] of sections) {
          const bytes = sectionBytes(obj, section);
          const code = decode(bytes);
          insts += code.length;
          const symbols = symbolsOf(obj, section);
          const mine = disassembleLines(code, { dialect: b.dialect, listing: true, symbols });
          const c = compareListing(mine, theirs, b.dialect);
          expectEquivalent(c, `${label} [${section}]`);
          expect(c.lines).toBeGreaterThanOrEqual(code.length);
          divergences += c.divergences;

          // and the text assembles back to the same bytes, in every form
          const opts = { dialect: b.dialect, callKinds: true, symbols } as const;
          expect(encode(assemble(disassemble(code, opts)))).toEqual(bytes);
          expect(encode(assemble(disassemble(code, { ...opts, listing: true })))).toEqual(bytes);
          expect(encode(assemble(disassemble(code, { ...opts, syntax: "ubpf" })))).toEqual(bytes);
        }
        expect(insts).toBeGreaterThan(5);
        // llvm 14 cannot decode the v4 instructions clang-19 emits
        if (prog === "v4" && b.dialect === "llvm14") expect(divergences).toBeGreaterThan(0);
        // (32-bit atomics other than add are <unknown> to llvm-objdump without +alu32)
        if ((b.dialect === "llvm19" || b.cc === "clang") && prog !== "atomics")
          expect(divergences).toBe(0);
      });
    }
  }
});
