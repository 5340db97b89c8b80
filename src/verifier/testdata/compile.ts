// Test support: compiles the verifier's positive suite (pos/*.bpf.c) and the
// project's examples/*.bpf.c with every clang found, once per process, and
// loads them with src/elf. Tests skip with a printed reason without clang.
// Objects are kept in .bpftime-cache/verifier-objects under a hash of what
// goes into them (source, local and project headers, compiler and flags):
// the ~40 compiles cost more than the tests themselves, and mutation runs
// (npm run mutate) repeat the tests once per mutant.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
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

/** Headers every source may include: the source's directory and native/include (recursive). */
function headersDigest(dir: string): string {
  const h = createHash("sha256");
  const walk = (d: string): void => {
    const entries = readdirSync(d, { withFileTypes: true });
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".h")) h.update(p).update(readFileSync(p));
    }
  };
  walk(dir);
  walk(join(root, "native", "include"));
  // system headers (libbpf, uapi): their install time stands for their contents
  for (const f of ["bpf/bpf_helpers.h", "linux/bpf.h"])
    h.update(f).update(
      String(statSync(join("/usr/include", f), { throwIfNoEntry: false })?.mtimeMs),
    );
  return h.digest("hex");
}

/** Where the object of `src` compiled by `cc flags` is kept (same inputs, same path). */
function cachedObject(src: string, base: string, cc: string, flags: string[]): string {
  const compiler = Bun.which(cc)!;
  const key = createHash("sha256")
    .update(JSON.stringify([cc, flags, compiler, statSync(compiler).mtimeMs, archInclude()]))
    .update(readFileSync(src))
    .update(headersDigest(dirname(src)))
    .digest("hex")
    .slice(0, 20);
  return join(
    root,
    ".bpftime-cache",
    "verifier-objects",
    `${base}.${cc}${flags.join("")}.${key}.o`,
  );
}

/** Compiles into a private name, then renames: a parallel run never reads half an object. */
function compile(src: string, obj: string, cc: string, flags: string[]): void {
  const tmp = `${obj}.${process.pid}.tmp`;
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
      tmp,
    ],
    { stderr: "pipe" },
  );
  if (r.exitCode !== 0)
    throw new Error(`${[cc, ...flags].join(" ")} failed on ${src}:\n${r.stderr.toString()}`);
  renameSync(tmp, obj);
}

export function compiledPrograms(): { programs: CompiledProgram[]; skipped?: string } {
  if (cache) return cache;
  const variants = VARIANTS.filter(([cc]) => Bun.which(cc));
  if (!variants.length) {
    cache = { programs: [], skipped: "clang not found: skipping the compiled positive suite" };
    return cache;
  }
  mkdirSync(join(root, ".bpftime-cache", "verifier-objects"), { recursive: true });
  const programs: CompiledProgram[] = [];
  for (const src of sources()) {
    for (const [cc, flags] of variants) {
      const tag = [cc, ...flags].join(" ");
      const base = src
        .split("/")
        .pop()!
        .replace(/\.bpf\.c$/, "");
      const obj = cachedObject(src, base, cc, flags);
      if (!existsSync(obj)) compile(src, obj, cc, flags);
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
