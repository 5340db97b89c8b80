// Disassembler printing the syntax of llvm-objdump's BPF target.
//
// Two dialects, because llvm changed its number format:
//   "llvm14" (default; Debian 12's `llvm-objdump`): immediates in decimal, `r0 = 0`
//   "llvm19" (`llvm-objdump-19`):                    immediates in hex,     `r0 = 0x0`
// The text of every instruction llvm decodes is identical to llvm-objdump -d
// of that version, with these deliberate exceptions (llvm prints something
// that loses information, and we want text that assembles back to the same bytes):
//   - llvm 14 does not know ISA v4 and prints `/=` for sdiv, `%`-ops and jset as
//     <unknown>, `w1 = w2` for movsx, <unknown> for bswap/ldsx/st/gotol: we print
//     the llvm 19 syntax (with decimal numbers).
//   - 32-bit atomic fetch-add: llvm prints `lock *(u32 *)(r1 + 0) += r2`
//     (the non-fetch form); we print `w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)`.
//     32-bit or/and/xor/fetch/xchg/cmpxchg (llvm: <unknown> without -mattr=+alu32)
//     are printed as llvm does with -mattr=+alu32.
//   - callx: llvm 14 always prints `callx r0`; we print the dst register (llvm 19).
//   - legacy ld_ind with imm != 0: llvm prints `skb[r3]`; we print `skb[r3 + 4]`.
//   - calls: llvm prints `call N` for helper, local and kfunc calls alike. So do
//     we by default; with `callKinds` we print `call local N` / `call kfunc N`.
//   - lddw with a pseudo source and a non-zero high half: llvm prints only the low
//     32 bits as the last operand of ld_pseudo; we print the 64-bit value.
// Invalid encodings are printed as `<unknown>`, as llvm does.

import { AluOp, AtomicOp, CallSrc, Class, JmpOp, Mode, OP_CALLX, OP_JA32 } from "./opcodes.ts";
import { OP_LDDW, PseudoSrc, SLOT_SIZE, Size, Source, classOf, modeOf, opOf } from "./opcodes.ts";
import { sizeBytes, sizeOf, sourceOf } from "./opcodes.ts";
import { type Instruction, encode, jumpOffset, lddwNextImm, lddwValue } from "./instruction.ts";
import { slotCount } from "./instruction.ts";

export type Dialect = "llvm14" | "llvm19";

/** A symbol of the section being disassembled (function or label), at a slot. */
export interface DisasmSymbol {
  name: string;
  slot: number;
}

/** "llvm": llvm-objdump's C-like text (default); "ubpf": `add32 %r1, 5` mnemonics. */
export type Syntax = "llvm" | "ubpf";

/**
 * Names for what an object's instructions refer to by number, as bpftool
 * prints them: `call bpf_map_lookup_elem`, `r1 = map[verdict_counts]`,
 * `r1 = map[.rodata] + 8`. Without them (llvm-objdump's text) `call 1`,
 * `ld_pseudo r1, 5, 0`.
 */
export interface DisasmNames {
  /** A helper's name by id (undefined: print the number). */
  helper?(id: number): string | undefined;
  /** A map's name by the number a pseudo lddw carries (index or fd). */
  map?(index: number): string | undefined;
}

export interface InstructionTextOptions {
  /** Number format: "llvm14" decimal (default), "llvm19" hex. */
  dialect?: Dialect;
  /** Text syntax (default "llvm"). */
  syntax?: Syntax;
  /** Slot of the instruction: needed to annotate jump targets with symbols. */
  slot?: number;
  /** Symbols of the section: jumps get ` <name+0xoff>` like llvm-objdump. */
  symbols?: readonly DisasmSymbol[];
  /**
   * Print the kind of non-helper calls: `call local -1`, `call kfunc 1234`.
   * llvm-objdump prints `call -1` for all three kinds, which does not assemble
   * back to the same bytes. Default false (llvm's text).
   */
  callKinds?: boolean;
  /** Names for helpers and maps (see DisasmNames). */
  names?: DisasmNames;
}

