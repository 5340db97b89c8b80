// Syscall targets (sys_enter / sys_exit) in real processes, against the
// kernel: examples/opensnoop.bpf.c and examples/syscount.bpf.c run inside a
// deterministic process (test/fixtures/syscall/sysfix.c) with the agent
// (`bpftime start`), and the same objects run in the kernel on the same
// process (test/fixtures/syscall/kload.c: libbpf, auto-attach). Both count
// only threads named COMM, which the fixture takes for its deterministic
// part. Also: bpf_override_return skips a syscall, a link made while the
// process runs catches its existing thread and a thread started later, and
// the agent's own syscalls are never seen. The kernel half is skipped, with
// the reason printed, where the kernel cannot run the programs.
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
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
import { RUN_ID, runName } from "./run-id.ts";

const T = 60_000;
const fixtures = join(import.meta.dir, "fixtures", "syscall");
const COMM = `sfx${process.pid % 100000}`;
const N_FILES = 4;

/** The environment only (compilers, the agent's kernel feature). */
function toolMissing(): string | undefined {
  for (const tool of ["cc", "clang"]) if (!Bun.which(tool)) return `${tool} is not installed`;
  const sud = run(["sh", "-c", "grep -q ' syscall_user_dispatch' /proc/kallsyms && echo y"]);
  if (process.getuid?.() === 0 && !sud.stdout.includes("y"))
    return "the kernel has no Syscall User Dispatch (Linux 5.11+)";
  return undefined;
}
const skip = skipReason(toolMissing(), "syscall target tests");

let dir = "";
let sysfix = "";
let kload = "";
let files = "";
const obj = (name: string) => join(dir, `${name}.bpf.o`);

