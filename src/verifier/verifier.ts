// The verifier: path-sensitive abstract interpretation of eBPF bytecode, in
// the manner of the kernel's kernel/bpf/verifier.c. Every path from the entry
// is followed with an abstract state (register types, scalar bounds, stack
// contents, held references); branches fork the state, and at pruning points
// a state already covered by a fully explored one stops ("pruned"). Loops are
// explored iteration by iteration under an instruction budget, as the kernel
// does for bounded loops; they converge because a recorded state compares
// only the scalars whose exact value a later decision needed (precision
// tracking, precision.ts), and a state equal to one of its own ancestors at
// a loop head is an infinite loop.

import { BpftimeError } from "../errors.ts";
import { VerifierError, checkCfg, type Cfg } from "./cfg.ts";
import {
  type ContextSpec,
  type CtxAccess,
  type ProgramType,
  checkContextAccess,
  contextSpec,
  helperRefusal,
  nativeAccess,
} from "./contexts.ts";
import { type ArgKind, type HelperProto, helperById } from "./helpers.ts";
import {
  AluOp,
  AtomicOp,
  Class,
  type Instruction,
  Mode,
  OP_CALL,
  OP_CALLX,
  PseudoSrc,
  aluMnemonic,
  aluOperator,
  classOf,
  isCall,
  isExit,
  isLocalCall,
  isRegisterSource,
  isUnconditionalJump,
  jumpMnemonic,
  jumpTarget,
  lddwNextImm,
  lddwValue,
  modeOf,
  opOf,
  sizeBytes,
  sizeOf,
} from "../asm/index.ts";
import { type Slots, disasmNames, programSlots, rawSlotText, slotText } from "./slots.ts";
import type { GlobalFunc } from "./global-funcs.ts";
import { type SourceLine, SourceLines } from "./source-lines.ts";
import {
  type AluKind,
  type CmpKind,
  UNKNOWN32,
  alu,
  byteSwap,
  castScalar,
  isConst,
  isZero,
  negateCmp,
  refine,
  signExtend,
  swapCmp,
  unknownOfSize,
  zeroExtend32,
} from "./scalar.ts";
import {
  type Frame,
  type Reg,
  type State,
  STACK_SIZE,
  ST_INVALID,
  ST_MISC,
  ST_SPILL,
  ST_ZERO,
  cloneReg,
  cloneState,
  constReg,
  curFrame,
  forEachReg,
  isOrNull,
  isPointer,
  NOT_NULL,
  newFrame,
  type OrNullType,
  ownStack,
  notInit,
  ptrReg,
  scalarReg,
  spillStart,
  EXACT,
  exactKey,
  stateSafe,
  stateToString,
  unknownReg,
} from "./state.ts";
import { withInnerTemplates } from "./inner-maps.ts";
import { mapTypeOf, mapTypes } from "../enums.ts";
import {
  type Marks,
  type PrecSet,
  backStep,
  clearSet,
  depthAux,
  emptySet,
  globalCallAux,
  isEmpty,
  markAt,
  noMarks,
  stackAux,
} from "./precision.ts";

// ------------------------------------------------------------ public types

/** Map types the runtime implements: the MAP_F_IMPL lines of native/runtime/map_types.def. */
export const MAP_TYPES: readonly string[] = mapTypes.filter((t) => t.impl).map((t) => t.name);
export type MapType = string;

/** What the verifier needs to know about each map the program references. */
export interface MapInfo {
  name?: string;
  /** kernel name ("array", "BPF_MAP_TYPE_ARRAY") or number (2) */
  type: string | number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** .rodata-style map: the program may not write its values */
  readOnly?: boolean;
  /** initial contents of a single-entry array map (lets CONST_STR arguments be checked) */
  initialValue?: Uint8Array;
  /** array_of_maps / hash_of_maps: the inner-map template (what a lookup's map pointer is) */
  inner?: MapInfo;
}

/**
 * The verifier's view of an object's maps (an elf MapSpec has these fields;
 * `initialData` is the map's initial contents).
 */
type MapInfoSource = Omit<MapInfo, "initialValue" | "inner"> & {
  initialData?: Uint8Array;
  inner?: MapInfoSource;
};

export function mapInfosOf(maps: ReadonlyArray<MapInfoSource>): MapInfo[] {
  return maps.map((m) => ({
    name: m.name,
    type: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    readOnly: m.readOnly,
    ...(m.initialData ? { initialValue: m.initialData } : {}),
    ...(m.inner ? { inner: mapInfosOf([m.inner])[0]! } : {}),
  }));
}

export interface ProgramInput {
  /** raw bytecode, 8-byte slots, map references as lddw src_reg 5/6 with map indexes */
  insts: Uint8Array;
  type: ProgramType;
  maps: MapInfo[];
  /** BTF line info (ProgramSpec.lineInfo): the log shows source lines, as the kernel's does */
  lineInfo?: readonly SourceLine[];
  /** global subprograms, verified once from their BTF prototype (global-funcs.ts) */
  globalFuncs?: readonly GlobalFunc[];
}

export interface VerifyOptions {
  /** collect the verifier log (register state along every path) */
  log?: boolean;
  /** maximum instructions processed over all paths (default 1,000,000, as the kernel) */
  budget?: number;
  /** stop collecting log lines after this many (default 200,000) */
  maxLogLines?: number;
  /** allow bpf_probe_write_user in tracing programs (`bpftime load --allow-write-user`) */
  allowWriteUser?: boolean;
}

export interface VerifyStats {
  /** instructions processed over all paths */
  insnsProcessed: number;
  /** states recorded at pruning points */
  statesExplored: number;
  /** paths stopped because an explored state covered them */
  statesPruned: number;
  /** largest number of states held at once (recorded + pending branches) */
  peakStates: number;
  /** deepest call chain seen (1 = no subprogram calls) */
  maxCallDepth: number;
  /** stack bytes used by each subprogram, in the order of `subprogs` */
  stackDepth: number[];
}

export interface VerifyErrorInfo {
  /** slot index of the refused instruction */
  index: number;
  /** the instruction, disassembled */
  instruction: string;
  reason: string;
  /** "instruction 17 (r0 = ...): reason" */
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  stats: VerifyStats;
  log: string[];
  error?: VerifyErrorInfo;
  /** subprogram entry points (slot indexes) */
  subprogs: number[];
  /** context accesses to rewrite for the native context layout (see contexts.ts) */
  ctxAccesses: CtxAccess[];
}

// ------------------------------------------------------------ internals

const DEFAULT_BUDGET = 1_000_000;
const MAX_CALL_FRAMES = 8;
const MAX_VAR_OFF = 1n << 29n;
const MAX_VAR_OFF_N = 2 ** 29;
const MAX_PACKET_OFF = 0xffff;
const MAX_STATES_PER_INSN = 64;
const FORWARD_FIRST = true;

interface Checkpoint {
  st: State;
  pc: number;
  branches: number;
  parent: Checkpoint | undefined;
  hit: number;
  miss: number;
  /** the path from the parent checkpoint to this one: (slot, aux) pairs (precision.ts) */
  hist: number[];
  /** scalars whose exact value a decision after this point needed (precision.ts) */
  marks: Marks;
  /**
   * (register, value hi, value lo) of the innermost frame's live, precise
   * constant scalars: a state is only covered if it has the same constants
   * there (scalarWithin(const c, x) needs x == c), a cheap first test.
   * Recomputed when the marks change.
   */
  sig: number[] | undefined;
}

function constSig(st: State, mask: number): number[] {
  const regs = curFrame(st).regs;
  const sig: number[] = [];
  for (let m = mask & 0x7ff; m !== 0; m &= m - 1) {
    const i = 31 - Math.clz32(m & -m);
    const r = regs[i]!;
    if (r.t === "scalar" && isConst(r.s)) sig.push(i, r.s.vh, r.s.vl);
  }
  return sig;
}

function sigMatches(sig: number[], st: State): boolean {
  const regs = curFrame(st).regs;
  for (let k = 0; k < sig.length; k += 3) {
    const r = regs[sig[k]!]!;
    if (r.t !== "scalar") return false;
    const x = r.s;
    if (x.mh !== 0 || x.ml !== 0 || x.vh !== sig[k + 1] || x.vl !== sig[k + 2]) return false;
  }
  return true;
}

interface Path {
  st: State;
  pc: number;
  cp: Checkpoint | undefined;
  from: number;
  /** instructions run since `cp`: (slot, aux) pairs */
  hist: number[];
}

function normalizeMapType(t: string | number): MapType | undefined {
  const e = mapTypeOf(t);
  return e?.impl ? e.name : undefined;
}

// The scalar domain names operations by their ISA mnemonics, src/asm's (the
// types make tsc check that every mnemonic is an operation the domain knows).
const aluKind = (op: number): AluKind | undefined => {
  const m = aluMnemonic(op);
  return m === "mov" ? undefined : m;
};
const cmpKind = (op: number): CmpKind | undefined => jumpMnemonic(op);

