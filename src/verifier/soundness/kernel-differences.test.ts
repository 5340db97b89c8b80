// Where the scalar domain is more permissive than the kernel's (6.18), by
// design: unsigned division and modulo keep a range (the kernel forgets it
// and refuses the programs below). The design rests on soundness, checked
// here exhaustively against the VM on small ranges and by domain.test.ts on
// random ones. Everywhere else the kernel's handling (shifts, multiply,
// signed division: unknown) is the reference.

import { describe, expect, test } from "bun:test";
import { assemble, encode, ins } from "../../asm/index.ts";
import { kernelUnavailable, kernelVerdict } from "../testdata/kernel.ts";
import { verify } from "../index.ts";
import { alu, rangeScalar } from "../scalar.ts";
import { why } from "./contains.ts";
import { VmOp } from "./vm-oracle.ts";

const offsetBy = (op: string) =>
  `call 7\nr6 = r0\nr6 &= 255\n${op}\nr1 = r10\nr1 += -64\nr1 += r6\n*(u8 *)(r1 + 0) = 0\nr0 = 0\nexit`;

describe("unsigned division and modulo keep a range", () => {
  test("a quotient or remainder may index the stack (the kernel refuses both)", () => {
    for (const op of ["r6 /= 4", "r6 %= 60"]) {
      const r = verify({ insts: encode(assemble(offsetBy(op))), type: "kprobe", maps: [] });
      expect(r.error?.reason).toBeUndefined();
    }
  });

  test("signed division stays unknown, as in the kernel", () => {
    const r = verify({ insts: encode(assemble(offsetBy("r6 s/= 4"))), type: "kprobe", maps: [] });
    expect(r.error?.reason).toContain("unbounded min value");
  });

  for (const [name, opcode, kind] of [
    ["div64", 0x3f, "div"],
    ["mod64", 0x9f, "mod"],
    ["div32", 0x3c, "div"],
    ["mod32", 0x9c, "mod"],
  ] as const) {
    test(`${name}: every quotient of [0,255] by [0,7] is inside the abstract result (VM)`, () => {
      const as: bigint[] = [];
      const bs: bigint[] = [];
      for (let a = 0n; a < 256n; a++)
        for (let b = 0n; b < 8n; b++) {
          as.push(a);
          bs.push(b);
        }
      const vm = new VmOp({ opcode });
      try {
        const out = vm.run(BigUint64Array.from(as), BigUint64Array.from(bs), "interp");
        const is64 = name.endsWith("64");
        for (const [lo, hi] of [
          [0n, 7n],
          [1n, 7n],
          [3n, 5n],
        ] as const) {
          const R = alu(kind, rangeScalar(0n, 255n), rangeScalar(lo, hi), is64);
          for (let i = 0; i < as.length; i++)
            if (bs[i]! >= lo && bs[i]! <= hi) expect(why(R, out[i]!)).toBeUndefined();
        }
      } finally {
        vm.close();
      }
    });
  }
});

// Kernel-accepted programs that bpftime refuses, by design (README, "Where
// bpftime is stricter"): the kernel allows each to a privileged loader (root
// here); bpftime programs run inside other processes, where an address or
// stale stack bytes are the host's secrets and reading host memory from a
// network program is not the program's business.
describe("stricter than the kernel's privileged rules, by design", () => {
  const maps = [{ name: "arr", type: "array", keySize: 4, valueSize: 16, maxEntries: 4 }];
  const lookup = `*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nld_pseudo r1, 5, 0\ncall 1\nif r0 == 0 goto +1\n`;
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "reading stack bytes never written (stale host data)",
      encode(assemble("r0 = *(u64 *)(r10 - 8)\nr0 = 0\nexit")),
      /uninitialised stack/,
    ],
    [
      "storing a pointer into a map value (an address of the host)",
      encode(assemble(`${lookup}*(u64 *)(r0 + 0) = r10\nr0 = 0\nexit`)),
      /leaks addr into map value/,
    ],
    ["returning a pointer", encode(assemble("r0 = r10\nexit")), /leaks addr as return value/],
    [
      "bpf_probe_read_kernel from an XDP program (host memory)",
      encode(assemble("r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 113\nr0 = 0\nexit")),
      /not allowed in xdp programs/,
    ],
    [
      "legacy packet access (LD_ABS)",
      encode([ins(0xbf, 6, 1), ins(0x30, 0, 0, 0, 12), ins(0x95)]),
      /legacy packet access/,
    ],
  ];
  const noKernel = kernelUnavailable();
  if (noKernel) console.log(`skip: kernel verdicts: ${noKernel}`);
  for (const [name, insts, reason] of cases) {
    const type = name.includes("LD_ABS") ? "socket_filter" : "xdp";
    test(`refused: ${name}`, () => {
      expect(verify({ insts, type, maps }).error?.reason ?? "accepted").toMatch(reason);
    });
    test.skipIf(noKernel !== undefined)(`the kernel accepts it (privileged): ${name}`, () => {
      expect(kernelVerdict({ insts, type, maps })?.ok).toBe(true);
    });
  }
});
