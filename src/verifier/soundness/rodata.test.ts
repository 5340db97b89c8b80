// A sample of the read-only map constant check (the full run is
// `npm run bench -- verifier-soundness`): a load at a constant offset from
// a frozen map with known contents is, to the verifier, exactly what the VM
// reads. BPFTIME_FUZZ_SEED=n replays a run.

import { expect, test } from "bun:test";
import type { Engine } from "../../native/index.ts";
import { rodataAccepts, rodataFuzz } from "./rodata-fuzz.ts";

const seed = Number(process.env.BPFTIME_FUZZ_SEED ?? 14);
const engines: Engine[] = process.arch === "x64" ? ["interp", "jit"] : ["interp"];

test(`the verifier's constant is the VM's value (seed ${seed})`, () => {
  const r = rodataFuzz({ seed, cases: 400, engines });
  expect(r.failures).toEqual([]);
  expect(r.checked).toBe(400);
}, 120_000);

test("the check refuses a constant that is not the VM's", () => {
  // bytes 80 ff 01 02: a signed 2-byte load at 0 is -128 (0xff80 sign-extended)
  const c = {
    contents: Uint8Array.from([0x80, 0xff, 1, 2]),
    ptrOff: 0,
    insnOff: 0,
    size: 2,
    signed: true,
  };
  expect(rodataAccepts(c, 0xffffffffffffff80n).ok).toBe(true);
  expect(rodataAccepts(c, 0xff80n).ok).toBe(false); // zero-extended: wrong
  expect(rodataAccepts({ ...c, signed: false }, 0xff80n).ok).toBe(true);
  expect(rodataAccepts({ ...c, ptrOff: 1, insnOff: 1 }, 0x201n).ok).toBe(true);
  expect(rodataAccepts({ ...c, ptrOff: 1, insnOff: 1 }, 0x1ff80n).ok).toBe(false);
});
