// Test support: compiles src/elf/testdata/*.bpf.c with clang into a temp dir
// (once per process). Tests skip with a printed reason when clang is absent.

import { test } from "bun:test";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
} from "node:fs";
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
      const args = ["-O2", "-g", "-target", "bpf", ...cpu, ...archInclude(), "-c", join(here, f)];
      const err = compileCached(bin, args, out);
      if (err) {
        reason = `${cc} failed on ${f}: ${err}`;
        return reason;
      }
    }
  }
  return undefined;
}

/**
 * Compiled objects are kept by the hash of the compiler (its path, size and
 * mtime), the arguments and the source: a mutation run starts `bun test`
 * once per mutant, and compiling every source with three compilers each time
 * took ~10 s of each run on a loaded machine. System headers are not in the
 * key (they change with the compiler package, whose binary is).
 */
const cacheDir = join(tmpdir(), `objcache-bpftime-elf-testdata-${process.getuid?.() ?? 0}`);

/** Compiles `args` to `out` with `bin`, or copies the cached result; the error's first line on failure. */
function compileCached(bin: string, args: string[], out: string): string | undefined {
  const path = Bun.which(bin)!;
  const st = statSync(realpathSync(path));
  const key = createHash("sha256")
    .update(JSON.stringify([path, st.size, st.mtimeMs, args]))
    .update(readFileSync(args[args.length - 1]!))
    .digest("hex");
  const cached = join(cacheDir, `${key}.o`);
  if (existsSync(cached)) {
    copyFileSync(cached, out);
    return undefined;
  }
  const r = Bun.spawnSync([bin, ...args, "-o", out], { stderr: "pipe" });
  if (r.exitCode !== 0) return r.stderr.toString().split("\n")[0];
  // written whole under a private name, then renamed: a reader never sees half an object
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${cached}.${process.pid}`;
  copyFileSync(out, tmp);
  renameSync(tmp, cached);
  return undefined;
}

/**
 * Compiles one source outside the shared set (e.g. testdata/core-resize/*.c,
 * which tests compile for one purpose) with `cc` into `out`, through the cache;
 * throws with the compiler's first error line.
 */
export function compileSource(src: string, out: string, cc = "clang"): void {
  const args = ["-O2", "-g", "-target", "bpf", ...archInclude(), "-c", src];
  const err = compileCached(cc, args, out);
  if (err) throw new Error(`${cc} ${src}: ${err}`);
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
