// Abstract machine state: registers, per-frame stacks (byte-granular slot
// types plus spilled registers), held references; cloning, and the
// "is this state covered by an already-verified one" test used for pruning.

import {
  type Scalar,
  constNum,
  constScalar,
  isConst,
  scalarToString,
  scalarWithin,
  tnumSame,
  unknownScalar,
} from "./scalar.ts";

export type RegType =
  | "not_init"
  | "scalar"
  | "ctx"
  | "stack"
  | "packet"
  | "packet_end"
  | "packet_meta"
  | "map_ptr"
  | "map_value"
  | "map_value_or_null"
  | "map_ptr_or_null"
  | "mem"
  | "mem_or_null";

export type OrNullType = "map_value_or_null" | "map_ptr_or_null" | "mem_or_null";
/** What a NULL check turns each maybe-NULL pointer into. */
export const NOT_NULL: Record<OrNullType, RegType> = {
  map_value_or_null: "map_value",
  map_ptr_or_null: "map_ptr",
  mem_or_null: "mem",
};
export const isOrNull = (t: RegType): t is OrNullType => t in NOT_NULL;

export interface Reg {
  t: RegType;
  /** scalar value, or the variable part of a pointer's offset */
  s: Scalar;
  /** fixed part of a pointer's offset */
  off: number;
  /** identity shared by copies: null checks, packet ranges */
  id: number;
  /** acquired reference (ringbuf record) this pointer belongs to, 0 if none */
  ref: number;
  /** map index (map_ptr, map_value, map_value_or_null, map_ptr_or_null) */
  map: number;
  /** packet pointers: bytes known to be inside the packet, counted from the base */
  range: number;
  /** packet pointers: which start/end pair (context region) */
  region: number;
  /** mem pointers: size of the memory */
  size: number;
  /** stack pointers: frame number */
  frame: number;
}

export const isPointer = (r: Reg): boolean => r.t !== "scalar" && r.t !== "not_init";

const base = (t: RegType, s: Scalar): Reg => ({
  t,
  s,
  off: 0,
  id: 0,
  ref: 0,
  map: -1,
  range: 0,
  region: 0,
  size: 0,
  frame: 0,
});

// scalars are immutable: the common ones are shared
const UNKNOWN = unknownScalar();
const ZERO = constNum(0);

export const notInit = (): Reg => base("not_init", UNKNOWN);
export const scalarReg = (s: Scalar): Reg => base("scalar", s);
export const unknownReg = (): Reg => base("scalar", UNKNOWN);
export const constReg = (v: bigint | number): Reg =>
  base("scalar", typeof v === "number" ? constNum(v) : constScalar(v));
export function ptrReg(t: RegType, fields: Partial<Reg> = {}): Reg {
  return { ...base(t, ZERO), ...fields };
}
/**
 * Registers and their scalars are immutable once they are in a state (every
 * change builds a new Reg), so states share them freely; a copy is shallow.
 */
export const cloneReg = (r: Reg): Reg => ({ ...r });

/** Stack byte kinds. */
export const ST_INVALID = 0;
export const ST_MISC = 1;
export const ST_ZERO = 2;
export const ST_SPILL = 3;

export const STACK_SIZE = 512;

/** Immutable, like Reg: shared between the states that share a stack. */
export interface Spill {
  readonly reg: Reg;
  readonly size: number;
}

export interface Frame {
  regs: Reg[];
  /** byte i describes stack address fp - STACK_SIZE + i */
  stype: Uint8Array;
  /** the same bytes, four at a time (fast comparison) */
  stype32: Uint32Array;
  /** spills keyed by the byte index where they start (sparse) */
  spills: Spill[];
  /** slot index of the call instruction that created this frame (-1: main) */
  callsite: number;
  /** first instruction of the function */
  subprog: number;
  /**
   * stype, stype32 and spills belong to this frame alone. Cloning a state
   * shares them (copy-on-write): call ownStack before changing them.
   */
  own: boolean;
}

