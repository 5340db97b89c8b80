// Map lifetimes and pins: `bpftime map delete MAP`, `bpftime pin …`,
// `bpftime unpin` and their HTTP routes.
//
// A map is held by the programs that use it, by pins and by live processes
// running code that uses it; the region frees it when the last holder goes
// (native/runtime/lifetimes.c). Pins are region-level names, like bpffs
// paths: `bpftime pin map verdict_counts counters/verdicts`.
import { BpftimeError } from "../errors.ts";
import type { PinInfo, Region } from "../native/index.ts";
import { NativeError } from "../native/index.ts";
import { resolveMap, resolveProgram } from "./resolve.ts";
import { collectMaps } from "./maps.ts";
import { removeMeta } from "./metadata.ts";

/** `bpftime map delete MAP`: removes a map nobody holds; refuses, naming the holders, otherwise. */
export function deleteMapObject(r: Region, ref: string): { deleted: number } {
  const id = resolveMap(r, ref);
  const holders = r.mapHolders(id);
  if (holders)
    throw new BpftimeError(
      "busy",
      `map ${id} (${r.map(id).name}) is held by ${holders}: unload those programs, unpin, or stop those processes first`,
    );
  r.deleteMap(id);
  removeMeta(r.name, "map", id);
  return { deleted: id };
}

export interface PinView {
  name: string;
  kind: "map" | "prog";
  id: number;
  /** The pinned map's or program's own name. */
  objectName: string;
}

function pinView(r: Region, p: PinInfo): PinView {
  let objectName = "";
  try {
    objectName = p.kind === "map" ? r.map(p.objectId).name : r.program(p.objectId).name;
  } catch (e) {
    if (!(e instanceof NativeError)) throw e;
  }
  return { name: p.name, kind: p.kind, id: p.objectId, objectName };
}

export function listPins(r: Region): PinView[] {
  return r.pins().map((p) => pinView(r, p));
}

export function pinObject(r: Region, kind: string, ref: string, name: string): PinView {
  if (kind !== "map" && kind !== "prog")
    throw new BpftimeError("usage", `pin what? "${kind}": use \`bpftime pin map|prog REF NAME\``);
  const id = kind === "map" ? resolveMap(r, ref) : resolveProgram(r, ref);
  r.createPin(name, kind, id);
  return pinView(r, { id: 0, kind, objectId: id, createdNs: 0n, name });
}

export function unpin(r: Region, name: string): { unpinned: string } {
  r.deletePin(name);
  collectMaps(r); // forget the metadata of a map the pin alone held
  return { unpinned: name };
}
