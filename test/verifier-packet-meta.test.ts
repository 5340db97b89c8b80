// XDP's metadata area (data_meta..data), as the kernel's verifier: a read
// through data_meta is allowed once the program has checked `meta + n <=
// data` against the packet's start pointer, for those n bytes only. (bpftime
// gives XDP programs an empty metadata area, data_meta == data, so such a
// check never passes at run time; verifying it keeps programs written for the
// kernel loadable.) Each verdict is the kernel's too where bpf() is allowed.
import { describe, expect, test } from "bun:test";
import { assemble, encode } from "../src/asm/index.ts";
import { verify } from "../src/verifier/index.ts";
import { kernelUnavailable, kernelVerdict } from "../src/verifier/testdata/kernel.ts";

// xdp_md: data at 0, data_end at 4, data_meta at 8
const PRELUDE = `
  r2 = *(u32 *)(r1 + 8)
  r3 = *(u32 *)(r1 + 0)`;

const CASES: [string, string, boolean][] = [
  [
    "a read inside the checked metadata",
    `${PRELUDE}
      r4 = r2
      r4 += 8
      if r4 > r3 goto +1
      r0 = *(u64 *)(r2 + 0)
      r0 = 0
      exit`,
    true,
  ],
  [
    "a read of the metadata without a check",
    `${PRELUDE}
      r0 = *(u8 *)(r2 + 0)
      r0 = 0
      exit`,
    false,
  ],
  [
    "a read past the checked metadata",
    `${PRELUDE}
      r4 = r2
      r4 += 4
      if r4 > r3 goto +1
      r0 = *(u64 *)(r2 + 0)
      r0 = 0
      exit`,
    false,
  ],
  [
    "a read on the failing side of the check",
    `${PRELUDE}
      r4 = r2
      r4 += 8
      if r4 <= r3 goto +1
      r0 = *(u64 *)(r2 + 0)
      r0 = 0
      exit`,
    false,
  ],
  [
    "a check against a packet pointer that is not the packet's start",
    `${PRELUDE}
      r3 += 8
      r4 = r2
      r4 += 8
      if r4 > r3 goto +1
      r0 = *(u64 *)(r2 + 0)
      r0 = 0
      exit`,
    false,
  ],
];

const noKernel = kernelUnavailable();
if (noKernel) console.log(`skip: kernel verdicts: ${noKernel}`);

describe("XDP metadata (data_meta) bounded by the packet's start", () => {
  for (const [name, text, ok] of CASES) {
    const insts = encode(assemble(text));
    test(`${ok ? "accepted" : "refused"}: ${name}`, () => {
      const r = verify({ insts, type: "xdp", maps: [] });
      if (ok) expect(r.error?.message ?? "accepted").toBe("accepted");
      else expect(r.error?.reason ?? "accepted").toMatch(/packet metadata|invalid access/);
    });
    test.skipIf(noKernel !== undefined)(`the kernel agrees: ${name}`, () => {
      expect(kernelVerdict({ insts, type: "xdp", maps: [] })?.ok).toBe(ok);
    });
  }
});