/** Bytes a load or store accesses. */
const accessBytes = (insn: Instruction): number => sizeBytes(sizeOf(insn.opcode));

/** Maps whose elements are looked up, updated and deleted by key. */
const KEYED_MAPS: readonly MapType[] = [
  "hash",
  "array",
  "percpu_hash",
  "percpu_array",
  "lru_hash",
  "lru_percpu_hash",
  "lpm_trie",
];

/** Map types each map-taking helper accepts (others: any map but ringbuf/prog_array). */
const HELPER_MAP_TYPES: Record<string, readonly MapType[]> = {
  tail_call: ["prog_array"],
  get_stackid: ["stack_trace"],
  perf_event_output: ["perf_event_array"],
  ringbuf_output: ["ringbuf"],
  ringbuf_reserve: ["ringbuf"],
  ringbuf_query: ["ringbuf"],
  map_push_elem: ["queue", "stack", "bloom_filter"],
  map_pop_elem: ["queue", "stack"],
  map_peek_elem: ["queue", "stack", "bloom_filter"],
  // maps of maps: only lookups, as the kernel (check_map_func_compatibility)
  map_lookup_elem: [...KEYED_MAPS, "array_of_maps", "hash_of_maps"],
  map_update_elem: KEYED_MAPS,
  // arrays as the kernel: the call verifies and fails at run time with -EINVAL
  map_delete_elem: KEYED_MAPS,
};

for (const [helper, types] of Object.entries(HELPER_MAP_TYPES))
  for (const t of types)
    if (!MAP_TYPES.includes(t))
      throw new Error(`HELPER_MAP_TYPES: ${helper} names ${t}, not an implemented map type`);

const fail = (pc: number, reason: string): never => {
  throw new VerifierError(pc, reason);
};

/** st.refs is shared between cloned states: change a copy. */
function withoutRef(refs: ReadonlyMap<number, number>, ref: number): ReadonlyMap<number, number> {
  if (!refs.has(ref)) return refs;
  const m = new Map(refs);
  m.delete(ref);
  return m;
}

const s64n = (x: bigint): number => Number(BigInt.asIntN(64, x));

/** The packet pointer as the context gives it (no offset): where the metadata area ends. */
const isPacketStart = (r: Reg): boolean => r.t === "packet" && r.off === 0 && isZero(r.s);

class Verifier {
  private readonly slots: Slots;
  private readonly cfg: Cfg;
  private readonly spec: ContextSpec;
  private readonly maps: MapInfo[];
  /** outer map index → index of its inner-map template in `maps` (inner-maps.ts) */
  private readonly templateOf: Map<number, number>;
  /** lddw may name only the program's own maps, not the templates appended after them */
  private readonly programMaps: number;
  private readonly mapTypes: (MapType | undefined)[];
  private readonly budget: number;
  private readonly wantLog: boolean;
  private readonly maxLogLines: number;
  private readonly allowWriteUser: boolean;
  private readonly sourceLines: SourceLines;
  private idGen = 0;
  /** completed checkpoints by instruction: what later states are pruned against */
  private explored = new Map<number, Checkpoint[]>();
  /** checkpoints still being explored, by instruction and exactKey: the loop check */
  private open = new Map<number, Checkpoint[]>();
  private storedStates = 0;
  private pending: Path[] = [];
  /** global functions by first slot; those queued for (or done with) their own verification */
  private readonly globals = new Map<number, GlobalFunc>();
  private readonly globalsQueued = new Set<number>();
  private readonly globalQueue: Path[] = [];
  private readonly chainDepths = new Map<number, number>();
  /** the running path's history since its checkpoint, and that checkpoint */
  private hist: number[] = [];
  private cp: Checkpoint | undefined;
  /** aux of the running instruction's constant-offset stack access (precision.ts) */
  private aux = 0;
  /** scratch set for backtracking (one at a time) */
  private readonly precSet = emptySet();
  readonly log: string[] = [];
  readonly stats: VerifyStats;
  readonly ctxAccesses = new Map<number, CtxAccess>();
  private accessKind = new Map<number, string>();
  private written = new Set<number>();

  constructor(program: ProgramInput, slots: Slots, opts: VerifyOptions) {
    this.slots = slots;
    this.spec = contextSpec(program.type);
    this.allowWriteUser = opts.allowWriteUser ?? false;
    ({ maps: this.maps, templateOf: this.templateOf } = withInnerTemplates(program.maps));
    this.programMaps = program.maps.length;
    this.mapTypes = this.maps.map((m) => normalizeMapType(m.type));
    this.budget = opts.budget ?? DEFAULT_BUDGET;
    this.wantLog = opts.log ?? false;
    this.maxLogLines = opts.maxLogLines ?? 200_000;
    this.sourceLines = new SourceLines(this.wantLog ? (program.lineInfo ?? []) : []);
    this.cfg = checkCfg(this.slots);
    for (const g of program.globalFuncs ?? []) if (g.insn !== 0) this.globals.set(g.insn, g);
    this.stats = {
      insnsProcessed: 0,
      statesExplored: 0,
      statesPruned: 0,
      peakStates: 0,
      maxCallDepth: 1,
      stackDepth: this.cfg.subprogs.map(() => 0),
    };
  }

  get subprogs(): number[] {
    return this.cfg.subprogs;
  }

  private logLine(line: string): void {
    if (this.log.length < this.maxLogLines) this.log.push(line);
    else if (this.log.length === this.maxLogLines) this.log.push("... (log truncated)");
  }

  // ---------------------------------------------------------- main loop

  run(): void {
    const st: State = { frames: [newFrame(-1, 0, 0)], refs: new Map() };
    const r1 = ptrReg("ctx");
    st.frames[0]!.regs[1] = r1;
    this.pending.push({ st, pc: 0, cp: undefined, from: -1, hist: [] });
    // global functions called on the way are verified after, each on its own
    while (this.pending.length || this.globalQueue.length) {
      const p = this.pending.pop() ?? this.globalQueue.shift()!;
      if (this.wantLog && p.from >= 0)
        this.logLine(`from ${p.from} to ${p.pc}: ${stateToString(p.st, undefined, this.maps)}`);
      this.runPath(p);
    }
  }

  /** A path ended: checkpoints whose every path has ended become usable for pruning. */
  private finish(cp: Checkpoint | undefined): void {
    while (cp) {
      cp.branches--;
      if (cp.branches > 0) break;
      this.complete(cp);
      cp = cp.parent;
    }
  }

  /** Every path from `cp` is explored: later states at its instruction may be pruned against it. */
  private complete(cp: Checkpoint): void {
    let list = this.explored.get(cp.pc);
    if (!list) {
      list = [];
      this.explored.set(cp.pc, list);
    }
    if (list.length >= MAX_STATES_PER_INSN) {
      list.shift(); // the oldest: loops complete their last iterations first
      this.storedStates--;
    }
    list.push(cp);
    this.storedStates++;
  }

  /** At a pruning point: prune, detect a loop, or record a checkpoint. */
  private visit(st: State, pc: number, cp: Checkpoint | undefined): Checkpoint | "prune" {
    const { liveIn } = this.cfg;
    const list = this.explored.get(pc);
    for (let k = 0; list && k < list.length; k++) {
      const e = list[k]!;
      e.sig ??= constSig(e.st, liveIn[pc]! & (e.marks.regs[e.st.frames.length - 1] ?? 0));
      if (!sigMatches(e.sig, st) || !stateSafe(e.st, st, liveIn, pc, e.marks)) {
        // like the kernel: forget completed states that keep failing to match
        if (++e.miss > e.hit * 3 + 3) {
          list.splice(k--, 1);
          this.storedStates--;
        }
        continue;
      }
      e.hit++;
      this.stats.statesPruned++;
      if (this.wantLog) this.logLine(`${pc}: safe`);
      // what made the covering state safe needs the same precision here
      this.propagate(e.marks);
      return "prune";
    }
    // States still being explored (this path's ancestors among them) have
    // marks that are not final, so they cannot cover this one; the same
    // state again at a loop head is a loop that never ends.
    const key = exactKey(st, liveIn, pc);
    const openKey = pc * 2 ** 32 + (key >>> 0);
    let open = this.open.get(openKey);
    if (open) {
      let live = 0;
      for (const e of open) {
        if (e.branches === 0) continue;
        open[live++] = e;
        if (stateSafe(e.st, st, liveIn, pc, EXACT) && stateSafe(st, e.st, liveIn, pc, EXACT))
          fail(pc, `infinite loop detected at insn ${pc}`);
      }
      open.length = live;
    } else {
      open = [];
      this.open.set(openKey, open);
    }
    const c: Checkpoint = {
      st: cloneState(st),
      pc,
      branches: 1,
      parent: cp,
      hit: 0,
      miss: 0,
      hist: this.hist,
      marks: noMarks(st.frames.length),
      sig: undefined,
    };
    open.push(c);
    this.stats.statesExplored++;
    this.stats.peakStates = Math.max(
      this.stats.peakStates,
      this.storedStates + this.pending.length,
    );
    return c;
  }

