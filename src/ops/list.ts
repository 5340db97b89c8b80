// One snapshot of everything in a region: `bpftime list` and GET /v1/…
import type { Region } from "../native/index.ts";
import { detailInstances, type InstanceDetail } from "./instances.ts";
import { programTypeName } from "../attach/index.ts";
import { formatTargetArg, targetTypeName } from "../attach/index.ts";
import { mapTypeName } from "../enums.ts";
import { engineOf, type Engine } from "./optimize.ts";

export interface ProgramView {
  id: number;
  name: string;
  type: string;
  insnCount: number;
  attachHint: string;
  license: string;
  runCount: string;
  runTimeNs: string;
  links: number[];
  /** llvm: loaded with --opt (each process falls back to the JIT if its image is refused) */
  engine: Engine;
}
export interface MapView {
  id: number;
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}
export interface TargetView {
  id: number;
  type: string;
  arg: string;
}
export interface LinkView {
  id: number;
  progId: number;
  targetId: number;
  targetType: string;
  arg: string;
  /** pids of live processes that instantiated this link */
  pids: number[];
  /** processes where this link failed to attach (or waits: waiting true), and why */
  errors: Array<{ pid: number; waiting: boolean; message: string }>;
}
export interface RegionSnapshot {
  region: string;
  generation: string;
  programs: ProgramView[];
  maps: MapView[];
  targets: TargetView[];
  links: LinkView[];
  instances: InstanceDetail[];
}

/** One program as `bpftime list` shows it (type name, links, run statistics). */
export function programView(
  r: Region,
  id: number,
  links = r.linkIds().map((l) => r.link(l)),
): ProgramView {
  const p = r.program(id);
  return {
    id,
    name: p.name,
    type: programTypeName(p.type, p.attachHint),
    insnCount: p.insnCount,
    attachHint: p.attachHint,
    license: p.license,
    runCount: p.runCount.toString(),
    runTimeNs: p.runTimeNs.toString(),
    links: links.filter((l) => l.progId === id).map((l) => l.id),
    engine: engineOf(r, id),
  };
}

/** One map as `bpftime map list` shows it. */
export function mapView(r: Region, id: number): MapView {
  const m = r.map(id);
  return {
    id,
    name: m.name,
    type: mapTypeName(m.type),
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    flags: m.flags,
  };
}

/** Everything in the region at once: programs, maps, targets, links, instances (`bpftime list --json`, GET /v1/snapshot). */
export function snapshot(r: Region): RegionSnapshot {
  // A process that died without cleaning up (crash, SIGKILL) leaves its
  // instance record: drop those first, so what is listed is what runs.
  r.reapInstances();
  const links = r.linkIds().map((id) => r.link(id));
  const targets = new Map(r.targetIds().map((id) => [id, r.target(id)]));
  const instances = r.instanceIds().map((id) => r.instance(id));
  return {
    region: r.name,
    generation: r.generation().toString(),
    programs: r.programIds().map((id) => programView(r, id, links)),
    maps: r.mapIds().map((id) => mapView(r, id)),
    targets: [...targets.values()].map((t) => ({
      id: t.id,
      type: targetTypeName(t.type),
      arg: formatTargetArg(t.arg),
    })),
    links: links.map((l) => {
      const t = targets.get(l.targetId);
      return {
        id: l.id,
        progId: l.progId,
        targetId: l.targetId,
        targetType: t ? targetTypeName(t.type) : "?",
        arg: t ? formatTargetArg(t.arg) : "",
        // Hooked there: attached, and not waiting for its binary.
        pids: instances
          .filter(
            (i) =>
              i.alive && i.linkIds.includes(l.id) && !i.linkErrors.some((e) => e.linkId === l.id),
          )
          .map((i) => i.pid),
        errors: instances.flatMap((i) =>
          i.linkErrors
            .filter((e) => e.linkId === l.id)
            .map((e) => ({ pid: i.pid, waiting: e.errno === 0, message: e.message })),
        ),
      };
    }),
    instances: detailInstances(instances),
  };
}
