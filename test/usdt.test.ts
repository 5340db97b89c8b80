// USDT probes end to end: `.note.stapsdt` parsed as readelf shows it; a
// program built with libbpf's own usdt.bpf.h (examples/usdt.bpf.c: BPF_USDT,
// bpf_usdt_arg_cnt, bpf_usdt_cookie) on a <sys/sdt.h> target with
// two sites of one probe, register/memory/constant arguments of every width
// and a probe behind a semaphore (raised while attached, lowered on detach);
// then real binaries (Debian's python3.11, libstdc++'s throw/catch) and the
// same probes traced by the kernel (bpftrace), which must see the same
// counts and argument sums.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cli,
  cliEntry,
  compileBpf,
  repoRoot,
  run,
  skipReason,
  startProcess,
  waitUntil,
  compileNative,
} from "./helpers.ts";
import { kernelUnavailable } from "../src/verifier/testdata/kernel.ts";
import { usdtSites } from "../src/native/index.ts";
import { RUN_ID, runName } from "./run-id.ts";

const fixtures = join(import.meta.dir, "fixtures", "usdt");
const T = 90_000;
const N = 100;
const PYTHON = "/usr/bin/python3.11";
const LIBSTDCXX = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";

function toolMissing(): string | undefined {
  for (const tool of ["cc", "c++", "clang", "readelf"])
    if (!Bun.which(tool)) return `${tool} is not installed`;
  if (
    !existsSync("/usr/include/x86_64-linux-gnu/sys/sdt.h") &&
    !existsSync("/usr/include/sys/sdt.h")
  )
    return "no <sys/sdt.h> (apt-get install systemtap-sdt-dev)";
  if (!existsSync("/usr/include/bpf/usdt.bpf.h")) return "no <bpf/usdt.bpf.h> (libbpf-dev)";
  return undefined;
}
const skip = skipReason(toolMissing(), "USDT tests");

