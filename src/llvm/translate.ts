// The optimizing tier's front half: verified eBPF bytecode -> textual LLVM IR.
//
// Each eBPF function (the entry and every bpf-to-bpf call target) becomes one
// internal fastcc LLVM function taking r1-r5; its registers r0-r9 are allocas
// that mem2reg promotes, and its 512-byte frame is an alloca that r10-relative
// accesses address by GEP, so SROA can keep slots that never escape in
// registers. The semantics are the interpreter's (native/vm/interp.c), with
// every operation LLVM leaves undefined made explicit: division by zero,
// INT_MIN / -1 and shift amounts >= the width. Memory accesses stay exactly the
// program's: the verifier proved them in bounds, and nothing here is marked
// noalias or inbounds.
//
// Whatever differs per process (helper addresses, the values of lddw pseudo
// sources such as map pointers) is read from `env`, a table of 64-bit slots
// inside the compiled image that the loader (native/vm/native_code.c) fills
// before making it executable; `slots` says what goes into each one.
//
// Anything not translated (tail calls, kfuncs, lddw of a function,
// recursion, deeper calls than the interpreter allows) is refused with a
// reason: the caller then keeps the JIT. Never a wrong translation.
import { BpftimeError } from "../errors.ts";

/** What the loader writes into one env slot. */
export type EnvSlot =
  | { kind: "helper"; id: number } // the address of helper `id`
  | { kind: "lddw"; index: number } // the value the VM resolved for the lddw at `index`
  | { kind: "helpers" }; // the VM's table of helper addresses by id (NULL: unregistered), for callx

export interface Translation {
  ir: string;
  slots: EnvSlot[];
  /** Instruction slots (8-byte units) of the program, for the loader's check. */
  numInsts: number;
}

/** Symbols the compiled image must define (compile.ts looks them up). */
export const ENTRY_SYMBOL = "bpftime_native_entry";
export const ENV_SYMBOL = "bpftime_native_env";

const STACK_SIZE = 512; // EBPF_STACK_SIZE
const MAX_CALL_DEPTH = 8; // EBPF_MAX_CALL_DEPTH, frames including the main one
const HELPER_TAIL_CALL = 12;
const MAX_HELPERS = 1024; // EBPF_MAX_HELPERS
const ENOENT = 2;

interface Insn {
  op: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

function refuse(what: string, at?: number): never {
  const where = at === undefined ? "" : ` at instruction ${at}`;
  throw new BpftimeError(
    "unsupported",
    `the LLVM tier cannot translate this program: ${what}${where} (the JIT runs it instead)`,
  );
}

function decode(code: Uint8Array): Insn[] {
  if (code.length === 0 || code.length % 8 !== 0)
    throw new BpftimeError("bad_bytecode", "bytecode length is not a multiple of 8 bytes");
  const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const out: Insn[] = [];
  for (let i = 0; i < code.length; i += 8) {
    const regs = dv.getUint8(i + 1);
    out.push({
      op: dv.getUint8(i),
      dst: regs & 0xf,
      src: regs >> 4,
      off: dv.getInt16(i + 2, true),
      imm: dv.getInt32(i + 4, true),
    });
  }
  return out;
}

/** Starts of the eBPF functions: 0 and every local call target, ascending. */
function functionStarts(insns: Insn[]): number[] {
  const starts = new Set<number>([0]);
  insns.forEach((x, i) => {
    if (x.op === 0x85 && x.src === 1) {
      const t = i + x.imm + 1;
      if (t < 0 || t >= insns.length) refuse("call target outside the program", i);
      starts.add(t);
    }
  });
  return [...starts].sort((a, b) => a - b);
}

/** Refuses recursion and call chains deeper than the interpreter allows. */
function checkCallDepth(insns: Insn[], starts: number[]): void {
  const end = (s: number) => starts[starts.indexOf(s) + 1] ?? insns.length;
  const depth = new Map<number, number>();
  const visiting = new Set<number>();
  const visit = (s: number): number => {
    const known = depth.get(s);
    if (known !== undefined) return known;
    if (visiting.has(s)) refuse("recursive bpf-to-bpf call", s);
    visiting.add(s);
    let d = 1;
    for (let i = s; i < end(s); i++) {
      const x = insns[i]!;
      if (x.op === 0x85 && x.src === 1) d = Math.max(d, 1 + visit(i + x.imm + 1));
    }
    visiting.delete(s);
    depth.set(s, d);
    return d;
  };
  if (visit(0) > MAX_CALL_DEPTH)
    refuse(`bpf-to-bpf calls nest deeper than ${MAX_CALL_DEPTH} frames`);
}

const i64 = (v: bigint | number): string => BigInt.asIntN(64, BigInt(v)).toString();
const i32 = (v: bigint | number): string => BigInt.asIntN(32, BigInt(v)).toString();

/** Emits one eBPF function's body. */
class FunctionWriter {
  private lines: string[] = [];
  private tmp = 0;
  private usesFp = false;

