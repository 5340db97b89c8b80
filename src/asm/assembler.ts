// Assembler for two syntaxes, freely mixed line by line:
//
// 1. ubpf's test-file syntax (registers with or without `%`):
//      mov32 %r0, 0          add %r1, 5          neg %r1        be16 %r0   le32   bswap64
//      sdiv %r1, %r2         smod32 %r1, 3       movsx8 %r1, %r2 (64-bit)  mov32sx16 %r1, %r2
//      ldxw %r0, [%r1+4]     ldxsb %r0, [%r1]    (also ldxbsx)   stxdw [%r10-8], %r1
//      stw [%r1+2], 7        lddw %r0, 0x123456789               ldabsw 12   ldindb %r3, 4
//      jeq %r1, 0x1, +3      jne32 %r1, %r2, done                ja +2       ja32/jal/gotol +2
//      call 12               call local name | call local +3     call kfunc 1234   callx %r1
//      exit                  ld_pseudo %r1, 1, 3   (lddw with pseudo source 1..6)
//    Atomics (64-bit, add `32` for 32-bit):
//      lock add [%r1+0], %r2            (also or, and, xor)
//      lock fetch add [%r1+0], %r2      (src gets the old value)
//      xchg [%r1+8], %r2                cmpxchg [%r1+8], %r2   (compares with r0)
//    The `lock_add`, `lock_fetch_add`, `lock_xchg` spellings are accepted too.
//
// 2. llvm-objdump's syntax, as printed by `disassemble` (both llvm 14 and 19):
//      r0 = 0x0   w1 += w2   r1 = (s8)r2   r1 = be16 r1   if r1 > r2 goto +3 <LBB0_2>
//      *(u32 *)(r10 - 0x4) = r1   r1 = *(u64 *)(r1 + 0x8)   r1 = 0x1234 ll   call 0x1
//      lock *(u64 *)(r1 + 0x0) += r2   r2 = atomic_fetch_add((u64 *)(r1 + 0x0), r2)
//    plus `call local N`, `call kfunc N` (see disasm.ts), and whole llvm-objdump -d
//    listings: `   3:\tbf 21 00 ...\tr1 = r2` lines and `000... <name>:` headers
//    (which define the label `name`).
//
// Labels: `name:` on its own line or before an instruction; jumps and local
// calls may name a label instead of an offset. Comments start with `#`, `;`
// or `//`. Errors are BpftimeError("usage") naming the line and its text.

import { BpftimeError } from "../errors.ts";
import { AluOp, AtomicOp, CallSrc, Class, JmpOp, Mode, OP_CALL, OP_CALLX } from "./opcodes.ts";
import { OP_EXIT, OP_JA, OP_JA32, Size, Source } from "./opcodes.ts";
import { type Instruction, ins, lddw, slotCount } from "./instruction.ts";

interface Pending {
  inst: Instruction;
  line: number;
  text: string;
  /** label to resolve into off (jumps) or imm (gotol, local call) */
  label?: string;
  field?: "off" | "imm";
}

class ParseError extends Error {}

const NUM = String.raw`[-+]?(?:0[xX][0-9a-fA-F]+|\d+)`;
const LABEL = String.raw`[A-Za-z_.$][\w.$]*`;
const TARGET = `(${NUM}|${LABEL})`;
const REG = String.raw`([rw])(\d+)`;
const ADDR = String.raw`\(\s*r(\d+)\s*([+-])\s*(${NUM})\s*\)`;

function parseNum(s: string, min: bigint, max: bigint, what: string): bigint {
  let t = s.trim();
  let neg = false;
  if (t.startsWith("-") || t.startsWith("+")) {
    neg = t.startsWith("-");
    t = t.slice(1);
  }
  if (!/^(0[xX][0-9a-fA-F]+|\d+)$/.test(t)) throw new ParseError(`bad number "${s}"`);
  const v = neg ? -BigInt(t) : BigInt(t);
  if (v < min || v > max) throw new ParseError(`${what} ${s} out of range`);
  return v;
}

/** imm32: accepts -2^31 .. 2^32-1, unsigned values wrap to signed. */
const imm32 = (s: string): number =>
  Number(BigInt.asIntN(32, parseNum(s, -(1n << 31n), (1n << 32n) - 1n, "immediate")));
