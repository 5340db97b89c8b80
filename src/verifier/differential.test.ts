// Differential check of the verifier against its snapshot from before the
// performance work (testdata/baseline/): every program of the corpus
// (positive suite, examples, negative suite, synthetic budget cases with a
// smaller budget) gets the same result — verdict, error, stats, context
// accesses and the full log.

import { describe, expect, test } from "bun:test";
import { verify } from "./index.ts";
import { verify as verifyOld } from "./testdata/baseline/verifier.ts";
import { corpus } from "./testdata/corpus.ts";

describe("same results as the baseline verifier", () => {
  for (const p of corpus(20_000)) {
    test(`${p.group}: ${p.label}`, () => {
      const input = { insts: p.insts, type: p.type, maps: p.maps };
      for (const log of [false, true]) {
        const a = verify(input, { ...p.opts, log });
        const b = verifyOld(input, { ...p.opts, log });
        expect(JSON.stringify(a)).toBe(JSON.stringify(b));
      }
    });
  }
});
