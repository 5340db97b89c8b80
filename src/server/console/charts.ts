// Per-program run rate and latency, drawn by hand as SVG line charts from
// the counters /metrics exports (bpftime_prog_run_count,
// bpftime_prog_run_time_ns — the runCount and runTimeNs of every snapshot):
// runs per second and nanoseconds per run between two consecutive polls.
// Each chart also says its latest and peak values in words.
import type { Program } from "./api.ts";
import { h, s } from "./dom.ts";

/** Polls kept per program (at the default 2 s: the last two minutes). */
const KEEP = 60;
const W = 320;
const H = 90;
const PAD = 4;

interface Sample {
  t: number;
  runs: number;
  ns: number;
}

export interface Series {
  /** Runs per second between two polls. */
  rate: number[];
  /** Nanoseconds per run between two polls; null when nothing ran. */
  latency: Array<number | null>;
}

/** The rate and latency series of a list of counter samples (a counter going back: a gap). */
export function seriesOf(samples: readonly Sample[]): Series {
  const rate: number[] = [];
  const latency: Array<number | null> = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const runs = b.runs - a.runs;
    const secs = (b.t - a.t) / 1000;
    if (runs < 0 || secs <= 0) {
      rate.push(0);
      latency.push(null);
      continue;
    }
    rate.push(runs / secs);
    latency.push(runs > 0 ? (b.ns - a.ns) / runs : null);
  }
  return { rate, latency };
}

export const formatRate = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)} runs/s`;
export function formatNs(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)} ms/run`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} µs/run`;
  return `${Math.round(v)} ns/run`;
}

/** One line chart with its caption; null values break the line. */
function chart(title: string, values: Array<number | null>, format: (v: number) => string) {
  const known = values.filter((v): v is number => v !== null);
  const peak = Math.max(0, ...known);
  const last = [...values].reverse().find((v) => v !== null);
  const words =
    last === undefined || last === null
      ? `${title}: no runs yet`
      : `${title}: now ${format(last)}, peak ${format(peak)}`;
  const x = (i: number) => PAD + ((W - 2 * PAD) * i) / Math.max(1, KEEP - 1);
  const y = (v: number) => H - PAD - ((H - 2 * PAD) * v) / (peak || 1);
  // Runs of consecutive known values, each drawn as one line.
  const lines: Array<Array<[number, number]>> = [[]];
  const offset = KEEP - values.length;
  values.forEach((v, i) => {
    if (v === null) lines.push([]);
    else lines[lines.length - 1]!.push([x(i + offset), y(v)]);
  });
  const svg = s(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": words },
    s("rect", { x: 0, y: 0, width: W, height: H, class: "chart-frame" }),
    s("line", { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, class: "chart-axis" }),
    ...lines
      .filter((l) => l.length)
      .map((l) =>
        l.length === 1
          ? s("circle", { cx: l[0]![0], cy: l[0]![1], r: 2, class: "chart-dot" })
          : s("polyline", { points: l.map((p) => p.join(",")).join(" "), class: "chart-line" }),
      ),
    s("text", { x: PAD + 2, y: PAD + 10, class: "chart-peak" }, `peak ${format(peak)}`),
  );
  return h("figure", { class: "chart-box" }, svg, h("figcaption", {}, words));
}

/** Counter samples of every program, one per poll, and their charts. */
export class RunCharts {
  private readonly samples = new Map<number, Sample[]>();

  add(programs: readonly Program[], t: number): void {
    const live = new Set(programs.map((p) => p.id));
    for (const id of [...this.samples.keys()]) if (!live.has(id)) this.samples.delete(id);
    for (const p of programs) {
      const list = this.samples.get(p.id) ?? [];
      list.push({ t, runs: Number(p.runCount), ns: Number(p.runTimeNs) });
      if (list.length > KEEP + 1) list.shift();
      this.samples.set(p.id, list);
    }
  }

  render(programs: readonly Program[]): Node[] {
    return programs.map((p) => {
      const { rate, latency } = seriesOf(this.samples.get(p.id) ?? []);
      return h(
        "section",
        { class: "program-charts", "aria-label": `charts of program ${p.name}` },
        h("h3", {}, `${p.name} (program ${p.id}): ${p.runCount} runs in total`),
        h(
          "div",
          { class: "chart-row" },
          chart("run rate", rate, formatRate),
          chart("latency", latency, formatNs),
        ),
      );
    });
  }
}
