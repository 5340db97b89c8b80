// /v1/pins: list pins, pin a map or program under a name, remove a pin.
import { Elysia, t } from "elysia";
import { listPins, pinObject, unpin } from "../../ops/index.ts";
import { jsonBody } from "../body.ts";
import * as S from "../schemas.ts";
import { errors, secured, type RouteContext } from "./context.ts";

export function pinRoutes(o: RouteContext) {
  return new Elysia({ prefix: "/v1/pins" })
    .get("", () => o.region((r) => listPins(r)), {
      response: { 200: t.Array(S.PinSchema), ...errors },
      detail: { tags: ["maps"], summary: "list pins (bpftime pin list --json)" },
    })
    .post(
      "",
      ({ body, set }) => {
        const pin = o.region((r) => pinObject(r, body.kind, S.refText(body.ref), body.name));
        set.status = 201;
        return pin;
      },
      {
        parse: jsonBody,
        body: S.PinBody,
        response: { 201: S.PinSchema, ...errors, 409: S.ErrorSchema },
        detail: {
          tags: ["maps"],
          summary: "pin a map or program under a name (bpftime pin map|prog)",
          security: secured,
        },
      },
    )
    .delete("/*", ({ params }) => o.region((r) => unpin(r, params["*"])), {
      response: { 200: t.Object({ unpinned: t.String() }), ...errors },
      detail: {
        tags: ["maps"],
        summary: "remove a pin; a map nothing else holds goes with it (bpftime unpin)",
        security: secured,
      },
    });
}
