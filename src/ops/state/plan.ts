// The plan: what `apply` changes to make a region hold a state file, as a
// list of changes each with the code that makes it. Identity rules:
//   - an object is its name; it is unchanged when its file has the same
//     SHA-256 and the same programs are loaded, else it is replaced (the new
//     version loaded, every link of the old programs moved to the new program
//     of the same name with `replace`, atomically, or detached when the new
//     version has no such program, then the old programs unloaded);
//   - the links of the file's objects are exactly those the file lists
//     (OBJECT/PROGRAM, target type, argument as `attach` stores it, cookie):
//     others on those programs are detached;
//   - a pin is its name; an entry is its map and key (its value is set when
//     different); entries the file does not list are never touched;
//   - objects (with their links) and map pins the file does not mention are
//     left alone, or removed with `prune`.
import type { Region } from "../../native/index.ts";
import { attach, detach, replace, deleteProgram, targetFor } from "../attach.ts";
import { loadIntoRegion } from "../load.ts";
import { openMap, parseKey, parseMapValue, update, type MapHandle } from "../maps.ts";
import { currentState, userArg, type CurrentObject, type CurrentState } from "./current.ts";
import type { DesiredState } from "./desired.ts";
import { BpftimeError } from "../../errors.ts";

/** fn, its BpftimeError prefixed with where in the file it comes from. */
export function within<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw e instanceof BpftimeError ? e.wrap(where) : e;
  }
}

export interface Change {
  action: "create" | "replace" | "update" | "delete";
  kind: "object" | "link" | "pin" | "entry";
  /** The object, "OBJECT/PROGRAM", the pin, or "OBJECT/MAP[KEY]". */
  name: string;
  /** One line: what is done. */
  detail: string;
}

/** A change with what makes it (run against the open region). */
export interface Step extends Change {
  run(r: Region): void;
}

const MARK: Record<Change["action"], string> = {
  create: "+",
  replace: "~",
  update: "~",
  delete: "-",
};

/** "+ object url_filter: load …" */
export function changeLine(c: Change): string {
  return `${MARK[c.action]} ${c.kind} ${c.name}: ${c.detail}`;
}

const sameSet = (a: Iterable<string>, b: Iterable<string>) => {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
};
const short = (h: string | undefined) => (h ? h.slice(0, 12) : "unknown");

/** Object steps: load what is new, replace what changed; `pending` gets their names. */
export function planObjects(
  regionName: string,
  d: DesiredState,
  cur: CurrentState,
  pending: Set<string>,
): Step[] {
  const steps: Step[] = [];
  for (const o of d.objects) {
    const old = cur.objects.find((c) => c.name === o.name);
    if (old && old.sha256 === o.sha256 && sameSet(old.programs.keys(), o.programs)) continue;
    pending.add(o.name);
    const load = () =>
      loadIntoRegion(o.path, regionName, {
        ...(o.chosen ? { programs: o.programs } : {}),
        objectName: o.name,
        pinMaps: o.pinMaps,
        reuseMaps: o.reuseMaps,
      });
    if (!old) {
      steps.push({
        action: "create",
        kind: "object",
        name: o.name,
        detail: `load ${o.path} (programs ${o.programs.join(", ")}; sha256 ${short(o.sha256)})`,
        run: () => void load(),
      });
      continue;
    }
    const oldLinks = cur.links.filter((l) => [...old.programs.values()].includes(l.progId));
    const why =
      old.sha256 !== o.sha256
        ? `the file changed (sha256 ${short(old.sha256)} → ${short(o.sha256)})`
        : `the programs change (${[...old.programs.keys()].join(", ")} → ${o.programs.join(", ")})`;
    steps.push({
      action: "replace",
      kind: "object",
      name: o.name,
      detail: `${why}: load ${o.path}${oldLinks.length ? `, move links ${oldLinks.map((l) => l.id).join(", ")} to the new programs` : ""}, unload programs ${[...old.programs.values()].join(", ")}`,
      run: (r) => {
        const loaded = load();
        for (const l of oldLinks) {
          const name = l.program.slice(l.program.lastIndexOf("/") + 1);
          const next = loaded.programs.find((p) => p.name === name);
          if (next) replace(r, String(l.id), String(next.id));
          else detach(r, String(l.id));
        }
        for (const id of old.programs.values()) deleteProgram(r, String(id));
      },
    });
  }
  return steps;
}

/** Objects the file does not mention: removed (prune) or left alone. */
export function planObjectPrune(
  d: DesiredState,
  cur: CurrentState,
  prune: boolean,
): {
  steps: Step[];
  leftAlone: string[];
} {
  const steps: Step[] = [];
  const leftAlone: string[] = [];
  for (const o of cur.objects) {
    if (d.objects.some((x) => x.name === o.name)) continue;
    if (!o.path) {
      leftAlone.push(`object ${o.name} (loaded by an application: it removes its own)`);
      continue;
    }
    if (!prune) {
      leftAlone.push(`object ${o.name}`);
      continue;
    }
    const links = cur.links.filter((l) => [...o.programs.values()].includes(l.progId));
    steps.push({
      action: "delete",
      kind: "object",
      name: o.name,
      detail: `not in the file: ${links.length ? `detach links ${links.map((l) => l.id).join(", ")}, ` : ""}unload programs ${[...o.programs.values()].join(", ")}`,
      run: (r) => {
        for (const l of links) detach(r, String(l.id));
        for (const id of o.programs.values()) deleteProgram(r, String(id));
      },
    });
  }
  return { steps, leftAlone };
}

