// Precision tracking, in the manner of the kernel's mark_chain_precision:
// a checkpoint (a state recorded for pruning) starts with every scalar
// "imprecise" — any scalar covers it — and a scalar becomes precise there
// only when some later decision on the path depends on its exact value (a
// pointer offset, a helper's size argument, a branch the bounds decide).
// The verifier then walks the instructions of the path backwards from that
// decision (this file: which registers and stack slots the value came from)
// and marks them precise in every checkpoint it crosses. Loop counters that
// only feed an undecided `i < n` and accumulators that are only stored stay
// imprecise, so the states of successive iterations cover each other.
//
// The history of a path is a flat list of (slot index, aux) pairs; aux
// records the call depth and, for stack accesses at a constant offset, the
// frame and byte and whether a spilled register was read or written whole.

import {
  AluOp,
  AtomicOp,
  Class,
  type Instruction,
  Mode,
  OP_CALLX,
  classOf,
  isCall,
  isExit,
  isLocalCall,
  isRegisterSource,
  isUnconditionalJump,
  modeOf,
  opOf,
  sizeBytes,
  sizeOf,
} from "../asm/index.ts";
import type { State } from "./state.ts";

export const MAX_FRAMES = 8;

const DEPTH_MASK = 0xf;
const AUX_STACK = 1 << 4;
const AUX_SPILL = 1 << 18;
/** a call of a global function: like a helper's (no frame of its own on this path) */
const AUX_GLOBAL_CALL = 1 << 19;

/** aux of an instruction run at call depth `depth` (0 = main) with no stack access. */
export const depthAux = (depth: number): number => depth;

/** aux of a call of a global function at call depth `depth`. */
export const globalCallAux = (depth: number): number => depth | AUX_GLOBAL_CALL;

/** aux of a constant-offset stack access of byte `byte` in frame `frame`; `spill`: a whole spilled register moved. */
export const stackAux = (depth: number, frame: number, byte: number, spill: boolean): number =>
  depth | AUX_STACK | (frame << 5) | (byte << 8) | (spill ? AUX_SPILL : 0);

/** Registers (bitmask per frame) and spill slots (byte index per frame) whose value is needed. */
export interface PrecSet {
  regs: number[];
  stack: Set<number>[];
}

export function emptySet(): PrecSet {
  const regs: number[] = [];
  const stack: Set<number>[] = [];
  for (let i = 0; i < MAX_FRAMES; i++) {
    regs.push(0);
    stack.push(new Set());
  }
  return { regs, stack };
}

/** Empty `s` for reuse. */
export function clearSet(s: PrecSet): PrecSet {
  for (let i = 0; i < MAX_FRAMES; i++) {
    s.regs[i] = 0;
    if (s.stack[i]!.size) s.stack[i]!.clear();
  }
  return s;
}

export function isEmpty(s: PrecSet): boolean {
  for (let i = 0; i < MAX_FRAMES; i++) if (s.regs[i] !== 0 || s.stack[i]!.size) return false;
  return true;
}

/** Precision marks of a checkpoint: per frame of its state. */
export interface Marks {
  regs: number[];
  stack: (Set<number> | undefined)[];
}

export function noMarks(frames: number): Marks {
  const regs: number[] = [];
  for (let i = 0; i < frames; i++) regs.push(0);
  return { regs, stack: [] };
}

/** Spill slots overlapping [b, b+size) are overwritten: their old value no longer matters. */
function dropOverlap(slots: Set<number>, b: number, size: number): boolean {
  let exact = false;
  for (const s of slots)
    if (s < b + size && s + 8 > b) {
      if (s === b) exact = true;
      slots.delete(s);
    }
  return exact;
}

/**
 * Undo one instruction of the history: `set` holds what is needed after the
 * instruction; afterwards it holds what is needed before it. Keeping too
 * much is always sound (more precision, less pruning); dropping is only done
 * where the instruction sets the value from something that needs no
 * precision (a constant, a load from memory the verifier does not track, a
 * helper's result).
 */
