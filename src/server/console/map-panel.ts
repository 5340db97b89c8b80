// One map's contents, live: a page of entries (key and value as JSON, as
// `bpftime map dump --json` prints them), its histograms drawn as bars when
// the values are histogram-shaped (or, asked for, the whole map read as
// bucket → count), and the form that updates an entry.
import { call, get, seg, type EntriesPage, type MapInfo } from "./api.ts";
import { histogramTable, type Histogram, type Scale } from "./bars.ts";
import { announce, button, h, replaceIfChanged, table } from "./dom.ts";

const PAGE = 20;

/** A value typed in a form: JSON when it parses ("5", "{\"a\": 1}"), else the text ("hex:…"). */
export function typedValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A key as the API takes it in the path: the text typed, or the JSON of a shown key. */
const keyText = (key: unknown) => (typeof key === "string" ? key : JSON.stringify(key));

/** What a settled request showed: its value, or its error's message. */
const settled = <T>(r: PromiseSettledResult<T>) =>
  r.status === "fulfilled" ? r.value : String((r.reason as Error).message);

export class MapPanel {
  private map: MapInfo | null = null;
  private offset = 0;
  private readonly entries = h("div", { class: "entries" });
  private readonly hists = h("div", { class: "hists" });
  private readonly keyed = h("input", { type: "checkbox", id: "hist-keyed" });
  private readonly scale = h(
    "select",
    { id: "hist-scale" },
    h("option", { value: "log2" }, "log2 buckets"),
    h("option", { value: "linear" }, "linear buckets"),
  );
  private readonly min = h("input", { id: "hist-min", value: "0", inputmode: "numeric", size: 6 });
  private readonly step = h("input", {
    id: "hist-step",
    value: "1",
    inputmode: "numeric",
    size: 6,
  });

  constructor(private readonly root: HTMLElement) {
    for (const el of [this.keyed, this.scale, this.min, this.step])
      el.addEventListener("change", () => void this.refresh());
  }

  get current(): MapInfo | null {
    return this.map;
  }

  /** Shows `m` from its first page and moves the focus to its heading. */
  show(m: MapInfo): void {
    this.map = m;
    this.offset = 0;
    this.root.replaceChildren(this.skeleton(m));
    this.root.querySelector<HTMLElement>("h3")?.focus();
    void this.refresh();
  }

  /** The map went away (unloaded): the panel empties. */
  close(): void {
    this.map = null;
    this.root.replaceChildren();
  }