let dir = "";
let target = "";
let thrower = "";
let obj = "";
function compile(): void {
  if (dir) return;
  dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-usdt-`));
  target = join(dir, "target");
  compileNative([
    "cc",
    "-O2",
    "-g",
    "-o",
    target,
    join(fixtures, "target.c"),
    join(fixtures, "gated.c"),
  ]);
  thrower = join(dir, "thrower");
  compileNative(["c++", "-O2", "-o", thrower, join(fixtures, "thrower.cc")]);
  obj = join(dir, "stats.bpf.o");
  compileBpf(join(repoRoot, "examples", "usdt.bpf.c"), obj);
}
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const regions: string[] = [];
afterEach(() => {
  for (const r of regions.splice(0)) cli(["shm", "remove", "--shm", r]);
});

function ok(args: string[]): string {
  const r = cli(args);
  if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

interface Stats {
  hits: number;
  sum: number[];
  last: number[];
  arg_cnt: number;
  cookie: number;
}

/** A region with stats.bpf.o loaded and one usdt link per probe; returns the region. */
function loaded(probes: string[], cookie = 0): string {
  const shm = runName(`usdt-${Math.random().toString(36).slice(2, 8)}`);
  regions.push(shm);
  ok(["load", obj, "--shm", shm]);
  for (const p of probes)
    ok(["attach", "usdt_stats", "usdt", "--arg", p, "--cookie", String(cookie), "--shm", shm]);
  return shm;
}

function stats(shm: string): Stats {
  const rows = JSON.parse(ok(["map", "dump", "stats", "--json", "--shm", shm])).entries as {
    value: Stats;
  }[];
  return rows[0]!.value;
}

/** readelf -n: each stapsdt note's provider, name, location, semaphore and argument string. */
function readelfNotes(file: string) {
  const out = run(["readelf", "-n", file]).stdout;
  const re =
    /Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)\s+Arguments: ?([^\n]*)/g;
  return [...out.matchAll(re)].map((m) => ({
    provider: m[1]!,
    name: m[2]!,
    pc: BigInt(m[3]!),
    semaphore: BigInt(m[5]!),
    args: m[6]!.trim(),
  }));
}

const sum = (f: (i: number) => number) =>
  Array.from({ length: N }, (_, i) => f(i)).reduce((a, b) => a + b, 0);

describe.skipIf(skip)("usdt", () => {
  test("the note parser agrees with readelf on the fixture, python3.11 and libstdc++", () => {
    compile();
    const files = [target, ...[PYTHON, LIBSTDCXX].filter((f) => existsSync(f))];
    for (const file of files) {
      const notes = readelfNotes(file);
      expect(notes.length).toBeGreaterThan(0);
      const probes = new Set(notes.map((n) => `${n.provider}:${n.name}`));
      for (const probe of probes) {
        const [provider, name] = probe.split(":") as [string, string];
        const want = notes.filter((n) => n.provider === provider && n.name === name);
        const got = usdtSites(file, provider, name);
        expect(got.map((s) => [s.pc, s.semaphore])).toEqual(want.map((n) => [n.pc, n.semaphore]));
        // arg_cnt (offset 200 of the spec): one per word of the argument string
        for (let i = 0; i < got.length; i++) {
          const argCnt = new DataView(got[i]!.spec.buffer).getInt16(200, true);
          expect(argCnt).toBe(want[i]!.args ? want[i]!.args.split(/\s+/).length : 0);
        }
      }
    }
    const plain = readelfNotes(target).filter((n) => n.name === "plain");
    expect(plain).toHaveLength(2); // the fixture has the probe at two sites
  });

  test(
    "usdt.bpf.h reads register, memory and constant arguments at every site; bpf_usdt_cookie is --cookie",
    () => {
      compile();
      const shm = loaded([`${target}:bpftime_test:plain`], 99);
      const r = cli(["start", "--shm", shm, "--", target, "calls", String(N)]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("sema_enabled=0"); // no link on the gated probe
      const s = stats(shm);
      // plain(i, -i, (signed char)i, (short)-i, 2i as u64), both sites (odd and even i)
      expect(s.hits).toBe(N);
      expect(s.sum).toEqual([
        sum((i) => i),
        -sum((i) => i),
        sum((i) => i),
        -sum((i) => i),
        2 * sum((i) => i),
        0,
      ]);
      expect(s.last).toEqual([N - 1, -(N - 1), N - 1, -(N - 1), 2 * (N - 1), 0]);
      expect(s.arg_cnt).toBe(5);
      expect(s.cookie).toBe(99);

      const mem = loaded([`${target}:bpftime_test:mem`]);
      expect(cli(["start", "--shm", mem, "--", target, "calls", String(N)]).code).toBe(0);
      const m = stats(mem);
      expect(m.hits).toBe(N);
      expect(m.sum.slice(0, 3)).toEqual([3 * sum((i) => i), 42 * N, -7 * N]); // stack, $42, $-7
      expect(m.arg_cnt).toBe(3);
    },
    T,
  );

  test(
    "a probe behind a semaphore fires while linked: raised on attach, lowered on detach",
    async () => {
      compile();
      const shm = loaded([`${target}:bpftime_test:gated`]);
      const r = cli(["start", "--shm", shm, "--", target, "calls", String(N)]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("sema_enabled=1");
      expect(stats(shm)).toMatchObject({ hits: N, arg_cnt: 1 });
      expect(stats(shm).sum[0]).toBe(sum((i) => i));

      // Detached while the process runs: the semaphore goes back to 0.
      const shm2 = loaded([`${target}:bpftime_test:gated`]);
      const go = join(dir, `go-${Math.random().toString(36).slice(2, 8)}`);
      const p = startProcess([
        process.execPath,
        cliEntry,
        "start",
        "--shm",
        shm2,
        "--",
        target,
        "wait",
        go,
      ]);
      await waitUntil("the target to start", () => /ready pid=\d+/.test(p.output()));
      const pid = Number(/ready pid=(\d+)/.exec(p.output())![1]);
      const linkPids = () =>
        (
          JSON.parse(ok(["list", "--json", "--shm", shm2])) as { links: { pids: number[] }[] }
        ).links.flatMap((l) => l.pids);
      await waitUntil("the link to be hooked in the target", () => linkPids().includes(pid));
      ok(["detach", "1", "--shm", shm2]);
      await waitUntil("the agent to unhook", () => {
        const inst = JSON.parse(ok(["list", "--json", "--shm", shm2])) as {
          instances: { pid: number; links: number[] }[];
        };
        return inst.instances.some((i) => i.pid === pid && i.links.length === 0);
      });
      writeFileSync(go, "");
      await waitUntil("the target to finish", () => /done pid/.test(p.output()));
      expect(p.output()).toContain("sema_enabled=0");
      expect(stats(shm2).hits).toBe(0);
    },
    T,
  );

  test(
    "SEC(\"usdt/BINARY:PROVIDER:NAME\") names its target; each site's cookie is the link's + its index",
    () => {
      compile();
      const o = join(dir, "plain.bpf.o");
      compileBpf(join(fixtures, "plain.bpf.c"), o);
      const shm = runName(`usdt-sec-${Math.random().toString(36).slice(2, 8)}`);
      regions.push(shm);
      ok(["load", o, "--shm", shm]);
      const progs = (
        JSON.parse(ok(["list", "--json", "--shm", shm])) as {
          programs: { name: string; type: string; attachHint: string }[];
        }
      ).programs;
      expect(progs.find((p) => p.name === "count_throw")).toMatchObject({
        type: "usdt",
        attachHint: "usdt libstdc++.so.6:libstdcxx:throw",
      });
      ok(["attach", "count_throw", "usdt", "--shm", shm]); // no --arg: from the SEC name
      expect(cli(["start", "--shm", shm, "--", thrower, String(N)]).stdout).toContain(
        `caught=${N}`,
      );
      const dump = () =>
        new Map(
          (
            JSON.parse(ok(["map", "dump", "counts", "--json", "--shm", shm])).entries as {
              key: number;
              value: number;
            }[]
          ).map((r) => [r.key, r.value]),
        );
      expect(dump().get(0)).toBe(N);

      const shm2 = runName(`usdt-ck-${Math.random().toString(36).slice(2, 8)}`);
      regions.push(shm2);
      ok(["load", o, "--shm", shm2]);
      ok([
        "attach",
        "sum_cookies",
        "usdt",
        "--arg",
        `${target}:bpftime_test:plain`,
        "--cookie",
        "1000",
        "--shm",
        shm2,
      ]);
      expect(cli(["start", "--shm", shm2, "--", target, "calls", String(N)]).code).toBe(0);
      const rows = JSON.parse(ok(["map", "dump", "counts", "--json", "--shm", shm2])).entries as {
        key: number;
        value: number;
      }[];
      const m = new Map(rows.map((r) => [r.key, r.value]));
      expect(m.get(0)).toBe(N);
      // even i at one site, odd i at the other: cookies 1000 and 1001, N/2 times each
      expect(m.get(1)).toBe(1000 * N + N / 2);
    },
    T,
  );

  test("a probe the binary does not have, or a malformed target, is refused in one line", () => {
    compile();
    const shm = loaded([]);
    for (const [arg, text] of [
      [`${target}:bpftime_test:nope`, "no USDT probe bpftime_test:nope"],
      [`${target}:plain`, "expected BINARY:PROVIDER:NAME"],
      [`${dir}/missing:p:n`, "no such file"],
    ] as const) {
      const r = cli(["attach", "usdt_stats", "usdt", "--arg", arg, "--shm", shm]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(text);
    }
  });
});

// ---- the kernel (bpftrace) as the oracle ---------------------------------------

function kernelRefuses(): string | undefined {
  if (!Bun.which("bpftrace")) return "bpftrace is not installed";
  if (process.getuid?.() !== 0) return "not root (bpftrace needs CAP_BPF/CAP_PERFMON)";
  if (!existsSync("/sys/bus/event_source/devices/uprobe/type")) return "no uprobe PMU";
  if (!/ \/sys\/fs\/bpf bpf /.test(readFileSync("/proc/mounts", "utf8")))
    return "no bpffs at /sys/fs/bpf";
  const refused = kernelUnavailable();
  return refused ? `the kernel refuses BPF_PROG_LOAD: ${refused}` : toolMissing();
}
const noKernel = skipReason(kernelRefuses(), "USDT vs the kernel (bpftrace, kernel uprobes)");

/** Runs `cmd` under bpftrace with one probe; hits and the u64 sums of the first `nargs` arguments. */
function bpftrace(probe: string, nargs: number, cmd: string[], env: Record<string, string> = {}) {
  const out = join(dir, `bpftrace-${Math.random().toString(36).slice(2, 8)}.txt`);
  const sums = Array.from({ length: nargs }, (_, i) => `@s${i} = sum(arg${i});`).join(" ");
  const script = `usdt:${probe} { @hits = count(); ${sums} }`;
  const r = run(["bpftrace", "-q", "-o", out, "-e", script, "-c", cmd.join(" ")], { env });
  if (r.code !== 0) throw new Error(`bpftrace: ${r.stderr}`);
  const text = readFileSync(out, "utf8");
  const val = (k: string) => BigInt(new RegExp(`^@${k}: (\\d+)$`, "m").exec(text)?.[1] ?? "0");
  return { hits: Number(val("hits")), sums: Array.from({ length: nargs }, (_, i) => val(`s${i}`)) };
}

/** The same under bpftime: hits and the sums as u64 (bpftrace's sum() is unsigned). */
function bpftime(probe: string, nargs: number, cmd: string[], env: Record<string, string> = {}) {
  const shm = loaded([probe]);
  const r = cli(["start", "--shm", shm, "--", ...cmd], { env });
  expect(r.code).toBe(0);
  const s = stats(shm);
  return { hits: s.hits, sums: s.sum.slice(0, nargs).map((v) => BigInt.asUintN(64, BigInt(v))) };
}

describe.skipIf(skip || noKernel)("usdt vs the kernel", () => {
  for (const [probe, nargs] of [
    ["plain", 5],
    ["mem", 3],
    ["gated", 1],
  ] as const)
    test(
      `bpftime_test:${probe}: the same hits and argument sums`,
      () => {
        compile();
        const cmd = [target, "calls", String(N)];
        const k = bpftrace(`${target}:bpftime_test:${probe}`, nargs, cmd);
        expect(k.hits).toBe(N);
        expect(bpftime(`${target}:bpftime_test:${probe}`, nargs, cmd)).toEqual(k);
      },
      T,
    );

  const script =
    "import gc\ngc.disable()\ndef f(n):\n    return n + 1\nfor i in range(50):\n    f(i)\nfor i in range(3):\n    gc.collect()\n";
  const py = () => {
    const file = join(dir, "script.py");
    writeFileSync(file, script);
    return [PYTHON, "-I", "-S", file];
  };
  const pyEnv = { PYTHONHASHSEED: "0" };
  test.skipIf(!existsSync(PYTHON))(
    "python3.11 function__entry (semaphore): the same calls and line numbers",
    () => {
      compile();
      const k = bpftrace(`${PYTHON}:python:function__entry`, 3, py(), pyEnv);
      // 3.11 fires it per C-level entry into the eval loop (not per inlined
      // Python-to-Python call): few, but only while the semaphore is raised.
      expect(k.hits).toBeGreaterThan(0);
      const u = bpftime(`${PYTHON}:python:function__entry`, 3, py(), pyEnv);
      expect(u.hits).toBe(k.hits);
      expect(u.sums[2]).toBe(k.sums[2]); // lineno; [0], [1] are pointers (ASLR)
    },
    T,
  );

  test.skipIf(!existsSync(PYTHON))(
    "python3.11 gc__start (semaphore): the same collections and generations",
    () => {
      compile();
      const k = bpftrace(`${PYTHON}:python:gc__start`, 1, py(), pyEnv);
      expect(k.hits).toBeGreaterThanOrEqual(3);
      expect(bpftime(`${PYTHON}:python:gc__start`, 1, py(), pyEnv)).toEqual(k);
    },
    T,
  );

  // bpftrace (0.17) cannot place probes in libstdc++: the kernel oracle is a
  // kernel uprobe (`attach --kernel`) at each site the note parser found —
  // the same addresses readelf shows (first test).
  for (const name of ["throw", "catch"])
    test(
      `libstdc++ libstdcxx:${name}: every exception of a C++ program`,
      () => {
        compile();
        const cmd = [thrower, String(N)];
        const env = { BPFTIME_BPFFS: `/sys/fs/bpf/bpftime-${runName("usdt")}` };
        const counter = join(dir, "count.bpf.o");
        compileBpf(join(import.meta.dir, "fixtures", "trap", "probe.bpf.c"), counter);
        const kname = `usdt${Math.random().toString(36).slice(2, 8)}`;
        const kok = (args: string[]) => {
          const r = cli(args, { env });
          if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: ${r.stderr}`);
          return r.stdout;
        };
        let kernelHits = 0;
        try {
          kok(["load", "--kernel", counter, "--name", kname]);
          for (const site of usdtSites(LIBSTDCXX, "libstdcxx", name))
            kok([
              "attach",
              "--kernel",
              `${kname}/probe`,
              "uprobe",
              "--arg",
              `${LIBSTDCXX}:0x${site.pc.toString(16)}`,
            ]);
          expect(run(cmd).code).toBe(0);
          const rows = JSON.parse(kok(["map", "dump", "--kernel", `${kname}/seen`, "--json"]))
            .entries as {
            key: number;
            value: number;
          }[];
          kernelHits = rows.find((r) => r.key === 0)!.value;
        } finally {
          cli(["shm", "remove", "--kernel", kname], { env });
          rmSync(env.BPFTIME_BPFFS, { recursive: true, force: true });
        }
        expect(kernelHits).toBe(N);
        expect(bpftime(`libstdc++.so.6:libstdcxx:${name}`, 0, cmd).hits).toBe(kernelHits);
      },
      T,
    );
});
