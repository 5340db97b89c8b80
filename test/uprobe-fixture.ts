// What the uprobe and kernel tests share: a target program and eBPF objects
// built once into a directory that outlives the per-test cleanup, and the
// independent probe of whether this kernel can run eBPF uprobes.
import { afterAll } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileBpf, run } from "./helpers.ts";
import { RUN_ID, runName } from "./run-id.ts";
import { kernelUnavailable } from "../src/verifier/testdata/kernel.ts";

/** test/fixtures/GROUP/NAME (NAME with its extension). */
export const fixturePath = (group: string, name: string): string =>
  join(import.meta.dir, "fixtures", group, name);

/** The built fixture: its directory, the target program, and DIR/NAME.bpf.o by NAME. */
export interface UprobeFixture {
  dir: string;
  target: string;
  obj(name: string): string;
}

/**
 * Compiles `targetSource` (C) to DIR/target and each eBPF source to
 * DIR/NAME.bpf.o, in a new directory named after `label` (not tempDir(), which
 * is removed after each test). A fixture that does not compile throws: that is
 * a failure, never a reason to skip.
 */
export function buildUprobeFixture(
  label: string,
  targetSource: string,
  objects: Record<string, string>,
): UprobeFixture {
  const dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-${label}-`));
  const target = join(dir, "target");
  const cc = run(["cc", "-O2", "-g", "-o", target, targetSource, "-lpthread"]);
  if (cc.code !== 0) throw new Error(`cc ${targetSource}: ${cc.stderr}`);
  const obj = (name: string) => join(dir, `${name}.bpf.o`);
  for (const [name, src] of Object.entries(objects)) compileBpf(src, obj(name));
  return { dir, target, obj };
}

/**
 * buildUprobeFixture, when the file's tests run; a file that is skipped (its
 * reason already printed) builds nothing and gets empty paths.
 */
export function uprobeFixtureUnlessSkipped(
  skip: boolean,
  ...build: Parameters<typeof buildUprobeFixture>
): UprobeFixture {
  return skip ? { dir: "", target: "", obj: () => "" } : buildUprobeFixture(...build);
}

/**
 * A private bpffs root for this file's kernel pins, removed after its tests:
 * the environment (BPFTIME_BPFFS) to run the CLI with, and the root itself.
 */
export function privateBpffs(): { root: string; env: { BPFTIME_BPFFS: string } } {
  const root = `/sys/fs/bpf/bpftime-${runName(Math.random().toString(36).slice(2, 8))}`;
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  return { root, env: { BPFTIME_BPFFS: root } };
}

/**
 * Why this machine cannot run the kernel's eBPF uprobes, or undefined. Asked of
 * the kernel's own interfaces and a minimal program through the raw syscall,
 * never of `bpftime load --kernel`: a broken `load --kernel` must fail the
 * tests, not skip them.
 */
export function kernelUprobesUnavailable(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (bpf() and uprobes need CAP_BPF/CAP_PERFMON)";
  for (const tool of ["cc", "clang"]) if (!Bun.which(tool)) return `${tool} is not installed`;
  if (!/ \/sys\/fs\/bpf bpf /.test(readFileSync("/proc/mounts", "utf8")))
    return "no bpffs at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)";
  if (!existsSync("/sys/bus/event_source/devices/uprobe/type")) return "no uprobe PMU";
  const refused = kernelUnavailable();
  return refused ? `the kernel refuses BPF_PROG_LOAD: ${refused}` : undefined;
}