  constructor(
    private insns: Insn[],
    private start: number,
    private end: number,
    private slotFor: (slot: EnvSlot) => number,
    private secondHalves: Set<number>,
  ) {}

  private t(): string {
    return `%t${this.tmp++}`;
  }

  private emit(line: string): void {
    this.lines.push(`  ${line}`);
  }

  private label(i: number): string {
    return `%i${i}`;
  }

  private target(i: number, t: number): string {
    if (t < this.start || t >= this.end) refuse("jump outside its function", i);
    if (this.secondHalves.has(t)) refuse("jump into the middle of an lddw", i);
    return this.label(t);
  }

  /** The 64-bit value of register r. */
  private get(r: number): string {
    if (r === 10) {
      this.usesFp = true;
      return "%fp";
    }
    const v = this.t();
    this.emit(`${v} = load i64, ptr %r${r}`);
    return v;
  }

  private set(r: number, v: string): void {
    if (r === 10) refuse("write to r10");
    this.emit(`store i64 ${v}, ptr %r${r}`);
  }

  private envLoad(slot: EnvSlot, ty: "i64" | "ptr"): string {
    const k = this.slotFor(slot);
    const p = this.t();
    const v = this.t();
    this.emit(`${p} = getelementptr i64, ptr @${ENV_SYMBOL}, i64 ${k}`);
    this.emit(`${v} = load ${ty}, ptr ${p}, align 8`);
    return v;
  }

  /** Address of [base + off]: a GEP into the frame for r10, else the integer as a pointer. */
  private address(base: number, off: number): string {
    const p = this.t();
    if (base === 10) {
      this.emit(`${p} = getelementptr i8, ptr %stack, i64 ${STACK_SIZE + off}`);
      return p;
    }
    const b = this.get(base);
    const a = this.t();
    this.emit(`${a} = add i64 ${b}, ${off}`);
    this.emit(`${p} = inttoptr i64 ${a} to ptr`);
    return p;
  }

  /** Operand of an ALU/JMP instruction at width w: imm (sign-extended for 64) or src. */
  private operand(x: Insn, w: 32 | 64): string {
    if ((x.op & 0x08) === 0) return w === 64 ? i64(x.imm) : i32(x.imm);
    const v = this.get(x.src);
    return w === 64 ? v : this.trunc(v, 32);
  }

  private trunc(v: string, bits: number): string {
    const r = this.t();
    this.emit(`${r} = trunc i64 ${v} to i${bits}`);
    return r;
  }

  private zext(v: string, bits: number): string {
    if (bits === 64) return v;
    const r = this.t();
    this.emit(`${r} = zext i${bits} ${v} to i64`);
    return r;
  }

  private sext(v: string, from: number, to: number): string {
    const r = this.t();
    this.emit(`${r} = sext i${from} ${v} to i${to}`);
    return r;
  }

  private bin(op: string, ty: string, a: string, b: string): string {
    const r = this.t();
    this.emit(`${r} = ${op} ${ty} ${a}, ${b}`);
    return r;
  }

  private select(c: string, ty: string, a: string, b: string): string {
    const r = this.t();
    this.emit(`${r} = select i1 ${c}, ${ty} ${a}, ${ty} ${b}`);
    return r;
  }