function compile(): void {
  if (dir) return;
  dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-syscall-`));
  sysfix = join(dir, "sysfix");
  compileNative(["cc", "-O2", "-o", sysfix, join(fixtures, "sysfix.c"), "-lpthread"]);
  compileBpf(join(repoRoot, "examples", "opensnoop.bpf.c"), obj("opensnoop"));
  compileBpf(join(repoRoot, "examples", "syscount.bpf.c"), obj("syscount"));
  compileBpf(join(fixtures, "override.bpf.c"), obj("override"));
  compileBpf(join(fixtures, "mixed.bpf.c"), obj("mixed"));
  compileBpf(join(fixtures, "ksys.bpf.c"), obj("ksys"));
  compileBpf(join(fixtures, "comm_uprobe.bpf.c"), obj("comm_uprobe"));
  files = join(dir, "files");
  mkdirSync(files);
  for (let i = 0; i < N_FILES; i++) writeFileSync(join(files, `file${i}`), "x");
  for (const t of ["thread0", "thread1"]) writeFileSync(join(files, t), "x");
}

/** An independent probe: can this kernel load and attach the programs (libbpf)? */
function kernelRefuses(): string | undefined {
  if (process.getuid?.() !== 0) return "not root (bpf() needs CAP_BPF/CAP_PERFMON)";
  if (!existsSync("/usr/include/bpf/libbpf.h")) return "libbpf-dev is not installed";
  const events = "/sys/kernel/tracing/events/syscalls";
  if (!existsSync(events)) run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"]);
  if (!existsSync(events)) return `no syscall tracepoints (${events}: tracefs, FTRACE_SYSCALLS)`;
  compile();
  kload = join(dir, "kload");
  const cc = run(["cc", "-O2", "-o", kload, join(fixtures, "kload.c"), "-lbpf"]);
  if (cc.code !== 0) return `cannot build the libbpf loader: ${cc.stderr.trim()}`;
  const p = Bun.spawnSync([kload, obj("syscount"), "probe"], { timeout: 5000 });
  if (!p.stdout.toString().includes("attached"))
    return `the kernel refuses the programs: ${p.stderr.toString().trim()}`;
  return undefined;
}

/** An independent probe: can libbpf attach a ksyscall (a kprobe on the syscall) here? */
function kprobeRefuses(): string | undefined {
  if (!kload) return "no kernel loader";
  const p = Bun.spawnSync([kload, obj("ksys"), "probe"], { timeout: 5000 });
  if (!p.stdout.toString().includes("attached"))
    return `libbpf cannot attach a ksyscall here: ${p.stderr.toString().trim().split("\n")[0]}`;
  return undefined;
}

const regions = new Set<string>();
function newRegion(): string {
  const r = runName(`sc-${Math.random().toString(36).slice(2, 8)}`);
  regions.add(r);
  return r;
}
afterEach(() => {
  for (const r of regions) cli(["shm", "remove", "--shm", r]);
  regions.clear();
  if (files) for (const f of ["created", "go"]) rmSync(join(files, f), { force: true });
});

function ok(args: string[]): string {
  const r = cli(args);
  if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Loads `name` into region r, names COMM in its filter map (unless ""), links `progs`. */
function loadAndAttach(r: string, name: string, progs: string[], comm = COMM): number[] {
  const loaded = JSON.parse(ok(["load", obj(name), "--shm", r, "--json"])) as {
    maps: { id: number; name: string }[];
  };
  const filter = loaded.maps.find((m) => m.name === "filter_comm");
  if (filter && comm)
    ok(["map", "update", String(filter.id), "0", JSON.stringify({ comm }), "--shm", r]);
  return progs.map(
    (p) =>
      (JSON.parse(ok(["attach", p, "syscall", "--shm", r, "--json"])) as { linkId: number }).linkId,
  );
}

function dumpById(r: string, name: string): { key: unknown; value: unknown }[] {
  const list = JSON.parse(ok(["list", "--shm", r, "--json"])) as {
    maps: { id: number; name: string }[];
  };
  const m = list.maps.filter((x) => x.name === name);
  if (m.length !== 1) throw new Error(`region ${r} has ${m.length} maps named ${name}`);
  return JSON.parse(ok(["map", "dump", String(m[0]!.id), "--shm", r, "--json"])).entries;
}

/** syscall number -> calls */
type Counts = Map<number, number>;
/** file name -> calls, result (an fd is "fd": numbers differ between processes), flags */
type Opens = Map<string, { calls: number; ret: number | "fd"; flags: number }>;

const cString = (bytes: number[]) =>
  Buffer.from(bytes.slice(0, bytes.indexOf(0) < 0 ? bytes.length : bytes.indexOf(0))).toString();

function bpftimeCounts(r: string): Counts {
  return new Map(
    (dumpById(r, "counts") as { key: number; value: number }[]).map((e) => [e.key, e.value]),
  );
}

function bpftimeOpens(r: string): Opens {
  const rows = dumpById(r, "opens") as {
    key: { name: number[] | string };
    value: { calls: number; last_ret: number; flags: number };
  }[];
  // The key is cut at its NUL: bpf_probe_read_user_str still copies the
  // bytes after it here (issue 12, "Helpers": fixed by the helpers work).
  return new Map(
    rows.map((e) => [
      // BTF prints a char array as a string when it is one (all zero after the NUL)
      typeof e.key.name === "string" ? e.key.name : cString(e.key.name.map((b) => b & 0xff)),
      {
        calls: e.value.calls,
        ret: e.value.last_ret >= 0 ? "fd" : e.value.last_ret,
        flags: e.value.flags,
      },
    ]),
  );
}

/** Runs the fixture with the agent on region r; returns its output lines. */
function startFixture(r: string): string[] {
  const res = cli(["start", "--shm", r, "--", sysfix, files, COMM, String(N_FILES)]);
  if (res.code !== 0) throw new Error(`sysfix under bpftime start: ${res.code}: ${res.stderr}`);
  return res.stdout.trim().split("\n");
}

/** The kernel's view: the object loaded with libbpf while the fixture runs plain. */
async function kernelRun(name: string): Promise<Map<string, [string, string][]>> {
  const k = startProcess([kload, obj(name), COMM]);
  await k.waitFor("attached");
  const res = run([sysfix, files, COMM, String(N_FILES)]);
  if (res.code !== 0) throw new Error(`sysfix: ${res.stderr}`);
  await k.stop();
  const maps = new Map<string, [string, string][]>();
  for (const m of k.output().matchAll(/^map (\S+) ([0-9a-f]+) ([0-9a-f]+)$/gm)) {
    if (!maps.has(m[1]!)) maps.set(m[1]!, []);
    maps.get(m[1]!)!.push([m[2]!, m[3]!]);
  }
  expect(k.output()).toContain("end");
  return maps;
}

const hex = (h: string) => Buffer.from(h, "hex");

function kernelCounts(maps: Map<string, [string, string][]>): Counts {
  return new Map(
    (maps.get("counts") ?? []).map(([k, v]) => [
      hex(k).readUInt32LE(0),
      Number(hex(v).readBigUInt64LE(0)),
    ]),
  );
}

function kernelOpens(maps: Map<string, [string, string][]>): Opens {
  return new Map(
    (maps.get("opens") ?? []).map(([k, v]) => {
      const val = hex(v);
      const ret = val.readInt32LE(8);
      return [
        cString([...hex(k)]),
        {
          calls: Number(val.readBigUInt64LE(0)),
          ret: ret >= 0 ? ("fd" as const) : ret,
          flags: val.readInt32LE(12),
        },
      ];
    }),
  );
}

/** What the fixture's deliberate part does (sysfix.c), by hand. */
const O_WRONLY_CREAT = 0o1 | 0o100;
function expectedOpens(): Opens {
  const m: Opens = new Map();
  for (let i = 0; i < N_FILES; i++)
    m.set(join(files, `file${i}`), { calls: 1, ret: "fd", flags: 0 });
  m.set(join(files, "missing"), { calls: 1, ret: -2, flags: 0 });
  m.set(join(files, "created"), { calls: 1, ret: "fd", flags: O_WRONLY_CREAT });
  for (const t of ["thread0", "thread1"]) m.set(join(files, t), { calls: 1, ret: "fd", flags: 0 });
  return m;
}
const SYS = {
  prctl: 157,
  getppid: 110,
  sched_yield: 24,
  umask: 95,
  openat: 257,
  clone3: 435,
  poll: 7,
};

describe.skipIf(skip)("syscall targets in the process", () => {
  beforeAll(compile);

  test(
    "syscount (raw_tracepoint/sys_enter) counts the fixture's syscalls, its new thread's included",
    () => {
      const r = newRegion();
      loadAndAttach(r, "syscount", ["count_syscalls"]);
      startFixture(r);
      const c = bpftimeCounts(r);
      expect(c.get(SYS.getppid)).toBe(7 + 4); // main thread + the thread started later
      expect(c.get(SYS.sched_yield)).toBe(5);
      expect(c.get(SYS.umask)).toBe(3);
      expect(c.get(SYS.openat)).toBe(N_FILES + 2 + 2);
      expect(c.get(SYS.clone3)).toBe(1);
    },
    T,
  );

  test(
    "opensnoop (tracepoint sys_enter_openat + sys_exit_openat) sees every open with its result",
    () => {
      const r = newRegion();
      loadAndAttach(r, "opensnoop", ["handle_enter", "handle_exit"]);
      const out = startFixture(r);
      expect(out).toContain(`open ${join(files, "missing")} = -2`);
      expect(bpftimeOpens(r)).toEqual(expectedOpens());
    },
    T,
  );

  test(
    "bpf_override_return in a sys_enter program skips the syscall and returns the value",
    () => {
      const r = newRegion();
      loadAndAttach(r, "override", ["refuse_create"]);
      const out = startFixture(r);
      expect(out).toContain(`open ${join(files, "created")} = -2`);
      expect(existsSync(join(files, "created"))).toBe(false); // never made
      expect(out).toContain(`open ${join(files, "file0")} = 0`);
      expect(out).toContain(`open ${join(files, "thread1")} = 0`);
    },
    T,
  );

  test(
    "ksyscall/kretsyscall programs read the syscall's arguments through the wrapper's pt_regs, and its result",
    () => {
      const r = newRegion();
      loadAndAttach(r, "ksys", ["ksys_openat", "kretsys_openat"]);
      startFixture(r);
      const flags = Object.fromEntries(
        (dumpById(r, "flags_seen") as { key: number; value: number }[]).map((e) => [
          e.key,
          e.value,
        ]),
      );
      const results = Object.fromEntries(
        (dumpById(r, "results") as { key: number; value: number }[]).map((e) => [e.key, e.value]),
      );
      expect(flags).toEqual({ 0: N_FILES + 1 + 2, [O_WRONLY_CREAT]: 1 }); // read-only opens, the create
      expect(results).toEqual({ 0: N_FILES + 2 + 1, [-2]: 1 }); // opened, "missing"
    },
    T,
  );

  test(
    "a uprobe program's helpers on a traced thread are not the process's syscalls",
    () => {
      const r = newRegion();
      loadAndAttach(r, "syscount", ["count_syscalls"]);
      ok(["load", obj("comm_uprobe"), "--shm", r]);
      ok(["attach", "on_marker", "uprobe", "--arg", `${sysfix}:marker`, "--shm", r]);
      startFixture(r);
      expect(dumpById(r, "hits")).toEqual([{ key: 0, value: 1 }]); // the uprobe ran
      // bpf_get_current_comm is prctl(PR_GET_NAME) here; the fixture's own
      // prctl is the one that renames it at the end
      expect(bpftimeCounts(r).get(SYS.prctl)).toBe(1);
    },
    T,
  );

  test(
    "a link made while the process runs catches its thread and the one it starts; the agent's own syscalls are not seen",
    async () => {
      const r = newRegion();
      ok(["shm", "create", "--shm", r]);
      const go = join(files, "go");
      const p = startProcess(
        [
          process.execPath,
          cliEntry,
          "start",
          "--shm",
          r,
          "--",
          sysfix,
          files,
          COMM,
          String(N_FILES),
        ],
        { env: { SYSFIX_WAIT: go } },
      );
      await p.waitFor(/waiting pid (\d+)/);
      const pid = Number(/waiting pid (\d+)/.exec(p.output())![1]);
      loadAndAttach(r, "syscount", ["count_syscalls"], ""); // no filter: every thread
      await waitUntil("the process to attach the link", () => {
        const l = JSON.parse(ok(["list", "--shm", r, "--json"])) as {
          links: { pids: number[] }[];
        };
        return l.links.some((x) => x.pids.includes(pid));
      });
      // The agent's watcher thread polls its eventfd: once it is back in
      // poll(2) after attaching, a traced agent would have counted it.
      const task = `/proc/${pid}/task`;
      const watcher = readdirSync(task).find(
        (t) => readFileSync(`${task}/${t}/comm`, "utf8").trim() === "bpftime-agent",
      );
      expect(watcher).toBeDefined();
      await waitUntil("the watcher to be in poll(2)", () =>
        readFileSync(`${task}/${watcher}/syscall`, "utf8").startsWith(`${SYS.poll} `),
      );
      writeFileSync(go, "");
      expect(await p.exited).toBe(0);
      const c = bpftimeCounts(r);
      expect(c.get(SYS.getppid)).toBe(7 + 4);
      expect(c.get(SYS.sched_yield)).toBe(5);
      expect(c.has(SYS.poll)).toBe(false);
    },
    T,
  );
});

describe.skipIf(skip)("syscall targets in an injected process", () => {
  beforeAll(compile);

  test(
    "bpftime inject into a process started without bpftime: its syscalls are caught from then on",
    async () => {
      const r = newRegion();
      loadAndAttach(r, "syscount", [], "");
      ok(["attach", "count_syscalls", "sys_enter", "--arg", "getppid", "--shm", r]);
      const go = join(files, "go");
      const p = startProcess([sysfix, files, COMM, String(N_FILES)], {
        env: { SYSFIX_WAIT: go },
      });
      await p.waitFor(/waiting pid \d+/);
      const inj = cli(["inject", String(p.pid), "--shm", r]);
      expect(inj.code).toBe(0);
      expect(inj.stdout).toMatch(/link \d+ \(sys_enter raw:getppid\): attached in process \d+/);
      writeFileSync(go, "");
      expect(await p.exited).toBe(0);
      expect(bpftimeCounts(r)).toEqual(new Map([[SYS.getppid, 7 + 4]]));
    },
    T,
  );
});

describe.skipIf(skip)("section names", () => {
  beforeAll(compile);

  test("every libbpf section loads; what cannot attach here says why in one line", () => {
    const r = newRegion();
    const loaded = JSON.parse(ok(["load", obj("mixed"), "--shm", r, "--json"])) as {
      programs: { name: string; type: string; kernelOnly?: boolean }[];
    };
    const byName = new Map(loaded.programs.map((p) => [p.name, p]));
    expect(byName.size).toBe(14);
    expect(byName.get("fentry_unlink")).toMatchObject({ type: "tracing", kernelOnly: true });
    expect(byName.get("cgroup_ingress")).toMatchObject({ type: "cgroup_skb", kernelOnly: true });
    expect(byName.get("lsm_open")).toMatchObject({ type: "lsm", kernelOnly: true });
    expect(byName.get("uprobe_no_binary")!.type).toBe("uprobe");
    expect(byName.get("uretprobe_no_binary")!.type).toBe("uretprobe");
    expect(byName.get("sleepable_uprobe")!.type).toBe("uprobe");

    const refused = (prog: string, type: string, why: RegExp) => {
      const res = cli(["attach", prog, type, "--shm", r]);
      expect(res.code).not.toBe(0);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(res.stderr).toMatch(why);
    };
    refused("fentry_unlink", "syscall", /runs only in the kernel/);
    refused("cgroup_ingress", "uprobe", /runs only in the kernel/);
    refused("kprobe_open", "uprobe", /hooks a kernel function/);
    refused("sched_switch", "syscall", /kernel tracepoint sched:sched_switch/);
    refused("tp_exit_close", "sys_enter", /is a sys_exit program/);
    refused("uprobe_no_binary", "uprobe", /give --arg BINARY:SYMBOL/);
    const res = cli(["attach", "raw_exit", "sys_exit", "--arg", "nosuchcall", "--shm", r]);
    expect(res.stderr).toMatch(/no such syscall/);

    const attached = (prog: string, type: string, arg?: string) =>
      JSON.parse(
        ok(["attach", prog, type, ...(arg ? ["--arg", arg] : []), "--shm", r, "--json"]),
      ) as { targetType: string; arg: string };
    // `attach PROG syscall`: the target type and argument come from the section
    const fromSection: [prog: string, targetType: string, arg: string][] = [
      ["tp_exit_close", "sys_exit", "tp:close"],
      ["btf_enter", "sys_enter", "raw:all"],
      ["raw_exit", "sys_exit", "raw:all"],
      ["ksys_openat", "sys_enter", "ksys:openat"],
    ];
    for (const [prog, targetType, arg] of fromSection)
      expect(attached(prog, "syscall")).toMatchObject({ targetType, arg });
    expect(attached("kretsys_openat", "sys_exit", "close")).toMatchObject({ arg: "ksys:close" });
  });
});

describe.skipIf(skip)("load --attach", () => {
  beforeAll(compile);

  test("links every program whose SEC() names its target, and says why it skips the others", () => {
    const r = newRegion();
    const res = JSON.parse(ok(["load", obj("mixed"), "--attach", "--shm", r, "--json"])) as {
      attached: { program: string; link?: { targetType: string; arg: string }; skipped?: string }[];
    };
    const by = new Map(res.attached.map((a) => [a.program, a]));
    expect(by.get("ksys_openat")!.link).toMatchObject({
      targetType: "sys_enter",
      arg: "ksys:openat",
    });
    expect(by.get("kretsys_openat")!.link).toMatchObject({
      targetType: "sys_exit",
      arg: "ksys:openat",
    });
    expect(by.get("tp_exit_close")!.link).toMatchObject({
      targetType: "sys_exit",
      arg: "tp:close",
    });
    expect(by.get("raw_exit")!.link).toMatchObject({ targetType: "sys_exit", arg: "raw:all" });
    expect(by.get("btf_enter")!.link).toMatchObject({ targetType: "sys_enter", arg: "raw:all" });
    expect(by.get("bare_uprobe")!.skipped).toMatch(/names no complete target/);
    expect(by.get("sched_switch")!.skipped).toMatch(/only the syscall tracepoints/);
    expect(by.get("fentry_unlink")!.skipped).toMatch(/runs only in the kernel/);
    expect(by.get("kprobe_open")!.skipped).toMatch(/hooks a kernel function/);
    const links = JSON.parse(ok(["list", "--shm", r, "--json"])) as { links: unknown[] };
    expect(links.links).toHaveLength(5);
    // replace keeps what the link's context is: direction, syscall, format
    const list = JSON.parse(ok(["list", "--shm", r, "--json"])) as {
      links: { id: number; progId: number }[];
      programs: { id: number; name: string }[];
    };
    const linkOf = (prog: string) => {
      const id = list.programs.find((p) => p.name === prog)!.id;
      return String(list.links.find((l) => l.progId === id)!.id);
    };
    const refusedReplace = (link: string, prog: string, why: RegExp) => {
      const res = cli(["replace", link, prog, "--shm", r]);
      expect(res.code).not.toBe(0);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(res.stderr).toMatch(why);
    };
    refusedReplace(linkOf("raw_exit"), "tp_exit_close", /context has close's arguments/);
    refusedReplace(linkOf("raw_exit"), "btf_enter", /is a sys_enter program/);
    refusedReplace(linkOf("tp_exit_close"), "kretsys_openat", /gets a ksys context/);
    refusedReplace(linkOf("ksys_openat"), "kretsys_openat", /is a sys_exit program/);
    expect(cli(["replace", linkOf("kretsys_openat"), "kretsys_openat", "--shm", r]).code).toBe(0);
  });
});

const kernelSkip = skip || skipReason(kernelRefuses(), "syscall targets, kernel half");

describe.skipIf(kernelSkip)("syscall targets: bpftime and the kernel agree", () => {
  beforeAll(compile);

  test(
    "syscount: the same count for every syscall of the fixture's threads",
    async () => {
      const kernel = kernelCounts(await kernelRun("syscount"));
      const r = newRegion();
      loadAndAttach(r, "syscount", ["count_syscalls"]);
      startFixture(r);
      const ours = bpftimeCounts(r);
      expect(kernel.get(SYS.getppid)).toBe(11); // the oracle saw the fixture
      expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(kernel));
    },
    T,
  );

  test(
    "opensnoop: the same opens, results and flags",
    async () => {
      const kernel = kernelOpens(await kernelRun("opensnoop"));
      rmSync(join(files, "created"), { force: true });
      const r = newRegion();
      loadAndAttach(r, "opensnoop", ["handle_enter", "handle_exit"]);
      startFixture(r);
      expect(kernel).toEqual(expectedOpens());
      expect(bpftimeOpens(r)).toEqual(kernel);
    },
    T,
  );

  const ksysSkip = skipReason(kprobeRefuses(), "ksyscall against the kernel");
  test.skipIf(ksysSkip)(
    "ksyscall/kretsyscall: the same flags and results",
    async () => {
      const maps = await kernelRun("ksys");
      const decode = (name: string) =>
        Object.fromEntries(
          (maps.get(name) ?? []).map(([k, v]) => [
            Number(hex(k).readBigInt64LE(0)),
            Number(hex(v).readBigUInt64LE(0)),
          ]),
        );
      rmSync(join(files, "created"), { force: true });
      const r = newRegion();
      loadAndAttach(r, "ksys", ["ksys_openat", "kretsys_openat"]);
      startFixture(r);
      const ours = (name: string) =>
        Object.fromEntries(
          (dumpById(r, name) as { key: number; value: number }[]).map((e) => [e.key, e.value]),
        );
      expect(decode("flags_seen")[O_WRONLY_CREAT]).toBe(1); // the oracle saw the fixture
      expect(ours("flags_seen")).toEqual(decode("flags_seen"));
      expect(ours("results")).toEqual(decode("results"));
    },
    T,
  );
});
