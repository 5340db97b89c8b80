// The HTTP admin API: the CLI's operations (src/ops) as REST under /v1,
// server-sent ringbuf events, Prometheus /metrics and the OpenAPI document
// with interactive docs at /docs, the web console at / (console.ts). One Elysia plugin per resource
// (routes/*.ts); handlers only adapt HTTP to an operation: open the region,
// call, return. Here: the guard (Host and bearer token, guard.ts), errors as
// `{ error, message }` with the status from errors.ts. Bigints never reach a
// route: src/ops returns 64-bit counters and cookies as decimal strings
// (src/json.ts), as the CLI's --json prints them, and the response schemas
// (schemas.ts) declare them as strings.
import { Elysia } from "elysia";
import { withRegion } from "../ops/index.ts";
import { errorBody, statusOf, toApiError } from "./errors.ts";
import { guard, type GuardOptions } from "./guard.ts";
import { validationMessage, type ValidationFailure } from "./validation.ts";
import { docs } from "./docs.ts";
import { EventHub } from "./sse.ts";
import type { RouteContext } from "./routes/context.ts";
import { programRoutes } from "./routes/programs.ts";
import { mapRoutes } from "./routes/maps.ts";
import { pinRoutes } from "./routes/pins.ts";
import { linkRoutes } from "./routes/links.ts";
import { regionRoutes } from "./routes/region.ts";
import { eventRoutes } from "./routes/events.ts";
import { kernelRoutes } from "./routes/kernel.ts";
import { stateRoutes } from "./routes/state.ts";
import { histogramRoutes } from "./routes/histograms.ts";
import { consoleRoutes } from "./console.ts";

export interface AppOptions extends GuardOptions {
  /** Region name (default $BPFTIME_SHM or bpftime). */
  shm?: string;
  /** Serve the kernel event provider (bpffs pins) instead of a region (routes/kernel.ts). */
  kernel?: boolean;
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
  // The console (a region's page) is not served over the kernel provider.
  const serve = o.kernel ? { development: false } : { routes: consoleRoutes, development: false };
  const app = new Elysia({ normalize: true, serve })
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
        return errorBody("invalid_request", validationMessage(error as ValidationFailure));
      }
      if (code === "PARSE" && !(error.cause instanceof Error)) {
        set.status = 400;
        return errorBody("invalid_request", "the body cannot be parsed");
      }
      const { status, body } = toApiError(error);
      set.status = status;
      return body;
    });
  if (o.kernel) return { app: app.use(kernelRoutes()), events };
  const region = app
    .use(programRoutes(ctx))
    .use(mapRoutes(ctx))
    .use(pinRoutes(ctx))
    .use(linkRoutes(ctx))
    .use(regionRoutes(ctx))
    .use(eventRoutes(ctx))
    .use(histogramRoutes(ctx))
    .use(stateRoutes(ctx));
  return { app: region, events };
}

export type App = ReturnType<typeof createApp>["app"];
