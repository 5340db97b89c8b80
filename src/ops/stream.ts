// Non-blocking reads of a ringbuf or perf event array, for consumers that
// must not block their thread (the HTTP server drains this on a timer and
// fans each record out to every client following the map; `follow` in
// events.ts waits in C between reads instead). A ring has one consumer:
// whoever reads a record takes it from everyone else.
import { checkStreamMap, recordDecoder, type EventRecord } from "./events.ts";
import type { MapHandle } from "./maps.ts";

export interface RawRecord {
  cpu: number;
  data: Uint8Array;
}

export interface RecordReader {
  /** Records ready now (at most `max`), undecoded; never waits. */
  drain(max?: number): RawRecord[];
  /** Records the producers dropped because the buffer was full. */
  lost(): bigint;
}

/** A reader that drains the records of a ringbuf map (`bpftime events`, the SSE stream). */
export function recordReader(m: MapHandle): RecordReader {
  checkStreamMap(m);
  const buf = new Uint8Array(1 << 20);
  return {
    drain(max = 1000) {
      const out: RawRecord[] = [];
      while (out.length < max) {
        const rec = m.r.ringbufRead(m.id, buf);
        if (!rec) break;
        out.push(rec);
      }
      return out;
    },
    lost: () => m.r.ringbufLost(m.id),
  };
}

/** Decodes records as `bpftime events` does (BTF struct by name or unique size, else hex). */
export function eventDecoder(m: MapHandle, typeName?: string): (rec: RawRecord) => EventRecord {
  checkStreamMap(m);
  const decode = recordDecoder(m, typeName);
  return (rec) => ({ cpu: rec.cpu, size: rec.data.length, data: decode(rec.data) });
}
