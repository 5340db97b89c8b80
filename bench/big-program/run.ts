// A big program: time to verify and JIT-compile a generated XDP program of
// 10k and 100k instructions in bpftime, beside the kernel's verifier on the
// same bytecode (bpf(BPF_PROG_LOAD) with BPF_LOG_STATS: its own
// "verification time"; and the whole load, JIT included, timed around the
// call). Two sizes show how the cost grows: ~10x for 10x more instructions
// is linear.
//
// The program: a bounds check on the packet, then blocks of a byte load, a
// multiply, an add and an xor, every 4th with a data-dependent branch (so
// the verifier explores and prunes, as in real code), ending in one exit. Our verifier
// is src/verifier (TypeScript, run in-process); our JIT is native/vm through
// the FFI (`Vm.run(…, "jit")` compiles, then runs once).
//
//   bun bench/big-program/run.ts [--sizes 10000,100000] [--n 3]
import { parseArgs } from "node:util";
import { Vm } from "../../src/native/vm.ts";
import { verify } from "../../src/verifier/index.ts";
import { kernelStats, kernelUnavailable } from "../../src/verifier/testdata/kernel.ts";
import { printTable } from "../lib/prog-run.ts";

const { values: opt } = parseArgs({
  options: {
    sizes: { type: "string", default: "10000,100000" },
    n: { type: "string", default: "3" },
  },
});
const sizes = opt.sizes!.split(",").map(Number);
const N = Number(opt.n);

function insn(op: number, dst: number, src: number, off: number, imm: number): number[] {
  const b = new DataView(new ArrayBuffer(8));
  b.setUint8(0, op);
  b.setUint8(1, (src << 4) | dst);
  b.setInt16(2, off, true);
  b.setInt32(4, imm, true);
  return [...new Uint8Array(b.buffer)];
}

/** An XDP program of about `size` instructions (see the header). */
function generate(size: number): Uint8Array {
  const out: number[][] = [
    insn(0x61, 6, 1, 0, 0), // r6 = ctx->data
    insn(0x61, 7, 1, 4, 0), // r7 = ctx->data_end
    insn(0xbf, 2, 6, 0, 0), // r2 = r6
    insn(0x07, 2, 0, 0, 64), // r2 += 64
    insn(0xbd, 2, 7, 2, 0), // if r2 <= r7 goto +2
    insn(0xb7, 0, 0, 0, 2), // r0 = XDP_PASS
    insn(0x95, 0, 0, 0, 0), // exit
    insn(0xb7, 0, 0, 0, 0), // r0 = 0
  ];
  for (let i = 0; out.length < size - 2; i++) {
    out.push(
      insn(0x71, 3, 6, i % 64, 0), // r3 = *(u8 *)(r6 + i%64)
      insn(0x27, 3, 0, 0, (i * 2654435761) | 1), // r3 *= odd constant
      insn(0x0f, 0, 3, 0, 0), // r0 += r3
      insn(0xa7, 0, 0, 0, i), // r0 ^= i
    );
    // a branch every 4th block: the kernel keeps at most 8192 pending
    // branches (BPF_COMPLEXITY_LIMIT_JMP_SEQ), as real programs do
    if (i % 4 === 0)
      out.push(
        insn(0x25, 3, 0, 1, 100), // if r3 > 100 goto +1
        insn(0x07, 0, 0, 0, 1), // r0 += 1
      );
  }
  out.push(insn(0x57, 0, 0, 0, 3), insn(0x95, 0, 0, 0, 0)); // r0 &= 3; exit
  return new Uint8Array(out.flat());
}

const best = (f: () => void): number => {
  let b = Infinity;
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    f();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
};

const noKernel = kernelUnavailable();
if (noKernel) console.log(`kernel column skipped: ${noKernel}`);
const pkt = new Uint8Array(64);
const rows: string[][] = [];
for (const size of sizes) {
  const insts = generate(size);
  const count = insts.length / 8;
  const input = { insts, type: "xdp" as const, maps: [] };
  let processed = NaN;
  const verifyMs = best(() => {
    const r = verify(input);
    if (!r.ok)
      throw new Error(
        `our verifier refuses the ${count}-insn program: ${JSON.stringify(r).slice(0, 300)}`,
      );
    processed = r.stats.insnsProcessed;
  });
  const jitMs = best(() => {
    const vm = new Vm(insts);
    try {
      vm.run(pkt, "jit", 1);
    } finally {
      vm.close();
    }
  });
  let kVerifyMs = NaN;
  let kInsns = NaN;
  let kTotalMs = NaN;
  if (!noKernel) {
    kTotalMs = best(() => {
      const k = kernelStats(input);
      if (!k?.ok) throw new Error(`the kernel refuses the ${count}-insn program: ${k?.error}`);
      kVerifyMs = k.usec / 1000;
      kInsns = k.insns;
    });
  }
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");
  rows.push([
    String(count),
    f(processed, 0),
    f(verifyMs),
    f(jitMs),
    f(verifyMs + jitMs),
    f(kInsns, 0),
    f(kVerifyMs),
    f(kTotalMs),
  ]);
}
console.log(`\nbest of ${N}; ms\n`);
printTable(
  [
    "insns",
    "ours processed",
    "ours verify ms",
    "ours JIT ms",
    "ours total ms",
    "kernel processed",
    "kernel verify ms",
    "kernel load ms (process)",
  ],
  rows,
);
console.log(
  "\nkernel load ms: the helper process around bpf(BPF_PROG_LOAD), verification and JIT included",
);
