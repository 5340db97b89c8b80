// uprobes and uretprobes in real processes: `bpftime start` (LD_PRELOAD
// agent), links applied while the process runs, bpf_override_return, 8
// threads during attach/detach, libc's malloc, and `bpftime inject`/`eject`
// (ptrace) on a process started without bpftime. The target program and the
// eBPF programs (test/fixtures/uprobe/) are compiled into a temp dir here.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { bpftimeBin, cli, cliEntry, repoRoot, run, skipReason, startProcess } from "./helpers.ts";
import { tempDir, type Started } from "./helpers.ts";
import { runName } from "./run-id.ts";
import { uprobeFixtureUnlessSkipped } from "./uprobe-fixture.ts";

const fixtures = join(import.meta.dir, "fixtures", "uprobe");
const T = 30_000;

/** The environment only: a missing agent library is a build failure, not a skip. */
function toolMissing(): string | undefined {
  for (const tool of ["cc", "clang", "nm"]) if (!Bun.which(tool)) return `${tool} is not installed`;
  return undefined;
}
const skip = skipReason(toolMissing(), "uprobe tests");

// Built once into a directory that outlives the per-test cleanup.
const { target, obj } = uprobeFixtureUnlessSkipped(skip, "uprobe", join(fixtures, "target.c"), {
  ...Object.fromEntries(
    ["args", "args6", "ret", "override", "count"].map((n) => [n, join(fixtures, `${n}.bpf.c`)]),
  ),
  malloc: join(repoRoot, "examples", "malloc.bpf.c"),
});

let region = "";
const regions = new Set<string>();
function newRegion(): string {
  region = runName(`up-${Math.random().toString(36).slice(2, 8)}`);
  regions.add(region);
  return region;
}
afterEach(() => {
  for (const r of regions) cli(["shm", "remove", "--shm", r]);
  regions.clear();
});

