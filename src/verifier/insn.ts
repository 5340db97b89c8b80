// The verifier's view of bytecode: one entry per 8-byte slot (the index the
// kernel's verifier and every error message use), with the lddw pair decoded
// into its first slot. Also the disassembler used in verifier messages and
// the log (llvm-objdump syntax, as `bpftime` prints elsewhere).

import { helperById } from "./helpers.ts";

export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** lddw only: the 64-bit immediate (first slot imm low, second slot imm high). */
  imm64?: bigint;
  /** lddw only: the second slot's imm (the offset for BPF_PSEUDO_MAP_IDX_VALUE). */
  imm2?: number;
}

export const CLS = { LD: 0, LDX: 1, ST: 2, STX: 3, ALU: 4, JMP: 5, JMP32: 6, ALU64: 7 } as const;
export const MODE = {
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  MEMSX: 0x80,
  ATOMIC: 0xc0,
} as const;
export const OP_LDDW = 0x18;
export const OP_CALL = 0x85;
export const OP_EXIT = 0x95;
export const PSEUDO_MAP_FD = 1;
export const PSEUDO_MAP_VALUE = 2;
export const PSEUDO_MAP_IDX = 5;
export const PSEUDO_MAP_IDX_VALUE = 6;
export const PSEUDO_CALL = 1;

export const cls = (code: number): number => code & 7;
export const sizeBytes = (code: number): number => [4, 2, 1, 8][(code >> 3) & 3]!;
export const mode = (code: number): number => code & 0xe0;
export const aluOp = (code: number): number => code & 0xf0;
export const isX = (code: number): boolean => (code & 8) !== 0;

/** Decode raw bytes: one entry per slot; the second slot of lddw is undefined. */
export function decodeSlots(bytes: Uint8Array): (Insn | undefined)[] {
  if (bytes.length % 8 !== 0)
    throw new Error(`program size ${bytes.length} is not a multiple of 8`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length / 8;
  const out: (Insn | undefined)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const b = i * 8;
    const regs = dv.getUint8(b + 1);
    const insn: Insn = {
      code: dv.getUint8(b),
      dst: regs & 0xf,
      src: regs >> 4,
      off: dv.getInt16(b + 2, true),
      imm: dv.getInt32(b + 4, true),
    };
    out[i] = insn;
    if (insn.code === OP_LDDW && i + 1 < n) {
      const hi = dv.getInt32(b + 12, true);
      insn.imm2 = hi;
      insn.imm64 = BigInt.asUintN(64, (BigInt(hi) << 32n) | BigInt(insn.imm >>> 0));
      out[i + 1] = undefined;
      i++;
    }
  }
  return out;
}

export function encodeSlot(buf: Uint8Array, index: number, insn: Insn): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const b = index * 8;
  dv.setUint8(b, insn.code);
  dv.setUint8(b + 1, (insn.src << 4) | insn.dst);
  dv.setInt16(b + 2, insn.off, true);
  dv.setInt32(b + 4, insn.imm, true);
}

