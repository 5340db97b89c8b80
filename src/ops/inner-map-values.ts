// Values of maps of maps (array_of_maps, hash_of_maps) at the control plane:
// the region stores inner map ids; `map dump`/`lookup` show the id with the
// map's name, and `map update` takes an inner map by id or name (as bpftool
// takes `value id N` / `value name NAME`).
import type { Region } from "../native/index.ts";
import { resolveMap } from "./resolve.ts";

/** A stored inner map id as `{ id, name }` (name null if the map is gone). */
export function formatInnerMap(r: Region, b: Uint8Array): { id: number; name: string | null } {
  const id = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  let name: string | null = null;
  try {
    name = r.map(id).name;
  } catch {
    /* gone meanwhile */
  }
  return { id, name };
}

/** An inner map given as id or unique name (a JSON {"id": N} too) as the 4 bytes stored. */
export function parseInnerMap(r: Region, text: string): Uint8Array {
  let ref = text;
  try {
    const j = JSON.parse(text) as unknown;
    if (j && typeof j === "object" && "id" in j) ref = String((j as { id: unknown }).id);
  } catch {
    /* a plain id or name */
  }
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, resolveMap(r, ref), true);
  return b;
}
