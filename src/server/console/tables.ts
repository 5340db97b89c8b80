// The region at a glance: one table per kind of object in a snapshot, each
// redrawn only when what it shows changed (replaceIfChanged keeps the focus).
// States are words ("alive", "dead", "hooked in 2 processes"), never colour
// alone.
import type { Instance, Link, MapInfo, Program, Snapshot } from "./api.ts";
import { formatNs } from "./charts.ts";
import { button, h, replaceIfChanged, table } from "./dom.ts";

/** What the buttons in the tables do (actions.ts, map-panel.ts, events.ts). */
export interface TableActions {
  unload(p: Program): void;
  detach(l: Link): void;
  replace(l: Link, programId: string): void;
  showMap(m: MapInfo): void;
  followMap(m: MapInfo): void;
}

/** Ring buffers and perf event arrays: followed as events, not dumped as entries. */
export const isStream = (m: MapInfo) => m.type === "ringbuf" || m.type === "perf_event_array";

const programName = (snap: Snapshot, id: number) =>
  snap.programs.find((p) => p.id === id)?.name ?? `#${id}`;

function programsTable(snap: Snapshot, act: TableActions): Node {
  return table(
    "Programs stored in the region",
    ["id", "name", "type", "instructions", "runs", "run time", "per run", "link ids", "actions"],
    snap.programs.map((p) => [
      p.id,
      p.name,
      p.type,
      p.insnCount,
      p.runCount,
      `${p.runTimeNs} ns`,
      Number(p.runCount) ? formatNs(Number(p.runTimeNs) / Number(p.runCount)) : "–",
      p.links.length ? p.links.join(", ") : "none",
      button("Unload", () => act.unload(p), `Unload program ${p.name}`, `unload-${p.id}`),
    ]),
    "No programs: load an object below.",
  );
}

function linkState(l: Link): string {
  const hooked = l.pids.length
    ? `hooked in ${l.pids.length === 1 ? "process" : "processes"} ${l.pids.join(", ")}`
    : "not hooked in any process";
  const problems = l.errors.map(
    (e) => `${e.waiting ? "waiting" : "failed"} in process ${e.pid}: ${e.message}`,
  );
  return [hooked, ...problems].join("; ");
}

function replaceControl(snap: Snapshot, l: Link, act: TableActions): Node {
  const id = `replace-${l.id}`;
  const select = h(
    "select",
    { id, "data-key": id },
    ...snap.programs
      .filter((p) => p.id !== l.progId)
      .map((p) => h("option", { value: p.id }, `${p.name} (${p.id})`)),
  );
  return h(
    "span",
    { class: "row-control" },
    h("label", { for: id, class: "visually-hidden" }, `new program for link ${l.id}`),
    select,
    button(
      "Replace",
      () => act.replace(l, select.value),
      `Replace the program of link ${l.id}`,
      `replace-button-${l.id}`,
    ),
  );
}

function linksTable(snap: Snapshot, act: TableActions): Node {
  return table(
    "Links: which program runs at which attach target",
    ["id", "program", "target", "state", "actions"],
    snap.links.map((l) => [
      l.id,
      `${programName(snap, l.progId)} (${l.progId})`,
      `${l.targetType} ${l.arg} (target ${l.targetId})`,
      linkState(l),
      h(
        "span",
        { class: "row-actions" },
        button("Detach", () => act.detach(l), `Detach link ${l.id}`, `detach-${l.id}`),
        snap.programs.length > 1 ? replaceControl(snap, l, act) : null,
      ),
    ]),
    "No links: attach a program below.",
  );
}

function targetsTable(snap: Snapshot): Node {
  return table(
    "Attach targets",
    ["id", "type", "argument", "linked programs"],
    snap.targets.map((t) => [
      t.id,
      t.type,
      t.arg,
      snap.links
        .filter((l) => l.targetId === t.id)
        .map((l) => programName(snap, l.progId))
        .join(", ") || "none",
    ]),
    "No attach targets.",
  );
}

function mapsTable(snap: Snapshot, act: TableActions): Node {
  return table(
    "Maps",
    ["id", "name", "type", "key / value bytes", "max entries", "contents"],
    snap.maps.map((m) => [
      m.id,
      m.name,
      m.type,
      `${m.keySize} / ${m.valueSize}`,
      m.maxEntries,
      isStream(m)
        ? button(
            "Follow events",
            () => act.followMap(m),
            `Follow events of ${m.name}`,
            `follow-${m.id}`,
          )
        : button("Show entries", () => act.showMap(m), `Show entries of ${m.name}`, `show-${m.id}`),
    ]),
    "No maps.",
  );
}

function instanceState(i: Instance): string {
  const state = i.alive ? "alive" : "dead";
  const failed = i.failedLinks ? `; ${i.failedLinks} links failed` : "";
  return `${state} (heartbeat ${Math.round(i.heartbeatAgeMs)} ms ago${failed})`;
}

function instancesTable(snap: Snapshot): Node {
  return table(
    "Processes that instantiated the region",
    ["id", "pid", "state", "links", "started"],
    snap.instances.map((i) => [
      i.id,
      i.pid,
      instanceState(i),
      i.links.length ? i.links.join(", ") : "none",
      i.startedAt ?? "unknown",
    ]),
    "No process runs this region's programs now.",
  );
}

/** What a table shows: it is redrawn only when this changes. */
const sig = (v: unknown) => JSON.stringify(v);

export function renderTables(snap: Snapshot, act: TableActions, $: (id: string) => HTMLElement) {
  replaceIfChanged($("programs-table"), sig(snap.programs), () => [programsTable(snap, act)]);
  const progNames = snap.programs.map((p) => [p.id, p.name]);
  replaceIfChanged($("links-table"), sig([snap.links, progNames]), () => [linksTable(snap, act)]);
  replaceIfChanged($("targets-table"), sig([snap.targets, snap.links, progNames]), () => [
    targetsTable(snap),
  ]);
  replaceIfChanged($("maps-table"), sig(snap.maps), () => [mapsTable(snap, act)]);
  // Heartbeat ages move on every poll: redrawn each time (nothing in it takes the focus).
  replaceIfChanged($("instances-table"), sig(snap.instances), () => [instancesTable(snap)]);
}
