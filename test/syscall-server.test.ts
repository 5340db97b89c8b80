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
import {
  cli,
  cliEntry,
  loadAppArgv,
  compileBpf,
  repoRoot,
  run,
  skipReason,
  startProcess,
} from "./helpers.ts";
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
  opts: {
    region?: string;
    stopAfter?: string | RegExp;
    whileRunning?: () => void;
    cwd?: string;
  } = {},
): Promise<{ code: number | string; out: string; region: string }> {
  const region = where === "bpftime" ? (opts.region ?? newRegion()) : "";
  const cmd = where === "bpftime" ? loadAppArgv(region, ...argv) : argv;
  const p = startProcess(cmd, opts.cwd ? { cwd: opts.cwd } : {});
  await p.waitFor("ready", 30_000);
  opts.whileRunning?.();
  runTarget(calls, where === "bpftime" ? region : undefined);
  if (opts.stopAfter) await p.waitFor(opts.stopAfter, 30_000);
  p.proc.kill("SIGINT");
  const code = await p.exited;
  return { code, out: p.output(), region };
}

/** Names of the kernel's eBPF programs and maps (bpftool), to see that none is ours. */
function kernelObjectNames(): string[] {
  const names: string[] = [];
  for (const kind of ["prog", "map"]) {
    const r = run(["bpftool", kind, "show", "--json"]);
    if (r.code === 0)
      for (const o of JSON.parse(r.stdout) as Array<{ name?: string }>) names.push(o.name ?? "");
  }
  return names;
}

