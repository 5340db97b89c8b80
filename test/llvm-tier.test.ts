// The LLVM tier (src/llvm + native/vm/native_code.c) against the interpreter:
// every bench/vm program and targeted edge cases give the same r0 and leave
// the same bytes in memory; constructs the tier does not translate are
// refused with a reason (the JIT then runs them), never mistranslated.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assemble, encode } from "../src/asm/index.ts";
import { bpftimeErrorOf } from "../src/errors.ts";
import { compileToNative, findToolchain, translateToLlvm } from "../src/llvm/index.ts";
import { NativeCode, Vm } from "../src/native/index.ts";
import { repoRoot, skipReason, tempDir } from "./helpers.ts";

const toolchain = findToolchain();
const skip = skipReason(toolchain ? undefined : "no clang >= 14 installed", "LLVM tier tests");

/** r0 and final memory of the interpreter and of the tier, on copies of `input`. */
function runBoth(code: Uint8Array, input: Uint8Array) {
  const vm = new Vm(code);
  try {
    const native = new NativeCode(vm.pointer, compileToNative(code, toolchain));
    try {
      const mi = input.slice();
      const mn = input.slice();
      const interp = vm.run(mi, "interp").returnValue;
      const tier = native.run(mn);
      return { interp, tier, mi, mn };
    } finally {
      native.close();
    }
  } finally {
    vm.close();
  }
}

function expectSame(code: Uint8Array, input: Uint8Array = new Uint8Array(64)): bigint {
  const r = runBoth(code, input);
  expect(r.tier).toBe(r.interp);
  expect(Buffer.from(r.mn).equals(Buffer.from(r.mi))).toBe(true);
  return r.tier;
}

const asm = (text: string): Uint8Array => encode(assemble(text));

/** Deterministic bytes: mostly a 4-letter alphabet, as bench/vm's input. */
function benchInput(len: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = 0x2545f4914f6cdd1dn;
  const m = (1n << 64n) - 1n;
  for (let i = 0; i < len; i++) {
    x ^= (x << 13n) & m;
    x ^= x >> 7n;
    x ^= (x << 17n) & m;
    out[i] = x & 0x300n ? "acgt".charCodeAt(Number(x & 3n)) : Number((x >> 24n) & 0xffn);
  }
  return out;
}

describe.skipIf(skip)("LLVM tier vs interpreter: bench/vm programs", () => {
  const progs = join(repoRoot, "bench", "vm", "progs");
  const names = readdirSync(progs)
    .filter((f) => f.endsWith(".bpf.c"))
    .map((f) => f.slice(0, -6));
  test("there are programs to compare", () => expect(names.length).toBeGreaterThan(10));
  for (const name of names) {
    test(name, () => {
      const dir = tempDir("llvm");
      const obj = join(dir, `${name}.o`);
      const bin = join(dir, `${name}.bin`);
      const cc = spawnSync(
        "clang",
        ["-O2", "-target", "bpf", "-mcpu=v3", "-c"].concat([
          join(progs, `${name}.bpf.c`),
          "-o",
          obj,
        ]),
        { encoding: "utf8" },
      );
      expect(cc.status, cc.stderr).toBe(0);
      const oc = spawnSync("llvm-objcopy", ["-O", "binary", "--only-section=.text", obj, bin]);
      expect(oc.status).toBe(0);
      // minivm and pktparse read a prepared header; a plain buffer still
      // drives every path the two engines must agree on.
      expectSame(new Uint8Array(readFileSync(bin)), benchInput(2048));
    });
  }
});