export interface DisassembleOptions {
  /** Number format: "llvm14" decimal (default), "llvm19" hex. */
  dialect?: Dialect;
  /** Text syntax (default "llvm"). */
  syntax?: Syntax;
  /**
   * llvm-objdump -d layout: `     12:\tb7 00 00 00 00 00 00 00\tr0 = 0`, and a
   * `\n0000000000000000 <name>:` header before each symbol. Default: text only.
   */
  listing?: boolean;
  /** Symbols of the section, for jump annotations and listing headers. */
  symbols?: readonly DisasmSymbol[];
  /** Slot number of the first instruction (default 0). */
  firstSlot?: number;
  /** See InstructionTextOptions.callKinds. */
  callKinds?: boolean;
  /** See InstructionTextOptions.names. */
  names?: DisasmNames;
}

const UNKNOWN = "<unknown>";

const aluSymbol: Record<number, string> = {
  [AluOp.ADD]: "+",
  [AluOp.SUB]: "-",
  [AluOp.MUL]: "*",
  [AluOp.DIV]: "/",
  [AluOp.OR]: "|",
  [AluOp.AND]: "&",
  [AluOp.LSH]: "<<",
  [AluOp.RSH]: ">>",
  [AluOp.MOD]: "%",
  [AluOp.XOR]: "^",
  [AluOp.MOV]: "",
  [AluOp.ARSH]: "s>>",
};

/**
 * The C operator of an arithmetic operation (AluOp value) as the disassembler
 * prints it: `+=`, `s>>=`, `=` for mov; undefined for neg, byte swap and
 * unknown operations. For messages that name an operation.
 */
export function aluOperator(op: number): string | undefined {
  const sym = aluSymbol[op];
  return sym === undefined ? undefined : `${sym}=`;
}

const jmpSymbol: Record<number, string> = {
  [JmpOp.JEQ]: "==",
  [JmpOp.JGT]: ">",
  [JmpOp.JGE]: ">=",
  [JmpOp.JSET]: "&",
  [JmpOp.JNE]: "!=",
  [JmpOp.JSGT]: "s>",
  [JmpOp.JSGE]: "s>=",
  [JmpOp.JLT]: "<",
  [JmpOp.JLE]: "<=",
  [JmpOp.JSLT]: "s<",
  [JmpOp.JSLE]: "s<=",
};

const atomicName: Record<number, string> = {
  [AtomicOp.ADD]: "add",
  [AtomicOp.OR]: "or",
  [AtomicOp.AND]: "and",
  [AtomicOp.XOR]: "xor",
};
const atomicSymbol: Record<number, string> = {
  [AtomicOp.ADD]: "+",
  [AtomicOp.OR]: "|",
  [AtomicOp.AND]: "&",
  [AtomicOp.XOR]: "^",
};

/** Formats a signed number the way the dialect does: `-7` / `-0x7`. */
function num(v: number | bigint, hex: boolean): string {
  const b = BigInt(v);
  const neg = b < 0n;
  const abs = neg ? -b : b;
  return (neg ? "-" : "") + (hex ? "0x" + abs.toString(16) : abs.toString());
}

/** A jump distance: always signed, `+3` / `+0x3`. */
function rel(v: number, hex: boolean): string {
  return v < 0 ? num(v, hex) : "+" + num(v, hex);
}

/** A memory operand `r1 + 0x8` / `r10 - 4`. */
function addr(reg: number, off: number, hex: boolean): string {
  return `r${reg} ${off < 0 ? "-" : "+"} ${num(Math.abs(off), hex)}`;
}

/** `<name+0x18>` for a target slot, as llvm-objdump symbolizes branch targets. */
export function symbolize(
  targetSlot: number,
  symbols: readonly DisasmSymbol[],
): string | undefined {
  const target = BigInt.asUintN(64, BigInt(targetSlot) * BigInt(SLOT_SIZE));
  let best: DisasmSymbol | undefined;
  let bestAddr = -1n;
  for (const s of symbols) {
    const a = BigInt(s.slot) * BigInt(SLOT_SIZE);
    if (a <= target && a > bestAddr) {
      best = s;
      bestAddr = a;
    }
  }
  if (!best) return undefined;
  const delta = target - bestAddr;
  return delta === 0n ? `<${best.name}>` : `<${best.name}+0x${delta.toString(16)}>`;
}

