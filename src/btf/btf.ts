// BTF (BPF Type Format) parser: the .BTF section's header, type section (every
// kind up to ENUM64) and string section. Pure TypeScript. All offsets and type
// references are checked at parse time, so later lookups can index `types`
// without further checks; resolution walks are depth-limited, so reference
// cycles in a corrupted file end in an error instead of a hang.

import { BpftimeError } from "../errors.ts";
import { Reader, cString } from "../elf/index.ts";
import { formatType, funcSignature, typeName } from "./format.ts";

export const BTF_MAGIC = 0xeb9f;
/** Like the kernel's MAX_RESOLVE_DEPTH: deeper modifier/typedef chains are refused. */
export const MAX_RESOLVE_DEPTH = 32;

export const BTF_KIND = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

export type BtfKindName =
  | "void"
  | "int"
  | "ptr"
  | "array"
  | "struct"
  | "union"
  | "enum"
  | "fwd"
  | "typedef"
  | "volatile"
  | "const"
  | "restrict"
  | "func"
  | "func_proto"
  | "var"
  | "datasec"
  | "float"
  | "decl_tag"
  | "type_tag"
  | "enum64";

/** BTF kinds by their number in the type header (`BTF_KIND_*`). */
export const kindNames: readonly BtfKindName[] = [
  "void",
  "int",
  "ptr",
  "array",
  "struct",
  "union",
  "enum",
  "fwd",
  "typedef",
  "volatile",
  "const",
  "restrict",
  "func",
  "func_proto",
  "var",
  "datasec",
  "float",
  "decl_tag",
  "type_tag",
  "enum64",
];

export interface BtfMember {
  name: string;
  type: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Bitfield width in bits, 0 if not a bitfield. */
  bitSize: number;
}

export interface BtfParam {
  name: string;
  type: number;
}

export interface BtfEnumValue {
  name: string;
  value: bigint;
}

export interface BtfVarSecinfo {
  type: number;
  offset: number;
  size: number;
}

interface Base {
  id: number;
  name: string;
}

export type BtfType =
  | (Base & { kind: "void" })
  | (Base & {
      kind: "int";
      size: number;
      signed: boolean;
      char: boolean;
      bool: boolean;
      bitOffset: number;
      bits: number;
    })
  | (Base & {
      kind: "ptr" | "typedef" | "volatile" | "const" | "restrict" | "type_tag";
      type: number;
    })
  | (Base & { kind: "array"; type: number; indexType: number; nelems: number })
  | (Base & { kind: "struct" | "union"; size: number; members: BtfMember[] })
  | (Base & { kind: "enum" | "enum64"; size: number; signed: boolean; values: BtfEnumValue[] })
  | (Base & { kind: "fwd"; union: boolean })
  | (Base & { kind: "func"; type: number; linkage: number })
  | (Base & { kind: "func_proto"; returnType: number; params: BtfParam[] })
  | (Base & { kind: "var"; type: number; linkage: number })
  | (Base & { kind: "datasec"; size: number; vars: BtfVarSecinfo[] })
  | (Base & { kind: "float"; size: number })
  | (Base & { kind: "decl_tag"; type: number; componentIdx: number });

export type BtfTypeOf<K extends BtfKindName> = Extract<BtfType, { kind: K }>;

/** Kinds that only qualify or rename another type. */
export const modifierKinds: ReadonlySet<BtfKindName> = new Set([
  "typedef",
  "volatile",
  "const",
  "restrict",
  "type_tag",
]);

/** The name without its flavor: "task_struct___v2" → "task_struct" (X___Y, X and Y not '_'), as libbpf. */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== "_" && name.startsWith("___", i + 1) && name[i + 4] !== "_") {
      return name.slice(0, i + 1);
    }
  }
  return name;
}

export function btfError(message: string): BpftimeError {
  return new BpftimeError("bad_object", `section .BTF: ${message}`);
}

export class Btf {
  /** types[0] is void; ids index this array directly. */
  readonly types: BtfType[];
  readonly strings: Uint8Array;
  private byName?: Map<string, BtfType[]>;
  private byEssentialName?: Map<string, number[]>;

  constructor(types: BtfType[], strings: Uint8Array) {
    this.types = types;
    this.strings = strings;
  }

  get count(): number {
    return this.types.length;
  }