describe.skipIf(skip)("LLVM tier vs interpreter: edge cases", () => {
  const cases: [string, string][] = [
    ["udiv by zero gives 0", "r0 = 7\nr1 = 0\nr0 /= r1\nexit"],
    ["umod by zero leaves dst", "r0 = 7\nr1 = 0\nr0 %= r1\nexit"],
    ["32-bit mod by zero truncates dst", "r0 = -1 ll\nw1 = 0\nw0 %= w1\nexit"],
    ["sdiv INT64_MIN / -1", "r0 = -0x8000000000000000 ll\nr1 = -1\nr0 s/= r1\nexit"],
    ["smod INT64_MIN % -1", "r0 = -0x8000000000000000 ll\nr1 = -1\nr0 s%= r1\nexit"],
    ["sdiv32 INT32_MIN / -1", "w0 = -0x80000000\nw1 = -1\nw0 s/= w1\nexit"],
    ["smod32 by zero", "r0 = -5 ll\nw1 = 0\nw0 s%= w1\nexit"],
    ["sdiv by imm -1", "r0 = -0x8000000000000000 ll\nr0 s/= -1\nexit"],
    [
      "signed division rounds to zero",
      "r0 = -7\nr0 s/= 2\nr1 = -7\nr1 s%= 2\nr0 <<= 8\nr0 |= r1\nexit",
    ],
    ["shift by >= 64 is masked", "r0 = 1\nr1 = 65\nr0 <<= r1\nexit"],
    ["32-bit shift by >= 32 is masked", "r0 = 1\nw1 = 33\nw0 <<= w1\nexit"],
    ["arsh by register masked", "r0 = -0x100 ll\nr1 = 68\nr0 s>>= r1\nexit"],
    ["32-bit add zero-extends", "r0 = -1 ll\nw0 += 1\nr0 -= 1\nexit"],
    ["32-bit mov zero-extends", "r1 = -1 ll\nw0 = w1\nexit"],
    ["32-bit neg", "r0 = 5\nw0 = -w0\nexit"],
    [
      "movsx 8/16/32",
      "r1 = 0x80\nr0 = (s8)r1\nr2 = 0x8000\nr2 = (s16)r2\nr0 ^= r2\nr3 = 0x80000000\nr3 = (s32)r3\nr0 += r3\nexit",
    ],
    ["movsx32 16", "r1 = 0x8000\nw0 = (s16)w1\nexit"],
    [
      "bswap and be/le",
      "r0 = 0x0102030405060708 ll\nr0 = bswap16 r0\nr1 = 0x0102030405060708 ll\nr1 = be32 r1\nr0 += r1\nr1 = le16 r1\nr0 += r1\nr2 = 0x0102030405060708 ll\nr2 = be64 r2\nr0 ^= r2\nexit",
    ],
    [
      "jmp32 compares the low halves",
      "r0 = 0\nr1 = 0x100000001 ll\nif w1 == 1 goto +1\nexit\nr0 = 1\nexit",
    ],
    ["signed compare", "r0 = 0\nr1 = -1\nif r1 s< 0 goto +1\nexit\nr0 = 2\nexit"],
    ["jset", "r0 = 0\nr1 = 6\nif r1 & 4 goto +1\nexit\nr0 = 3\nexit"],
    // a bare Vm registers no helper: every id (in range, 12, beyond) gives -ENOENT
    [
      "callx of unregistered ids",
      "r6 = 1\ncallx r6\nr7 = r0\nr6 = 12\ncallx r6\nr7 += r0\nr6 = 5000\ncallx r6\nr0 += r7\nexit",
    ],
  ];
  for (const [what, text] of cases)
    test(what, () => {
      expectSame(asm(text));
    });

  test("memory: stores and sign-extending loads on mem and the stack", () => {
    const code = asm(`
      *(u64 *)(r10 - 8) = -2
      r2 = *(s8 *)(r10 - 8)
      *(u32 *)(r1 + 4) = r2
      *(u16 *)(r1 + 12) = 0x8001
      r3 = *(s16 *)(r1 + 12)
      *(u64 *)(r1 + 16) = r3
      r4 = *(s32 *)(r1 + 4)
      *(u8 *)(r1 + 24) = r4
      r0 = *(u64 *)(r1 + 0)
      exit`);
    const input = benchInput(64);
    expectSame(code, input);
  });

  test("atomics: add, or, and, xor, fetch, xchg, cmpxchg at both widths", () => {
    const code = asm(`
      r2 = 5
      lock *(u64 *)(r1 + 0) += r2
      r3 = 0xf0
      r3 = atomic_fetch_or((u64 *)(r1 + 8), r3)
      w4 = 0x0f
      lock *(u32 *)(r1 + 16) ^= w4
      r5 = 3
      r5 = atomic_fetch_and((u64 *)(r1 + 24), r5)
      w6 = 9
      w6 = xchg32_32(r1 + 32, w6)
      r0 = *(u64 *)(r1 + 40)
      r7 = 77
      r0 = cmpxchg_64(r1 + 40, r0, r7)
      r8 = r0
      w0 = 1
      w9 = 2
      w0 = cmpxchg32_32(r1 + 48, w0, w9)
      r0 += r3
      r0 += r5
      r0 += r6
      r0 += r8
      exit`);
    expectSame(code, benchInput(64));
  });

  test("deep bpf-to-bpf calls (8 frames) each with their own stack, pointers to callers' frames", () => {
    // f<k> stores k into its caller's frame through r2 and into its own,
    // calls f<k+1> with a pointer to its own frame, then reads both slots.
    const fn = (k: number) =>
      k === 7
        ? `f7:\n*(u64 *)(r2 + 0) = r1\nr0 = r1\nexit`
        : `f${k}:
          *(u64 *)(r2 + 0) = r1
          *(u64 *)(r10 - 8) = r1
          r1 += 1
          r2 = r10
          r2 += -16
          call local f${k + 1}
          r0 *= 3
          r7 = *(u64 *)(r10 - 16)
          r0 += r7
          r8 = *(u64 *)(r10 - 8)
          r0 += r8
          exit`;
    const text = [
      "r1 = 1\nr2 = r10\nr2 += -16\ncall local f1\nr6 = *(u64 *)(r10 - 16)\nr0 += r6\nexit",
      ...[1, 2, 3, 4, 5, 6, 7].map(fn),
    ].join("\n");
    const v = (k: number): number => (k === 7 ? 7 : v(k + 1) * 3 + (k + 1) + k);
    expect(expectSame(asm(text))).toBe(BigInt(v(1) + 1));
  });

  test("a 64-bit constant through lddw and a loop", () => {
    const code = asm(`
      r0 = 0x123456789abcdef ll
      r1 = 10
    top:
      r2 = 0x100000001b3 ll
      r0 *= r2
      r0 ^= r1
      r1 -= 1
      if r1 != 0 goto top
      exit`);
    expectSame(code);
  });
});

