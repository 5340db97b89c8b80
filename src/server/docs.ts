// /docs: the OpenAPI document (from the routes' own schemas) and Swagger UI
// served from the binary itself (swagger-ui-dist, embedded), so the docs page
// works on machines without internet access.
import swaggerJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import { version } from "../version.ts";

export function docs() {
  return new Elysia()
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
              "`bpftime serve` when it creates it). Errors are `{ error, message }`. Each " +
              "answer is what the CLI's `--json` prints for the same operation. Numbers: ids " +
              "and sizes are JSON numbers; 64-bit counters (runCount, runTimeNs, generation, " +
              "createdNs, heartbeatNs, a kernel link's cookie) are always decimal strings; map " +
              "keys and values read through BTF are numbers up to 2^53-1 and decimal strings " +
              "above. `bpftime serve --kernel` serves the kernel provider on the same paths " +
              "(tag kernel).",
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
    .get("/docs/assets/swagger-ui.css", () => Bun.file(swaggerCss), { detail: { hide: true } });
}
