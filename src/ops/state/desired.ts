// A validated state file made concrete: object paths resolved against the
// file's directory, each object read (its SHA-256, its programs and maps)
// and every reference (OBJECT/PROGRAM, OBJECT/MAP, pin names) checked, all
// problems reported at once with their place in the file.
import { isAbsolute, resolve } from "node:path";
import { BpftimeError } from "../../errors.ts";
import { mapType } from "../../enums.ts";
import { readObjectFile } from "../files.ts";
import { objectNameOf } from "./current.ts";
import type { StateFile } from "./schema.ts";

export interface DesiredObject {
  name: string;
  /** Absolute path of the .o file. */
  path: string;
  sha256: string;
  /** The programs to load (the file's selection, else every program), in the object's order. */
  programs: string[];
  /** Whether the file chose programs (then only those are loaded). */
  chosen: boolean;
  /** Map name → whether it has keys (entries can be set). */
  maps: Map<string, { keyed: boolean }>;
  pinMaps: boolean;
  reuseMaps: boolean;
}

export interface DesiredLink {
  /** Where it is in the file, for messages: "links/2". */
  at: string;
  object: string;
  program: string;
  type: string;
  arg: string | undefined;
  cookie: bigint;
}

export interface DesiredPin {
  at: string;
  name: string;
  object: string;
  map: string;
}

export interface DesiredEntry {
  at: string;
  object: string;
  map: string;
  key: unknown;
  value: unknown;
}

export interface DesiredState {
  /** Relative paths in targets (uprobe BINARY) are resolved against it. */
  baseDir: string;
  objects: DesiredObject[];
  links: DesiredLink[];
  pins: DesiredPin[];
  entries: DesiredEntry[];
}

/**
 * The state file `file` with paths relative to `baseDir`, checked; throws one
 * BpftimeError naming every problem (`what` names the file).
 */
export function resolveState(file: StateFile, baseDir: string, what: string): DesiredState {
  const problems: string[] = [];
  const objects: DesiredObject[] = [];
  /** Objects already reported: references to them say nothing more. */
  const failed = new Set<string>();
  (file.objects ?? []).forEach((o, i) => {
    const at = `objects/${i}`;
    const path = isAbsolute(o.path) ? o.path : resolve(baseDir, o.path);
    const name = o.name ?? objectNameOf(o.path);
    if (objects.some((x) => x.name === name) || failed.has(name))
      return problems.push(`${at}: a second object named "${name}": give each a distinct name`);
    failed.add(name);
    let read: ReturnType<typeof readObjectFile>;
    try {
      read = readObjectFile(path, ": build it first (bpftime build PROG.bpf.c)");
    } catch (e) {
      return problems.push(`${at}/path: ${(e as Error).message}`);
    }
    const sha256 = new Bun.CryptoHasher("sha256").update(read.bytes).digest("hex");
    if (o.sha256 !== undefined && o.sha256 !== sha256)
      return problems.push(
        `${at}/sha256: ${path} has SHA-256 ${sha256}, the file asks for ${o.sha256}`,
      );
    const all = read.spec.programs.map((p) => p.name);
    const missing = (o.programs ?? []).filter((p) => !all.includes(p));
    if (missing.length)
      return problems.push(
        `${at}/programs: ${path} has no program ${missing.join(", ")}; it has ${all.join(", ")}`,
      );
    failed.delete(name);
    objects.push({
      name,
      path,
      sha256,
      programs: o.programs ? all.filter((p) => o.programs!.includes(p)) : all,
      chosen: o.programs !== undefined,
      maps: new Map(
        read.spec.maps.map((m) => [m.name, { keyed: !(mapType(m.type)?.keyless ?? false) }]),
      ),
      pinMaps: o.pinMaps ?? false,
      reuseMaps: o.reuseMaps ?? false,
    });
  });

  /** OBJECT/NAME (or a bare NAME one object has) → [object, name], or a problem. */
  const ref = (at: string, text: string, kind: "program" | "map"): [string, string] | undefined => {
    const slash = text.lastIndexOf("/");
    const has = (o: DesiredObject, n: string) =>
      kind === "program" ? o.programs.includes(n) : o.maps.has(n);
    if (slash >= 0) {
      const [on, n] = [text.slice(0, slash), text.slice(slash + 1)];
      const o = objects.find((x) => x.name === on);
      if (!o) {
        if (!failed.has(on))
          problems.push(
            `${at}: no object "${on}" in the file (objects: ${objects.map((x) => x.name).join(", ") || "none"})`,
          );
        return undefined;
      }
      if (!has(o, n)) {
        const what = kind === "program" ? o.programs : [...o.maps.keys()];
        problems.push(
          `${at}: object ${on} has no ${kind} "${n}"${kind === "program" && o.chosen ? " among the programs it loads" : ""} (it has ${what.join(", ")})`,
        );
        return undefined;
      }
      return [on, n];
    }
    const owners = objects.filter((o) => has(o, text));
    if (owners.length === 1) return [owners[0]!.name, text];
    if (failed.size === 0 || owners.length > 1)
      problems.push(
        owners.length
          ? `${at}: ${owners.length} objects have a ${kind} "${text}" (${owners.map((o) => o.name).join(", ")}): write OBJECT/${text}`
          : `${at}: no object of the file has a ${kind} "${text}"`,
      );
    return undefined;
  };

  const links: DesiredLink[] = [];
  (file.links ?? []).forEach((l, i) => {
    const at = `links/${i}`;
    const p = ref(`${at}/program`, l.program, "program");
    if (p)
      links.push({
        at,
        object: p[0],
        program: p[1],
        type: l.type,
        arg: l.arg,
        cookie: BigInt(l.cookie ?? 0),
      });
  });
  const pins: DesiredPin[] = [];
  (file.pins ?? []).forEach((p, i) => {
    const at = `pins/${i}`;
    if (pins.some((x) => x.name === p.name))
      return problems.push(`${at}/name: pin "${p.name}" is given twice`);
    const m = ref(`${at}/map`, p.map, "map");
    if (m) pins.push({ at, name: p.name, object: m[0], map: m[1] });
  });
  const entries: DesiredEntry[] = [];
  (file.entries ?? []).forEach((e, i) => {
    const at = `entries/${i}`;
    const pin = e.map.includes("/") ? undefined : pins.find((p) => p.name === e.map);
    const m = pin ? [pin.object, pin.map] : ref(`${at}/map`, e.map, "map");
    if (!m) return;
    const [on, mn] = m as [string, string];
    if (!objects.find((o) => o.name === on)!.maps.get(mn)!.keyed)
      return problems.push(
        `${at}/map: map ${on}/${mn} has no keys (a queue, stack or ring buffer)`,
      );
    entries.push({ at, object: on, map: mn, key: e.key, value: e.value });
  });

  if (problems.length)
    throw new BpftimeError("invalid_argument", `${what}: ${problems.join("; ")}`, { problems });
  return { baseDir, objects, links, pins, entries };
}
