// Map key/value bytes <-> JSON-friendly values, driven by BTF. formatValue is
// what `map dump` prints; parseValue is its inverse (`map update` with JSON).
//
// Encoding: integers are numbers, or decimal strings when beyond 2^53; bools
// are booleans; char arrays are strings (up to the first NUL) when the bytes
// are printable text followed only by NULs, otherwise arrays of numbers;
// pointers are "0x…" strings; enums are enumerator names (numbers when the
// value has no name); structs/unions are objects (members of anonymous nested
// structs/unions are lifted into the parent, as C does); DATASECs are objects
// keyed by variable name.

import { BpftimeError } from "../errors.ts";
import { type Btf, type BtfType, MAX_RESOLVE_DEPTH } from "./btf.ts";
import { typeName } from "./format.ts";

function invalid(path: string, message: string): BpftimeError {
  return new BpftimeError("invalid_argument", `${path}: ${message}`);
}

function readUint(bytes: Uint8Array, off: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[off + i] ?? 0);
  return v;
}

function writeUint(bytes: Uint8Array, off: number, size: number, v: bigint): void {
  let x = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size; i++) {
    bytes[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

function readBits(bytes: Uint8Array, bitOff: number, bitSize: number): bigint {
  const start = Math.floor(bitOff / 8);
  const end = Math.ceil((bitOff + bitSize) / 8);
  const raw = readUint(bytes, start, end - start);
  return (raw >> BigInt(bitOff % 8)) & ((1n << BigInt(bitSize)) - 1n);
}

function writeBits(bytes: Uint8Array, bitOff: number, bitSize: number, v: bigint): void {
  const start = Math.floor(bitOff / 8);
  const end = Math.ceil((bitOff + bitSize) / 8);
  const shift = BigInt(bitOff % 8);
  const mask = ((1n << BigInt(bitSize)) - 1n) << shift;
  const raw = readUint(bytes, start, end - start);
  const next = (raw & ~mask) | ((BigInt.asUintN(bitSize, v) << shift) & mask);
  writeUint(bytes, start, end - start, next);
}

function jsonInt(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v.toString();
}

function isCharType(t: BtfType): boolean {
  return t.kind === "int" && t.size === 1 && (t.char || t.name === "char");
}

const utf8Fatal = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

function charArrayString(bytes: Uint8Array): string | undefined {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  for (let i = end; i < bytes.length; i++) if (bytes[i] !== 0) return undefined;
  for (let i = 0; i < end; i++) {
    const b = bytes[i]!;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return undefined;
  }
  try {
    return utf8Fatal.decode(bytes.subarray(0, end));
  } catch {
    return undefined;
  }
}

/** Decodes `bytes` (exactly sizeof(typeId) long) into a JSON-friendly value. */
export function formatValue(btf: Btf, typeId: number, bytes: Uint8Array): unknown {
  const size = btf.sizeof(typeId);
  if (bytes.length !== size) {
    throw invalid(
      "value",
      `${bytes.length} bytes do not match ${typeName(btf, typeId)} (${size} bytes)`,
    );
  }
  nodes = 0;
  return decode(btf, typeId, bytes, 0, 0);
}

/** Largest value parseValue builds (map values are far smaller in practice). */
export const MAX_VALUE_SIZE = 64 << 20;

/** Bounds the work on hostile BTF (e.g. nested arrays of empty structs). */
const MAX_NODES = 1_000_000;
let nodes = 0;

function enter(btf: Btf, id: number, len: number, off: number, depth: number, path: string) {
  if (depth > MAX_RESOLVE_DEPTH) throw invalid(path, `type ${id}: nesting too deep`);
  if (++nodes > MAX_NODES) throw invalid(path, `type ${id}: value has too many parts`);
  const t = btf.resolve(id);
  if (t.kind !== "datasec" && off + btf.sizeof(id) > len) {
    throw invalid(path, `type ${typeName(btf, id)} at offset ${off} is beyond the value`);
  }
  return t;
}

function decode(btf: Btf, id: number, bytes: Uint8Array, off: number, depth: number): unknown {
  const t = enter(btf, id, bytes.length, off, depth, "value");
  switch (t.kind) {
    case "int": {
      let v = readUint(bytes, off, t.size);
      if (t.bitOffset || t.bits < t.size * 8) {
        v = (v >> BigInt(t.bitOffset)) & ((1n << BigInt(t.bits)) - 1n);
      }
      if (t.bool) return v !== 0n;
      if (t.signed) v = BigInt.asIntN(t.bits, v);
      return jsonInt(v);
    }
    case "enum":
    case "enum64": {
      let v = readUint(bytes, off, t.size);
      if (t.signed) v = BigInt.asIntN(t.size * 8, v);
      const named = t.values.find(
        (e) => e.value === v || BigInt.asUintN(t.size * 8, e.value) === v,
      );
      return named ? named.name : jsonInt(v);
    }
    case "ptr":
      return `0x${readUint(bytes, off, 8).toString(16)}`;
    case "float": {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + off, t.size);
      const f = t.size === 4 ? dv.getFloat32(0, true) : t.size === 8 ? dv.getFloat64(0, true) : NaN;
      if (t.size !== 4 && t.size !== 8) return `0x${readUint(bytes, off, t.size).toString(16)}`;
      return Number.isFinite(f) ? f : String(f);
    }
    case "array": {
      const elem = btf.resolve(t.type);
      const esize = btf.sizeof(t.type);
      if (isCharType(elem)) {
        const s = charArrayString(bytes.subarray(off, off + t.nelems));
        if (s !== undefined) return s;
      }
      const out: unknown[] = [];
      if (esize === 0) return out;
      for (let i = 0; i < t.nelems; i++)
        out.push(decode(btf, t.type, bytes, off + i * esize, depth + 1));
      return out;
    }
    case "struct":
    case "union": {
      const out: Record<string, unknown> = {};
      decodeMembers(btf, t, bytes, off, depth, out);
      return out;
    }
    case "datasec": {
      const out: Record<string, unknown> = {};
      for (const v of t.vars) {
        const vt = btf.type(v.type);
        if (vt.kind !== "var") continue;
        if (v.offset + v.size > bytes.length - off) {
          throw invalid(vt.name, `variable at offset ${v.offset} is beyond the section data`);
        }
        out[vt.name] = decode(btf, vt.type, bytes, off + v.offset, depth + 1);
      }
      return out;
    }
    default:
      throw new BpftimeError(
        "unsupported",
        `BTF: cannot format a value of type ${typeName(btf, id)} (${t.kind})`,
      );
  }
}

function decodeMembers(
  btf: Btf,
  t: Extract<BtfType, { kind: "struct" | "union" }>,
  bytes: Uint8Array,
  off: number,
  depth: number,
  out: Record<string, unknown>,
): void {
  for (const m of t.members) {
    const mt = btf.resolve(m.type);
    if (m.bitSize || m.bitOffset % 8 !== 0) {
      const bits = m.bitSize || (mt.kind === "int" ? mt.bits : btf.sizeof(m.type) * 8);
      let v = readBits(bytes.subarray(off), m.bitOffset, bits);
      const signed =
        (mt.kind === "int" && mt.signed) ||
        ((mt.kind === "enum" || mt.kind === "enum64") && mt.signed);
      if (signed) v = BigInt.asIntN(bits, v);
      const value = mt.kind === "int" && mt.bool ? v !== 0n : jsonInt(v);
      if (m.name) out[m.name] = value;
      continue;
    }
    const moff = off + m.bitOffset / 8;
    if (!m.name && (mt.kind === "struct" || mt.kind === "union")) {
      if (depth + 1 > MAX_RESOLVE_DEPTH) throw invalid("value", "nesting too deep");
      decodeMembers(btf, mt, bytes, moff, depth + 1, out);
      continue;
    }
    out[m.name || `_${m.bitOffset / 8}`] = decode(btf, m.type, bytes, moff, depth + 1);
  }
}

/**
 * Encodes a JSON value (as produced by formatValue, or partial) into
 * sizeof(typeId) bytes; errors name the path from `what` ("key", "value").
 */
export function parseValue(
  btf: Btf,
  typeId: number,
  json: unknown,
  what: "key" | "value" = "value",
): Uint8Array {
  const size = btf.sizeof(typeId);
  if (size > MAX_VALUE_SIZE) {
    throw new BpftimeError(
      "unsupported",
      `${what}: ${typeName(btf, typeId)} is ${size} bytes, more than the ${MAX_VALUE_SIZE} supported`,
    );
  }
  const out = new Uint8Array(size);
  nodes = 0;
  encode(btf, typeId, json, out, 0, what, 0);
  return out;
}

function toBigInt(json: unknown, path: string): bigint {
  if (typeof json === "bigint") return json;
  if (typeof json === "boolean") return json ? 1n : 0n;
  if (typeof json === "number") {
    if (!Number.isInteger(json)) throw invalid(path, `${json} is not an integer`);
    if (!Number.isSafeInteger(json)) {
      throw invalid(path, `${json} is beyond 2^53; pass it as a decimal string`);
    }
    return BigInt(json);
  }
  if (typeof json === "string") {
    const s = json.trim();
    if (/^-?(0x[0-9a-f]+|0b[01]+|0o[0-7]+|[0-9]+)$/i.test(s)) {
      return s.startsWith("-") ? -BigInt(s.slice(1)) : BigInt(s);
    }
    throw invalid(path, `${JSON.stringify(json)} is not an integer`);
  }
  throw invalid(path, `expected an integer, got ${json === null ? "null" : typeof json}`);
}

function checkRange(v: bigint, bits: number, signed: boolean, path: string, what: string) {
  const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (v < lo || v > hi) throw invalid(path, `${v} is out of range for ${what} (${lo}..${hi})`);
}

function encode(
  btf: Btf,
  id: number,
  json: unknown,
  out: Uint8Array,
  off: number,
  path: string,
  depth: number,
): void {
  const t = enter(btf, id, out.length, off, depth, path);
  switch (t.kind) {
    case "int": {
      const v = toBigInt(json, path);
      checkRange(v, t.bits, t.signed, path, typeName(btf, id));
      if (t.bitOffset || t.bits < t.size * 8) {
        writeBits(out.subarray(off, off + t.size), t.bitOffset, t.bits, v);
      } else writeUint(out, off, t.size, v);
      return;
    }
    case "enum":
    case "enum64": {
      let v: bigint;
      const named = typeof json === "string" ? t.values.find((e) => e.name === json) : undefined;
      if (named) v = named.value;
      else v = toBigInt(json, path);
      checkRange(v, t.size * 8, t.signed || v < 0n, path, typeName(btf, id));
      writeUint(out, off, t.size, v);
      return;
    }
    case "ptr": {
      const v = toBigInt(json, path);
      checkRange(v, 64, false, path, "pointer");
      writeUint(out, off, 8, v);
      return;
    }
    case "float": {
      const f = typeof json === "string" ? Number(json) : json;
      if (typeof f !== "number" || (Number.isNaN(f) && json !== "NaN")) {
        throw invalid(path, `expected a number, got ${JSON.stringify(json)}`);
      }
      const dv = new DataView(out.buffer, out.byteOffset + off, t.size);
      if (t.size === 4) dv.setFloat32(0, f, true);
      else if (t.size === 8) dv.setFloat64(0, f, true);
      else
        throw new BpftimeError("unsupported", `${path}: ${t.size}-byte floats are not supported`);
      return;
    }
    case "array": {
      const elem = btf.resolve(t.type);
      const esize = btf.sizeof(t.type);
      if (typeof json === "string") {
        if (!isCharType(elem)) throw invalid(path, `a string does not fit ${typeName(btf, id)}`);
        const b = utf8Encoder.encode(json);
        if (b.length > t.nelems) {
          throw invalid(path, `string of ${b.length} bytes does not fit ${typeName(btf, id)}`);
        }
        out.set(b, off);
        return;
      }
      if (!Array.isArray(json)) throw invalid(path, `expected an array for ${typeName(btf, id)}`);
      if (json.length > t.nelems) {
        throw invalid(path, `${json.length} elements do not fit ${typeName(btf, id)}`);
      }
      json.forEach((e, i) =>
        encode(btf, t.type, e, out, off + i * esize, `${path}[${i}]`, depth + 1),
      );
      return;
    }
    case "struct":
    case "union": {
      if (typeof json !== "object" || json === null || Array.isArray(json)) {
        throw invalid(path, `expected an object for ${typeName(btf, id)}`);
      }
      const left = new Set(Object.keys(json));
      encodeMembers(btf, t, json as Record<string, unknown>, left, out, off, path, depth);
      if (left.size > 0) {
        throw invalid(path, `${typeName(btf, id)} has no member ${[...left].join(", ")}`);
      }
      return;
    }
    case "datasec": {
      if (typeof json !== "object" || json === null || Array.isArray(json)) {
        throw invalid(path, `expected an object for section ${t.name}`);
      }
      const obj = json as Record<string, unknown>;
      for (const key of Object.keys(obj)) {
        const v = t.vars.find((x) => btf.type(x.type).name === key);
        if (!v) throw invalid(path, `section ${t.name} has no variable ${key}`);
        const vt = btf.type(v.type);
        if (vt.kind !== "var" || v.offset + v.size > out.length - off) {
          throw invalid(`${path}.${key}`, `variable is beyond the section data`);
        }
        encode(btf, vt.type, obj[key], out, off + v.offset, `${path}.${key}`, depth + 1);
      }
      return;
    }
    default:
      throw new BpftimeError(
        "unsupported",
        `${path}: cannot encode a value of type ${typeName(btf, id)} (${t.kind})`,
      );
  }
}

function encodeMembers(
  btf: Btf,
  t: Extract<BtfType, { kind: "struct" | "union" }>,
  obj: Record<string, unknown>,
  left: Set<string>,
  out: Uint8Array,
  off: number,
  path: string,
  depth: number,
): void {
  for (const m of t.members) {
    const mt = btf.resolve(m.type);
    if (!m.name && (mt.kind === "struct" || mt.kind === "union") && m.bitOffset % 8 === 0) {
      if (depth + 1 > MAX_RESOLVE_DEPTH) throw invalid(path, "nesting too deep");
      encodeMembers(btf, mt, obj, left, out, off + m.bitOffset / 8, path, depth + 1);
      continue;
    }
    const key = m.name || `_${m.bitOffset / 8}`;
    if (!left.has(key)) continue;
    left.delete(key);
    const mpath = `${path}.${key}`;
    if (m.bitSize || m.bitOffset % 8 !== 0) {
      const bits = m.bitSize || (mt.kind === "int" ? mt.bits : btf.sizeof(m.type) * 8);
      let v: bigint;
      if ((mt.kind === "enum" || mt.kind === "enum64") && typeof obj[key] === "string") {
        const named = mt.values.find((e) => e.name === obj[key]);
        v = named ? named.value : toBigInt(obj[key], mpath);
      } else v = toBigInt(obj[key], mpath);
      const signed = (mt.kind === "int" || mt.kind === "enum" || mt.kind === "enum64") && mt.signed;
      checkRange(v, bits, signed, mpath, `a ${bits}-bit field`);
      writeBits(out.subarray(off), m.bitOffset, bits, v);
      continue;
    }
    encode(btf, m.type, obj[key], out, off + m.bitOffset / 8, mpath, depth + 1);
  }
}