export function backStep(insn: Instruction, aux: number, set: PrecSet): void {
  const d = aux & DEPTH_MASK;
  const R = set.regs;
  const bit = (r: number): number => 1 << r;
  const dst = bit(insn.dst);
  const src = bit(insn.src);
  const stack = (aux & AUX_STACK) !== 0;
  const frame = (aux >> 5) & 0x7;
  const byte = (aux >> 8) & 0x3ff;
  switch (classOf(insn)) {
    case Class.ALU:
    case Class.ALU64: {
      if (!(R[d]! & dst)) return;
      const op = opOf(insn.opcode);
      if (op === AluOp.MOV) {
        R[d] = R[d]! & ~dst;
        if (isRegisterSource(insn)) R[d] = R[d]! | src;
        return;
      }
      if (op === AluOp.NEG || op === AluOp.END) return;
      if (isRegisterSource(insn)) R[d] = R[d]! | src;
      return;
    }
    case Class.LD:
      R[d] = R[d]! & ~dst;
      return;
    case Class.LDX:
      if (!(R[d]! & dst)) return;
      R[d] = R[d]! & ~dst;
      if (stack && aux & AUX_SPILL) set.stack[frame]!.add(byte);
      return;
    case Class.ST:
      if (stack) dropOverlap(set.stack[frame]!, byte, sizeBytes(sizeOf(insn.opcode)));
      return;
    case Class.STX: {
      const size = sizeBytes(sizeOf(insn.opcode));
      if (modeOf(insn.opcode) === Mode.ATOMIC) {
        // the memory gets an unknown value; fetched values are unknown too
        if (stack) dropOverlap(set.stack[frame]!, byte, size);
        if (insn.imm === AtomicOp.CMPXCHG) R[d] = R[d]! & ~1;
        else if (insn.imm & AtomicOp.FETCH) R[d] = R[d]! & ~src;
        return;
      }
      if (stack && dropOverlap(set.stack[frame]!, byte, size) && aux & AUX_SPILL)
        R[d] = R[d]! | src;
      return;
    }
    default: {
      if (isExit(insn)) {
        // backwards over a subprogram's exit: the caller's r0 is the callee's
        if (d === 0) return;
        const need = R[d - 1]! & 1;
        R[d - 1] = R[d - 1]! & ~1;
        R[d] = need;
        set.stack[d]!.clear();
        return;
      }
      if (insn.opcode === OP_CALLX) {
        R[d] = R[d]! & ~0x3f; // a helper's result and clobbered r1-r5
        return;
      }
      if (isCall(insn)) {
        if (isLocalCall(insn) && !(aux & AUX_GLOBAL_CALL)) {
          // backwards over a call: the callee's arguments are the caller's r1-r5
          const args = R[d + 1]! & 0x3e;
          R[d + 1] = 0;
          set.stack[d + 1]!.clear();
          R[d] = (R[d]! & ~0x3f) | args;
        } else R[d] = R[d]! & ~0x3f; // helper result and clobbered r1-r5
        return;
      }
      if (isUnconditionalJump(insn)) return;
      // dst <cond> src: each side's bounds came from the other's
      if (isRegisterSource(insn) && R[d]! & (dst | src)) R[d] = R[d]! | dst | src;
      return;
    }
  }
}

/**
 * Mark what `set` needs in a checkpoint's state. Pointers need no marks
 * (they are always compared in full) and drop out of the set, as do marks
 * the checkpoint already has (its own ancestors got them then). Returns
 * whether the checkpoint got a new mark.
 */
export function markAt(st: State, marks: Marks, set: PrecSet): boolean {
  let added = false;
  for (let fr = 0; fr < MAX_FRAMES; fr++) {
    const f = st.frames[fr];
    if (!f) {
      set.regs[fr] = 0;
      set.stack[fr]!.clear();
      continue;
    }
    let need = set.regs[fr]!;
    for (let m = need; m !== 0; m &= m - 1) {
      const b = m & -m;
      const i = 31 - Math.clz32(b);
      const r = f.regs[i]!;
      if (r.t !== "scalar" || marks.regs[fr]! & b) need &= ~b;
      else {
        marks.regs[fr] = marks.regs[fr]! | b;
        added = true;
      }
    }
    set.regs[fr] = need;
    const slots = set.stack[fr]!;
    for (const byte of slots) {
      const sp = f.spills[byte];
      const have = marks.stack[fr];
      if (!sp || sp.reg.t !== "scalar" || have?.has(byte)) slots.delete(byte);
      else {
        (marks.stack[fr] ??= new Set()).add(byte);
        added = true;
      }
    }
  }
  return added;
}