const isMapValueSource = (src: number) =>
  src === PseudoSrc.MAP_VALUE || src === PseudoSrc.MAP_IDX_VALUE;
const isMapSource = (src: number) =>
  src === PseudoSrc.MAP_FD || src === PseudoSrc.MAP_IDX || isMapValueSource(src);

/** The llvm-objdump text of one instruction, e.g. `if r1 == 0x1 goto +0x3 <LBB0_2>`. */
export function instructionText(inst: Instruction, opts: InstructionTextOptions = {}): string {
  if (opts.syntax === "ubpf") return ubpfText(inst);
  const hex = opts.dialect === "llvm19";
  const { opcode, dst, src, off, imm } = inst;
  const cls = classOf(opcode);
  const op = opOf(opcode);
  const k = sourceOf(opcode) === Source.K;

  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const p = cls === Class.ALU64 ? "r" : "w";
      const d = `${p}${dst}`;
      if (op === AluOp.NEG) return k ? `${d} = -${d}` : UNKNOWN;
      if (op === AluOp.END) {
        if (imm !== 16 && imm !== 32 && imm !== 64) return UNKNOWN;
        const name = cls === Class.ALU64 ? (k ? "bswap" : undefined) : k ? "le" : "be";
        return name ? `r${dst} = ${name}${imm} r${dst}` : UNKNOWN;
      }
      const sym = aluSymbol[op];
      if (sym === undefined) return UNKNOWN;
      const operand = k ? num(imm, hex) : `${p}${src}`;
      if (op === AluOp.DIV || op === AluOp.MOD) {
        if (off !== 0 && off !== 1) return UNKNOWN;
        return `${d} ${off === 1 ? "s" : ""}${sym}= ${operand}`;
      }
      if (op === AluOp.MOV && off !== 0) {
        const ok = !k && (off === 8 || off === 16 || (off === 32 && cls === Class.ALU64));
        return ok ? `${d} = (s${off})${p}${src}` : UNKNOWN;
      }
      return op === AluOp.MOV ? `${d} = ${operand}` : `${d} ${sym}= ${operand}`;
    }
    case Class.JMP:
    case Class.JMP32: {
      if (op === JmpOp.CALL) {
        if (cls !== Class.JMP) return UNKNOWN;
        if (opcode === OP_CALLX) return `callx r${dst}`;
        if (src > CallSrc.KFUNC) return UNKNOWN;
        const kind = !opts.callKinds
          ? ""
          : src === CallSrc.LOCAL
            ? "local "
            : src === CallSrc.KFUNC
              ? "kfunc "
              : "";
        const helper = src === CallSrc.HELPER ? opts.names?.helper?.(imm) : undefined;
        return helper ? `call ${helper}` : `call ${kind}${num(imm, hex)}`;
      }
      if (op === JmpOp.EXIT) return cls === Class.JMP && k ? "exit" : UNKNOWN;
      let text: string;
      if (op === JmpOp.JA) {
        if (!k) return UNKNOWN;
        text = `${opcode === OP_JA32 ? "gotol" : "goto"} ${rel(jumpOffset(inst), hex)}`;
      } else {
        const sym = jmpSymbol[op];
        if (sym === undefined) return UNKNOWN;
        const p = cls === Class.JMP ? "r" : "w";
        text = `if ${p}${dst} ${sym} ${k ? num(imm, hex) : `${p}${src}`} goto ${rel(off, hex)}`;
      }
      if (opts.symbols && opts.slot !== undefined) {
        const s = symbolize(opts.slot + 1 + jumpOffset(inst), opts.symbols);
        if (s) text += ` ${s}`;
      }
      return text;
    }
    case Class.LD: {
      if (opcode === OP_LDDW) {
        const v = lddwValue(inst);
        if (src === 0) return `r${dst} = ${num(v, hex)} ll`;
        if (src > 6) return UNKNOWN;
        const map = isMapSource(src) ? opts.names?.map?.(imm) : undefined;
        if (map !== undefined) {
          const off = lddwNextImm(inst);
          return isMapValueSource(src)
            ? `r${dst} = map[${map}]${off ? ` + ${num(off, hex)}` : ""}`
            : `r${dst} = map[${map}]`;
        }
        return `ld_pseudo\tr${dst}, ${num(src, hex)}, ${num(v, hex)}`;
      }
      const mode = modeOf(opcode);
      const size = sizeOf(opcode);
      if (size === Size.DW) return UNKNOWN;
      const ty = `u${sizeBytes(size) * 8}`;
      if (mode === Mode.ABS) return `r0 = *(${ty} *)skb[${num(imm, hex)}]`;
      if (mode === Mode.IND) {
        const extra = imm === 0 ? "" : ` ${imm < 0 ? "-" : "+"} ${num(Math.abs(imm), hex)}`;
        return `r0 = *(${ty} *)skb[r${src}${extra}]`;
      }
      return UNKNOWN;
    }
    case Class.LDX: {
      const mode = modeOf(opcode);
      const bits = sizeBytes(sizeOf(opcode)) * 8;
      if (mode === Mode.MEM) return `r${dst} = *(u${bits} *)(${addr(src, off, hex)})`;
      if (mode === Mode.MEMSX && bits !== 64)
        return `r${dst} = *(s${bits} *)(${addr(src, off, hex)})`;
      return UNKNOWN;
    }
    case Class.ST: {
      if (modeOf(opcode) !== Mode.MEM) return UNKNOWN;
      const bits = sizeBytes(sizeOf(opcode)) * 8;
      return `*(u${bits} *)(${addr(dst, off, hex)}) = ${num(imm, hex)}`;
    }
    default: {
      const mode = modeOf(opcode);
      const bits = sizeBytes(sizeOf(opcode)) * 8;
      if (mode === Mode.MEM) return `*(u${bits} *)(${addr(dst, off, hex)}) = r${src}`;
      if (mode !== Mode.ATOMIC || (bits !== 32 && bits !== 64)) return UNKNOWN;
      const w = bits === 32;
      const p = w ? "w" : "r";
      const a = addr(dst, off, hex);
      if (imm === AtomicOp.XCHG) return `${p}${src} = xchg${w ? "32_32" : "_64"}(${a}, ${p}${src})`;
      if (imm === AtomicOp.CMPXCHG)
        return `${p}0 = cmpxchg${w ? "32_32" : "_64"}(${a}, ${p}0, ${p}${src})`;
      const base = imm & ~AtomicOp.FETCH;
      const name = atomicName[base];
      if (name === undefined) return UNKNOWN;
      if (imm & AtomicOp.FETCH)
        return `${p}${src} = atomic_fetch_${name}((u${bits} *)(${a}), ${p}${src})`;
      // llvm's default decoder prints the 32-bit add with an r register.
      const reg = w && base !== AtomicOp.ADD ? "w" : "r";
      return `lock *(u${bits} *)(${a}) ${atomicSymbol[base]}= ${reg}${src}`;
    }
  }
}

