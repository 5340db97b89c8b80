// /v1/maps: list, show and delete maps, page through, look up, update and
// delete entries, pop and peek queues and stacks.
import { Elysia, t } from "elysia";
import {
  deleteEntry,
  deleteMapObject,
  describeMap,
  entriesPage,
  freeze,
  lookupEntry,
  mapView,
  openMap,
  popOrPeek,
  updateEntry,
} from "../../ops/index.ts";
import { parseJsonBody } from "../body.ts";
import * as S from "../schemas.ts";
import { errors, secured, type RouteContext } from "./context.ts";

export function mapRoutes(o: RouteContext) {
  return new Elysia({ prefix: "/v1/maps" })
    .get("", () => o.region((r) => r.mapIds().map((id) => mapView(r, id))), {
      response: { 200: t.Array(S.MapSchema), ...errors },
      detail: { tags: ["maps"], summary: "list maps (bpftime map list --json)" },
    })
    .get("/:id", ({ params }) => o.region((r) => describeMap(openMap(r, params.id))), {
      params: S.IdParam,
      response: { 200: S.MapDetailSchema, ...errors },
      detail: { tags: ["maps"], summary: "one map: sizes, BTF types, entry count (map show)" },
    })
    .delete("/:id", ({ params }) => o.region((r) => deleteMapObject(r, params.id)), {
      params: S.IdParam,
      response: { 200: t.Object({ deleted: t.Integer() }), ...errors, 409: S.ErrorSchema },
      detail: {
        tags: ["maps"],
        summary: "remove a map nothing holds (map delete MAP; 409 naming the holders)",
        security: secured,
      },
    })
    .post(
      "/:id/freeze",
      ({ params }) =>
        o.region((r) => {
          freeze(openMap(r, params.id));
          return { frozen: true as const };
        }),
      {
        params: S.IdParam,
        response: { 200: t.Object({ frozen: t.Literal(true) }), ...errors },
        detail: {
          tags: ["maps"],
          summary: "make a map read-only to the control plane, for good (map freeze)",
          security: secured,
        },
      },
    )
    .post(
      "/:id/pop",
      ({ params }) => o.region((r) => ({ value: popOrPeek(openMap(r, params.id), true) })),
      {
        params: S.IdParam,
        response: { 200: t.Object({ value: S.Json }), ...errors },
        detail: {
          tags: ["maps"],
          summary: "remove and return the next value of a queue or stack (map pop; 404 if empty)",
          security: secured,
        },
      },
    )
    .get(
      "/:id/peek",
      ({ params }) => o.region((r) => ({ value: popOrPeek(openMap(r, params.id), false) })),
      {
        params: S.IdParam,
        response: { 200: t.Object({ value: S.Json }), ...errors },
        detail: {
          tags: ["maps"],
          summary: "the next value of a queue or stack, left in place (map peek; 404 if empty)",
        },
      },
    )
    .get(
      "/:id/entries",
      ({ params, query }) =>
        o.region((r) => entriesPage(openMap(r, params.id), query.offset, query.limit)),
      {
        params: S.IdParam,
        query: S.PageQuery,
        response: { 200: S.EntriesPageSchema, ...errors },
        detail: { tags: ["maps"], summary: "a page of entries in iteration order (map dump)" },
      },
    )
    .get(
      "/:id/entries/:key",
      ({ params }) => o.region((r) => lookupEntry(openMap(r, params.id), params.key)),
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
      "/:id/entries/:key",
      ({ params, body }) =>
        o.region((r) => updateEntry(openMap(r, params.id), params.key, body.value, body.flag)),
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
      "/:id/entries/:key",
      ({ params }) => o.region((r) => deleteEntry(openMap(r, params.id), params.key)),
      {
        params: t.Object({ id: t.String(), key: t.String() }),
        response: { 200: t.Object({ deleted: t.Boolean() }), ...errors, 409: S.ErrorSchema },
        detail: { tags: ["maps"], summary: "delete one key (map delete)", security: secured },
      },
    );
}