export interface State {
  frames: Frame[];
  /**
   * acquired references: id -> allocating instruction. Shared between
   * cloned states: never changed in place, replaced by a changed copy.
   */
  refs: ReadonlyMap<number, number>;
}

export function newFrame(callsite: number, subprog: number, frameNo: number): Frame {
  const regs: Reg[] = [];
  for (let i = 0; i < 11; i++) regs.push(notInit());
  regs[10] = ptrReg("stack", { frame: frameNo });
  return {
    regs,
    ...stackTypes(new Uint8Array(STACK_SIZE)),
    spills: [],
    callsite,
    subprog,
    own: true,
  };
}

function stackTypes(stype: Uint8Array): { stype: Uint8Array; stype32: Uint32Array } {
  return { stype, stype32: new Uint32Array(stype.buffer, stype.byteOffset, STACK_SIZE / 4) };
}

/** Make the frame's stack its own before changing it (see Frame.own). */
export function ownStack(f: Frame): void {
  if (f.own) return;
  const w = new Uint32Array(f.stype32);
  f.stype32 = w;
  f.stype = new Uint8Array(w.buffer);
  const out: Spill[] = [];
  const sp = f.spills;
  for (const k in sp) out[k as unknown as number] = sp[k as unknown as number]!;
  f.spills = out;
  f.own = true;
}

/** Copy a state: registers are shared (immutable), stacks copied on write. */
export function cloneState(s: State): State {
  const frames: Frame[] = new Array(s.frames.length);
  for (let i = 0; i < s.frames.length; i++) {
    const f = s.frames[i]!;
    f.own = false;
    frames[i] = {
      regs: f.regs.slice(),
      stype: f.stype,
      stype32: f.stype32,
      spills: f.spills,
      callsite: f.callsite,
      subprog: f.subprog,
      own: false,
    };
  }
  return { frames, refs: s.refs };
}

export const curFrame = (s: State): Frame => s.frames[s.frames.length - 1]!;

/** Visit every register and spilled register in every frame. */
export function forEachReg(s: State, fn: (r: Reg, set: (n: Reg) => void) => void): void {
  for (const f of s.frames) {
    for (let i = 0; i < f.regs.length; i++) fn(f.regs[i]!, (n) => (f.regs[i] = n));
    for (const k in f.spills) {
      const i = k as unknown as number;
      const sp = f.spills[i]!;
      fn(sp.reg, (n) => {
        ownStack(f);
        f.spills[i] = { reg: n, size: sp.size };
      });
    }
  }
}

// ------------------------------------------------------------ formatting

export function regToString(r: Reg, maps?: { name?: string }[]): string {
  const offs = (): string => {
    const parts: string[] = [];
    if (r.id) parts.push(`id=${r.id}`);
    if (r.ref) parts.push(`ref_obj_id=${r.ref}`);
    if (r.off) parts.push(`off=${r.off}`);
    if (r.t === "packet" || r.t === "packet_meta") parts.push(`r=${r.range}`);
    if (r.t === "mem" || r.t === "mem_or_null") parts.push(`sz=${r.size}`);
    if (r.map >= 0) {
      const name = maps?.[r.map]?.name;
      parts.push(`map=${name ?? r.map}`);
    }
    if (!isConst(r.s) || r.s.umin !== 0n) parts.push(scalarToString(r.s));
    return parts.join(",");
  };
  switch (r.t) {
    case "not_init":
      return "?";
    case "scalar": {
      const s = scalarToString(r.s);
      return isConst(r.s) ? s : `scalar(${s})`;
    }
    case "stack":
      return r.frame ? `fp${r.off}(frame=${r.frame})` : `fp${r.off}`;
    default:
      return `${r.t}(${offs()})`;
  }
}