const off16 = (s: string): number => Number(parseNum(s, -(1n << 15n), (1n << 15n) - 1n, "offset"));
const imm64 = (s: string): bigint =>
  BigInt.asIntN(64, parseNum(s, -(1n << 63n), (1n << 64n) - 1n, "immediate"));

function reg(s: string): number {
  const m = /^%?[rw](\d+)$/.exec(s.trim());
  if (!m) throw new ParseError(`expected a register, got "${s.trim()}"`);
  const n = Number(m[1]);
  if (n > 10) throw new ParseError(`no register r${n} (r0..r10)`);
  return n;
}

/** `[%r1+4]`, `[r1 - 0x8]`, `[%r1]` -> [reg, off] */
function memOperand(s: string): [number, number] {
  const m = new RegExp(String.raw`^\[\s*%?r(\d+)\s*(?:([+-])\s*(${NUM}))?\s*\]$`).exec(s.trim());
  if (!m) throw new ParseError(`expected a memory operand like [%r1+8], got "${s.trim()}"`);
  const r = reg("r" + m[1]);
  const off = m[3] === undefined ? 0 : off16((m[2] === "-" ? "-" : "") + m[3]);
  return [r, off];
}

const sizeByName: Record<string, number> = { b: Size.B, h: Size.H, w: Size.W, dw: Size.DW };
const sizeByBits: Record<string, number> = {
  "8": Size.B,
  "16": Size.H,
  "32": Size.W,
  "64": Size.DW,
};

const aluByName: Record<string, number> = {
  add: AluOp.ADD,
  sub: AluOp.SUB,
  mul: AluOp.MUL,
  div: AluOp.DIV,
  or: AluOp.OR,
  and: AluOp.AND,
  lsh: AluOp.LSH,
  rsh: AluOp.RSH,
  mod: AluOp.MOD,
  xor: AluOp.XOR,
  mov: AluOp.MOV,
  arsh: AluOp.ARSH,
  sdiv: AluOp.DIV,
  smod: AluOp.MOD,
};
const aluBySymbol: Record<string, [number, number]> = {
  "+": [AluOp.ADD, 0],
  "-": [AluOp.SUB, 0],
  "*": [AluOp.MUL, 0],
  "/": [AluOp.DIV, 0],
  "s/": [AluOp.DIV, 1],
  "|": [AluOp.OR, 0],
  "&": [AluOp.AND, 0],
  "<<": [AluOp.LSH, 0],
  ">>": [AluOp.RSH, 0],
  "%": [AluOp.MOD, 0],
  "s%": [AluOp.MOD, 1],
  "^": [AluOp.XOR, 0],
  "": [AluOp.MOV, 0],
  "s>>": [AluOp.ARSH, 0],
};
const jmpByName: Record<string, number> = {
  jeq: JmpOp.JEQ,
  jgt: JmpOp.JGT,
  jge: JmpOp.JGE,
  jset: JmpOp.JSET,
  jne: JmpOp.JNE,
  jsgt: JmpOp.JSGT,
  jsge: JmpOp.JSGE,
  jlt: JmpOp.JLT,
  jle: JmpOp.JLE,
  jslt: JmpOp.JSLT,
  jsle: JmpOp.JSLE,
};
const jmpBySymbol: Record<string, number> = {
  "==": JmpOp.JEQ,
  ">": JmpOp.JGT,
  ">=": JmpOp.JGE,
  "&": JmpOp.JSET,
  "!=": JmpOp.JNE,
  "s>": JmpOp.JSGT,
  "s>=": JmpOp.JSGE,
  "<": JmpOp.JLT,
  "<=": JmpOp.JLE,
  "s<": JmpOp.JSLT,
  "s<=": JmpOp.JSLE,
};
const atomicByName: Record<string, number> = {
  add: AtomicOp.ADD,
  or: AtomicOp.OR,
  and: AtomicOp.AND,
  xor: AtomicOp.XOR,
};
const atomicBySymbol: Record<string, number> = {
  "+": AtomicOp.ADD,
  "|": AtomicOp.OR,
  "&": AtomicOp.AND,
  "^": AtomicOp.XOR,
};

