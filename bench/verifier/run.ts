// Verifier benchmark: verifies every program of the positive suite,
// examples/build/*.bpf.o, the negative suite and the synthetic worst cases
// (src/verifier/testdata/corpus.ts) N times and prints the time per program
// and per processed instruction. With --impl=both it also runs the snapshot
// of the verifier before the performance work (testdata/baseline/) and checks
// that both give the same result (verdict, error, stats, context accesses and
// log).
//
//   bun bench/verifier/run.ts [--n=5] [--impl=new|old|both] [--filter=text]
//                             [--budget=1000000] [--groups=pos,example,negative,synthetic]
//                             [--no-check]

import { verify } from "../../src/verifier/index.ts";
import { verify as verifyOld } from "../../src/verifier/testdata/baseline/verifier.ts";
import { type CorpusProgram, corpus } from "../../src/verifier/testdata/corpus.ts";

const args = new Map<string, string>();
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (m) args.set(m[1]!, m[2] ?? "1");
}
const N = Number(args.get("n") ?? 5);
const impl = args.get("impl") ?? "new";
const filter = args.get("filter");
const budget = args.has("budget") ? Number(args.get("budget")) : undefined;
const groups = new Set((args.get("groups") ?? "pos,example,negative,synthetic").split(","));
const check = !args.has("no-check");

type V = typeof verify;
const impls: [string, V][] = [];
if (impl === "new" || impl === "both") impls.push(["new", verify]);
if (impl === "old" || impl === "both") impls.push(["old", verifyOld as unknown as V]);

const progs = corpus(budget).filter(
  (p) => groups.has(p.group) && (!filter || p.label.includes(filter)),
);

function timeIt(f: V, p: CorpusProgram): { ms: number; insns: number; ok: boolean } {
  const input = { insts: p.insts, type: p.type, maps: p.maps };
  let best = Infinity;
  let r = f(input, p.opts);
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    r = f(input, p.opts);
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, insns: r.stats.insnsProcessed, ok: r.ok };
}

function same(p: CorpusProgram): string | undefined {
  const input = { insts: p.insts, type: p.type, maps: p.maps };
  for (const log of [false, true]) {
    const a = verify(input, { ...p.opts, log });
    const b = verifyOld(input, { ...p.opts, log });
    const ja = JSON.stringify(a);
    const jb = JSON.stringify(b);
    if (ja !== jb) {
      let i = 0;
      while (ja[i] === jb[i]) i++;
      return `log=${log}: new ...${ja.slice(Math.max(0, i - 80), i + 80)}\n  old ...${jb.slice(Math.max(0, i - 80), i + 80)}`;
    }
  }
  return undefined;
}

const pad = (s: string, n: number): string =>
  s.length > n ? s.slice(0, n - 1) + "…" : s.padEnd(n);
const num = (x: number, d = 1): string => x.toFixed(d).padStart(9);

console.log(
  `verifier bench: ${progs.length} programs, best of ${N} runs${budget ? `, budget ${budget}` : ""}`,
);
const head = impls.map(([n]) => `${n} ms`.padStart(9) + `${n} µs/i`.padStart(9)).join("");
console.log(
  `${pad("program", 58)}${"insns".padStart(9)}${head}${impls.length > 1 ? "  speedup" : ""}`,
);
const totals = new Map<string, { ms: number[]; insns: number }>();
let mismatches = 0;
for (const p of progs) {
  const res = impls.map(([, f]) => timeIt(f, p));
  const g = totals.get(p.group) ?? { ms: impls.map(() => 0), insns: 0 };
  res.forEach((r, k) => (g.ms[k]! += r.ms));
  g.insns += res[0]!.insns;
  totals.set(p.group, g);
  let line = `${pad(p.label, 58)}${String(res[0]!.insns).padStart(9)}`;
  for (const r of res) line += num(r.ms, 2) + num((r.ms * 1000) / Math.max(1, r.insns), 2);
  if (res.length > 1) line += `${num(res[1]!.ms / res[0]!.ms)}x`;
  if (impls.length > 1 && check) {
    const d = same(p);
    if (d) {
      mismatches++;
      line += `\n  MISMATCH ${d}`;
    }
  }
  console.log(line);
}
console.log("");
for (const [group, g] of totals) {
  let line = `${pad(`TOTAL ${group}`, 58)}${String(g.insns).padStart(9)}`;
  for (const ms of g.ms) line += num(ms, 1) + num((ms * 1000) / Math.max(1, g.insns), 2);
  if (g.ms.length > 1) line += `${num(g.ms[1]! / g.ms[0]!)}x`;
  console.log(line);
}
if (impls.length > 1 && check) {
  console.log(
    mismatches ? `\n${mismatches} MISMATCHES` : `\nall ${progs.length} results identical`,
  );
  if (mismatches) process.exitCode = 1;
}
