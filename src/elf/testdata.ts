// Test support: compiles src/elf/testdata/*.bpf.c with clang into a temp dir
// (once per process). Tests skip with a printed reason when clang is absent.

import { test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = join(import.meta.dir, "testdata");
let outDir: string | undefined;
/** Compilers found; objects of "clang-19" are named NAME.bpf.clang-19.o. */
const compilers: string[] = [];
let reason: string | undefined;
let checked = false;

function archInclude(): string[] {
  // <linux/bpf.h> needs <asm/types.h>, which Debian keeps under the multiarch dir.
  const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
  return ["-I", `/usr/include/${arch}-linux-gnu`];
}

/** Why compiled test objects are unavailable, or undefined when they are. */
export function testObjectsUnavailable(): string | undefined {
  if (checked) return reason;
  checked = true;
  if (!Bun.which("clang")) {
    reason = "clang not found: skipping tests that compile src/elf/testdata/*.bpf.c";
    return reason;
  }
  outDir = mkdtempSync(join(tmpdir(), `bpftime-${process.env.BPFTIME_TEST_RUN ?? "x"}-elf-`));
  // "clang-19-v4": clang-19 with -mcpu=v4 (ISA v4: sign-extending moves, gotol, …).
  for (const cc of ["clang", "clang-19", "clang-19-v4"]) {
    const bin = cc.replace(/-v4$/, "");
    if (!Bun.which(bin)) continue;
    compilers.push(cc);
    const cpu = cc.endsWith("-v4") ? ["-mcpu=v4"] : [];
    for (const f of readdirSync(here).filter((n) => n.endsWith(".bpf.c"))) {
      const out = join(outDir, objectName(f.replace(/\.bpf\.c$/, ""), cc));
      const r = Bun.spawnSync(
        [
          bin,
          "-O2",
          "-g",
          "-target",
          "bpf",
          ...cpu,
          ...archInclude(),
          "-c",
          join(here, f),
          "-o",
          out,
        ],
        { stderr: "pipe" },
      );
      if (r.exitCode !== 0) {
        reason = `${cc} failed on ${f}: ${r.stderr.toString().split("\n")[0]}`;
        return reason;
      }
    }
  }
  return undefined;
}

function objectName(name: string, cc: string): string {
  return cc === "clang" ? `${name}.bpf.o` : `${name}.bpf.${cc}.o`;
}

/** Whether objects compiled by `cc` ("clang-19") exist. */
export function haveCompiler(cc: string): boolean {
  return !testObjectsUnavailable() && compilers.includes(cc);
}

/** Path of a compiled test object, e.g. objectPath("maps") → …/maps.bpf.o. */
export function objectPath(name: string, cc = "clang"): string {
  if (testObjectsUnavailable()) throw new Error(reason);
  return join(outDir!, objectName(name, cc));
}

export function objectBytes(name: string, cc = "clang"): Uint8Array {
  return new Uint8Array(readFileSync(objectPath(name, cc)));
}

/** Names (without .bpf.c) of every test source. */
export function testObjectNames(): string[] {
  return readdirSync(here)
    .filter((n) => n.endsWith(".bpf.c"))
    .map((n) => n.replace(/\.bpf\.c$/, ""));
}

/** Runs a tool and returns stdout, or undefined if it is missing or fails. */
export function tool(args: string[]): string | undefined {
  if (!Bun.which(args[0]!)) return undefined;
  const r = Bun.spawnSync(args, { stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString() : undefined;
}

/**
 * The gate a test file puts in front of tests that need the compiled objects:
 * `t` is `test`, or `test.skip` when they cannot be built (the reason is
 * printed once, naming `file`).
 */
export function objectTestGate(file: string): { skip: string | undefined; t: typeof test } {
  const skip = testObjectsUnavailable();
  if (skip) console.log(`${file}: ${skip}`);
  return { skip, t: skip ? test.skip : test };
}