  /** The type with `id`, or a bad_object error naming the id. */
  type(id: number): BtfType {
    const t = this.types[id];
    if (!t) throw btfError(`type id ${id} is beyond the type table (${this.types.length} types)`);
    return t;
  }

  /** Types named `name`, optionally of one kind. */
  typesByName(name: string, kind?: BtfKindName): BtfType[] {
    if (!this.byName) {
      this.byName = new Map();
      for (const t of this.types) {
        if (!t.name) continue;
        const list = this.byName.get(t.name);
        if (list) list.push(t);
        else this.byName.set(t.name, [t]);
      }
    }
    const list = this.byName.get(name) ?? [];
    return kind ? list.filter((t) => t.kind === kind) : list;
  }

  /** Ids of the types whose name without a `___flavor` suffix is `name` (CO-RE candidates). */
  idsByEssentialName(name: string): number[] {
    if (!this.byEssentialName) {
      this.byEssentialName = new Map();
      for (const t of this.types) {
        if (!t.name) continue;
        const key = essentialName(t.name);
        const list = this.byEssentialName.get(key);
        if (list) list.push(t.id);
        else this.byEssentialName.set(key, [t.id]);
      }
    }
    return this.byEssentialName.get(name) ?? [];
  }

  /** The first type named `name` (of `kind` if given). */
  typeByName(name: string, kind?: BtfKindName): BtfType | undefined {
    return this.typesByName(name, kind)[0];
  }

  /** Follows typedefs and qualifiers (and VAR, DECL_TAG) to the underlying type. */
  resolve(id: number): BtfType {
    let t = this.type(id);
    for (let depth = 0; ; depth++) {
      if (depth > MAX_RESOLVE_DEPTH) {
        throw btfError(`type ${id}: typedef/modifier chain deeper than ${MAX_RESOLVE_DEPTH}`);
      }
      if (modifierKinds.has(t.kind) || t.kind === "var" || t.kind === "decl_tag") {
        t = this.type((t as { type: number }).type);
      } else {
        return t;
      }
    }
  }

  /** Size in bytes of type `id` (like sizeof). Errors for void, functions, forward declarations. */
  sizeof(id: number, depth = 0): number {
    if (depth > MAX_RESOLVE_DEPTH) {
      throw btfError(`type ${id}: type nesting deeper than ${MAX_RESOLVE_DEPTH}`);
    }
    const t = this.resolve(id);
    switch (t.kind) {
      case "int":
      case "struct":
      case "union":
      case "enum":
      case "enum64":
      case "float":
      case "datasec":
        return t.size;
      case "ptr":
        return 8;
      case "array": {
        const n = t.nelems * this.sizeof(t.type, depth + 1);
        if (!Number.isSafeInteger(n) || n > 0xffffffff) {
          throw btfError(`type ${t.id}: array size ${n} is too large`);
        }
        return n;
      }
      default:
        throw btfError(`type ${id} (${t.kind}) has no size`);
    }
  }

  /** Alignment in bytes of type `id` (for natural-layout checks and formatting). */
  alignof(id: number, depth = 0): number {
    if (depth > MAX_RESOLVE_DEPTH) throw btfError(`type ${id}: nesting too deep`);
    const t = this.resolve(id);
    switch (t.kind) {
      case "int":
      case "enum":
      case "enum64":
      case "float":
        return Math.min(Math.max(t.size, 1), 8);
      case "ptr":
        return 8;
      case "array":
        return this.alignof(t.type, depth + 1);
      case "struct":
      case "union": {
        let a = 1;
        for (const m of t.members) a = Math.max(a, this.alignof(m.type, depth + 1));
        return a;
      }
      default:
        return 1;
    }
  }

  /** Full C definition: "struct event { u32 pid; char comm[16]; }". */
  formatType(id: number): string {
    return formatType(this, id);
  }

  /** Short C name: "struct event", "u32", "char *". */
  typeName(id: number): string {
    return typeName(this, id);
  }

  /** "int handle(struct xdp_md *ctx)" for a FUNC type id or name. */
  funcSignature(func: number | string): string {
    return funcSignature(this, func);
  }

  /** The FUNC type named `name`, if any. */
  func(name: string): BtfTypeOf<"func"> | undefined {
    return this.typeByName(name, "func") as BtfTypeOf<"func"> | undefined;
  }

