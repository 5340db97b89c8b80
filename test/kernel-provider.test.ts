// The kernel event provider (`--kernel`): load, attach, detach, list, map
// dump and remove against the real kernel through libbpf and bpffs pins, on
// a target compiled here (test/fixtures/kernel/target.c) whose noinline
// work() is called exactly N times, so counts are exact. Also: the same
// object under the userspace provider (`bpftime start`) counts the same.
//
// Pins go under a private root ($BPFTIME_BPFFS=/sys/fs/bpf/bpftime-test-PID-…)
// removed at the end, so concurrent runs and real users never collide.
// Skipped, with the reason printed, where the kernel refuses: not root, no
// bpffs, no libbpf, BPF_PROG_LOAD refused.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cli, cliEntry, repoRoot, run, skipReason } from "./helpers.ts";
import {
  kernelUprobesUnavailable,
  privateBpffs,
  uprobeFixtureUnlessSkipped,
} from "./uprobe-fixture.ts";
import { benchKernelUprobe } from "../bench/uprobe/kernel.ts";
import { runName } from "./run-id.ts";
import { resolveUprobeAddress } from "../src/native/index.ts";

const fixtures = join(import.meta.dir, "fixtures", "kernel");
const T = 60_000;
const N = 1234;

const { root, env } = privateBpffs();
const skip = skipReason(kernelUprobesUnavailable(), "kernel provider tests");
const { dir, target, obj } = uprobeFixtureUnlessSkipped(
  skip,
  "kernel",
  join(fixtures, "target.c"),
  {
    count: join(fixtures, "count.bpf.c"),
    bad: join(fixtures, "bad.bpf.c"),
    malloc: join(repoRoot, "examples", "malloc.bpf.c"),
  },
);