  /** div/mod with the interpreter's answers where LLVM has none. */
  private divmod(isMod: boolean, signed: boolean, ty: string, x: string, s: string): string {
    const zero = this.bin("icmp eq", ty, s, "0");
    if (!signed) {
      const d = this.select(zero, ty, "1", s);
      const q = this.bin(isMod ? "urem" : "udiv", ty, x, d);
      return this.select(zero, ty, isMod ? x : "0", q);
    }
    const minus1 = this.bin("icmp eq", ty, s, "-1");
    const bad = this.bin("or", "i1", zero, minus1);
    const d = this.select(bad, ty, "1", s);
    const q = this.bin(isMod ? "srem" : "sdiv", ty, x, d);
    const onMinus1 = isMod ? "0" : this.bin("sub", ty, "0", x);
    const r = this.select(minus1, ty, onMinus1, q);
    return this.select(zero, ty, isMod ? x : "0", r);
  }

  private alu(i: number, x: Insn): void {
    const w = (x.op & 0x07) === 0x07 ? 64 : 32;
    const ty = `i${w}`;
    const op = x.op & 0xf0;
    if (op === 0xb0) return this.mov(i, x, w);
    if (op === 0xd0) return this.endian(i, x, w);
    const d64 = this.get(x.dst);
    const d = w === 64 ? d64 : this.trunc(d64, 32);
    let r: string;
    switch (op) {
      case 0x00:
      case 0x10:
      case 0x20:
      case 0x40:
      case 0x50:
      case 0xa0: {
        const name = {
          0x00: "add",
          0x10: "sub",
          0x20: "mul",
          0x40: "or",
          0x50: "and",
          0xa0: "xor",
        }[op]!;
        r = this.bin(name, ty, d, this.operand(x, w));
        break;
      }
      case 0x60:
      case 0x70:
      case 0xc0: {
        const name = { 0x60: "shl", 0x70: "lshr", 0xc0: "ashr" }[op]!;
        let amt: string;
        if ((x.op & 0x08) === 0) amt = String(x.imm & (w - 1));
        else amt = this.bin("and", ty, this.operand(x, w), String(w - 1));
        r = this.bin(name, ty, d, amt);
        break;
      }
      case 0x30:
      case 0x90: {
        if (x.off !== 0 && x.off !== 1) refuse("division with an unknown offset", i);
        r = this.divmod(op === 0x90, x.off === 1, ty, d, this.operand(x, w));
        break;
      }
      case 0x80:
        r = this.bin("sub", ty, "0", d);
        break;
      default:
        refuse(`ALU opcode 0x${x.op.toString(16)}`, i);
    }
    this.set(x.dst, this.zext(r, w));
  }

  /** mov, with cpu v4's sign-extending register moves (off 8/16/32). */
  private mov(i: number, x: Insn, w: 32 | 64): void {
    if ((x.op & 0x08) === 0) {
      this.set(x.dst, w === 64 ? i64(x.imm) : i64(x.imm >>> 0));
      return;
    }
    const s = this.get(x.src);
    const bits = x.off === 8 || x.off === 16 || (x.off === 32 && w === 64) ? x.off : 0;
    if (x.off !== 0 && x.off !== 8 && x.off !== 16 && x.off !== 32)
      refuse("mov with an unknown offset", i);
    if (bits === 0) {
      this.set(x.dst, w === 64 ? s : this.zext(this.trunc(s, 32), 32));
      return;
    }
    const ext = this.sext(this.trunc(s, bits), bits, w);
    this.set(x.dst, this.zext(ext, w));
  }

