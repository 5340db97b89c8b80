// Region life cycle: shared by `bpftime shm …` and the HTTP API.
import { BpftimeError } from "../errors.ts";
import { removeMeta } from "./metadata.ts";
import { Region, regionName, removeRegion, type RegionInfo } from "../native/index.ts";

/** "64M", "1G", "4096" → bytes; usage error otherwise. */
export function parseSize(v: string): number {
  const m = /^(\d+)([kmg]?)i?b?$/i.exec(v.trim());
  if (!m) throw new BpftimeError("usage", `bad size "${v}": use a number of bytes or 64M, 1G, …`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    m[2]!.toLowerCase() as "" | "k" | "m" | "g"
  ];
  return Number(m[1]) * mult;
}

/** Creates region `name` of `size` bytes (0: the default) (`bpftime shm create`). */
export function createRegion(name?: string, size = 0): RegionInfo {
  const r = Region.create(name, size);
  try {
    return r.info();
  } finally {
    r.close();
  }
}

/** Region `name`'s info and object counts (`bpftime shm info`). */
export function regionInfo(name?: string): RegionInfo & {
  programs: number;
  maps: number;
  targets: number;
  links: number;
  instances: number;
} {
  const r = Region.open(name);
  try {
    return {
      ...r.info(),
      programs: r.programIds().length,
      maps: r.mapIds().length,
      targets: r.targetIds().length,
      links: r.linkIds().length,
      instances: r.instanceIds().length,
    };
  } finally {
    r.close();
  }
}

/** Removes region `name` and its sidecar metadata; returns its name (`bpftime shm remove`). */
export function deleteRegion(name?: string): string {
  const n = regionName(name);
  removeRegion(n);
  removeMeta(n);
  return n;
}

/** Runs fn with the region open, closing it afterwards. */
export function withRegion<T>(name: string | undefined, fn: (r: Region) => T): T {
  const r = Region.open(name);
  try {
    return fn(r);
  } finally {
    r.close();
  }
}
