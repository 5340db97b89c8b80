// Failures that must be visible (issue 13, attach/process part): `attach`
// refuses uprobe targets that can never work, a link that fails inside a
// process is recorded per instance and shown by `list`, `start`, `inject` and
// the API, `uretprobe` takes its target from SEC(), and a process that died
// without cleaning up is reaped instead of staying "ALIVE no" forever.
import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, cliEntry, compileBpf, regionNames, repoRoot, skipReason } from "./helpers.ts";
import { startProcess, waitUntil, type Started } from "./helpers.ts";
import { uprobeFixtureUnlessSkipped } from "./uprobe-fixture.ts";
import { Region } from "../src/native/runtime.ts";
import { instanceDetails } from "../src/ops/instances.ts";
import { createApp } from "../src/server/app.ts";

const fixtures = join(import.meta.dir, "fixtures", "uprobe");
const T = 30_000;

function toolMissing(): string | undefined {
  for (const tool of ["cc", "clang"]) if (!Bun.which(tool)) return `${tool} is not installed`;
  if (!existsSync(join(repoRoot, "native", "build", "libbpftime-agent.so")))
    return "native/build/libbpftime-agent.so is not built (make -C native)";
  return undefined;
}
const skip = skipReason(toolMissing(), "attach lifecycle tests");

const { dir, target, obj } = uprobeFixtureUnlessSkipped(
  skip,
  "lifecycle",
  join(fixtures, "target.c"),
  { count: join(fixtures, "count.bpf.c") },
);
if (!skip) addLifecycleFixtures();

/** A copy of the target (a file the target never loads) and ret_sec.bpf.o. */
function addLifecycleFixtures(): void {
  copyFileSync(target, `${target}2`); // another file: never loaded by `target`
  chmodSync(`${target}2`, 0o755);
  // A uretprobe that names its target in SEC(), like libbpf's auto-attach.
  const src = join(dir, "ret_sec.bpf.c");
  writeFileSync(
    src,
    `#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } rets SEC(".maps");
SEC("uretprobe/${target}:add")
int BPF_KRETPROBE(ret_sec, int ret)
{
    __u32 k = 0;
    __u64 v = ret;
    bpf_map_update_elem(&rets, &k, &v, BPF_ANY);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
`,
  );
  compileBpf(src, obj("ret_sec"));
}

const newRegion = regionNames("lifecycle");
let region = "";

