// What the region does not hold but users want to see: for each map the
// object's BTF (so keys and values print with field names), for each program
// its source object, section, signature and verifier statistics. Kept beside
// the region as /dev/shm/bpftime-<name>.meta/<kind>-<id>.json (0600), written
// by `bpftime load` and removed with the region. The data plane never reads it.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { regionPath } from "../native/index.ts";

export interface MapMeta {
  object?: string;
  /** The object's .BTF section, base64. */
  btf?: string;
  keyType?: number;
  valueType?: number;
  keyTypeName?: string;
  valueTypeName?: string;
  /**
   * Global data (.bss/.data/.rodata): the value type's DATASEC size and
   * variable offsets as libbpf fixes them up from the ELF (clang leaves 0s
   * in the .BTF bytes stored above).
   */
  datasec?: { size: number; offsets: number[] };
}

export interface ProgMeta {
  object?: string;
  /** SHA-256 of the object file's bytes (hex): `apply` tells a changed object from an unchanged one. */
  sha256?: string;
  /** The object's name in a state file (`bpftime apply`); programs loaded together share it. */
  objectName?: string;
  section?: string;
  signature?: string;
  verifier?: {
    insnsProcessed: number;
    statesExplored: number;
    statesPruned: number;
    peakStates: number;
  };
  mapNames?: string[];
}

function dir(region: string): string {
  return `${regionPath(region)}.meta`;
}

/** Writes the sidecar record of map or program `id` of `region`. */
export function writeMeta(
  region: string,
  kind: "map" | "prog",
  id: number,
  meta: MapMeta | ProgMeta,
): void {
  const d = dir(region);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync(join(d, `${kind}-${id}.json`), JSON.stringify(meta), { mode: 0o600 });
}

/** The sidecar record of map or program `id`, if any. */
export function readMeta<T extends MapMeta | ProgMeta>(
  region: string,
  kind: "map" | "prog",
  id: number,
): T | undefined {
  try {
    return JSON.parse(readFileSync(join(dir(region), `${kind}-${id}.json`), "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** Removes one record, or every record of the region. */
export function removeMeta(region: string, kind?: "map" | "prog", id?: number): void {
  if (kind && id !== undefined) rmSync(join(dir(region), `${kind}-${id}.json`), { force: true });
  else rmSync(dir(region), { recursive: true, force: true });
}

/** Ids that have metadata of `kind` (maps the data plane freed leave theirs behind). */
export function metaIds(region: string, kind: "map" | "prog"): number[] {
  let names: string[];
  try {
    names = readdirSync(dir(region));
  } catch {
    return [];
  }
  const re = new RegExp(`^${kind}-(\\d+)\\.json$`);
  return names.flatMap((n) => {
    const m = re.exec(n);
    return m ? [Number(m[1])] : [];
  });
}
