// The verifier log and messages print every instruction exactly as
// `bpftime disasm` does, and show BTF source lines as the kernel's verifier
// log does (checked against the kernel's own log where bpftool can load).

import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { assemble, decode, disassembleLines, encode, lddw } from "../asm/index.ts";
import { loadObject } from "../elf/index.ts";
import type { ProgramType } from "./contexts.ts";
import { disasmNames, verify } from "./index.ts";
import { compiledPrograms } from "./testdata/compile.ts";
import { mapsOf } from "./testdata/corpus.ts";
import { NEGATIVE, NEG_MAPS } from "./testdata/negative.ts";
import { kernelUnavailable } from "./testdata/kernel.ts";

const root = join(import.meta.dir, "..", "..");
const examplesDir = join(root, "examples", "build");
const exampleObjects = existsSync(examplesDir)
  ? readdirSync(examplesDir)
      .filter((f) => f.endsWith(".bpf.o"))
      .sort()
      .map((f) => join(examplesDir, f))
  : [];

function bpftime(args: string[]): string {
  const r = Bun.spawnSync([process.execPath, join(root, "src", "cli", "main.ts"), ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0)
    throw new Error(`bpftime ${args.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** Slot -> text from llvm-objdump-style listing lines `     12:\t<bytes>\t<text>`. */
function listingTexts(lines: readonly string[]): Map<number, string> {
  const texts = new Map<number, string>();
  for (const line of lines) {
    const m = /^\s*(\d+):\t[0-9a-f ]+\t(.*)$/.exec(line);
    if (m) texts.set(Number(m[1]), m[2]!);
  }
  return texts;
}

/** (slot, text) of every instruction line of a verifier log: `12: (bf) r1 = r2 ; R1=...`. */
function loggedInstructions(log: readonly string[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const line of log) {
    const m = /^(\d+): \([0-9a-f]{2}\) (.*?) ; /.exec(line);
    if (m) out.push([Number(m[1]), m[2]!]);
  }
  return out;
}

/** Every instruction line of `log` against the listing; returns how many were compared. */
function expectLogMatches(log: readonly string[], listing: Map<number, string>): number {
  const logged = loggedInstructions(log);
  for (const [slot, text] of logged)
    expect({ slot, text }).toEqual({ slot, text: listing.get(slot)! });
  return logged.length;
}

describe("the log prints each instruction as bpftime disasm does", () => {
  if (exampleObjects.length === 0) {
    test.skip("examples/build has no objects (run scripts/setup.sh)", () => {});
  }
  for (const obj of exampleObjects) {
    test(`${basename(obj)} (bpftime disasm --json)`, () => {
      const listings = JSON.parse(bpftime(["disasm", obj, "--json"])) as Array<{
        program: string;
        lines: string[];
      }>;
      const spec = loadObject(new Uint8Array(readFileSync(obj)), obj);
      expect(spec.programs.length).toBeGreaterThan(0);
      for (const p of spec.programs) {
        const listing = listings.find((l) => l.program === `${p.name} (${p.section})`);
        expect(listing).toBeDefined();
        const r = verify(
          { insts: p.instructions, type: p.type as ProgramType, maps: mapsOf(spec) },
          { log: true },
        );
        expect(r.ok).toBe(true);
        expect(expectLogMatches(r.log, listingTexts(listing!.lines))).toBeGreaterThan(0);
      }
    });
  }

  const { programs, skipped } = compiledPrograms();
  if (skipped) test.skip(skipped, () => {});
  for (const p of programs) {
    // The listing `bpftime disasm` prints for this program (same call as the CLI).
    test(`${p.label} (disassembleLines)`, () => {
      const listing = listingTexts(
        disassembleLines(decode(p.insts), { listing: true, names: disasmNames(p.maps) }),
      );
      const r = verify({ insts: p.insts, type: p.type, maps: p.maps }, { log: true });
      expect(r.ok).toBe(true);
      expect(expectLogMatches(r.log, listing)).toBeGreaterThan(0);
    });
  }
});

describe("a refusal names the instruction as bpftime disasm does", () => {
  // Cases src/asm can decode (a broken lddw has no disasm line to compare with).
  const decodable = NEGATIVE.map((c) => ({
    name: c.name,
    type: c.type ?? "xdp",
    bytes: c.raw ? new Uint8Array(c.raw) : encode(assemble(c.asm!)),
    budget: c.budget,
  })).filter((c) => {
    try {
      decode(c.bytes);
      return true;
    } catch {
      return false;
    }
  });
  test("the negative suite has decodable cases", () => {
    expect(decodable.length).toBeGreaterThanOrEqual(60);
  });
  for (const c of decodable) {
    test(c.name, () => {
      const r = verify(
        { insts: c.bytes, type: c.type, maps: NEG_MAPS },
        c.budget !== undefined ? { budget: c.budget } : {},
      );
      const listing = listingTexts(
        disassembleLines(decode(c.bytes), { listing: true, names: disasmNames(NEG_MAPS) }),
      );
      const text = listing.get(r.error!.index) ?? "(second half of lddw)";
      expect(r.error!.instruction).toBe(text);
      expect(r.error!.message).toStartWith(`instruction ${r.error!.index} (${text}): `);
    });
  }

  test("a lddw src/asm cannot decode is refused at its slot, shown by its first half", () => {
    const bytes = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x18, 1, 0, 0, 7, 0, 0, 0]);
    const r = verify({ insts: bytes, type: "xdp", maps: [] });
    expect(r.error!.index).toBe(1);
    expect(r.error!.instruction).toBe("r1 = 7 ll");
    expect(r.error!.reason).toStartWith("invalid bpf_ld_imm64 insn: lddw is truncated");
    const second = new Uint8Array([...encode([lddw(1, 7)]), 0x95, 0, 0, 0, 0, 0, 0, 0]);
    second[8] = 0x95; // the second half carries an opcode: the kernel refuses it too
    const r2 = verify({ insts: second, type: "xdp", maps: [] });
    expect(r2.error!.index).toBe(0);
    expect(r2.error!.reason).toContain("second slot of lddw must have opcode");
  });
});

// ------------------------------------------------------------ source lines

const line = (insn: number, lineNum: number, text: string, fileName = "/src/prog/a.bpf.c") => ({
  insn,
  fileName,
  line: text,
  lineNum,
  column: 1,
});

/** Source lines and the slots of instruction lines, in log order. */
const shape = (log: readonly string[]): Array<string | number> =>
  log.flatMap((l): Array<string | number> => {
    if (l.startsWith("; ")) return [l];
    return /^\d+: \(/.test(l) ? [Number(l.split(":")[0])] : [];
  });

describe("the log shows BTF source lines as the kernel's does", () => {
  test("before the first instruction of each line: text without indent, file base name, line", () => {
    const insts = encode([
      ...assemble("r0 = 0\nr2 = 1\nr2 += 1"),
      lddw(3, 5),
      ...assemble("r0 = r2\nexit"),
    ]);
    // records out of order; the one at slot 5 repeats line 2 after line 3 was shown
    const lineInfo = [
      line(3, 3, "\tlong c = 5;"),
      line(0, 1, "int f(struct xdp_md *ctx)"),
      line(1, 2, "    int x = 1 + 1;"),
      line(5, 2, "    int x = 1 + 1;"),
    ];
    const r = verify({ insts, type: "xdp", maps: [], lineInfo }, { log: true });
    expect(r.ok).toBe(true);
    expect(shape(r.log)).toEqual([
      "; int f(struct xdp_md *ctx) @ a.bpf.c:1",
      0,
      "; int x = 1 + 1; @ a.bpf.c:2",
      1,
      2,
      "; long c = 5; @ a.bpf.c:3",
      3,
      "; int x = 1 + 1; @ a.bpf.c:2",
      5,
      6,
    ]);
  });

  test("records of the same line (other columns) show it once; a new path does not show it again", () => {
    const insts = encode(
      assemble(`
        r1 = *(u32 *)(r1 + 16)
        r0 = 0
        if r1 > 5 goto +1
        r0 = 1
        exit`),
    );
    const lineInfo = [
      line(0, 7, "return ctx->rx_queue_index > 5;"),
      { ...line(2, 7, "x"), column: 30 },
    ];
    const r = verify({ insts, type: "xdp", maps: [], lineInfo }, { log: true });
    expect(r.ok).toBe(true);
    expect(r.log.some((l) => l.startsWith("from 2 to "))).toBe(true);
    expect(r.log.filter((l) => l.startsWith("; "))).toEqual([
      "; return ctx->rx_queue_index > 5; @ a.bpf.c:7",
    ]);
    expect(r.log[0]).toStartWith("; ");
  });

  test("without line info, or without --log, nothing changes", () => {
    const insts = encode(assemble("r0 = 0\nexit"));
    const r = verify({ insts, type: "xdp", maps: [] }, { log: true });
    expect(r.log.some((l) => l.startsWith("; "))).toBe(false);
    const quiet = verify({ insts, type: "xdp", maps: [], lineInfo: [line(0, 1, "x")] });
    expect(quiet.log).toEqual([]);
  });

  const xdpSwap = join(examplesDir, "xdp_swap.bpf.o");
  test.skipIf(!existsSync(xdpSwap))(
    "bpftime verify --log shows the source line of the object",
    () => {
      const source = readFileSync(join(root, "examples", "xdp_swap.bpf.c"), "utf8").split("\n");
      const n = source.findIndex((l) => l.startsWith("int xdp_swap(")) + 1;
      expect(n).toBeGreaterThan(0);
      const out = bpftime(["verify", xdpSwap, "--log"]).split("\n");
      const first = out.findIndex((l) => l.startsWith("0: ("));
      expect(out[first - 1]).toBe(`; ${source[n - 1]!.trim()} @ xdp_swap.bpf.c:${n}`);
    },
  );
});

// ------------------------------------------------------------ kernel differential

function bpftoolUnavailable(): string | undefined {
  if (!Bun.which("bpftool")) return "bpftool is not installed";
  if (!existsSync("/sys/fs/bpf")) return "no /sys/fs/bpf";
  return kernelUnavailable();
}

/**
 * Objects whose every program has a kernel program type: examples/build and the
 * positive suite's own sources from one compiler (each source once: the
 * kernel's log of a loop like checksum's takes seconds).
 */
function kernelObjects(): string[] {
  const corpus = compiledPrograms().programs;
  const firstCompiler = corpus[0]?.compiler;
  const own = corpus.filter(
    (p) => p.compiler === firstCompiler && !p.file.startsWith(join(root, "examples")),
  );
  const paths = [...exampleObjects, ...new Set(own.map((p) => p.objectPath))];
  return paths.filter((obj) => {
    const spec = loadObject(new Uint8Array(readFileSync(obj)), obj);
    return spec.programs.length > 0 && spec.programs.every((p) => p.kernelType !== undefined);
  });
}

describe("the source lines are the kernel's (bpftool prog loadall -d)", () => {
  const why = bpftoolUnavailable();
  if (why) {
    test.skip(`kernel differential skipped: ${why}`, () => {});
    return;
  }
  const run = process.env.BPFTIME_TEST_RUN ?? "x";
  for (const obj of kernelObjects()) {
    test(
      basename(obj),
      () => {
        const pin = `/sys/fs/bpf/bpftime-${run}-vlog-${basename(obj).replace(/\W/g, "_")}`;
        mkdirSync(pin, { recursive: true });
        let kernelLog: string;
        try {
          const r = Bun.spawnSync(["bpftool", "-d", "prog", "loadall", obj, pin], {
            stdout: "pipe",
            stderr: "pipe",
          });
          kernelLog = r.stdout.toString() + r.stderr.toString();
          if (r.exitCode !== 0)
            throw new Error(
              `the kernel refuses ${obj}:\n${kernelLog.split("\n").slice(-8).join("\n")}`,
            );
        } finally {
          rmSync(pin, { recursive: true, force: true });
        }
        const spec = loadObject(new Uint8Array(readFileSync(obj)), obj);
        const ours = spec.programs.flatMap(
          (p) =>
            verify(
              {
                insts: p.instructions,
                type: p.type as ProgramType,
                maps: mapsOf(spec),
                lineInfo: p.lineInfo,
              },
              { log: true },
            ).log,
        );
        // Paths are explored in another order, so compare which lines are shown.
        const shown = (log: string[]) => [...new Set(log.filter((l) => l.startsWith("; ")))].sort();
        const kernel = shown(kernelLog.split("\n"));
        expect(kernel.length).toBeGreaterThan(0);
        expect(shown(ours)).toEqual(kernel);
      },
      60_000,
    );
  }
});
