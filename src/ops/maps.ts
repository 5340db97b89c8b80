// Map contents from the control plane: `bpftime map …`, `bpftime events` and
// the HTTP API. Keys and values go in and out as JSON through the object's
// BTF when `bpftime load` recorded it, as hex otherwise.
//
// Input rules (one place, so CLI and API agree):
//   "hex:01 00 00 00"   raw bytes, little-endian as stored
//   JSON                through BTF (numbers, strings for char arrays, objects)
//   123 / 0x7b          without BTF: an integer of the key/value size
import { BpftimeError } from "../errors.ts";
import type { Region, MapInfo } from "../native/index.ts";
import { ERRNO, NativeError } from "../native/index.ts";
import { parseBtf, type Btf } from "../btf/index.ts";
import { formatValue, parseValue } from "../btf/index.ts";
import { mapType, mapTypeName } from "../enums.ts";
import { metaIds, readMeta, removeMeta, type MapMeta } from "./metadata.ts";
import { resolveMap } from "./resolve.ts";
import { formatInnerMap, parseInnerMap } from "./inner-map-values.ts";

const isPerCpu = (type: number) => mapType(type)?.perCpu ?? false;
const isKeyless = (type: number) => mapType(type)?.keyless ?? false;

export interface MapHandle {
  r: Region;
  id: number;
  info: MapInfo;
  btf?: Btf;
  meta?: MapMeta;
}

/** Frees maps nobody holds any more and forgets the metadata of maps that are gone. */
export function collectMaps(r: Region): number {
  const n = r.collectMaps();
  const live = new Set(r.mapIds());
  for (const id of metaIds(r.name, "map")) if (!live.has(id)) removeMeta(r.name, "map", id);
  return n;
}

const btfCache = new Map<string, Btf>();

/** A map by id or unique name, with its BTF and metadata for formatting. */
export function openMap(r: Region, ref: string): MapHandle {
  const id = resolveMap(r, ref);
  const info = r.map(id);
  const meta = readMeta<MapMeta>(r.name, "map", id);
  let btf: Btf | undefined;
  if (meta?.btf) {
    btf = btfCache.get(meta.btf);
    if (!btf) {
      try {
        btf = parseBtf(new Uint8Array(Buffer.from(meta.btf, "base64")));
        btfCache.set(meta.btf, btf);
      } catch {
        btf = undefined; // fall back to hex
      }
    }
  }
  if (btf && meta?.datasec && meta.valueType) applyDatasec(btf, meta.valueType, meta.datasec);
  return { r, id, info, ...(btf ? { btf } : {}), ...(meta ? { meta } : {}) };
}

/** Puts back the DATASEC size and offsets the loader fixed up (the stored .BTF has 0s). */
function applyDatasec(btf: Btf, typeId: number, fix: NonNullable<MapMeta["datasec"]>): void {
  const t = btf.types[typeId];
  if (t?.kind !== "datasec" || fix.offsets.length !== t.vars.length) return;
  t.size = fix.size;
  t.vars.forEach((v, i) => (v.offset = fix.offsets[i]!));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

function fromInput(
  text: string,
  size: number,
  btf: Btf | undefined,
  typeId: number | undefined,
  what: "key" | "value",
): Uint8Array {
  if (text.startsWith("hex:")) {
    const clean = text.slice(4).replace(/[\s:]/g, "");
    if (!/^([0-9a-f]{2})*$/i.test(clean))
      throw new BpftimeError("invalid_argument", `${what}: bad hex bytes "${text}"`);
    const b = new Uint8Array(Buffer.from(clean, "hex"));
    if (b.length !== size)
      throw new BpftimeError(
        "invalid_argument",
        `${what} is ${b.length} bytes; the map needs ${size}`,
      );
    return b;
  }
  if (btf && typeId) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text; // a bare string, e.g. for char arrays
    }
    const b = parseValue(btf, typeId, json, what);
    if (b.length !== size)
      throw new BpftimeError(
        "invalid_argument",
        `${what} is ${b.length} bytes; the map needs ${size}`,
      );
    return b;
  }
  if (/^(0x[0-9a-f]+|-?\d+)$/i.test(text) && [1, 2, 4, 8].includes(size)) {
    const v = BigInt.asUintN(size * 8, BigInt(text));
    const b = new Uint8Array(size);
    for (let i = 0; i < size; i++) b[i] = Number((v >> BigInt(8 * i)) & 0xffn);
    return b;
  }
  throw new BpftimeError(
    "invalid_argument",
    `${what} "${text}": this map has no BTF; give ${size} bytes as hex:… or an integer`,
  );
}

