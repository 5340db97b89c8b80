// GET /v1/events/:map as Server-Sent Events. The region's ringbuf poll blocks
// its thread in C, so the server never calls it: a timer drains whatever is
// ready (recordReader, non-blocking) every POLL_MS and the event loop stays
// free. A slow client is not buffered without bound: while its stream is
// full, nothing is read, the ring fills and producers count lost records
// (sent as `event: lost`).
import { Region } from "../native/runtime.ts";
import { openMap } from "../ops/maps.ts";
import { recordReader } from "../ops/stream.ts";
import { toJson } from "../cli/output.ts";
import { toApiError } from "./errors.ts";

export const POLL_MS = 25;
export const KEEPALIVE_MS = 10_000;

export interface EventStreamOptions {
  shm: string | undefined;
  map: string;
  typeName?: string;
  /** Close the stream after this many records (0: never). */
  count?: number;
  signal?: AbortSignal;
}

/** Streams open now, so that stopping the server ends them. */
export class StreamSet {
  private readonly closers = new Set<() => void>();
  add(close: () => void): () => void {
    this.closers.add(close);
    return () => void this.closers.delete(close);
  }
  closeAll(): void {
    for (const c of [...this.closers]) c();
  }
  get size(): number {
    return this.closers.size;
  }
}

/**
 * Opens the map and checks it is a ringbuf or perf event array before any
 * byte is sent, so those errors are ordinary JSON error responses.
 */
export function eventStream(o: EventStreamOptions, streams: StreamSet): Response {
  const r = Region.open(o.shm);
  let reader;
  let mapInfo;
  try {
    const m = openMap(r, o.map);
    reader = recordReader(m, o.typeName);
    mapInfo = { id: m.id, name: m.info.name };
  } catch (e) {
    r.close();
    throw e;
  }
  const enc = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  let seq = 0;
  let lastLost = reader.lost();
  let lastSend = Date.now();
  let closed = false;
  let untrack: () => void = () => {};

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        controller.enqueue(enc.encode(text));
        lastSend = Date.now();
      };
      const finish = () => {
        if (closed) return;
        closed = true;
        clearInterval(timer);
        untrack();
        r.close();
        try {
          controller.close();
        } catch {
          /* already cancelled */
        }
      };
      untrack = streams.add(finish);
      o.signal?.addEventListener("abort", finish);
      send(`retry: 1000\nevent: open\ndata: ${toJson({ map: mapInfo })}\n\n`);
      const tick = () => {
        if (closed) return;
        try {
          if ((controller.desiredSize ?? 1) > 0) {
            const max = o.count ? o.count - seq : 256;
            for (const rec of reader.drain(Math.min(256, max))) {
              send(`id: ${++seq}\ndata: ${toJson(rec)}\n\n`);
            }
            const lost = reader.lost();
            if (lost !== lastLost) {
              send(`event: lost\ndata: ${toJson({ lost, since: lost - lastLost })}\n\n`);
              lastLost = lost;
            }
          }
          if (o.count && seq >= o.count) return finish();
          if (Date.now() - lastSend >= KEEPALIVE_MS) send(": keepalive\n\n");
        } catch (e) {
          // The region went away under the stream (removed, or recreated).
          try {
            send(`event: error\ndata: ${JSON.stringify(toApiError(e).body)}\n\n`);
          } catch {
            /* client gone */
          }
          finish();
        }
      };
      timer = setInterval(tick, POLL_MS);
    },
    cancel() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      untrack();
      r.close();
    },
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}
