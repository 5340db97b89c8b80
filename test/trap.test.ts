// The trap path (int3 + SIGTRAP) end to end: uprobes where the 5-byte jump
// cannot go — a 4-byte function with another right after it, the last
// instruction of a function — and an offset inside a function, through
// `bpftime start` (the agent). Expected sums are computed by hand from the
// fixture's instructions (test/fixtures/trap/target.c) and, where the kernel
// allows eBPF, compared with the same program on kernel uprobes. An offset
// that is not an instruction boundary is refused at attach, in one line.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, compileBpf, run, skipReason, compileNative } from "./helpers.ts";
import { kernelUnavailable } from "../src/verifier/testdata/kernel.ts";
import { RUN_ID, runName } from "./run-id.ts";

const fixtures = join(import.meta.dir, "fixtures", "trap");
const T = 60_000;
const N = 500;

function toolMissing(): string | undefined {
  for (const tool of ["cc", "clang"]) if (!Bun.which(tool)) return `${tool} is not installed`;
  return undefined;
}
const skip = skipReason(toolMissing(), "trap-path tests");

let dir = "";
let target = "";
let obj = "";
function compile(): void {
  if (dir) return;
  dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-trap-`));
  target = join(dir, "target");
  compileNative(["cc", "-O2", "-g", "-o", target, join(fixtures, "target.c")]);
  obj = join(dir, "probe.bpf.o");
  compileBpf(join(fixtures, "probe.bpf.c"), obj);
}
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const regions: string[] = [];
afterEach(() => {
  for (const r of regions.splice(0)) cli(["shm", "remove", "--shm", r]);
});

function ok(args: string[], env?: Record<string, string>): string {
  const r = cli(args, { env });
  if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

type Seen = { hits: number; rdi: number; rax: number };
const toSeen = (rows: { key: number; value: number }[]): Seen => {
  const m = new Map(rows.map((r) => [r.key, r.value]));
  return { hits: m.get(0) ?? 0, rdi: m.get(1) ?? 0, rax: m.get(2) ?? 0 };
};

/** Runs the target under bpftime with `prog` on `type` at `site`; what the program saw. */
function userspace(prog: string, type: string, site: string): Seen {
  const shm = runName(`trap-${Math.random().toString(36).slice(2, 8)}`);
  regions.push(shm);
  ok(["load", obj, "--shm", shm]);
  ok(["attach", prog, type, "--arg", `${target}:${site}`, "--shm", shm]);
  const r = cli(["start", "--shm", shm, "--", target, "calls", String(N)]);
  expect(r.code).toBe(0);
  // The program ran beside the code, which still computes the right results.
  expect(r.stdout).toContain(`tiny=${(N * (N - 1)) / 2 + N} after=${(N * (N - 1)) / 2 + 2 * N}`);
  expect(r.stdout).toContain(`mid=${N * (N - 1) + 3 * N}`);
  return toSeen(JSON.parse(ok(["map", "dump", "seen", "--json", "--shm", shm])).entries);
}

const sumI = (N * (N - 1)) / 2;

describe.skipIf(skip)("trap path", () => {
  test(
    "a 4-byte function (the jump would overwrite the next one) is hooked, entry and return",
    () => {
      compile();
      const entry = userspace("probe", "uprobe", "tiny");
      expect(entry.hits).toBe(N);
      expect(entry.rdi).toBe(sumI);
      const ret = userspace("probe_ret", "uretprobe", "tiny");
      expect(ret.hits).toBe(N);
      expect(ret.rax).toBe(sumI + N); // tiny(i) = i + 1
    },
    T,
  );

  test(
    "an offset inside a function: +4 (the jump fits) and +8 (the last byte: a trap) see the registers there",
    () => {
      compile();
      const at4 = userspace("probe", "uprobe", "mid+4");
      expect(at4).toEqual({ hits: N, rdi: sumI, rax: 2 * sumI }); // after lea: rax = 2i
      const at8 = userspace("probe", "uprobe", "mid+8");
      expect(at8).toEqual({ hits: N, rdi: sumI, rax: 2 * sumI + 3 * N }); // at ret: 2i + 3
    },
    T,
  );

  test("an offset that is not an instruction boundary is refused in one line", () => {
    compile();
    const shm = runName("trap-refuse");
    regions.push(shm);
    ok(["load", obj, "--shm", shm]);
    for (const [site, inside] of [
      ["mid+1", "+0"],
      ["mid+6", "+4"],
    ] as const) {
      const r = cli(["attach", "probe", "uprobe", "--arg", `${target}:${site}`, "--shm", shm]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain("instruction boundary");
      expect(r.stderr).toContain(`instruction at ${inside},`);
    }
    const links = JSON.parse(ok(["list", "--json", "--shm", shm])) as { links: unknown[] };
    expect(links.links).toHaveLength(0);
  });
});

function kernelRefuses(): string | undefined {
  if (process.getuid?.() !== 0) return "not root (bpf() and uprobes need CAP_BPF/CAP_PERFMON)";
  if (!/ \/sys\/fs\/bpf bpf /.test(readFileSync("/proc/mounts", "utf8")))
    return "no bpffs at /sys/fs/bpf";
  if (!existsSync("/sys/bus/event_source/devices/uprobe/type")) return "no uprobe PMU";
  const refused = kernelUnavailable();
  return refused ? `the kernel refuses BPF_PROG_LOAD: ${refused}` : toolMissing();
}
const noKernel = skipReason(kernelRefuses(), "trap path vs the kernel");

describe.skipIf(skip || noKernel)("trap path vs kernel uprobes", () => {
  const env = { BPFTIME_BPFFS: `/sys/fs/bpf/bpftime-${runName("trap")}` };
  afterAll(() => rmSync(env.BPFTIME_BPFFS, { recursive: true, force: true }));

  function kernel(prog: string, type: string, site: string): Seen {
    const name = `trap${Math.random().toString(36).slice(2, 8)}`;
    ok(["load", "--kernel", obj, "--name", name], env);
    try {
      ok(["attach", "--kernel", `${name}/${prog}`, type, "--arg", `${target}:${site}`], env);
      expect(run([target, "calls", String(N)]).code).toBe(0);
      return toSeen(
        JSON.parse(ok(["map", "dump", "--kernel", `${name}/seen`, "--json"], env)).entries,
      );
    } finally {
      cli(["shm", "remove", "--kernel", name], { env });
    }
  }

  for (const [type, prog, site] of [
    ["uprobe", "probe", "tiny"],
    ["uretprobe", "probe_ret", "tiny"],
    ["uprobe", "probe", "mid+8"],
  ] as const)
    test(
      `${type} ${site}: bpftime sees what the kernel sees`,
      () => {
        compile();
        const k = kernel(prog, type, site);
        expect(k.hits).toBe(N);
        const u = userspace(prog, type, site);
        if (type === "uprobe" && site === "tiny") {
          // rax at a function's entry is whatever the caller left: compare the rest.
          expect({ hits: u.hits, rdi: u.rdi }).toEqual({ hits: k.hits, rdi: k.rdi });
        } else {
          expect(u).toEqual(k);
        }
      },
      T,
    );
});
