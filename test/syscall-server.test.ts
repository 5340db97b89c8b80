// Unmodified libbpf applications under `bpftime load -- APP` (the syscall
// server, native/syscall-server/): each application of
// test/fixtures/libbpf-apps/ (skeletons from `bpftool gen skeleton`, linked
// against Debian's libbpf) runs once on the kernel and once in userspace with
// the traced program under `bpftime start`; the outputs must agree. The
// kernel is the oracle: its half is skipped (with the reason) only when this
// machine cannot load eBPF into the kernel.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelUnavailable } from "../src/verifier/testdata/kernel.ts";
import { cli, cliEntry, run, skipReason, startProcess } from "./helpers.ts";
import { RUN_ID, runName } from "./run-id.ts";

const fixtures = join(import.meta.dir, "fixtures", "libbpf-apps");
const T = 60_000;

function toolsMissing(): string | undefined {
  for (const tool of ["cc", "clang", "bpftool"])
    if (!Bun.which(tool)) return `${tool} is not installed`;
  if (!existsSync("/usr/include/bpf/libbpf.h")) return "libbpf-dev is not installed";
  return undefined;
}
const skip = skipReason(toolsMissing(), "libbpf application tests");
const noKernel = skip ? undefined : kernelUnavailable();

let dir = "";
const app = (name: string) => join(dir, name);
beforeAll(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-libbpf-apps-`));
  const r = run(["sh", join(fixtures, "build.sh"), dir]);
  if (r.code !== 0) throw new Error(`build.sh: ${r.stdout}${r.stderr}`);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const regions: string[] = [];
afterAll(() => {
  for (const r of regions) cli(["shm", "remove", "--shm", r]);
});
function newRegion(): string {
  const r = runName(`sysapp-${regions.length + 1}`);
  regions.push(r);
  return r;
}

/** Runs the target program (plain, or under `bpftime start` on a region). */
function runTarget(calls: number, region?: string): void {
  const cmd = region
    ? [process.execPath, cliEntry, "start", "--quiet", "--shm", region, app("target"), `${calls}`]
    : [app("target"), `${calls}`];
  const r = run(cmd);
  if (r.code !== 0 || !r.stdout.includes("done"))
    throw new Error(`target: exit ${r.code}: ${r.stdout}${r.stderr}`);
}

/**
 * Starts the application (on the kernel, or under `bpftime load` on a new
 * region), waits for its "ready", runs the target, stops it with SIGINT and
 * returns its exit code and output.
 */
async function session(
  argv: string[],
  calls: number,
  where: "kernel" | "bpftime",
): Promise<{ code: number | string; out: string; region: string }> {
  const region = where === "bpftime" ? newRegion() : "";
  const cmd =
    where === "bpftime"
      ? [process.execPath, cliEntry, "load", "--shm", region, "--", ...argv]
      : argv;
  const p = startProcess(cmd);
  await p.waitFor("ready", 30_000);
  runTarget(calls, where === "bpftime" ? region : undefined);
  p.proc.kill("SIGINT");
  const code = await p.exited;
  return { code, out: p.output(), region };
}

/** What both runs must agree on: stdout lines minus libbpf's and bpftime's notes. */
function normalise(out: string): string {
  return out
    .split("\n")
    .filter((l) => l && !l.startsWith("libbpf:") && !l.startsWith("bpftime:"))
    .join("\n");
}

/** What the region still holds (programs, maps, links, targets). */
function leftIn(region: string): unknown[][] {
  const r = run([process.execPath, cliEntry, "list", "--shm", region, "--json"]);
  const l = JSON.parse(r.stdout) as Record<string, unknown[]>;
  return [l.programs!, l.maps!, l.links!, l.targets!];
}

// bpftime_work(i % 4) for i < 10: arguments 0 and 1 three times, 2 and 3 twice.
const COUNTER_OUTPUT = [
  "ready",
  "bpftime_work(0): 3 calls",
  "bpftime_work(1): 3 calls",
  "bpftime_work(2): 2 calls",
  "bpftime_work(3): 2 calls",
].join("\n");

describe.skipIf(skip)("libbpf applications under bpftime load", () => {
  test(
    "a uprobe counter read by map iteration counts every call; its objects go at exit",
    async () => {
      const ours = await session([app("uprobe_counter"), app("target")], 10, "bpftime");
      expect(ours.code).toBe(0);
      expect(normalise(ours.out)).toBe(COUNTER_OUTPUT);
      expect(leftIn(ours.region)).toEqual([[], [], [], []]);
    },
    T,
  );

  test.skipIf(skipReason(noKernel, "kernel half of the libbpf application tests"))(
    "the kernel prints the same counts (the oracle)",
    async () => {
      const kernel = await session([app("uprobe_counter"), app("target")], 10, "kernel");
      expect(kernel.code).toBe(0);
      expect(normalise(kernel.out)).toBe(COUNTER_OUTPUT);
    },
    T,
  );
});