function ok(...args: string[]): string {
  const r = cli([...args, "--shm", region], { cwd: dir });
  if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function attachFails(arg: string) {
  return cli(["attach", "count_add", "uprobe", "--arg", arg, "--shm", region], { cwd: dir });
}

/** A new region with `count` loaded and count_add attached to target:add. */
function countOnAdd(): void {
  region = newRegion();
  ok("load", obj("count"));
  ok("attach", "count_add", "uprobe", "--arg", `${target}:add`);
}

/** `bpftime start --shm REGION [flags] -- target loop ROUNDS`: runs until stopped. */
const startLoop = (rounds: string, ...flags: string[]): Started =>
  startProcess([
    process.execPath,
    cliEntry,
    "start",
    "--shm",
    region,
    ...flags,
    "--",
    target,
    "loop",
    rounds,
  ]);

/** The pid of the first "attached in process PID" line `bpftime start` printed. */
const attachedPid = (p: Started): number =>
  Number(/attached in process (\d+)/.exec(p.output())![1]);

interface Snapshot {
  links: Array<{
    id: number;
    pids: number[];
    errors: Array<{ pid: number; waiting: boolean; message: string }>;
  }>;
  instances: Array<{ pid: number; alive: boolean; failedLinks: number }>;
}
const snap = () => JSON.parse(ok("list", "--json")) as Snapshot;

/** Instance pids straight from the region (no reaping, unlike `list`). */
function rawInstancePids(): number[] {
  const r = Region.open(region);
  try {
    return r.instanceIds().map((id) => r.instance(id).pid);
  } finally {
    r.close();
  }
}

describe.skipIf(skip)("attach validation", () => {
  test("targets that can never work are refused with one line and a non-zero exit", () => {
    region = newRegion();
    ok("load", obj("count"));
    const cases: Array<[string, number, RegExp]> = [
      ["target", 4, /expected BINARY:SYMBOL/], // no :SYM
      ["./missing:add", 3, /no such file .*missing/],
      ["./target:no_such_fn", 3, /no_such_fn not found/],
      ["./target:add+4096", 4, /offset 4096 is beyond add/],
      ["no_such_library_xyz:add", 3, /no such library/],
    ];
    for (const [arg, code, why] of cases) {
      const r = attachFails(arg);
      expect({ arg, code: r.code }).toEqual({ arg, code });
      expect(r.stderr).toMatch(why);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(snap().links).toEqual([]); // nothing half-written
  });

  test("over HTTP a bad target is a 4xx JSON error and no link", async () => {
    region = newRegion();
    ok("load", obj("count"));
    const token = "t".repeat(32);
    const { app } = createApp({ shm: region, token, protectReads: false, allowedHosts: [] });
    const post = (arg: string) =>
      app.handle(
        new Request("http://127.0.0.1/v1/links", {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ program: "count_add", type: "uprobe", arg }),
        }),
      );
    const bad = await post(`${target}:no_such_fn`);
    expect(bad.status).toBe(404);
    expect(((await bad.json()) as { message: string }).message).toContain("no_such_fn not found");
    const beyond = await post(`${target}:add+4096`);
    expect(beyond.status).toBe(400);
    expect(snap().links).toEqual([]);
    const good = await post(`${target}:add`);
    expect(good.status).toBeLessThan(300);
  });

  test("a relative path is stored absolute (resolved against the CLI's directory)", () => {
    region = newRegion();
    ok("load", obj("count"));
    const r = JSON.parse(ok("attach", "count_add", "uprobe", "--arg", "./target:add", "--json"));
    expect(r.arg).toBe(`${target}:add`);
  });

  test('uretprobe takes its target from SEC("uretprobe/BIN:SYM")', () => {
    region = newRegion();
    ok("load", obj("ret_sec"));
    const r = JSON.parse(ok("attach", "ret_sec", "uretprobe", "--json"));
    expect(r.arg).toBe(`${target}:add`);
    const s = cli(["start", "--shm", region, "--quiet", "--", target, "calls", "3"]);
    expect(s.code).toBe(0);
    const rows = JSON.parse(ok("map", "dump", "rets", "--json")).entries as { value: number }[];
    expect(rows[0]!.value).toBe(6); // add(2, 4), the last call
  });
});

