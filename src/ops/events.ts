// Following a ringbuf or perf event array: `bpftime events MAP` and the HTTP
// API's server-sent events. Records are decoded through the object's BTF when
// exactly one struct there has the record's size (or the one named with
// --type), and shown as hex otherwise.
import { BpftimeError } from "../errors.ts";
import { formatValue } from "../btf/index.ts";
import type { MapHandle } from "./maps.ts";

const STREAM_TYPES = new Set([4, 27]); // perf_event_array, ringbuf

export interface EventRecord {
  cpu: number;
  size: number;
  data: unknown;
}

/** Refuses a map that is not a ringbuf or perf event array (what `bpftime events` can follow). */
export function checkStreamMap(m: MapHandle): void {
  if (!STREAM_TYPES.has(m.info.type))
    throw new BpftimeError(
      "invalid_argument",
      `map ${m.info.name} (${m.id}) is not a ringbuf or perf event array; \`bpftime map dump\` shows its entries`,
    );
}

/** A decoder for records of this map: by BTF struct name, or by unique size. */
export function recordDecoder(m: MapHandle, typeName?: string): (b: Uint8Array) => unknown {
  const btf = m.btf;
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  if (!btf) {
    if (typeName)
      throw new BpftimeError(
        "invalid_argument",
        `map ${m.info.name} has no BTF to decode "${typeName}" with`,
      );
    return hex;
  }
  if (typeName) {
    const t = btf.typeByName(typeName.replace(/^struct /, ""), "struct");
    if (!t)
      throw new BpftimeError(
        "not_found",
        `no struct ${typeName} in the BTF of map ${m.info.name}'s object`,
      );
    return (b) => formatValue(btf, t.id, b);
  }
  const bySize = new Map<number, number[]>();
  btf.types.forEach((t, id) => {
    if (t.kind === "struct" && t.name) bySize.set(t.size, [...(bySize.get(t.size) ?? []), id]);
  });
  return (b) => {
    const ids = bySize.get(b.length);
    return ids?.length === 1 ? formatValue(btf, ids[0]!, b) : hex(b);
  };
}

/**
 * Reads records as they arrive until `stop()` says so: each poll waits on the
 * region's futex for at most `pollMs`, so no CPU is burnt while idle.
 */
export async function follow(
  m: MapHandle,
  onRecord: (r: EventRecord) => void | Promise<void>,
  opts: { stop: () => boolean; pollMs?: number; typeName?: string },
): Promise<void> {
  checkStreamMap(m);
  const decode = recordDecoder(m, opts.typeName);
  const buf = new Uint8Array(1 << 20);
  while (!opts.stop()) {
    let rec = m.r.ringbufRead(m.id, buf);
    while (rec) {
      await onRecord({ cpu: rec.cpu, size: rec.data.length, data: decode(rec.data) });
      if (opts.stop()) return;
      rec = m.r.ringbufRead(m.id, buf);
    }
    // Blocking wait in C; short enough that signals and stop() are honoured promptly.
    m.r.ringbufPoll(m.id, opts.pollMs ?? 200);
    await Promise.resolve();
  }
}