/** Runs the CLI against the private pin root; throws with its stderr on failure. */
function ok(...args: string[]): string {
  const r = cli(args, { env });
  if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function fails(...args: string[]): { code: number; stderr: string } {
  const r = cli(args, { env });
  expect(r.code).not.toBe(0);
  // One clear line, no stack trace.
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toStartWith("bpftime: ");
  return r;
}

const loaded = new Set<string>();
afterEach(() => {
  for (const n of loaded) cli(["shm", "remove", "--kernel", n], { env });
  loaded.clear();
});

interface Loaded {
  region: string;
  programs: Array<{ id: number; name: string; section: string; type: string; insnCount: number }>;
  maps: Array<{ id: number; name: string; type: string }>;
}

function load(file: string, name?: string): Loaded {
  const r = JSON.parse(
    ok("load", "--kernel", file, ...(name ? ["--name", name] : []), "--json"),
  ) as Loaded;
  loaded.add(r.region);
  return r;
}

function attach(prog: string, type: string, arg?: string, cookie?: number): number {
  const args = ["attach", "--kernel", prog, type, "--json"];
  if (arg) args.push("--arg", arg);
  if (cookie !== undefined) args.push("--cookie", String(cookie));
  return (JSON.parse(ok(...args)) as { linkId: number }).linkId;
}

function dump(map: string): Map<number, number> {
  const rows = JSON.parse(ok("map", "dump", "--kernel", map, "--json")).entries as Array<{
    key: number;
    value: number;
  }>;
  return new Map(rows.map((r) => [r.key, r.value]));
}

/** Runs the target to completion; returns its pid. */
function runTarget(mode: string, n: number): number {
  const r = run([target, mode, String(n)]);
  expect(r.code).toBe(0);
  return Number(/done pid=(\d+)/.exec(r.stdout)![1]);
}

interface Snapshot {
  programs: Array<{ id: number; name: string; region: string; links: number[] }>;
  maps: Array<{ id: number; name: string; region: string }>;
  links: Array<{ id: number; progId: number; targetType: string; arg: string }>;
}

const list = () => JSON.parse(ok("list", "--kernel", "--json")) as Snapshot;

describe.skipIf(skip)("kernel provider", () => {
  test("load pins programs and maps and prints kernel ids; list shows them", () => {
    const r = load(obj("count"));
    expect(r.region).toBe("count");
    expect(r.programs.map((p) => p.name).sort()).toEqual(["count_work", "work_ret"]);
    expect(r.programs.find((p) => p.name === "count_work")).toMatchObject({
      section: "uprobe",
      type: "uprobe",
    });
    expect(r.maps.map((m) => m.name).sort()).toEqual(["calls", "cookies", "hits", "rets"]);
    for (const p of r.programs) {
      expect(p.id).toBeGreaterThan(0);
      expect(existsSync(join(root, "count", "progs", p.name))).toBe(true);
    }
    const s = list();
    for (const p of r.programs) expect(s.programs.some((x) => x.id === p.id)).toBe(true);
    for (const m of r.maps)
      expect(s.maps.find((x) => x.id === m.id)).toMatchObject({ name: m.name, region: "count" });
    // Loading again under the same name is refused; another name works.
    const again = fails("load", "--kernel", obj("count"));
    expect(again.code).toBe(8);
    expect(again.stderr).toContain("already loaded");
    expect(load(obj("count"), "count2").region).toBe("count2");
    // Names in two objects need OBJECT/NAME (or an id).
    const amb = fails("map", "dump", "--kernel", "calls");
    expect(amb.stderr).toContain("use count/calls or count2/calls");
    expect(dump("count2/calls").size).toBe(0);
    // …and a kernel id names one map.
    const id = r.maps.find((m) => m.name === "calls")!.id;
    expect(dump(String(id)).size).toBe(0);
  });

  test(
    `a uprobe counts exactly ${N} calls per pid; the uretprobe sees the return value`,
    () => {
      load(obj("count"));
      const link = attach("count_work", "uprobe", `${target}:work`, 77);
      const ret = attach("work_ret", "uretprobe", `${target}:work`);
      expect(link).toBeGreaterThan(0);
      expect(existsSync(join(root, "count", "links", String(link)))).toBe(true);
      const a = runTarget("work", N);
      const b = runTarget("work", 7);
      const calls = dump("calls");
      expect(calls.get(a)).toBe(N);
      expect(calls.get(b)).toBe(7);
      expect(dump("rets").get(a)).toBe((N - 1) * 3);
      expect(dump("cookies").get(a)).toBe(77);
      // Per-CPU array: one value per possible CPU, summing to every call.
      const hits = JSON.parse(ok("map", "dump", "--kernel", "hits", "--json")).entries as Array<{
        key: number;
        value: number[];
      }>;
      expect(hits).toHaveLength(1);
      expect(hits[0]!.value.length).toBeGreaterThanOrEqual(1);
      expect(hits[0]!.value.reduce((x, y) => x + y, 0)).toBe(N + 7);
      const s = list();
      expect(s.links.find((l) => l.id === link)).toMatchObject({
        targetType: "uprobe",
        arg: "target:work",
      });
      expect(s.links.find((l) => l.id === ret)?.targetType).toBe("uretprobe");
      expect(s.programs.find((p) => p.name === "count_work")!.links).toEqual([link]);
    },
    T,
  );

  test(
    "detach stops counting; the other link keeps running",
    () => {
      load(obj("count"));
      const link = attach("count_work", "uprobe", `${target}:work`);
      attach("work_ret", "uretprobe", `${target}:work`);
      const d = JSON.parse(ok("detach", "--kernel", String(link), "--json")) as {
        linkId: number;
        freed: boolean;
      };
      expect(d).toMatchObject({ linkId: link, freed: true });
      expect(existsSync(join(root, "count", "links", String(link)))).toBe(false);
      const pid = runTarget("work", 50);
      expect(dump("calls").has(pid)).toBe(false);
      expect(dump("rets").get(pid)).toBe(49 * 3);
      expect(list().links.some((l) => l.id === link)).toBe(false);
      // Detaching it again: not found.
      expect(fails("detach", "--kernel", String(link)).code).toBe(3);
    },
    T,
  );

  test(
    "the malloc example attaches to its SEC() target and counts a process's mallocs",
    () => {
      load(join(dir, "malloc.bpf.o"));
      const link = attach("count_malloc", "uprobe"); // SEC("uprobe/libc.so.6:malloc")
      expect(list().links.find((l) => l.id === link)?.arg).toBe("libc.so.6:malloc");
      const pid = runTarget("malloc", N);
      // libc and the loader malloc too (stdio buffers…): at least N.
      const n = dump("malloc_calls").get(pid) ?? 0;
      expect(n).toBeGreaterThanOrEqual(N);
      expect(n).toBeLessThan(N + 200);
    },
    T,
  );

  test(
    "replace --kernel moves a probe to another program: same probe and cookie, new link, old one gone",
    () => {
      load(obj("count"));
      const other = load(obj("count"), "count2");
      const old = attach("count/count_work", "uprobe", `${target}:work`, 77);
      const r = JSON.parse(ok("replace", "--kernel", String(old), "count2/count_work", "--json"));
      const newProg = other.programs.find((p) => p.name === "count_work")!.id;
      expect(r).toMatchObject({ oldLinkId: old, newProgId: newProg, region: "count2" });
      expect(r.linkId).not.toBe(old);
      // bpftool: the new link runs count2's program; the old link is gone
      const shown = JSON.parse(
        run(["bpftool", "link", "show", "id", String(r.linkId), "-j"]).stdout,
      );
      expect(shown.prog_id).toBe(newProg);
      expect(run(["bpftool", "link", "show", "id", String(old)]).code).not.toBe(0);
      expect(existsSync(join(root, "count", "links", String(old)))).toBe(false);
      expect(existsSync(join(root, "count2", "links", String(r.linkId)))).toBe(true);
      // the hits now count in count2's maps, with the link's cookie
      const pid = runTarget("work", N);
      expect(dump("count/calls").has(pid)).toBe(false);
      expect(dump("count2/calls").get(pid)).toBe(N);
      expect(dump("count2/cookies").get(pid)).toBe(77);
      // the replaced link is gone: replacing it again is not found
      expect(fails("replace", "--kernel", String(old), "count2/count_work").code).toBe(3);
    },
    T,
  );

  test("unload --kernel: refused while linked; then the program and the map pins only it used go", () => {
    const r = load(obj("count"));
    const link = attach("count_work", "uprobe", `${target}:work`);
    const busy = fails("unload", "--kernel", "count_work");
    expect(busy.code).toBe(8);
    expect(busy.stderr).toContain(`is still linked (links ${link})`);
    ok("detach", "--kernel", String(link));
    const prog = r.programs.find((p) => p.name === "count_work")!.id;
    const mapId = (n: string) => r.maps.find((m) => m.name === n)!.id;
    const u = JSON.parse(ok("unload", "--kernel", "count_work", "--json"));
    // count_work alone used calls, cookies and hits; work_ret still uses rets
    expect(u).toEqual({
      deleted: prog,
      region: "count",
      maps: ["calls", "cookies", "hits"].map(mapId).sort((a, b) => a - b),
    });
    expect(existsSync(join(root, "count", "progs", "count_work"))).toBe(false);
    for (const m of ["calls", "cookies", "hits"])
      expect(existsSync(join(root, "count", "maps", m))).toBe(false);
    // bpftool still finds the map work_ret uses at its pin
    const rets = JSON.parse(
      run(["bpftool", "map", "show", "pinned", join(root, "count", "maps", "rets"), "-j"]).stdout,
    );
    expect(rets.id).toBe(mapId("rets"));
    expect(list().programs.map((p) => p.name)).toEqual(["work_ret"]);
    // the last program takes the object with it
    ok("unload", "--kernel", "work_ret");
    expect(existsSync(join(root, "count"))).toBe(false);
    expect(fails("unload", "--kernel", "work_ret").code).toBe(3);
  });

  test("map lookup, update and delete --kernel act on the pinned kernel map, as on a region's", () => {
    load(join(dir, "malloc.bpf.o"));
    const m = "malloc_calls";
    // bpftool reads the kernel map independently of us.
    const bpftoolHas = () =>
      run(["bpftool", "map", "dump", "pinned", join(root, "malloc", "maps", m), "-j"]).stdout;
    expect(ok("map", "update", "--kernel", m, "4242", "7").trim()).toBe("updated");
    expect(JSON.parse(ok("map", "lookup", "--kernel", m, "4242", "--json"))).toEqual({
      key: 4242,
      value: 7,
    });
    expect(bpftoolHas()).toMatch(/"key":4242,"value":7|"key":\["0x92","0x10"/);
    expect(dump(m).get(4242)).toBe(7);
    // BPF_NOEXIST on a present key: refused by the kernel, exit 8 (exists).
    expect(fails("map", "update", "--kernel", m, "4242", "8", "--flag", "noexist").code).toBe(8);
    expect(ok("map", "delete", "--kernel", m, "4242").trim()).toBe("deleted");
    expect(fails("map", "lookup", "--kernel", m, "4242").code).toBe(3);
    expect(fails("map", "delete", "--kernel", m, "4242").code).toBe(3);
    expect(fails("map", "lookup", "--kernel", m, "1", "--shm", "x").code).toBe(2);
  });

  test(
    "removing an object detaches its links and frees its pins",
    () => {
      load(obj("count"));
      const link = attach("count_work", "uprobe", `${target}:work`);
      const r = JSON.parse(ok("shm", "remove", "--kernel", "count", "--json")) as {
        links: number[];
      };
      loaded.delete("count");
      expect(r.links).toEqual([link]);
      expect(existsSync(join(root, "count"))).toBe(false);
      expect(list().links).toHaveLength(0);
    },
    T,
  );

  test("an IFUNC (libc's strlen) is probed at the implementation the userspace provider picks", () => {
    load(obj("count"));
    const r = JSON.parse(
      ok("attach", "--kernel", "count_work", "uprobe", "--arg", "libc.so.6:strlen", "--json"),
    ) as { linkId: number; file: string; offset: number };
    // The userspace provider's resolution in this process, as a file offset.
    const { addr } = resolveUprobeAddress("libc.so.6:strlen");
    const mapping = readFileSync("/proc/self/maps", "utf8")
      .split("\n")
      .map((l) => /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \S+\s+(\/.*)$/.exec(l))
      .find((m) => m && addr >= BigInt(`0x${m[1]}`) && addr < BigInt(`0x${m[2]}`))!;
    expect(r.file).toBe(mapping[4]!);
    expect(BigInt(r.offset)).toBe(addr - BigInt(`0x${mapping[1]}`) + BigInt(`0x${mapping[3]}`));
    // Not the resolver the IFUNC symbol points at: list does not name it strlen.
    expect(list().links.find((l) => l.id === r.linkId)?.arg).not.toBe("libc.so.6:strlen");
  });

  test("bad input is one clear line with a non-zero exit", () => {
    // Nothing loaded yet.
    expect(fails("map", "dump", "--kernel", "calls").stderr).toContain("no kernel objects");
    expect(fails("shm", "remove", "--kernel", "nosuch").code).toBe(3);
    load(obj("count"));
    const unknown = fails("attach", "--kernel", "nosuch", "uprobe", "--arg", `${target}:work`);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('no kernel program named "nosuch"');
    expect(fails("attach", "--kernel", "999999999", "uprobe", "--arg", `${target}:work`).code).toBe(
      3,
    );
    // Bad targets: no such function, no such file, no BINARY:SYMBOL, IFUNC-free nothing.
    const nofn = fails("attach", "--kernel", "count_work", "uprobe", "--arg", `${target}:nosuchfn`);
    expect(nofn.code).toBe(3);
    expect(nofn.stderr).toContain("symbol nosuchfn not found in");
    expect(
      fails("attach", "--kernel", "count_work", "uprobe", "--arg", "/nonexistent/bin:main").code,
    ).toBe(3);
    expect(fails("attach", "--kernel", "count_work", "uprobe", "--arg", "work").code).toBe(4);
    // SEC("uprobe") names no target: --arg is needed.
    expect(fails("attach", "--kernel", "count_work", "uprobe").code).toBe(2);
    expect(fails("attach", "--kernel", "count_work", "nginx", "--arg", "/x").code).toBe(9);
    expect(fails("detach", "--kernel", "abc").code).toBe(2);
    expect(fails("map", "dump", "--kernel", "nosuch").code).toBe(3);
    expect(fails("load", "--kernel", join(dir, "missing.o")).code).toBe(3);
    expect(fails("load", "--kernel", obj("count"), "--name", "../evil").code).toBe(4);
    expect(fails("load", "--kernel", target).code).not.toBe(0);
    // The kernel verifier's refusal: exit 6 with the verifier's last words.
    const bad = fails("load", "--kernel", obj("bad"));
    expect(bad.code).toBe(6);
    expect(bad.stderr).toContain("no_null_check");
    expect(bad.stderr).toContain("invalid mem access");
    expect(existsSync(join(root, "bad"))).toBe(false);
  });

  test(
    "benchmark hook: an empty kernel uprobe and uretprobe on an empty function",
    () => {
      // Numbers only: speed is compared in bench/, never asserted here.
      const r = benchKernelUprobe(2_000);
      for (const v of [r.baselineNs, r.uprobeNs, r.uretprobeNs]) {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThan(0);
      }
      console.log(
        `kernel uprobe: ${r.baselineNs.toFixed(1)} ns/call unhooked, ${r.uprobeNs.toFixed(0)} uprobe, ${r.uretprobeNs.toFixed(0)} uretprobe`,
      );
    },
    T,
  );

  // The same object under the userspace provider (LD_PRELOAD agent,
  // `bpftime start`): the same target run gives the same per-pid counts and
  // return values. One after the other: with a kernel uprobe on work(), the
  // userspace patcher finds the kernel's int3 there and refuses to hook.
  test(
    "the same program counts the same under the kernel and the userspace provider",
    () => {
      load(obj("count"));
      const links = [
        attach("count_work", "uprobe", `${target}:work`),
        attach("work_ret", "uretprobe", `${target}:work`),
      ];
      const kpid = runTarget("work", N);
      for (const l of links) ok("detach", "--kernel", String(l));
      const shm = runName(`kp-${Math.random().toString(36).slice(2, 8)}`);
      try {
        const u = (...a: string[]) => {
          const r = cli([...a, "--shm", shm]);
          if (r.code !== 0) throw new Error(`bpftime ${a.join(" ")}: ${r.stderr}`);
          return r.stdout;
        };
        u("load", obj("count"));
        u("attach", "count_work", "uprobe", "--arg", `${target}:work`);
        u("attach", "work_ret", "uretprobe", "--arg", `${target}:work`);
        const r = run([
          process.execPath,
          cliEntry,
          "start",
          "--shm",
          shm,
          "--",
          target,
          "work",
          String(N),
        ]);
        expect(r.code).toBe(0);
        const pid = Number(/done pid=(\d+)/.exec(r.stdout)![1]);
        const userDump = (m: string) =>
          new Map(
            (
              JSON.parse(u("map", "dump", m, "--json")).entries as Array<{
                key: number;
                value: number;
              }>
            ).map((e) => [e.key, e.value]),
          );
        expect(dump("calls").get(kpid)).toBe(N);
        expect(userDump("calls").get(pid)).toBe(N);
        expect(userDump("rets").get(pid)).toBe(dump("rets").get(kpid)!);
        // The kernel saw nothing of the userspace run (its links are gone).
        expect(dump("calls").has(pid)).toBe(false);
      } finally {
        cli(["shm", "remove", "--shm", shm]);
      }
    },
    T,
  );
});
