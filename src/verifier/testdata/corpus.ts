// The programs the verifier benchmark (bench/verifier/run.ts) and the
// differential test (../differential.test.ts) run: the compiled positive
// suite, examples/build/*.bpf.o, the loop-heavy programs of
// test/fixtures/verifier-strength, the negative suite and synthetic programs
// that exercise the instruction budget, pruning and state copies.

import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assemble, encode } from "../../asm/index.ts";
import { loadObject } from "../../elf/index.ts";
import type { ProgramType } from "../contexts.ts";
import { mapInfosOf, type MapInfo, type VerifyOptions } from "../verifier.ts";
import { compiledPrograms } from "./compile.ts";
import { NEGATIVE, NEG_MAPS } from "./negative.ts";

export interface CorpusProgram {
  group: "pos" | "example" | "strength" | "vm" | "negative" | "synthetic";
  label: string;
  insts: Uint8Array;
  type: ProgramType;
  maps: MapInfo[];
  opts: VerifyOptions;
  /**
   * The same code as a program type the kernel has, for types it has not
   * (nginx_url_filter): the object's program NAME_xdp (see strengthPrograms).
   */
  kernelTwin?: { insts: Uint8Array; type: ProgramType; maps: MapInfo[] };
}

const root = join(import.meta.dir, "..", "..", "..");
const asm = (text: string): Uint8Array => encode(assemble(text));

/** The verifier's view of an object's maps. */
export function mapsOf(spec: ReturnType<typeof loadObject>): MapInfo[] {
  return mapInfosOf(spec.maps);
}

/** examples/build/*.bpf.o (build with `make -C examples`). */
export function examplePrograms(): CorpusProgram[] {
  const dir = join(root, "examples", "build");
  if (!existsSync(dir)) return [];
  const out: CorpusProgram[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".bpf.o")) continue;
    const path = join(dir, f);
    const spec = loadObject(new Uint8Array(readFileSync(path)), path);
    const maps = mapsOf(spec);
    for (const p of spec.programs)
      out.push({
        group: "example",
        label: `${f}:${p.name}`,
        insts: p.instructions,
        type: p.type as ProgramType,
        maps,
        opts: {},
      });
  }
  return out;
}

/**
 * test/fixtures/verifier-strength/*.bpf.c, compiled as examples/Makefile
 * does: loop-heavy programs the bench compares with the kernel. An nginx
 * URL-filter program `NAME` is compared through `NAME_xdp` in the same
 * object, the same code over XDP's data/data_end pair (the kernel has no
 * nginx program type). Empty without clang.
 */
export function strengthPrograms(): CorpusProgram[] {
  return compileDir("strength", join(root, "test", "fixtures", "verifier-strength"), []);
}

/**
 * bench/vm/progs/*.bpf.c as the VM bench's kernel variant (-DBENCH_KERNEL:
 * the same loop body as an XDP program over 2 KiB of packet): long loops,
 * some of which the kernel refuses ("The sequence of 8193 jumps is too
 * complex"). Bench only: each takes seconds.
 */
export function vmPrograms(): CorpusProgram[] {
  const dir = join(root, "bench", "vm", "progs");
  return compileDir("vm", dir, ["-DBENCH_KERNEL", "-I", dir]);
}

