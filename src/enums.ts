// The kernel enums bpftime shares with its C side, parsed at import time from
// the one table of each (native/runtime/map_types.def, prog_types.def) that
// the C runtime also compiles: map types and program types are written once.
// (Error numbers: src/native/errno.ts, from native/common/errno.def.)

import mapText from "../native/runtime/map_types.def" with { type: "text" };
import progText from "../native/runtime/prog_types.def" with { type: "text" };

/** Lines `NAME(a, b, …)` of a .def table, split into trimmed fields. */
function defLines(src: string, macro: string, fields: number): string[][] {
  const out: string[][] = [];
  for (const m of src.matchAll(new RegExp(`^\\s*${macro}\\(([^)]*)\\)`, "gm"))) {
    const f = m[1]!.split(",").map((s) => s.trim());
    if (f.length !== fields) throw new Error(`${macro}: bad line ${m[0]}`);
    out.push(f);
  }
  return out;
}

// ---------------------------------------------------------------- map types

export const MAP_FLAGS = [
  "MAP_F_IMPL",
  "MAP_F_PERCPU",
  "MAP_F_KEYLESS",
  "MAP_F_STREAM",
  "MAP_F_OUTER",
] as const;
export type MapFlag = (typeof MAP_FLAGS)[number];

export interface MapTypeEntry {
  /** the kernel's enum bpf_map_type value */
  id: number;
  /** "percpu_hash" */
  name: string;
  /** implemented by the runtime (others are only named) */
  impl: boolean;
  /** one value per CPU */
  perCpu: boolean;
  /** no keys: queue, stack, ringbuf */
  keyless: boolean;
  /** records read in order by `bpftime events` */
  stream: boolean;
  /** a map of maps: values are inner map ids (array_of_maps, hash_of_maps) */
  outer: boolean;
  /** the flags as the C side sees them (BPFTIME_MAP_F_*: IMPL 1, PERCPU 2, KEYLESS 4, STREAM 8, OUTER 16) */
  flagBits: number;
}

export function parseMapTypes(src: string): MapTypeEntry[] {
  return defLines(src, "BPF_MAP_TYPE", 4).map(([id, , name, flags]) => {
    const set = new Set(flags === "0" ? [] : flags!.split("|").map((s) => s.trim()));
    for (const f of set)
      if (!(MAP_FLAGS as readonly string[]).includes(f))
        throw new Error(`map_types.def: unknown flag ${f} for ${name}`);
    const has = (f: MapFlag) => set.has(f);
    return {
      id: Number(id),
      name: name!,
      impl: has("MAP_F_IMPL"),
      perCpu: has("MAP_F_PERCPU"),
      keyless: has("MAP_F_KEYLESS"),
      stream: has("MAP_F_STREAM"),
      outer: has("MAP_F_OUTER"),
      flagBits: MAP_FLAGS.reduce((bits, f, i) => bits | (has(f) ? 1 << i : 0), 0),
    };
  });
}

export const mapTypes: readonly MapTypeEntry[] = parseMapTypes(mapText);
const mapById = new Map(mapTypes.map((t) => [t.id, t]));
const mapByName = new Map(mapTypes.map((t) => [t.name, t]));

/** The table's entry for a kernel map type number (undefined if unlisted). */
export function mapType(id: number): MapTypeEntry | undefined {
  return mapById.get(id);
}

/** "percpu_hash" for 5; "unknown(N)" for a number the table does not list. */
export function mapTypeName(id: number): string {
  return mapById.get(id)?.name ?? `unknown(${id})`;
}

/** The entry for "array", "BPF_MAP_TYPE_ARRAY" or 2; undefined if unlisted. */
export function mapTypeOf(t: string | number): MapTypeEntry | undefined {
  if (typeof t === "number") return mapById.get(t);
  return mapByName.get(t.toLowerCase().replace(/^bpf_map_type_/, ""));
}

/** The kernel id of a listed map type name ("array" → 2); throws on a name not in the table. */
export function mapTypeId(name: string): number {
  const t = mapByName.get(name);
  if (!t) throw new Error(`map_types.def has no map type ${name}`);
  return t.id;
}

// ------------------------------------------------------------ program types

export interface ProgTypeEntry {
  /** stored in the region: the kernel's enum bpf_prog_type, or 0x1000+ for bpftime's own */
  id: number;
  /** "xdp"; for a flavour, the verifier context name ("uretprobe") */
  name: string;
  /** bpftime loads and runs it (the verifier has its context) */
  runs: boolean;
  /** a second verifier context stored as the same id (kprobe's attach flavours) */
  flavour: boolean;
  /** the kernel has this type (id below 0x1000) */
  kernel: boolean;
}

export function parseProgTypes(src: string): ProgTypeEntry[] {
  const types = defLines(src, "BPF_PROG_TYPE", 4).map(([id, , name, runs]) => ({
    id: Number(id),
    name: name!,
    runs: runs === "1",
    flavour: false,
    kernel: Number(id) < 0x1000,
  }));
  const flavours = defLines(src, "BPF_PROG_FLAVOUR", 2).map(([id, name]) => {
    const base = types.find((t) => t.id === Number(id));
    if (!base) throw new Error(`prog_types.def: flavour ${name} of unknown type ${id}`);
    return { ...base, name: name!, flavour: true };
  });
  return [...types, ...flavours];
}

export const progTypes: readonly ProgTypeEntry[] = parseProgTypes(progText);
const progByName = new Map(progTypes.map((t) => [t.name, t]));
const progById = new Map(progTypes.filter((t) => !t.flavour).map((t) => [t.id, t]));

/** The stored id of a program type or flavour name ("uprobe" → 2); throws on a name not in the table. */
export function progTypeId(name: string): number {
  const t = progByName.get(name);
  if (!t) throw new Error(`prog_types.def has no program type ${name}`);
  return t.id;
}

/** The table's name of a stored program type ("xdp" for 6), undefined if unlisted. */
export function progTypeName(id: number): string | undefined {
  return progById.get(id)?.name;
}

/** Names bpftime runs (types and flavours): what the verifier must have a context for. */
export const runnableProgTypes: readonly string[] = progTypes
  .filter((t) => t.runs)
  .map((t) => t.name);
