// `bpftime export` and GET /v1/state: the region as a state file that
// `apply` takes, so export → apply to a new region → export gives the same
// file. Entries are exported for the maps that hold data a user sets
// (hash, array, lru_hash, lpm_trie): not per-CPU maps, global data
// (.data/.bss/.rodata: the object sets them), usdt.bpf.h's internal maps or
// frozen maps; array slots that are all zero (every slot exists) are left out.
import { mapTypeName } from "../../enums.ts";
import type { Region } from "../../native/index.ts";
import { formatKey, formatMapValue, openMap, type MapHandle } from "../maps.ts";
import { currentState, userArg } from "./current.ts";
import { STATE_API_VERSION, type StateFile } from "./schema.ts";

const DATA_MAPS = new Set(["hash", "array", "lru_hash", "lpm_trie"]);

export interface ExportOptions {
  /** Also export map entries (default true). */
  entries?: boolean;
}

export interface Exported {
  state: StateFile;
  /** What the region holds that a state file cannot say, one line each (the CLI prints them on stderr). */
  skipped: string[];
}

/** The region as a state file; see the file comment. */
export function exportState(r: Region, o: ExportOptions = {}): Exported {
  const cur = currentState(r);
  const skipped: string[] = [];
  const objects = cur.objects.filter((x) => {
    if (x.path) return true;
    skipped.push(
      `object ${x.name} (programs ${[...x.programs.values()].join(", ")}): loaded by an application, with no object file`,
    );
    return false;
  });
  const names = new Set(objects.map((x) => x.name));
  const inFile = (ref: string) => names.has(ref.slice(0, ref.lastIndexOf("/")));
  const state: StateFile = { apiVersion: STATE_API_VERSION };
  state.objects = objects.map((x) => ({
    name: x.name,
    path: x.path,
    programs: [...x.programs.keys()],
  }));
  state.links = cur.links
    .filter((l) => inFile(l.program))
    .map((l) => ({
      program: l.program,
      type: l.type,
      arg: userArg(l.type, l.arg),
      ...(l.cookie ? { cookie: cookieValue(l.cookie) } : {}),
    }));
  state.pins = [];
  for (const [name, id] of cur.pins) {
    const ref = cur.mapRefs.get(id);
    if (ref && inFile(ref)) state.pins.push({ name, map: ref });
    else skipped.push(`pin ${name}: map ${id} belongs to no object of the file`);
  }
  if (o.entries ?? true) {
    state.entries = [];
    for (const [id, ref] of cur.mapRefs) {
      if (!inFile(ref)) continue;
      const m = openMap(r, String(id));
      if (!exportsEntries(m)) continue;
      for (const e of rawEntries(m)) state.entries.push({ map: ref, ...e });
    }
  }
  return { state, skipped };
}

function exportsEntries(m: MapHandle): boolean {
  return (
    DATA_MAPS.has(mapTypeName(m.info.type)) &&
    !m.meta?.datasec &&
    !m.info.name.startsWith("__bpf_usdt") &&
    !m.r.mapIsFrozen(m.id)
  );
}

/** Every entry, as apply takes it: through BTF when the map has it, else "hex:…". */
function rawEntries(m: MapHandle): Array<{ key: unknown; value: unknown }> {
  const out: Array<{ key: unknown; value: unknown }> = [];
  const array = mapTypeName(m.info.type) === "array";
  const hex = (b: Uint8Array) => `hex:${Buffer.from(b).toString("hex")}`;
  let n = 0;
  for (
    let k = m.r.mapNextKey(m.id, null, m.info.keySize);
    k && n++ <= m.info.maxEntries;
    k = m.r.mapNextKey(m.id, k, m.info.keySize)
  ) {
    const v = m.r.mapLookup(m.id, k, m.info.valueBufSize);
    if (!v || (array && v.every((b) => b === 0))) continue;
    out.push({
      key: m.btf && m.meta?.keyType ? formatKey(m, k) : hex(k),
      value: m.btf && m.meta?.valueType ? formatMapValue(m, v) : hex(v),
    });
  }
  return out;
}

/** A cookie as a JSON number when exact, else a decimal string. */
function cookieValue(c: bigint): number | string {
  return c <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(c) : c.toString();
}