type Parsed = Omit<Pending, "line" | "text">;

/** A jump/call target: a number (offset) or a label name. */
function target(s: string, inst: Instruction, field: "off" | "imm"): Parsed {
  const t = s.trim();
  if (new RegExp(`^${NUM}$`).test(t)) {
    if (field === "off") inst.off = off16(t);
    else inst.imm = imm32(t);
    return { inst };
  }
  if (!new RegExp(`^${LABEL}$`).test(t)) throw new ParseError(`bad jump target "${t}"`);
  return { inst, label: t, field };
}

/** Checks that all registers of an llvm-syntax instruction use the same width prefix. */
function sameWidth(prefixes: (string | undefined)[]): string {
  const p = prefixes.filter((x): x is string => x !== undefined);
  const first = p[0] ?? "r";
  if (p.some((x) => x !== first)) throw new ParseError("mixed r and w registers");
  return first;
}

function regNum(n: string | undefined): number {
  return reg("r" + (n ?? ""));
}

function memAddr(
  r: string | undefined,
  sign: string | undefined,
  n: string | undefined,
): [number, number] {
  return [regNum(r), off16((sign === "-" ? "-" : "") + (n ?? "0").replace(/^\+/, ""))];
}

/** llvm-objdump syntax; undefined if the line does not look like it. */
function parseLlvm(t: string): Parsed | undefined {
  let m: RegExpExecArray | null;
  const re = (s: string): RegExp => new RegExp(`^${s}$`);

  if ((m = re(String.raw`(goto|gotol)\s+${TARGET}`).exec(t))) {
    return m[1] === "goto" ? target(m[2]!, ins(OP_JA), "off") : target(m[2]!, ins(OP_JA32), "imm");
  }
  if (
    (m = re(
      String.raw`if\s+${REG}\s*(==|!=|s>=|s<=|s>|s<|>=|<=|>|<|&)\s*(?:${REG}|(${NUM}))\s+goto\s+${TARGET}`,
    ).exec(t))
  ) {
    const p = sameWidth([m[1], m[4]]);
    const cls = p === "w" ? Class.JMP32 : Class.JMP;
    const op = jmpBySymbol[m[3]!]!;
    const inst =
      m[6] !== undefined
        ? ins(cls | op | Source.K, regNum(m[2]), 0, 0, imm32(m[6]))
        : ins(cls | op | Source.X, regNum(m[2]), regNum(m[5]));
    return target(m[7]!, inst, "off");
  }
  if ((m = re(String.raw`r(\d+)\s*=\s*(${NUM})\s+ll`).exec(t))) {
    return { inst: lddw(regNum(m[1]), imm64(m[2]!)) };
  }
  if ((m = re(String.raw`ld_pseudo\s+%?r(\d+)\s*,\s*(${NUM})\s*,\s*(${NUM})`).exec(t))) {
    const src = Number(parseNum(m[2]!, 1n, 6n, "pseudo source"));
    return { inst: lddw(regNum(m[1]), imm64(m[3]!), src) };
  }
  if ((m = re(String.raw`r0\s*=\s*\*\(u(8|16|32)\s*\*\)\s*skb\[\s*(${NUM})\s*\]`).exec(t))) {
    return { inst: ins(Class.LD | Mode.ABS | sizeByBits[m[1]!]!, 0, 0, 0, imm32(m[2]!)) };
  }
  if (
    (m = re(
      String.raw`r0\s*=\s*\*\(u(8|16|32)\s*\*\)\s*skb\[\s*r(\d+)\s*(?:([+-])\s*(${NUM}))?\s*\]`,
    ).exec(t))
  ) {
    const imm = m[4] === undefined ? 0 : imm32((m[3] === "-" ? "-" : "") + m[4]);
    return { inst: ins(Class.LD | Mode.IND | sizeByBits[m[1]!]!, 0, regNum(m[2]), 0, imm) };
  }
  if ((m = re(String.raw`[rw](\d+)\s*=\s*\*\(([us])(8|16|32|64)\s*\*\)\s*${ADDR}`).exec(t))) {
    if (m[2] === "s" && m[3] === "64") throw new ParseError("no sign-extending 64-bit load");
    const [src, off] = memAddr(m[4], m[5], m[6]);
    const mode = m[2] === "s" ? Mode.MEMSX : Mode.MEM;
    return { inst: ins(Class.LDX | mode | sizeByBits[m[3]!]!, regNum(m[1]), src, off) };
  }
  if (
    (m = re(String.raw`\*\(u(8|16|32|64)\s*\*\)\s*${ADDR}\s*=\s*(?:[rw](\d+)|(${NUM}))`).exec(t))
  ) {
    const [dst, off] = memAddr(m[2], m[3], m[4]);
    const size = sizeByBits[m[1]!]!;
    return m[6] !== undefined
      ? { inst: ins(Class.ST | Mode.MEM | size, dst, 0, off, imm32(m[6])) }
      : { inst: ins(Class.STX | Mode.MEM | size, dst, regNum(m[5]), off) };
  }
  if ((m = re(String.raw`lock\s+\*\(u(32|64)\s*\*\)\s*${ADDR}\s*([+|&^])=\s*[rw](\d+)`).exec(t))) {
    const [dst, off] = memAddr(m[2], m[3], m[4]);
    const op = Class.STX | Mode.ATOMIC | sizeByBits[m[1]!]!;
    return { inst: ins(op, dst, regNum(m[6]), off, atomicBySymbol[m[5]!]!) };
  }
  if (
    (m = re(
      String.raw`[rw](\d+)\s*=\s*atomic_fetch_(add|or|and|xor)\(\s*\(u(32|64)\s*\*\)\s*${ADDR}\s*,\s*[rw](\d+)\s*\)`,
    ).exec(t))
  ) {
    if (m[1] !== m[7])
      throw new ParseError("atomic_fetch: result and operand must be the same register");
    const [dst, off] = memAddr(m[4], m[5], m[6]);
    const op = Class.STX | Mode.ATOMIC | sizeByBits[m[3]!]!;
    return { inst: ins(op, dst, regNum(m[7]), off, atomicByName[m[2]!]! | AtomicOp.FETCH) };
  }
  const PADDR = String.raw`r(\d+)\s*([+-])\s*(${NUM})`;
  if (
    (m = re(String.raw`[rw](\d+)\s*=\s*xchg(32_32|_64)\(\s*${PADDR}\s*,\s*[rw](\d+)\s*\)`).exec(t))
  ) {
    if (m[1] !== m[6]) throw new ParseError("xchg: result and operand must be the same register");
    const [dst, off] = memAddr(m[3], m[4], m[5]);
    const size = m[2] === "_64" ? Size.DW : Size.W;
    return { inst: ins(Class.STX | Mode.ATOMIC | size, dst, regNum(m[6]), off, AtomicOp.XCHG) };
  }
  if (
    (m = re(
      String.raw`[rw](\d+)\s*=\s*cmpxchg(32_32|_64)\(\s*${PADDR}\s*,\s*[rw](\d+)\s*,\s*[rw](\d+)\s*\)`,
    ).exec(t))
  ) {
    if (m[1] !== "0" || m[6] !== "0") throw new ParseError("cmpxchg works on r0");
    const [dst, off] = memAddr(m[3], m[4], m[5]);
    const size = m[2] === "_64" ? Size.DW : Size.W;
    return { inst: ins(Class.STX | Mode.ATOMIC | size, dst, regNum(m[7]), off, AtomicOp.CMPXCHG) };
  }
  if ((m = re(String.raw`r(\d+)\s*=\s*(le|be|bswap)(16|32|64)\s+r(\d+)`).exec(t))) {
    if (m[1] !== m[4]) throw new ParseError("byte swap works in place: use the same register");
    const opcode =
      m[2] === "bswap"
        ? Class.ALU64 | AluOp.END | Source.K
        : Class.ALU | AluOp.END | (m[2] === "be" ? Source.X : Source.K);
    return { inst: ins(opcode, regNum(m[1]), 0, 0, Number(m[3])) };
  }
  if ((m = re(String.raw`${REG}\s*=\s*-\s*${REG}`).exec(t))) {
    const p = sameWidth([m[1], m[3]]);
    if (m[2] !== m[4]) throw new ParseError("neg works in place: use the same register");
    return { inst: ins((p === "w" ? Class.ALU : Class.ALU64) | AluOp.NEG, regNum(m[2])) };
  }
  if ((m = re(String.raw`${REG}\s*=\s*\(s(8|16|32)\)\s*${REG}`).exec(t))) {
    const p = sameWidth([m[1], m[4]]);
    const cls = p === "w" ? Class.ALU : Class.ALU64;
    return { inst: ins(cls | AluOp.MOV | Source.X, regNum(m[2]), regNum(m[5]), Number(m[3])) };
  }
  if (
    (m = re(String.raw`${REG}\s*(s>>|s\/|s%|<<|>>|[-+*\/|&%^])?=\s*(?:${REG}|(${NUM}))`).exec(t))
  ) {
    const p = sameWidth([m[1], m[4]]);
    const cls = p === "w" ? Class.ALU : Class.ALU64;
    const [op, off] = aluBySymbol[m[3] ?? ""]!;
    return {
      inst:
        m[6] !== undefined
          ? ins(cls | op | Source.K, regNum(m[2]), 0, off, imm32(m[6]))
          : ins(cls | op | Source.X, regNum(m[2]), regNum(m[5]), off),
    };
  }
  return undefined;
}

