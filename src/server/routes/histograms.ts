// /v1/maps/:id/histograms: a map's values read as log2 histograms, as
// `bpftime map dump --hist --json` gives them (src/ops/hist.ts), so the web
// console draws bars from the same reading the CLI prints.
import { Elysia, t } from "elysia";
import {
  dumpEntries,
  entriesPage,
  histogramsInValues,
  histogramsOf,
  histogramsView,
  openMap,
  parseLinearScale,
} from "../../ops/index.ts";
import * as S from "../schemas.ts";
import { errors, type RouteContext } from "./context.ts";

const Counter = t.String({ description: "unsigned 64-bit counter as a decimal string" });
const HistogramSchema = t.Object({
  key: t.Optional(S.Json),
  counts: t.Array(Counter, { description: "count per bucket" }),
  buckets: t.Array(t.Object({ low: Counter, high: Counter, count: Counter }), {
    description:
      "buckets (log2, or linear with ?linear=) up to the last non-empty one: [low, high] and its count",
  }),
});

export function histogramRoutes(o: RouteContext) {
  return new Elysia().get(
    "/v1/maps/:id/histograms",
    ({ params, query }) =>
      o.region((r) => {
        const m = openMap(r, params.id);
        const hists = query.keyed
          ? histogramsOf(dumpEntries(m), m.info.name)
          : histogramsInValues(entriesPage(m, query.offset, query.limit).entries);
        const linear =
          query.linear === undefined
            ? undefined
            : parseLinearScale(query.linear, "GET /v1/maps/:id/histograms");
        return histogramsView(hists, linear);
      }),
    {
      params: S.IdParam,
      query: t.Object({
        keyed: t.Optional(
          t.Boolean({
            description:
              "read the whole map as one histogram, integer key (the log2 bucket) → count, " +
              "as `map dump --hist` does",
          }),
        ),
        linear: t.Optional(
          t.String({
            description:
              "MIN,STEP: linear buckets [MIN + i*STEP, MIN + (i+1)*STEP), as `map dump --hist " +
              "--linear MIN,STEP` (default: log2 buckets)",
          }),
        ),
        ...S.PageQuery.properties,
      }),
      response: {
        200: t.Object({
          histograms: t.Nullable(t.Array(HistogramSchema), {
            description:
              "one per entry of the page whose value is histogram-shaped (an integer array, or " +
              "a struct with an integer array `slots`); null when the page's values are not",
          }),
        }),
        ...errors,
      },
      detail: {
        tags: ["maps"],
        summary:
          "a page of entries (or, keyed, the whole map) as log2 histograms (map dump --hist)",
      },
    },
  );
}