/** Runs the CLI on the current region; throws with its stderr on failure. */
function ok(...args: string[]): string {
  const r = cli([...args, "--shm", region]);
  if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function load(name: string): void {
  ok("load", obj(name));
}

/** Attaches and returns the link id. */
function attach(prog: string, type: string, arg?: string, cookie?: number): number {
  const args = ["attach", prog, type, "--json"];
  if (arg) args.push("--arg", arg);
  if (cookie !== undefined) args.push("--cookie", String(cookie));
  return (JSON.parse(ok(...args)) as { linkId: number }).linkId;
}

function dump(map: string): Map<number, number> {
  const rows = JSON.parse(ok("map", "dump", map, "--json")).entries as {
    key: number;
    value: number;
  }[];
  return new Map(rows.map((r) => [r.key, r.value]));
}

/** Runs `bpftime start` to completion. */
function start(...args: string[]) {
  return cli(["start", "--shm", region, "--", ...args]);
}

/** A long-running `bpftime start` (or plain) process. */
function spawnStart(...args: string[]): Started {
  return startProcess([process.execPath, cliEntry, "start", "--shm", region, "--", ...args]);
}

/** Waits until `re` matches the output written after offset `from`. */
async function waitAfter(p: Started, from: number, re: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(p.output().slice(from))) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${re}; output after ${from}:\n${p.output().slice(from)}`,
      );
    if (p.proc.exitCode !== null) throw new Error(`process exited; output:\n${p.output()}`);
    await Bun.sleep(20);
  }
}

/** Output offset after which every new "r=" line is whole. */
const mark = (p: Started) => p.output().length;

describe.skipIf(skip)("uprobe", () => {
  test(
    "uprobe sees the arguments, the cookie and the function address",
    () => {
      newRegion();
      load("args");
      attach("on_add", "uprobe", `${target}:add`, 77);
      const r = start(target, "calls", "5");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("add(4,8)=12");
      const m = dump("args");
      expect(m.get(0)).toBe(4); // a of the last call
      expect(m.get(1)).toBe(8); // b
      expect(m.get(2)).toBe(5); // calls
      expect(m.get(3)).toBe(77); // bpf_get_attach_cookie
      // bpf_get_func_ip: the address of add in the process (PIE: not the file's)
      const nm = run(["nm", target]).stdout.match(/^([0-9a-f]+) T add$/m);
      expect(nm).not.toBeNull();
      const ip = m.get(4)!;
      expect(ip).toBeGreaterThan(0);
      expect(ip % 4096).toBe(parseInt(nm![1]!, 16) % 4096);
    },
    T,
  );

  test(
    "six arguments arrive each in its own register, and the return value in rax",
    () => {
      newRegion();
      load("args6");
      attach("on_sum6", "uprobe", `${target}:sum6`);
      attach("on_sum6_ret", "uretprobe", `${target}:sum6`);
      const r = start(target, "six");
      expect(r.code).toBe(0);
      // The values target.c passes, written out by hand (not read from it).
      const args = [
        0x1a0000001a, 0x2b0000002b, 0x3c0000003c, 0x4d0000004d, 0x5e0000005e, 0x6f0000006f,
      ];
      const sum = args.reduce((s, v, i) => s + (i + 1) * v, 0);
      expect(r.stdout).toContain(`sum6=${sum}`); // the hook changed nothing
      const m = dump("regs");
      expect([0, 1, 2, 3, 4, 5, 6].map((k) => m.get(k))).toEqual([...args, sum]);
    },
    T,
  );

  test(
    "uretprobe sees the return value; both on one function share it",
    () => {
      newRegion();
      load("ret");
      load("args");
      attach("on_add_ret", "uretprobe", `${target}:add`);
      attach("on_add", "uprobe", `${target}:add`);
      const r = start(target, "calls", "6");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("add(5,10)=15");
      const rets = dump("rets");
      expect(rets.get(0)).toBe(15);
      expect(rets.get(1)).toBe(6);
      expect(dump("args").get(2)).toBe(6);
    },
    T,
  );

  test(
    "bpf_override_return skips the function and sets its result",
    () => {
      newRegion();
      load("override");
      load("ret");
      attach("override_add", "uprobe", `${target}:add`);
      attach("on_add_ret", "uretprobe", `${target}:add`);
      const r = start(target, "calls", "3");
      expect(r.code).toBe(0);
      // Every call returned the override, none the real sum (the ready line
      // holds a pid, which may contain "=6": compare the add() lines only).
      expect(r.stdout.match(/^add\(.*$/gm)).toEqual(["add(0,0)=42", "add(1,2)=42", "add(2,4)=42"]);
      // The uretprobe still runs and sees the overridden value.
      expect(dump("rets").get(0)).toBe(42);
    },
    T,
  );

  test(
    "links attached and detached while the process runs apply, and detach restores it",
    async () => {
      newRegion();
      load("override");
      const p = spawnStart(target, "loop", "10");
      await p.waitFor("r=3");
      let from = mark(p);
      const link = attach("override_add", "uprobe", `${target}:add`);
      await waitAfter(p, from, /r=42\n/);
      from = mark(p);
      ok("detach", String(link));
      await waitAfter(p, from, /r=3\n(r=3\n){3}/);
      from = mark(p);
      attach("override_add", "uprobe", `${target}:add`);
      await waitAfter(p, from, /r=42\n(r=42\n){3}/);
      expect(p.proc.exitCode).toBeNull();
      // The process shows up in the region's instances while it runs.
      const pid = /ready pid=(\d+)/.exec(p.output())![1]!;
      expect(ok("list")).toContain(pid);
      await p.stop();
    },
    T,
  );

  test(
    "a forked child keeps the hooks and follows the region",
    async () => {
      newRegion();
      load("override");
      const link = attach("override_add", "uprobe", `${target}:add`);
      const p = spawnStart(target, "fork", "10");
      await p.waitFor("child r=42");
      // The child is an instance of its own: `bpftime list` shows both pids on the link.
      const childPid = Number(/child pid=(\d+)/.exec(p.output())![1]);
      const deadline = Date.now() + 5000;
      let pids: number[] = [];
      while (Date.now() < deadline) {
        const links = JSON.parse(ok("list", "--json")).links as Array<{
          id: number;
          pids: number[];
        }>;
        pids = links.find((l) => l.id === link)?.pids ?? [];
        if (pids.includes(childPid) && pids.length === 2) break;
        await Bun.sleep(50);
      }
      expect(pids).toContain(childPid); // and the parent, which started the agent
      expect(pids).toHaveLength(2);
      let from = mark(p);
      ok("detach", String(link));
      await waitAfter(p, from, /child r=3\n(child r=3\n){3}/);
      from = mark(p);
      attach("override_add", "uprobe", `${target}:add`);
      await waitAfter(p, from, /child r=42\n(child r=42\n){3}/);
      await p.stop();
    },
    T,
  );

  test(
    "8 threads call the hooked function during attach and detach: no crash, no wrong result",
    async () => {
      newRegion();
      load("count");
      const p = spawnStart(target, "threads", "8", "60");
      await p.waitFor("ready");
      // Three attach/detach cycles, each detached only once the program has
      // run in the threads (its call count grew); then stop the threads.
      for (let cycles = 0, seen = 0; cycles < 3; cycles++) {
        const link = attach("count_add", "uprobe", `${target}:add`);
        while ((dump("counts").get(0) ?? 0) <= seen) await Bun.sleep(20);
        seen = dump("counts").get(0)!;
        ok("detach", String(link));
      }
      process.kill(p.pid, "SIGUSR1"); // target.c: stop the threads and report
      const code = await p.exited;
      expect(p.output()).toMatch(/threads calls=\d+ bad=0/);
      expect(code).toBe(0);
      const c = dump("counts");
      expect(c.get(0)).toBeGreaterThan(0); // the program ran
      expect(c.get(1) ?? 0).toBe(0); // and saw sane arguments each time
    },
    T,
  );

  test(
    "with stats on, uprobe and uretprobe runs of a program that calls no helper are counted",
    () => {
      // Such a program runs on the hooks' fast path (the stub calls its JIT
      // code directly) while statistics are off; on, they send it to the
      // general path, which counts. One link per function: the fast case.
      newRegion();
      load("count");
      attach("count_add", "uprobe", `${target}:add`);
      attach("count_add", "uretprobe", `${target}:sum6`);
      ok("stats", "on");
      expect(start(target, "calls", "5").code).toBe(0); // 5 uprobe runs
      expect(start(target, "six").code).toBe(0); // 1 uretprobe run
      const listed = JSON.parse(ok("list", "--json")) as {
        programs: { name: string; runCount: string }[];
      };
      expect(listed.programs.find((x) => x.name === "count_add")!.runCount).toBe("6");
    },
    2 * T, // seven CLI runs
  );

  test(
    "malloc calls in libc are counted per pid (the SEC target is the default)",
    () => {
      newRegion();
      load("malloc");
      attach("count_malloc", "uprobe"); // SEC("uprobe/libc.so.6:malloc")
      const r = start(target, "malloc", "200");
      expect(r.code).toBe(0);
      const pid = Number(/ready pid=(\d+)/.exec(r.stdout)?.[1]);
      const counts = dump("malloc_calls");
      expect(counts.get(pid)).toBeGreaterThanOrEqual(200);
    },
    T,
  );

  test(
    "inject (ptrace) into a running process, eject restores it, inject again",
    async () => {
      newRegion();
      load("override");
      attach("override_add", "uprobe", `${target}:add`);
      const p = startProcess([target, "loop", "10"]);
      await p.waitFor("r=3");
      let from = mark(p);
      const inj = cli(["inject", String(p.pid), "--shm", region]);
      expect(inj.stderr).toBe("");
      expect(inj.stdout).toContain(`agent started in process ${p.pid}`);
      await waitAfter(p, from, /r=42\n/);
      from = mark(p);
      const ej = cli(["detach", "--pid", String(p.pid)]);
      expect(ej.code).toBe(0);
      await waitAfter(p, from, /r=3\n(r=3\n){3}/);
      from = mark(p);
      expect(cli(["attach", "--pid", String(p.pid), "--shm", region]).code).toBe(0);
      await waitAfter(p, from, /r=42\n(r=42\n){3}/);
      // Injecting twice is refused clearly.
      const again = cli(["inject", String(p.pid), "--shm", region]);
      expect(again.code).toBe(8);
      expect(again.stderr).toContain("already running");
      expect(p.proc.exitCode).toBeNull();
      await p.stop();
    },
    T,
  );

  test(
    "a missing region is one line and the program runs unhooked",
    () => {
      newRegion(); // never created
      const r = start(target, "calls", "2");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("add(1,2)=3");
      const lines = r.stderr.split("\n").filter(Boolean);
      expect(lines.length).toBe(1);
      expect(lines[0]).toContain("runs without bpftime");
    },
    T,
  );

  test(
    "a symbol that does not exist is refused by attach (one line, exit 3)",
    () => {
      newRegion();
      load("args");
      const a = cli([
        "attach",
        "on_add",
        "uprobe",
        "--arg",
        `${target}:no_such_function`,
        "--shm",
        region,
      ]);
      expect(a.code).toBe(3);
      expect(a.stderr.trim()).toMatch(/^bpftime: .*symbol no_such_function not found in/);
      const r = start(target, "calls", "2");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("add(1,2)=3");
    },
    T,
  );

  test(
    "start passes options after PROGRAM through, forwards exit codes and signals",
    async () => {
      newRegion();
      load("args");
      const r = start(target, "--help");
      expect(r.code).toBe(2); // target's own exit code
      expect(r.stderr).toContain("unknown mode --help");
      const r2 = cli(["start", "--shm", region, target, "--help"]);
      expect(r2.stderr).toContain("unknown mode --help");
      const p = spawnStart(target, "loop", "10");
      await p.waitFor("r=3");
      process.kill(p.pid, "SIGTERM");
      expect(await p.exited).toBe(128 + 15);
      const missing = cli(["start", "--shm", region, "/no/such/program"]);
      expect(missing.code).toBe(3);
    },
    T,
  );

  test(
    "the shipped binary alone (dist/bpftime copied to an empty directory): start and inject hook with the embedded agent",
    async () => {
      newRegion();
      load("override");
      attach("override_add", "uprobe", `${target}:add`);
      const bin = join(tempDir(), "bpftime");
      copyFileSync(bpftimeBin, bin);
      chmodSync(bin, 0o755);
      const cwd = dirname(bin);
      // start: the agent unpacked from the binary hooks add() (42, not a+b)
      // --quiet: a process this short may exit before start sees its hook report,
      // so whether the per-hook line prints is a race (tested on long runs elsewhere).
      const r = run([bin, "start", "--quiet", "--shm", region, "--", target, "calls", "3"], {
        cwd,
      });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout.match(/^add\(.*$/gm)).toEqual(["add(0,0)=42", "add(1,2)=42", "add(2,4)=42"]);
      // inject: the same agent through ptrace into a process started without it
      const p = startProcess([target, "loop", "10"]);
      await p.waitFor("r=3");
      const from = mark(p);
      const inj = run([bin, "inject", String(p.pid), "--shm", region], { cwd });
      expect(inj.stderr).toBe("");
      expect(inj.code).toBe(0);
      await waitAfter(p, from, /r=42\n(r=42\n){2}/);
      await p.stop();
    },
    T,
  );

  test(
    "attach without --arg needs a target in the SEC name",
    () => {
      newRegion();
      load("args");
      const r = cli(["attach", "on_add", "uprobe", "--shm", region]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("names no uprobe target");
    },
    T,
  );
});
