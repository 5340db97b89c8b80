// Reading a pinned kernel map: its info, the BTF the kernel holds for it, and
// its raw entries (formatted by src/ops like a region map's).
import { BpftimeError } from "../../errors.ts";
import {
  ensureLibbpf,
  kernelBtf,
  mapDelete,
  mapInfo,
  mapLookup,
  mapNextKey,
  mapUpdate,
  possibleCpus,
  type KernelMapInfo,
} from "../../native/index.ts";
import { mapTypeName } from "../../enums.ts";
import { resolvePinned, withPinned } from "./pins.ts";

const PERCPU = new Set([5, 6, 10]);
const KEYLESS = new Set([22, 23, 27]);

export interface KernelMapHandle {
  region: string;
  name: string;
  path: string;
  info: KernelMapInfo;
  ncpus: number;
  /** Raw .BTF bytes the kernel holds for the map, when it has types. */
  btf?: Uint8Array;
}

export function openKernelMap(ref: string): KernelMapHandle {
  ensureLibbpf();
  const p = resolvePinned("maps", ref);
  const info = withPinned(p.path, mapInfo);
  let btf: Uint8Array | undefined;
  if (info.btfId && (info.btfKeyTypeId || info.btfValueTypeId)) {
    try {
      btf = kernelBtf(info.btfId);
    } catch {
      btf = undefined; // print hex
    }
  }
  return {
    region: p.object,
    name: p.name,
    path: p.path,
    info,
    ncpus: PERCPU.has(info.type) ? possibleCpus() : 1,
    ...(btf ? { btf } : {}),
  };
}

/** Raw entries (key bytes, value bytes: ncpus × round8(valueSize) for per-CPU maps). */
export function kernelMapEntries(
  m: KernelMapHandle,
): Array<{ key: Uint8Array; value: Uint8Array }> {
  if (KEYLESS.has(m.info.type))
    throw new BpftimeError(
      "invalid_argument",
      `map ${m.name} is a ${mapTypeName(m.info.type)}: it has no keys to dump`,
    );
  const valueBytes = PERCPU.has(m.info.type)
    ? Math.ceil(m.info.valueSize / 8) * 8 * m.ncpus
    : m.info.valueSize;
  return withPinned(m.path, (fd) => {
    const out: Array<{ key: Uint8Array; value: Uint8Array }> = [];
    let n = 0;
    for (let k = mapNextKey(fd, null, m.info.keySize); k; k = mapNextKey(fd, k, m.info.keySize)) {
      if (++n > m.info.maxEntries) break; // concurrent churn: never loop forever
      const v = mapLookup(fd, k, valueBytes);
      if (v) out.push({ key: k.slice(), value: v.slice() });
    }
    return out;
  });
}

/**
 * Element operations on a pinned kernel map, shaped as the region's (a map id
 * argument that is ignored, lookups and next keys that answer null at the
 * end), so src/ops/maps.ts's lookup, update, delete and dump serve both.
 */
export function kernelMapElements(m: KernelMapHandle) {
  return {
    mapLookup: (_id: number, key: Uint8Array | null, size: number) =>
      withPinned(m.path, (fd) => mapLookup(fd, key ?? new Uint8Array(0), size)?.slice() ?? null),
    mapNextKey: (_id: number, key: Uint8Array | null, size: number) =>
      withPinned(m.path, (fd) => mapNextKey(fd, key, size)?.slice() ?? null),
    mapUpdate: (_id: number, key: Uint8Array | null, value: Uint8Array, flags: bigint) =>
      withPinned(m.path, (fd) => mapUpdate(fd, key ?? new Uint8Array(0), value, Number(flags))),
    mapDeleteElem: (_id: number, key: Uint8Array) => withPinned(m.path, (fd) => mapDelete(fd, key)),
  };
}
