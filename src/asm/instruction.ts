// The eBPF instruction model: one Instruction per instruction (lddw is one
// Instruction occupying two 8-byte slots), decode/encode of little-endian
// bytecode, and the predicates other parts of bpftime use (verifier, VM tests).
//
// Positions: jump and call offsets count *slots* (8-byte units), so a program
// with lddw has more slots than instructions. `slotIndices` maps between them;
// `jumpTarget` and `callTarget` take and return slot numbers.

import { BpftimeError } from "../errors.ts";
import { AluOp, AtomicOp, CallSrc, Class, JmpOp, Mode, OP_CALL, OP_EXIT } from "./opcodes.ts";
import { OP_JA32, OP_LDDW, PseudoSrc, REGISTER_COUNT, SLOT_SIZE, Size, Source } from "./opcodes.ts";
import { classOf, isAluClass, isJmpClass, modeOf, opOf, sizeOf, sourceOf } from "./opcodes.ts";

/** One eBPF instruction. */
export interface Instruction {
  /** opcode byte */
  opcode: number;
  /** destination register 0..15 (valid: 0..10) */
  dst: number;
  /** source register 0..15 (valid: 0..10); pseudo kind for lddw and call */
  src: number;
  /** signed 16-bit offset */
  off: number;
  /** signed 32-bit immediate (for lddw: the low 32 bits) */
  imm: number;
  /** lddw only: the full 64-bit immediate, signed (-2^63 .. 2^63-1) */
  imm64?: bigint;
}

export const classOfInst = (inst: Instruction): number => classOf(inst.opcode);
export const isLddw = (inst: Instruction): boolean => inst.opcode === OP_LDDW;
export const isExit = (inst: Instruction): boolean => inst.opcode === OP_EXIT;
/** Any call: helper (src 0), bpf-to-bpf (src 1) or kfunc (src 2). */
export const isCall = (inst: Instruction): boolean => inst.opcode === OP_CALL;
export const isHelperCall = (inst: Instruction): boolean =>
  isCall(inst) && inst.src === CallSrc.HELPER;
export const isLocalCall = (inst: Instruction): boolean =>
  isCall(inst) && inst.src === CallSrc.LOCAL;
export const isKfuncCall = (inst: Instruction): boolean =>
  isCall(inst) && inst.src === CallSrc.KFUNC;

/** A jump (conditional or not, JMP or JMP32); calls and exit are not jumps. */
export function isJump(inst: Instruction): boolean {
  const cls = classOf(inst.opcode);
  if (!isJmpClass(cls)) return false;
  const op = opOf(inst.opcode);
  return op !== JmpOp.CALL && op !== JmpOp.EXIT;
}

/** ja (goto) or gotol. */
export const isUnconditionalJump = (inst: Instruction): boolean =>
  isJump(inst) && opOf(inst.opcode) === JmpOp.JA;
export const isConditionalJump = (inst: Instruction): boolean =>
  isJump(inst) && opOf(inst.opcode) !== JmpOp.JA;
export const isAlu = (inst: Instruction): boolean => isAluClass(classOf(inst.opcode));
/** Arithmetic or jump with a register operand (BPF_X): src is read, not imm. */
export const isRegisterSource = (inst: Instruction): boolean => sourceOf(inst.opcode) === Source.X;
export const is64BitAlu = (inst: Instruction): boolean => classOf(inst.opcode) === Class.ALU64;
export const isLoad = (inst: Instruction): boolean => {
  const cls = classOf(inst.opcode);
  return cls === Class.LDX || (cls === Class.LD && !isLddw(inst));
};
export const isStore = (inst: Instruction): boolean => {
  const cls = classOf(inst.opcode);
  return cls === Class.ST || (cls === Class.STX && modeOf(inst.opcode) === Mode.MEM);
};
export const isAtomic = (inst: Instruction): boolean =>
  classOf(inst.opcode) === Class.STX && modeOf(inst.opcode) === Mode.ATOMIC;

