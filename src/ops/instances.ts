// Processes that instantiated a region's programs, with what `bpftime list`
// shows plus when they started and how long ago they last showed life:
// GET /v1/instances and the server's /metrics.
import { readFileSync } from "node:fs";
import { monotonicNs, type InstanceInfo, type LinkError, type Region } from "../native/index.ts";

export interface InstanceView {
  id: number;
  pid: number;
  alive: boolean;
  links: number[];
  heartbeatNs: string;
  generationSeen: string;
  /** links that failed to attach in this process (the first few), with why */
  linkErrors: LinkError[];
  /** how many links failed in all */
  failedLinks: number;
}

export interface InstanceDetail extends InstanceView {
  /** Process start (wall clock, ISO 8601) from /proc's start time; null when unknown. */
  startedAt: string | null;
  /** Milliseconds since the instance's last heartbeat (both CLOCK_MONOTONIC). */
  heartbeatAgeMs: number;
}

const CLK_TCK = 100; // USER_HZ on Linux, what /proc/<pid>/stat's starttime counts in

function bootTimeSeconds(): number | undefined {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** One instance as `bpftime list` shows it. */
export function instanceView(i: InstanceInfo): InstanceView {
  return {
    id: i.id,
    pid: i.pid,
    alive: i.alive,
    links: i.linkIds,
    heartbeatNs: i.heartbeatNs.toString(),
    generationSeen: i.generationSeen.toString(),
    linkErrors: i.linkErrors,
    failedLinks: i.failedLinks,
  };
}

/**
 * Each instance with its start time and heartbeat age, as `bpftime list
 * --json`, GET /v1/snapshot and GET /v1/instances all show it.
 */
export function detailInstances(instances: readonly InstanceInfo[]): InstanceDetail[] {
  const boot = bootTimeSeconds();
  // Not process.hrtime: Bun counts that from its own start, not on CLOCK_MONOTONIC.
  const now = monotonicNs();
  return instances.map((i) => ({
    ...instanceView(i),
    startedAt:
      boot !== undefined && i.startTime > 0n
        ? new Date((boot + Number(i.startTime) / CLK_TCK) * 1000).toISOString()
        : null,
    heartbeatAgeMs: now > i.heartbeatNs ? Number((now - i.heartbeatNs) / 1000n) / 1000 : 0,
  }));
}

/** The processes that instantiated the region: pid, links, start, heartbeat, alive (GET /v1/instances). */
export function instanceDetails(r: Region): InstanceDetail[] {
  r.reapInstances(); // as `bpftime list`: dead processes are not instances
  return detailInstances(r.instanceIds().map((id) => r.instance(id)));
}
