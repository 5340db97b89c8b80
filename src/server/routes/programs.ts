// /v1/programs: load an object, list, show, delete and test-run programs.
import { Elysia, t } from "elysia";
import {
  loadObjectBytes,
  programDetail,
  snapshot,
  testRunProgram,
  unload,
} from "../../ops/index.ts";
import { jsonBody, parseObjectBody, type ObjectUpload } from "../body.ts";
import * as S from "../schemas.ts";
import { errors, secured, type RouteContext } from "./context.ts";

/** OpenAPI: an ELF object as the raw body or a multipart file (parseObjectBody). */
export const objectUploadDoc = {
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
} as const;

export function programRoutes(o: RouteContext) {
  return new Elysia({ prefix: "/v1/programs" })
    .post(
      "",
      ({ body, query, set }) => {
        const up = body as ObjectUpload;
        const programs = query.program ? [query.program].flat() : [];
        const loaded = loadObjectBytes(up.bytes, query.name ?? up.filename, o.shm, {
          programs,
          pinMaps: query.pinMaps === true,
          reuseMaps: query.reuseMaps === true,
          allowWriteUser: query.allowWriteUser === true,
          opt: query.opt === true,
        });
        set.status = 201;
        return loaded;
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
          pinMaps: t.Optional(
            t.Boolean({ description: "pin every map under its name (bpftime load --pin-maps)" }),
          ),
          reuseMaps: t.Optional(
            t.Boolean({
              description: "take over live maps of the same name (bpftime load --reuse-maps)",
            }),
          ),
          allowWriteUser: t.Optional(
            t.Boolean({
              description:
                "let tracing programs call bpf_probe_write_user (bpftime load --allow-write-user)",
            }),
          ),
          opt: t.Optional(
            t.Boolean({
              description:
                "compile each program with the LLVM tier, ~1-2 s each (bpftime load --opt)",
            }),
          ),
        }),
        response: { 201: S.LoadedSchema, ...errors, 413: S.ErrorSchema, 422: S.ErrorSchema },
        detail: {
          tags: ["programs"],
          summary: "verify an ELF object and store its programs and maps (bpftime load)",
          security: secured,
          requestBody: objectUploadDoc,
        },
      },
    )
    .get("", () => o.region((r) => snapshot(r).programs), {
      response: { 200: t.Array(S.ProgramSchema), ...errors },
      detail: { tags: ["programs"], summary: "list programs (as in bpftime list --json)" },
    })
    .get("/:id", ({ params }) => o.region((r) => programDetail(r, params.id)), {
      params: S.IdParam,
      response: { 200: S.ProgramDetailSchema, ...errors },
      detail: {
        tags: ["programs"],
        summary: "one program: disassembly, JIT size, verifier statistics",
      },
    })
    .delete("/:id", ({ params }) => o.region((r) => unload(r, params.id)), {
      params: S.IdParam,
      response: { 200: t.Object({ deleted: t.Integer() }), ...errors, 409: S.ErrorSchema },
      detail: {
        tags: ["programs"],
        summary: "delete an unlinked program (409 while linked)",
        security: secured,
      },
    })

    .post("/:id/run", ({ params, body }) => o.region((r) => testRunProgram(r, params.id, body)), {
      parse: jsonBody,
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
    });
}
