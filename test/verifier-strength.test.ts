// Strength, as the kernel's: every program of the verifier's positive suite,
// the examples and the loop-heavy programs of test/fixtures/verifier-strength
// (a URL scanner, loops over map values and packet bytes, nested loops, a
// checksum...) is accepted by ours, and — where bpf() is allowed here — the
// kernel accepts it too and ours processes at most 1.1 times the
// instructions the kernel's verifier reports ("processed N insns"). nginx
// URL-filter programs are compared through their XDP twin (corpus.ts).
// The counts are deterministic (no timing here: bench/verifier has times).
import { describe, expect, test } from "bun:test";
import { verify } from "../src/verifier/index.ts";
import {
  examplePrograms,
  positivePrograms,
  strengthPrograms,
} from "../src/verifier/testdata/corpus.ts";
import { kernelHasType, kernelStats, kernelUnavailable } from "../src/verifier/testdata/kernel.ts";
import { compiledPrograms } from "../src/verifier/testdata/compile.ts";
import { repoRoot, run } from "./helpers.ts";
import { join } from "node:path";

run(["make", "-s", "-C", join(repoRoot, "examples")]);
const compiled = compiledPrograms();
if (compiled.skipped) console.log(`skip: positive suite: ${compiled.skipped}`);
const strength = strengthPrograms();
if (!strength.length) console.log("skip: verifier-strength fixtures: clang not found");
const programs = [...positivePrograms(), ...examplePrograms(), ...strength];
const noKernel = kernelUnavailable();
if (noKernel) console.log(`skip: kernel comparison: ${noKernel}`);

const RATIO = 1.1;

describe(`ours accepts what users write, within ${RATIO}x of the kernel's work`, () => {
  test.skipIf(!Bun.which("clang"))(
    "the loop-heavy fixtures are there (a URL scanner among them)",
    () => {
      expect(strength.map((p) => p.label)).toContain("url_scan.bpf.c:url_scan");
      expect(strength.length).toBeGreaterThanOrEqual(7);
    },
  );

  for (const p of programs) {
    test(`accepted: ${p.label}`, () => {
      const r = verify({ insts: p.insts, type: p.type, maps: p.maps }, p.opts);
      expect(r.error?.message ?? "accepted").toBe("accepted");
    });
    const input = p.kernelTwin ?? { insts: p.insts, type: p.type, maps: p.maps };
    // nginx programs without an XDP twin (the examples') have no kernel counterpart
    if (!kernelHasType(input.type)) continue;
    test.skipIf(noKernel !== undefined)(
      `processed instructions within ${RATIO}x of the kernel's: ${p.label}`,
      () => {
        const k = kernelStats(input)!;
        expect(k.error ?? "accepted").toBe("accepted");
        const r = verify({ insts: p.insts, type: p.type, maps: p.maps }, p.opts);
        expect(r.stats.insnsProcessed).toBeLessThanOrEqual(Math.ceil(k.insns * RATIO));
      },
    );
  }
});
