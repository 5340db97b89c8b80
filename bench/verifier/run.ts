// Verifier benchmark: verifies every program of the positive suite,
// examples/build/*.bpf.o, the loop-heavy programs of
// test/fixtures/verifier-strength, the VM bench's loops (bench/vm/progs as
// XDP programs), the negative suite and the synthetic
// worst cases (src/verifier/testdata/corpus.ts) N times, and prints our
// processed-instruction count and time (best of N) beside the kernel's
// verifier on the same bytecode (bpf(BPF_PROG_LOAD) with BPF_LOG_STATS:
// "processed N insns", "verification time N usec", best of N).
//
// Programs of a type the kernel does not have (nginx_url_filter) are
// compared through their XDP twin — the same C function compiled with an
// XDP entry point over data/data_end (strength group: NAME and NAME_xdp in
// one object); those without a twin (the examples' url_filter and
// url_blocklist, which read two regions, URL and prefix) show ours alone.
// The kernel columns are empty when bpf() is not allowed here.
//
//   bun bench/verifier/run.ts [--n=5] [--filter=text] [--budget=1000000]
//                             [--groups=pos,example,strength,vm,negative,synthetic]

import { verify } from "../../src/verifier/index.ts";
import { type CorpusProgram, corpus } from "../../src/verifier/testdata/corpus.ts";
import {
  type KernelStats,
  kernelStats,
  kernelUnavailable,
} from "../../src/verifier/testdata/kernel.ts";

const args = new Map<string, string>();
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (m) args.set(m[1]!, m[2] ?? "1");
}
const N = Number(args.get("n") ?? 5);
const filter = args.get("filter");
const budget = args.has("budget") ? Number(args.get("budget")) : undefined;
const groups = new Set(
  (args.get("groups") ?? "pos,example,strength,vm,negative,synthetic").split(","),
);

const progs = corpus(budget).filter(
  (p) => groups.has(p.group) && (!filter || p.label.includes(filter)),
);
const noKernel = kernelUnavailable();
/** stop repeating a program after this much time (the VM loops take seconds each) */
const BUDGET_MS = 3000;

interface Ours {
  ok: boolean;
  ms: number;
  insns: number;
}

function ours(p: CorpusProgram): Ours {
  const input = { insts: p.insts, type: p.type, maps: p.maps };
  let best = Infinity;
  let spent = 0;
  let r = verify(input, p.opts);
  for (let i = 0; i < N && spent < BUDGET_MS; i++) {
    const t0 = performance.now();
    r = verify(input, p.opts);
    const ms = performance.now() - t0;
    best = Math.min(best, ms);
    spent += ms;
  }
  return { ok: r.ok, ms: best, insns: r.stats.insnsProcessed };
}

/** The kernel on the program (or its twin): best verification time of N loads. */
function kernel(p: CorpusProgram): KernelStats | undefined {
  if (noKernel) return undefined;
  const input = p.kernelTwin ?? { insts: p.insts, type: p.type, maps: p.maps };
  let best: KernelStats | undefined;
  let spent = 0;
  for (let i = 0; i < N && spent < BUDGET_MS * 1000; i++) {
    const k = kernelStats(input);
    if (!k) return undefined;
    if (!best || k.usec < best.usec) best = k;
    if (!k.ok) break; // a refusal's time says nothing
    spent += k.usec;
  }
  return best;
}

const pad = (s: string, n: number): string =>
  s.length > n ? s.slice(0, n - 1) + "…" : s.padEnd(n);
const col = (s: string, n = 9): string => s.padStart(n);
const fix = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : "-");

console.log(
  `verifier bench: ${progs.length} programs, best of ${N} runs (fewer past ${BUDGET_MS / 1000} s)${budget ? `, budget ${budget}` : ""}`,
);
console.log(
  noKernel
    ? `kernel columns empty: ${noKernel}`
    : `kernel: ${Bun.spawnSync(["uname", "-r"]).stdout.toString().trim()} (bpf(BPF_PROG_LOAD), BPF_LOG_STATS); twin = the program's XDP twin was loaded instead`,
);
console.log(
  `${pad("program", 56)}${col("insns")}${col("kernel")}${col("ratio", 7)}${col("ms")}${col("k ms")}${col("µs/insn")}  verdicts`,
);
const totals = new Map<string, { ms: number; insns: number; kms: number; kinsns: number }>();
let worst: { label: string; ratio: number } | undefined;
for (const p of progs) {
  const r = ours(p);
  const k = kernel(p);
  const both = k !== undefined && k.ok && r.ok;
  const ratio = both ? r.insns / k.insns : NaN;
  if (both && (!worst || ratio > worst.ratio)) worst = { label: p.label, ratio };
  const g = totals.get(p.group) ?? { ms: 0, insns: 0, kms: 0, kinsns: 0 };
  g.ms += r.ms;
  g.insns += r.insns;
  if (both) {
    g.kms += k.usec / 1000;
    g.kinsns += k.insns;
  }
  totals.set(p.group, g);
  const verdicts = `ours ${r.ok ? "ok" : "refused"}${k ? `, kernel ${k.ok ? "ok" : "refused"}` : ""}${p.kernelTwin ? " (twin)" : ""}`;
  console.log(
    `${pad(p.label, 56)}${col(String(r.insns))}${col(k?.ok ? String(k.insns) : "-")}${col(fix(ratio, 2), 7)}${col(fix(r.ms, 2))}${col(k?.ok ? fix(k.usec / 1000, 2) : "-")}${col(fix((r.ms * 1000) / Math.max(1, r.insns), 2))}  ${verdicts}`,
  );
}
console.log("");
for (const [group, g] of totals)
  console.log(
    `${pad(`TOTAL ${group}`, 56)}${col(String(g.insns))}${col(g.kinsns ? String(g.kinsns) : "-")}${col("", 7)}${col(fix(g.ms, 1))}${col(g.kinsns ? fix(g.kms, 1) : "-")}${col(fix((g.ms * 1000) / Math.max(1, g.insns), 2))}`,
  );
if (worst)
  console.log(
    `\nlargest ratio of processed instructions, ours/kernel, among programs both accept: ${worst.ratio.toFixed(2)} (${worst.label})`,
  );
