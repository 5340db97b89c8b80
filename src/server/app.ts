// The HTTP admin API: the CLI's operations (src/ops) as REST under /v1,
// server-sent ringbuf events, Prometheus /metrics and the OpenAPI document
// with interactive docs at /docs. Handlers only adapt HTTP to an operation:
// open the region, call, return; every failure becomes `{ error, message }`
// with the status from errors.ts.
//
// Auth: a bearer token (Authorization: Bearer T, or ?access_token=T for
// EventSource clients) for every mutating route and the event stream. Reads
// are open on a loopback listener and need the token too on any other
// address. Checked when the request arrives, before any body is read.
import swaggerJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import { Elysia, t } from "elysia";
import { openapi } from "@elysiajs/openapi";
import { version } from "../version.ts";
import { toJsonValue } from "../json.ts";
import { withRegion } from "../ops/index.ts";
import { snapshot, mapView } from "../ops/index.ts";
import { deleteProgram, attach, detach, replace } from "../ops/index.ts";
import { describeMap, openMap } from "../ops/index.ts";
import { entriesPage, lookupEntry, updateEntry, deleteEntry } from "../ops/index.ts";
import { programDetail, loadObjectBytes, testRunProgram } from "../ops/index.ts";
import { instanceDetails } from "../ops/index.ts";
import { regionView, setStats } from "../ops/index.ts";
import { collectMetrics } from "../ops/index.ts";
import { BpftimeError } from "../errors.ts";
import { HttpError, errorBody, statusOf, toApiError } from "./errors.ts";
import { parseJsonBody, parseObjectBody, type ObjectUpload } from "./body.ts";
import { tokenMatches } from "./token.ts";
import { EventHub } from "./sse.ts";
import { renderMetrics } from "../ops/index.ts";
import * as S from "./schemas.ts";

export interface AppOptions {
  /** Region name (default $BPFTIME_SHM or bpftime). */
  shm?: string;
  token: string;
  /** Require the token for reads as well (non-loopback listeners). */
  protectReads: boolean;
  /** Accepted Host header values (host:port); empty accepts any (non-loopback). */
  allowedHosts: string[];
}

/** JSON with bigints as decimal strings, exactly as the CLI's --json prints. */
const plain = toJsonValue;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const OPEN_PATHS = /^\/docs(\/|$)/;

/** The token as @elysiajs/bearer extracts it: Authorization header, else ?access_token. */
function presentedToken(request: Request, url: URL): string | undefined {
  const auth = request.headers.get("authorization");
  if (auth?.startsWith("Bearer ")) return auth.slice("Bearer ".length).trim();
  return url.searchParams.get("access_token") ?? undefined;
}

const errors = { 400: S.ErrorSchema, 401: S.ErrorSchema, 404: S.ErrorSchema };
const secured = [{ bearer: [] as string[] }];

