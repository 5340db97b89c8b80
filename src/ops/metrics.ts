// Numbers a monitoring system scrapes (the server's /metrics renders them in
// Prometheus text format): per program run count and run time (counted while
// the region's statistics switch is on), per map entry count, per link and
// per instance.
import type { Region } from "../native/index.ts";
import { snapshot } from "./list.ts";
import { countEntries, openMap } from "./maps.ts";
import { instanceDetails } from "./instances.ts";

export type Labels = Record<string, string | number>;

export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: Array<{ labels: Labels; value: number | bigint }>;
}

const KEYLESS = new Set(["queue", "stack", "ringbuf", "perf_event_array"]);

function entriesOf(r: Region, id: number): number | undefined {
  try {
    return countEntries(openMap(r, String(id)));
  } catch {
    return undefined; // deleted meanwhile, or a map kind without iteration
  }
}

/** Program runs and run time, map entries, links and instances as metric families (`bpftime metrics`, GET /metrics). */
export function collectMetrics(r: Region): MetricFamily[] {
  const s = snapshot(r);
  const info = r.info();
  const instances = instanceDetails(r);
  const fam = (
    name: string,
    type: MetricFamily["type"],
    help: string,
    samples: MetricFamily["samples"],
  ): MetricFamily => ({ name, type, help, samples });
  const prog = (p: (typeof s.programs)[number]) => ({ id: p.id, name: p.name, type: p.type });
  const map = (m: (typeof s.maps)[number]) => ({ id: m.id, name: m.name, type: m.type });
  return [
    fam("bpftime_region_generation", "gauge", "change counter of the region's objects", [
      { labels: {}, value: info.generation },
    ]),
    fam("bpftime_region_heap_used_bytes", "gauge", "bytes of the region's heap in use", [
      { labels: {}, value: info.heapUsed },
    ]),
    fam("bpftime_region_heap_size_bytes", "gauge", "size of the region's heap", [
      { labels: {}, value: info.heapSize },
    ]),
    fam("bpftime_stats_enabled", "gauge", "1 when program run statistics are being counted", [
      { labels: {}, value: info.statsEnabled ? 1 : 0 },
    ]),
    fam(
      "bpftime_program_run_count_total",
      "counter",
      "program runs counted while statistics were enabled",
      s.programs.map((p) => ({ labels: prog(p), value: BigInt(p.runCount) })),
    ),
    fam(
      "bpftime_program_run_time_seconds_total",
      "counter",
      "time spent in program runs counted while statistics were enabled",
      s.programs.map((p) => ({ labels: prog(p), value: Number(p.runTimeNs) / 1e9 })),
    ),
    fam(
      "bpftime_program_instructions",
      "gauge",
      "instructions of the stored program",
      s.programs.map((p) => ({ labels: prog(p), value: p.insnCount })),
    ),
    fam(
      "bpftime_program_links",
      "gauge",
      "links running the program",
      s.programs.map((p) => ({ labels: prog(p), value: p.links.length })),
    ),
    fam(
      "bpftime_map_entries",
      "gauge",
      "entries in the map (maps with keys)",
      s.maps
        .filter((m) => !KEYLESS.has(m.type))
        .flatMap((m) => {
          const n = entriesOf(r, m.id);
          return n === undefined ? [] : [{ labels: map(m), value: n }];
        }),
    ),
    fam(
      "bpftime_map_max_entries",
      "gauge",
      "capacity of the map",
      s.maps.map((m) => ({ labels: map(m), value: m.maxEntries })),
    ),
    fam(
      "bpftime_map_lost_records_total",
      "counter",
      "records a ringbuf or perf event array dropped because it was full",
      s.maps
        .filter((m) => m.type === "ringbuf" || m.type === "perf_event_array")
        .map((m) => ({ labels: map(m), value: r.ringbufLost(m.id) })),
    ),
    fam(
      "bpftime_link_info",
      "gauge",
      "one per link: its program and attach target",
      s.links.map((l) => ({
        labels: {
          id: l.id,
          prog_id: l.progId,
          target_id: l.targetId,
          target_type: l.targetType,
          arg: l.arg,
        },
        value: 1,
      })),
    ),
    fam(
      "bpftime_link_instances",
      "gauge",
      "live processes that instantiated the link",
      s.links.map((l) => ({ labels: { id: l.id, prog_id: l.progId }, value: l.pids.length })),
    ),
    fam(
      "bpftime_instance_alive",
      "gauge",
      "1 while the process that instantiated the region runs",
      instances.map((i) => ({ labels: { id: i.id, pid: i.pid }, value: i.alive ? 1 : 0 })),
    ),
    fam(
      "bpftime_instance_links",
      "gauge",
      "links the process instantiated",
      instances.map((i) => ({ labels: { id: i.id, pid: i.pid }, value: i.links.length })),
    ),
    fam(
      "bpftime_instance_heartbeat_age_seconds",
      "gauge",
      "time since the process last showed life",
      instances.map((i) => ({ labels: { id: i.id, pid: i.pid }, value: i.heartbeatAgeMs / 1000 })),
    ),
  ];
}