/**
 * Links, pins and entries, against the region as it is (`pending` objects are
 * about to be loaded: a dry run compares them as new, with new maps).
 */
export function planRest(
  region: Region | undefined,
  d: DesiredState,
  cur: CurrentState,
  pending: Set<string>,
  prune: boolean,
): { steps: Step[]; leftAlone: string[] } {
  // only objects the region holds are compared: then it is open
  const r = () => region!;
  const creates: Step[] = [];
  const deletes: Step[] = [];
  const leftAlone: string[] = [];
  const object = (name: string): CurrentObject | undefined =>
    cur.objects.find((o) => o.name === name);
  const fresh = (name: string) => pending.has(name) && !object(name);

  // pins
  for (const p of d.pins) {
    const ref = `${p.object}/${p.map}`;
    const mapId = pending.has(p.object) ? undefined : object(p.object)?.maps.get(p.map);
    const now = cur.pins.get(p.name);
    if (mapId !== undefined && now === mapId) continue;
    const pin = (r: Region) => {
      const id = mapId ?? liveObject(r, p.object).maps.get(p.map)!;
      if (r.pins().some((x) => x.name === p.name)) r.deletePin(p.name);
      r.createPin(p.name, "map", id);
    };
    creates.push({
      action: now === undefined ? "create" : "replace",
      kind: "pin",
      name: p.name,
      detail: now === undefined ? ref : `${ref} (was map ${now})`,
      run: pin,
    });
  }
  for (const [name, id] of cur.pins) {
    if (d.pins.some((p) => p.name === name)) continue;
    const what = `pin ${name} (${cur.mapRefs.get(id) ?? `map ${id}`})`;
    if (!prune) leftAlone.push(what);
    else
      deletes.push({
        action: "delete",
        kind: "pin",
        name,
        detail: `not in the file (${cur.mapRefs.get(id) ?? `map ${id}`})`,
        run: (r) => r.deletePin(name),
      });
  }

  // entries
  for (const e of d.entries) {
    const name = `${e.object}/${e.map}[${JSON.stringify(e.key)}]`;
    const detail = JSON.stringify(e.value);
    const mapId = pending.has(e.object) ? undefined : object(e.object)?.maps.get(e.map);
    if (mapId === undefined) {
      creates.push({
        action: "update",
        kind: "entry",
        name,
        detail,
        run: (r) => {
          const id = liveObject(r, e.object).maps.get(e.map)!;
          const m = openMap(r, String(id));
          update(m, dataText(m, e.key, "key"), dataText(m, e.value, "value"));
        },
      });
      continue;
    }
    const m = openMap(r(), String(mapId));
    const keyText = dataText(m, e.key, "key");
    const valueText = dataText(m, e.value, "value");
    const [key, want] = within(`${e.at} (map ${e.object}/${e.map})`, () => [
      parseKey(m, keyText),
      parseMapValue(m, valueText),
    ]);
    const have = r().mapLookup(mapId, key, m.info.valueBufSize);
    if (have && Buffer.from(have).equals(Buffer.from(want))) continue;
    creates.push({
      action: "update",
      kind: "entry",
      name,
      detail,
      run: () => update(m, keyText, valueText),
    });
  }

  // links: exactly those listed, on the programs of the file's objects
  const pool = cur.links.filter((l) => {
    const on = l.program.slice(0, l.program.lastIndexOf("/"));
    const o = d.objects.find((x) => x.name === on);
    return o && o.programs.includes(l.program.slice(on.length + 1));
  });
  for (const l of d.links) {
    const program = `${l.object}/${l.program}`;
    const shown = `${l.type}${l.arg !== undefined ? ` ${JSON.stringify(l.arg)}` : ""}${l.cookie ? ` cookie ${l.cookie}` : ""}`;
    const createStep = (): Step => ({
      action: "create",
      kind: "link",
      name: program,
      detail: shown,
      run: (r) => {
        const id = liveObject(r, l.object).programs.get(l.program)!;
        attach(r, String(id), l.type, l.arg, l.cookie, d.baseDir);
      },
    });
    const progId = fresh(l.object) ? undefined : object(l.object)?.programs.get(l.program);
    if (progId === undefined) {
      creates.push(createStep());
      continue;
    }
    const t = within(l.at, () =>
      targetFor({ ...r().program(progId), id: progId }, l.type, l.arg, d.baseDir),
    );
    const i = pool.findIndex(
      (c) => c.program === program && c.type === t.type && c.arg === t.arg && c.cookie === l.cookie,
    );
    if (i >= 0) pool.splice(i, 1);
    else creates.push(createStep());
  }
  for (const c of pool)
    deletes.push({
      action: "delete",
      kind: "link",
      name: c.program,
      detail: `link ${c.id} (${c.type} ${JSON.stringify(userArg(c.type, c.arg))}) is not in the file`,
      run: (r) => void detach(r, String(c.id)),
    });
  return { steps: [...creates, ...deletes], leftAlone };
}

/** Object `name` as the region holds it when a step runs (after the objects were loaded). */
function liveObject(r: Region, name: string): CurrentObject {
  return currentState(r).objects.find((o) => o.name === name)!;
}

/** A key or value from the file as the text `map update` takes (JSON through BTF, else as given). */
function dataText(m: MapHandle, v: unknown, what: "key" | "value"): string {
  if (typeof v !== "string") return JSON.stringify(v);
  const typeId = what === "key" ? m.meta?.keyType : m.meta?.valueType;
  return v.startsWith("hex:") || !(m.btf && typeId) ? v : JSON.stringify(v);
}
