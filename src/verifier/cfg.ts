// Structural checks before abstract interpretation (the kernel's
// check_subprogs + check_cfg): opcode validity, lddw pairs, jump and call
// targets, subprogram boundaries, unreachable code, recursion, falling off
// the end. Also computes per-instruction register liveness (used to ignore
// dead registers when pruning) and the pruning points.

import { helperById } from "./helpers.ts";
import {
  CLS,
  type Insn,
  MODE,
  OP_CALL,
  OP_EXIT,
  OP_LDDW,
  PSEUDO_CALL,
  aluOp,
  cls,
  isX,
  mode,
} from "./insn.ts";

export class VerifierError extends Error {
  constructor(
    readonly index: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export interface Cfg {
  /** subprogram entry points, sorted; subprogs[0] = 0 */
  subprogs: number[];
  /** index of the subprog containing each slot */
  subprogOf: Int32Array;
  /** registers live before each instruction (bitmask r0..r10) */
  liveIn: Uint16Array;
  /**
   * Registers whose exact scalar value may matter later (a static
   * over-approximation of the kernel's precision marks): they reach a branch
   * condition, a memory address, a stored value, a helper or subprogram
   * argument, or the exit of a subprogram, directly or through ALU results
   * that do (pointer arithmetic included: its result is only used through
   * those). Other live scalars compare as "any scalar" when pruning.
   */
  preciseIn: Uint16Array;
  /** instructions where states are recorded for pruning */
  prunePoint: Uint8Array;
}

const VALID_ALU_OPS = new Set([
  0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0,
]);
const VALID_JMP_OPS = new Set([
  0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0,
]);
const ATOMIC_OPS = new Set([0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1]);

function badInsn(_i: number, insn: Insn): string | undefined {
  const c = cls(insn.code);
  if (insn.dst > 10 || insn.src > 10)
    return `invalid register r${insn.dst > 10 ? insn.dst : insn.src}`;
  const unknown = `unknown opcode 0x${insn.code.toString(16).padStart(2, "0")}`;
  switch (c) {
    case CLS.ALU:
    case CLS.ALU64: {
      const op = aluOp(insn.code);
      if (!VALID_ALU_OPS.has(op)) return unknown;
      if (op === 0xd0) {
        if (![16, 32, 64].includes(insn.imm)) return `invalid byte swap width ${insn.imm}`;
        if (c === CLS.ALU64 && isX(insn.code)) return unknown;
      }
      if (op === 0xb0 && isX(insn.code) && insn.off !== 0) {
        if (![8, 16, 32].includes(insn.off) || (c === CLS.ALU && insn.off === 32))
          return `invalid sign-extension offset ${insn.off}`;
      }
      if ((op === 0x30 || op === 0x90) && insn.off !== 0 && insn.off !== 1)
        return `invalid division offset ${insn.off}`;
      return undefined;
    }
    case CLS.JMP:
    case CLS.JMP32: {
      const op = aluOp(insn.code);
      if (!VALID_JMP_OPS.has(op)) return unknown;
      if (c === CLS.JMP32 && (op === 0x80 || op === 0x90)) return unknown;
      if (op === 0x80 && insn.code !== OP_CALL) return unknown;
      if (op === 0x90 && insn.code !== OP_EXIT) return unknown;
      if (op === 0x00 && isX(insn.code)) return unknown;
      return undefined;
    }
    case CLS.LD:
      if (insn.code === OP_LDDW) return undefined;
      if (mode(insn.code) === MODE.ABS || mode(insn.code) === MODE.IND)
        return "legacy packet access (LD_ABS/LD_IND) is not supported";
      return unknown;
    case CLS.LDX:
      if (mode(insn.code) !== MODE.MEM && mode(insn.code) !== MODE.MEMSX) return unknown;
      if (mode(insn.code) === MODE.MEMSX && (insn.code & 0x18) === 0x18) return unknown;
      return undefined;
    case CLS.ST:
      if (mode(insn.code) !== MODE.MEM) return unknown;
      return undefined;
    case CLS.STX:
      if (mode(insn.code) === MODE.MEM) return undefined;
      if (mode(insn.code) === MODE.ATOMIC) {
        const sz = insn.code & 0x18;
        if (sz !== 0x00 && sz !== 0x18) return `atomic access must be 4 or 8 bytes`;
        if (!ATOMIC_OPS.has(insn.imm)) return `invalid atomic operation 0x${insn.imm.toString(16)}`;
        return undefined;
      }
      return unknown;
  }
  return unknown;
}

/** Jump target of a jump instruction at slot i (not call). */
export function jumpTarget(insn: Insn, i: number): number {
  if (cls(insn.code) === CLS.JMP32 && aluOp(insn.code) === 0x00) return i + 1 + insn.imm;
  return i + 1 + insn.off;
}

const isCondJump = (insn: Insn): boolean => {
  const c = cls(insn.code);
  if (c !== CLS.JMP && c !== CLS.JMP32) return false;
  const op = aluOp(insn.code);
  return op !== 0x00 && op !== 0x80 && op !== 0x90;
};
const isJa = (insn: Insn): boolean =>
  (cls(insn.code) === CLS.JMP || cls(insn.code) === CLS.JMP32) && aluOp(insn.code) === 0x00;
const isPseudoCall = (insn: Insn): boolean => insn.code === OP_CALL && insn.src === PSEUDO_CALL;

/** Registers read and written by an instruction (bitmasks). */
function useDef(insn: Insn): [number, number] {
  const c = cls(insn.code);
  const R = (r: number): number => 1 << r;
  switch (c) {
    case CLS.ALU:
    case CLS.ALU64: {
      const op = aluOp(insn.code);
      if (op === 0xb0) return [isX(insn.code) ? R(insn.src) : 0, R(insn.dst)];
      if (op === 0x80 || op === 0xd0) return [R(insn.dst), R(insn.dst)];
      return [R(insn.dst) | (isX(insn.code) ? R(insn.src) : 0), R(insn.dst)];
    }
    case CLS.LD:
      return [0, R(insn.dst)];
    case CLS.LDX:
      return [R(insn.src), R(insn.dst)];
    case CLS.ST:
      return [R(insn.dst), 0];
    case CLS.STX:
      if (mode(insn.code) === MODE.ATOMIC) {
        if (insn.imm === 0xf1) return [R(insn.dst) | R(insn.src) | R(0), R(0)];
        return [R(insn.dst) | R(insn.src), insn.imm & 1 ? R(insn.src) : 0];
      }
      return [R(insn.dst) | R(insn.src), 0];
    case CLS.JMP:
    case CLS.JMP32: {
      if (insn.code === OP_EXIT) return [R(0), 0];
      if (insn.code === OP_CALL) {
        let use = 0x3e; // r1-r5
        if (!isPseudoCall(insn)) {
          const h = helperById.get(insn.imm);
          if (h) {
            use = 0;
            h.args.forEach((a, k) => {
              if (a !== "NONE") use |= R(k + 1);
            });
          }
        }
        return [use, 0x3f];
      }
      if (aluOp(insn.code) === 0x00) return [0, 0];
      return [R(insn.dst) | (isX(insn.code) ? R(insn.src) : 0), 0];
    }
  }
  return [0, 0];
}

export function checkCfg(slots: (Insn | undefined)[]): Cfg {
  const n = slots.length;
  if (n === 0) throw new VerifierError(0, "empty program");
  if (n > 1_000_000) throw new VerifierError(0, `program too large (${n} instructions)`);
  const insnAt = (i: number): Insn => slots[i]!;
  const isSecondHalf = (i: number): boolean => slots[i] === undefined;

  // instruction validity and subprogram discovery
  const entries = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const insn = slots[i];
    if (!insn) continue;
    if (insn.code === OP_LDDW) {
      if (i + 1 >= n || insn.imm2 === undefined)
        throw new VerifierError(i, "invalid bpf_ld_imm64 insn (truncated)");
    }
    const bad = badInsn(i, insn);
    if (bad) throw new VerifierError(i, bad);
    if (isPseudoCall(insn)) {
      const t = i + 1 + insn.imm;
      if (t < 0 || t >= n || isSecondHalf(t))
        throw new VerifierError(i, `call to invalid destination ${t}`);
      entries.add(t);
    }
  }
  const subprogs = [...entries].sort((a, b) => a - b);
  const subprogOf = new Int32Array(n);
  for (let k = 0; k < subprogs.length; k++) {
    const end = subprogs[k + 1] ?? n;
    subprogOf.fill(k, subprogs[k], end);
  }

  // jumps stay inside their subprogram and never land in the middle of lddw
  for (let i = 0; i < n; i++) {
    const insn = slots[i];
    if (!insn) continue;
    const c = cls(insn.code);
    if ((c === CLS.JMP || c === CLS.JMP32) && (isJa(insn) || isCondJump(insn))) {
      const t = jumpTarget(insn, i);
      if (t < 0 || t >= n || subprogOf[t] !== subprogOf[i])
        throw new VerifierError(i, `jump out of range from insn ${i} to ${t}`);
      if (isSecondHalf(t))
        throw new VerifierError(i, `jump into the middle of ldimm64 insn ${t - 1}`);
    }
  }

  // every subprogram ends with exit or an unconditional jump
  for (let k = 0; k < subprogs.length; k++) {
    const end = (subprogs[k + 1] ?? n) - 1;
    let last = end;
    if (isSecondHalf(last)) last--;
    const insn = insnAt(last);
    if (insn.code !== OP_EXIT && !isJa(insn))
      throw new VerifierError(last, "last insn is not an exit or jmp (falls off the end)");
  }

  // successors
  const succ = (i: number): number[] => {
    const insn = insnAt(i);
    const next = i + (insn.code === OP_LDDW ? 2 : 1);
    if (insn.code === OP_EXIT) return [];
    if (isJa(insn)) return [jumpTarget(insn, i)];
    if (isCondJump(insn)) return [next, jumpTarget(insn, i)];
    return [next];
  };

  // reachability (calls make their target reachable)
  const seen = new Uint8Array(n);
  const work = [0];
  seen[0] = 1;
  while (work.length) {
    const i = work.pop()!;
    const insn = insnAt(i);
    const targets = succ(i);
    if (isPseudoCall(insn)) targets.push(i + 1 + insn.imm);
    for (const t of targets) {
      if (t >= n) throw new VerifierError(i, "last insn is not an exit or jmp (falls off the end)");
      if (!seen[t]) {
        seen[t] = 1;
        work.push(t);
      }
    }
  }
  for (let i = 0; i < n; i++)
    if (!isSecondHalf(i) && !seen[i]) throw new VerifierError(i, `unreachable insn ${i}`);

  // recursion in the call graph
  const calls: number[][] = subprogs.map(() => []);
  for (let i = 0; i < n; i++) {
    const insn = slots[i];
    if (insn && isPseudoCall(insn)) calls[subprogOf[i]!]!.push(i);
  }
  const color = new Uint8Array(subprogs.length);
  const dfs = (k: number): void => {
    color[k] = 1;
    for (const site of calls[k]!) {
      const callee = subprogOf[site + 1 + insnAt(site).imm]!;
      if (color[callee] === 1)
        throw new VerifierError(
          site,
          `recursive call from insn ${site} to ${site + 1 + insnAt(site).imm}`,
        );
      if (color[callee] === 0) dfs(callee);
    }
    color[k] = 2;
  };
  dfs(0);

  // register liveness: backward dataflow to a fixed point
  const use = new Uint16Array(n);
  const def = new Uint16Array(n);
  const succs: number[][] = new Array(n);
  for (let i = 0; i < n; i++) {
    if (isSecondHalf(i)) continue;
    const [u, d] = useDef(insnAt(i));
    use[i] = u;
    def[i] = d;
    succs[i] = succ(i).filter((t) => t < n);
  }
  const liveIn = new Uint16Array(n);
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      if (isSecondHalf(i)) continue;
      let out = 0;
      for (const t of succs[i]!) out |= liveIn[t]!;
      const v = (use[i]! | (out & ~def[i]!)) & 0x7ff;
      if (v !== liveIn[i]) {
        liveIn[i] = v;
        changed = true;
      }
    }
  }

  // precision: backward dataflow like liveness, with propagation through ALU
  const precUse = new Uint16Array(n);
  const R = (r: number): number => 1 << r;
  for (let i = 0; i < n; i++) {
    const insn = slots[i];
    if (!insn) continue;
    const c = cls(insn.code);
    let u = 0;
    if (c === CLS.JMP || c === CLS.JMP32) {
      if (insn.code === OP_EXIT) u = subprogOf[i] !== 0 ? R(0) : 0;
      else if (insn.code === OP_CALL) u = use[i]!;
      else if (aluOp(insn.code) !== 0x00) u = use[i]!;
    } else if (c === CLS.LDX || c === CLS.ST || c === CLS.STX) u = use[i]!;
    precUse[i] = u;
  }
  const preciseIn = new Uint16Array(n);
  changed = true;
  while (changed) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      const insn = slots[i];
      if (!insn) continue;
      let out = 0;
      for (const t of succs[i]!) out |= preciseIn[t]!;
      let v = precUse[i]! | (out & ~def[i]!);
      const c = cls(insn.code);
      if ((c === CLS.ALU || c === CLS.ALU64) && out & R(insn.dst)) v |= use[i]!;
      if (c === CLS.LD && insn.code === OP_LDDW) v &= ~R(insn.dst);
      v &= 0x7ff;
      if (v !== preciseIn[i]) {
        preciseIn[i] = v;
        changed = true;
      }
    }
  }

  // pruning points: jump targets, fall-through of branches, after calls
  const prunePoint = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const insn = slots[i];
    if (!insn) continue;
    if (isCondJump(insn) || isJa(insn)) {
      prunePoint[jumpTarget(insn, i)] = 1;
      if (isCondJump(insn) && i + 1 < n) prunePoint[i + 1] = 1;
    }
    if (insn.code === OP_CALL && i + 1 < n) prunePoint[i + 1] = 1;
  }
  return { subprogs, subprogOf, liveIn, preciseIn, prunePoint };
}