/** The jump distance in slots, relative to the next slot (gotol keeps it in imm). */
export function jumpOffset(inst: Instruction): number {
  return inst.opcode === OP_JA32 ? inst.imm : inst.off;
}

/** Slots an instruction occupies: 2 for lddw, 1 otherwise. */
export const slotCount = (inst: Instruction): 1 | 2 => (isLddw(inst) ? 2 : 1);

/**
 * Target slot of a jump at `slot`, or undefined if `inst` is not a jump.
 * The result may be out of range; checking that is the verifier's job.
 */
export function jumpTarget(inst: Instruction, slot: number): number | undefined {
  if (!isJump(inst)) return undefined;
  return slot + 1 + jumpOffset(inst);
}

/** Target slot of a bpf-to-bpf call at `slot`, or undefined for other instructions. */
export function callTarget(inst: Instruction, slot: number): number | undefined {
  if (!isLocalCall(inst)) return undefined;
  return slot + 1 + inst.imm;
}

/** Slot number of each instruction (length = insts.length). */
export function slotIndices(insts: readonly Instruction[]): number[] {
  const out: number[] = [];
  let slot = 0;
  for (const inst of insts) {
    out.push(slot);
    slot += slotCount(inst);
  }
  return out;
}

/** Total slots (8-byte units) of a program. */
export function totalSlots(insts: readonly Instruction[]): number {
  let n = 0;
  for (const inst of insts) n += slotCount(inst);
  return n;
}

/** Builds an instruction; fields default to 0. */
export function ins(opcode: number, dst = 0, src = 0, off = 0, imm = 0): Instruction {
  return { opcode, dst, src, off, imm };
}

/** Builds a lddw instruction (`src` = PseudoSrc kind, 0 for a plain constant). */
export function lddw(dst: number, value: bigint | number, src = 0): Instruction {
  const imm64 = BigInt.asIntN(64, BigInt(value));
  return { opcode: OP_LDDW, dst, src, off: 0, imm: Number(BigInt.asIntN(32, imm64)), imm64 };
}

/** The 64-bit immediate of a lddw (from imm64, or imm with zero high bits). */
export function lddwValue(inst: Instruction): bigint {
  return inst.imm64 ?? BigInt(inst.imm >>> 0);
}

/**
 * The second slot's imm of a lddw, signed: the offset into the map value for
 * PseudoSrc.MAP_VALUE and MAP_IDX_VALUE.
 */
export function lddwNextImm(inst: Instruction): number {
  return Number(BigInt.asIntN(32, lddwValue(inst) >> 32n));
}

function badBytecode(message: string, details?: unknown): BpftimeError {
  return new BpftimeError("bad_bytecode", message, details);
}

/**
 * The fields of one 8-byte slot, read alone: a lddw's `imm64` is not set (its
 * second slot is not read). For messages about bytecode `decode` refuses.
 */
export function decodeSlot(bytes: Uint8Array, slot: number): Instruction {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = slot * SLOT_SIZE;
  const regs = view.getUint8(at + 1);
  return {
    opcode: view.getUint8(at),
    dst: regs & 0x0f,
    src: regs >> 4,
    off: view.getInt16(at + 2, true),
    imm: view.getInt32(at + 4, true),
  };
}

/**
 * Decodes little-endian eBPF bytecode. lddw consumes two slots and yields one
 * Instruction with `imm64`. Opcodes are not validated here (see
 * `instructionProblem`); only the framing is. A framing error is a
 * BpftimeError "bad_bytecode" whose details are `{ index, reason }` (the slot
 * and the problem without the "instruction N: " prefix).
 */