function operands(rest: string, n: number, usage: string): string[] {
  const ops = rest.trim() === "" ? [] : rest.split(",").map((s) => s.trim());
  if (ops.length !== n) throw new ParseError(`expected ${usage}`);
  return ops;
}

const isRegister = (s: string): boolean => /^%?[rw]\d+$/.test(s.trim());

/** ubpf syntax. */
function parseUbpf(t: string): Parsed {
  // `lock fetch add32 [..]` -> mnemonic lock_fetch_add32
  let line = t.replace(/^lock\s+(?:fetch\s+)?\w+/, (s) => s.replace(/\s+/g, "_"));
  const sp = line.search(/\s/);
  const mn = (sp < 0 ? line : line.slice(0, sp)).toLowerCase();
  const rest = sp < 0 ? "" : line.slice(sp + 1);
  line = "";
  let m: RegExpExecArray | null;

  if (mn === "exit") {
    operands(rest, 0, "no operands");
    return { inst: ins(OP_EXIT) };
  }
  if (mn === "call") {
    const r = rest.trim();
    if ((m = /^local\s+(\S+)$/.exec(r)))
      return target(m[1]!, ins(OP_CALL, 0, CallSrc.LOCAL), "imm");
    if ((m = /^kfunc\s+(\S+)$/.exec(r)))
      return { inst: ins(OP_CALL, 0, CallSrc.KFUNC, 0, imm32(m[1]!)) };
    return {
      inst: ins(OP_CALL, 0, CallSrc.HELPER, 0, imm32(operands(rest, 1, "call <helper id>")[0]!)),
    };
  }
  if (mn === "callx")
    return { inst: ins(OP_CALLX, reg(operands(rest, 1, "callx <register>")[0]!)) };
  if (mn === "ja") return target(operands(rest, 1, "ja <offset|label>")[0]!, ins(OP_JA), "off");
  if (mn === "ja32" || mn === "jal" || mn === "gotol")
    return target(operands(rest, 1, `${mn} <offset|label>`)[0]!, ins(OP_JA32), "imm");
  if ((m = /^(j[a-z]+?)(32)?$/.exec(mn)) && jmpByName[m[1]!] !== undefined) {
    const [a, b, c] = operands(rest, 3, `${mn} <register>, <register|immediate>, <offset|label>`);
    const cls = m[2] ? Class.JMP32 : Class.JMP;
    const op = jmpByName[m[1]!]!;
    const inst = isRegister(b!)
      ? ins(cls | op | Source.X, reg(a!), reg(b!))
      : ins(cls | op | Source.K, reg(a!), 0, 0, imm32(b!));
    return target(c!, inst, "off");
  }
  if ((m = /^neg(32|64)?$/.exec(mn))) {
    const cls = m[1] === "32" ? Class.ALU : Class.ALU64;
    return { inst: ins(cls | AluOp.NEG, reg(operands(rest, 1, `${mn} <register>`)[0]!)) };
  }
  if ((m = /^(le|be|bswap)(16|32|64)$/.exec(mn))) {
    const opcode =
      m[1] === "bswap"
        ? Class.ALU64 | AluOp.END | Source.K
        : Class.ALU | AluOp.END | (m[1] === "be" ? Source.X : Source.K);
    return {
      inst: ins(opcode, reg(operands(rest, 1, `${mn} <register>`)[0]!), 0, 0, Number(m[2])),
    };
  }
  const sxA = /^mov(32|64)?sx(8|16|32)$/.exec(mn);
  const sxB = /^movsx(8|16|32)_(32|64)$/.exec(mn);
  if (sxA || sxB) {
    const [w, bits] = sxA ? [sxA[1], sxA[2]] : [sxB![2], sxB![1]];
    const cls = w === "32" ? Class.ALU : Class.ALU64;
    if (cls === Class.ALU && bits === "32") throw new ParseError("no 32-bit movsx from 32 bits");
    const [a, b] = operands(rest, 2, `${mn} <register>, <register>`);
    return { inst: ins(cls | AluOp.MOV | Source.X, reg(a!), reg(b!), Number(bits)) };
  }
  if ((m = /^([a-z]+?)(32|64)?$/.exec(mn)) && aluByName[m[1]!] !== undefined) {
    const [a, b] = operands(rest, 2, `${mn} <register>, <register|immediate>`);
    const cls = m[2] === "32" ? Class.ALU : Class.ALU64;
    const op = aluByName[m[1]!]!;
    const off = m[1] === "sdiv" || m[1] === "smod" ? 1 : 0;
    return {
      inst: isRegister(b!)
        ? ins(cls | op | Source.X, reg(a!), reg(b!), off)
        : ins(cls | op | Source.K, reg(a!), 0, off, imm32(b!)),
    };
  }
  if ((m = /^ldx(s)?(b|h|w|dw)(sx)?$/.exec(mn))) {
    const sx = m[1] !== undefined || m[3] !== undefined;
    if (sx && (m[2] === "dw" || (m[1] && m[3])))
      throw new ParseError(`unknown instruction "${mn}"`);
    const [a, b] = operands(rest, 2, `${mn} <register>, [<register>+<offset>]`);
    const [src, off] = memOperand(b!);
    return {
      inst: ins(Class.LDX | (sx ? Mode.MEMSX : Mode.MEM) | sizeByName[m[2]!]!, reg(a!), src, off),
    };
  }
  if ((m = /^st(x)?(b|h|w|dw)$/.exec(mn))) {
    const [a, b] = operands(
      rest,
      2,
      `${mn} [<register>+<offset>], <${m[1] ? "register" : "immediate"}>`,
    );
    const [dst, off] = memOperand(a!);
    const size = sizeByName[m[2]!]!;
    return {
      inst: m[1]
        ? ins(Class.STX | Mode.MEM | size, dst, reg(b!), off)
        : ins(Class.ST | Mode.MEM | size, dst, 0, off, imm32(b!)),
    };
  }
  if (mn === "lddw") {
    const [a, b] = operands(rest, 2, "lddw <register>, <immediate>");
    return { inst: lddw(reg(a!), imm64(b!)) };
  }
  if (mn === "ld_pseudo") {
    const [a, b, c] = operands(rest, 3, "ld_pseudo <register>, <kind 1..6>, <immediate>");
    return { inst: lddw(reg(a!), imm64(c!), Number(parseNum(b!, 1n, 6n, "pseudo source"))) };
  }
  if ((m = /^ldabs(b|h|w)$/.exec(mn))) {
    const [a] = operands(rest, 1, `${mn} <immediate>`);
    return { inst: ins(Class.LD | Mode.ABS | sizeByName[m[1]!]!, 0, 0, 0, imm32(a!)) };
  }
  if ((m = /^ldind(b|h|w)$/.exec(mn))) {
    const [a, b] = operands(rest, 2, `${mn} <register>, <immediate>`);
    return { inst: ins(Class.LD | Mode.IND | sizeByName[m[1]!]!, 0, reg(a!), 0, imm32(b!)) };
  }
  if (
    (m = /^lock_(fetch_)?(add|or|and|xor)(32|64)?$/.exec(mn)) ||
    (m = /^(?:lock_)?()(xchg|cmpxchg)(32|64)?$/.exec(mn))
  ) {
    const [a, b] = operands(rest, 2, `${mn.replace(/_/g, " ")} [<register>+<offset>], <register>`);
    const [dst, off] = memOperand(a!);
    const size = m[3] === "32" ? Size.W : Size.DW;
    const imm =
      m[2] === "xchg"
        ? AtomicOp.XCHG
        : m[2] === "cmpxchg"
          ? AtomicOp.CMPXCHG
          : atomicByName[m[2]!]! | (m[1] ? AtomicOp.FETCH : 0);
    return { inst: ins(Class.STX | Mode.ATOMIC | size, dst, reg(b!), off, imm) };
  }
  throw new ParseError(`unknown instruction "${mn}"`);
}