describe.skipIf(skip)("LLVM tier vs interpreter: the JIT's fuzz corpus", () => {
  // test_jit_diff.c's generator (random valid programs: every ALU/JMP op,
  // loads/stores of every size, atomics, helpers, callx, bpf-to-bpf calls,
  // loops), reused through native/vm/tests/tool_jit_diff_corpus.c; the tool
  // runs each on the interpreter and the blob with the same helpers and memory.
  const count = Number(process.env.BPFTIME_LLVM_FUZZ_COUNT ?? 40);
  test(`the first ${count} programs: same r0, same memory`, () => {
    const tool = join(repoRoot, "native", "build", "tools", "tool_jit_diff_corpus");
    const dir = tempDir("llvm-fuzz");
    const gen = spawnSync(tool, ["gen", dir, String(count)], { encoding: "utf8" });
    expect(gen.status, gen.stderr).toBe(0);
    let compiled = 0;
    for (let i = 0; i < count; i++) {
      const code = new Uint8Array(readFileSync(join(dir, `${i}.bin`)));
      writeFileSync(join(dir, `${i}.llvm`), compileToNative(code, toolchain));
      compiled++;
    }
    const check = spawnSync(tool, ["check", dir, String(count)], { encoding: "utf8" });
    const lines = check.stdout.trim().split("\n");
    expect(lines.filter((l) => !l.startsWith("same "))).toEqual([]);
    expect(lines.length).toBe(compiled);
    expect(check.status).toBe(0);
  }, 600_000);
});

