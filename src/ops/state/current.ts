// What a region holds, in the words of a state file: objects (the programs
// one load stored, with their maps), links by OBJECT/PROGRAM and the target
// as `attach` takes it, map pins by OBJECT/MAP. `export` prints it; `apply`
// compares a file with it.
//
// An object is found from each program's sidecar record (src/ops/metadata.ts):
// programs `apply` loaded carry the object's name; programs `bpftime load`
// stored are grouped by object file, content hash and maps (one load shares
// one map list) and named after the file (url_filter.bpf.o → url_filter,
// then url_filter-2, …).
import { basename, resolve } from "node:path";
import type { Region } from "../../native/index.ts";
import {
  TARGET_SYSCALL_ENTER,
  TARGET_SYSCALL_EXIT,
  TARGET_USDT,
  formatTargetArg,
  targetTypeName,
} from "../../attach/index.ts";
import { readMeta, type ProgMeta } from "../metadata.ts";
import { usdtUserCookie } from "../usdt-target.ts";

export interface CurrentObject {
  name: string;
  /** The object file as recorded at load ("" when the programs came from an application). */
  path: string;
  sha256: string | undefined;
  /** Program name → id, in id order. */
  programs: Map<string, number>;
  /** Map name → id (the object's maps, as its programs use them). */
  maps: Map<string, number>;
}

export interface CurrentLink {
  id: number;
  progId: number;
  /** "OBJECT/PROGRAM" */
  program: string;
  /** As stored: sys_enter rather than syscall, paths absolute, "tp:openat". */
  type: string;
  arg: string;
  /** The cookie the user gave (USDT links keep it in their spec). */
  cookie: bigint;
}

export interface CurrentState {
  objects: CurrentObject[];
  links: CurrentLink[];
  /** Map pins: name → map id. */
  pins: Map<string, number>;
  /** Map id → "OBJECT/MAP" (the first object using it). */
  mapRefs: Map<number, string>;
}

/** url_filter.bpf.o → url_filter */
export function objectNameOf(path: string): string {
  return (
    basename(path)
      .replace(/(\.bpf)?\.o$/, "")
      .replace(/[^A-Za-z0-9_.+-]/g, "_") || "object"
  );
}

/** The region's objects, links and map pins. */
export function currentState(r: Region): CurrentState {
  const groups = new Map<string, CurrentObject & { objectName?: string; file: string }>();
  const byProg = new Map<number, CurrentObject>();
  for (const id of r.programIds()) {
    const p = r.program(id);
    const meta = readMeta<ProgMeta>(r.name, "prog", id) ?? {};
    const mapIds = r.programMapIds(id);
    const path = meta.object ? resolve(meta.object) : "";
    const first = meta.objectName
      ? `name:${meta.objectName}`
      : `file:${path}|${meta.sha256}|${mapIds.join(",")}`;
    // a program name twice under one key: loaded again (say with --reuse-maps): another object
    let key = first;
    for (let n = 2; groups.get(key)?.programs.has(p.name); n++) key = `${first}#${n}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        name: "",
        path,
        sha256: meta.sha256,
        programs: new Map(),
        maps: new Map(),
        file: meta.object ?? p.name,
        ...(meta.objectName !== undefined ? { objectName: meta.objectName } : {}),
      };
      groups.set(key, g);
      (meta.mapNames ?? []).forEach((m, i) => {
        if (mapIds[i] !== undefined) g!.maps.set(m, mapIds[i]!);
      });
    }
    g.programs.set(p.name, id);
    byProg.set(id, g);
  }
  // names: those `apply` gave first, then one from each file name
  const taken = new Set<string>();
  const all = [...groups.values()];
  for (const g of all)
    if (g.objectName !== undefined && !taken.has(g.objectName)) taken.add((g.name = g.objectName));
  for (const g of all) {
    if (g.name) continue;
    const base = objectNameOf(g.file);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.add((g.name = name));
  }
  const objects: CurrentObject[] = all.map(({ name, path, sha256, programs, maps }) => ({
    name,
    path,
    sha256,
    programs,
    maps,
  }));
  const mapRefs = new Map<number, string>();
  for (const o of objects)
    for (const [m, id] of o.maps) if (!mapRefs.has(id)) mapRefs.set(id, `${o.name}/${m}`);

  const links = r.linkIds().flatMap((id): CurrentLink[] => {
    const l = r.link(id);
    const o = byProg.get(l.progId);
    if (!o) return [];
    const t = r.target(l.targetId);
    const progName = [...o.programs].find(([, pid]) => pid === l.progId)![0];
    return [
      {
        id,
        progId: l.progId,
        program: `${o.name}/${progName}`,
        type: targetTypeName(t.type),
        arg: formatTargetArg(t.arg),
        cookie: t.type === TARGET_USDT ? usdtUserCookie(r, l.progId, l.cookie) : l.cookie,
      },
    ];
  });
  const pins = new Map(
    r
      .pins()
      .filter((p) => p.kind === "map")
      .map((p) => [p.name, p.objectId]),
  );
  return { objects, links, pins, mapRefs };
}

/** A stored syscall target argument ("tp:openat") as `attach --arg` takes it ("openat"). */
export function userArg(type: number | string, arg: string): string {
  const syscall =
    type === TARGET_SYSCALL_ENTER ||
    type === TARGET_SYSCALL_EXIT ||
    type === "sys_enter" ||
    type === "sys_exit";
  return syscall ? arg.slice(arg.indexOf(":") + 1) : arg;
}
