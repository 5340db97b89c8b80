// bpftrace (Debian's, unchanged) under `bpftime load --`: uprobe and
// uretprobe scripts with BEGIN and END print what they print on the kernel
// (the same script run on the kernel is the oracle). BEGIN says when the
// probes are attached (bpftrace runs it after attaching, through
// BPF_PROG_TEST_RUN); END runs at Ctrl-C before the maps are printed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelUnavailable } from "../src/verifier/testdata/kernel.ts";
import {
  cli,
  cliEntry,
  loadAppArgv,
  run,
  skipReason,
  startProcess,
  type Started,
  compileNative,
} from "./helpers.ts";
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
  compileNative([
    "cc",
    "-O1",
    "-g",
    "-o",
    target,
    join(import.meta.dir, "fixtures", "libbpf-apps", "target.c"),
  ]);
});
const regions: string[] = [];
afterAll(() => {
  for (const r of regions) cli(["shm", "remove", "--shm", r]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the script printed: its printf lines and maps, without bpftrace's own notes. */
const printed = (out: string) =>
  out
    .split("\n")
    .filter((l) => l && !l.startsWith("Attaching") && !l.startsWith("ERROR:"))
    .join("\n");

const withBeginEnd = (probe: string) =>
  `BEGIN { printf("ready\\n"); } ${probe} END { printf("bye\\n"); }`;

/**
 * Ctrl-C: END runs and the maps are printed (up to `last`); then bpftrace
 * exits (bpftime load's status is bpftrace's).
 */
async function interrupt(p: Started, last: string): Promise<string> {
  p.proc.kill("SIGINT");
  await p.waitFor(last, 30_000);
  expect(await p.exited).toBe(0);
  return p.output();
}

async function underBpftime(script: string, last: string): Promise<string> {
  const region = runName(`bpftrace-${regions.length + 1}`);
  regions.push(region);
  const p = startProcess(loadAppArgv(region, "bpftrace", "-e", withBeginEnd(script)));
  await p.waitFor("ready", 60_000); // BEGIN: every probe is attached
  const t = run([process.execPath, cliEntry, "start", "--quiet", "--shm", region, target, "10"]);
  expect(t.stdout).toContain("done 130");
  return await interrupt(p, last);
}

/**
 * The oracle: the same script on the kernel, with the target run by bpftrace
 * itself (-c: bpftrace exits when it does, printing END and the maps). A
 * Ctrl-C as above would do too, but Debian's bpftrace on this kernel now and
 * then ignores it.
 */
function onKernel(script: string): string {
  const r = run(["timeout", "60", "bpftrace", "-e", withBeginEnd(script), "-c", `${target} 10`]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("done 130");
  return r.stdout.replace("done 130\n", "");
}

const PROBES: Array<{ what: string; script: (bin: string) => string; expected: string }> = [
  {
    what: "a uprobe one-liner counts calls per process name",
    script: (bin) => `uprobe:${bin}:bpftime_work { @[comm] = count(); }`,
    expected: "ready\nbye\n@[target]: 10",
  },
  {
    // bpftime_work(i % 4) returns 10 * (i % 4): 0+10+20+30+0+10+20+30+0+10.
    what: "a uretprobe one-liner sums return values",
    script: (bin) => `uretprobe:${bin}:bpftime_work { @calls = count(); @sum = sum(retval); }`,
    expected: "ready\nbye\n@calls: 10\n@sum: 130",
  },
];

describe.skipIf(skip)("bpftrace under bpftime load", () => {
  for (const p of PROBES) {
    test(
      p.what,
      async () => {
        expect(printed(await underBpftime(p.script(target), p.expected.split("\n").pop()!))).toBe(
          p.expected,
        );
      },
      T,
    );
    test.skipIf(skipReason(noKernel, "bpftrace on the kernel"))(
      `${p.what} (the kernel, as the oracle)`,
      async () => {
        expect(printed(onKernel(p.script(target)))).toBe(p.expected);
      },
      T,
    );
  }
});