  private runPath(p: Path): void {
    let st = p.st;
    let pc = p.pc;
    this.cp = p.cp;
    this.hist = p.hist;
    for (;;) {
      if (++this.stats.insnsProcessed > this.budget)
        fail(
          pc,
          `program too complex or unbounded loop: more than ${this.budget} instructions processed`,
        );
      if (this.cfg.prunePoint[pc]) {
        const r = this.visit(st, pc, this.cp);
        if (r === "prune") {
          this.finish(this.cp);
          return;
        }
        if (r !== this.cp) {
          this.cp = r;
          this.hist = [];
        }
      }
      const insn = this.slots[pc]!;
      if (this.wantLog) {
        const source = this.sourceLines.before(pc);
        if (source !== undefined) this.logLine(source);
        this.written.clear();
      }
      const depth = this.pending.length;
      this.aux = depthAux(st.frames.length - 1);
      let next = this.step(st, pc, insn);
      this.hist.push(pc, this.aux);
      if (this.wantLog)
        this.logLine(
          `${pc}: (${insn.opcode.toString(16).padStart(2, "0")}) ${slotText(this.slots, pc, disasmNames(this.maps))} ; ${stateToString(st, this.written, this.maps)}`,
        );
      if (next < 0) {
        this.finish(this.cp);
        return;
      }
      if (FORWARD_FIRST && this.pending.length > depth) {
        // A branch forked. Explore a forward jump target first and keep the
        // other side for later: paths leaving a loop early then come first,
        // and the later, longer-checked ones are pruned against them.
        const other = this.pending[this.pending.length - 1]!;
        if (other.pc > pc && other.pc !== next) {
          this.pending[this.pending.length - 1] = { ...other, st, pc: next };
          st = other.st;
          next = other.pc;
        }
      }
      pc = next;
    }
  }

  /** Fork the running path at the branch `pc`: the copy goes on to `target` later. */
  private fork(st: State, pc: number, target: number): State {
    const other = cloneState(st);
    const cp = this.cp;
    if (cp) cp.branches++;
    const hist = this.hist.slice();
    hist.push(pc, this.aux);
    this.pending.push({ st: other, pc: target, cp, from: pc, hist });
    this.stats.peakStates = Math.max(
      this.stats.peakStates,
      this.storedStates + this.pending.length,
    );
    return other;
  }

  // ---------------------------------------------------------- precision

  /**
   * A decision at the running instruction depends on the exact value of
   * these registers (of the innermost frame): mark them precise in the
   * path's checkpoints, back to where their values came from.
   */
  private needPrecise(st: State, ...regnos: number[]): void {
    const set = clearSet(this.precSet);
    const d = st.frames.length - 1;
    const regs = curFrame(st).regs;
    for (const r of regnos) if (regs[r]!.t === "scalar") set.regs[d] = set.regs[d]! | (1 << r);
    if (set.regs[d] !== 0) this.backtrack(set);
  }

  /** A path pruned against a checkpoint needs that checkpoint's precision too. */
  private propagate(marks: Marks): void {
    const set = clearSet(this.precSet);
    marks.regs.forEach((m, fr) => (set.regs[fr] = m));
    marks.stack.forEach((slots, fr) => slots?.forEach((b) => set.stack[fr]!.add(b)));
    if (!isEmpty(set)) this.backtrack(set);
  }

  private backtrack(set: PrecSet): void {
    let hist = this.hist;
    let cp = this.cp;
    for (;;) {
      for (let k = hist.length - 2; k >= 0; k -= 2)
        backStep(this.slots[hist[k]!]!, hist[k + 1]!, set);
      if (!cp) return;
      if (markAt(cp.st, cp.marks, set)) cp.sig = undefined;
      if (isEmpty(set)) return;
      hist = cp.hist;
      cp = cp.parent;
    }
  }

  // ---------------------------------------------------------- registers

  private reg(st: State, r: number): Reg {
    return curFrame(st).regs[r]!;
  }

  private readReg(st: State, pc: number, r: number): Reg {
    const x = this.reg(st, r);
    if (x.t === "not_init") fail(pc, `R${r} !read_ok (read of uninitialised register r${r})`);
    return x;
  }

  private setReg(st: State, pc: number, r: number, v: Reg): void {
    if (r === 10) fail(pc, "frame pointer is read only (write to r10)");
    curFrame(st).regs[r] = v;
    this.written.add(r);
  }

  private newId(): number {
    return ++this.idGen;
  }

  // ---------------------------------------------------------- step

  /** Execute one instruction; returns the next pc or -1 when the path ends. */
  private step(st: State, pc: number, insn: Instruction): number {
    switch (classOf(insn)) {
      case Class.ALU:
      case Class.ALU64:
        this.aluStep(st, pc, insn);
        return pc + 1;
      case Class.LD:
        this.lddw(st, pc, insn);
        return pc + 2;
      case Class.LDX: {
        this.readReg(st, pc, insn.src);
        const v = this.memAccess(st, pc, insn.src, insn.off, accessBytes(insn), "read");
        let r = v!;
        if (modeOf(insn.opcode) === Mode.MEMSX) {
          if (r.t !== "scalar") fail(pc, `sign-extending load of a pointer`);
          r = scalarReg(signExtend(r.s, accessBytes(insn) * 8));
        }
        this.setReg(st, pc, insn.dst, r);
        return pc + 1;
      }
      case Class.ST:
        this.readReg(st, pc, insn.dst);
        this.memAccess(st, pc, insn.dst, insn.off, accessBytes(insn), "write", constReg(insn.imm));
        return pc + 1;
      case Class.STX:
        if (modeOf(insn.opcode) === Mode.ATOMIC) {
          this.atomic(st, pc, insn);
          return pc + 1;
        }
        this.readReg(st, pc, insn.dst);
        this.memAccess(
          st,
          pc,
          insn.dst,
          insn.off,
          accessBytes(insn),
          "write",
          this.readReg(st, pc, insn.src),
        );
        return pc + 1;
      case Class.JMP:
      case Class.JMP32: {
        if (isExit(insn)) return this.exit(st, pc);
        if (insn.opcode === OP_CALLX) {
          this.callx(st, pc, insn);
          return pc + 1;
        }
        if (isCall(insn)) {
          if (isLocalCall(insn)) return this.subprogCall(st, pc, insn);
          if (insn.src !== 0) fail(pc, `kfunc calls are not supported`);
          this.helperCall(st, pc, insn);
          return pc + 1;
        }
        if (isUnconditionalJump(insn)) return jumpTarget(insn, pc)!;
        return this.condJump(st, pc, insn);
      }
    }
    return fail(pc, `unknown opcode 0x${insn.opcode.toString(16)}`);
  }

  // ---------------------------------------------------------- ALU

  private aluStep(st: State, pc: number, insn: Instruction): void {
    const is64 = classOf(insn) === Class.ALU64;
    const op = opOf(insn.opcode);
    const dst = insn.dst;
    if (dst === 10) fail(pc, "frame pointer is read only (write to r10)");
    if (op === AluOp.MOV) {
      if (!isRegisterSource(insn)) {
        this.setReg(st, pc, dst, constReg(is64 ? insn.imm : insn.imm >>> 0));
        return;
      }
      const src = this.readReg(st, pc, insn.src);
      if (insn.off !== 0) {
        if (src.t !== "scalar") fail(pc, `R${insn.src} sign-extension of a pointer is prohibited`);
        let s = signExtend(src.s, insn.off);
        if (!is64) s = zeroExtend32(s);
        this.setReg(st, pc, dst, scalarReg(s));
        return;
      }
      if (is64) this.setReg(st, pc, dst, src);
      else if (src.t === "scalar") this.setReg(st, pc, dst, scalarReg(zeroExtend32(src.s)));
      else this.setReg(st, pc, dst, scalarReg(UNKNOWN32)); // partial copy of a pointer
      return;
    }
    const d = this.readReg(st, pc, dst);
    if (op === AluOp.NEG || op === AluOp.END) {
      if (d.t !== "scalar")
        fail(
          pc,
          `R${dst} ${op === AluOp.NEG ? "negation" : "byte swap"} of a ${d.t} pointer prohibited`,
        );
      let s;
      if (op === AluOp.NEG) s = alu("neg", d.s, d.s, is64);
      else if (!is64 && !isRegisterSource(insn)) s = castScalar(d.s, insn.imm / 8);
      else s = byteSwap(d.s, insn.imm);
      this.setReg(st, pc, dst, scalarReg(s));
      return;
    }
    const kind0 = aluKind(op);
    if (!kind0) return fail(pc, `unknown ALU operation 0x${op.toString(16)}`);
    let kind: AluKind = kind0;
    if (insn.off === 1 && kind === "div") kind = "sdiv";
    if (insn.off === 1 && kind === "mod") kind = "smod";
    let s: Reg;
    if (isRegisterSource(insn)) s = this.readReg(st, pc, insn.src);
    else {
      if ((op === AluOp.DIV || op === AluOp.MOD) && insn.imm === 0) fail(pc, "division by zero");
      const bits = is64 ? 64 : 32;
      const shift = op === AluOp.LSH || op === AluOp.RSH || op === AluOp.ARSH;
      if (shift && (insn.imm < 0 || insn.imm >= bits)) fail(pc, `invalid shift ${insn.imm}`);
      s = constReg(is64 ? insn.imm : insn.imm >>> 0);
    }
    if (isPointer(d) || isPointer(s)) {
      // the scalar becomes part of the pointer (checked in full when pruning)
      if (isPointer(d) && isRegisterSource(insn)) this.needPrecise(st, insn.src);
      else if (isPointer(s)) this.needPrecise(st, dst);
      this.setReg(st, pc, dst, this.ptrArith(pc, insn, d, s, op, is64));
      return;
    }
    this.setReg(st, pc, dst, scalarReg(alu(kind, d.s, s.s, is64)));
  }

