// The region as a whole: instances, the snapshot, region info, run statistics
// and Prometheus /metrics.
import { Elysia, t } from "elysia";
import {
  collectMetrics,
  instanceDetails,
  regionView,
  renderMetrics,
  setStats,
  snapshot,
} from "../../ops/index.ts";
import { jsonBody } from "../body.ts";
import * as S from "../schemas.ts";
import { errors, secured, type RouteContext } from "./context.ts";

export function regionRoutes(o: RouteContext) {
  return new Elysia()
    .get("/v1/instances", () => o.region((r) => instanceDetails(r)), {
      response: { 200: t.Array(S.InstanceSchema), ...errors },
      detail: {
        tags: ["instances"],
        summary: "processes that instantiated the region: links, start, heartbeat, alive",
      },
    })
    .get("/v1/snapshot", () => o.region((r) => snapshot(r)), {
      response: { 200: S.SnapshotSchema, ...errors },
      detail: { tags: ["region"], summary: "everything at once (bpftime list --json)" },
    })
    .get("/v1/region", () => o.region((r) => regionView(r)), {
      response: { 200: S.RegionSchema, ...errors },
      detail: { tags: ["region"], summary: "the shared-memory region (bpftime shm info)" },
    })
    .post("/v1/region/stats", ({ body }) => o.region((r) => setStats(r, body.enabled)), {
      parse: jsonBody,
      body: S.StatsBody,
      response: { 200: S.StatsSchema, ...errors },
      detail: {
        tags: ["region"],
        summary: "turn program run statistics (runCount, runTimeNs) on or off",
        security: secured,
      },
    })
    .get(
      "/metrics",
      ({ set }) => {
        set.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
        return o.region((r) => renderMetrics(collectMetrics(r)));
      },
      {
        detail: {
          tags: ["region"],
          summary: "Prometheus metrics: program runs and run time, map entries, links, instances",
          responses: {
            200: {
              description: "Prometheus text exposition format 0.0.4 (bpftime metrics)",
              content: { "text/plain": { schema: { type: "string" } } },
            },
          },
        },
      },
    );
}