const ALU_SYM: Record<number, string> = {
  0x00: "+=",
  0x10: "-=",
  0x20: "*=",
  0x30: "/=",
  0x40: "|=",
  0x50: "&=",
  0x60: "<<=",
  0x70: ">>=",
  0x90: "%=",
  0xa0: "^=",
  0xb0: "=",
  0xc0: "s>>=",
};
const JMP_SYM: Record<number, string> = {
  0x10: "==",
  0x20: ">",
  0x30: ">=",
  0x40: "&",
  0x50: "!=",
  0x60: "s>",
  0x70: "s>=",
  0xa0: "<",
  0xb0: "<=",
  0xc0: "s<",
  0xd0: "s<=",
};
const SZ = (code: number): string => `u${sizeBytes(code) * 8}`;
const hex = (n: number): string => (n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`);
const mem = (r: number, off: number): string =>
  `r${r} ${off < 0 ? "-" : "+"} 0x${Math.abs(off).toString(16)}`;
const jmpOff = (off: number): string => (off < 0 ? `${off}` : `+${off}`);

/** One instruction in llvm-objdump syntax, e.g. "r0 = *(u32 *)(r1 + 0x40)". */
export function disasm(insn: Insn): string {
  const { code, dst, src, off, imm } = insn;
  const c = cls(code);
  switch (c) {
    case CLS.ALU:
    case CLS.ALU64: {
      const r = c === CLS.ALU64 ? "r" : "w";
      const op = aluOp(code);
      if (op === 0x80) return `${r}${dst} = -${r}${dst}`;
      if (op === 0xd0) {
        if (c === CLS.ALU64) return `r${dst} = bswap${imm} r${dst}`;
        return `r${dst} = ${isX(code) ? "be" : "le"}${imm} r${dst}`;
      }
      let sym = ALU_SYM[op] ?? `alu?${op.toString(16)}`;
      if ((op === 0x30 || op === 0x90) && off === 1) sym = `s${sym}`;
      const srcText = isX(code)
        ? op === 0xb0 && off !== 0
          ? `(s${off})${r}${src}`
          : `${r}${src}`
        : `${imm}`;
      return `${r}${dst} ${sym} ${srcText}`;
    }
    case CLS.LD:
      if (code === OP_LDDW) {
        if (src === PSEUDO_MAP_IDX || src === PSEUDO_MAP_FD) return `r${dst} = map[${imm}] ll`;
        if (src === PSEUDO_MAP_IDX_VALUE || src === PSEUDO_MAP_VALUE)
          return `r${dst} = map_value[${imm}]+${insn.imm2 ?? 0} ll`;
        return `r${dst} = 0x${(insn.imm64 ?? 0n).toString(16)} ll`;
      }
      if (mode(code) === MODE.ABS) return `r0 = *(${SZ(code)} *)skb[${imm}]`;
      if (mode(code) === MODE.IND) return `r0 = *(${SZ(code)} *)skb[r${src} + ${imm}]`;
      return `ld? 0x${code.toString(16)}`;
    case CLS.LDX:
      if (mode(code) === MODE.MEMSX)
        return `r${dst} = *(s${sizeBytes(code) * 8} *)(${mem(src, off)})`;
      return `r${dst} = *(${SZ(code)} *)(${mem(src, off)})`;
    case CLS.ST:
      return `*(${SZ(code)} *)(${mem(dst, off)}) = ${imm}`;
    case CLS.STX: {
      if (mode(code) === MODE.ATOMIC) {
        const sz = SZ(code);
        const w = sizeBytes(code) === 8 ? "r" : "w";
        const names: Record<number, string> = { 0x00: "add", 0x40: "or", 0x50: "and", 0xa0: "xor" };
        if (imm === 0xe1)
          return `${w}${src} = xchg${sizeBytes(code) * 8}_32(${mem(dst, off)}, ${w}${src})`;
        if (imm === 0xf1)
          return `${w}0 = cmpxchg${sizeBytes(code) === 8 ? "_64" : "32_32"}(${mem(dst, off)}, ${w}0, ${w}${src})`;
        const name = names[imm & ~1];
        if (name === undefined) return `atomic? 0x${imm.toString(16)}`;
        if (imm & 1)
          return `${w}${src} = atomic_fetch_${name}((${sz} *)(${mem(dst, off)}), ${w}${src})`;
        const sym = { add: "+=", or: "|=", and: "&=", xor: "^=" }[name];
        return `lock *(${sz} *)(${mem(dst, off)}) ${sym} ${w}${src}`;
      }
      return `*(${SZ(code)} *)(${mem(dst, off)}) = r${src}`;
    }
    case CLS.JMP:
    case CLS.JMP32: {
      const op = aluOp(code);
      const r = c === CLS.JMP32 ? "w" : "r";
      if (op === 0x00) return c === CLS.JMP32 ? `gotol ${jmpOff(imm)}` : `goto ${jmpOff(off)}`;
      if (op === 0x80) {
        if (src === PSEUDO_CALL) return `call pc${imm < 0 ? "" : "+"}${imm}`;
        const h = helperById.get(imm);
        return h ? `call ${h.name}#${imm}` : `call ${imm}`;
      }
      if (op === 0x90) return "exit";
      const sym = JMP_SYM[op] ?? `j?${op.toString(16)}`;
      const rhs = isX(code) ? `${r}${src}` : `${imm}`;
      return `if ${r}${dst} ${sym} ${rhs} goto ${jmpOff(off)}`;
    }
  }
  return `? 0x${code.toString(16)}`;
}

export { hex };
