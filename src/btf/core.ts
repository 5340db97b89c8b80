// CO-RE relocation resolution, as libbpf does it (tools/lib/bpf/relo_core.c,
// learnt from, written afresh): a relocation names a root type of the
// program's own BTF, an access string ("0:1:2": element 0 of the root, its
// member 1, that one's member 2) and what the program wants (a field's byte
// offset, size, existence, signedness, bitfield shifts; a type's id,
// existence, size or shape; an enumerator's existence or value). The target
// BTF (the running kernel's, or the program's own for the context types the
// runtime provides) is searched for candidate types of the same kind and
// "essential" name (the name without a `___flavor` suffix); a candidate
// matches when every named field along the access exists in it by name with
// a compatible type and every array index is in bounds. All matching
// candidates must agree; none matching poisons the instruction (its value is
// 0 for the existence kinds), as libbpf does.

import { BpftimeError } from "../errors.ts";
import { type Btf, type BtfType, essentialName } from "./btf.ts";
import { CoreReloKind, type BtfCoreRelo, coreReloKindNames } from "./ext.ts";

const K = CoreReloKind;
const MAX_SPEC_LEN = 64;
const MAX_DEPTH = 32;

/** libbpf's poison: `call 0xbad2310` ("bad relo"), an invalid helper the verifier refuses if reached. */
export const CORE_POISON_HELPER = 0xbad2310;

interface Accessor {
  /** Composite type id (named member) or array element type id (index). */
  typeId: number;
  idx: number;
  /** Member or enumerator name; undefined for an array index. */
  name?: string;
}

export interface CoreSpec {
  btf: Btf;
  rootId: number;
  raw: number[];
  acc: Accessor[];
  bitOffset: number;
}

export interface CoreResult {
  /** The value the compiler put in the instruction (from the local BTF). */
  origVal: bigint;
  /** The value for the target. */
  newVal: bigint;
  /** No target: the instruction becomes `call 0xbad2310`. */
  poison: boolean;
  /** Check that the instruction holds origVal before patching. */
  validate: boolean;
  /** Field sizes for loads/stores of a relocated field (0: not a field load). */
  origSz: number;
  newSz: number;
  /** Sizes differ and the field is not an unsigned int or a pointer: poison loads/stores. */
  failMemszAdjust: boolean;
  /** libbpf-like description: "<byte_off> [12] struct task_struct.pid (0:10)". */
  text: string;
}

function reloError(what: string): BpftimeError {
  return new BpftimeError("bad_object", what);
}

export function isFieldKind(kind: number): boolean {
  return kind <= K.FIELD_RSHIFT_U64;
}
export function isTypeKind(kind: number): boolean {
  return (kind >= K.TYPE_ID_LOCAL && kind <= K.TYPE_SIZE) || kind === K.TYPE_MATCHES;
}
export function isEnumvalKind(kind: number): boolean {
  return kind === K.ENUMVAL_EXISTS || kind === K.ENUMVAL_VALUE;
}

/** Skips typedefs and qualifiers: the type and its id. */
function skipMods(btf: Btf, id: number): BtfType {
  let t = btf.type(id);
  for (let d = 0; d <= MAX_DEPTH; d++) {
    if (
      t.kind === "typedef" ||
      t.kind === "const" ||
      t.kind === "volatile" ||
      t.kind === "restrict" ||
      t.kind === "type_tag"
    ) {
      t = btf.type(t.type);
    } else {
      return t;
    }
  }
  throw reloError(`BTF type ${id}: typedef/modifier chain deeper than ${MAX_DEPTH}`);
}

function sizeOf(btf: Btf, id: number): number {
  return btf.sizeof(id);
}

const isComposite = (t: BtfType) => t.kind === "struct" || t.kind === "union";
const isAnyEnum = (t: BtfType) => t.kind === "enum" || t.kind === "enum64";
/** The kinds CO-RE treats as the same: equal, or enum and enum64. */
export function kindsCompatible(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}
function intOffset(t: BtfType): number {
  return t.kind === "int" ? t.bitOffset : 0;
}

