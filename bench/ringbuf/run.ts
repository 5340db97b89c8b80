// Ringbuf records/s with 1 and 4 producer processes, the kernel's ringbuf
// beside bpftime's, from one libbpf application (see ringbuf_bench.c):
// producers run a program that reserves and submits 16-byte records
// (BPF_PROG_TEST_RUN), the parent consumes them with ring_buffer__poll
// (epoll). Run directly on the kernel, and under `bpftime load --` where
// the syscall server runs the program JIT-compiled in each producer and the
// ring lives in the region. Rounds interleave the two sides; medians shown.
// Records/s counts records consumed per second of wall time (a ring full
// because the consumer lags drops records, as the kernel's does: shown as
// "lost"). Run by bench/ringbuf/run.sh, which builds the binaries.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cliEntry, median, printTable, repo, scratch } from "../lib/prog-run.ts";

const { values: opt } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    records: { type: "string", default: "2000000" },
  },
});
const rounds = Number(opt.rounds);
const records = Number(opt.records);
const build = join(repo, "bench", "build", "ringbuf");
const app = join(build, "ringbuf_bench");
const obj = join(build, "ringbuf_bench.bpf.o");
const tmp = scratch("ringbuf");

interface Sample {
  perSecond: number;
  lost: number;
}

function parse(out: string, what: string): Sample {
  const m = /records (\d+) lost (\d+) seconds [\d.]+ per_second (\d+)/.exec(out);
  if (!m) throw new Error(`${what}: unexpected output ${JSON.stringify(out)}`);
  return { perSecond: Number(m[3]), lost: Number(m[2]) };
}

function once(side: "kernel" | "bpftime", producers: number, region: string): Sample | string {
  const runs = String(Math.round(records / 100 / producers));
  const cmd =
    side === "kernel"
      ? [app, obj, String(producers), runs]
      : [
          process.execPath,
          cliEntry,
          "load",
          "--shm",
          region,
          "--",
          app,
          obj,
          String(producers),
          runs,
        ];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) return (r.stderr || r.stdout || `exit ${r.status}`).trim().split("\n")[0]!;
  return parse(r.stdout, side);
}

const producersList = [1, 4];
const samples = new Map<string, Sample[]>();
const skipped = new Map<string, string>();
const region = tmp.region("rb", "64M");
for (let r = 0; r < rounds; r++) {
  for (const p of producersList)
    for (const side of ["kernel", "bpftime"] as const) {
      const key = `${side}/${p}`;
      if (skipped.has(key)) continue;
      const s = once(side, p, region);
      if (typeof s === "string") skipped.set(key, s);
      else samples.set(key, [...(samples.get(key) ?? []), s]);
    }
  process.stderr.write(`round ${r + 1}/${rounds} done\n`);
}
for (const [k, why] of skipped) console.log(`${k} skipped: ${why}`);

const med = (k: string, f: (s: Sample) => number) => median((samples.get(k) ?? []).map(f));
const f = (x: number) => (Number.isFinite(x) ? (x / 1e6).toFixed(2) : "-");
console.log(
  `\nringbuf: ${records} records of 16 bytes per run (reserve + submit), 4 MiB ring, ` +
    `median of ${rounds} rounds; M records/s consumed\n`,
);
printTable(
  [
    "producers",
    "kernel M rec/s",
    "kernel lost",
    "bpftime M rec/s",
    "bpftime lost",
    "bpftime/kernel",
  ],
  producersList.map((p) => {
    const k = med(`kernel/${p}`, (s) => s.perSecond);
    const b = med(`bpftime/${p}`, (s) => s.perSecond);
    return [
      String(p),
      f(k),
      String(med(`kernel/${p}`, (s) => s.lost)),
      f(b),
      String(med(`bpftime/${p}`, (s) => s.lost)),
      Number.isFinite(b / k) ? `${(b / k).toFixed(2)}x` : "-",
    ];
  }),
);
