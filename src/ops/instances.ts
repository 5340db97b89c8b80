// Processes that instantiated a region's programs, with what `bpftime list`
// shows plus when they started and how long ago they last showed life:
// GET /v1/instances and the server's /metrics.
import { readFileSync } from "node:fs";
import { monotonicNs, type Region } from "../native/index.ts";
import { instanceView, type InstanceView } from "./list.ts";

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

/** The processes that instantiated the region: pid, links, start, heartbeat, alive (GET /v1/instances). */
export function instanceDetails(r: Region): InstanceDetail[] {
  const boot = bootTimeSeconds();
  r.reapInstances(); // as `bpftime list`: dead processes are not instances
  // Not process.hrtime: Bun counts that from its own start, not on CLOCK_MONOTONIC.
  const now = monotonicNs();
  return r.instanceIds().map((id) => {
    const i = r.instance(id);
    const started =
      boot !== undefined && i.startTime > 0n
        ? new Date((boot + Number(i.startTime) / CLK_TCK) * 1000).toISOString()
        : null;
    return {
      ...instanceView(i),
      startedAt: started,
      heartbeatAgeMs: now > i.heartbeatNs ? Number((now - i.heartbeatNs) / 1000n) / 1000 : 0,
    };
  });
}
