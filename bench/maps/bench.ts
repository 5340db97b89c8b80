// Map-helper latency, bpftime vs the kernel, measured side by side in one
// run. Each program in bench/maps/progs makes 100 map helper calls per run
// (lookup / update on an array and a hash map, delete+update on a hash map);
// `empty` measures the per-run overhead, which is subtracted:
//
//   ns per helper call = (average ns per run - average ns of empty) / 100
//
// bpftime: `bpftime load` into a fresh region, `bpftime run ID --repeat N
// --json` (JIT by default; averageNs is measured in-process around the runs).
// Kernel: `bpftool prog load` + `bpftool prog run pinned … repeat N`
// (BPF_PROG_TEST_RUN; its "duration (average)"). Rounds are interleaved —
// each round runs every program on both sides — and the median over rounds is
// reported, so drift on a busy machine hits both columns alike.
//
//   bench/maps/run.sh [--rounds 5] [--repeat 20000] [--engine jit|interp] [--json]
//
// Never part of `bun test`; it measures, it asserts nothing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const repo = join(import.meta.dir, "..", "..");
const build = join(repo, "bench", "build", "maps");
const cliEntry = join(repo, "src", "cli", "main.ts");
const CALLS = 100;

const { values: opt } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    repeat: { type: "string", default: "20000" },
    engine: { type: "string", default: "jit" },
    json: { type: "boolean", default: false },
  },
});
const rounds = Number(opt.rounds);
const repeat = Number(opt.repeat);

const programs = [
  { name: "empty", what: "per-run overhead" },
  { name: "array_lookup", what: "array lookup" },
  { name: "array_update", what: "array update" },
  { name: "hash_lookup", what: "hash lookup" },
  { name: "hash_update", what: "hash update (existing key)" },
  { name: "hash_delete", what: "hash delete + insert (mean)" },
];

function sh(cmd: string[], what: string): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0)
    throw new Error(`${what} failed (${cmd.join(" ")}): ${(r.stderr || r.stdout || "").trim()}`);
  return r.stdout;
}

const region = `bench-maps-${process.pid}`;
const pinDir = `/sys/fs/bpf/bpftime-bench-maps-${process.pid}`;
const pkt = join(tmpdir(), `bench-maps-${process.pid}.pkt`);
writeFileSync(pkt, new Uint8Array(64));

function cleanup() {
  spawnSync("bun", [cliEntry, "shm", "remove", "--shm", region], { stdio: "ignore" });
  rmSync(pinDir, { recursive: true, force: true });
  rmSync(pkt, { force: true });
}
process.on("exit", cleanup);

// ---- load everything ----
const bpftimeIds = new Map<string, number>();
let kernelSkip: string | undefined;
if (process.getuid?.() !== 0) kernelSkip = "loading eBPF into the kernel needs root";
else if (spawnSync("bpftool", ["version"]).status !== 0) kernelSkip = "bpftool is not installed";
else mkdirSync(pinDir, { recursive: true });

for (const p of programs) {
  const obj = join(build, `${p.name}.bpf.o`);
  if (!existsSync(obj)) throw new Error(`${obj} is missing: run bench/maps/run.sh`);
  const out = JSON.parse(
    sh(["bun", cliEntry, "load", obj, "--shm", region, "--json"], `bpftime load ${p.name}`),
  ) as { programs: Array<{ id: number }> };
  bpftimeIds.set(p.name, out.programs[0]!.id);
  if (!kernelSkip) {
    const r = spawnSync("bpftool", ["prog", "load", obj, join(pinDir, p.name)], {
      encoding: "utf8",
    });
    if (r.status !== 0)
      kernelSkip = `the kernel refuses ${p.name}: ${(r.stderr || "").trim().split("\n")[0]}`;
  }
}
if (kernelSkip) console.log(`kernel column skipped: ${kernelSkip}`);

function runBpftime(name: string): number {
  const out = sh(
    [
      "bun",
      cliEntry,
      "run",
      String(bpftimeIds.get(name)),
      "--shm",
      region,
      "--data",
      pkt,
      "--repeat",
      String(repeat),
      "--engine",
      opt.engine!,
      "--json",
    ],
    `bpftime run ${name}`,
  );
  return (JSON.parse(out) as { averageNs: number }).averageNs;
}

function runKernel(name: string): number {
  const out = sh(
    [
      "bpftool",
      "prog",
      "run",
      "pinned",
      join(pinDir, name),
      "data_in",
      pkt,
      "repeat",
      String(repeat),
    ],
    `bpftool prog run ${name}`,
  );
  const m = /duration \(average\): (\d+)ns/.exec(out);
  if (!m) throw new Error(`bpftool prog run ${name}: no duration in ${JSON.stringify(out)}`);
  return Number(m[1]);
}

// ---- interleaved rounds ----
const samples = new Map<string, { bpftime: number[]; kernel: number[] }>();
for (const p of programs) samples.set(p.name, { bpftime: [], kernel: [] });
for (let r = 0; r < rounds; r++) {
  // rotate the order each round so no program always runs first
  const order = programs.map((_, i) => programs[(i + r) % programs.length]!);
  for (const p of order) {
    const s = samples.get(p.name)!;
    s.bpftime.push(runBpftime(p.name));
    if (!kernelSkip) s.kernel.push(runKernel(p.name));
  }
  if (!opt.json) process.stderr.write(`round ${r + 1}/${rounds} done\n`);
}

const median = (xs: number[]) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const base = samples.get("empty")!;
const baseB = median(base.bpftime);
const baseK = median(base.kernel);
const rows = programs.slice(1).map((p) => {
  const s = samples.get(p.name)!;
  const b = (median(s.bpftime) - baseB) / CALLS;
  const k = (median(s.kernel) - baseK) / CALLS;
  return { program: p.name, what: p.what, bpftimeNs: b, kernelNs: k, ratio: b / k };
});

if (opt.json) {
  console.log(
    JSON.stringify(
      { repeat, rounds, engine: opt.engine, overheadNs: { bpftime: baseB, kernel: baseK }, rows },
      null,
      2,
    ),
  );
} else {
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");
  console.log(
    `\nmap helper latency, ns per call (median of ${rounds} interleaved rounds, ${repeat} runs each, ` +
      `${CALLS} calls per run, per-run overhead subtracted: bpftime ${f(baseB)} ns, kernel ${f(baseK)} ns)`,
  );
  console.log(`bpftime engine: ${opt.engine}; kernel: BPF_PROG_TEST_RUN (kernel JIT)\n`);
  const head = ["program", "what", "bpftime ns", "kernel ns", "bpftime/kernel"];
  const body = rows.map((r) => [r.program, r.what, f(r.bpftimeNs), f(r.kernelNs), f(r.ratio, 2)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  console.log(line(head));
  console.log(w.map((n) => "-".repeat(n)).join("  "));
  for (const r of body) console.log(line(r));
}