/** Every *.bpf.c of `dir`, compiled as examples/Makefile does (empty without clang). */
function compileDir(group: CorpusProgram["group"], dir: string, flags: string[]): CorpusProgram[] {
  if (!existsSync(dir) || !Bun.which("clang")) return [];
  const out: CorpusProgram[] = [];
  const tmp = mkdtempSync(
    join(tmpdir(), `bpftime-${process.env.BPFTIME_TEST_RUN ?? "x"}-v${group}-`),
  );
  try {
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith(".bpf.c")) continue;
      const obj = join(tmp, f.replace(/\.c$/, ".o"));
      const arch = `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`;
      const r = Bun.spawnSync(
        [
          "clang",
          "-O2",
          "-g",
          "-target",
          "bpf",
          "-D__TARGET_ARCH_x86",
          ...flags,
          "-I",
          join(root, "native", "include"),
          "-I",
          arch,
          "-Wall",
          "-Werror",
          "-c",
          join(dir, f),
          "-o",
          obj,
        ],
        { stderr: "pipe" },
      );
      if (r.exitCode !== 0) throw new Error(`clang ${f}:\n${r.stderr.toString()}`);
      const spec = loadObject(new Uint8Array(readFileSync(obj)), obj);
      const maps = mapsOf(spec);
      const byName = new Map(spec.programs.map((p) => [p.name, p]));
      for (const p of spec.programs) {
        const twin = byName.get(`${p.name}_xdp`);
        out.push({
          group,
          label: `${f}:${p.name}`,
          insts: p.instructions,
          type: p.type as ProgramType,
          maps,
          opts: {},
          ...(twin ? { kernelTwin: { insts: twin.instructions, type: "xdp", maps } } : {}),
        });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

export function positivePrograms(): CorpusProgram[] {
  return compiledPrograms().programs.map((p) => ({
    group: "pos",
    label: p.label,
    insts: p.insts,
    type: p.type,
    maps: p.maps,
    opts: {},
  }));
}

export function negativePrograms(): CorpusProgram[] {
  return NEGATIVE.map((c) => ({
    group: "negative",
    label: c.name,
    insts: c.raw ? new Uint8Array(c.raw) : asm(c.asm!),
    type: c.type ?? "xdp",
    maps: NEG_MAPS,
    opts: c.budget !== undefined ? { budget: c.budget } : {},
  }));
}

const SYN_MAPS: MapInfo[] = [
  { name: "arr", type: "array", keySize: 4, valueSize: 64, maxEntries: 4 },
  { name: "hash", type: "hash", keySize: 8, valueSize: 16, maxEntries: 16 },
];

/**
 * Synthetic programs that run into (or close to) the instruction budget:
 * the slow cases the kernel's 1M budget allows.
 */
export function syntheticPrograms(budget = 1_000_000): CorpusProgram[] {
  const P = (label: string, text: string, maps: MapInfo[] = []): CorpusProgram => ({
    group: "synthetic",
    label,
    insts: asm(text),
    type: "xdp",
    maps,
    opts: { budget },
  });
  // 36 independent diamonds inside the loop body: forks every iteration
  let diamonds = "";
  for (let i = 0; i < 12; i++)
    diamonds += `r2 = *(u32 *)(r6 + 12)\nif r2 & ${1 << i} goto +2\nr8 += 1\ngoto +1\nr8 += 2\n`;
  return [
    P(
      "syn:counting loop (budget)",
      `r0 = 0
       r1 = 0
       loop:
       r1 += 1
       if r1 < 0x7fffffff goto loop
       exit`,
    ),
    P(
      "syn:stack loop (budget)",
      `r6 = r1
       r7 = 0
       *(u64 *)(r10 - 8) = 0
       *(u64 *)(r10 - 16) = r1
       loop:
       r2 = *(u32 *)(r6 + 12)
       if r2 > 100 goto +3
       *(u64 *)(r10 - 24) = r7
       *(u32 *)(r10 - 32) = r2
       goto +2
       *(u64 *)(r10 - 40) = r2
       *(u8 *)(r10 - 41) = 7
       r3 = *(u64 *)(r10 - 8)
       r3 += r7
       r1 = *(u64 *)(r10 - 16)
       r7 += 1
       if r7 < 0x7fffffff goto loop
       r0 = 0
       exit`,
    ),
    P(
      "syn:map value loop (budget)",
      `r6 = r1
       r7 = 0
       loop:
       *(u32 *)(r10 - 4) = 0
       r2 = r10
       r2 += -4
       ld_pseudo r1, 5, 0
       call 1
       if r0 == 0 goto skip
       r3 = *(u32 *)(r6 + 12)
       r3 &= 31
       r0 += r3
       r4 = *(u32 *)(r0 + 0)
       r4 <<= 3
       w4 >>= 1
       r4 *= 3
       *(u32 *)(r0 + 4) = r4
       skip:
       r7 += 1
       if r7 < 0x7fffffff goto loop
       r0 = 0
       exit`,
      SYN_MAPS,
    ),
    P(
      "syn:diamonds in a loop (budget)",
      `r6 = r1
       r7 = 0
       r8 = 0
       loop:
       ${diamonds}
       r7 += 1
       if r7 < 0x7fffffff goto loop
       r0 = r8
       exit`,
    ),
    P(
      "syn:subprogram loop (budget)",
      `r6 = r1
       r7 = 0
       loop:
       r1 = r7
       r2 = *(u32 *)(r6 + 12)
       call local sub
       r7 += 1
       if r7 < 0x7fffffff goto loop
       r0 = 0
       exit
       sub:
       *(u64 *)(r10 - 8) = r1
       r0 = r2
       r0 &= 0xff
       if r0 > r1 goto +1
       r0 = *(u64 *)(r10 - 8)
       exit`,
    ),
  ];
}

export function corpus(budget?: number): CorpusProgram[] {
  return [
    ...positivePrograms(),
    ...examplePrograms(),
    ...strengthPrograms(),
    ...vmPrograms(),
    ...negativePrograms(),
    ...syntheticPrograms(budget),
  ];
}
