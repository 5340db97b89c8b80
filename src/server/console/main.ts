// The console's entry point: the token form, the live poll of the region
// (one snapshot every POLL_MS, paused on request or while the tab is
// hidden) and the panels it feeds.
import { ApiError, get, setToken, token, type RegionInfo, type Snapshot } from "./api.ts";
import { showStats, wireActions } from "./actions.ts";
import { RunCharts } from "./charts.ts";
import { announce, byId, h, replaceIfChanged } from "./dom.ts";
import { EventsPanel } from "./events.ts";
import { MapPanel } from "./map-panel.ts";
import { isStream, renderTables } from "./tables.ts";

const POLL_MS = 2000;

const charts = new RunCharts();
const events = new EventsPanel();
const mapPanel = new MapPanel(byId("map-panel"));
let paused = false;
let timer: ReturnType<typeof setTimeout> | undefined;

const actions = wireActions({
  refresh: () => void poll(),
  showMap: (m) => mapPanel.show(m),
  followMap: (m) => {
    events.start(String(m.id));
    byId("events-h").scrollIntoView();
    byId("events-map").focus();
  },
});

function showToken(): void {
  byId("token-state").textContent = token() ? "token set: changes allowed" : "no token: read-only";
}

byId("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = byId<HTMLInputElement>("token");
  setToken(input.value.trim() || null);
  input.value = "";
  showToken();
  announce(token() ? "Token set for this tab." : "No token given.");
  void poll();
});
byId("forget-token").addEventListener("click", () => {
  setToken(null);
  showToken();
  announce("Token forgotten: the console is read-only.");
});
byId("pause").addEventListener("click", () => {
  paused = !paused;
  const b = byId("pause");
  b.setAttribute("aria-pressed", String(paused));
  b.textContent = paused ? "Resume live updates" : "Pause live updates";
  if (!paused) void poll();
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && !paused) void poll();
});

function regionLine(info: RegionInfo): string {
  const n = (count: number, one: string) => `${count} ${one}${count === 1 ? "" : "s"}`;
  const heap = info.heapSize ? Math.round((100 * info.heapUsed) / info.heapSize) : 0;
  return (
    `Region ${info.name}: ${n(info.programs, "program")}, ${n(info.maps, "map")}, ` +
    `${n(info.targets, "target")}, ${n(info.links, "link")}, ${n(info.instances, "instance")}; ` +
    `heap ${heap}% used; generation ${info.generation}.`
  );
}

function programChoices(snap: Snapshot): void {
  const select = byId<HTMLSelectElement>("attach-program");
  replaceIfChanged(select, JSON.stringify(snap.programs.map((p) => [p.id, p.name])), () => {
    const chosen = select.value;
    const options = snap.programs.map((p) => h("option", { value: p.id }, `${p.name} (${p.id})`));
    queueMicrotask(() => {
      if (snap.programs.some((p) => String(p.id) === chosen)) select.value = chosen;
    });
    return options;
  });
}

/** Reads the region once and redraws what changed. */
async function poll(): Promise<void> {
  clearTimeout(timer);
  try {
    const [snap, info] = await Promise.all([
      get<Snapshot>("/v1/snapshot"),
      get<RegionInfo>("/v1/region"),
    ]);
    byId("region-line").textContent = regionLine(info);
    showStats(info.statsEnabled);
    renderTables(snap, actions, byId);
    programChoices(snap);
    charts.add(snap.programs, Date.now());
    byId("charts").replaceChildren(...charts.render(snap.programs));
    events.setMaps(snap.maps.filter(isStream));
    const shown = mapPanel.current;
    if (shown && !snap.maps.some((m) => m.id === shown.id)) mapPanel.close();
    else await mapPanel.refresh();
    byId("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    const why = e instanceof ApiError && e.status === 401 ? " (this server needs the token)" : "";
    byId("region-line").textContent = `Cannot read the region: ${(e as Error).message}${why}`;
  }
  // One timer at a time, also when an action polled meanwhile.
  clearTimeout(timer);
  if (!paused && !document.hidden) timer = setTimeout(() => void poll(), POLL_MS);
}

showToken();
void poll();