  /** le (truncate: the host is little-endian), be and bswap (swap). */
  private endian(i: number, x: Insn, w: 32 | 64): void {
    const bits = x.imm;
    if (bits !== 16 && bits !== 32 && bits !== 64) refuse("byte swap of an unknown width", i);
    const v = this.get(x.dst);
    const toLe = w === 32 && (x.op & 0x08) === 0; // 0xd4
    if (bits === 64) {
      if (toLe) return;
      const r = this.t();
      this.emit(`${r} = call i64 @llvm.bswap.i64(i64 ${v})`);
      this.set(x.dst, r);
      return;
    }
    const n = this.trunc(v, bits);
    if (toLe) {
      this.set(x.dst, this.zext(n, bits));
      return;
    }
    const r = this.t();
    this.emit(`${r} = call i${bits} @llvm.bswap.i${bits}(i${bits} ${n})`);
    this.set(x.dst, this.zext(r, bits));
  }

  private jump(i: number, x: Insn): void {
    const op = x.op & 0xf0;
    const w = (x.op & 0x07) === 0x06 ? 32 : 64;
    if (op === 0x00) {
      const t = w === 64 ? i + x.off + 1 : i + x.imm + 1;
      this.emit(`br label ${this.target(i, t)}`);
      return;
    }
    const next = this.target(i, i + 1);
    const cmp: Record<number, string> = {
      0x10: "eq",
      0x20: "ugt",
      0x30: "uge",
      0x50: "ne",
      0x60: "sgt",
      0x70: "sge",
      0xa0: "ult",
      0xb0: "ule",
      0xc0: "slt",
      0xd0: "sle",
    };
    const ty = `i${w}`;
    const d64 = this.get(x.dst);
    const d = w === 64 ? d64 : this.trunc(d64, 32);
    const s = this.operand(x, w);
    let c: string;
    if (op === 0x40) {
      const a = this.bin("and", ty, d, s);
      c = this.bin("icmp ne", ty, a, "0");
    } else {
      const cc = cmp[op];
      if (!cc) refuse(`jump opcode 0x${x.op.toString(16)}`, i);
      c = this.bin(`icmp ${cc}`, ty, d, s);
    }
    const taken = this.target(i, i + x.off + 1);
    this.emit(`br i1 ${c}, label ${taken}, label ${next}`);
  }

  private call(i: number, x: Insn): void {
    const args = [1, 2, 3, 4, 5].map((r) => `i64 ${this.get(r)}`).join(", ");
    const r = this.t();
    if (x.src === 1) {
      // the callee starts with the caller's r0 and r6-r9, as in the interpreter
      const kept = [0, 6, 7, 8, 9].map((k) => `i64 ${this.get(k)}`).join(", ");
      this.emit(`${r} = call fastcc i64 @f${i + x.imm + 1}(${args}, ${kept})`);
    } else if (x.src === 0) {
      const id = x.imm >>> 0;
      if (id === HELPER_TAIL_CALL) refuse("tail call", i);
      const fn = this.envLoad({ kind: "helper", id }, "ptr");
      this.emit(`${r} = call i64 ${fn}(${args})`);
    } else {
      refuse(`call with source ${x.src} (kfunc)`, i);
    }
    // r1-r5 after a call are unreadable to a verified program: left as they are.
    this.set(0, r);
  }

  /** callx dst: the helper whose id dst holds, or r0 = -ENOENT (as interpreter and JIT). */
  private callx(x: Insn): void {
    const id = this.get(x.dst);
    const table = this.envLoad({ kind: "helpers" }, "ptr");
    const inRange = this.bin("icmp ult", "i64", id, String(MAX_HELPERS));
    const notTail = this.bin("icmp ne", "i64", id, String(HELPER_TAIL_CALL));
    const ok = this.bin("and", "i1", inRange, notTail);
    const idx = this.select(ok, "i64", id, "0");
    const slot = this.t();
    this.emit(`${slot} = getelementptr ptr, ptr ${table}, i64 ${idx}`);
    const fn = this.t();
    this.emit(`${fn} = load ptr, ptr ${slot}, align 8`);
    const isNull = this.bin("icmp eq", "ptr", fn, "null");
    const missing = this.bin("or", "i1", this.bin("xor", "i1", ok, "true"), isNull);
    const args = [1, 2, 3, 4, 5].map((r) => `i64 ${this.get(r)}`).join(", ");
    const b = `cx${this.tmp++}`;
    const rc = this.t();
    const r0 = this.t();
    this.emit(`br i1 ${missing}, label %${b}.none, label %${b}.call`);
    this.lines.push(`${b}.call:`);
    this.emit(`${rc} = call i64 ${fn}(${args})`);
    this.emit(`br label %${b}.done`);
    this.lines.push(`${b}.none:`);
    this.emit(`br label %${b}.done`);
    this.lines.push(`${b}.done:`);
    this.emit(`${r0} = phi i64 [ ${rc}, %${b}.call ], [ -${ENOENT}, %${b}.none ]`);
    this.set(0, r0);
  }