export function decode(bytes: Uint8Array): Instruction[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots = Math.floor(bytes.byteLength / SLOT_SIZE);
  const framing = (index: number, reason: string) =>
    badBytecode(`instruction ${index}: ${reason}`, { index, reason });
  const out: Instruction[] = [];
  for (let slot = 0; slot < slots; slot++) {
    const inst = decodeSlot(bytes, slot);
    if (inst.opcode === OP_LDDW) {
      if (slot + 1 >= slots) {
        throw framing(
          slot,
          `lddw is truncated (needs 2 slots, program ends after slot ${slot}); the bytecode is cut short`,
        );
      }
      const next = (slot + 1) * SLOT_SIZE;
      if (
        view.getUint8(next) !== 0 ||
        view.getUint8(next + 1) !== 0 ||
        view.getInt16(next + 2, true) !== 0
      ) {
        throw framing(
          slot,
          "second slot of lddw must have opcode, registers and offset 0; the bytecode is malformed",
        );
      }
      const hi = view.getUint32(next + 4, true);
      inst.imm64 = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(inst.imm >>> 0));
      slot++;
    }
    out.push(inst);
  }
  if (bytes.byteLength % SLOT_SIZE !== 0) {
    throw framing(
      slots,
      `truncated (${bytes.byteLength} bytes is not a multiple of ${SLOT_SIZE}); the bytecode is cut short`,
    );
  }
  return out;
}

/** Encodes instructions as little-endian bytecode (lddw as two slots). */
export function encode(insts: readonly Instruction[]): Uint8Array {
  const bytes = new Uint8Array(totalSlots(insts) * SLOT_SIZE);
  const view = new DataView(bytes.buffer);
  let at = 0;
  insts.forEach((inst, i) => {
    if (
      !Number.isInteger(inst.opcode) ||
      inst.opcode < 0 ||
      inst.opcode > 0xff ||
      !(inst.dst >= 0 && inst.dst <= 15) ||
      !(inst.src >= 0 && inst.src <= 15) ||
      !Number.isInteger(inst.off) ||
      inst.off < -0x8000 ||
      inst.off > 0xffff ||
      !Number.isInteger(inst.imm) ||
      inst.imm < -0x80000000 ||
      inst.imm > 0xffffffff
    ) {
      throw badBytecode(
        `instruction ${i}: field out of range (${JSON.stringify({ ...inst, imm64: inst.imm64?.toString() })}); cannot encode`,
        { index: i },
      );
    }
    view.setUint8(at, inst.opcode);
    view.setUint8(at + 1, ((inst.src & 0x0f) << 4) | (inst.dst & 0x0f));
    view.setUint16(at + 2, inst.off & 0xffff, true);
    if (isLddw(inst)) {
      const v = BigInt.asUintN(64, lddwValue(inst));
      view.setUint32(at + 4, Number(v & 0xffffffffn), true);
      view.setUint32(at + 12, Number(v >> 32n), true);
      at += 16;
    } else {
      view.setUint32(at + 4, inst.imm >>> 0, true);
      at += 8;
    }
  });
  return bytes;
}

const aluOps = new Set<number>(Object.values(AluOp));
const atomicOps = new Set<number>([
  AtomicOp.ADD,
  AtomicOp.OR,
  AtomicOp.AND,
  AtomicOp.XOR,
  AtomicOp.ADD | AtomicOp.FETCH,
  AtomicOp.OR | AtomicOp.FETCH,
  AtomicOp.AND | AtomicOp.FETCH,
  AtomicOp.XOR | AtomicOp.FETCH,
  AtomicOp.XCHG,
  AtomicOp.CMPXCHG,
]);

const hex = (n: number): string => "0x" + (n & 0xff).toString(16).padStart(2, "0");

/**
 * Why `inst` is not a valid RFC 9669 encoding (unknown opcode, reserved field
 * not zero, bad register number), or undefined if it is valid. Semantics
 * (register initialised, jump in range, helper known) are the verifier's job.
 */
