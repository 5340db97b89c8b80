// A sample of the program-level soundness check (the full run is
// `npm run bench -- verifier-soundness`): random and mutated programs the
// verifier accepts never touch memory outside what they may, on the
// reference interpreter. BPFTIME_FUZZ_SEED=n replays a run.

import { expect, test } from "bun:test";
import { encode, ins } from "../../asm/index.ts";
import { programFuzz } from "./program-fuzz.ts";
import { Violation, memObject, refRun } from "./ref-interp.ts";

const seed = Number(process.env.BPFTIME_FUZZ_SEED ?? 14);

test(`programs the verifier accepts stay inside their objects (seed ${seed})`, () => {
  const r = programFuzz({ seed, programs: 300 });
  expect(r.failures).toEqual([]);
  expect(r.accepted).toBeGreaterThanOrEqual(100);
  expect(r.runs).toBeGreaterThanOrEqual(800);
}, 120_000);

test("the check fails when the verifier accepts everything", () => {
  const r = programFuzz({ seed, programs: 50, mutations: 0, accepts: () => true });
  expect(r.failures.length).toBeGreaterThan(0);
  expect(r.failures[0]).toMatch(/outside its \d+ bytes|through a number/);
});

test("the reference interpreter catches root cause 1 at run time", () => {
  // w7 = random; w8 = 32; w7 <<= w8 (the VM shifts by 0); store at fp-64+r7
  const code = encode([
    ins(0x85, 0, 0, 0, 7),
    ins(0xbf, 7, 0),
    ins(0xb4, 8, 0, 0, 32),
    ins(0x6c, 7, 8),
    ins(0xbf, 1, 10),
    ins(0x07, 1, 0, 0, -64),
    ins(0x0f, 1, 7),
    ins(0x72, 1, 0, 0, 0),
    ins(0xb7, 0, 0, 0, 0),
    ins(0x95),
  ]);
  const env = { ctx: memObject("ctx", 168, false), maps: [], random: [0x1000n] };
  expect(() => refRun(code, env)).toThrow(Violation);
  expect(() => refRun(code, { ...env, random: [0n] })).not.toThrow();
});