describe.skipIf(skip)("LLVM tier: the VM's conformance cases", () => {
  // test_vm_conformance.c's rows (every instruction and its edge cases),
  // reused through native/vm/tests/tool_vm_conformance_corpus.c: the tool
  // checks r0 and memory against each row's expected values. Every 4th row
  // by default (each is a clang run); BPFTIME_LLVM_CONFORMANCE_ALL=1 runs all.
  const every = process.env.BPFTIME_LLVM_CONFORMANCE_ALL ? 1 : 4;
  test(`every ${every === 1 ? "" : `${every}th `}row the JIT must pass`, () => {
    const tool = join(repoRoot, "native", "build", "tools", "tool_vm_conformance_corpus");
    const dir = tempDir("llvm-conf");
    const gen = spawnSync(tool, ["gen", dir], { encoding: "utf8" });
    expect(gen.status, gen.stderr).toBe(0);
    const rows = gen.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(" ")[0]!);
    expect(rows.length).toBeGreaterThan(100);
    const refused: string[] = [];
    let compiled = 0;
    for (const k of rows.filter((_, n) => n % every === 0)) {
      const code = new Uint8Array(readFileSync(join(dir, `${k}.bin`)));
      try {
        writeFileSync(join(dir, `${k}.llvm`), compileToNative(code, toolchain));
        compiled++;
      } catch (e) {
        refused.push((e as Error).message);
      }
    }
    // the only rows the tier may leave to the JIT: tail calls, recursion
    // (bounded only at run time by the interpreter's 8 frames)
    expect(refused.filter((m) => !/tail call|recursive/.test(m))).toEqual([]);
    const check = spawnSync(tool, ["check", dir], { encoding: "utf8" });
    const lines = check.stdout.trim().split("\n");
    expect(lines.filter((l) => !l.startsWith("pass "))).toEqual([]);
    expect(lines.length).toBe(compiled);
    expect(check.status).toBe(0);
  }, 600_000);
});

describe.skipIf(skip)("LLVM tier refusals", () => {
  const refused: [string, string, RegExp][] = [
    ["tail call", "r0 = 0\ncall 12\nexit", /tail call/],
    ["kfunc", "call kfunc 77\nexit", /kfunc/],
    ["recursion", "call local f\nexit\nf:\ncall local f\nexit", /recursive/],
    ["legacy packet load", "r0 = *(u8 *)skb[4]\nexit", /opcode 0x30/],
  ];
  for (const [what, text, why] of refused)
    test(what, () => {
      const e = bpftimeErrorOf(() => translateToLlvm(asm(text)));
      expect(e.code).toBe("unsupported");
      expect(e.message).toMatch(why);
      expect(e.message).toMatch(/the JIT runs it instead/);
    });

  test("the loader refuses a blob made for another program", () => {
    const blob = compileToNative(asm("r0 = 1\nexit"), toolchain);
    const vm = new Vm(asm("r0 = 1\nr0 += 1\nexit"));
    try {
      const e = bpftimeErrorOf(() => new NativeCode(vm.pointer, blob));
      expect(e.message).toMatch(/made for a program of 2 instructions, the VM holds 3/);
    } finally {
      vm.close();
    }
  });

  test("the loader refuses a corrupted blob", () => {
    const blob = compileToNative(asm("r0 = 1\nexit"), toolchain);
    blob[0] = 0;
    const vm = new Vm(asm("r0 = 1\nexit"));
    try {
      expect(bpftimeErrorOf(() => new NativeCode(vm.pointer, blob)).message).toMatch(/bad magic/);
    } finally {
      vm.close();
    }
  });

  test("the loader refuses a helper the VM does not have", () => {
    // helper 1 is not registered in a bare Vm
    const code = asm("r1 = 0\nr2 = 0\ncall 1\nexit");
    const blob = compileToNative(code, toolchain);
    const vm = new Vm(asm("r0 = 0\nr0 = 0\nr0 = 0\nexit"));
    try {
      expect(bpftimeErrorOf(() => new NativeCode(vm.pointer, blob)).message).toMatch(
        /helper 1, which is not registered/,
      );
    } finally {
      vm.close();
    }
  });
});
