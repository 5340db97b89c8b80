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
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import * as run from "../lib/prog-run.ts";

const build = join(run.repo, "bench", "build", "maps");
const CALLS = 100;

const opt = run.benchArgs(5, 20000, { engine: "jit" });
const { rounds, repeat } = opt;
const engine = opt.text("engine");

const programs = [
  { name: "empty", what: "per-run overhead" },
  { name: "array_lookup", what: "array lookup" },
  { name: "array_update", what: "array update" },
  { name: "hash_lookup", what: "hash lookup" },
  { name: "hash_update", what: "hash update (existing key)" },
  { name: "hash_delete", what: "hash delete + insert (mean)" },
];

const tmp = run.scratch("maps");
const region = tmp.region("all");
const pinDir = tmp.pinDir;
const pkt = tmp.pkt;

// ---- load everything ----
const bpftimeIds = new Map<string, number>();
let kernelSkip = run.kernelSkipReason();
if (!kernelSkip) mkdirSync(pinDir, { recursive: true });

for (const p of programs) {
  const obj = join(build, `${p.name}.bpf.o`);
  if (!existsSync(obj)) throw new Error(`${obj} is missing: run bench/maps/run.sh`);
  bpftimeIds.set(p.name, [...run.loadBpftime(region, obj).values()][0]!);
  if (!kernelSkip) {
    const r = spawnSync("bpftool", ["prog", "load", obj, join(pinDir, p.name)], {
      encoding: "utf8",
    });
    if (r.status !== 0)
      kernelSkip = `the kernel refuses ${p.name}: ${(r.stderr || "").trim().split("\n")[0]}`;
  }
}
if (kernelSkip) console.log(`kernel column skipped: ${kernelSkip}`);

const runBpftime = (name: string) =>
  run.runBpftime(region, bpftimeIds.get(name)!, pkt, repeat, engine);
const runKernel = (name: string) => run.runKernel(join(pinDir, name), pkt, repeat);

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

const base = samples.get("empty")!;
const baseB = run.median(base.bpftime);
const baseK = run.median(base.kernel);
const rows = programs.slice(1).map((p) => {
  const s = samples.get(p.name)!;
  const b = (run.median(s.bpftime) - baseB) / CALLS;
  const k = (run.median(s.kernel) - baseK) / CALLS;
  return { program: p.name, what: p.what, bpftimeNs: b, kernelNs: k, ratio: b / k };
});

if (opt.json) {
  console.log(
    JSON.stringify(
      { repeat, rounds, engine, overheadNs: { bpftime: baseB, kernel: baseK }, rows },
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
  console.log(`bpftime engine: ${engine}; kernel: BPF_PROG_TEST_RUN (kernel JIT)\n`);
  const head = ["program", "what", "bpftime ns", "kernel ns", "bpftime/kernel"];
  const body = rows.map((r) => [r.program, r.what, f(r.bpftimeNs), f(r.kernelNs), f(r.ratio, 2)]);
  run.printTable(head, body, 2);
}