  /** The DATASEC type for ELF section `name`, if any. */
  datasec(name: string): BtfTypeOf<"datasec"> | undefined {
    return this.typeByName(name, "datasec") as BtfTypeOf<"datasec"> | undefined;
  }
}

const BTF_HEADER_MIN = 24;

/** Parses a .BTF section. */
export function parseBtf(bytes: Uint8Array): Btf {
  const r = new Reader(bytes, "section .BTF");
  if (bytes.length < BTF_HEADER_MIN) {
    throw btfError(`${bytes.length} bytes is shorter than the BTF header`);
  }
  const magic = r.u16(0, "magic");
  if (magic === 0x9feb) {
    throw new BpftimeError("unsupported", "section .BTF: big-endian BTF is not supported");
  }
  if (magic !== BTF_MAGIC) throw btfError(`bad magic 0x${magic.toString(16)} (expected 0xeb9f)`);
  const version = r.u8(2);
  if (version !== 1) {
    throw new BpftimeError("unsupported", `section .BTF: version ${version} (only 1 is known)`);
  }
  const hdrLen = r.u32(4, "hdr_len");
  const typeOff = r.u32(8, "type_off");
  const typeLen = r.u32(12, "type_len");
  const strOff = r.u32(16, "str_off");
  const strLen = r.u32(20, "str_len");
  if (hdrLen < BTF_HEADER_MIN || hdrLen > bytes.length) {
    throw btfError(`header length ${hdrLen} is invalid (section is ${bytes.length} bytes)`);
  }
  r.check(hdrLen + typeOff, typeLen, "type section");
  r.check(hdrLen + strOff, strLen, "string section");
  if (typeOff % 4 !== 0) throw btfError(`type section offset ${typeOff} is not 4-byte aligned`);
  const strings = bytes.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
  if (strLen > 0 && strings[0] !== 0) throw btfError("string section does not start with NUL");
  const tr = new Reader(
    bytes.subarray(hdrLen + typeOff, hdrLen + typeOff + typeLen),
    "section .BTF",
  );
  const name = (off: number, what: string) => {
    if (off === 0) return "";
    return cString(strings, off, `section .BTF: ${what}`);
  };

  const types: BtfType[] = [{ kind: "void", id: 0, name: "" }];
  const refs: { from: number; to: number }[] = [];
  let pos = 0;
  while (pos < typeLen) {
    const id = types.length;
    const what = `type ${id} at offset ${pos}`;
    if (pos + 12 > typeLen) throw btfError(`${what}: truncated type header`);
    const nameOff = tr.u32(pos);
    const info = tr.u32(pos + 4);
    const sizeOrType = tr.u32(pos + 8);
    pos += 12;
    const vlen = info & 0xffff;
    const kindNum = (info >>> 24) & 0x1f;
    const kflag = info >>> 31 === 1;
    const kind = kindNames[kindNum];
    if (!kind || kindNum === 0) throw btfError(`${what}: unknown kind ${kindNum}`);
    const tname = name(nameOff, `${what} name`);
    const ref = (to: number) => refs.push({ from: id, to });
    const need = (n: number) => {
      if (pos + n > typeLen) throw btfError(`${what} (${kind}): truncated (needs ${n} more bytes)`);
    };
    let t: BtfType;
    switch (kind) {
      case "int": {
        need(4);
        const v = tr.u32(pos);
        pos += 4;
        const enc = (v >>> 24) & 0xf;
        const bits = v & 0xff;
        const bitOffset = (v >>> 16) & 0xff;
        if (![1, 2, 4, 8, 16].includes(sizeOrType)) {
          throw btfError(`${what}: int '${tname}' has invalid size ${sizeOrType}`);
        }
        if (bits === 0 || bits + bitOffset > sizeOrType * 8) {
          throw btfError(`${what}: int '${tname}' has invalid bits ${bits}+${bitOffset}`);
        }
        t = {
          kind,
          id,
          name: tname,
          size: sizeOrType,
          signed: (enc & 1) !== 0,
          char: (enc & 2) !== 0,
          bool: (enc & 4) !== 0,
          bitOffset,
          bits,
        };
        break;
      }
      case "ptr":
      case "typedef":
      case "volatile":
      case "const":
      case "restrict":
      case "type_tag":
        ref(sizeOrType);
        t = { kind, id, name: tname, type: sizeOrType };
        break;
      case "array": {
        need(12);
        const elem = tr.u32(pos);
        const index = tr.u32(pos + 4);
        const nelems = tr.u32(pos + 8);
        pos += 12;
        ref(elem);
        ref(index);
        t = { kind, id, name: tname, type: elem, indexType: index, nelems };
        break;
      }
      case "struct":
      case "union": {
        need(vlen * 12);
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++) {
          const mtype = tr.u32(pos + 4);
          const off = tr.u32(pos + 8);
          members.push({
            name: name(tr.u32(pos), `${what} member ${i} name`),
            type: mtype,
            bitOffset: kflag ? off & 0xffffff : off,
            bitSize: kflag ? off >>> 24 : 0,
          });
          ref(mtype);
          pos += 12;
        }
        t = { kind, id, name: tname, size: sizeOrType, members };
        break;
      }
      case "enum":
      case "enum64": {
        const rec = kind === "enum" ? 8 : 12;
        need(vlen * rec);
        const values: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const vname = name(tr.u32(pos), `${what} enumerator ${i} name`);
          let value: bigint;
          if (kind === "enum") {
            value = kflag ? BigInt(tr.i32(pos + 4)) : BigInt(tr.u32(pos + 4));
          } else {
            const raw = (BigInt(tr.u32(pos + 8)) << 32n) | BigInt(tr.u32(pos + 4));
            value = kflag ? BigInt.asIntN(64, raw) : raw;
          }
          values.push({ name: vname, value });
          pos += rec;
        }
        if (![1, 2, 4, 8].includes(sizeOrType)) {
          throw btfError(`${what}: enum '${tname}' has invalid size ${sizeOrType}`);
        }
        t = { kind, id, name: tname, size: sizeOrType, signed: kflag, values };
        break;
      }
      case "fwd":
        t = { kind, id, name: tname, union: kflag };
        break;
      case "func":
        ref(sizeOrType);
        t = { kind, id, name: tname, type: sizeOrType, linkage: vlen };
        break;
      case "func_proto": {
        need(vlen * 8);
        const params: BtfParam[] = [];
        for (let i = 0; i < vlen; i++) {
          const ptype = tr.u32(pos + 4);
          params.push({ name: name(tr.u32(pos), `${what} param ${i} name`), type: ptype });
          ref(ptype);
          pos += 8;
        }
        ref(sizeOrType);
        t = { kind, id, name: tname, returnType: sizeOrType, params };
        break;
      }
      case "var": {
        need(4);
        const linkage = tr.u32(pos);
        pos += 4;
        ref(sizeOrType);
        t = { kind, id, name: tname, type: sizeOrType, linkage };
        break;
      }
      case "datasec": {
        need(vlen * 12);
        const vars: BtfVarSecinfo[] = [];
        for (let i = 0; i < vlen; i++) {
          const vtype = tr.u32(pos);
          vars.push({ type: vtype, offset: tr.u32(pos + 4), size: tr.u32(pos + 8) });
          ref(vtype);
          pos += 12;
        }
        t = { kind, id, name: tname, size: sizeOrType, vars };
        break;
      }
      case "float":
        if (![2, 4, 8, 12, 16].includes(sizeOrType)) {
          throw btfError(`${what}: float '${tname}' has invalid size ${sizeOrType}`);
        }
        t = { kind, id, name: tname, size: sizeOrType };
        break;
      case "decl_tag": {
        need(4);
        const componentIdx = tr.i32(pos);
        pos += 4;
        ref(sizeOrType);
        t = { kind, id, name: tname, type: sizeOrType, componentIdx };
        break;
      }
      default:
        throw btfError(`${what}: unknown kind ${kindNum}`);
    }
    types.push(t);
  }
  for (const { from, to } of refs) {
    if (to >= types.length) {
      throw btfError(
        `type ${from} refers to type id ${to} beyond the type table (${types.length} types)`,
      );
    }
  }
  // Kind-specific reference checks that later code relies on.
  for (const t of types) {
    if (t.kind === "func" && types[t.type]?.kind !== "func_proto") {
      throw btfError(`type ${t.id}: func '${t.name}' does not point to a func_proto`);
    }
    if (t.kind === "datasec") {
      for (const v of t.vars) {
        const vt = types[v.type]!;
        if (vt.kind !== "var" && vt.kind !== "func") {
          throw btfError(`type ${t.id}: datasec '${t.name}' entry ${v.type} is not a var`);
        }
      }
    }
  }
  return new Btf(types, strings);
}