/** A key from user text (JSON through BTF, an integer, or hex:…) as the map's key bytes. */
export function parseKey(m: MapHandle, text: string): Uint8Array {
  return fromInput(text, m.info.keySize, m.btf, m.meta?.keyType, "key");
}

/** A value from user text (as parseKey) as the map's value bytes (every CPU's for per-CPU maps). */
export function parseMapValue(m: MapHandle, text: string): Uint8Array {
  if (m.info.inner) return parseInnerMap(m.r, text);
  const perCpu = isPerCpu(m.info.type);
  if (perCpu) {
    // One value for every CPU (the kernel's per-CPU update semantics).
    const one = fromInput(text, m.info.valueSize, m.btf, m.meta?.valueType, "value");
    const stride = Math.ceil(m.info.valueSize / 8) * 8;
    const all = new Uint8Array(stride * m.info.ncpus);
    for (let c = 0; c < m.info.ncpus; c++) all.set(one, c * stride);
    return all;
  }
  return fromInput(text, m.info.valueSize, m.btf, m.meta?.valueType, "value");
}

/** Key bytes as JSON-ready data (through BTF, else an integer or hex). */
export function formatKey(m: MapHandle, b: Uint8Array): unknown {
  if (m.btf && m.meta?.keyType) return formatValue(m.btf, m.meta.keyType, b);
  return hex(b);
}

/** Value bytes as JSON-ready data (an array of one value per CPU for per-CPU maps). */
export function formatMapValue(m: MapHandle, b: Uint8Array): unknown {
  if (m.info.inner) return formatInnerMap(m.r, b);
  const one = (x: Uint8Array) =>
    m.btf && m.meta?.valueType ? formatValue(m.btf, m.meta.valueType, x) : hex(x);
  if (!isPerCpu(m.info.type)) return one(b);
  const stride = Math.ceil(m.info.valueSize / 8) * 8;
  const out: unknown[] = [];
  for (let c = 0; c < m.info.ncpus; c++)
    out.push(one(b.subarray(c * stride, c * stride + m.info.valueSize)));
  return out;
}

/** A map's sizes, flags, BTF types and entry count (`bpftime map show`, GET /v1/maps/:id). */
export function describeMap(m: MapHandle) {
  return {
    id: m.id,
    name: m.info.name,
    type: mapTypeName(m.info.type),
    keySize: m.info.keySize,
    valueSize: m.info.valueSize,
    maxEntries: m.info.maxEntries,
    flags: m.info.flags,
    keyType: m.meta?.keyTypeName ?? null,
    valueType: m.meta?.valueTypeName ?? null,
    btf: !!m.btf,
    perCpu: isPerCpu(m.info.type),
    entries: isKeyless(m.info.type) ? null : countEntries(m),
    ...(m.info.inner ? { inner: { ...m.info.inner, type: mapTypeName(m.info.inner.type) } } : {}),
  };
}

/** The number of entries (bounded by max_entries). */
export function countEntries(m: MapHandle): number {
  let n = 0;
  for (
    let k = m.r.mapNextKey(m.id, null, m.info.keySize);
    k;
    k = m.r.mapNextKey(m.id, k, m.info.keySize)
  ) {
    if (++n > m.info.maxEntries) break; // concurrent churn: never loop forever
  }
  return n;
}

