// Test support: compiles the verifier's positive suite (pos/*.bpf.c) and the
// project's examples/*.bpf.c with every clang found, once per process, and
// loads them with src/elf. Tests skip with a printed reason without clang.

import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadObject } from "../../elf/index.ts";
import { mapInfosOf, type MapInfo } from "../verifier.ts";
import type { ProgramType } from "../contexts.ts";

const here = import.meta.dir;
const root = join(here, "..", "..", "..");

export interface CompiledProgram {
  /** "file.bpf.c:function (compiler)" */
  label: string;
  file: string;
  compiler: string;
  name: string;
  section: string;
  type: ProgramType;
  kernelType?: number;
  insts: Uint8Array;
  maps: MapInfo[];
  objectPath: string;
}

/** Compilers and flags: clang 14 emits ISA v1; clang-19 with -mcpu=v3 (alu32, jmp32) and v4. */
const VARIANTS: [string, string[]][] = [
  ["clang", []],
  ["clang-19", ["-mcpu=v3"]],
  ["clang-19", ["-mcpu=v4"]],
];

let cache: { programs: CompiledProgram[]; skipped?: string } | undefined;

function archInclude(): string {
  return `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`;
}

export function sources(): string[] {
  const pos = readdirSync(join(here, "pos"))
    .filter((f) => f.endsWith(".bpf.c"))
    .map((f) => join(here, "pos", f));
  const ex = join(root, "examples");
  let examples: string[] = [];
  try {
    examples = readdirSync(ex)
      .filter((f) => f.endsWith(".bpf.c"))
      .map((f) => join(ex, f));
  } catch {
    examples = [];
  }
  return [...pos, ...examples];
}

export function compiledPrograms(): { programs: CompiledProgram[]; skipped?: string } {
  if (cache) return cache;
  const variants = VARIANTS.filter(([cc]) => Bun.which(cc));
  if (!variants.length) {
    cache = { programs: [], skipped: "clang not found: skipping the compiled positive suite" };
    return cache;
  }
  const out = mkdtempSync(
    join(tmpdir(), `bpftime-${process.env.BPFTIME_TEST_RUN ?? "x"}-verifier-`),
  );
  const programs: CompiledProgram[] = [];
  for (const src of sources()) {
    for (const [cc, flags] of variants) {
      const tag = [cc, ...flags].join(" ");
      const base = src
        .split("/")
        .pop()!
        .replace(/\.bpf\.c$/, "");
      const obj = join(out, `${base}.${cc}${flags.join("")}.o`);
      const r = Bun.spawnSync(
        [
          cc,
          "-O2",
          "-g",
          "-target",
          "bpf",
          ...flags,
          "-D__TARGET_ARCH_x86",
          "-I",
          archInclude(),
          "-I",
          join(root, "native", "include"),
          "-c",
          src,
          "-o",
          obj,
        ],
        { stderr: "pipe" },
      );
      if (r.exitCode !== 0) throw new Error(`${tag} failed on ${src}:\n${r.stderr.toString()}`);
      const spec = loadObject(new Uint8Array(readFileSync(obj)), obj);
      const maps: MapInfo[] = mapInfosOf(spec.maps);
      for (const p of spec.programs) {
        const prog: CompiledProgram = {
          label: `${base}.bpf.c:${p.name} (${tag})`,
          file: src,
          compiler: tag,
          name: p.name,
          section: p.section,
          type: p.type as ProgramType,
          insts: p.instructions,
          maps,
          objectPath: obj,
        };
        if (p.kernelType !== undefined) prog.kernelType = p.kernelType;
        programs.push(prog);
      }
    }
  }
  cache = { programs };
  return cache;
}