export function instructionProblem(inst: Instruction): string | undefined {
  const { opcode, dst, src, off, imm } = inst;
  const cls = classOf(opcode);
  const op = opOf(opcode);
  const unknown = `unknown opcode ${hex(opcode)}`;
  const reg = (r: number, what: string): string | undefined =>
    r >= REGISTER_COUNT ? `invalid ${what} register r${r}` : undefined;
  const zero = (v: number, what: string): string | undefined =>
    v !== 0 ? `reserved field ${what} must be 0 (is ${v})` : undefined;
  const first = (...ps: (string | undefined)[]): string | undefined => ps.find((p) => p);

  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      if (!aluOps.has(op)) return unknown;
      const k = sourceOf(opcode) === Source.K;
      if (op === AluOp.NEG) {
        if (!k) return unknown;
        return first(
          reg(dst, "destination"),
          zero(src, "src"),
          zero(off, "offset"),
          zero(imm, "imm"),
        );
      }
      if (op === AluOp.END) {
        if (cls === Class.ALU64 && !k) return unknown;
        if (imm !== 16 && imm !== 32 && imm !== 64)
          return `byte swap width must be 16, 32 or 64 (is ${imm})`;
        return first(reg(dst, "destination"), zero(src, "src"), zero(off, "offset"));
      }
      if (op === AluOp.DIV || op === AluOp.MOD) {
        if (off !== 0 && off !== 1)
          return `offset of div/mod must be 0 (unsigned) or 1 (signed), is ${off}`;
      } else if (op === AluOp.MOV && !k) {
        const ok = off === 0 || off === 8 || off === 16 || (off === 32 && cls === Class.ALU64);
        if (!ok)
          return `offset of mov must be 0 or a sign-extension width 8, 16${cls === Class.ALU64 ? ", 32" : ""} (is ${off})`;
      } else {
        const p = zero(off, "offset");
        if (p) return p;
      }
      return k
        ? first(reg(dst, "destination"), zero(src, "src"))
        : first(reg(dst, "destination"), reg(src, "source"), zero(imm, "imm"));
    }
    case Class.JMP:
    case Class.JMP32: {
      const k = sourceOf(opcode) === Source.K;
      if (op === JmpOp.CALL) {
        if (cls !== Class.JMP || !k) return unknown;
        if (src > CallSrc.KFUNC)
          return `call kind (src) must be 0 (helper), 1 (local) or 2 (kfunc), is ${src}`;
        return first(zero(dst, "dst"), zero(off, "offset"));
      }
      if (op === JmpOp.EXIT) {
        if (cls !== Class.JMP || !k) return unknown;
        return first(zero(dst, "dst"), zero(src, "src"), zero(off, "offset"), zero(imm, "imm"));
      }
      if (op === JmpOp.JA) {
        if (!k) return unknown;
        return cls === Class.JMP
          ? first(zero(dst, "dst"), zero(src, "src"), zero(imm, "imm"))
          : first(zero(dst, "dst"), zero(src, "src"), zero(off, "offset"));
      }
      if (op > JmpOp.JSLE) return unknown;
      return k
        ? first(reg(dst, "destination"), zero(src, "src"))
        : first(reg(dst, "destination"), reg(src, "source"), zero(imm, "imm"));
    }
    case Class.LD: {
      const mode = modeOf(opcode);
      if (opcode === OP_LDDW) {
        if (src > PseudoSrc.MAP_IDX_VALUE) return `lddw pseudo source must be 0..6, is ${src}`;
        return first(reg(dst, "destination"), zero(off, "offset"));
      }
      if ((mode === Mode.ABS || mode === Mode.IND) && sizeOf(opcode) !== Size.DW) {
        return mode === Mode.ABS
          ? first(zero(dst, "dst"), zero(src, "src"), zero(off, "offset"))
          : first(zero(dst, "dst"), reg(src, "source"), zero(off, "offset"));
      }
      return unknown;
    }
    case Class.LDX: {
      const mode = modeOf(opcode);
      if (mode !== Mode.MEM && !(mode === Mode.MEMSX && sizeOf(opcode) !== Size.DW)) return unknown;
      return first(reg(dst, "destination"), reg(src, "source"), zero(imm, "imm"));
    }
    case Class.ST: {
      if (modeOf(opcode) !== Mode.MEM) return unknown;
      return first(reg(dst, "destination"), zero(src, "src"));
    }
    default: {
      // Class.STX
      const mode = modeOf(opcode);
      if (mode === Mode.MEM)
        return first(reg(dst, "destination"), reg(src, "source"), zero(imm, "imm"));
      if (mode !== Mode.ATOMIC) return unknown;
      const size = sizeOf(opcode);
      if (size !== Size.W && size !== Size.DW) return unknown;
      if (!atomicOps.has(imm)) return `unknown atomic operation ${hex(imm)}`;
      return first(reg(dst, "destination"), reg(src, "source"));
    }
  }
}

