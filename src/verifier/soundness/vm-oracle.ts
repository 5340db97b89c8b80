// Concrete results from the real eBPF VM (native/vm, through src/native/vm.ts)
// for the domain soundness fuzz: one small program per operation loops over a
// batch of (a, b) records in its memory, applies the operation once per
// record and stores the result, so a million operations cost a few FFI calls.
// Nothing here computes an ALU result in TypeScript.

import { encode, ins } from "../../asm/index.ts";
import { Vm, type Engine } from "../../native/index.ts";

/** One instruction that computes r3 from r3 (a) and r4 (b), or a conditional jump. */
export interface OpCode {
  opcode: number;
  off?: number;
  imm?: number;
  /** a conditional jump r3 OP r4: the result is 1 when taken, 0 otherwise */
  jump?: boolean;
  /** operates on r3 alone (neg, byte swaps) */
  unary?: boolean;
}

const RECORD = 24; // a, b, result: three u64

function program(op: OpCode): Uint8Array {
  const body = op.jump
    ? [
        ins(0xb7, 5, 0, 0, 1), // r5 = 1
        ins(op.opcode, 3, 4, 1, 0), // if r3 OP r4 goto +1
        ins(0xb7, 5, 0, 0, 0), // r5 = 0
        ins(0xbf, 3, 5), // r3 = r5
      ]
    : [ins(op.opcode, 3, op.unary ? 0 : 4, op.off ?? 0, op.imm ?? 0)];
  const n = body.length;
  return encode([
    ins(0xbf, 6, 1), // r6 = r1 (records)
    ins(0xbf, 7, 1), // r7 = r1
    ins(0x0f, 7, 2), // r7 += r2 (end)
    ins(0x3d, 6, 7, 5 + n, 0), // if r6 >= r7 goto out
    ins(0x79, 3, 6, 0, 0), // r3 = a
    ins(0x79, 4, 6, 8, 0), // r4 = b
    ...body,
    ins(0x7b, 6, 3, 16, 0), // result = r3
    ins(0x07, 6, 0, 0, RECORD), // r6 += 24
    ins(0x05, 0, 0, -(6 + n), 0), // goto loop
    ins(0xb7, 0, 0, 0, 0), // out: r0 = 0
    ins(0x95), // exit
  ]);
}

/** A loaded batch program for one operation (close() when done). */
export class VmOp {
  private vm: Vm;
  constructor(op: OpCode) {
    // ~9 instructions per record; the budget allows any batch size used here
    this.vm = new Vm(program(op), { budget: 1n << 40n });
  }

  /** results[i] = a[i] OP b[i] on the given engine. */
  run(a: BigUint64Array, b: BigUint64Array, engine: Engine): BigUint64Array {
    const n = a.length;
    const mem = new BigUint64Array(n * 3);
    for (let i = 0; i < n; i++) {
      mem[i * 3] = a[i]!;
      mem[i * 3 + 1] = b[i]!;
    }
    this.vm.run(new Uint8Array(mem.buffer), engine);
    const out = new BigUint64Array(n);
    for (let i = 0; i < n; i++) out[i] = mem[i * 3 + 2]!;
    return out;
  }

  close(): void {
    this.vm.close();
  }
}