  private ptrArith(pc: number, insn: Instruction, d: Reg, s: Reg, op: number, is64: boolean): Reg {
    const dst = insn.dst;
    const sym = aluOperator(op) ?? "?";
    // Privileged kernel semantics: subtracting pointers (or any 32-bit
    // subtraction involving one) yields an unknown scalar, e.g. data_end - data.
    if (op === AluOp.SUB && ((isPointer(d) && isPointer(s)) || !is64))
      return is64 ? unknownReg() : scalarReg(UNKNOWN32);
    if (!is64) fail(pc, `R${dst} 32-bit pointer arithmetic prohibited`);
    if (isPointer(d) && isPointer(s)) return fail(pc, `R${dst} pointer ${sym} pointer prohibited`);
    if (op === AluOp.OR || op === AluOp.AND || op === AluOp.XOR)
      fail(pc, `R${dst} bitwise operator ${sym} on pointer prohibited`);
    if (op !== AluOp.ADD && op !== AluOp.SUB)
      fail(pc, `R${dst} pointer arithmetic with ${sym} operator prohibited`);
    const ptr = isPointer(d) ? d : s;
    const sc = isPointer(d) ? s : d;
    if (op === AluOp.SUB && !isPointer(d))
      fail(pc, `R${dst} tried to subtract pointer from scalar`);
    switch (ptr.t) {
      case "map_value_or_null":
      case "map_ptr_or_null":
      case "mem_or_null":
        return fail(pc, `R${dst} pointer arithmetic on ${ptr.t} prohibited, null-check it first`);
      case "packet_end":
      case "map_ptr":
        return fail(pc, `R${dst} pointer arithmetic on ${ptr.t} prohibited`);
    }
    const res = cloneReg(ptr);
    if (isConst(sc.s)) {
      const cn = sc.s.uminS;
      if (Math.abs(cn) < 2 ** 52) {
        const off = ptr.off + (op === AluOp.ADD ? cn : -cn);
        if (off >= MAX_VAR_OFF_N || off <= -MAX_VAR_OFF_N)
          fail(pc, `R${dst} pointer offset ${off} out of range`);
        res.off = off;
        return res;
      }
      const c = BigInt.asIntN(64, sc.s.umin);
      const off = BigInt(ptr.off) + (op === AluOp.ADD ? c : -c);
      if (off >= MAX_VAR_OFF || off <= -MAX_VAR_OFF)
        fail(pc, `R${dst} pointer offset ${off} out of range`);
      res.off = Number(off);
      return res;
    }
    // (smin == S64_MIN and smax == S64_MAX are covered by the bounds: the
    // number views are exact below 2^53 and monotonic above)
    if (sc.s.sminN <= -MAX_VAR_OFF_N || sc.s.smaxN >= MAX_VAR_OFF_N)
      fail(
        pc,
        `R${dst} math between ${ptr.t} pointer and register with unbounded min value is not allowed (bound the scalar first)`,
      );
    res.s = alu(op === AluOp.ADD ? "add" : "sub", ptr.s, sc.s, true);
    if (res.s.sminN <= -MAX_VAR_OFF_N || res.s.smaxN >= MAX_VAR_OFF_N)
      fail(pc, `R${dst} variable ${ptr.t} pointer offset out of bounds`);
    if (ptr.t === "packet" || ptr.t === "packet_meta") {
      res.id = this.newId();
      res.range = 0;
    }
    return res;
  }

  // ---------------------------------------------------------- lddw

  private lddw(st: State, pc: number, insn: Instruction): void {
    const src = insn.src;
    if (src === PseudoSrc.NONE) {
      this.setReg(st, pc, insn.dst, constReg(lddwValue(insn)));
      return;
    }
    const idx = insn.imm;
    const m = this.maps[idx];
    if (
      src !== PseudoSrc.MAP_IDX &&
      src !== PseudoSrc.MAP_FD &&
      src !== PseudoSrc.MAP_IDX_VALUE &&
      src !== PseudoSrc.MAP_VALUE
    )
      fail(pc, `unsupported lddw source ${src}`);
    if (!m || idx < 0 || idx >= this.programMaps)
      return fail(pc, `invalid map index ${idx} (the program has ${this.programMaps} maps)`);
    if (this.mapTypes[idx] === undefined)
      fail(pc, `map ${idx} has unsupported type ${JSON.stringify(m.type)}`);
    if (src === PseudoSrc.MAP_IDX || src === PseudoSrc.MAP_FD) {
      this.setReg(st, pc, insn.dst, ptrReg("map_ptr", { map: idx }));
      return;
    }
    const off = lddwNextImm(insn);
    const t = this.mapTypes[idx];
    if (t !== "array") fail(pc, `direct value access on ${t} map ${idx} is not allowed`);
    if (off < 0 || off >= m.valueSize)
      fail(pc, `direct value offset ${off} is outside map ${idx} value (size ${m.valueSize})`);
    this.setReg(st, pc, insn.dst, ptrReg("map_value", { map: idx, off }));
  }

  // ---------------------------------------------------------- memory

  private memAccess(
    st: State,
    pc: number,
    regno: number,
    insnOff: number,
    size: number,
    kind: "read" | "write",
    value?: Reg,
  ): Reg | undefined {
    const p = this.reg(st, regno);
    const k = p.t === "ctx" ? "ctx" : "other";
    const prev = this.accessKind.get(pc);
    if (prev !== undefined && prev !== k)
      fail(pc, "same insn cannot be used with different pointers (context and non-context)");
    this.accessKind.set(pc, k);
    switch (p.t) {
      case "stack":
        return this.stackAccess(st, pc, p, regno, insnOff, size, kind, value);
      case "ctx":
        return this.ctxAccess(pc, p, regno, insnOff, size, kind, value);
      case "packet":
        return this.regionAccess(pc, p, regno, insnOff, size, kind, value, "packet");
      case "packet_meta":
        return this.regionAccess(pc, p, regno, insnOff, size, kind, value, "packet metadata");
      case "map_value":
        return this.regionAccess(pc, p, regno, insnOff, size, kind, value, "map value");
      case "mem":
        return this.regionAccess(pc, p, regno, insnOff, size, kind, value, "memory");
      case "map_value_or_null":
      case "map_ptr_or_null":
      case "mem_or_null":
        return fail(pc, `R${regno} invalid mem access '${p.t}' (missing null check)`);
      case "not_init":
        return fail(pc, `R${regno} !read_ok (read of uninitialised register r${regno})`);
      default:
        return fail(pc, `R${regno} invalid mem access '${p.t}'`);
    }
  }

  private noPointerStore(pc: number, value: Reg | undefined, what: string, regno: number): void {
    if (value && isPointer(value))
      fail(pc, `R${regno} leaks addr into ${what} (only the stack may hold pointers)`);
  }

  private ctxAccess(
    pc: number,
    p: Reg,
    regno: number,
    insnOff: number,
    size: number,
    kind: "read" | "write",
    value?: Reg,
  ): Reg | undefined {
    if (p.off !== 0 || !isZero(p.s))
      fail(pc, `dereference of modified ctx ptr R${regno} off=${p.off} disallowed`);
    this.noPointerStore(pc, value, "ctx", regno);
    const r = checkContextAccess(this.spec, insnOff, size, kind === "write");
    if (!r.ok) return fail(pc, r.reason);
    const [nativeOff, nativeSize] = nativeAccess(this.spec, insnOff, size);
    this.ctxAccesses.set(pc, { index: pc, off: insnOff, size, nativeOff, nativeSize });
    if (kind === "write") return undefined;
    const f = r.field;
    if (f && f.kind === "packet") return ptrReg("packet", { region: f.region ?? 0 });
    if (f && f.kind === "packet_end") return ptrReg("packet_end", { region: f.region ?? 0 });
    if (f && f.kind === "packet_meta") return ptrReg("packet_meta", { region: f.region ?? 0 });
    return scalarReg(unknownOfSize(size));
  }

