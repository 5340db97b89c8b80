// The kernel event provider next to bpftime's own hooks (issue 13):
//   - an object with .rodata/.bss/.data and bpf_printk strings loads with
//     `load --kernel` (libbpf's "<obj>.rodata" maps are pinned without the dot);
//   - a kernel uprobe and a bpftime patch on the same function are refused in
//     both orders, each with one clear line, and the hooked process survives.
// Pins go under a private root ($BPFTIME_BPFFS) removed at the end. Skipped,
// with the reason printed, where the kernel refuses (not root, no bpffs, no
// uprobe PMU, BPF_PROG_LOAD refused).
import { afterEach, describe, expect, test } from "bun:test";
import { cli, cliEntry, regionNames, skipReason, startProcess, type Started } from "./helpers.ts";
import {
  fixturePath,
  kernelUprobesUnavailable,
  privateBpffs,
  uprobeFixtureUnlessSkipped,
} from "./uprobe-fixture.ts";

const T = 60_000;
const { env } = privateBpffs();
const skip = skipReason(kernelUprobesUnavailable(), "kernel lifecycle tests");
const { target, obj } = uprobeFixtureUnlessSkipped(
  skip,
  "klife",
  fixturePath("uprobe", "target.c"),
  { count: fixturePath("uprobe", "count.bpf.c"), globals: fixturePath("kernel", "globals.bpf.c") },
);

afterEach(() => {
  for (const o of ["globals", "kc"]) cli(["shm", "remove", "--kernel", o], { env });
});

const newRegion = regionNames("klife");

function ok(args: string[], shm?: string): string {
  const r = cli(shm ? [...args, "--shm", shm] : args, { env });
  if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(skip)("kernel provider", () => {
  test("an object with .rodata, .bss, .data and bpf_printk loads; its maps dump by either name", () => {
    ok(["load", "--kernel", obj("globals")]);
    const maps = ok(["list", "--kernel", "--json"]);
    for (const m of ["globals_rodata", "globals_bss", "globals_data"]) expect(maps).toContain(m);
    expect(ok(["map", "dump", "--kernel", "globals.rodata"])).toContain('"step":3');
    expect(ok(["map", "dump", "--kernel", "globals_bss"])).toContain('"total":0');
  });

  /**
   * A new region with count_add attached to target:add, and the same object
   * loaded into the kernel as "kc".
   */
  function countUnderBoth(): string {
    const shm = newRegion();
    ok(["load", obj("count")], shm);
    ok(["attach", "count_add", "uprobe", "--arg", `${target}:add`], shm);
    ok(["load", "--kernel", obj("count"), "--name", "kc"]);
    return shm;
  }

  /** `bpftime start --shm SHM -- target loop 20`: the target calls add() in rounds until stopped. */
  const startLoop = (shm: string): Started =>
    startProcess([process.execPath, cliEntry, "start", "--shm", shm, "--", target, "loop", "20"]);

  /** The process goes on: two more rounds of output (r=3 each), still running; then stops it. */
  async function expectRunsOn(p: Started): Promise<void> {
    const from = p.output().length;
    await p.waitFor(new RegExp(`[\\s\\S]{${from}}[\\s\\S]*r=3\\n[\\s\\S]*r=3\\n`));
    expect(p.proc.exitCode).toBeNull();
    await p.stop();
  }

  test(
    "bpftime hook first: attach --kernel on the patched function is refused; the process lives",
    async () => {
      const shm = countUnderBoth();
      const p = startLoop(shm);
      await p.waitFor(/attached in process (\d+)/);
      const pid = Number(/attached in process (\d+)/.exec(p.output())![1]);
      const r = cli(["attach", "--kernel", "count_add", "uprobe", "--arg", `${target}:add`], {
        env,
      });
      expect(r.code).toBe(8);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(`hooked by bpftime in process ${pid}`);
      expect(ok(["list", "--kernel", "--json"])).not.toMatch(/"links":\[\{/);
      await expectRunsOn(p);
    },
    T,
  );

  test(
    "kernel uprobe first: the agent refuses to patch over its int3, says so, and the process lives",
    async () => {
      const shm = countUnderBoth();
      const k = JSON.parse(
        ok(["attach", "--kernel", "count_add", "uprobe", "--arg", `${target}:add`, "--json"]),
      );
      const p = startLoop(shm);
      await p.waitFor(
        /link 1 \(uprobe .*\): failed in process \d+: .*kernel uprobe or a breakpoint/,
      );
      // Removing the kernel uprobe now restores the original byte: the process runs on.
      ok(["detach", "--kernel", String(k.linkId)]);
      await expectRunsOn(p);
    },
    T,
  );
});