function parseSpec(btf: Btf, relo: BtfCoreRelo): CoreSpec {
  const spec: CoreSpec = { btf, rootId: relo.typeId, raw: [], acc: [], bitOffset: 0 };
  if (isTypeKind(relo.kind)) {
    if (relo.access !== "0") throw reloError(`access '${relo.access}' of a type relocation`);
    return spec;
  }
  spec.raw = relo.access.split(":").map(Number);
  if (spec.raw.length > MAX_SPEC_LEN) throw reloError(`access '${relo.access}' is too deep`);
  const root = skipMods(btf, relo.typeId);
  const first = spec.raw[0]!;
  if (isEnumvalKind(relo.kind)) {
    if (!isAnyEnum(root) || spec.raw.length > 1) {
      throw reloError(`enum value access '${relo.access}' on ${root.kind}`);
    }
    const e = root as Extract<BtfType, { kind: "enum" | "enum64" }>;
    if (first >= e.values.length) throw reloError(`enum has no enumerator ${first}`);
    spec.acc.push({ typeId: root.id, idx: first, name: e.values[first]!.name });
    return spec;
  }
  if (!isFieldKind(relo.kind)) throw reloError(`unknown relocation kind ${relo.kind}`);
  spec.acc.push({ typeId: root.id, idx: first });
  spec.bitOffset = first * sizeOf(btf, root.id) * 8;
  let id = root.id;
  for (let i = 1; i < spec.raw.length; i++) {
    const t = skipMods(btf, id);
    id = t.id;
    const idx = spec.raw[i]!;
    if (t.kind === "struct" || t.kind === "union") {
      const m = t.members[idx];
      if (!m) throw reloError(`access '${relo.access}': ${t.kind} has no member ${idx}`);
      spec.bitOffset += m.bitOffset;
      if (m.name) spec.acc.push({ typeId: t.id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === "array") {
      const elem = skipMods(btf, t.type);
      const prev = spec.acc[spec.acc.length - 1]!;
      if (!isFlexArray(btf, prev, t.nelems) && idx >= t.nelems) {
        throw reloError(`access '${relo.access}': index ${idx} beyond ${t.nelems} elements`);
      }
      spec.acc.push({ typeId: elem.id, idx });
      spec.bitOffset += idx * sizeOf(btf, elem.id) * 8;
      id = elem.id;
    } else {
      throw reloError(`access '${relo.access}' goes through a ${t.kind}`);
    }
  }
  return spec;
}

/** A zero-length array that is the last member of its struct. */
function isFlexArray(btf: Btf, acc: Accessor, nelems: number): boolean {
  if (!acc.name || nelems > 0) return false;
  const t = btf.type(acc.typeId);
  return isComposite(t) && acc.idx === (t as { members: unknown[] }).members.length - 1;
}

/** libbpf's bpf_core_types_are_compat (type-based relocations). */
function typesAreCompat(lb: Btf, lid: number, tb: Btf, tid: number, level = MAX_DEPTH): boolean {
  if (!kindsCompatible(lb.type(lid), tb.type(tid))) return false;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const l = skipMods(lb, lid);
    const t = skipMods(tb, tid);
    if (!kindsCompatible(l, t)) return false;
    switch (l.kind) {
      case "void":
      case "struct":
      case "union":
      case "enum":
      case "enum64":
      case "fwd":
        return true;
      case "int":
        return intOffset(l) === 0 && intOffset(t) === 0;
      case "ptr":
        lid = l.type;
        tid = (t as typeof l).type;
        continue;
      case "array":
        lid = l.type;
        tid = (t as typeof l).type;
        continue;
      case "func_proto": {
        const tp = t as typeof l;
        if (l.params.length !== tp.params.length) return false;
        if (level <= 0) throw reloError("function prototype nesting too deep");
        for (let i = 0; i < l.params.length; i++) {
          if (!typesAreCompat(lb, l.params[i]!.type, tb, tp.params[i]!.type, level - 1))
            return false;
        }
        lid = l.returnType;
        tid = tp.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  throw reloError("type nesting deeper than 32");
}

function namesMatch(local: string, targ: string): boolean {
  if (!targ) return !local;
  return essentialName(local) === essentialName(targ);
}

/** libbpf's bpf_core_types_match (TYPE_MATCHES): the same shape, member names and int sizes. */
function typesMatch(
  lb: Btf,
  lid: number,
  tb: Btf,
  tid: number,
  behindPtr: boolean,
  level: number,
): boolean {
  if (level <= 0) throw reloError("type nesting too deep");
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const l = skipMods(lb, lid);
    const t = skipMods(tb, tid);
    if (!namesMatch(l.name, t.name)) return false;
    switch (l.kind) {
      case "void":
        return t.kind === "void";
      case "fwd":
        if (behindPtr) {
          if (t.kind === "fwd") return l.union === t.union;
          return (t.kind === "struct" && !l.union) || (t.kind === "union" && l.union);
        }
        return t.kind === "fwd" && l.union === t.union;
      case "enum":
      case "enum64": {
        if (!isAnyEnum(t)) return false;
        const te = t as typeof l;
        if (l.size !== te.size || l.values.length > te.values.length) return false;
        return l.values.every((v) => te.values.some((w) => namesMatch(v.name, w.name)));
      }
      case "struct":
      case "union": {
        if (behindPtr) {
          if (l.kind === t.kind) return true;
          return t.kind === "fwd" && (l.kind === "union") === t.union;
        }
        if (l.kind !== t.kind) return false;
        const tm = (t as typeof l).members;
        if (l.members.length > tm.length) return false;
        return l.members.every((m) =>
          tm.some(
            (n) =>
              namesMatch(m.name, n.name) &&
              typesMatch(lb, m.type, tb, n.type, behindPtr, level - 1),
          ),
        );
      }
      case "int":
        return t.kind === "int" && l.size === t.size && l.signed === t.signed;
      case "ptr":
        if (t.kind !== "ptr") return false;
        behindPtr = true;
        lid = l.type;
        tid = t.type;
        continue;
      case "array":
        if (t.kind !== "array" || l.nelems !== t.nelems) return false;
        lid = l.type;
        tid = t.type;
        continue;
      case "func_proto": {
        if (t.kind !== "func_proto" || l.params.length !== t.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!typesMatch(lb, l.params[i]!.type, tb, t.params[i]!.type, behindPtr, level - 1))
            return false;
        }
        lid = l.returnType;
        tid = t.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  throw reloError("type nesting deeper than 32");
}

/** libbpf's bpf_core_fields_are_compat (field-based relocations). */
function fieldsAreCompat(lb: Btf, lid: number, tb: Btf, tid: number): boolean {
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const l = skipMods(lb, lid);
    const t = skipMods(tb, tid);
    if (isComposite(l) && isComposite(t)) return true;
    if (!kindsCompatible(l, t)) return false;
    switch (l.kind) {
      case "ptr":
      case "float":
        return true;
      case "fwd":
      case "enum":
      case "enum64": {
        const ln = essentialName(l.name);
        const tn = essentialName(t.name);
        return ln === "" || tn === "" || ln === tn;
      }
      case "int":
        return intOffset(l) === 0 && intOffset(t) === 0;
      case "array":
        lid = l.type;
        tid = (t as typeof l).type;
        continue;
      default:
        return false;
    }
  }
  throw reloError("type nesting deeper than 32");
}

/**
 * Finds the local named member in target composite `tid`, looking through
 * anonymous struct/union members; extends `spec` (raw path, accessor, bit
 * offset). The next target type id, or undefined when there is no
 * compatible member.
 */
function matchMember(
  lb: Btf,
  lacc: Accessor,
  tb: Btf,
  tid: number,
  spec: CoreSpec,
): number | undefined {
  const t = skipMods(tb, tid);
  if (t.kind !== "struct" && t.kind !== "union") return undefined;
  const ltype = lb.type(lacc.typeId) as Extract<BtfType, { kind: "struct" | "union" }>;
  const lmem = ltype.members[lacc.idx]!;
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    if (spec.raw.length === MAX_SPEC_LEN) throw reloError("target access path too deep");
    spec.bitOffset += m.bitOffset;
    spec.raw.push(i);
    if (!m.name) {
      const next = matchMember(lb, lacc, tb, m.type, spec);
      if (next !== undefined) return next;
    } else if (m.name === lmem.name) {
      if (!fieldsAreCompat(lb, lmem.type, tb, m.type)) return undefined;
      spec.acc.push({ typeId: t.id, idx: i, name: m.name });
      return m.type;
    }
    spec.bitOffset -= m.bitOffset;
    spec.raw.pop();
  }
  return undefined;
}

/** The target spec for candidate `tid`, or undefined when it does not match. */
function specMatch(local: CoreSpec, kind: number, tb: Btf, tid: number): CoreSpec | undefined {
  const targ: CoreSpec = { btf: tb, rootId: tid, raw: [], acc: [], bitOffset: 0 };
  if (isTypeKind(kind)) {
    const ok =
      kind === K.TYPE_MATCHES
        ? typesMatch(local.btf, local.rootId, tb, tid, false, MAX_DEPTH)
        : typesAreCompat(local.btf, local.rootId, tb, tid);
    return ok ? targ : undefined;
  }
  if (isEnumvalKind(kind)) {
    const t = skipMods(tb, tid);
    if (!isAnyEnum(t)) return undefined;
    const want = essentialName(local.acc[0]!.name!);
    const vals = (t as Extract<BtfType, { kind: "enum" | "enum64" }>).values;
    const i = vals.findIndex((v) => essentialName(v.name) === want);
    if (i < 0) return undefined;
    targ.acc.push({ typeId: t.id, idx: i, name: vals[i]!.name });
    targ.raw.push(i);
    return targ;
  }
  for (let i = 0; i < local.acc.length; i++) {
    const lacc = local.acc[i]!;
    const t = skipMods(tb, tid);
    tid = t.id;
    if (lacc.name !== undefined) {
      const next = matchMember(local.btf, lacc, tb, tid, targ);
      if (next === undefined) return undefined;
      tid = next;
    } else {
      if (i > 0) {
        if (t.kind !== "array") return undefined;
        const prev = targ.acc[targ.acc.length - 1]!;
        if (!isFlexArray(tb, prev, t.nelems) && lacc.idx >= t.nelems) return undefined;
        tid = skipMods(tb, t.type).id;
      }
      if (targ.raw.length === MAX_SPEC_LEN) throw reloError("target access path too deep");
      targ.acc.push({ typeId: tid, idx: lacc.idx });
      targ.raw.push(lacc.idx);
      targ.bitOffset += lacc.idx * sizeOf(tb, tid) * 8;
    }
  }
  return targ;
}

interface Calc {
  val: bigint;
  sz: number;
  typeId: number;
  validate: boolean;
}
const POISON = "poison" as const;

function calcField(kind: number, spec: CoreSpec | undefined): Calc | typeof POISON {
  const out: Calc = { val: 0n, sz: 0, typeId: 0, validate: true };
  if (kind === K.FIELD_EXISTS) {
    out.val = spec ? 1n : 0n;
    return out;
  }
  if (!spec) return POISON;
  const acc = spec.acc[spec.acc.length - 1]!;
  if (acc.name === undefined) {
    // a[n]: only its offset and size make sense
    const sz = sizeOf(spec.btf, acc.typeId);
    if (kind === K.FIELD_BYTE_OFFSET) {
      out.val = BigInt(spec.bitOffset / 8);
      out.sz = sz;
      out.typeId = acc.typeId;
    } else if (kind === K.FIELD_BYTE_SIZE) {
      out.val = BigInt(sz);
    } else {
      throw reloError(`${coreReloKindNames[kind]} cannot apply to an array element`);
    }
    return out;
  }
  const parent = spec.btf.type(acc.typeId) as Extract<BtfType, { kind: "struct" | "union" }>;
  const m = parent.members[acc.idx]!;
  const mt = skipMods(spec.btf, m.type);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = (mt as { size: number }).size;
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    // the smallest load that holds the whole bitfield
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) throw reloError("bitfield cannot be read with a 64-bit load");
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = sizeOf(spec.btf, mt.id);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  out.validate = !bitfield;
  switch (kind) {
    case K.FIELD_BYTE_OFFSET:
      out.val = BigInt(byteOff);
      if (!bitfield) {
        out.sz = byteSz;
        out.typeId = mt.id;
      }
      break;
    case K.FIELD_BYTE_SIZE:
      out.val = BigInt(byteSz);
      break;
    case K.FIELD_SIGNED:
      out.val =
        (isAnyEnum(mt) && (mt as { signed: boolean }).signed) || (mt.kind === "int" && mt.signed)
          ? 1n
          : 0n;
      out.validate = true;
      break;
    case K.FIELD_LSHIFT_U64:
      out.val = BigInt(64 - (bitOff + bitSz - byteOff * 8));
      break;
    case K.FIELD_RSHIFT_U64:
      out.val = BigInt(64 - bitSz);
      out.validate = true;
      break;
  }
  return out;
}

function calcType(kind: number, spec: CoreSpec | undefined): Calc {
  const out: Calc = { val: 0n, sz: 0, typeId: 0, validate: true };
  if (!spec) return out;
  switch (kind) {
    case K.TYPE_ID_TARGET:
      out.val = BigInt(spec.rootId);
      out.validate = false;
      break;
    case K.TYPE_EXISTS:
    case K.TYPE_MATCHES:
      out.val = 1n;
      break;
    case K.TYPE_SIZE:
      out.val = BigInt(sizeOf(spec.btf, spec.rootId));
      break;
  }
  return out;
}

function calcEnumval(kind: number, spec: CoreSpec | undefined): Calc | typeof POISON {
  const out: Calc = { val: 0n, sz: 0, typeId: 0, validate: true };
  if (kind === K.ENUMVAL_EXISTS) {
    out.val = spec ? 1n : 0n;
    return out;
  }
  if (!spec) return POISON;
  const t = spec.btf.type(spec.acc[0]!.typeId) as Extract<BtfType, { kind: "enum" | "enum64" }>;
  out.val = BigInt.asUintN(64, t.values[spec.acc[0]!.idx]!.value);
  return out;
}

function calcRelo(kind: number, local: CoreSpec, targ: CoreSpec | undefined): CoreResult {
  const res: CoreResult = {
    origVal: 0n,
    newVal: 0n,
    poison: false,
    validate: true,
    origSz: 0,
    newSz: 0,
    failMemszAdjust: false,
    text: "",
  };
  const calc = isFieldKind(kind) ? calcField : isTypeKind(kind) ? calcType : calcEnumval;
  const o = calc(kind, local);
  const n = calc(kind, targ);
  if (o === POISON) throw reloError("the program's own type does not resolve");
  res.origVal = o.val;
  res.validate = o.validate;
  res.origSz = o.sz;
  if (n === POISON) {
    res.poison = true;
    return res;
  }
  res.newVal = n.val;
  res.newSz = n.sz;
  if (isFieldKind(kind) && res.origSz !== res.newSz) {
    // Only safe to resize a load of an unsigned int or a pointer (zero extension).
    const ot = local.btf.type(o.typeId);
    const nt = targ!.btf.type(n.typeId);
    const unsignedInt = (t: BtfType) => t.kind === "int" && !(t.signed && !t.char && !t.bool);
    const ok = (ot.kind === "ptr" && nt.kind === "ptr") || (unsignedInt(ot) && unsignedInt(nt));
    res.failMemszAdjust = !ok;
  }
  return res;
}

/** "<byte_off> [12] struct task_struct.pid (0:10 @ offset 2344)", as libbpf prints specs. */
export function formatSpec(kind: number, spec: CoreSpec): string {
  const root = spec.btf.type(spec.rootId);
  let s = `<${coreReloKindNames[kind] ?? kind}> [${spec.rootId}] ${root.kind} ${root.name || "<anon>"}`;
  if (isTypeKind(kind)) return s;
  if (isEnumvalKind(kind)) {
    const a = spec.acc[0]!;
    const t = spec.btf.type(a.typeId) as Extract<BtfType, { kind: "enum" | "enum64" }>;
    return `${s}::${a.name} = ${t.values[a.idx]!.value}`;
  }
  spec.acc.forEach((a, i) => {
    if (a.name !== undefined) s += `.${a.name}`;
    else if (i > 0 || a.idx > 0) s += `[${a.idx}]`;
  });
  const off =
    spec.bitOffset % 8
      ? `${Math.floor(spec.bitOffset / 8)}.${spec.bitOffset % 8}`
      : `${spec.bitOffset / 8}`;
  return `${s} (${spec.raw.join(":")} @ offset ${off})`;
}

/** Candidate target types: same kind (enum/enum64 alike), same essential name. */
export function candidates(local: Btf, localId: number, target: Btf): number[] {
  const lt = local.type(localId);
  const name = essentialName(lt.name);
  const out: number[] = [];
  for (const id of target.idsByEssentialName(name)) {
    if (kindsCompatible(lt, target.type(id))) out.push(id);
  }
  return out;
}

/**
 * Resolves one relocation of `local` against the targets, in order: the first
 * target with a matching candidate decides (the kernel's BTF first, then the
 * program's own BTF for the context types the runtime provides). Throws
 * BpftimeError("bad_object") for malformed relocations and ambiguous matches.
 */
export function resolveCoreRelo(local: Btf, relo: BtfCoreRelo, targets: Btf[]): CoreResult {
  const spec = parseSpec(local, relo);
  if (relo.kind === K.TYPE_ID_LOCAL) {
    const id = BigInt(relo.typeId);
    return {
      origVal: id,
      newVal: id,
      poison: false,
      validate: false,
      origSz: 0,
      newSz: 0,
      failMemszAdjust: false,
      text: formatSpec(relo.kind, spec),
    };
  }
  const rootName = local.type(relo.typeId).name;
  if (!rootName) {
    throw reloError(
      `<${coreReloKindNames[relo.kind]}> relocation on an anonymous type (not supported, as in libbpf)`,
    );
  }
  for (const target of targets) {
    let found: { res: CoreResult; spec: CoreSpec } | undefined;
    for (const id of candidates(local, relo.typeId, target)) {
      const cand = specMatch(spec, relo.kind, target, id);
      if (!cand) continue;
      const res = calcRelo(relo.kind, spec, cand);
      if (!found) {
        found = { res, spec: cand };
      } else if (cand.bitOffset !== found.spec.bitOffset) {
        throw reloError(
          `${formatSpec(relo.kind, spec)}: field offset ambiguity between candidates: ${found.spec.bitOffset / 8} != ${cand.bitOffset / 8}`,
        );
      } else if (res.poison !== found.res.poison || res.newVal !== found.res.newVal) {
        throw reloError(
          `${formatSpec(relo.kind, spec)}: candidates disagree: ${found.res.newVal} != ${res.newVal}`,
        );
      }
    }
    if (found)
      return {
        ...found.res,
        text: `${formatSpec(relo.kind, spec)} => ${formatSpec(relo.kind, found.spec)}`,
      };
  }
  return {
    ...calcRelo(relo.kind, spec, undefined),
    text: `${formatSpec(relo.kind, spec)} => no matching target`,
  };
}