export function stateToString(
  s: State,
  written: ReadonlySet<number> = new Set(),
  maps?: { name?: string }[],
): string {
  const f = curFrame(s);
  const parts: string[] = [];
  f.regs.forEach((r, i) => {
    if (r.t === "not_init") return;
    if (i === 10 && s.frames.length === 1) return;
    parts.push(`R${i}${written.has(i) ? "_w" : ""}=${regToString(r, maps)}`);
  });
  for (let i = 0; i < STACK_SIZE; i += 8) {
    const sp = f.spills[i];
    const off = i - STACK_SIZE;
    if (sp) parts.push(`fp${off}=${regToString(sp.reg, maps)}`);
    else {
      const t = f.stype.subarray(i, i + 8);
      if (t.some((x) => x !== ST_INVALID))
        parts.push(`fp${off}=${Array.from(t, (x) => "?mzs"[x]).join("")}`);
    }
  }
  return parts.join(" ");
}

// ------------------------------------------------------------ pruning

/**
 * Bijection between ids of an old state and a new one. Whether a set of
 * pairs fits one bijection does not depend on the order they are checked in,
 * so the pruning check may visit registers and stacks in any order.
 */
class IdMap {
  private fwd = new Map<number, number>();
  private back = new Map<number, number>();
  private used = false;
  reset(): void {
    if (!this.used) return;
    this.fwd.clear();
    this.back.clear();
    this.used = false;
  }
  check(a: number, b: number): boolean {
    if (a === 0 || b === 0) return a === b;
    const x = this.fwd.get(a);
    const y = this.back.get(b);
    if (x === undefined && y === undefined) {
      this.fwd.set(a, b);
      this.back.set(b, a);
      this.used = true;
      return true;
    }
    return x === b && y === a;
  }
}
const ids = new IdMap();

/** Is every concrete value of `cur` also described by `old`? */
function regSafe(old: Reg, cur: Reg, ids: IdMap, precise = true): boolean {
  if (old.t === "not_init") return true;
  if (old.t !== cur.t) return false;
  if (old.t === "scalar") return !precise || scalarWithin(old.s, cur.s);
  if (old.off !== cur.off || old.map !== cur.map || old.region !== cur.region) return false;
  if (old.size !== cur.size || old.frame !== cur.frame) return false;
  if ((old.t === "packet" || old.t === "packet_meta") && old.range > cur.range) return false;
  if (!ids.check(old.id, cur.id) || !ids.check(old.ref, cur.ref)) return false;
  if (
    old.t === "packet" ||
    old.t === "packet_meta" ||
    old.t === "map_value" ||
    old.t === "mem" ||
    old.t === "stack"
  )
    return scalarWithin(old.s, cur.s);
  return tnumSame(old.s, cur.s) && scalarWithin(old.s, cur.s);
}

function regsSafe(old: Frame, cur: Frame, liveRegs: number, preciseRegs: number): boolean {
  if (old.callsite !== cur.callsite || old.subprog !== cur.subprog) return false;
  const or = old.regs;
  const cr = cur.regs;
  for (let live = liveRegs & 0x7ff; live !== 0; live &= live - 1) {
    const i = 31 - Math.clz32(live & -live);
    const o = or[i]!;
    const c = cr[i]!;
    // the same immutable scalar register (well-formed: scalarWithin(x, x) holds)
    if (o === c && o.t === "scalar" && (o.s.vh & o.s.mh) === 0 && (o.s.vl & o.s.ml) === 0) continue;
    if (!regSafe(o, c, ids, (preciseRegs & (1 << i)) !== 0)) return false;
  }
  return true;
}

function stackSafe(
  old: Frame,
  cur: Frame,
  precise: ReadonlySet<number> | undefined | true,
): boolean {
  const ow = old.stype32;
  const cw = cur.stype32;
  for (let k = 0; k < STACK_SIZE / 4; k++) {
    // 4 bytes at a time: all invalid in old, or identical non-spill bytes
    const w = ow[k]!;
    if (w === 0 || (w === cw[k] && (w & 0x02020202) === 0)) continue;
    for (let i = k * 4; i < k * 4 + 4; i++) {
      const o = old.stype[i]!;
      if (o === ST_INVALID) continue;
      const c = cur.stype[i]!;
      if (o === ST_MISC) {
        if (c === ST_INVALID) return false;
        if (c === ST_SPILL) {
          // a spilled scalar reads as data; a spilled pointer is not plain data
          const start = spillStart(cur, i);
          if (start < 0 || cur.spills[start]!.reg.t !== "scalar") return false;
        }
        continue;
      }
      if (o === ST_ZERO) {
        if (c !== ST_ZERO) return false;
        continue;
      }
      // old byte is part of a spill: the same spill must be there
      const os = old.spills[i];
      if (!os) continue; // continuation byte: checked with its start
      const cs = cur.spills[i];
      if (!cs || cs.size !== os.size) return false;
      if (!regSafe(os.reg, cs.reg, ids, precise === true || (precise?.has(i) ?? false)))
        return false;
    }
  }
  return true;
}

