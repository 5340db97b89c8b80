// Verifier benchmark: verifies every program of the positive suite,
// examples/build/*.bpf.o, the negative suite and the synthetic worst cases
// (src/verifier/testdata/corpus.ts) N times and prints the time per program
// and per processed instruction (best of N). A diagnostic for the verifier's
// own speed: there is no other userspace verifier here to run beside it.
//
//   bun bench/verifier/run.ts [--n=5] [--filter=text] [--budget=1000000]
//                             [--groups=pos,example,negative,synthetic]

import { verify } from "../../src/verifier/index.ts";
import { type CorpusProgram, corpus } from "../../src/verifier/testdata/corpus.ts";

const args = new Map<string, string>();
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (m) args.set(m[1]!, m[2] ?? "1");
}
const N = Number(args.get("n") ?? 5);
const filter = args.get("filter");
const budget = args.has("budget") ? Number(args.get("budget")) : undefined;
const groups = new Set((args.get("groups") ?? "pos,example,negative,synthetic").split(","));

const progs = corpus(budget).filter(
  (p) => groups.has(p.group) && (!filter || p.label.includes(filter)),
);

function timeIt(p: CorpusProgram): { ms: number; insns: number } {
  const input = { insts: p.insts, type: p.type, maps: p.maps };
  let best = Infinity;
  let r = verify(input, p.opts);
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    r = verify(input, p.opts);
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, insns: r.stats.insnsProcessed };
}

const pad = (s: string, n: number): string =>
  s.length > n ? s.slice(0, n - 1) + "…" : s.padEnd(n);
const num = (x: number, d = 1): string => x.toFixed(d).padStart(9);

console.log(
  `verifier bench: ${progs.length} programs, best of ${N} runs${budget ? `, budget ${budget}` : ""}`,
);
console.log(
  `${pad("program", 58)}${"insns".padStart(9)}${"ms".padStart(9)}${"µs/insn".padStart(9)}`,
);
const totals = new Map<string, { ms: number; insns: number }>();
for (const p of progs) {
  const r = timeIt(p);
  const g = totals.get(p.group) ?? { ms: 0, insns: 0 };
  g.ms += r.ms;
  g.insns += r.insns;
  totals.set(p.group, g);
  console.log(
    `${pad(p.label, 58)}${String(r.insns).padStart(9)}${num(r.ms, 2)}${num((r.ms * 1000) / Math.max(1, r.insns), 2)}`,
  );
}
console.log("");
for (const [group, g] of totals)
  console.log(
    `${pad(`TOTAL ${group}`, 58)}${String(g.insns).padStart(9)}${num(g.ms, 1)}${num((g.ms * 1000) / Math.max(1, g.insns), 2)}`,
  );