  /** packet, map value and ringbuf memory: bounded regions without per-byte state. */
  private regionAccess(
    pc: number,
    p: Reg,
    regno: number,
    insnOff: number,
    size: number,
    kind: "read" | "write",
    value: Reg | undefined,
    what: string,
  ): Reg | undefined {
    this.checkRegion(pc, p, regno, insnOff, size, kind === "write");
    this.noPointerStore(pc, value, what, regno);
    if (kind !== "read") return undefined;
    return this.readOnlyValue(p, insnOff, size) ?? scalarReg(unknownOfSize(size));
  }

  /**
   * A load at a constant offset from a read-only map whose contents are known
   * (.rodata, .kconfig: frozen before any program runs) is that constant, as
   * the kernel's verifier reads frozen BPF_F_RDONLY_PROG maps
   * (bpf_map_direct_read): branches on `__kconfig` values and `const volatile`
   * settings are pruned as in the kernel.
   */
  private readOnlyValue(p: Reg, insnOff: number, size: number): Reg | undefined {
    if (p.t !== "map_value" || !isConst(p.s)) return undefined;
    const m = this.maps[p.map]!;
    const off = p.off + insnOff + p.s.sminN;
    if (!m.readOnly || !m.initialValue || off < 0 || off + size > m.initialValue.length)
      return undefined;
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(m.initialValue[off + i]!);
    return constReg(v);
  }

  /** Bounds of [off, off+size) through pointer p (packet, map value, mem). */
  private checkRegion(
    pc: number,
    p: Reg,
    regno: number,
    off: number,
    size: number,
    write: boolean,
  ): void {
    if (p.s.sminN < 0)
      fail(
        pc,
        `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check`,
      );
    if (p.s.smaxN >= MAX_VAR_OFF_N)
      fail(pc, `R${regno} unbounded memory access, make sure to bounds check any such access`);
    const lo = p.off + off + p.s.sminN;
    const hi = p.off + off + p.s.smaxN + size;
    if (p.t === "packet" || p.t === "packet_meta") {
      const o = p.off + off;
      const meta = p.t === "packet_meta";
      if (o < 0 || o + size > p.range)
        fail(
          pc,
          `invalid access to ${meta ? "packet metadata" : (this.spec.regions[p.region] ?? "packet")}, off=${o} size=${size}, R${regno}(id=${p.id},off=${p.off},r=${p.range}) (compare against ${meta ? "data" : "the end pointer"} first)`,
        );
      if (write && !this.packetWritable())
        fail(pc, `write into read-only ${this.spec.regions[p.region] ?? "packet"} memory`);
      return;
    }
    if (p.t === "map_value") {
      const m = this.maps[p.map]!;
      if (lo < 0 || hi > m.valueSize)
        fail(
          pc,
          `invalid access to map value, value_size=${m.valueSize} off=${lo} size=${size}${hi - size > lo ? ` (variable offset up to ${hi - size})` : ""}`,
        );
      if (write && m.readOnly)
        fail(
          pc,
          `write into map forbidden, value_size=${m.valueSize} off=${lo} size=${size} (map is read-only)`,
        );
      return;
    }
    if (p.t === "mem") {
      if (lo < 0 || hi > p.size)
        fail(pc, `invalid access to memory, mem_size=${p.size} off=${lo} size=${size}`);
      return;
    }
    fail(pc, `R${regno} invalid mem access '${p.t}'`);
  }

  private packetWritable(): boolean {
    return this.spec.type === "xdp" || this.spec.type === "sched_cls";
  }

  private frameOf(st: State, p: Reg): Frame {
    return st.frames[p.frame]!;
  }

  private noteDepth(st: State, p: Reg, lowest: number): void {
    const f = this.frameOf(st, p);
    const k = this.cfg.subprogOf[f.subprog]!;
    const d = this.stats.stackDepth;
    if (-lowest > d[k]!) d[k] = -lowest;
  }

  private stackAccess(
    st: State,
    pc: number,
    p: Reg,
    regno: number,
    insnOff: number,
    size: number,
    kind: "read" | "write",
    value?: Reg,
  ): Reg | undefined {
    const frame = this.frameOf(st, p);
    if (!isConst(p.s)) {
      const lo = p.off + insnOff + p.s.sminN;
      const hi = p.off + insnOff + p.s.smaxN;
      if (lo < -STACK_SIZE || hi + size > 0)
        fail(
          pc,
          `invalid variable-offset stack access R${regno} off=${lo}..${hi} size=${size} (stack is ${STACK_SIZE} bytes below r10)`,
        );
      this.noteDepth(st, p, lo);
      const b0 = lo + STACK_SIZE;
      const b1 = hi + size + STACK_SIZE;
      if (kind === "read") {
        for (let j = b0; j < b1; j++)
          if (frame.stype[j] === ST_INVALID)
            fail(
              pc,
              `invalid variable-offset read from stack R${regno} off=${lo}..${hi} size=${size} (uninitialised stack at ${j - STACK_SIZE})`,
            );
        return scalarReg(unknownOfSize(size));
      }
      if (value && isPointer(value)) fail(pc, `R${regno} variable-offset spill of a pointer`);
      this.stackClobber(frame, b0, b1 - b0);
      return undefined;
    }
    const o = p.off + insnOff + p.s.uminS;
    if (o < -STACK_SIZE || o + size > 0)
      fail(
        pc,
        `invalid stack access off=${o} size=${size} (stack is ${STACK_SIZE} bytes below r10)`,
      );
    if (o % size !== 0) fail(pc, `misaligned stack access off=${o} size=${size}`);
    this.noteDepth(st, p, o);
    const b = o + STACK_SIZE;
    const depth = st.frames.length - 1;
    if (kind === "read") {
      const sp = frame.spills[b];
      this.aux = stackAux(depth, p.frame, b, sp !== undefined && sp.size >= size);
      return this.stackRead(pc, frame, b, size);
    }
    const fromReg = classOf(this.slots[pc]!) === Class.STX;
    const spill = this.stackWrite(pc, frame, b, size, value!, fromReg);
    this.aux = stackAux(depth, p.frame, b, spill);
    // a zero stored from a register makes the bytes "zero", not a spill
    if (!spill && fromReg) this.needPrecise(st, this.slots[pc]!.src);
    return undefined;
  }

  private stackRead(pc: number, frame: Frame, b: number, size: number): Reg {
    const sp = frame.spills[b];
    if (sp && sp.size === size) return sp.reg;
    if (sp && sp.reg.t === "scalar" && sp.size > size) return scalarReg(castScalar(sp.reg.s, size));
    let allZero = true;
    for (let j = b; j < b + size; j++) {
      const t = frame.stype[j]!;
      if (t === ST_INVALID)
        fail(
          pc,
          `invalid read from stack off ${b - STACK_SIZE}+${j - b} size ${size} (uninitialised stack)`,
        );
      if (t === ST_SPILL) {
        const k = spillStart(frame, j);
        const r = k >= 0 ? frame.spills[k]!.reg : undefined;
        if (r && r.t !== "scalar")
          fail(
            pc,
            `invalid size of register fill: ${size}-byte read of a spilled ${r.t} pointer at off ${k - STACK_SIZE}`,
          );
      }
      if (t !== ST_ZERO) allZero = false;
    }
    return allZero ? constReg(0) : scalarReg(unknownOfSize(size));
  }

  /** Forget spills overlapping [b, b+len) and mark those bytes as data. */
  private stackClobber(frame: Frame, b: number, len: number): void {
    ownStack(frame);
    for (let j = Math.max(0, b - 7); j < b + len; j++) {
      const sp = frame.spills[j];
      if (sp && j + sp.size > b) {
        delete frame.spills[j];
        frame.stype.fill(ST_MISC, j, j + sp.size);
      }
    }
    frame.stype.fill(ST_MISC, b, b + len);
  }

