// A reference interpreter for the program-level soundness check: it runs a
// program the verifier accepted and tracks, for every value, whether it is a
// number or a pointer into one object (the stack frame, the context, a map
// value) with an offset. Every load and store must fall inside the object
// its pointer came from, with the object's permissions; anything else — an
// access through a number, outside the object, a write to read-only memory —
// is a soundness failure: the verifier let through a program that touches
// what it may not. ALU semantics follow the eBPF ISA (RFC 9669), written
// here from the specification, not from the VM or the verifier.

const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;

export interface MemObject {
  name: string;
  bytes: Uint8Array;
  writable: boolean;
  /** pointers stored in it, by offset (spills) */
  ptrs: Map<number, Value>;
  /** fake base address, for the number a pointer becomes if the verifier lets it */
  base: bigint;
}

export type Value = { t: "num"; v: bigint } | { t: "ptr"; obj: MemObject; off: bigint };

const num = (v: bigint): Value => ({ t: "num", v: v & M64 });

export class Violation extends Error {}
/** The program uses something this interpreter does not model: not a verdict. */
export class Unmodelled extends Error {}

export interface RefEnv {
  ctx: MemObject;
  /** array maps by index: values of each key */
  maps: { values: MemObject[] }[];
  /** results of bpf_get_prandom_u32, in order (then 0) */
  random: bigint[];
}

export function memObject(
  name: string,
  size: number,
  writable: boolean,
  fill?: () => number,
): MemObject {
  const bytes = new Uint8Array(size);
  if (fill) for (let i = 0; i < size; i++) bytes[i] = fill();
  objects++;
  return {
    name,
    bytes,
    writable,
    ptrs: new Map(),
    base: 0x7f0000000000n + BigInt(objects) * 0x100000n,
  };
}
let objects = 0;

function asNum(x: Value): bigint {
  return x.t === "num" ? x.v : (x.obj.base + x.off) & M64;
}

const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);

