// A sample of the scalar domain's soundness fuzz against the VM (the full
// run, millions of operations, is `npm run bench -- verifier-soundness`).
// BPFTIME_FUZZ_SEED=n replays a run; failures print their seed and inputs.

import { expect, test } from "bun:test";
import type { Engine } from "../../native/index.ts";
import { fuzz, fuzzOps } from "./domain-fuzz.ts";

const seed = Number(process.env.BPFTIME_FUZZ_SEED ?? 14);
// The JIT exists for x86-64 only; elsewhere the interpreter alone is the oracle.
const engines: Engine[] = process.arch === "x64" ? ["interp", "jit"] : ["interp"];
if (engines.length === 1)
  console.log("soundness fuzz: no JIT on this architecture, interpreter only");

test("covers every ALU operation and width, sign extensions, byte swaps and jumps", () => {
  const names = fuzzOps().map((o) => o.name);
  for (const n of [
    "lsh32",
    "mul64",
    "sdiv32",
    "smod64",
    "arsh32",
    "neg32",
    "movsx64_32",
    "bswap16",
    "be64",
    "le16",
    "jsle32",
    "jset",
  ])
    expect(names).toContain(n);
  expect(names.length).toBeGreaterThanOrEqual(65);
});

test(`abstract results contain the VM's concrete results (seed ${seed})`, () => {
  const r = fuzz({ seed, pairs: 120, perPair: 4, engines });
  expect(r.failures).toEqual([]);
  expect(r.checked).toBeGreaterThanOrEqual(50_000);
}, 120_000);