/** Runs an application that exits by itself (on the kernel, or under `bpftime load`). */
function once(argv: string[], where: "kernel" | "bpftime", region = newRegion()) {
  const cmd = where === "bpftime" ? loadAppArgv(region, ...argv) : argv;
  return { ...run(cmd), region };
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

const kernelSkip = skipReason(noKernel, "kernel half of the libbpf application tests");

function bpffsMissing(): string | undefined {
  const r = run(["stat", "-f", "-c", "%T", "/sys/fs/bpf"]);
  return r.stdout.trim() === "bpf_fs" ? undefined : "/sys/fs/bpf is not a bpf filesystem";
}

// The same application, its output, per app: [argv after the app's path, calls, expected].
// `target 10` calls malloc(12345) ten times (target.c).
const MALLOC_OUTPUT = "ready\nmallocs of 12345 bytes: 10";
const LATENCY_OUTPUT = "ready\ncalls=7 ret_sum=130 histogram_total=7";
// bpftime_work(i % 4) returns 10 * x: x >= 1 for i < 10 is 1,2,3,1,2,3,1 (sum 130).
const RINGBUF_OUTPUT = [
  "ready",
  ...Array.from({ length: 10 }, (_, i) => `event ${i}: x=${i % 4} tag=62706674696d65 len=16`),
  "total 10 events",
].join("\n");

// bpf_perf_event_output of 16 bytes: the raw size the reader sees is padded
// so the record is 8-byte aligned (round_up(16 + 4, 8) - 4 = 20), as the
// kernel pads it. Per-CPU rings: lines may come in any order, so sorted.
const PERFBUF_OUTPUT = [
  "ready",
  ...Array.from({ length: 10 }, (_, i) => `event ${i}: x=${i % 4} tag=62706674696d65 len=20`),
  "total 10 events",
].join("\n");
// Keys 7i hold i² (i < 10); the batch deletes keys 0, 21 and 63; the pop takes the rest.
const BATCH_OUTPUT = [
  "lookup: " + Array.from({ length: 10 }, (_, i) => `${7 * i}=${i * i}`).join(" ") + " (10)",
  "popped: " + [1, 2, 4, 5, 6, 7, 8].map((i) => `${7 * i}=${i * i}`).join(" ") + " (7)",
  "left: none",
  "",
].join("\n");

// self_work(i) = i + 1 for i < 3, called twice over (sum 12); a uprobe link
// is a perf-event link, which the kernel cannot detach (EOPNOTSUPP), so the
// second three calls count too. Link type 7 is BPF_LINK_TYPE_PERF_EVENT,
// program type 2 kprobe, map type 2 array (.bss: one 8-byte value).
const SELF_PROBE_OUTPUT = [
  "attached: 3 calls",
  "info: 0 link type 7, link prog is the prog: yes, prog on_self_work type 2, map type 2 key 4 value 8 max 1",
  "stats: on",
  "detach: -95",
  "detached: 6 calls (sum 12)",
  "",
].join("\n");

// map_in_map: bpftime_work(x) for x = i % 4, i < 10 (x = 0, 1 three times; 2, 3
// twice) counts in the inner array at slot x & 1, key x (inner_a: slot 0, from
// the object's .values; inner_b: slot 1, stored by the app), and in arg3
// (by_arg's map under key 3), key 3. A map with 16-byte values does not match
// the template (EINVAL); an emptied slot is ENOENT. A batch update takes fds.
const MAP_IN_MAP_OUTPUT = [
  "store inner_b in slot 1: 0",
  "store arg3 under key 3: 0",
  "batch store in slots 0 and 1: 0 (2)",
  "store a map with 16-byte values: -22 (Invalid argument)",
  "ready",
  "slot 0: inner_a",
  "slot 1: inner_b",
  ...[3, 0, 2, 0].map((n, k) => `inner_a[${k}] = ${n}`),
  ...[0, 3, 0, 2].map((n, k) => `inner_b[${k}] = ${n}`),
  "arg3[3] = 2",
  "delete slot 1: 0",
  "slot 1 after delete: -2 (No such file or directory)",
].join("\n");

/** Ten event lines printed: the poll loop delivered every record before we stop it. */
const TEN_EVENTS = /(event \d+: [^\n]*\n){10}/;
const sortedEvents = (out: string) => {
  const lines = normalise(out).split("\n");
  const events = lines.filter((l) => l.startsWith("event "));
  events.sort(
    (a, b) => Number(a.split(" ")[1]!.slice(0, -1)) - Number(b.split(" ")[1]!.slice(0, -1)),
  );
  return [lines[0], ...events, lines[lines.length - 1]].join("\n");
};

describe.skipIf(skip)("libbpf applications under bpftime load", () => {
  test(
    "a uprobe counter read by map iteration counts every call; its objects go at exit",
    async () => {
      let kernelNames: string[] = [];
      let inRegion: unknown[][] = [];
      let listing = "";
      const region = newRegion();
      const ours = await session([app("uprobe_counter"), app("target")], 10, "bpftime", {
        region,
        whileRunning: () => {
          kernelNames = kernelObjectNames();
          inRegion = leftIn(region);
          listing = cli(["list", "--shm", region]).stdout;
        },
      });
      expect(ours.code).toBe(0);
      expect(normalise(ours.out)).toBe(COUNTER_OUTPUT);
      // While it ran: its program, map, target and link were the region's, none the kernel's.
      expect(inRegion.map((objs) => objs.length)).toEqual([1, 1, 1, 1]);
      expect(kernelNames).not.toContain("on_work");
      expect(kernelNames).not.toContain("calls");
      // `bpftime list` names the application and its pid beside what it made.
      expect(listing).toMatch(/\bon_work\b.*uprobe from uprobe_counter pid \d+ \(bpftime load\)/);
      expect(listing).toMatch(/\bcalls\b.*\buprobe_counter pid \d+\s*$/m);
      expect(leftIn(ours.region)).toEqual([[], [], [], []]);
    },
    T,
  );

  test(
    "a relative binary path becomes the file's absolute path in the attach target",
    async () => {
      const region = newRegion();
      let targets: Array<{ arg: string }> = [];
      const ours = await session(["./uprobe_counter", "./target"], 10, "bpftime", {
        region,
        cwd: dir,
        whileRunning: () => {
          targets = (
            JSON.parse(cli(["list", "--shm", region, "--json"]).stdout) as {
              targets: Array<{ arg: string }>;
            }
          ).targets;
        },
      });
      expect(normalise(ours.out)).toBe(COUNTER_OUTPUT);
      expect(targets.map((t) => t.arg.replace(/:0x[0-9a-f]+$/, ""))).toEqual([app("target")]);
    },
    T,
  );

  test(
    "a uretprobe latency histogram in .bss, filtered by a .rodata constant, read through mmap",
    async () => {
      const ours = await session([app("latency"), app("target"), "1"], 10, "bpftime");
      expect(ours.code).toBe(0);
      expect(normalise(ours.out)).toBe(LATENCY_OUTPUT);
      expect(leftIn(ours.region)).toEqual([[], [], [], []]);
    },
    T,
  );

  test(
    'the malloc example: SEC("uprobe/libc.so.6:malloc") auto-attached by the skeleton',
    async () => {
      const ours = await session([app("malloc_counter")], 10, "bpftime");
      expect(ours.code).toBe(0);
      expect(normalise(ours.out)).toBe(MALLOC_OUTPUT);
    },
    T,
  );

  test(
    "a ring buffer stream read by ring_buffer__poll: every record arrives while it polls",
    async () => {
      // Stopped only once the last record was printed: epoll woke the poll loop.
      const ours = await session([app("ringbuf_stream"), app("target")], 10, "bpftime", {
        stopAfter: "event 9:",
      });
      expect(ours.code).toBe(0);
      expect(normalise(ours.out)).toBe(RINGBUF_OUTPUT);
    },
    T,
  );

  test(
    "a perf buffer stream read by perf_buffer__poll: every record, padded as the kernel pads it",
    async () => {
      const ours = await session([app("perfbuf_stream"), app("target")], 10, "bpftime", {
        stopAfter: TEN_EVENTS,
      });
      expect(ours.code).toBe(0);
      expect(sortedEvents(ours.out)).toBe(PERFBUF_OUTPUT);
    },
    T,
  );

  test(
    "an error-injection tool: bpf_override_return fails calls while it runs, not after",
    async () => {
      const region = newRegion();
      const p = startProcess(loadAppArgv(region, app("override"), app("target")));
      await p.waitFor("ready", 30_000);
      const target = () =>
        run([process.execPath, cliEntry, "start", "--quiet", "--shm", region, app("target"), "10"])
          .stdout;
      // bpftime_work(i % 4) returns 10 * (i % 4); x = 2 (i = 2, 6) now returns -1:
      // 130 - 2 * 20 - 2 = 88.
      expect(target()).toBe("done 88\n");
      p.proc.kill("SIGINT");
      expect(await p.exited).toBe(0);
      expect(target()).toBe("done 130\n"); // its link went with it
      expect(leftIn(region)).toEqual([[], [], [], []]);
    },
    T,
  );

  test("a program the verifier refuses: libbpf prints the log, the application fails", () => {
    const r = once([app("refused")], "bpftime");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("load: -13\n"); // -EACCES, as the kernel's verifier answers
    expect(r.stderr).toContain("-- BEGIN PROG LOAD LOG --");
    expect(r.stderr).toContain("invalid access to map value, value_size=8 off=64 size=8");
    expect(leftIn(r.region)).toEqual([[], [], [], []]);
  });

  test("the loader probes itself: link/prog/map info, stats, and a link that cannot be detached", () => {
    const r = once([app("self_probe")], "bpftime");
    expect(r.stdout).toBe(SELF_PROBE_OUTPUT);
    expect(r.code).toBe(0);
    expect(leftIn(r.region)).toEqual([[], [], [], []]);
  });

  test("after fork, parent and child both load programs at the same time", () => {
    const r = once([app("forked")], "bpftime");
    expect(r.stdout).toBe("child: 20 of 20 loads\nparent: 20 of 20 loads, child exit 0\n");
    expect(r.code).toBe(0);
    expect(leftIn(r.region)).toEqual([[], [], [], []]);
  });

  test("batch map commands: update, lookup 4 at a time, delete, lookup-and-delete", () => {
    const r = once([app("batch")], "bpftime");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(BATCH_OUTPUT);
    expect(r.code).toBe(0);
    expect(leftIn(r.region)).toEqual([[], [], [], []]);
  });

  test("bpftool under bpftime load lists and dumps the region's maps and programs", () => {
    const region = newRegion();
    const obj = join(dir, "malloc.bpf.o");
    compileBpf(join(repoRoot, "examples", "malloc.bpf.c"), obj);
    expect(cli(["load", obj, "--shm", region]).code).toBe(0);
    const maps = once(["bpftool", "map", "show"], "bpftime", region);
    expect(maps.stdout).toMatch(
      /^1: hash {2}name malloc_calls {2}flags 0x0\n\tkey 4B {2}value 8B {2}max_entries 1024/,
    );
    const progs = once(["bpftool", "prog", "show"], "bpftime", region);
    expect(progs.stdout).toMatch(/^1: kprobe {2}name count_malloc {2}tag/);
    expect(progs.stdout).toContain("map_ids 1");
    const year = new Date().getUTCFullYear();
    expect(progs.stdout).toContain(`loaded_at ${year}-`); // boot-relative, as bpftool reads it
    expect(once(["bpftool", "map", "dump", "name", "malloc_calls"], "bpftime", region).stdout).toBe(
      "Found 0 elements\n",
    );
  });

  test("a map type the runtime lacks: EINVAL and one line saying so", () => {
    const r = once([app("unsupported")], "bpftime");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("load: -22\n");
    const ours = r.stderr.split("\n").filter((l) => l.startsWith("bpftime:"));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toContain("map type 14 (devmap) is not supported");
    expect(leftIn(r.region)).toEqual([[], [], [], []]);
  });

  test.skipIf(skipReason(bpffsMissing(), "pinned-map test"))(
    "a pinned map outlives the application and the next run reuses it",
    async () => {
      const region = newRegion();
      const pin = `/sys/fs/bpf/${runName("calls")}`;
      const argv = [app("uprobe_counter"), app("target"), pin];
      const first = await session(argv, 10, "bpftime", { region });
      expect(normalise(first.out)).toBe(COUNTER_OUTPUT);
      const pins = JSON.parse(cli(["pin", "list", "--shm", region, "--json"]).stdout) as Array<{
        name: string;
      }>;
      expect(pins.map((p) => p.name)).toEqual([runName("calls")]);
      const second = await session(argv, 10, "bpftime", { region });
      expect(normalise(second.out)).toBe(
        COUNTER_OUTPUT.replace(/3 calls/g, "6 calls").replace(/2 calls/g, "4 calls"),
      );
      expect(existsSync(pin)).toBe(false); // nothing went to the kernel's bpffs
    },
    T,
  );
});

describe.skipIf(skip)("maps of maps through libbpf", () => {
  test(
    "bpftime: templates, static and stored slots, lookups from the program and by the app",
    async () => {
      const region = newRegion();
      let dump: unknown;
      const ours = await session([app("map_in_map"), app("target")], 10, "bpftime", {
        region,
        whileRunning: () => {
          dump = JSON.parse(cli(["map", "dump", "slots", "--shm", region, "--json"]).stdout);
        },
      });
      expect(ours.code).toBe(0);
      expect(normalise(ours.out)).toBe(MAP_IN_MAP_OUTPUT);
      // (maps an application makes have no BTF here: keys are hex)
      expect(dump).toMatchObject([
        { key: "00000000", value: { name: "inner_a" } },
        { key: "01000000", value: { name: "inner_b" } },
      ]);
      // at exit the outer maps go, and with them the maps only they held
      expect(leftIn(ours.region)).toEqual([[], [], [], []]);
    },
    T,
  );

  test.skipIf(kernelSkip)(
    "kernel: the same output",
    async () => {
      const kernel = await session([app("map_in_map"), app("target")], 10, "kernel");
      expect(kernel.code).toBe(0);
      expect(normalise(kernel.out)).toBe(MAP_IN_MAP_OUTPUT);
    },
    T,
  );
});

describe.skipIf(skip)("the same applications on the kernel (the oracle)", () => {
  test.skipIf(kernelSkip)(
    "uprobe counter",
    async () => {
      const kernel = await session([app("uprobe_counter"), app("target")], 10, "kernel");
      expect(kernel.code).toBe(0);
      expect(normalise(kernel.out)).toBe(COUNTER_OUTPUT);
    },
    T,
  );

  test.skipIf(kernelSkip)(
    "uretprobe latency histogram",
    async () => {
      const kernel = await session([app("latency"), app("target"), "1"], 10, "kernel");
      expect(kernel.code).toBe(0);
      expect(normalise(kernel.out)).toBe(LATENCY_OUTPUT);
    },
    T,
  );

  test.skipIf(kernelSkip)(
    "malloc example",
    async () => {
      const kernel = await session([app("malloc_counter")], 10, "kernel");
      expect(kernel.code).toBe(0);
      expect(normalise(kernel.out)).toBe(MALLOC_OUTPUT);
    },
    T,
  );

  test.skipIf(kernelSkip)(
    "ring buffer stream",
    async () => {
      const kernel = await session([app("ringbuf_stream"), app("target")], 10, "kernel", {
        stopAfter: "event 9:",
      });
      expect(kernel.code).toBe(0);
      expect(normalise(kernel.out)).toBe(RINGBUF_OUTPUT);
    },
    T,
  );

  test.skipIf(kernelSkip)(
    "perf buffer stream",
    async () => {
      const kernel = await session([app("perfbuf_stream"), app("target")], 10, "kernel", {
        stopAfter: TEN_EVENTS,
      });
      expect(kernel.code).toBe(0);
      expect(sortedEvents(kernel.out)).toBe(PERFBUF_OUTPUT);
    },
    T,
  );

  test.skipIf(kernelSkip)("the loader probing itself", () => {
    const r = once([app("self_probe")], "kernel");
    expect(r.stdout).toBe(SELF_PROBE_OUTPUT);
    expect(r.code).toBe(0);
  });

  test.skipIf(kernelSkip)("batch map commands", () => {
    const r = once([app("batch")], "kernel");
    expect(r.stdout).toBe(BATCH_OUTPUT);
    expect(r.code).toBe(0);
  });

  test.skipIf(kernelSkip)("refused program: same error, same reason in the log", () => {
    const r = once([app("refused")], "kernel");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("load: -13\n");
    expect(r.stderr).toContain("invalid access to map value, value_size=8 off=64 size=8");
  });
});