  private skeleton(m: MapInfo): Node {
    const key = h("input", { id: "entry-key", name: "key", required: true, spellcheck: "false" });
    const value = h("input", { id: "entry-value", name: "value", required: true });
    const flag = h(
      "select",
      { id: "entry-flag", name: "flag" },
      h("option", { value: "any" }, "create or replace"),
      h("option", { value: "noexist" }, "create only"),
      h("option", { value: "exist" }, "replace only"),
    );
    const form = h(
      "form",
      { class: "inline-form", id: "update-form" },
      h(
        "fieldset",
        {},
        h("legend", {}, `Update an entry of ${m.name}`),
        h("label", { for: "entry-key" }, "Key (JSON)"),
        key,
        h("label", { for: "entry-value" }, "Value (JSON or hex:…)"),
        value,
        h("label", { for: "entry-flag" }, "Mode"),
        flag,
        h("button", { type: "submit" }, "Update entry"),
      ),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.update(key.value, value.value, flag.value);
    });
    return h(
      "section",
      { "aria-labelledby": "map-panel-h" },
      h("h3", { id: "map-panel-h", tabindex: "-1" }, `Map ${m.name} (${m.id}): ${m.type}`),
      this.entries,
      form,
      h(
        "fieldset",
        { class: "inline-form" },
        h("legend", {}, "Histogram"),
        h("label", { for: "hist-keyed" }, this.keyed, " read the map as bucket → count"),
        h("label", { for: "hist-scale" }, "Buckets"),
        this.scale,
        h("label", { for: "hist-min" }, "linear min"),
        this.min,
        h("label", { for: "hist-step" }, "linear step"),
        this.step,
      ),
      this.hists,
    );
  }

  /** Reads the shown page and histograms again (every poll, and after a change). */
  async refresh(): Promise<void> {
    const m = this.map;
    if (!m) return;
    const page = `offset=${this.offset}&limit=${PAGE}`;
    const [entries, hists] = await Promise.allSettled([
      get<EntriesPage>(`/v1/maps/${m.id}/entries?${page}`),
      get<{ histograms: Histogram[] | null }>(
        `/v1/maps/${m.id}/histograms?${this.keyed.checked ? "keyed=true" : page}`,
      ),
    ]);
    if (this.map !== m) return; // another map was chosen meanwhile
    replaceIfChanged(this.entries, JSON.stringify([settled(entries), this.offset]), () =>
      entries.status === "fulfilled"
        ? this.entriesView(m, entries.value)
        : [
            h(
              "p",
              { class: "error" },
              `Cannot read the entries: ${String(entries.reason.message)}`,
            ),
          ],
    );
    const scale: Scale = {
      kind: this.scale.value === "linear" ? "linear" : "log2",
      min: Number(this.min.value) || 0,
      step: Number(this.step.value) || 1,
    };
    replaceIfChanged(this.hists, JSON.stringify([settled(hists), scale]), () => {
      if (hists.status === "rejected")
        return [h("p", { class: "error" }, `Not a histogram: ${String(hists.reason.message)}`)];
      const list = hists.value.histograms;
      if (!list) return [h("p", { class: "empty" }, "The values are not histogram-shaped.")];
      return list.map((hist) =>
        histogramTable(
          hist,
          scale,
          hist.key === undefined ? `${m.name} as a histogram` : `${m.name}[${keyText(hist.key)}]`,
        ),
      );
    });
  }

  private entriesView(m: MapInfo, p: EntriesPage): Node[] {
    const first = p.entries.length ? `${p.offset + 1}–${p.offset + p.entries.length}` : "none";
    const pager = h(
      "p",
      { class: "pager" },
      `Entries ${first} `,
      p.offset > 0
        ? button("Previous page", () => this.turn(Math.max(0, p.offset - PAGE)), undefined, "prev")
        : null,
      p.nextOffset !== null
        ? button("Next page", () => this.turn(p.nextOffset!), undefined, "next")
        : null,
    );
    const rows = p.entries.map((e) => [
      h("code", {}, JSON.stringify(e.key)),
      h("code", {}, JSON.stringify(e.value)),
      button(
        "Delete",
        () => void this.remove(e.key),
        `Delete key ${JSON.stringify(e.key)}`,
        `delete-${JSON.stringify(e.key)}`,
      ),
    ]);
    return [table(`Entries of ${m.name}`, ["key", "value", "actions"], rows, "No entries."), pager];
  }

  private turn(offset: number): void {
    this.offset = offset;
    void this.refresh();
  }

  private async update(key: string, value: string, flag: string): Promise<void> {
    const m = this.map;
    if (!m) return;
    try {
      await call("PUT", `/v1/maps/${m.id}/entries/${seg(key)}`, { value: typedValue(value), flag });
      announce(`Map ${m.name}: key ${key} set to ${value}.`);
      await this.refresh();
    } catch (e) {
      announce(`Updating ${m.name}: ${(e as Error).message}`, "error");
    }
  }

  private async remove(key: unknown): Promise<void> {
    const m = this.map;
    if (!m) return;
    try {
      await call("DELETE", `/v1/maps/${m.id}/entries/${seg(keyText(key))}`);
      announce(`Map ${m.name}: key ${keyText(key)} deleted.`);
      await this.refresh();
    } catch (e) {
      announce(`Deleting from ${m.name}: ${(e as Error).message}`, "error");
    }
  }
}
