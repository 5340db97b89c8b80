// Map operations as maps grow: hash and LRU hash maps of 1k, 100k and 1M
// entries (u32 keys, u64 values), each in a region sized for it.
//
// Method, the same on both sides: one object per (type, size)
// (bench/maps-scale/scale.bpf.c) whose XDP programs each make 100
// operations on keys a generator spreads over the whole key range; `fill`
// runs size/100 times first so the map is full. bpftime runs them with
// `bpftime run ID --repeat N` (thread CPU time around the loop), the kernel
// with `bpftool prog run … repeat N` (BPF_PROG_TEST_RUN, which also stops
// its clock while rescheduled). The generator alone (`base`) is subtracted:
//
//   ns per operation = (ns per run of op - ns per run of base) / 100
//
// `delete` is a delete followed by the insert that restores the key (the
// mean of the two). Rounds are interleaved (every program on both sides per
// round) and the median is shown. The last columns say how the cost grows:
// ns at the largest size over ns at the smallest — a constant-time
// structure stays near 1x apart from cache misses (a 1M-entry map is ~50 MB,
// far beyond the caches, so every access misses on both sides).
//
//   bench/maps-scale/run.sh [--rounds 3] [--repeat 1000] [--sizes 1000,100000,1000000] [--json]
//
// Never part of `bun test`; it measures, it asserts nothing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  benchArgs,
  kernelSkipReason,
  loadBpftime,
  median,
  printTable,
  repo,
  runBpftime,
  runKernel,
  scratch,
} from "../lib/prog-run.ts";

const CALLS = 100;
const opt = benchArgs(3, 1000, { sizes: "1000,100000,1000000" });
const { rounds, repeat } = opt;
const sizes = opt.text("sizes").split(",").map(Number);
const types = ["hash", "lru_hash"];
const ops = ["lookup", "update", "delete"];

const tmp = scratch("maps-scale");
let kernelSkip = kernelSkipReason();

interface Case {
  type: string;
  size: number;
  region: string;
  ids: Map<string, number>;
  pin: string;
  ns: Record<string, { bpftime: number[]; kernel: number[] }>;
}

const cases: Case[] = [];
for (const type of types)
  for (const size of sizes) {
    const obj = join(repo, "bench", "build", "maps-scale", `${type}-${size}.bpf.o`);
    if (!existsSync(obj)) throw new Error(`${obj} is missing: run bench/maps-scale/run.sh`);
    // ~48 bytes per element plus 8 per bucket; twice that, at least the default
    const mb = Math.max(64, Math.ceil((size * 112) / 2 ** 20));
    const region = tmp.region(`${type}-${size}`, `${mb}M`);
    const ids = loadBpftime(region, obj);
    runBpftime(region, ids.get("fill")!, tmp.pkt, size / CALLS);
    const pin = join(tmp.pinDir, `${type}-${size}`);
    if (!kernelSkip) {
      mkdirSync(tmp.pinDir, { recursive: true });
      const r = spawnSync("bpftool", ["prog", "loadall", obj, pin], { encoding: "utf8" });
      if (r.status !== 0)
        kernelSkip = `the kernel refuses ${obj}: ${(r.stderr || "").trim().split("\n")[0]}`;
      else runKernel(join(pin, "fill"), tmp.pkt, size / CALLS);
    }
    const ns: Case["ns"] = {};
    for (const p of ["base", ...ops]) ns[p] = { bpftime: [], kernel: [] };
    cases.push({ type, size, region, ids, pin, ns });
    if (!opt.json) process.stderr.write(`filled ${type} with ${size} entries\n`);
  }
if (kernelSkip) console.log(`kernel column skipped: ${kernelSkip}`);

for (let r = 0; r < rounds; r++) {
  for (const c of cases)
    for (const p of ["base", ...ops]) {
      c.ns[p]!.bpftime.push(runBpftime(c.region, c.ids.get(p)!, tmp.pkt, repeat));
      if (!kernelSkip) c.ns[p]!.kernel.push(runKernel(join(c.pin, p), tmp.pkt, repeat));
    }
  if (!opt.json) process.stderr.write(`round ${r + 1}/${rounds} done\n`);
}

const perOp = (c: Case, op: string, side: "bpftime" | "kernel") =>
  (median(c.ns[op]![side]) - median(c.ns.base![side])) / CALLS;
const rows = cases.flatMap((c) =>
  ops.map((op) => {
    const b = perOp(c, op, "bpftime");
    const k = perOp(c, op, "kernel");
    return { type: c.type, entries: c.size, op, bpftimeNs: b, kernelNs: k, ratio: b / k };
  }),
);
const growth = types.flatMap((type) =>
  ops.map((op) => {
    const at = (size: number, side: "bpftimeNs" | "kernelNs") =>
      rows.find((r) => r.type === type && r.entries === size && r.op === op)![side];
    const lo = sizes[0]!;
    const hi = sizes[sizes.length - 1]!;
    return {
      type,
      op,
      bpftime: at(hi, "bpftimeNs") / at(lo, "bpftimeNs"),
      kernel: at(hi, "kernelNs") / at(lo, "kernelNs"),
    };
  }),
);

if (opt.json) {
  console.log(JSON.stringify({ rounds, repeat, rows, growth }, null, 2));
} else {
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");
  console.log(
    `\nns per map operation (median of ${rounds} interleaved rounds of ${repeat} runs x ${CALLS} ops; ` +
      `generator subtracted); bpftime JIT vs the kernel JIT (BPF_PROG_TEST_RUN)\n`,
  );
  printTable(
    ["map", "entries", "op", "bpftime ns", "kernel ns", "bpftime/kernel"],
    rows.map((r) => [
      r.type,
      String(r.entries),
      r.op,
      f(r.bpftimeNs),
      f(r.kernelNs),
      f(r.ratio, 2),
    ]),
    3,
  );
  console.log(`\ngrowth: ns at ${sizes[sizes.length - 1]} entries / ns at ${sizes[0]}\n`);
  printTable(
    ["map", "op", "bpftime", "kernel"],
    growth.map((g) => [g.type, g.op, `${f(g.bpftime, 2)}x`, `${f(g.kernel, 2)}x`]),
    2,
  );
}
