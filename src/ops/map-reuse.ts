// Which live map a map of a new object takes over, as libbpf does for
// LIBBPF_PIN_BY_NAME: a map pinned under the map's name, or with
// --reuse-maps a unique live map of that name. The new program then works on
// the old version's state (counters, rate limits), and `replace` keeps it.
// Read-only data (.rodata, BPF_F_RDONLY_PROG) is the new version's constants:
// never reused, never pinned.
import { BpftimeError } from "../errors.ts";
import type { MapSpec } from "../elf/index.ts";
import type { Region } from "../native/index.ts";

export interface ReuseOptions {
  /** Pin every map of the object under its name (as if each had LIBBPF_PIN_BY_NAME). */
  pinMaps?: boolean;
  /** Take over live maps of the same name (pinned, or the only one of that name). */
  reuseMaps?: boolean;
}

/** Whether the map gets (or keeps) a pin under its name. */
export function wantsPin(m: MapSpec, o: ReuseOptions): boolean {
  return !m.readOnly && (m.pinning === 1 || !!o.pinMaps);
}

/** The id of the live map `m` reuses, or undefined to create a new one. Throws on a mismatch. */
export function mapToReuse(
  r: Region,
  file: string,
  m: MapSpec,
  o: ReuseOptions,
): number | undefined {
  if (m.readOnly || !(wantsPin(m, o) || o.reuseMaps)) return undefined;
  const pinned = r.pins().find((p) => p.kind === "map" && p.name === m.name);
  let id = pinned?.objectId;
  if (id === undefined && o.reuseMaps) {
    const same = r.mapIds().filter((x) => r.map(x).name === m.name);
    if (same.length > 1)
      throw new BpftimeError(
        "usage",
        `${file}: cannot reuse map ${m.name}: ${same.length} live maps have that name (ids ${same.join(", ")}); pin the one to keep with \`bpftime pin map ID ${m.name}\``,
      );
    id = same[0];
  }
  if (id === undefined) return undefined;
  const live = r.map(id);
  const fields: Array<[string, number, number]> = [
    ["type", live.type, m.type],
    ["key_size", live.keySize, m.keySize],
    ["value_size", live.valueSize, m.valueSize],
    ["max_entries", live.maxEntries, m.maxEntries],
    ["map_flags", live.flags, m.flags],
  ];
  // perf_event_array's max_entries 0 means "one per CPU", which the region fills in
  const bad = fields.find(([f, a, b]) => a !== b && !(f === "max_entries" && m.type === 4 && !b));
  if (bad)
    throw new BpftimeError(
      "invalid_argument",
      `${file}: cannot reuse map ${m.name} (id ${id}${pinned ? `, pinned as ${pinned.name}` : ""}): its ${bad[0]} is ${bad[1]}, the object's is ${bad[2]}; unpin or unload the old version, or load without reusing maps`,
    );
  return id;
}