describe.skipIf(skip)("failed links are visible", () => {
  test(
    "start prints attached/failed per hook; list and the instance show why",
    async () => {
      countOnAdd();
      // Passes the attach-time check (an address is the agent's to check)
      // but is no code: the agent must record why, per link and process.
      ok("attach", "count_add", "uprobe", "--arg", `${target}:0x10`);
      const p = startLoop("50");
      await p.waitFor(/link 2 \(uprobe .*:0x10\): failed in process \d+: .*not executable/);
      await p.waitFor(/link 1 \(uprobe .*:add\): attached in process \d+/);
      const pid = attachedPid(p);
      const s = snap();
      expect(s.links.find((l) => l.id === 1)!.pids).toEqual([pid]);
      const l2 = s.links.find((l) => l.id === 2)!;
      expect(l2.pids).toEqual([]);
      expect(l2.errors).toHaveLength(1);
      expect(l2.errors[0]!.pid).toBe(pid);
      expect(l2.errors[0]!.message).toContain("not executable");
      const text = ok("list");
      expect(text).toMatch(
        new RegExp(`links not hooked[\\s\\S]*2\\s+${pid}\\s+failed\\s+.*not executable`),
      );
      await p.stop();
    },
    T,
  );

  test(
    "a link whose binary the process has not loaded is reported waiting, not attached",
    async () => {
      countOnAdd();
      ok("attach", "count_add", "uprobe", "--arg", `${target}2:add`);
      const p = startLoop("50");
      await p.waitFor(
        /link 2 \(uprobe .*target2:add\): waiting in process \d+: .*target2 is not loaded/,
      );
      await p.waitFor(/link 1 \(uprobe .*:add\): attached in process \d+/);
      const pid = attachedPid(p);
      const l2 = snap().links.find((l) => l.id === 2)!;
      expect(l2.pids).toEqual([]);
      expect(l2.errors).toEqual([
        { pid, waiting: true, message: expect.stringContaining("is not loaded") },
      ]);
      expect(ok("list")).toMatch(new RegExp(`2\\s+${pid}\\s+waiting\\s+`));
      await p.stop();
    },
    T,
  );

  test(
    "--quiet silences the per-hook lines",
    async () => {
      countOnAdd();
      const p = startLoop("20", "--quiet");
      await p.waitFor(/ready pid=(\d+)/);
      const pid = Number(/ready pid=(\d+)/.exec(p.output())![1]);
      await waitUntil(
        "the link to list the process",
        () => snap().links[0]!.pids.includes(pid),
        15_000,
      );
      await p.stop();
      expect(p.output()).not.toContain("attached in process");
    },
    T,
  );

  test(
    "inject prints one line per hook",
    async () => {
      countOnAdd();
      ok("attach", "count_add", "uprobe", "--arg", `${target}:0x10`);
      const p = startProcess([target, "loop", "20"]);
      await p.waitFor("r=3");
      const inj = cli(["inject", String(p.pid), "--shm", region]);
      expect(inj.code).toBe(0);
      expect(inj.stdout).toContain(`link 1 (uprobe ${target}:add): attached in process ${p.pid}`);
      expect(inj.stdout).toMatch(
        new RegExp(
          `link 2 \\(uprobe ${target}:0x10\\): failed in process ${p.pid}: .*not executable`,
        ),
      );
      const j = JSON.parse(cli(["list", "--json", "--shm", region]).stdout) as Snapshot;
      expect(j.instances.find((i) => i.pid === p.pid)!.failedLinks).toBe(1);
      await p.stop();
    },
    T,
  );
});

describe.skipIf(skip)("dead instances", () => {
  /** `bpftime start … target loop` and the target's pid once its hooks are in. */
  async function started() {
    const p = startLoop("20");
    await p.waitFor(/attached in process (\d+)/);
    return { p, pid: attachedPid(p) };
  }

  test(
    "a process killed with SIGKILL is reaped by list; heartbeat ages are real",
    async () => {
      countOnAdd();
      const { p, pid } = await started();
      const r = Region.open(region);
      try {
        const [d] = instanceDetails(r);
        expect(d!.pid).toBe(pid);
        // On CLOCK_MONOTONIC like the heartbeat: positive, and not from another epoch.
        expect(d!.heartbeatAgeMs).toBeGreaterThan(0);
        expect(d!.heartbeatAgeMs).toBeLessThan(600_000);
      } finally {
        r.close();
      }
      process.kill(pid, "SIGKILL"); // no destructor runs: the record stays behind
      await p.exited;
      expect(rawInstancePids()).toEqual([pid]);
      const after = snap();
      expect(after.instances).toEqual([]);
      expect(after.links[0]!.pids).toEqual([]);
      expect(rawInstancePids()).toEqual([]);
    },
    T,
  );

  test(
    "a live process's agent reaps the instance of one that crashed",
    async () => {
      countOnAdd();
      const a = await started();
      const b = await started();
      process.kill(b.pid, "SIGKILL");
      await b.p.exited;
      await waitUntil(
        "the crashed instance to be reaped",
        () => !rawInstancePids().includes(b.pid),
        15_000,
      );
      expect(rawInstancePids()).toEqual([a.pid]);
      await a.p.stop();
    },
    T,
  );
});
