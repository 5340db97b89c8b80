// /v1/state: declarative state over HTTP. PUT converges the region to a state
// file (bpftime apply; ?dryRun=1 returns the plan only), GET exports the
// region as one (bpftime export). The body is YAML or JSON; it is checked
// against the state schema with every bad field reported at once, in one
// 400. Object paths are files on the server's host, relative ones resolved
// against the server's working directory.
import { Elysia, t } from "elysia";
import {
  applyState,
  exportState,
  formatState,
  parseStateDocument,
  resolveState,
  StateSchema,
  validateState,
} from "../../ops/index.ts";
import { checkJsonShape, readBounded } from "../body.ts";
import * as S from "../schemas.ts";
import { errors, secured, type RouteContext } from "./context.ts";

const MAX_STATE_BYTES = 1024 * 1024;

const Flag = t.Optional(
  t.Union([t.Boolean(), t.Literal("1"), t.Literal("0")], { description: "true or 1" }),
);
const on = (v: boolean | "1" | "0" | undefined) => v === true || v === "1";

const ChangeSchema = t.Object({
  action: t.Union([
    t.Literal("create"),
    t.Literal("replace"),
    t.Literal("update"),
    t.Literal("delete"),
  ]),
  kind: t.Union([t.Literal("object"), t.Literal("link"), t.Literal("pin"), t.Literal("entry")]),
  name: t.String({ description: 'the object, "OBJECT/PROGRAM", the pin or "OBJECT/MAP[KEY]"' }),
  detail: t.String({ description: "one line: what is (or would be) done" }),
});

export const ApplyResultSchema = t.Object({
  region: t.String(),
  dryRun: t.Boolean(),
  changes: t.Array(ChangeSchema, {
    description: "what was changed (dry run: would be), in order; empty when the region matches",
  }),
  leftAlone: t.Array(t.String(), {
    description: "what the region holds that the file does not mention, kept (prune removes it)",
  }),
});

/** The state schema as plain JSON Schema, for the OpenAPI document's request body. */
const stateJsonSchema = JSON.parse(JSON.stringify(StateSchema)) as Record<string, unknown>;
const body = {
  required: true,
  content: {
    "application/json": { schema: stateJsonSchema },
    "application/yaml": { schema: stateJsonSchema },
  },
};

export function stateRoutes(o: RouteContext) {
  return new Elysia()
    .put(
      "/v1/state",
      ({ body, query }) => {
        const state = validateState(body, "the body");
        const desired = resolveState(state, process.cwd(), "the body");
        return applyState(o.shm, desired, { dryRun: on(query.dryRun), prune: on(query.prune) });
      },
      {
        // YAML or JSON, then the shape every JSON body has (an object, bounded depth)
        parse: async ({ request }) => {
          const bytes = await readBounded(request, MAX_STATE_BYTES, "the state file");
          return checkJsonShape(parseStateDocument(new TextDecoder().decode(bytes), "the body"));
        },
        query: t.Object({ dryRun: Flag, prune: Flag }),
        response: { 200: ApplyResultSchema, ...errors, 409: S.ErrorSchema, 422: S.ErrorSchema },
        detail: {
          tags: ["state"],
          summary: "converge the region to a state file, YAML or JSON (bpftime apply)",
          description:
            "Objects new to the region are loaded, changed ones (SHA-256 of the file, or the " +
            "program list) replaced with their links moved atomically; the links of the file's " +
            "objects are exactly those listed; pins and entries are set where they differ. " +
            "Applying the same file again changes nothing. Objects and map pins the file does " +
            "not mention are left alone unless prune=1. The first failure stops the apply " +
            "(4xx/5xx naming what was applied and where it stopped); the next apply carries on.",
          security: secured,
          requestBody: body,
        },
      },
    )
    .get(
      "/v1/state",
      ({ query }) => {
        const e = o.region((r) => exportState(r, { entries: query.entries !== "0" }));
        if (query.format !== "yaml") return e.state;
        return new Response(formatState(e.state, "yaml"), {
          headers: { "content-type": "application/yaml; charset=utf-8" },
        });
      },
      {
        query: t.Object({
          format: t.Optional(t.Union([t.Literal("json"), t.Literal("yaml")])),
          entries: t.Optional(
            t.Union([t.Literal("1"), t.Literal("0")], { description: "0: leave map entries out" }),
          ),
        }),
        response: { 200: StateSchema, ...errors },
        detail: {
          tags: ["state"],
          summary: "the region as a state file (bpftime export); format=yaml for YAML",
        },
      },
    );
}
