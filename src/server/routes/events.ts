// /v1/events/:map: a ringbuf followed as Server-Sent Events.
import { Elysia, t } from "elysia";
import { secured, type RouteContext } from "./context.ts";

export function eventRoutes(o: RouteContext) {
  return new Elysia({ prefix: "/v1/events" }).get(
    "/:map",
    ({ params, query, request }) =>
      o.events.subscribe({
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
  );
}