  /**
   * Returns whether the value was spilled (else its bytes became "zero").
   * A whole register stored from a register is a spill even when it is 0, as
   * the kernel's: it keeps its own precision, so a zero nobody relies on (a
   * helper's out-argument cleared on its error paths, then copied) does not
   * make every later state differ from the one where the value is unknown.
   */
  private stackWrite(
    pc: number,
    frame: Frame,
    b: number,
    size: number,
    value: Reg,
    fromReg: boolean,
  ): boolean {
    this.stackClobber(frame, b, size); // owns the stack
    if (isPointer(value)) {
      if (size !== 8)
        fail(pc, `invalid size of register spill: ${size}-byte store of a ${value.t} pointer`);
      frame.spills[b] = { reg: value, size: 8 };
      frame.stype.fill(ST_SPILL, b, b + 8);
      return true;
    }
    const s = castScalar(value.s, size);
    if (isConst(s) && s.umin === 0n && !(fromReg && size === 8)) {
      frame.stype.fill(ST_ZERO, b, b + size);
      return false;
    }
    frame.spills[b] = { reg: scalarReg(s), size };
    frame.stype.fill(ST_SPILL, b, b + size);
    return true;
  }

  private atomic(st: State, pc: number, insn: Instruction): void {
    const size = accessBytes(insn);
    const p = this.readReg(st, pc, insn.dst);
    const src = this.readReg(st, pc, insn.src);
    if (p.t !== "stack" && p.t !== "map_value" && p.t !== "mem")
      fail(pc, `BPF_ATOMIC stores into R${insn.dst} ${p.t} is not allowed`);
    if (isPointer(src)) fail(pc, `R${insn.src} leaks addr into mem`);
    if (insn.imm === AtomicOp.CMPXCHG) {
      const r0 = this.readReg(st, pc, 0);
      if (isPointer(r0)) fail(pc, `R0 leaks addr into mem`);
    }
    const old = this.memAccess(st, pc, insn.dst, insn.off, size, "read");
    // The old value would come back (or be combined) as a number: the
    // address. The kernel refuses this to every loader that may not leak
    // pointers ("leaking pointer from stack"); bpftime never allows leaks.
    if (old && isPointer(old))
      fail(
        pc,
        `leaking pointer from stack off ${insn.off}: BPF_ATOMIC on a spilled ${old.t} pointer would expose its address`,
      );
    this.memAccess(st, pc, insn.dst, insn.off, size, "write", unknownReg());
    const fetched = scalarReg(unknownOfSize(size));
    if (insn.imm === AtomicOp.CMPXCHG) this.setReg(st, pc, 0, fetched);
    else if (insn.imm & AtomicOp.FETCH) this.setReg(st, pc, insn.src, fetched);
  }

  // ---------------------------------------------------------- jumps

  private condJump(st: State, pc: number, insn: Instruction): number {
    const is32 = classOf(insn) === Class.JMP32;
    const kind = cmpKind(opOf(insn.opcode))!;
    const target = pc + 1 + insn.off;
    const fall = pc + 1;
    const a = this.readReg(st, pc, insn.dst);
    const b = isRegisterSource(insn)
      ? this.readReg(st, pc, insn.src)
      : constReg(is32 ? insn.imm >>> 0 : insn.imm);
    const sameReg = isRegisterSource(insn) && insn.src === insn.dst;

    if (a.t === "scalar" && b.t === "scalar") {
      const t = refine(kind, a.s, b.s, is32);
      const f = refine(negateCmp(kind), a.s, b.s, is32);
      const apply = (s: State, r: [typeof a.s, typeof b.s]): void => {
        curFrame(s).regs[insn.dst] = scalarReg(r[0]);
        if (isRegisterSource(insn) && !sameReg) curFrame(s).regs[insn.src] = scalarReg(r[1]);
      };
      // the bounds decide the branch: only values within them take the same side
      if (!t || !f) this.needPrecise(st, insn.dst, isRegisterSource(insn) ? insn.src : insn.dst);
      if (t && !f) {
        if (!sameReg) apply(st, t);
        return target;
      }
      if (!t && f) {
        if (!sameReg) apply(st, f);
        return fall;
      }
      if (!t && !f) return -1; // contradictory state: path is infeasible
      const other = this.fork(st, pc, target);
      if (!sameReg) {
        apply(other, t!);
        apply(st, f!);
      }
      return fall;
    }

    // a pointer against a scalar: whether the scalar is 0 decides null checks
    if (isRegisterSource(insn)) this.needPrecise(st, insn.dst, insn.src);
    else this.needPrecise(st, insn.dst);
    const nullable = (r: Reg): boolean => isOrNull(r.t);
    const zero = (r: Reg): boolean => r.t === "scalar" && isZero(r.s);
    if (!is32 && (kind === "jeq" || kind === "jne")) {
      const ptr = nullable(a) && zero(b) ? a : nullable(b) && zero(a) ? b : undefined;
      if (ptr) {
        const other = this.fork(st, pc, target);
        // jeq: taken branch has NULL; jne: taken branch has the object
        this.markNull(other, ptr, kind === "jeq");
        this.markNull(st, ptr, kind !== "jeq");
        return fall;
      }
      const nonNull = (r: Reg): boolean => isPointer(r) && !nullable(r);
      if ((nonNull(a) && zero(b)) || (nonNull(b) && zero(a))) return kind === "jeq" ? fall : target;
    }
    if (!is32) {
      let pk: CmpKind | undefined;
      let pkt: Reg | undefined;
      if (a.t === "packet" && b.t === "packet_end" && a.region === b.region) {
        pk = kind;
        pkt = a;
      } else if (b.t === "packet" && a.t === "packet_end" && a.region === b.region) {
        pk = swapCmp(kind);
        pkt = b;
      } else if (a.t === "packet_meta" && isPacketStart(b) && a.region === b.region) {
        // the metadata area ends where the packet starts (XDP's data_meta..data)
        pk = kind;
        pkt = a;
      } else if (b.t === "packet_meta" && isPacketStart(a) && a.region === b.region) {
        pk = swapCmp(kind);
        pkt = b;
      }
      if (pk && pkt) {
        const p = pkt;
        const other = this.fork(st, pc, target);
        // pkt <= end (or ==) gives the bytes before pkt
        const good = (k: CmpKind): boolean => k === "jle" || k === "jlt" || k === "jeq";
        if (good(pk)) this.markPktRange(other, p);
        if (good(negateCmp(pk))) this.markPktRange(st, p);
        return fall;
      }
    }
    this.fork(st, pc, target);
    return fall;
  }

  private markNull(st: State, ptr: Reg, isNull: boolean): void {
    const id = ptr.id;
    forEachReg(st, (r, set) => {
      if (r.id !== id || !isOrNull(r.t)) return;
      if (isNull) set(constReg(0));
      else {
        const n = cloneReg(r);
        n.t = NOT_NULL[r.t as OrNullType];
        n.id = 0;
        set(n);
      }
    });
    if (isNull && ptr.ref) st.refs = withoutRef(st.refs, ptr.ref);
  }

  private markPktRange(st: State, p: Reg): void {
    if (p.off < 0) return;
    if (p.s.umaxN > MAX_PACKET_OFF || p.s.umaxN + p.off > MAX_PACKET_OFF) return;
    const range = p.off;
    forEachReg(st, (r, set) => {
      if (r.t === p.t && r.id === p.id && r.region === p.region && r.range < range)
        set({ ...r, range });
    });
  }

  // ---------------------------------------------------------- calls

  private subprogCall(st: State, pc: number, insn: Instruction): number {
    if (st.frames.length >= MAX_CALL_FRAMES)
      fail(
        pc,
        `the call stack of ${st.frames.length + 1} frames is too deep (max ${MAX_CALL_FRAMES})`,
      );
    const target = pc + 1 + insn.imm;
    const g = this.globals.get(target);
    if (g) return this.globalCall(st, pc, g);
    const caller = curFrame(st);
    const callee = newFrame(pc, target, st.frames.length);
    for (let r = 1; r <= 5; r++) callee.regs[r] = caller.regs[r]!;
    st.frames.push(callee);
    this.stats.maxCallDepth = Math.max(this.stats.maxCallDepth, st.frames.length);
    return target;
  }

