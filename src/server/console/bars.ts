// Histograms drawn as bars, as bpftrace's hist()/lhist() and bcc's
// print_log2_hist print them. Which values are histograms, and the log2
// bucket ranges, come from the server (GET /v1/maps/:id/histograms, the
// logic of `bpftime map dump --hist`); for a linear histogram the page labels
// bucket i as [min + i*step, min + (i+1)*step), from the min and step asked.
import { h } from "./dom.ts";

export interface Histogram {
  key?: unknown;
  /** Count per bucket, as decimal strings. */
  counts: string[];
  /** log2 buckets up to the last non-empty one. */
  buckets: Array<{ low: string; high: string; count: string }>;
}

export interface Scale {
  kind: "log2" | "linear";
  min: number;
  step: number;
}

interface Row {
  range: string;
  count: bigint;
}

function rows(hist: Histogram, scale: Scale): Row[] {
  if (scale.kind === "log2")
    return hist.buckets.map((b) => ({ range: `${b.low} – ${b.high}`, count: BigInt(b.count) }));
  let last = -1;
  hist.counts.forEach((c, i) => BigInt(c) > 0n && (last = i));
  return hist.counts.slice(0, last + 1).map((c, i) => {
    const low = scale.min + i * scale.step;
    const range = scale.step === 1 ? `${low}` : `${low} – ${low + scale.step - 1}`;
    return { range, count: BigInt(c) };
  });
}

/** One histogram as a table: bucket range, count and a bar scaled to the largest count. */
export function histogramTable(hist: Histogram, scale: Scale, title: string): Node {
  const all = rows(hist, scale);
  if (!all.length) return h("p", { class: "empty" }, `${title}: no values counted`);
  const max = all.reduce((m, r) => (r.count > m ? r.count : m), 0n) || 1n;
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: "hist" },
      h("caption", {}, title),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, scale.kind === "log2" ? "value (log2 bucket)" : "value"),
          h("th", { scope: "col" }, "count"),
          h("th", { scope: "col" }, "distribution"),
        ),
      ),
      h(
        "tbody",
        {},
        ...all.map((r) => {
          const bar = h("span", { class: "bar" });
          bar.style.width = `${Number((r.count * 1000n) / max) / 10}%`;
          return h(
            "tr",
            {},
            h("td", {}, r.range),
            h("td", { class: "num" }, String(r.count)),
            h("td", { class: "bar-cell", "aria-hidden": "true" }, bar),
          );
        }),
      ),
    ),
  );
}
