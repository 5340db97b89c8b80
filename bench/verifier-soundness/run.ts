// The full soundness fuzz of the scalar domain against the VM (the test suite
// runs a sample: src/verifier/soundness/domain.test.ts). Not a timing
// benchmark: it exits non-zero on the first unsound operation and prints the
// seed that replays it (BPFTIME_FUZZ_SEED=n bun test src/verifier/soundness).
//
//   bun bench/verifier-soundness/run.ts [--ops=2000000] [--seed=n] [--programs=2000] [--rodata=20000]

import type { Engine } from "../../src/native/index.ts";
import { fuzz, fuzzOps } from "../../src/verifier/soundness/domain-fuzz.ts";
import { programFuzz } from "../../src/verifier/soundness/program-fuzz.ts";
import { rodataFuzz } from "../../src/verifier/soundness/rodata-fuzz.ts";

const args = new Map<string, string>();
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (m) args.set(m[1]!, m[2] ?? "1");
}
const target = Number(args.get("ops") ?? 2_000_000);
const seed0 = Number(args.get("seed") ?? Date.now() & 0x7fffffff);
const engines: Engine[] = process.arch === "x64" ? ["interp", "jit"] : ["interp"];
const perPair = 4;
const pairs = 2000;
const perRound = fuzzOps().length * pairs * perPair * engines.length;

let checked = 0;
let failures: string[] = [];
const t0 = performance.now();
for (let round = 0; checked < target && !failures.length; round++) {
  const r = fuzz({ seed: seed0 + round, pairs, perPair, engines });
  checked += r.checked;
  failures = r.failures;
  console.log(
    `domain: seed ${seed0 + round}: ${r.checked} operations (${checked}/${target}, ~${perRound} per round)`,
  );
}
const secs = (performance.now() - t0) / 1000;
console.log(
  `domain: ${checked} concrete operations on ${engines.join(" and ")} in ${secs.toFixed(1)} s, ${failures.length ? "UNSOUND" : "all inside the abstract results"}`,
);
for (const f of failures) console.log(`  ${f}`);

const programs = Number(args.get("programs") ?? 2000);
const p = programFuzz({ seed: seed0, programs });
console.log(
  `programs: ${p.generated} generated, ${p.accepted} accepted by the verifier, ${p.steps} instructions run by the reference interpreter, ${p.failures.length ? "UNSOUND" : "no access outside what the program may touch"}`,
);
for (const f of p.failures) console.log(`  ${f}`);

const rodataCases = Number(args.get("rodata") ?? 20000);
const ro = rodataFuzz({ seed: seed0, cases: rodataCases, engines });
console.log(
  `rodata: ${ro.checked} loads from frozen read-only maps, ${ro.failures.length ? "UNSOUND" : "the verifier's constant is the VM's value in every one"}`,
);
for (const f of ro.failures) console.log(`  ${f}`);
process.exit(failures.length || p.failures.length || ro.failures.length ? 1 : 0);