  /**
   * A call of a global function: the arguments are checked against its BTF
   * prototype, r0 becomes an unknown scalar, and the function itself is
   * verified once, on its own (queued the first time), as the kernel does.
   */
  private globalCall(st: State, pc: number, g: GlobalFunc): number {
    const name = `global function ${g.name}`;
    const frames = st.frames.length + this.chainDepth(g.insn);
    if (frames > MAX_CALL_FRAMES)
      fail(pc, `the call stack of ${frames} frames is too deep (max ${MAX_CALL_FRAMES})`);
    if (g.args.length > 5) fail(pc, `${name} takes ${g.args.length} arguments (at most 5)`);
    if (!g.scalarReturn)
      fail(
        pc,
        `Global function ${g.name}() doesn't return scalar. Only those are supported (as in the kernel): return an int or make it static`,
      );
    if (this.wantLog) this.logLine(`Func '${g.name}' is global and assumed valid.`);
    const writes: (() => void)[] = [];
    g.args.forEach((a, i) => {
      const regno = i + 1;
      const r = this.readReg(st, pc, regno);
      const want = (what: string): never =>
        fail(pc, `R${regno} type=${r.t} expected=${what} (arg#${i} of ${name})`);
      switch (a.kind) {
        case "unsupported":
          return fail(
            pc,
            `arg#${i} of ${name} is ${a.type}: a global function takes scalars, its context or pointers to memory of a known size (make it static to pass anything else)`,
          );
        case "scalar":
          if (r.t !== "scalar") want("scalar");
          return;
        case "ctx":
          if (r.t !== "ctx" || r.off !== 0 || !isConst(r.s) || r.s.umin !== 0n) want("ctx");
          return;
        case "mem":
          if (r.t === "scalar") {
            // NULL is allowed: the function must check for it
            this.needPrecise(st, regno);
            if (isConst(r.s) && r.s.umin === 0n) return;
            want(`pointer to ${a.size} bytes or NULL`);
          }
          // the function may read and write all of its BTF type's bytes
          this.helperMem(st, pc, regno, r, a.size, false, writes, name);
          this.helperMem(st, pc, regno, r, a.size, true, writes, name);
      }
    });
    for (const w of writes) w();
    const f = curFrame(st);
    for (let r = 1; r <= 5; r++) f.regs[r] = notInit();
    this.setReg(st, pc, 0, unknownReg());
    this.aux = globalCallAux(st.frames.length - 1);
    if (!this.globalsQueued.has(g.insn)) {
      this.globalsQueued.add(g.insn);
      this.globalQueue.push({
        st: this.globalEntry(g),
        pc: g.insn,
        cp: undefined,
        from: -1,
        hist: [],
      });
    }
    return pc + 1;
  }

  /** The state a global function is verified from: its arguments as BTF types them, nothing else. */
  private globalEntry(g: GlobalFunc): State {
    const frame = newFrame(-1, g.insn, 0);
    g.args.forEach((a, i) => {
      if (a.kind === "ctx") frame.regs[i + 1] = ptrReg("ctx");
      else if (a.kind === "scalar") frame.regs[i + 1] = unknownReg();
      else if (a.kind === "mem")
        frame.regs[i + 1] = ptrReg("mem_or_null", { size: a.size, id: this.newId() });
    });
    if (this.wantLog) this.logLine(`Validating ${g.name}() as a global function`);
    return { frames: [frame], refs: new Map() };
  }

  /** Frames a call of the subprogram at `entry` can stack up (itself included). */
  private chainDepth(entry: number): number {
    const known = this.chainDepths.get(entry);
    if (known !== undefined) return known;
    const { subprogs, subprogOf } = this.cfg;
    const k = subprogOf[entry]!;
    const end = subprogs[k + 1] ?? this.slots.length;
    let deepest = 0;
    for (let i = entry; i < end; i++) {
      const insn = this.slots[i];
      if (insn && isLocalCall(insn)) deepest = Math.max(deepest, this.chainDepth(i + 1 + insn.imm));
    }
    this.chainDepths.set(entry, deepest + 1); // the call graph has no cycles (cfg.ts)
    return deepest + 1;
  }

  private exit(st: State, pc: number): number {
    const r0 = this.reg(st, 0);
    if (r0.t === "not_init") fail(pc, "R0 !read_ok (r0 is not set before exit)");
    if (st.frames.length > 1) {
      const depth = st.frames.length - 1;
      if (r0.t === "stack" && r0.frame === depth)
        fail(pc, "cannot return stack pointer to the caller");
      const callee = st.frames.pop()!;
      const caller = curFrame(st);
      caller.regs[0] = r0;
      for (let r = 1; r <= 5; r++) caller.regs[r] = notInit();
      // stack pointers into the dead frame become garbage
      forEachReg(st, (r, set) => {
        if (r.t === "stack" && r.frame >= st.frames.length) set(unknownReg());
      });
      return callee.callsite + 1;
    }
    if (isPointer(r0))
      fail(
        pc,
        `R0 leaks addr as return value (the program returns a ${r0.t} pointer, not a scalar)`,
      );
    for (const [id, at] of st.refs)
      fail(
        pc,
        `unreleased reference id=${id} alloc_insn=${at}: reference leak (every ringbuf record must be submitted or discarded on every path)`,
      );
    return -1;
  }

  /**
   * callx dst: the VM calls the helper whose id dst holds. Proven only when
   * dst is a known constant: then it is `call <id>`, checked as such.
   */
  private callx(st: State, pc: number, insn: Instruction): void {
    const r = this.readReg(st, pc, insn.dst);
    if (r.t !== "scalar" || !isConst(r.s))
      fail(
        pc,
        `callx r${insn.dst}: the verifier cannot prove which helper it calls (r${insn.dst} is ${r.t === "scalar" ? "not a known constant" : `a ${r.t} pointer`}); put a helper id in it or call the helper directly`,
      );
    this.needPrecise(st, insn.dst);
    const id = r.s.umin;
    if (id === 12n)
      fail(pc, `callx r${insn.dst} = 12: bpf_tail_call is only reached by \`call 12\``);
    if (id >= 1n << 31n) fail(pc, `callx r${insn.dst} = ${id}: no such helper in this runtime`);
    this.helperCall(st, pc, { ...insn, opcode: OP_CALL, src: 0, imm: Number(id) });
  }

