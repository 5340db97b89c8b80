// Non-blocking reads of a ringbuf or perf event array, for consumers that
// must not block their thread (the HTTP server's event streams poll this on a
// timer; `follow` in events.ts waits in C between reads instead).
import { checkStreamMap, recordDecoder, type EventRecord } from "./events.ts";
import type { MapHandle } from "./maps.ts";

export interface RecordReader {
  /** Records ready now (at most `max`), decoded as `bpftime events` does; never waits. */
  drain(max?: number): EventRecord[];
  /** Records the producers dropped because the buffer was full. */
  lost(): bigint;
}

export function recordReader(m: MapHandle, typeName?: string): RecordReader {
  checkStreamMap(m);
  const decode = recordDecoder(m, typeName);
  const buf = new Uint8Array(1 << 20);
  return {
    drain(max = 1000) {
      const out: EventRecord[] = [];
      while (out.length < max) {
        const rec = m.r.ringbufRead(m.id, buf);
        if (!rec) break;
        out.push({ cpu: rec.cpu, size: rec.data.length, data: decode(rec.data) });
      }
      return out;
    },
    lost: () => m.r.ringbufLost(m.id),
  };
}