  private load(i: number, x: Insn): void {
    const size = [32, 16, 8, 64][(x.op >> 3) & 3]!;
    const signed = (x.op & 0xe0) === 0x80;
    if (signed && size === 64) refuse("sign-extending 64-bit load", i);
    const p = this.address(x.src, x.off);
    const v = this.t();
    this.emit(`${v} = load i${size}, ptr ${p}, align 1`);
    this.set(x.dst, size === 64 ? v : signed ? this.sext(v, size, 64) : this.zext(v, size));
  }

  private store(x: Insn): void {
    const size = [32, 16, 8, 64][(x.op >> 3) & 3]!;
    const p = this.address(x.dst, x.off);
    let v: string;
    if ((x.op & 0x07) === 0x02)
      v = size === 64 ? i64(x.imm) : String(BigInt.asIntN(size, BigInt(x.imm)));
    else v = size === 64 ? this.get(x.src) : this.trunc(this.get(x.src), size);
    this.emit(`store i${size} ${v}, ptr ${p}, align 1`);
  }

  private atomic(i: number, x: Insn): void {
    const w = x.op === 0xdb ? 64 : 32;
    const ty = `i${w}`;
    const p = this.address(x.dst, x.off);
    const s64 = this.get(x.src);
    const s = w === 64 ? s64 : this.trunc(s64, 32);
    const rmw: Record<number, string> = { 0x00: "add", 0x40: "or", 0x50: "and", 0xa0: "xor" };
    const old = this.t();
    if (x.imm === 0xf1) {
      const exp64 = this.get(0);
      const exp = w === 64 ? exp64 : this.trunc(exp64, 32);
      const pair = this.t();
      this.emit(
        `${pair} = cmpxchg ptr ${p}, ${ty} ${exp}, ${ty} ${s} seq_cst seq_cst, align ${w / 8}`,
      );
      this.emit(`${old} = extractvalue { ${ty}, i1 } ${pair}, 0`);
      this.set(0, this.zext(old, w));
      return;
    }
    const name = x.imm === 0xe1 ? "xchg" : rmw[x.imm & ~1];
    if (!name) refuse(`atomic operation 0x${x.imm.toString(16)}`, i);
    this.emit(`${old} = atomicrmw ${name} ptr ${p}, ${ty} ${s} seq_cst, align ${w / 8}`);
    if (x.imm & 1) this.set(x.src, this.zext(old, w));
  }

  private lddw(i: number, x: Insn): void {
    const hi = this.insns[i + 1];
    if (!hi || hi.op !== 0) refuse("truncated lddw", i);
    if (x.src === 0) {
      const v = (BigInt(hi.imm >>> 0) << 32n) | BigInt(x.imm >>> 0);
      this.set(x.dst, i64(v));
    } else if (x.src === 4) {
      refuse("lddw of a function address (callbacks)", i);
    } else {
      this.set(x.dst, this.envLoad({ kind: "lddw", index: i }, "i64"));
    }
    this.emit(`br label ${this.target(i, i + 2)}`);
  }

