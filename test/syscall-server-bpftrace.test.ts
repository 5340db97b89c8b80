// bpftrace (Debian's, unchanged) under `bpftime load --`: its uprobe and
// uretprobe one-liners print the kernel's counts. The kernel runs the same
// probe (plus a BEGIN that says it attached) as the oracle.
//
// Not served: BEGIN/END probes. bpftrace fires them as uprobes on its own
// binary, and the syscall server does not hook the application it serves
// (only processes with the agent are hooked), so they never run here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelUnavailable } from "../src/verifier/testdata/kernel.ts";
import { cli, cliEntry, run, skipReason, startProcess, waitUntil } from "./helpers.ts";
import { RUN_ID, runName } from "./run-id.ts";

const T = 90_000;
const missing = !Bun.which("bpftrace")
  ? "bpftrace is not installed"
  : !Bun.which("cc")
    ? "cc is not installed"
    : undefined;
const skip = skipReason(missing, "bpftrace under bpftime load");
const noKernel = skip ? undefined : kernelUnavailable();

let dir = "";
let target = "";
beforeAll(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-bpftrace-`));
  target = join(dir, "target");
  const r = run([
    "cc",
    "-O1",
    "-g",
    "-o",
    target,
    join(import.meta.dir, "fixtures", "libbpf-apps", "target.c"),
  ]);
  if (r.code !== 0) throw new Error(`cc target.c: ${r.stderr}`);
});
const regions: string[] = [];
afterAll(() => {
  for (const r of regions) cli(["shm", "remove", "--shm", r]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The lines bpftrace prints for its maps at exit ("@[target]: 10"). */
const mapLines = (out: string) =>
  out
    .split("\n")
    .filter((l) => l.startsWith("@"))
    .join("\n");

function links(region: string): number {
  const r = cli(["list", "--shm", region, "--json"]);
  return r.code === 0 ? (JSON.parse(r.stdout) as { links: unknown[] }).links.length : 0;
}

async function underBpftime(script: string): Promise<string> {
  const region = runName(`bpftrace-${regions.length + 1}`);
  regions.push(region);
  const p = startProcess([
    process.execPath,
    cliEntry,
    "load",
    "--shm",
    region,
    "--",
    "bpftrace",
    "-e",
    script,
  ]);
  await waitUntil("bpftrace's uprobe link in the region", () => links(region) > 0, 60_000);
  const t = run([process.execPath, cliEntry, "start", "--quiet", "--shm", region, target, "10"]);
  expect(t.stdout).toContain("done 130");
  p.proc.kill("SIGINT");
  expect(await p.exited).toBe(0);
  return p.output();
}

async function onKernel(script: string): Promise<string> {
  const p = startProcess(["bpftrace", "-e", `BEGIN { printf("ready\\n"); } ${script}`]);
  await p.waitFor("ready", 60_000);
  // `timeout`: a target stuck in a kernel uprobe fails the test instead of hanging it.
  expect(run(["timeout", "20", target, "10"]).stdout).toContain("done 130");
  p.proc.kill("SIGINT");
  expect(await p.exited).toBe(0);
  return p.output();
}

const PROBES: Array<{ what: string; script: (bin: string) => string; expected: string }> = [
  {
    what: "a uprobe one-liner counts calls per process name",
    script: (bin) => `uprobe:${bin}:bpftime_work { @[comm] = count(); }`,
    expected: "@[target]: 10",
  },
  {
    // bpftime_work(i % 4) returns 10 * (i % 4): 0+10+20+30+0+10+20+30+0+10.
    what: "a uretprobe one-liner sums return values",
    script: (bin) => `uretprobe:${bin}:bpftime_work { @calls = count(); @sum = sum(retval); }`,
    expected: "@calls: 10\n@sum: 130",
  },
];

describe.skipIf(skip)("bpftrace under bpftime load", () => {
  for (const p of PROBES) {
    test(
      p.what,
      async () => {
        expect(mapLines(await underBpftime(p.script(target)))).toBe(p.expected);
      },
      T,
    );
    test.skipIf(skipReason(noKernel, "bpftrace on the kernel"))(
      `${p.what} (the kernel, as the oracle)`,
      async () => {
        expect(mapLines(await onKernel(p.script(target)))).toBe(p.expected);
      },
      T,
    );
  }
});