function bswap(v: bigint, bits: number): bigint {
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

function alu(op: number, off: number, a: bigint, b: bigint, is64: boolean): bigint {
  const m = is64 ? M64 : M32;
  const bits = is64 ? 64 : 32;
  const sx = (v: bigint) => BigInt.asIntN(bits, v);
  a &= m;
  b &= m;
  const sh = BigInt(is64 ? 63 : 31);
  switch (op) {
    case 0x00:
      return (a + b) & m;
    case 0x10:
      return (a - b) & m;
    case 0x20:
      return (a * b) & m;
    case 0x30:
      if (b === 0n) return 0n;
      if (off === 1) return BigInt.asUintN(bits, sx(a) / sx(b)); // truncates toward zero
      return a / b;
    case 0x90:
      if (b === 0n) return a;
      if (off === 1) return BigInt.asUintN(bits, sx(a) % sx(b)); // sign of the dividend
      return a % b;
    case 0x40:
      return a | b;
    case 0x50:
      return a & b;
    case 0xa0:
      return a ^ b;
    case 0x60:
      return (a << (b & sh)) & m;
    case 0x70:
      return a >> (b & sh);
    case 0xc0:
      return BigInt.asUintN(bits, sx(a) >> (b & sh));
    case 0x80:
      return -a & m;
  }
  throw new Unmodelled(`ALU op 0x${op.toString(16)}`);
}

export interface RunStats {
  steps: number;
}

/** Runs the program; throws Violation on an access the program may not make. */
export function refRun(code: Uint8Array, env: RefEnv, maxSteps = 100_000): RunStats {
  const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const n = code.length / 8;
  const stack = memObject("stack", 512, true);
  const reg: Value[] = Array.from({ length: 11 }, () => num(0n));
  reg[1] = { t: "ptr", obj: env.ctx, off: 0n };
  reg[10] = { t: "ptr", obj: stack, off: 512n };
  let rnd = 0;
  let pc = 0;
  let steps = 0;
  const fail = (msg: string): never => {
    throw new Violation(`instruction ${pc}: ${msg}`);
  };
  const unmodelled = (msg: string): never => {
    throw new Unmodelled(`instruction ${pc}: ${msg}`);
  };

  const access = (base: Value, off: number, size: number, write: boolean): [MemObject, number] => {
    if (base.t !== "ptr")
      return fail(`${write ? "store" : "load"} through a number (0x${base.v.toString(16)})`);
    const o = s64(base.off) + BigInt(off);
    if (o < 0n || o + BigInt(size) > BigInt(base.obj.bytes.length))
      return fail(
        `${size}-byte ${write ? "store" : "load"} at ${base.obj.name}+${o}, outside its ${base.obj.bytes.length} bytes`,
      );
    if (write && !base.obj.writable) return fail(`store into read-only ${base.obj.name}+${o}`);
    return [base.obj, Number(o)];
  };
  const load = (base: Value, off: number, size: number): Value => {
    const [obj, o] = access(base, off, size, false);
    const p = obj.ptrs.get(o);
    if (p && size === 8) return p;
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(obj.bytes[o + i]!);
    return num(v);
  };
  const store = (base: Value, off: number, size: number, val: Value): void => {
    const [obj, o] = access(base, off, size, true);
    for (let i = o - 7; i < o + size; i++) obj.ptrs.delete(i);
    if (val.t === "ptr") {
      if (obj !== stack) fail(`pointer stored into ${obj.name} (address leak)`);
      if (size !== 8) fail(`partial spill of a pointer`);
      obj.ptrs.set(o, val);
    }
    let v = asNum(val);
    for (let i = 0; i < size; i++) {
      obj.bytes[o + i] = Number(v & 0xffn);
      v >>= 8n;
    }
  };

  while (pc < n) {
    if (++steps > maxSteps) return unmodelled("step budget exhausted (the verifier bounds loops)");
    const at = pc * 8;
    const code8 = dv.getUint8(at);
    const regs = dv.getUint8(at + 1);
    const dst = regs & 15;
    const src = regs >> 4;
    const off = dv.getInt16(at + 2, true);
    const imm = dv.getInt32(at + 4, true);
    const cls = code8 & 7;
    const op = code8 & 0xf0;
    const isX = (code8 & 8) !== 0;
    if (cls === 0x07 || cls === 0x04) {
      const is64 = cls === 0x07;
      const d = reg[dst]!;
      const s: Value = isX ? reg[src]! : num(is64 ? BigInt(imm) : BigInt(imm >>> 0));
      if (op === 0xb0) {
        // mov / movsx
        if (off === 0 || !isX) reg[dst] = is64 ? s : num(asNum(s) & M32);
        else {
          const v = BigInt.asUintN(64, BigInt.asIntN(off, asNum(s)));
          reg[dst] = num(is64 ? v : v & M32);
        }
      } else if (op === 0xd0) {
        const v = asNum(d);
        if (cls === 0x04 && !isX) reg[dst] = num(imm === 64 ? v : v & ((1n << BigInt(imm)) - 1n));
        else reg[dst] = num(bswap(v, imm));
      } else if (is64 && (op === 0x00 || op === 0x10) && (d.t === "ptr" || s.t === "ptr")) {
        if (d.t === "ptr" && s.t === "num")
          reg[dst] = {
            t: "ptr",
            obj: d.obj,
            off: op === 0x00 ? (d.off + s.v) & M64 : (d.off - s.v) & M64,
          };
        else if (d.t === "num" && s.t === "ptr" && op === 0x00)
          reg[dst] = { t: "ptr", obj: s.obj, off: (s.off + d.v) & M64 };
        else if (d.t === "ptr" && s.t === "ptr" && op === 0x10 && d.obj === s.obj)
          reg[dst] = num(d.off - s.off);
        else reg[dst] = num(alu(op, off, asNum(d), asNum(s), true));
      } else {
        const r = alu(op, off, asNum(d), asNum(s), is64);
        reg[dst] = num(r);
      }
      pc++;
      continue;
    }
    if (code8 === 0x18) {
      const hi = dv.getInt32(at + 12, true);
      if (src === 0) reg[dst] = num((BigInt(hi >>> 0) << 32n) | BigInt(imm >>> 0));
      else if (src === 5 || src === 1)
        reg[dst] = num(BigInt(0x4d000000 + imm)); // map handle
      else return unmodelled(`lddw pseudo source ${src} not modelled`);
      pc += 2;
      continue;
    }
    if (cls === 0x01 || cls === 0x02 || cls === 0x03) {
      const size = [4, 2, 1, 8][(code8 >> 3) & 3]!;
      const mode = code8 & 0xe0;
      if (cls === 0x01) {
        let v = load(reg[src]!, off, size);
        if (mode === 0x80 && v.t === "num")
          v = num(BigInt.asUintN(64, BigInt.asIntN(size * 8, v.v)));
        reg[dst] = v;
      } else if (cls === 0x02) store(reg[dst]!, off, size, num(BigInt(imm)));
      else if (mode === 0xc0) {
        // atomics
        const old = load(reg[dst]!, off, size);
        const s = reg[src]!;
        const a = asNum(old);
        const b = asNum(s);
        const m = size === 8 ? M64 : M32;
        let nv: bigint;
        const aop = imm & 0xf0;
        if (imm === 0xe1) nv = b;
        else if (imm === 0xf1) nv = (asNum(reg[0]!) & m) === (a & m) ? b : a;
        else nv = alu(aop, 0, a, b, size === 8);
        store(reg[dst]!, off, size, num(nv & m));
        if (imm === 0xf1) reg[0] = num(a & m);
        else if (imm & 1) reg[src] = num(a & m);
      } else store(reg[dst]!, off, size, reg[src]!);
      pc++;
      continue;
    }
    if (cls === 0x05 || cls === 0x06) {
      if (code8 === 0x95) return { steps };
      if (code8 === 0x85) {
        if (src !== 0) return unmodelled(`call kind ${src} not modelled`);
        if (imm === 7) reg[0] = num(env.random[rnd++] ?? 0n);
        else if (imm === 5) reg[0] = num(BigInt(steps));
        else if (imm === 1) {
          const m = reg.at(1)!; // (not reg[1]: its narrowing from the entry assignment is stale here)
          const map = m.t === "num" ? env.maps[Number(m.v - 0x4d000000n)] : undefined;
          if (!map) return fail("map_lookup_elem on something not a map");
          const key = load(reg[2]!, 0, 4);
          const k = Number(asNum(key));
          reg[0] = k < map.values.length ? { t: "ptr", obj: map.values[k]!, off: 0n } : num(0n);
        } else return unmodelled(`helper ${imm}`);
        for (let r = 1; r <= 5; r++) reg[r] = num(0xdeadn);
        pc++;
        continue;
      }
      if (op === 0x00) {
        pc += 1 + (cls === 0x06 ? imm : off);
        continue;
      }
      const is32 = cls === 0x06;
      const a = reg[dst]!;
      const b: Value = isX ? reg[src]! : num(BigInt(imm));
      let x: bigint;
      let y: bigint;
      if (a.t === "ptr" && b.t === "ptr" && a.obj === b.obj) {
        x = a.off;
        y = b.off;
      } else {
        x = asNum(a);
        y = asNum(b);
      }
      const m = is32 ? M32 : M64;
      const ux = x & m;
      const uy = y & m;
      const sx = is32 ? s32(ux) : s64(ux);
      const sy = is32 ? s32(uy) : s64(uy);
      let t: boolean;
      switch (op) {
        case 0x10:
          t = ux === uy;
          break;
        case 0x50:
          t = ux !== uy;
          break;
        case 0x20:
          t = ux > uy;
          break;
        case 0x30:
          t = ux >= uy;
          break;
        case 0xa0:
          t = ux < uy;
          break;
        case 0xb0:
          t = ux <= uy;
          break;
        case 0x60:
          t = sx > sy;
          break;
        case 0x70:
          t = sx >= sy;
          break;
        case 0xc0:
          t = sx < sy;
          break;
        case 0xd0:
          t = sx <= sy;
          break;
        case 0x40:
          t = (ux & uy) !== 0n;
          break;
        default:
          return unmodelled(`jump op 0x${op.toString(16)} not modelled`);
      }
      pc += 1 + (t ? off : 0);
      continue;
    }
    return unmodelled(`opcode 0x${code8.toString(16)} not modelled`);
  }
  return fail("fell off the end");
}