  private helperCall(st: State, pc: number, insn: Instruction): void {
    const proto = helperById.get(insn.imm);
    if (!proto)
      return fail(pc, `invalid func unknown#${insn.imm} (no such helper in this runtime)`);
    const refusal = helperRefusal(proto, this.spec.type, this.allowWriteUser);
    if (refusal) fail(pc, refusal);
    if (proto.name === "tail_call" && st.refs.size)
      fail(pc, "tail_call would lead to reference leak");
    let mapIdx = -1;
    let pendingMem: { regno: number; reg: Reg; write: boolean } | undefined;
    let allocSize = -1;
    let release: Reg | undefined;
    const writes: (() => void)[] = [];
    const name = `${proto.name}#${proto.id}`;
    const expect = (regno: number, r: Reg, what: string): never =>
      fail(pc, `R${regno} type=${r.t} expected=${what} (argument ${regno} of ${name})`);

    for (let i = 0; i < 5; i++) {
      const kind: ArgKind = proto.args[i]!;
      if (kind === "NONE") continue;
      const regno = i + 1;
      // trace_printk's trailing arguments are varargs: the kernel leaves them unchecked
      if (proto.name === "trace_printk" && i >= 2 && this.reg(st, regno).t === "not_init") continue;
      const r = this.readReg(st, pc, regno);
      // sizes and the scalars passed where memory is expected (NULL with size
      // 0) are checked by value; ANYTHING arguments are not
      if (kind !== "ANYTHING" && kind !== "USER_PTR") this.needPrecise(st, regno);
      switch (kind) {
        case "ANYTHING":
        case "USER_PTR":
          break;
        case "CONST_MAP_PTR":
          if (r.t !== "map_ptr") expect(regno, r, "map_ptr");
          mapIdx = r.map;
          break;
        case "MAP_KEY":
        case "MAP_VALUE":
        case "UNINIT_MAP_VALUE": {
          const m = this.maps[mapIdx];
          if (!m) return fail(pc, `R${regno} ${kind} argument without a map`);
          const size = kind === "MAP_KEY" ? m.keySize : m.valueSize;
          this.helperMem(st, pc, regno, r, size, kind === "UNINIT_MAP_VALUE", writes, name);
          break;
        }
        case "MEM":
        case "UNINIT_MEM":
          pendingMem = { regno, reg: r, write: kind === "UNINIT_MEM" };
          break;
        case "CONST_SIZE":
        case "CONST_SIZE_OR_ZERO": {
          if (r.t !== "scalar") expect(regno, r, "scalar size");
          if (r.s.smin < 0n)
            fail(pc, `R${regno} min value is negative, either use unsigned or 'var &= const'`);
          if (r.s.umax >= MAX_VAR_OFF)
            fail(pc, `R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
          if (kind === "CONST_SIZE" && r.s.umin === 0n)
            fail(pc, `R${regno} invalid zero-sized read (${name} needs a size > 0)`);
          if (!pendingMem) return fail(pc, `internal: size argument without memory argument`);
          this.helperMem(
            st,
            pc,
            pendingMem.regno,
            pendingMem.reg,
            Number(r.s.umax),
            pendingMem.write,
            writes,
            name,
          );
          pendingMem = undefined;
          break;
        }
        case "CTX":
          if (r.t !== "ctx" || r.off !== 0 || !isConst(r.s) || r.s.umin !== 0n)
            expect(regno, r, "ctx");
          break;
        case "ALLOC_MEM":
          if (r.t !== "mem" || !r.ref)
            expect(regno, r, "ringbuf record (null-checked result of ringbuf_reserve)");
          if (r.off !== 0 || !isConst(r.s) || r.s.umin !== 0n)
            fail(pc, `R${regno} must have zero offset when passed to release func ${name}`);
          if (!st.refs.has(r.ref))
            fail(pc, `R${regno} reference has not been acquired before (already released?)`);
          release = r;
          break;
        case "CONST_ALLOC_SIZE":
          if (r.t !== "scalar" || !isConst(r.s))
            fail(pc, `R${regno} is not a known constant (${name} needs a constant size)`);
          if (r.s.umin === 0n || r.s.umin > 0x7fffffffn)
            fail(pc, `R${regno} invalid allocation size ${r.s.umin}`);
          allocSize = Number(r.s.umin);
          break;
        case "CONST_STR":
          this.constStr(pc, regno, r, name);
          break;
      }
    }
    // map type compatibility
    if (mapIdx >= 0) {
      const t = this.mapTypes[mapIdx]!;
      const allowed = HELPER_MAP_TYPES[proto.name];
      const ok = allowed ? allowed.includes(t) : t !== "ringbuf" && t !== "prog_array";
      if (!ok) fail(pc, `cannot pass map_type ${t} into func ${name}`);
    }
    if (proto.name === "tail_call" && st.frames.length > 1)
      fail(pc, "tail_call from a subprogram is not supported");
    for (const w of writes) w();
    if (release) {
      const ref = release.ref;
      st.refs = withoutRef(st.refs, ref);
      forEachReg(st, (r, set) => {
        if (r.ref === ref) set(unknownReg());
      });
    }
    const f = curFrame(st);
    for (let r = 1; r <= 5; r++) f.regs[r] = notInit();
    this.setReg(st, pc, 0, this.helperResult(st, pc, proto, mapIdx, allocSize));
  }

  private helperResult(
    st: State,
    pc: number,
    proto: HelperProto,
    mapIdx: number,
    allocSize: number,
  ): Reg {
    switch (proto.ret) {
      case "RET_INTEGER":
        return unknownReg();
      case "RET_VOID":
        return notInit();
      case "RET_MAP_VALUE_OR_NULL":
        return this.lookupResult(mapIdx);
      case "RET_MEM_OR_NULL": {
        const ref = this.newId();
        st.refs = new Map(st.refs).set(ref, pc);
        return ptrReg("mem_or_null", { size: allocSize, id: ref, ref });
      }
    }
  }

  /** A lookup's result: a value of the map, or for an outer map an inner map pointer. */
  private lookupResult(mapIdx: number): Reg {
    const template = this.templateOf.get(mapIdx);
    if (template !== undefined)
      return ptrReg("map_ptr_or_null", { map: template, id: this.newId() });
    return ptrReg("map_value_or_null", { map: mapIdx, id: this.newId() });
  }

  private constStr(pc: number, regno: number, r: Reg, name: string): void {
    if (r.t !== "map_value")
      fail(pc, `R${regno} type=${r.t} expected=pointer into a read-only map (${name})`);
    const m = this.maps[r.map]!;
    if (!m.readOnly) fail(pc, `R${regno} does not point to a readonly map (${name})`);
    if (!isConst(r.s)) fail(pc, `R${regno} is not a constant address (${name})`);
    const off = r.off + s64n(r.s.umin);
    if (off < 0 || off >= m.valueSize)
      fail(pc, `R${regno} string offset ${off} is outside the map value`);
    if (m.initialValue) {
      const z = m.initialValue.subarray(off, m.valueSize).indexOf(0);
      if (z < 0) fail(pc, `R${regno} string is not zero-terminated (${name})`);
    }
  }

  /** Memory passed to a helper: [ptr, ptr+size) must be valid (and initialised when read). */
  private helperMem(
    st: State,
    pc: number,
    regno: number,
    r: Reg,
    size: number,
    write: boolean,
    writes: (() => void)[],
    name: string,
  ): void {
    if (size === 0 && (r.t === "scalar" ? isConst(r.s) && r.s.umin === 0n : isPointer(r))) return;
    switch (r.t) {
      case "stack": {
        const frame = this.frameOf(st, r);
        if (r.s.smin < -MAX_VAR_OFF || r.s.smax > MAX_VAR_OFF)
          fail(pc, `R${regno} unbounded variable-offset stack pointer passed to ${name}`);
        const lo = r.off + s64n(r.s.smin);
        const hi = r.off + s64n(r.s.smax);
        if (lo < -STACK_SIZE || hi + size > 0)
          fail(
            pc,
            `invalid indirect access to stack R${regno} off=${lo} size=${size} (stack is ${STACK_SIZE} bytes below r10)`,
          );
        this.noteDepth(st, r, lo);
        const b0 = lo + STACK_SIZE;
        const b1 = hi + size + STACK_SIZE;
        if (!write) {
          for (let j = b0; j < b1; j++) {
            if (frame.stype[j] === ST_INVALID)
              fail(
                pc,
                `invalid indirect read from stack R${regno} off ${lo}+${j - b0} size ${size} (uninitialised stack passed to ${name})`,
              );
            // a spilled pointer read as data would leak its address (into a
            // map, an output record...), as the kernel refuses unprivileged;
            // the format helpers' data arrays hold pointers on purpose (%s, %p)
            const k = frame.stype[j] === ST_SPILL ? spillStart(frame, j) : -1;
            const spilled = k >= 0 ? frame.spills[k]!.reg : undefined;
            if (spilled && spilled.t !== "scalar" && !takesPointersAsData(name))
              fail(
                pc,
                `invalid indirect read from stack R${regno} off ${lo}+${j - b0} size ${size}: a spilled ${spilled.t} pointer would leak as data (passed to ${name})`,
              );
          }
        } else writes.push(() => this.stackClobber(frame, b0, b1 - b0));
        return;
      }
      case "packet":
      case "packet_meta":
      case "map_value":
      case "mem":
        this.checkRegion(pc, r, regno, 0, size, write);
        return;
      default:
        fail(
          pc,
          `R${regno} type=${r.t} expected=fp, pkt, map_value, mem (memory argument of ${name})`,
        );
    }
  }
}

// ------------------------------------------------------------ API

/** The program's slots; bytecode src/asm cannot decode (a broken lddw) is refused at its slot. */
function slotsOrRefuse(bytes: Uint8Array): Slots {
  try {
    return programSlots(bytes);
  } catch (e) {
    if (!(e instanceof BpftimeError) || e.code !== "bad_bytecode") throw e;
    const { index, reason } = e.details as { index: number; reason: string };
    throw new VerifierError(index, `invalid bpf_ld_imm64 insn: ${reason}`);
  }
}

/** Check a program; never throws for a refused program (see `ok` and `error`). */
export function verify(program: ProgramInput, opts: VerifyOptions = {}): VerifyResult {
  let v: Verifier | undefined;
  let slots: Slots | undefined;
  const emptyStats: VerifyStats = {
    insnsProcessed: 0,
    statesExplored: 0,
    statesPruned: 0,
    peakStates: 0,
    maxCallDepth: 0,
    stackDepth: [],
  };
  try {
    if (program.insts.length % 8 !== 0)
      throw new BpftimeError(
        "bad_bytecode",
        `program size ${program.insts.length} is not a multiple of 8 bytes`,
      );
    slots = slotsOrRefuse(program.insts);
    v = new Verifier(program, slots, opts);
    v.run();
    return {
      ok: true,
      stats: v.stats,
      log: v.log,
      subprogs: v.subprogs,
      ctxAccesses: [...v.ctxAccesses.values()].sort((a, b) => a.index - b.index),
    };
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    const text = slots
      ? slotText(slots, e.index, disasmNames(program.maps))
      : rawSlotText(program.insts, e.index);
    const message = `instruction ${e.index} (${text}): ${e.reason}`;
    const log = v?.log ?? [];
    if (opts.log) log.push(message);
    return {
      ok: false,
      stats: v?.stats ?? emptyStats,
      log,
      subprogs: v?.subprogs ?? [],
      ctxAccesses: [],
      error: { index: e.index, instruction: text, reason: e.reason, message },
    };
  }
}

/** Like verify, but throws BpftimeError('verifier', 'instruction N (text): reason'). */
export function verifyOrThrow(program: ProgramInput, opts: VerifyOptions = {}): VerifyResult {
  const r = verify(program, opts);
  if (!r.ok) throw new BpftimeError("verifier", r.error!.message, r.error);
  return r;
}

/** Helpers whose memory argument is a format's data array: pointers in it are
 * read as pointers (`%s`, `%p`), never copied out as numbers by the helper. */
const FORMAT_DATA_HELPERS = new Set(["snprintf", "trace_vprintk", "seq_printf"]);
function takesPointersAsData(helper: string): boolean {
  return FORMAT_DATA_HELPERS.has(helper.split("#")[0]!);
}
