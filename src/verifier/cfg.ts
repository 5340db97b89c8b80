// Structural checks before abstract interpretation (the kernel's
// check_subprogs + check_cfg): opcode validity (src/asm's, plus what this
// verifier does not support), jump and call targets, subprogram boundaries,
// unreachable code, recursion, falling off the end. (lddw framing is checked
// when the slots are decoded.) Also computes per-instruction register liveness (used to ignore
// dead registers when pruning) and the pruning points. Which scalars must
// match exactly when pruning is decided during the walk (precision.ts).

import {
  AluOp,
  AtomicOp,
  Class,
  type Instruction,
  Mode,
  OP_CALLX,
  Size,
  callTarget,
  classOf,
  instructionProblem,
  isCall,
  isConditionalJump,
  isExit,
  isLocalCall,
  isRegisterSource,
  isUnconditionalJump,
  jumpTarget,
  modeOf,
  opOf,
  sizeOf,
  slotCount,
} from "../asm/index.ts";
import { helperById } from "./helpers.ts";
import type { Slots } from "./slots.ts";

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
  /** instructions where states are recorded for pruning */
  prunePoint: Uint8Array;
}

/**
 * Why the verifier refuses an instruction before running it: a register above
 * r10 anywhere, legacy packet access (not supported here), or an encoding
 * src/asm says is invalid (unknown opcode, reserved field not zero).
 */
function badInsn(insn: Instruction): string | undefined {
  if (insn.dst > 10 || insn.src > 10)
    return `invalid register r${insn.dst > 10 ? insn.dst : insn.src}`;
  const mode = modeOf(insn.opcode);
  if (
    classOf(insn) === Class.LD &&
    (mode === Mode.ABS || mode === Mode.IND) &&
    sizeOf(insn.opcode) !== Size.DW
  )
    return "legacy packet access (LD_ABS/LD_IND) is not supported";
  // callx dst: a call of the helper whose id dst holds (verifier.ts proves it)
  if (insn.opcode === OP_CALLX) {
    if (insn.src !== 0 || insn.off !== 0 || insn.imm !== 0)
      return `callx r${insn.dst}: reserved fields src, offset and imm must be 0`;
    return undefined;
  }
  return instructionProblem(insn);
}

/** ja, gotol or a conditional jump: instructions with a jump target. */
const isBranch = (insn: Instruction): boolean =>
  isUnconditionalJump(insn) || isConditionalJump(insn);
/** Target slot of the branch at slot i. */
const target = (insn: Instruction, i: number): number => jumpTarget(insn, i)!;

/** Registers read and written by an instruction (bitmasks). */
function useDef(insn: Instruction): [number, number] {
  const R = (r: number): number => 1 << r;
  switch (classOf(insn)) {
    case Class.ALU:
    case Class.ALU64: {
      const op = opOf(insn.opcode);
      if (op === AluOp.MOV) return [isRegisterSource(insn) ? R(insn.src) : 0, R(insn.dst)];
      if (op === AluOp.NEG || op === AluOp.END) return [R(insn.dst), R(insn.dst)];
      return [R(insn.dst) | (isRegisterSource(insn) ? R(insn.src) : 0), R(insn.dst)];
    }
    case Class.LD:
      return [0, R(insn.dst)];
    case Class.LDX:
      return [R(insn.src), R(insn.dst)];
    case Class.ST:
      return [R(insn.dst), 0];
    case Class.STX:
      if (modeOf(insn.opcode) === Mode.ATOMIC) {
        if (insn.imm === AtomicOp.CMPXCHG) return [R(insn.dst) | R(insn.src) | R(0), R(0)];
        return [R(insn.dst) | R(insn.src), insn.imm & AtomicOp.FETCH ? R(insn.src) : 0];
      }
      return [R(insn.dst) | R(insn.src), 0];
    default: {
      if (isExit(insn)) return [R(0), 0];
      if (insn.opcode === OP_CALLX) return [R(insn.dst) | 0x3e, 0x3f];
      if (isCall(insn)) {
        let use = 0x3e; // r1-r5
        if (!isLocalCall(insn)) {
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
      if (isUnconditionalJump(insn)) return [0, 0];
      return [R(insn.dst) | (isRegisterSource(insn) ? R(insn.src) : 0), 0];
    }
  }
}

export function checkCfg(slots: Slots): Cfg {
  const n = slots.length;
  if (n === 0) throw new VerifierError(0, "empty program");
  if (n > 1_000_000) throw new VerifierError(0, `program too large (${n} instructions)`);
  const insnAt = (i: number): Instruction => slots[i]!;
  const isSecondHalf = (i: number): boolean => slots[i] === undefined;

  // instruction validity and subprogram discovery
  const entries = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const insn = slots[i];
    if (!insn) continue;
    const bad = badInsn(insn);
    if (bad) throw new VerifierError(i, bad);
    if (isLocalCall(insn)) {
      const t = callTarget(insn, i)!;
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
    if (isBranch(insn)) {
      const t = target(insn, i);
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
    if (!isExit(insn) && !isUnconditionalJump(insn))
      throw new VerifierError(last, "last insn is not an exit or jmp (falls off the end)");
  }

  // successors
  const succ = (i: number): number[] => {
    const insn = insnAt(i);
    const next = i + slotCount(insn);
    if (isExit(insn)) return [];
    if (isUnconditionalJump(insn)) return [target(insn, i)];
    if (isConditionalJump(insn)) return [next, target(insn, i)];
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
    if (isLocalCall(insn)) targets.push(callTarget(insn, i)!);
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
    if (insn && isLocalCall(insn)) calls[subprogOf[i]!]!.push(i);
  }
  const color = new Uint8Array(subprogs.length);
  const dfs = (k: number): void => {
    color[k] = 1;
    for (const site of calls[k]!) {
      const to = callTarget(insnAt(site), site)!;
      const callee = subprogOf[to]!;
      if (color[callee] === 1)
        throw new VerifierError(site, `recursive call from insn ${site} to ${to}`);
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

  // pruning points: jump targets, fall-through of branches, after calls
  const prunePoint = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const insn = slots[i];
    if (!insn) continue;
    if (isBranch(insn)) {
      prunePoint[target(insn, i)] = 1;
      if (isConditionalJump(insn) && i + 1 < n) prunePoint[i + 1] = 1;
    }
    if ((isCall(insn) || insn.opcode === OP_CALLX) && i + 1 < n) prunePoint[i + 1] = 1;
  }
  return { subprogs, subprogOf, liveIn, prunePoint };
}
