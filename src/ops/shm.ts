// Region life cycle: shared by `bpftime shm …` and the HTTP API.
import { BpftimeError } from "../errors.ts";
import { removeMeta } from "./metadata.ts";
import { Region, regionName, removeRegion, type RegionInfo } from "../native/index.ts";

export function parseSize(v: string): number {
  const m = /^(\d+)([kmg]?)i?b?$/i.exec(v.trim());
  if (!m) throw new BpftimeError("usage", `bad size "${v}": use a number of bytes or 64M, 1G, …`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    m[2]!.toLowerCase() as "" | "k" | "m" | "g"
  ];
  return Number(m[1]) * mult;
}

export function createRegion(name?: string, size = 0): RegionInfo {
  const r = Region.create(name, size);
  try {
    return r.info();
  } finally {
    r.close();
  }
}

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