export function spillStart(f: Frame, byte: number): number {
  for (let j = byte; j >= 0 && j > byte - 8; j--) {
    const sp = f.spills[j];
    if (sp && j + sp.size > byte) return j;
  }
  return -1;
}

/**
 * A hash of the live registers of every frame, equal for states that
 * stateSafe(EXACT) finds equal both ways: a cheap first test before the
 * infinite-loop check, which compares a state with every one recorded at the
 * same instruction on its path (one per loop iteration).
 */
export function exactKey(st: State, liveIn: Uint16Array, pc: number): number {
  let h = st.frames.length;
  const mix = (x: number): void => {
    h = (Math.imul(h ^ x, 0x9e3779b1) + 0x7f4a7c15) | 0;
  };
  // every frame: callers' callee-saved registers tell iterations of a loop
  // around a call apart, when the callee's own registers are all alike
  const n = st.frames.length;
  for (let f = n - 1; f >= 0; f--) {
    const regs = st.frames[f]!.regs;
    const live = f === n - 1 ? liveIn[pc]! : liveIn[st.frames[f + 1]!.callsite + 1]! & 0x3c0;
    for (let m = live & 0x7ff; m !== 0; m &= m - 1) {
      const i = 31 - Math.clz32(m & -m);
      const r = regs[i]!;
      if (r.t === "not_init") continue;
      mix(i);
      mix(r.t.length);
      mix(r.off);
      const x = r.s;
      mix(x.vl);
      mix(x.vh);
      mix(x.ml);
      mix(x.mh);
      mix(x.uminL);
      mix(x.umaxL);
      mix(x.sminL);
      mix(x.smaxL);
    }
  }
  return h;
}

/** Precision marks of an old state (precision.ts's Marks), or EXACT: every scalar compared. */
export interface PreciseMarks {
  regs: readonly number[];
  stack: readonly (ReadonlySet<number> | undefined)[];
}
export const EXACT = "exact";

/**
 * `cur` is covered by the fully explored `old` at the same instruction `pc`.
 * `liveIn` (cfg.ts) gives the registers still read; `marks` the scalars whose
 * exact value mattered when `old` was explored (the others compare as "any
 * scalar"); callers' frames resume after their call. With EXACT every live
 * scalar must lie within old's: used both ways, it is the equality that
 * detects an infinite loop.
 */
export function stateSafe(
  old: State,
  cur: State,
  liveIn: Uint16Array,
  pc: number,
  marks: PreciseMarks | typeof EXACT,
): boolean {
  const n = old.frames.length;
  if (n !== cur.frames.length) return false;
  if (old.refs.size !== cur.refs.size) return false;
  ids.reset();
  // registers first, innermost frame first (they differ most often), then
  // the stacks: the conjunction does not depend on the order
  for (let i = n - 1; i >= 0; i--) {
    let live: number;
    if (i === n - 1) live = liveIn[pc]!;
    else live = liveIn[cur.frames[i + 1]!.callsite + 1]! & 0x3c0;
    const precise = marks === EXACT ? 0x7ff : marks.regs[i]!;
    if (!regsSafe(old.frames[i]!, cur.frames[i]!, live, precise)) return false;
  }
  for (let i = n - 1; i >= 0; i--)
    if (!stackSafe(old.frames[i]!, cur.frames[i]!, marks === EXACT ? true : marks.stack[i]))
      return false;
  return true;
}
