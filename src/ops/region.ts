// The region as a whole for the HTTP API: GET /v1/region (what `bpftime shm
// info` shows) and the run-time statistics switch, like the kernel's
// kernel.bpf_stats_enabled: when on, every program run adds to its
// runCount/runTimeNs.
import { statSync } from "node:fs";
import { regionPath, type Region, type RegionInfo } from "../native/index.ts";

export interface RegionView {
  name: string;
  path: string;
  size: number;
  createdNs: string;
  generation: string;
  heapUsed: number;
  heapSize: number;
  layoutVersion: number;
  ncpus: number;
  statsEnabled: boolean;
  programs: number;
  maps: number;
  targets: number;
  links: number;
  instances: number;
}

/** The region's size, heap use, generation and object counts (`bpftime shm info`, GET /v1/region). */
export function regionView(r: Region): RegionView {
  const i: RegionInfo = r.info();
  return {
    name: i.name,
    path: i.path,
    size: i.size,
    createdNs: i.createdNs.toString(),
    generation: i.generation.toString(),
    heapUsed: i.heapUsed,
    heapSize: i.heapSize,
    layoutVersion: i.layoutVersion,
    ncpus: i.ncpus,
    statsEnabled: i.statsEnabled,
    programs: r.programIds().length,
    maps: r.mapIds().length,
    targets: r.targetIds().length,
    links: r.linkIds().length,
    instances: r.instanceIds().length,
  };
}

/** Turns run-time statistics on or off; returns the new state. */
export function setStats(r: Region, enabled: boolean): { statsEnabled: boolean } {
  r.setStats(enabled);
  return { statsEnabled: r.info().statsEnabled };
}

/**
 * Which region file a name means now (device and inode), or null when there
 * is none: a long-lived reader compares it with the one it opened to notice
 * that the region was removed or created again.
 */
export function regionIdentity(name: string): string | null {
  try {
    const st = statSync(regionPath(name));
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}
