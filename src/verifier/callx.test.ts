// callx dst in programs: the VM calls the helper whose id dst holds, so the
// verifier accepts it only when dst is a known constant, and then checks it
// exactly as `call <id>` (arguments, program type, result). The kernel
// accepts callx only for static BPF functions (a function address): this is
// more permissive by design, and only for ids the VM dispatches the same
// way (never the tail call).
import { describe, expect, test } from "bun:test";
import { assemble, encode } from "../asm/index.ts";
import { verify } from "./index.ts";
import { kernelUnavailable, kernelVerdict } from "./testdata/kernel.ts";

const check = (asm: string, type: "xdp" | "kprobe" = "xdp") =>
  verify({ insts: encode(assemble(asm)), type, maps: [] });

const KTIME = `
  r2 = 5
  callx r2
  exit`;

describe("callx with a known helper id", () => {
  test("is the helper call: its result is r0", () => {
    const r = check(KTIME);
    expect(r.error?.message ?? "accepted").toBe("accepted");
  });

  test("checks the helper's arguments as `call` does", () => {
    // bpf_probe_read_user(dst, size, src) with the context as dst
    const r = check(
      `
      r2 = 8
      r3 = 0
      r4 = 112
      callx r4
      r0 = 0
      exit`,
      "kprobe",
    );
    expect(r.error?.reason).toContain("(memory argument of probe_read_user#112)");
  });

  test("checks the program type's helper list as `call` does", () => {
    // bpf_probe_write_user (36) is not for XDP programs
    const r = check(`
      r1 = r10
      r1 += -8
      r2 = r10
      r3 = 8
      r4 = 36
      callx r4
      r0 = 0
      exit`);
    expect(r.error?.reason).toContain("is not allowed in xdp programs");
  });

  test("an id known on one path only is not a proof: both are checked", () => {
    // r6 is 5 (allowed) or 36 (not allowed in xdp) depending on a random value
    const r = check(`
      call 7
      r6 = 5
      if r0 > 10 goto go
      r6 = 36
    go:
      r1 = r10
      r1 += -8
      r2 = r10
      r3 = 8
      callx r6
      r0 = 0
      exit`);
    expect(r.error?.reason).toContain("is not allowed in xdp programs");
  });

  const why = kernelUnavailable();
  test.skipIf(why !== undefined)("the kernel refuses it (a documented difference)", () => {
    const v = kernelVerdict({ insts: encode(assemble(KTIME)), type: "xdp", maps: [] });
    expect(v?.ok).toBe(false);
  });
});
