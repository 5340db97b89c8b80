// Live events: a ring buffer (or perf event array) followed through the
// API's server-sent events (GET /v1/events/:map), each record shown as the
// JSON `bpftime events --json` prints, newest first; `lost` and `error`
// events are shown as words in the same list.
import { follow, type MapInfo } from "./api.ts";
import { announce, byId, h } from "./dom.ts";

/** Records kept on the page; older ones are dropped from the list. */
const KEEP = 200;

export class EventsPanel {
  private abort: AbortController | null = null;
  private readonly list = byId<HTMLOListElement>("events-list");
  private readonly select = byId<HTMLSelectElement>("events-map");
  private readonly state = byId("events-state");
  private readonly followButton = byId<HTMLButtonElement>("events-follow");

  constructor() {
    byId("events-form").addEventListener("submit", (e) => {
      e.preventDefault();
      if (this.abort) this.stop();
      else this.start(this.select.value);
    });
    byId("events-clear").addEventListener("click", () => this.list.replaceChildren());
  }

  /** The stream maps to choose from (kept as chosen while they exist). */
  setMaps(maps: readonly MapInfo[]): void {
    const sig = JSON.stringify(maps.map((m) => [m.id, m.name]));
    if (this.select.dataset.signature === sig) return;
    this.select.dataset.signature = sig;
    const chosen = this.select.value;
    this.select.replaceChildren(
      ...maps.map((m) => h("option", { value: m.id }, `${m.name} (${m.id}, ${m.type})`)),
    );
    if (maps.some((m) => String(m.id) === chosen)) this.select.value = chosen;
  }

  /** Follows map `id` (stopping any other), from the Follow button or a map's row. */
  start(id: string): void {
    if (!id) return announce("There is no ring buffer to follow.", "error");
    this.stop();
    this.select.value = id;
    const abort = new AbortController();
    this.abort = abort;
    const name = this.select.selectedOptions[0]?.textContent ?? id;
    this.setState(`connecting to ${name}…`, "Stop");
    follow(
      `/v1/events/${encodeURIComponent(id)}`,
      {
        event: (kind, data, seq) => {
          if (kind === "open") return this.setState(`following ${name}`, "Stop");
          if (kind === "message") return this.add(`#${seq ?? "?"} ${JSON.stringify(data)}`);
          if (kind === "lost") return this.add(`lost: ${(data as { lost: string }).lost} records`);
          if (kind === "error") this.add(`stream ended: ${(data as { message: string }).message}`);
        },
      },
      abort.signal,
    )
      .catch((e: Error) => {
        if (abort.signal.aborted) return;
        announce(`Following events: ${e.message}`, "error");
      })
      .finally(() => {
        if (this.abort === abort) {
          this.abort = null;
          this.setState("not following", "Follow");
        }
      });
  }

  stop(): void {
    const a = this.abort;
    this.abort = null;
    a?.abort();
    this.setState("not following", "Follow");
  }

  private setState(text: string, action: string): void {
    this.state.textContent = text;
    this.followButton.textContent = action;
  }

  private add(text: string): void {
    this.list.prepend(h("li", {}, h("code", {}, text)));
    while (this.list.children.length > KEEP) this.list.lastElementChild?.remove();
  }
}