function parseLine(t: string): Parsed {
  // llvm's call kinds and the trailing `<sym+0x10>` annotation of jumps
  const text = t.replace(/\s*<[^<>]*>$/, "");
  if (/^call\s/.test(text) || /^callx\s/.test(text) || text === "exit") return parseUbpf(text);
  const llvm = parseLlvm(text);
  if (llvm) return llvm;
  if (/[=*(]/.test(text) || /^(if|goto|gotol|lock)\s/.test(text)) {
    // looks like llvm syntax but did not match any form
    const m = /^\w+/.exec(text);
    const mn = m ? m[0] : "";
    if (!/^(lock)$/.test(mn) || /[=*(]/.test(text))
      throw new ParseError("not a valid instruction in llvm-objdump syntax");
  }
  return parseUbpf(text);
}

/**
 * Assembles text (ubpf or llvm-objdump syntax, see the top of this file) into
 * instructions. Throws BpftimeError("usage") naming the 1-based line number.
 */
export function assemble(source: string): Instruction[] {
  const labels = new Map<string, number>();
  const pending: Pending[] = [];
  let slot = 0;
  const fail = (line: number, text: string, why: string): never => {
    throw new BpftimeError("usage", `line ${line}: ${why}: "${text}"`, { line });
  };
  const define = (name: string, line: number, text: string): void => {
    if (labels.has(name)) fail(line, text, `label "${name}" defined twice`);
    labels.set(name, slot);
  };

  source.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    let t = raw.replace(/(#|;|\/\/).*$/, "").trim();
    if (t === "") return;
    if (/^Disassembly of section /.test(t) || /:\s+file format /.test(t)) return;
    let m: RegExpExecArray | null;
    if ((m = /^[0-9a-fA-F]{16}\s+<([^<>]+)>:$/.exec(t))) {
      define(m[1]!, line, raw.trim());
      return;
    }
    if ((m = /^\d+:\s+(?:[0-9a-fA-F]{2} )*[0-9a-fA-F]{2}\s*\t\s*(.*)$/.exec(t))) t = m[1]!.trim();
    while ((m = new RegExp(`^(${LABEL}):(.*)$`).exec(t))) {
      define(m[1]!, line, raw.trim());
      t = m[2]!.trim();
    }
    if (t === "") return;
    try {
      const parsed = parseLine(t);
      pending.push({ ...parsed, line, text: raw.trim() });
      slot += slotCount(parsed.inst);
    } catch (e) {
      if (e instanceof ParseError) fail(line, raw.trim(), e.message);
      throw e;
    }
  });

  slot = 0;
  return pending.map((p) => {
    if (p.label !== undefined) {
      const at = labels.get(p.label);
      if (at === undefined) fail(p.line, p.text, `unknown label "${p.label}"`);
      const rel = at! - (slot + 1);
      if (p.field === "off") {
        if (rel < -0x8000 || rel > 0x7fff)
          fail(
            p.line,
            p.text,
            `label "${p.label}" is ${rel} slots away, too far for a 16-bit offset (use gotol)`,
          );
        p.inst.off = rel;
      } else {
        p.inst.imm = rel;
      }
    }
    slot += slotCount(p.inst);
    return p.inst;
  });
}
