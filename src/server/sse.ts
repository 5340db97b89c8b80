// GET /v1/events/:map as Server-Sent Events.
//
// The region's ringbuf poll blocks its thread in C, so the server never
// calls it: a timer drains whatever is ready (non-blocking) every POLL_MS
// and the event loop stays free. A ring has a single consumer, so the server
// reads each map once (one channel per map) and fans every record out to all
// clients following it, each decoding with its own ?type. A client whose
// stream is full is not buffered without bound: it misses records and is
// told how many (`event: lost`, with the producers' own drops).
import { Region } from "../native/index.ts";
import { openMap } from "../ops/index.ts";
import { eventDecoder, recordReader, type RawRecord, type RecordReader } from "../ops/index.ts";
import type { EventRecord } from "../ops/index.ts";
import { toJson } from "../json.ts";
import { toApiError } from "./errors.ts";
import { regionIdentity } from "../ops/index.ts";
import { BpftimeError } from "../errors.ts";

const POLL_MS = 25;
export const KEEPALIVE_MS = 10_000;
const BATCH = 256;
/** How often a channel checks that its region file is still the one it reads. */
const IDENTITY_CHECK_MS = 1000;
/** Bytes queued for a client that reads slowly before it starts missing records. */
const CLIENT_BUFFER = 1 << 20;

interface Subscriber {
  decode: (rec: RawRecord) => EventRecord;
  /** Sends text; false when the client's queue is full. */
  hasRoom(): boolean;
  send(text: string): void;
  finish(): void;
  /** Records left before the stream ends by itself (Infinity: none). */
  remaining: number;
  seq: number;
  missed: number;
  lastSend: number;
}

/** One map being read for every client following it. */
class Channel {
  readonly subs = new Set<Subscriber>();
  private readonly timer: ReturnType<typeof setInterval>;
  private lastLost: bigint;
  private closed = false;
  private readonly identity: string | null;
  private checkedAt = Date.now();

  constructor(
    private readonly r: Region,
    private readonly reader: RecordReader,
    private readonly onClose: () => void,
  ) {
    this.lastLost = reader.lost();
    this.identity = regionIdentity(r.name);
    this.timer = setInterval(() => this.tick(), POLL_MS);
  }

  private tick(): void {
    if (this.closed) return;
    try {
      const now = Date.now();
      if (now - this.checkedAt >= IDENTITY_CHECK_MS) {
        this.checkedAt = now;
        if (regionIdentity(this.r.name) !== this.identity)
          throw new BpftimeError(
            "not_found",
            `region ${this.r.name} was removed or created again: reconnect to follow the new one`,
          );
      }
      const open = [...this.subs].filter((s) => s.hasRoom());
      // Read only while someone can take records: otherwise they stay in
      // the ring (and producers count what no longer fits).
      const recs = open.length ? this.reader.drain(BATCH) : [];
      const lost = this.reader.lost();
      const dropped = lost - this.lastLost;
      this.lastLost = lost;
      for (const s of [...this.subs]) {
        let missed = 0;
        for (const rec of recs) {
          if (s.remaining <= 0) break;
          if (!s.hasRoom()) {
            missed++;
            continue;
          }
          s.send(`id: ${++s.seq}\ndata: ${toJson(s.decode(rec))}\n\n`);
          s.remaining--;
        }
        s.missed += missed;
        if ((dropped > 0n || s.missed > 0) && s.hasRoom()) {
          s.send(`event: lost\ndata: ${toJson({ lost: dropped + BigInt(s.missed) })}\n\n`);
          s.missed = 0;
        }
        if (s.remaining <= 0) s.finish();
        else if (now - s.lastSend >= KEEPALIVE_MS) s.send(": keepalive\n\n");
      }
    } catch (e) {
      // The region went away under the streams (removed, or recreated).
      const body = JSON.stringify(toApiError(e).body);
      for (const s of [...this.subs]) {
        try {
          s.send(`event: error\ndata: ${body}\n\n`);
        } catch {
          /* client gone */
        }
        s.finish();
      }
      this.close();
    }
  }

  remove(s: Subscriber): void {
    this.subs.delete(s);
    if (this.subs.size === 0) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const s of [...this.subs]) s.finish();
    this.r.close();
    this.onClose();
  }
}

export interface SubscribeOptions {
  map: string;
  typeName?: string;
  /** End the stream after this many records (default: never). */
  count?: number;
  signal?: AbortSignal;
}

/** Every event stream of one server (one region). */
export class EventHub {
  private readonly channels = new Map<number, Channel>();

  constructor(private readonly shm: string | undefined) {}

  /**
   * Checks the map and the decoding before any byte is sent, so those errors
   * are ordinary JSON error responses; then streams.
   */
  subscribe(o: SubscribeOptions): Response {
    const r = Region.open(this.shm);
    let decode: Subscriber["decode"];
    let mapId: number;
    let mapName: string;
    try {
      const m = openMap(r, o.map);
      decode = eventDecoder(m, o.typeName);
      mapId = m.id;
      mapName = m.info.name;
      if (!this.channels.has(mapId)) {
        this.channels.set(
          mapId,
          new Channel(r, recordReader(m), () => this.channels.delete(mapId)),
        );
      } else r.close();
    } catch (e) {
      r.close();
      throw e;
    }
    const channel = this.channels.get(mapId)!;
    const enc = new TextEncoder();
    let sub: Subscriber | undefined;
    const stream = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          let done = false;
          const s: Subscriber = {
            decode,
            remaining: o.count ?? Infinity,
            seq: 0,
            missed: 0,
            lastSend: Date.now(),
            hasRoom: () => !done && (controller.desiredSize ?? 1) > 0,
            send(text) {
              if (done) return;
              controller.enqueue(enc.encode(text));
              s.lastSend = Date.now();
            },
            finish() {
              if (done) return;
              done = true;
              channel.remove(s);
              try {
                controller.close();
              } catch {
                /* already cancelled */
              }
            },
          };
          sub = s;
          channel.subs.add(s);
          o.signal?.addEventListener("abort", () => s.finish());
          s.send(
            `retry: 1000\nevent: open\ndata: ${toJson({ map: { id: mapId, name: mapName } })}\n\n`,
          );
        },
        cancel() {
          sub?.finish();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: CLIENT_BUFFER }),
    );
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  }

  /** Clients following maps now. */
  get clients(): number {
    let n = 0;
    for (const c of this.channels.values()) n += c.subs.size;
    return n;
  }

  closeAll(): void {
    for (const c of [...this.channels.values()]) c.close();
  }
}