  /** The function's IR. The entry (start 0) is reached through ENTRY_SYMBOL. */
  write(): string {
    const body: string[] = [];
    for (let i = this.start; i < this.end; i++) {
      if (this.secondHalves.has(i)) continue;
      const x = this.insns[i]!;
      this.lines = [];
      const cls = x.op & 0x07;
      if (x.op === 0x18) this.lddw(i, x);
      else if (cls === 0x04 || cls === 0x07) this.alu(i, x);
      else if (x.op === 0x85) this.call(i, x);
      else if (x.op === 0x8d) this.callx(x);
      else if (x.op === 0x95) this.emit(`ret i64 ${this.get(0)}`);
      else if (cls === 0x05 || cls === 0x06) this.jump(i, x);
      else if (cls === 0x01 && ((x.op & 0xe0) === 0x60 || (x.op & 0xe0) === 0x80)) this.load(i, x);
      else if ((cls === 0x02 || cls === 0x03) && (x.op & 0xe0) === 0x60) this.store(x);
      else if (x.op === 0xc3 || x.op === 0xdb) this.atomic(i, x);
      else refuse(`opcode 0x${x.op.toString(16)}`, i);
      const last = this.lines[this.lines.length - 1] ?? "";
      if (!/^\s*(br|ret) /.test(last)) this.emit(`br label ${this.target(i, i + 1)}`);
      body.push(`i${i}:`, ...this.lines);
    }
    const head = [
      `define internal fastcc i64 @f${this.start}(i64 %a1, i64 %a2, i64 %a3, i64 %a4, i64 %a5, i64 %a0, i64 %a6, i64 %a7, i64 %a8, i64 %a9) #0 {`,
      "entry:",
      `  %stack = alloca [${STACK_SIZE} x i8], align 16`,
    ];
    for (let r = 0; r <= 9; r++) head.push(`  %r${r} = alloca i64, align 8`);
    for (let r = 0; r <= 9; r++) head.push(`  store i64 %a${r}, ptr %r${r}`);
    if (this.usesFp) {
      head.push(`  %top = getelementptr i8, ptr %stack, i64 ${STACK_SIZE}`);
      head.push("  %fp = ptrtoint ptr %top to i64");
    }
    head.push(`  br label ${this.label(this.start)}`);
    return [...head, ...body, "}", ""].join("\n");
  }
}

/** Translates a program (its instructions as loaded, before lddw resolution). */
export function translateToLlvm(code: Uint8Array): Translation {
  const insns = decode(code);
  const starts = functionStarts(insns);
  checkCallDepth(insns, starts);
  const secondHalves = new Set<number>();
  for (let i = 0; i < insns.length; i++) if (insns[i]!.op === 0x18) secondHalves.add(++i);
  const slots: EnvSlot[] = [];
  const slotKeys = new Map<string, number>();
  const slotFor = (s: EnvSlot): number => {
    const key = s.kind === "helper" ? `h${s.id}` : s.kind === "lddw" ? `l${s.index}` : "t";
    let k = slotKeys.get(key);
    if (k === undefined) {
      k = slots.length;
      slots.push(s);
      slotKeys.set(key, k);
    }
    return k;
  };
  const fns = starts.map((s, n) =>
    new FunctionWriter(insns, s, starts[n + 1] ?? insns.length, slotFor, secondHalves).write(),
  );
  const envLen = Math.max(1, slots.length);
  const ir = [
    "; generated by bpftime's LLVM tier (src/llvm/translate.ts)",
    'target triple = "x86_64-pc-linux-gnu"',
    "",
    `@${ENV_SYMBOL} = hidden global [${envLen} x i64] zeroinitializer, section ".data.bpftime_env", align 8`,
    "",
    `define i64 @${ENTRY_SYMBOL}(ptr %mem, i64 %len) #0 {`,
    "  %m = ptrtoint ptr %mem to i64",
    "  %r = call fastcc i64 @f0(i64 %m, i64 %len, i64 0, i64 0, i64 0, i64 0, i64 0, i64 0, i64 0, i64 0)",
    "  ret i64 %r",
    "}",
    "",
    ...fns,
    "declare i16 @llvm.bswap.i16(i16)",
    "declare i32 @llvm.bswap.i32(i32)",
    "declare i64 @llvm.bswap.i64(i64)",
    "",
    // no-builtins: the optimizer must not turn loops into memcpy/memset calls
    // (the image has no libc to call); no unwind tables, no stack protector.
    'attributes #0 = { nounwind "no-builtins" "frame-pointer"="none" }',
    "",
  ].join("\n");
  return { ir, slots, numInsts: insns.length };
}