/** Entries in key order of iteration, from `offset`, at most `limit`. */
export function dumpEntries(
  m: MapHandle,
  offset = 0,
  limit = Infinity,
): Array<{ key: unknown; value: unknown }> {
  if (isKeyless(m.info.type))
    throw new BpftimeError(
      "invalid_argument",
      `map ${m.id} is a ${mapTypeName(m.info.type)}: it has no keys to dump`,
    );
  const out: Array<{ key: unknown; value: unknown }> = [];
  let i = 0;
  for (
    let k = m.r.mapNextKey(m.id, null, m.info.keySize);
    k && out.length < limit;
    k = m.r.mapNextKey(m.id, k, m.info.keySize)
  ) {
    if (i++ > m.info.maxEntries + offset) break;
    if (i <= offset) continue;
    const v = m.r.mapLookup(m.id, k, m.info.valueBufSize);
    if (v) out.push({ key: formatKey(m, k), value: formatMapValue(m, v) });
  }
  return out;
}

/** The formatted value under `keyText`, or undefined when absent (`bpftime map lookup`). */
export function lookup(m: MapHandle, keyText: string): unknown {
  const key = parseKey(m, keyText);
  const v = m.r.mapLookup(m.id, key, m.info.valueBufSize);
  if (!v) throw new BpftimeError("not_found", `map ${m.info.name}: no entry for key ${keyText}`);
  return formatMapValue(m, v);
}

const FLAGS: Record<string, bigint> = { any: 0n, noexist: 1n, exist: 2n };

/** Stores `valueText` under `keyText` (queue/stack maps: no key) with flag any|noexist|exist (`bpftime map update`). */
export function update(
  m: MapHandle,
  keyText: string | undefined,
  valueText: string,
  flag = "any",
): void {
  const f = FLAGS[flag];
  if (f === undefined)
    throw new BpftimeError("usage", `unknown update flag "${flag}": choose any, noexist or exist`);
  const key = isKeyless(m.info.type) ? null : parseKey(m, keyText ?? "");
  if (!isKeyless(m.info.type) && keyText === undefined)
    throw new BpftimeError("usage", "update: missing KEY");
  const value = parseMapValue(m, valueText);
  frozenIsConflict(() => m.r.mapUpdate(m.id, key, value, f));
}

/** Deletes the key `keyText` (`bpftime map delete`). */
export function remove(m: MapHandle, keyText: string): void {
  const key = parseKey(m, keyText);
  frozenIsConflict(() => m.r.mapDeleteElem(m.id, key));
}

/** `bpftime map freeze`: as bpftool's, for good (there is no thaw). */
export function freeze(m: MapHandle): void {
  m.r.mapFreeze(m.id);
}

/**
 * A write to a frozen (or BPF_F_RDONLY) map fails with EPERM, as in the
 * kernel; to a user it is a conflict with the map's state (HTTP 409), not
 * a missing privilege.
 */
function frozenIsConflict(write: () => void): void {
  try {
    write();
  } catch (e) {
    if (e instanceof NativeError && e.errno === ERRNO("EPERM"))
      throw new BpftimeError("busy", e.message);
    throw e;
  }
}

/** Queue/stack: the value at the head, removed (`pop`) or left in place (`peek`). */
export function popOrPeek(m: MapHandle, remove: boolean): unknown {
  if (m.info.type !== 22 && m.info.type !== 23)
    throw new BpftimeError(
      "invalid_argument",
      `map ${m.info.name} is a ${mapTypeName(m.info.type)}: only queue and stack maps can be ${remove ? "popped" : "peeked"}; use lookup`,
    );
  const v = remove
    ? m.r.mapPop(m.id, m.info.valueBufSize)
    : m.r.mapLookup(m.id, null, m.info.valueBufSize);
  if (!v)
    throw new BpftimeError(
      "not_found",
      `map ${m.info.name} is empty: nothing to ${remove ? "pop" : "peek"}`,
    );
  return formatMapValue(m, v);
}
