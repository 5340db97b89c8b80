// /v1/links and /v1/targets: attach, list, detach and replace.
import { Elysia, t } from "elysia";
import { HttpError } from "../errors.ts";
import { attach, detach, replace, snapshot } from "../../ops/index.ts";
import { jsonBody } from "../body.ts";
import * as S from "../schemas.ts";
import { errors, secured, type RouteContext } from "./context.ts";

export function linkRoutes(o: RouteContext) {
  return new Elysia()
    .post(
      "/v1/links",
      ({ body, set }) => {
        const cookie = BigInt(body.cookie ?? 0);
        if (body.arg !== undefined && body.prefix !== undefined && body.arg !== body.prefix)
          throw new HttpError(
            "invalid_request",
            "invalid body: give the target argument as arg or prefix, not both; see /docs",
          );
        const arg = body.arg ?? body.prefix;
        if (arg === undefined)
          throw new HttpError(
            "invalid_request",
            "invalid body/arg: missing (the target argument: URL prefix or BINARY:SYMBOL[+OFF]; " +
              "prefix is its alias); see /docs",
          );
        const program = S.refText(body.program);
        const res = o.region((r) => attach(r, program, body.type, arg, cookie));
        set.status = 201;
        return res;
      },
      {
        parse: jsonBody,
        body: S.AttachBody,
        response: { 201: S.AttachedSchema, ...errors, 409: S.ErrorSchema },
        detail: {
          tags: ["links"],
          summary: "link a program to a new attach target (bpftime attach)",
          security: secured,
        },
      },
    )
    .get("/v1/links", () => o.region((r) => snapshot(r).links), {
      response: { 200: t.Array(S.LinkSchema), ...errors },
      detail: { tags: ["links"], summary: "list links with the processes running them" },
    })
    .get("/v1/targets", () => o.region((r) => snapshot(r).targets), {
      response: { 200: t.Array(S.TargetSchema), ...errors },
      detail: { tags: ["links"], summary: "list attach targets" },
    })
    .delete("/v1/links/:id", ({ params }) => o.region((r) => detach(r, params.id)), {
      params: t.Object({ id: t.String() }),
      response: { 200: S.DetachedSchema, ...errors },
      detail: { tags: ["links"], summary: "remove a link (bpftime detach)", security: secured },
    })
    .patch(
      "/v1/links/:id",
      ({ params, body }) => o.region((r) => replace(r, params.id, S.refText(body.program))),
      {
        parse: jsonBody,
        params: t.Object({ id: t.String() }),
        body: S.ReplaceBody,
        response: { 200: S.ReplacedSchema, ...errors },
        detail: {
          tags: ["links"],
          summary: "point a link at another program, atomically (bpftime replace)",
          security: secured,
        },
      },
    );
}
