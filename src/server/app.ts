// The HTTP admin API: the CLI's operations (src/ops) as REST under /v1,
// server-sent ringbuf events, Prometheus /metrics and the OpenAPI document
// with interactive docs at /docs, the web console at / (console.ts). One Elysia plugin per resource
// (routes/*.ts); handlers only adapt HTTP to an operation: open the region,
// call, return. Here: the guard (Host and bearer token, guard.ts), errors as
// `{ error, message }` with the status from errors.ts, and bigints turned to
// JSON in one place for every route.
import { Elysia } from "elysia";
import { toJsonValue } from "../json.ts";
import { withRegion } from "../ops/index.ts";
import { errorBody, statusOf, toApiError } from "./errors.ts";
import { guard, type GuardOptions } from "./guard.ts";
import { docs } from "./docs.ts";
import { EventHub } from "./sse.ts";
import type { RouteContext } from "./routes/context.ts";
import { programRoutes } from "./routes/programs.ts";
import { mapRoutes } from "./routes/maps.ts";
import { pinRoutes } from "./routes/pins.ts";
import { linkRoutes } from "./routes/links.ts";
import { regionRoutes } from "./routes/region.ts";
import { eventRoutes } from "./routes/events.ts";
import { stateRoutes } from "./routes/state.ts";
import { histogramRoutes } from "./routes/histograms.ts";
import { consoleRoutes } from "./console.ts";

export interface AppOptions extends GuardOptions {
  /** Region name (default $BPFTIME_SHM or bpftime). */
  shm?: string;
}

/** A handler's plain result (object or array): bigints as decimal strings, bytes as hex, as the CLI's --json prints. */
function jsonSafe(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === Array.prototype ? toJsonValue(value) : value;
}

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
  const ctx: RouteContext = {
    ...(o.shm !== undefined ? { shm: o.shm } : {}),
    region: (fn) => withRegion(o.shm, fn),
    events,
  };

  // development: false — Bun serves the console's bundle as built, without
  // its hot-reload client.
  const app = new Elysia({ normalize: true, serve: { routes: consoleRoutes, development: false } })
    .use(docs())
    .use(guard(o))
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
    .onAfterHandle(({ responseValue }) => jsonSafe(responseValue))
    .use(programRoutes(ctx))
    .use(mapRoutes(ctx))
    .use(pinRoutes(ctx))
    .use(linkRoutes(ctx))
    .use(regionRoutes(ctx))
    .use(eventRoutes(ctx))
    .use(histogramRoutes(ctx))
    .use(stateRoutes(ctx));
  return { app, events };
}

export type App = ReturnType<typeof createApp>["app"];