/** Every class × operation × source (K, then X) opcode of an ALU or JMP table, with its parts. */
function* opcodeGrid<Op extends number>(
  classes: number[],
  ops: Record<string, Op>,
): Generator<{ cls: number; op: Op; opcode: number; k: boolean }> {
  for (const cls of classes)
    for (const op of Object.values(ops))
      for (const source of [Source.K, Source.X])
        yield { cls, op, opcode: cls | op | source, k: source === Source.K };
}

/**
 * One sample of every valid instruction form: every valid opcode, and for
 * opcodes whose meaning depends on off/imm/src (movsx, sdiv/smod, byte swaps,
 * atomics, lddw pseudo sources, call kinds) one sample per variant. Registers
 * and operands are arbitrary but valid.
 */
export function enumerateForms(): Instruction[] {
  const out: Instruction[] = [];
  for (const { cls, op, opcode, k } of opcodeGrid([Class.ALU, Class.ALU64], AluOp)) {
    if (op === AluOp.NEG) {
      if (k) out.push(ins(opcode, 3));
    } else if (op === AluOp.END) {
      if (cls === Class.ALU64 && !k) continue;
      for (const w of [16, 32, 64]) out.push(ins(opcode, 4, 0, 0, w));
    } else {
      const offs =
        op === AluOp.DIV || op === AluOp.MOD
          ? [0, 1]
          : op === AluOp.MOV && !k
            ? cls === Class.ALU64
              ? [0, 8, 16, 32]
              : [0, 8, 16]
            : [0];
      for (const off of offs) out.push(k ? ins(opcode, 1, 0, off, -7) : ins(opcode, 1, 2, off, 0));
    }
  }
  for (const { cls, op, opcode, k } of opcodeGrid([Class.JMP, Class.JMP32], JmpOp)) {
    if (op === JmpOp.CALL) {
      if (cls === Class.JMP && k) {
        out.push(ins(opcode, 0, CallSrc.HELPER, 0, 6));
        out.push(ins(opcode, 0, CallSrc.LOCAL, 0, 2));
        out.push(ins(opcode, 0, CallSrc.KFUNC, 0, 1234));
      }
    } else if (op === JmpOp.EXIT) {
      if (cls === Class.JMP && k) out.push(ins(opcode));
    } else if (op === JmpOp.JA) {
      if (k) out.push(cls === Class.JMP ? ins(opcode, 0, 0, 3, 0) : ins(opcode, 0, 0, 0, -2));
    } else {
      out.push(k ? ins(opcode, 1, 0, 2, -5) : ins(opcode, 1, 9, -1, 0));
    }
  }
  for (let src = 0; src <= PseudoSrc.MAP_IDX_VALUE; src++) {
    out.push(lddw(2, src === 0 ? 0x123456789abcdefn : BigInt(src), src));
  }
  for (const size of [Size.W, Size.H, Size.B]) {
    out.push(ins(Class.LD | Mode.ABS | size, 0, 0, 0, 12));
    out.push(ins(Class.LD | Mode.IND | size, 0, 3, 0, 4));
  }
  for (const size of [Size.W, Size.H, Size.B, Size.DW]) {
    out.push(ins(Class.LDX | Mode.MEM | size, 0, 1, 8, 0));
    if (size !== Size.DW) out.push(ins(Class.LDX | Mode.MEMSX | size, 5, 10, -4, 0));
    out.push(ins(Class.ST | Mode.MEM | size, 10, 0, -8, 77));
    out.push(ins(Class.STX | Mode.MEM | size, 1, 6, 16, 0));
  }
  for (const size of [Size.W, Size.DW]) {
    for (const imm of atomicOps) out.push(ins(Class.STX | Mode.ATOMIC | size, 1, 2, 8, imm));
  }
  return out;
}