/** The raw bytes of one instruction as llvm-objdump prints them: `b7 00 00 ...`. */
export function instructionBytes(inst: Instruction): string {
  return Array.from(encode([inst]), (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/**
 * Disassembles a program, one line per instruction. With `listing`, lines look
 * like llvm-objdump -d: right-aligned slot number, raw bytes, text.
 */
export function disassembleLines(
  insts: readonly Instruction[],
  opts: DisassembleOptions = {},
): string[] {
  const lines: string[] = [];
  const symbols = opts.symbols;
  let slot = opts.firstSlot ?? 0;
  for (const inst of insts) {
    const text = instructionText(inst, {
      dialect: opts.dialect,
      syntax: opts.syntax,
      slot,
      symbols,
      callKinds: opts.callKinds,
      names: opts.names,
    });
    if (opts.listing) {
      for (const s of symbols ?? []) {
        if (s.slot === slot) {
          const address = (BigInt(slot) * BigInt(SLOT_SIZE)).toString(16).padStart(16, "0");
          lines.push("", `${address} <${s.name}>:`);
        }
      }
      lines.push(`${String(slot).padStart(8)}:\t${instructionBytes(inst)}\t${text}`);
    } else {
      lines.push(text);
    }
    slot += slotCount(inst);
  }
  return lines;
}

/** `disassembleLines` joined with newlines (and a final newline if non-empty). */
export function disassemble(insts: readonly Instruction[], opts: DisassembleOptions = {}): string {
  const lines = disassembleLines(insts, opts);
  return lines.length ? lines.join("\n") + "\n" : "";
}

// The ISA mnemonics (ubpf syntax), typed as literal unions so that code naming
// operations the same way (the verifier's scalar domain) is checked against them.
const ubpfAlu = {
  [AluOp.ADD]: "add",
  [AluOp.SUB]: "sub",
  [AluOp.MUL]: "mul",
  [AluOp.DIV]: "div",
  [AluOp.OR]: "or",
  [AluOp.AND]: "and",
  [AluOp.LSH]: "lsh",
  [AluOp.RSH]: "rsh",
  [AluOp.MOD]: "mod",
  [AluOp.XOR]: "xor",
  [AluOp.MOV]: "mov",
  [AluOp.ARSH]: "arsh",
} as const;
const ubpfJmp = {
  [JmpOp.JEQ]: "jeq",
  [JmpOp.JGT]: "jgt",
  [JmpOp.JGE]: "jge",
  [JmpOp.JSET]: "jset",
  [JmpOp.JNE]: "jne",
  [JmpOp.JSGT]: "jsgt",
  [JmpOp.JSGE]: "jsge",
  [JmpOp.JLT]: "jlt",
  [JmpOp.JLE]: "jle",
  [JmpOp.JSLT]: "jslt",
  [JmpOp.JSLE]: "jsle",
} as const;

export type AluMnemonic = (typeof ubpfAlu)[keyof typeof ubpfAlu];
export type JumpMnemonic = (typeof ubpfJmp)[keyof typeof ubpfJmp];

/** The mnemonic of an arithmetic operation (AluOp value but neg and byte swap): `add`, `mov`. */
export function aluMnemonic(op: number): AluMnemonic | undefined {
  return (ubpfAlu as Record<number, AluMnemonic | undefined>)[op];
}

/** The mnemonic of a conditional jump (JmpOp value): `jeq`, `jsgt`. */
export function jumpMnemonic(op: number): JumpMnemonic | undefined {
  return (ubpfJmp as Record<number, JumpMnemonic | undefined>)[op];
}

const ubpfSize: Record<number, string> = {
  [Size.W]: "w",
  [Size.H]: "h",
  [Size.B]: "b",
  [Size.DW]: "dw",
};

const mem = (reg: number, off: number): string =>
  `[%r${reg}${off < 0 ? "-" : "+"}${Math.abs(off)}]`;
const hex64 = (v: bigint): string => (v < 0n ? "-0x" + (-v).toString(16) : "0x" + v.toString(16));

/**
 * The ubpf-assembler text of one instruction (`mov32 %r0, 0`, `ldxw %r0, [%r1+4]`,
 * `jeq %r1, 1, +3`). Atomics: `lock add [%r1+0], %r2`, `lock fetch or32 [...], %r2`,
 * `xchg [%r1+8], %r2`, `cmpxchg32 [%r1+8], %r2` (r0 implicit).
 */
export function ubpfText(inst: Instruction): string {
  const { opcode, dst, src, off, imm } = inst;
  const cls = classOf(opcode);
  const op = opOf(opcode);
  const k = sourceOf(opcode) === Source.K;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const sfx = cls === Class.ALU ? "32" : "";
      if (op === AluOp.NEG) return k ? `neg${sfx} %r${dst}` : UNKNOWN;
      if (op === AluOp.END) {
        if (imm !== 16 && imm !== 32 && imm !== 64) return UNKNOWN;
        if (cls === Class.ALU64) return k ? `bswap${imm} %r${dst}` : UNKNOWN;
        return `${k ? "le" : "be"}${imm} %r${dst}`;
      }
      const name = aluMnemonic(op);
      if (name === undefined) return UNKNOWN;
      const operand = k ? String(imm) : `%r${src}`;
      if (op === AluOp.DIV || op === AluOp.MOD) {
        if (off !== 0 && off !== 1) return UNKNOWN;
        return `${off === 1 ? "s" : ""}${name}${sfx} %r${dst}, ${operand}`;
      }
      if (op === AluOp.MOV && off !== 0) {
        const ok = !k && (off === 8 || off === 16 || (off === 32 && cls === Class.ALU64));
        return ok ? `mov${sfx}sx${off} %r${dst}, %r${src}` : UNKNOWN;
      }
      return `${name}${sfx} %r${dst}, ${operand}`;
    }
    case Class.JMP:
    case Class.JMP32: {
      if (op === JmpOp.CALL) {
        if (cls !== Class.JMP) return UNKNOWN;
        if (opcode === OP_CALLX) return `callx %r${dst}`;
        if (src === CallSrc.HELPER) return `call ${imm}`;
        if (src === CallSrc.LOCAL) return `call local ${rel(imm, false)}`;
        if (src === CallSrc.KFUNC) return `call kfunc ${imm}`;
        return UNKNOWN;
      }
      if (op === JmpOp.EXIT) return cls === Class.JMP && k ? "exit" : UNKNOWN;
      if (op === JmpOp.JA) {
        if (!k) return UNKNOWN;
        return opcode === OP_JA32 ? `ja32 ${rel(imm, false)}` : `ja ${rel(off, false)}`;
      }
      const name = jumpMnemonic(op);
      if (name === undefined) return UNKNOWN;
      const sfx = cls === Class.JMP32 ? "32" : "";
      return `${name}${sfx} %r${dst}, ${k ? String(imm) : `%r${src}`}, ${rel(off, false)}`;
    }
    case Class.LD: {
      if (opcode === OP_LDDW) {
        const v = lddwValue(inst);
        return src === 0
          ? `lddw %r${dst}, ${hex64(v)}`
          : src <= 6
            ? `ld_pseudo %r${dst}, ${src}, ${hex64(v)}`
            : UNKNOWN;
      }
      const mode = modeOf(opcode);
      const sz = ubpfSize[sizeOf(opcode)];
      if (sizeOf(opcode) === Size.DW) return UNKNOWN;
      if (mode === Mode.ABS) return `ldabs${sz} ${imm}`;
      if (mode === Mode.IND) return `ldind${sz} %r${src}, ${imm}`;
      return UNKNOWN;
    }
    case Class.LDX: {
      const mode = modeOf(opcode);
      const sz = ubpfSize[sizeOf(opcode)];
      if (mode === Mode.MEM) return `ldx${sz} %r${dst}, ${mem(src, off)}`;
      if (mode === Mode.MEMSX && sizeOf(opcode) !== Size.DW)
        return `ldxs${sz} %r${dst}, ${mem(src, off)}`;
      return UNKNOWN;
    }
    case Class.ST:
      if (modeOf(opcode) !== Mode.MEM) return UNKNOWN;
      return `st${ubpfSize[sizeOf(opcode)]} ${mem(dst, off)}, ${imm}`;
    default: {
      const mode = modeOf(opcode);
      const size = sizeOf(opcode);
      if (mode === Mode.MEM) return `stx${ubpfSize[size]} ${mem(dst, off)}, %r${src}`;
      if (mode !== Mode.ATOMIC || (size !== Size.W && size !== Size.DW)) return UNKNOWN;
      const sfx = size === Size.W ? "32" : "";
      if (imm === AtomicOp.XCHG) return `xchg${sfx} ${mem(dst, off)}, %r${src}`;
      if (imm === AtomicOp.CMPXCHG) return `cmpxchg${sfx} ${mem(dst, off)}, %r${src}`;
      const name = atomicName[imm & ~AtomicOp.FETCH];
      if (name === undefined) return UNKNOWN;
      return `lock ${imm & AtomicOp.FETCH ? "fetch " : ""}${name}${sfx} ${mem(dst, off)}, %r${src}`;
    }
  }
}