export function createApp(o: AppOptions) {
  /** Methods of the routes whose pattern matches `path` (for 405 answers). */
  const methodsFor = (path: string): string[] => {
    const out = new Set<string>();
    for (const r of app.routes) {
      const re = new RegExp(`^${r.path.replace(/:[^/]+/g, "[^/]+")}$`);
      if (re.test(path) && r.method !== "HEAD") out.add(r.method);
    }
    return [...out].sort();
  };

  const events = new EventHub(o.shm);
  const region = <T>(fn: Parameters<typeof withRegion<T>>[1]) => withRegion(o.shm, fn);

  const app = new Elysia({ normalize: true })
    .use(
      openapi({
        path: "/docs",
        specPath: "/docs/json",
        // Swagger UI served from the binary itself (swagger-ui-dist, embedded):
        // the docs page works on machines without internet access.
        provider: "swagger-ui",
        swagger: { cdn: "/docs/assets/swagger-ui-bundle.js", theme: "/docs/assets/swagger-ui.css" },
        documentation: {
          info: {
            title: "bpftime admin API",
            version,
            description:
              "The operations of the `bpftime` CLI over HTTP: programs, maps, attach targets and " +
              "links, instances, ringbuf events, statistics. Mutating routes and the event " +
              "stream need `Authorization: Bearer <token>` (the token file is printed by " +
              "`bpftime serve` when it creates it). Errors are `{ error, message }`.",
          },
          tags: [
            { name: "programs" },
            { name: "maps" },
            { name: "links", description: "attach targets and links" },
            { name: "instances" },
            { name: "events" },
            { name: "region" },
          ],
          components: {
            securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
          },
        },
      }),
    )
    .get("/docs/assets/swagger-ui-bundle.js", () => Bun.file(swaggerJs), { detail: { hide: true } })
    .get("/docs/assets/swagger-ui.css", () => Bun.file(swaggerCss), { detail: { hide: true } })
    .onRequest(({ request, set }) => {
      const url = new URL(request.url);
      if (o.allowedHosts.length) {
        const host = (request.headers.get("host") ?? "").toLowerCase();
        if (!o.allowedHosts.includes(host)) {
          set.status = 403;
          return errorBody(
            "forbidden_host",
            `Host "${host}" is not this server's loopback address; use http://${o.allowedHosts[0]}`,
          );
        }
      }
      const needsToken =
        !OPEN_PATHS.test(url.pathname) &&
        (o.protectReads ||
          !SAFE_METHODS.has(request.method) ||
          url.pathname.startsWith("/v1/events/"));
      if (needsToken && !tokenMatches(presentedToken(request, url), o.token)) {
        set.status = 401;
        set.headers["www-authenticate"] = 'Bearer realm="bpftime"';
        return errorBody(
          "unauthorized",
          presentedToken(request, url)
            ? "wrong bearer token"
            : "this route needs Authorization: Bearer <token> (the token file of `bpftime serve`)",
        );
      }
    })
    .onError(({ code, error, set, request }) => {
      if (code === "NOT_FOUND") {
        // A known path asked with another method is 405 with the methods it has.
        const allowed = methodsFor(new URL(request.url).pathname);
        if (allowed.length) {
          set.status = statusOf.method_not_allowed;
          set.headers["allow"] = allowed.join(", ");
          return errorBody(
            "method_not_allowed",
            `${request.method} is not allowed here; use ${allowed.join(" or ")}`,
          );
        }
        set.status = 404;
        return errorBody("route_not_found", "no such route; see /docs");
      }
      if (code === "VALIDATION") {
        set.status = 400;
        const v = error as {
          type?: string;
          valueError?: { path?: string; message?: string };
          all?: Array<{ summary?: string; path?: string }>;
          customError?: unknown;
        };
        const first = v.all?.[0];
        const path = v.valueError?.path || first?.path || "";
        const where = ["body", "query", "params"].includes(v.type ?? "")
          ? `${v.type}${path}`
          : path.replace(/^\//, "") || "request";
        const why =
          (typeof v.customError === "string" && v.customError) ||
          first?.summary ||
          v.valueError?.message ||
          "does not match the schema";
        return errorBody("invalid_request", `invalid ${where}: ${why}; see /docs`);
      }
      if (code === "PARSE" && !(error.cause instanceof Error)) {
        set.status = 400;
        return errorBody("invalid_request", "the body cannot be parsed");
      }
      const { status, body } = toApiError(error);
      set.status = status;
      return body;
    })

    // ---- programs ----
    .post(
      "/v1/programs",
      ({ body, query, set }) => {
        const up = body as ObjectUpload;
        const programs = query.program ? [query.program].flat() : [];
        const loaded = loadObjectBytes(up.bytes, query.name ?? up.filename, o.shm, {
          programs,
          allowWriteUser: query.allowWriteUser === true,
        });
        set.status = 201;
        return plain(loaded);
      },
      {
        parse: parseObjectBody,
        query: t.Object({
          name: t.Optional(t.String({ description: "object file name to record" })),
          program: t.Optional(
            t.Union([t.String(), t.Array(t.String())], {
              description: "load only this program (repeatable)",
            }),
          ),
          allowWriteUser: t.Optional(
            t.Boolean({
              description:
                "let tracing programs call bpf_probe_write_user (bpftime load --allow-write-user)",
            }),
          ),
        }),
        response: { 201: S.LoadedSchema, ...errors, 413: S.ErrorSchema, 422: S.ErrorSchema },
        detail: {
          tags: ["programs"],
          summary: "verify an ELF object and store its programs and maps (bpftime load)",
          security: secured,
          requestBody: {
            required: true,
            content: {
              "application/octet-stream": { schema: { type: "string", format: "binary" } },
              "multipart/form-data": {
                schema: {
                  type: "object",
                  properties: { file: { type: "string", format: "binary" } },
                },
              },
            },
          },
        },
      },
    )
    .get("/v1/programs", () => region((r) => snapshot(r).programs), {
      response: { 200: t.Array(S.ProgramSchema), ...errors },
      detail: { tags: ["programs"], summary: "list programs (as in bpftime list --json)" },
    })
    .get("/v1/programs/:id", ({ params }) => region((r) => plain(programDetail(r, params.id))), {
      params: S.IdParam,
      response: { 200: S.ProgramDetailSchema, ...errors },
      detail: {
        tags: ["programs"],
        summary: "one program: disassembly, JIT size, verifier statistics",
      },
    })
    .delete(
      "/v1/programs/:id",
      ({ params }) => region((r) => ({ deleted: deleteProgram(r, params.id) })),
      {
        params: S.IdParam,
        response: { 200: t.Object({ deleted: t.Integer() }), ...errors, 409: S.ErrorSchema },
        detail: {
          tags: ["programs"],
          summary: "delete an unlinked program (409 while linked)",
          security: secured,
        },
      },
    )

    .post(
      "/v1/programs/:id/run",
      ({ params, body }) => region((r) => testRunProgram(r, params.id, body)),
      {
        parse: parseJsonBody,
        params: S.IdParam,
        body: S.TestRunBody,
        response: { 200: S.TestRunSchema, ...errors, 422: S.ErrorSchema },
        detail: {
          tags: ["programs"],
          summary: "run a stored program once or N times on given input (bpftime run ID)",
          description:
            "Like BPF_PROG_TEST_RUN: the context is built for the program's type over the " +
            "input; the run uses the region's maps, so its map updates and ringbuf records " +
            "are real.",
          security: secured,
        },
      },
    )

    // ---- maps ----
    .get("/v1/maps", () => region((r) => r.mapIds().map((id) => mapView(r, id))), {
      response: { 200: t.Array(S.MapSchema), ...errors },
      detail: { tags: ["maps"], summary: "list maps (bpftime map list --json)" },
    })
    .get("/v1/maps/:id", ({ params }) => region((r) => plain(describeMap(openMap(r, params.id)))), {
      params: S.IdParam,
      response: { 200: S.MapDetailSchema, ...errors },
      detail: { tags: ["maps"], summary: "one map: sizes, BTF types, entry count (map show)" },
    })
    .get(
      "/v1/maps/:id/entries",
      ({ params, query }) =>
        region((r) => plain(entriesPage(openMap(r, params.id), query.offset, query.limit))),
      {
        params: S.IdParam,
        query: t.Object({
          offset: t.Optional(
            t.Integer({ minimum: 0, default: 0, error: "offset must be an integer >= 0" }),
          ),
          limit: t.Optional(
            t.Integer({
              minimum: 1,
              maximum: 10_000,
              default: 100,
              error: "limit must be an integer from 1 to 10000",
            }),
          ),
        }),
        response: { 200: S.EntriesPageSchema, ...errors },
        detail: { tags: ["maps"], summary: "a page of entries in iteration order (map dump)" },
      },
    )
    .get(
      "/v1/maps/:id/entries/:key",
      ({ params }) => region((r) => plain(lookupEntry(openMap(r, params.id), params.key))),
      {
        params: t.Object({
          id: t.String(),
          key: t.String({ description: "JSON via BTF or hex:…" }),
        }),
        response: { 200: S.EntrySchema, ...errors },
        detail: { tags: ["maps"], summary: "look up one key (map lookup)" },
      },
    )
    .put(
      "/v1/maps/:id/entries/:key",
      ({ params, body }) =>
        region((r) => updateEntry(openMap(r, params.id), params.key, body.value, body.flag)),
      {
        parse: parseJsonBody,
        params: t.Object({ id: t.String(), key: t.String() }),
        body: S.UpdateBody,
        response: { 200: t.Object({ updated: t.Boolean() }), ...errors, 409: S.ErrorSchema },
        detail: {
          tags: ["maps"],
          summary: "store a value under a key (map update)",
          security: secured,
        },
      },
    )
    .delete(
      "/v1/maps/:id/entries/:key",
      ({ params }) => region((r) => deleteEntry(openMap(r, params.id), params.key)),
      {
        params: t.Object({ id: t.String(), key: t.String() }),
        response: { 200: t.Object({ deleted: t.Boolean() }), ...errors, 409: S.ErrorSchema },
        detail: { tags: ["maps"], summary: "delete one key (map delete)", security: secured },
      },
    )

    // ---- targets and links ----
    .post(
      "/v1/links",
      ({ body, set }) => {
        const cookie = BigInt(body.cookie ?? 0);
        const res = region((r) => attach(r, body.program, body.type, body.arg, cookie));
        set.status = 201;
        return res;
      },
      {
        parse: parseJsonBody,
        body: S.AttachBody,
        response: { 201: S.AttachedSchema, ...errors, 409: S.ErrorSchema },
        detail: {
          tags: ["links"],
          summary: "link a program to a new attach target (bpftime attach)",
          security: secured,
        },
      },
    )
    .get("/v1/links", () => region((r) => snapshot(r).links), {
      response: { 200: t.Array(S.LinkSchema), ...errors },
      detail: { tags: ["links"], summary: "list links with the processes running them" },
    })
    .get("/v1/targets", () => region((r) => snapshot(r).targets), {
      response: { 200: t.Array(S.TargetSchema), ...errors },
      detail: { tags: ["links"], summary: "list attach targets" },
    })
    .delete("/v1/links/:id", ({ params }) => region((r) => detach(r, params.id)), {
      params: t.Object({ id: t.String() }),
      response: { 200: S.DetachedSchema, ...errors },
      detail: { tags: ["links"], summary: "remove a link (bpftime detach)", security: secured },
    })
    .patch(
      "/v1/links/:id",
      ({ params, body }) => region((r) => replace(r, params.id, body.program)),
      {
        parse: parseJsonBody,
        params: t.Object({ id: t.String() }),
        body: S.ReplaceBody,
        response: { 200: S.ReplacedSchema, ...errors },
        detail: {
          tags: ["links"],
          summary: "point a link at another program, atomically (bpftime replace)",
          security: secured,
        },
      },
    )

    // ---- instances, region ----
    .get("/v1/instances", () => region((r) => instanceDetails(r)), {
      response: { 200: t.Array(S.InstanceSchema), ...errors },
      detail: {
        tags: ["instances"],
        summary: "processes that instantiated the region: links, start, heartbeat, alive",
      },
    })
    .get("/v1/snapshot", () => region((r) => snapshot(r)), {
      response: { 200: S.SnapshotSchema, ...errors },
      detail: { tags: ["region"], summary: "everything at once (bpftime list --json)" },
    })
    .get("/v1/region", () => region((r) => regionView(r)), {
      response: { 200: S.RegionSchema, ...errors },
      detail: { tags: ["region"], summary: "the shared-memory region (bpftime shm info)" },
    })
    .post("/v1/region/stats", ({ body }) => region((r) => setStats(r, body.enabled)), {
      parse: parseJsonBody,
      body: S.StatsBody,
      response: { 200: S.StatsSchema, ...errors },
      detail: {
        tags: ["region"],
        summary: "turn program run statistics (runCount, runTimeNs) on or off",
        security: secured,
      },
    })

    // ---- events, metrics ----
    .get(
      "/v1/events/:map",
      ({ params, query, request }) =>
        events.subscribe({
          map: params.map,
          ...(query.type ? { typeName: query.type } : {}),
          ...(query.count ? { count: query.count } : {}),
          signal: request.signal,
        }),
      {
        params: t.Object({ map: t.String({ description: "ringbuf or perf event array" }) }),
        query: t.Object({
          type: t.Optional(t.String({ description: "decode records as this BTF struct" })),
          count: t.Optional(
            t.Integer({
              minimum: 1,
              description: "end after N records",
              error: "count must be an integer >= 1",
            }),
          ),
          access_token: t.Optional(t.String({ description: "the token, for EventSource" })),
        }),
        detail: {
          tags: ["events"],
          summary: "follow a ringbuf as Server-Sent Events (bpftime events)",
          description:
            "`event: open` first, then one `data:` line per record `{cpu, size, data}` " +
            "decoded as `bpftime events --json` does, `event: lost` when producers dropped " +
            "records, `: keepalive` comments while idle.",
          security: secured,
          responses: {
            200: { description: "event stream", content: { "text/event-stream": {} } },
          },
        },
      },
    )
    .get(
      "/metrics",
      ({ set }) => {
        set.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
        return region((r) => renderMetrics(collectMetrics(r)));
      },
      {
        detail: {
          tags: ["region"],
          summary: "Prometheus metrics: program runs and run time, map entries, links, instances",
        },
      },
    );
  return { app, events };
}

export type App = ReturnType<typeof createApp>["app"];
void BpftimeError;
void HttpError;
