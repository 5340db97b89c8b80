// What the kernel does not keep about a loaded object (the object path, each
// program's SEC() and attach hint), kept in the kernel anyway: a one-element
// array map "bpftime_meta" pinned as <object>/meta holding a u32 length then
// JSON. It lives exactly as long as the pins: no sidecar file to go stale.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { closeFd, mapCreate, mapInfo, mapLookup, mapUpdate, pinFd } from "../../native/index.ts";
import { objectDir, withPinned } from "./pins.ts";
import { progTypeName } from "../../enums.ts";

export interface KernelMeta {
  version: 1;
  object: string;
  loadedAt: string;
  programs: Record<string, { section: string; type: string; attachHint: string }>;
}

const META_MAP = "bpftime_meta";

export function writeMeta(dir: string, meta: KernelMeta): void {
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const value = new Uint8Array(4 + json.length);
  new DataView(value.buffer).setUint32(0, json.length, true);
  value.set(json, 4);
  const fd = mapCreate(2 /* array */, META_MAP, 4, value.length, 1);
  try {
    mapUpdate(fd, new Uint8Array(4), value);
    pinFd(fd, join(dir, "meta"));
  } finally {
    closeFd(fd);
  }
}

export function readMeta(name: string): KernelMeta | undefined {
  const path = join(objectDir(name), "meta");
  if (!existsSync(path)) return undefined;
  try {
    return withPinned(path, (fd) => {
      const info = mapInfo(fd);
      const v = mapLookup(fd, new Uint8Array(4), info.valueSize);
      if (!v) return undefined;
      const len = new DataView(v.buffer, v.byteOffset).getUint32(0, true);
      return JSON.parse(new TextDecoder().decode(v.subarray(4, 4 + len))) as KernelMeta;
    });
  } catch {
    return undefined;
  }
}

/** The kernel's name of a program type, for programs loaded without our metadata. */
export function kernelProgTypeName(t: number): string {
  return progTypeName(t) ?? `type ${t}`;
}
