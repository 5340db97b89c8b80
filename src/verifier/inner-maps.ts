// Maps of maps in the verifier. bpf_map_lookup_elem on an array_of_maps or
// hash_of_maps returns a map pointer or NULL (the kernel's
// PTR_TO_MAP_VALUE_OR_NULL with its inner_map_meta as the map); after a NULL
// check the register is a map_ptr that map helpers take, typed by the outer
// map's inner-map template. The templates are appended to the program's map
// list as maps of their own (never reachable through lddw, which checks the
// program's map count), so every later check of a map pointer — helper map
// types, key and value sizes, value bounds — applies to them unchanged.
import { mapTypeOf } from "../enums.ts";
import type { MapInfo } from "./verifier.ts";

export const isOuterMap = (m: MapInfo): boolean => mapTypeOf(m.type)?.outer ?? false;

export interface InnerMaps {
  /** the program's maps, then one template per outer map */
  maps: MapInfo[];
  /** outer map index → its template's index in `maps` */
  templateOf: Map<number, number>;
}

/** The program's maps with the inner-map templates of its outer maps appended. */
export function withInnerTemplates(maps: readonly MapInfo[]): InnerMaps {
  const all = [...maps];
  const templateOf = new Map<number, number>();
  maps.forEach((m, i) => {
    if (!isOuterMap(m)) return;
    if (!m.inner)
      throw new Error(`map ${m.name ?? i} is a map of maps without an inner-map template`);
    templateOf.set(i, all.length);
    all.push({ ...m.inner, name: m.inner.name ?? `${m.name ?? i}.inner` });
  });
  return { maps: all, templateOf };
}
