// Helper prototypes, parsed at import time from the one table the C runtime
// also compiles (native/runtime/helpers.def), so the verifier and the runtime
// can never disagree about which helpers exist and what they take.

import text from "../../native/runtime/helpers.def" with { type: "text" };

export const RET_KINDS = [
  "RET_INTEGER",
  "RET_VOID",
  "RET_MAP_VALUE_OR_NULL",
  "RET_MEM_OR_NULL",
] as const;
export type RetKind = (typeof RET_KINDS)[number];

export const ARG_KINDS = [
  "NONE",
  "ANYTHING",
  "CONST_MAP_PTR",
  "MAP_KEY",
  "MAP_VALUE",
  "UNINIT_MAP_VALUE",
  "MEM",
  "UNINIT_MEM",
  "CONST_SIZE",
  "CONST_SIZE_OR_ZERO",
  "CTX",
  "ALLOC_MEM",
  "CONST_ALLOC_SIZE",
  "CONST_STR",
  "USER_PTR",
] as const;
export type ArgKind = (typeof ARG_KINDS)[number];

/** Which program types may call a helper (helpers.def's last column; contexts.ts maps types to classes). */
export const HELPER_CLASSES = ["BASE", "TRACING", "WRITE_USER"] as const;
export type HelperClass = (typeof HELPER_CLASSES)[number];

export interface HelperProto {
  id: number;
  name: string;
  ret: RetKind;
  args: ArgKind[]; // always 5 entries
  class: HelperClass;
}

export function parseHelpers(src: string): HelperProto[] {
  const out: HelperProto[] = [];
  const re = /^\s*BPF_HELPER\(([^)]*)\)/gm;
  for (const m of src.matchAll(re)) {
    const f = m[1]!.split(",").map((s) => s.trim());
    if (f.length !== 9) throw new Error(`helpers.def: bad line ${m[0]}`);
    const [id, name, ret, ...rest] = f as [string, string, string, ...string[]];
    const args = rest.slice(0, 5);
    const klass = rest[5]!;
    if (!(HELPER_CLASSES as readonly string[]).includes(klass))
      throw new Error(`helpers.def: unknown class ${klass} for ${name}`);
    if (!(RET_KINDS as readonly string[]).includes(ret))
      throw new Error(`helpers.def: unknown return kind ${ret} for ${name}`);
    for (const a of args)
      if (!(ARG_KINDS as readonly string[]).includes(a))
        throw new Error(`helpers.def: unknown argument kind ${a} for ${name}`);
    out.push({
      id: Number(id),
      name,
      ret: ret as RetKind,
      args: args as ArgKind[],
      class: klass as HelperClass,
    });
  }
  return out;
}

export const helpers: readonly HelperProto[] = parseHelpers(text);
export const helperById: ReadonlyMap<number, HelperProto> = new Map(helpers.map((h) => [h.id, h]));
export const helperByName: ReadonlyMap<string, HelperProto> = new Map(
  helpers.map((h) => [h.name, h]),
);
