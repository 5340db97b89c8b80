// bun:ffi face of the shared-memory runtime (native/runtime/bpftime_runtime.h):
// regions, programs, maps, attach targets, links, instances, ringbuf and trace
// consumers. Struct layouts below mirror the header's documented offsets.
import { FFIType, ptr, CString, type Pointer } from "bun:ffi";
import { nativeError, openLibrary } from "./lib.ts";
import { ERRNO, NativeError } from "./errno.ts";
import { readdirSync } from "node:fs";
import { dirname } from "node:path";
import { BpftimeError } from "../errors.ts";
import { didYouMean } from "../suggest.ts";

const { ptr: P, cstring: S, i32, u32, u64, i64, void: V, bool: B } = FFIType;

const lib = openLibrary({
  bpftime_map_type_name: { args: [u32], returns: S },
  bpftime_map_type_flags: { args: [u32], returns: u32 },
  bpftime_prog_type_name: { args: [u32], returns: S },
  bpftime_region_create: { args: [P, u64, P], returns: i32 },
  bpftime_region_open: { args: [P, P], returns: i32 },
  bpftime_region_close: { args: [P], returns: V },
  bpftime_region_remove: { args: [P], returns: i32 },
  bpftime_region_path: { args: [P, P, u32], returns: i32 },
  bpftime_region_info: { args: [P, P], returns: i32 },
  bpftime_region_generation: { args: [P], returns: u64 },
  bpftime_stats_set_enabled: { args: [P, i32], returns: V },
  bpftime_stats_enabled: { args: [P], returns: i32 },
  bpftime_prog_create: { args: [P, P, u32, P, P, P, u32, P, u32], returns: i32 },
  bpftime_prog_get: { args: [P, u32, P], returns: i32 },
  bpftime_prog_get_insns: { args: [P, u32, P, u32], returns: i32 },
  bpftime_prog_get_map_ids: { args: [P, u32, P, u32], returns: i32 },
  bpftime_prog_set_native: { args: [P, u32, P, u32], returns: i32 },
  bpftime_prog_get_native: { args: [P, u32, P, u32], returns: i32 },
  bpftime_prog_delete: { args: [P, u32], returns: i32 },
  bpftime_prog_next_id: { args: [P, u32], returns: i32 },
  bpftime_prog_load_vm: { args: [P, u32, P], returns: i32 },
  bpftime_prog_unload_vm: { args: [P, u32], returns: V },
  bpftime_map_create: { args: [P, P, u32, u32, u32, u32, u32, u64], returns: i32 },
  bpftime_map_create_outer: { args: [P, P, u32, u32, u32, u32, u32, u32], returns: i32 },
  bpftime_map_get: { args: [P, u32, P], returns: i32 },
  bpftime_map_delete: { args: [P, u32], returns: i32 },
  bpftime_map_next_id: { args: [P, u32], returns: i32 },
  bpftime_map_collect: { args: [P], returns: i32 },
  bpftime_map_holders: { args: [P, u32, P, u32], returns: i32 },
  bpftime_pin_create: { args: [P, P, u32, u32], returns: i32 },
  bpftime_pin_delete: { args: [P, P], returns: i32 },
  bpftime_pin_get_by_id: { args: [P, u32, P], returns: i32 },
  bpftime_pin_next_id: { args: [P, u32], returns: i32 },
  bpftime_map_lookup: { args: [P, u32, P, P], returns: i32 },
  bpftime_map_update: { args: [P, u32, P, P, u64], returns: i32 },
  bpftime_map_delete_elem: { args: [P, u32, P], returns: i32 },
  bpftime_map_freeze: { args: [P, u32], returns: i32 },
  bpftime_map_is_frozen: { args: [P, u32], returns: i32 },
  bpftime_map_lookup_and_delete: { args: [P, u32, P, P], returns: i32 },
  bpftime_map_get_next_key: { args: [P, u32, P, P], returns: i32 },
  bpftime_ringbuf_poll: { args: [P, u32, i32], returns: i32 },
  bpftime_ringbuf_read: { args: [P, u32, P, u32, P, P], returns: i32 },
  bpftime_ringbuf_lost: { args: [P, u32], returns: u64 },
  bpftime_trace_poll: { args: [P, i32], returns: i32 },
  bpftime_trace_read: { args: [P, P, u32, P], returns: i32 },
  bpftime_target_create: { args: [P, u32, P, u32], returns: i32 },
  bpftime_target_get: { args: [P, u32, P], returns: i32 },
  bpftime_target_get_arg: { args: [P, u32, P, u32], returns: i32 },
  bpftime_target_delete: { args: [P, u32], returns: i32 },
  bpftime_target_next_id: { args: [P, u32], returns: i32 },
  bpftime_link_create: { args: [P, u32, u32, u64], returns: i32 },
  bpftime_link_get: { args: [P, u32, P], returns: i32 },
  bpftime_link_delete: { args: [P, u32], returns: i32 },
  bpftime_link_next_id: { args: [P, u32], returns: i32 },
  bpftime_link_update_prog: { args: [P, u32, u32, u32], returns: i32 },
  bpftime_instance_get: { args: [P, u32, P], returns: i32 },
  bpftime_instance_next_id: { args: [P, u32], returns: i32 },
  bpftime_instance_reap: { args: [P], returns: i32 },
  bpftime_instance_get_errors: { args: [P, u32, P, u32], returns: i32 },
  bpftime_monotonic_ns: { args: [], returns: u64 },
  bpftime_prog_test_run: { args: [P, u32, i32, P, u32, u64, P, P], returns: i32 },
});
void [i64, B];

const s = lib.symbols;

function check(rc: number, what?: string): number {
  if (rc >= 0) return rc;
  throw nativeError(rc, what);
}

/**
 * The C runtime's view of the type tables (native/runtime/map_types.def,
 * prog_types.def): what its lookups answer for a number, for checking that
 * the C and TypeScript readings of the tables agree.
 */
export const nativeTypeTables = {
  mapTypeName: (id: number): string | null => s.bpftime_map_type_name(id)?.toString() ?? null,
  mapTypeFlags: (id: number): number => s.bpftime_map_type_flags(id),
  progTypeName: (id: number): string | null => s.bpftime_prog_type_name(id)?.toString() ?? null,
};

function cstr(v: string): Uint8Array {
  return new TextEncoder().encode(v + "\0");
}

function readCString(buf: Uint8Array, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return new TextDecoder().decode(buf.subarray(off, end < 0 || end > off + len ? off + len : end));
}

export interface PinInfo {
  id: number;
  kind: "map" | "prog";
  objectId: number;
  createdNs: bigint;
  name: string;
}

export interface RegionInfo {
  name: string;
  path: string;
  size: number;
  createdNs: bigint;
  generation: bigint;
  heapUsed: number;
  heapSize: number;
  layoutVersion: number;
  ncpus: number;
  statsEnabled: boolean;
}

export interface ProgInfo {
  id: number;
  type: number;
  insnCount: number;
  nrMaps: number;
  runCount: bigint;
  runTimeNs: bigint;
  createdNs: bigint;
  nrLinks: number;
  name: string;
  license: string;
  attachHint: string;
}

export interface MapInfo {
  id: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  mapExtra: bigint;
  createdNs: bigint;
  /** Bytes a control-plane lookup returns: valueSize, or ncpus × round8(valueSize) for per-CPU maps. */
  valueBufSize: number;
  ncpus: number;
  name: string;
  /** array_of_maps / hash_of_maps: the template every stored map matches. */
  inner?: InnerTemplate;
}

/** The inner-map template of an outer map (the kernel's inner_map_meta). */
export interface InnerTemplate {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface TargetInfo {
  id: number;
  type: number;
  arg: Uint8Array;
  createdNs: bigint;
}

export interface LinkInfo {
  id: number;
  progId: number;
  targetId: number;
  cookie: bigint;
  createdNs: bigint;
}

export interface InstanceInfo {
  id: number;
  pid: number;
  startTime: bigint;
  heartbeatNs: bigint;
  generationSeen: bigint;
  alive: boolean;
  linkIds: number[];
  /** Links that failed to attach (or wait, errno 0) in this process, with why (the first few). */
  linkErrors: LinkError[];
  /** How many links failed or wait in all (may exceed linkErrors.length). */
  failedLinks: number;
}

export interface LinkError {
  linkId: number;
  /** Positive errno; 0: attached but waiting (a uprobe whose binary is not loaded yet). */
  errno: number;
  message: string;
}

/** CLOCK_MONOTONIC now (ns): the clock instance heartbeats are on. */
export function monotonicNs(): bigint {
  return BigInt(s.bpftime_monotonic_ns());
}

/** What storing a program takes (`bpftime load`, the event provider). */
export interface ProgramCreate {
  name: string;
  /** Region program type (see src/attach/program-types.ts). */
  type: number;
  license: string;
  attachHint: string;
  /** Verified bytecode (8-byte slots). */
  insns: Uint8Array;
  /** Region map id for each of the program's map indexes. */
  mapIds: number[];
}

export function regionName(name?: string): string {
  return name || process.env.BPFTIME_SHM || "bpftime";
}

/** The names of the regions in the directory where region `like` would be, sorted. */
export function existingRegions(like?: string): string[] {
  try {
    return readdirSync(dirname(regionPath(like)))
      .filter((f) => f.startsWith("bpftime-") && !f.endsWith(".meta"))
      .map((f) => f.slice("bpftime-".length))
      .sort();
  } catch {
    return [];
  }
}

export function regionPath(name?: string): string {
  const buf = new Uint8Array(512);
  const n = check(s.bpftime_region_path(ptr(cstr(regionName(name))), ptr(buf), buf.length));
  return new TextDecoder().decode(buf.subarray(0, n));
}

export function removeRegion(name?: string): void {
  check(s.bpftime_region_remove(ptr(cstr(regionName(name)))));
}

/** A mapped region. close() unmaps it (and frees VMs this process loaded). */
export class Region {
  private h: Pointer | null;
  readonly name: string;

  private constructor(h: Pointer, name: string) {
    this.h = h;
    this.name = name;
  }

  static create(name?: string, size = 0): Region {
    const n = regionName(name);
    const out = new BigUint64Array(1);
    check(s.bpftime_region_create(ptr(cstr(n)), size, ptr(out)));
    return new Region(Number(out[0]) as unknown as Pointer, n);
  }

  static open(name?: string): Region {
    const n = regionName(name);
    const out = new BigUint64Array(1);
    try {
      check(s.bpftime_region_open(ptr(cstr(n)), ptr(out)));
    } catch (e) {
      if (!(e instanceof NativeError && e.errno === ERRNO("ENOENT"))) throw e;
      // A wrong --shm: say which regions do exist.
      const names = existingRegions(n);
      const here = names.length
        ? `regions here: ${names.slice(0, 8).join(", ")}${names.length > 8 ? ", …" : ""}`
        : "there are no regions yet";
      // `--shm bpftime-x` for region x: the file name, not the region's.
      const bare = n.replace(/^bpftime-/, "");
      const hint =
        bare !== n && names.includes(bare) ? ` (did you mean "${bare}"?)` : didYouMean(n, names);
      throw new NativeError(e.errno, `${e.message}${hint}; ${here}`);
    }
    return new Region(Number(out[0]) as unknown as Pointer, n);
  }

  /** Opens the region, creating it (default size) if it does not exist yet. */
  static openOrCreate(name?: string): Region {
    try {
      return Region.open(name);
    } catch (e) {
      if (e instanceof NativeError && e.errno === ERRNO("ENOENT")) return Region.create(name);
      throw e;
    }
  }

  get handle(): Pointer {
    if (!this.h) throw new BpftimeError("internal", "region used after close");
    return this.h;
  }

  close(): void {
    if (this.h) s.bpftime_region_close(this.h);
    this.h = null;
  }

  info(): RegionInfo {
    const b = new Uint8Array(64);
    check(s.bpftime_region_info(this.handle, ptr(b)));
    const v = new DataView(b.buffer);
    return {
      name: this.name,
      path: regionPath(this.name),
      size: Number(v.getBigUint64(0, true)),
      createdNs: v.getBigUint64(8, true),
      generation: v.getBigUint64(16, true),
      heapUsed: Number(v.getBigUint64(24, true)),
      heapSize: Number(v.getBigUint64(32, true)),
      layoutVersion: v.getUint32(40, true),
      ncpus: v.getUint32(44, true),
      statsEnabled: v.getUint32(48, true) !== 0,
    };
  }

  generation(): bigint {
    return BigInt(s.bpftime_region_generation(this.handle));
  }

  setStats(enabled: boolean): void {
    s.bpftime_stats_set_enabled(this.handle, enabled ? 1 : 0);
  }

  // ---- programs ----
  createProgram(p: ProgramCreate): number {
    const ids = new Uint32Array(Math.max(1, p.mapIds.length));
    ids.set(p.mapIds);
    return check(
      s.bpftime_prog_create(
        this.handle,
        ptr(cstr(p.name)),
        p.type,
        ptr(cstr(p.license)),
        ptr(cstr(p.attachHint)),
        ptr(p.insns),
        p.insns.length / 8,
        ptr(ids),
        p.mapIds.length,
      ),
      `store program ${p.name}`,
    );
  }

  program(id: number): ProgInfo {
    const b = new Uint8Array(432);
    check(s.bpftime_prog_get(this.handle, id, ptr(b)));
    const v = new DataView(b.buffer);
    return {
      id: v.getUint32(0, true),
      type: v.getUint32(4, true),
      insnCount: v.getUint32(8, true),
      nrMaps: v.getUint32(12, true),
      runCount: v.getBigUint64(16, true),
      runTimeNs: v.getBigUint64(24, true),
      createdNs: v.getBigUint64(32, true),
      nrLinks: v.getUint32(40, true),
      name: readCString(b, 48, 64),
      license: readCString(b, 112, 64),
      attachHint: readCString(b, 176, 256),
    };
  }

  programInsns(id: number): Uint8Array {
    const info = this.program(id);
    const buf = new Uint8Array(Math.max(8, info.insnCount * 8));
    const n = check(s.bpftime_prog_get_insns(this.handle, id, ptr(buf), info.insnCount));
    return buf.subarray(0, n * 8);
  }

  /** Stores the LLVM tier's blob for a program (every process loads it at instantiate). */
  setProgramNative(id: number, blob: Uint8Array): void {
    check(s.bpftime_prog_set_native(this.handle, id, blob.length ? ptr(blob) : null, blob.length));
  }

  /** Bytes of the program's LLVM-tier blob; 0 when it runs on the JIT. */
  programNativeSize(id: number): number {
    return check(s.bpftime_prog_get_native(this.handle, id, null, 0));
  }

  programMapIds(id: number): number[] {
    const buf = new Uint32Array(256);
    const n = check(s.bpftime_prog_get_map_ids(this.handle, id, ptr(buf), buf.length));
    return [...buf.subarray(0, Math.min(n, buf.length))];
  }

  deleteProgram(id: number): void {
    check(s.bpftime_prog_delete(this.handle, id), `delete program ${id}`);
  }

  programIds(): number[] {
    return this.ids((id) => s.bpftime_prog_next_id(this.handle, id));
  }

  /** Loads program id into a VM owned by this region handle; returns the VM pointer. */
  loadVm(id: number): Pointer {
    const out = new BigUint64Array(1);
    check(s.bpftime_prog_load_vm(this.handle, id, ptr(out)), `program ${id}`);
    return Number(out[0]) as unknown as Pointer;
  }

  unloadVm(id: number): void {
    s.bpftime_prog_unload_vm(this.handle, id);
  }

  /**
   * Runs a stored program on `data` like BPF_PROG_TEST_RUN: the context is
   * built for its type (xdp_md over the data, …); `data` is modified in place.
   */
  testRun(
    id: number,
    jit: boolean,
    data: Uint8Array,
    repeat: number,
  ): { returnValue: bigint; totalNs: bigint } {
    const out = new BigUint64Array(2);
    const buf = data.length ? data : new Uint8Array(1);
    const rc = s.bpftime_prog_test_run(
      this.handle,
      id,
      jit ? 1 : 0,
      ptr(buf),
      data.length,
      repeat,
      ptr(out),
      ptr(out, 8),
    );
    if (rc < 0) {
      // A missing program is not_found; anything else failed in the VM.
      const e = nativeError(rc);
      throw rc === -ERRNO("ENOENT") ? e : new BpftimeError("vm", e.message);
    }
    return { returnValue: out[0]!, totalNs: out[1]! };
  }

  // ---- maps ----
  /**
   * Creates a map; returns its id. With innerId: an array_of_maps or
   * hash_of_maps (valueSize 4) whose inner-map template is copied from map
   * innerId, as BPF_MAP_CREATE with inner_map_fd.
   */
  createMap(m: {
    name: string;
    type: number;
    keySize: number;
    valueSize: number;
    maxEntries: number;
    flags: number;
    mapExtra?: bigint;
    innerId?: number;
  }): number {
    const name = cstr(m.name);
    const args = [this.handle, ptr(name), m.type, m.keySize, m.valueSize, m.maxEntries] as const;
    const rc =
      m.innerId === undefined
        ? s.bpftime_map_create(...args, m.flags, m.mapExtra ?? 0n)
        : s.bpftime_map_create_outer(...args, m.flags, m.innerId);
    void name;
    return check(rc, `create map ${m.name}`);
  }

  map(id: number): MapInfo {
    const b = new Uint8Array(136);
    check(s.bpftime_map_get(this.handle, id, ptr(b)));
    const v = new DataView(b.buffer);
    const innerType = v.getUint32(112, true);
    return {
      ...(innerType
        ? {
            inner: {
              type: innerType,
              keySize: v.getUint32(116, true),
              valueSize: v.getUint32(120, true),
              maxEntries: v.getUint32(124, true),
              flags: v.getUint32(128, true),
            },
          }
        : {}),
      id: v.getUint32(0, true),
      type: v.getUint32(4, true),
      keySize: v.getUint32(8, true),
      valueSize: v.getUint32(12, true),
      maxEntries: v.getUint32(16, true),
      flags: v.getUint32(20, true),
      mapExtra: v.getBigUint64(24, true),
      createdNs: v.getBigUint64(32, true),
      valueBufSize: v.getUint32(40, true),
      ncpus: v.getUint32(44, true),
      name: readCString(b, 48, 64),
    };
  }

  deleteMap(id: number): void {
    check(s.bpftime_map_delete(this.handle, id), `delete map ${id}`);
  }

  mapIds(): number[] {
    return this.ids((id) => s.bpftime_map_next_id(this.handle, id));
  }

  /** Frees every map whose last holder went; returns how many. */
  collectMaps(): number {
    return check(s.bpftime_map_collect(this.handle));
  }

  /** Who holds map `id` (programs, pins, processes), as one line; "" when nobody. */
  mapHolders(id: number): string {
    const b = new Uint8Array(512);
    const n = check(s.bpftime_map_holders(this.handle, id, ptr(b), b.length), `map ${id}`);
    return n ? readCString(b, 0, b.length) : "";
  }

  // ---- pins ----
  createPin(name: string, kind: "map" | "prog", id: number): number {
    return check(
      s.bpftime_pin_create(this.handle, ptr(cstr(name)), kind === "map" ? 1 : 2, id),
      `pin ${name}`,
    );
  }

  deletePin(name: string): void {
    check(s.bpftime_pin_delete(this.handle, ptr(cstr(name))), `unpin ${name}`);
  }

  pins(): PinInfo[] {
    return this.ids((id) => s.bpftime_pin_next_id(this.handle, id)).flatMap((id) => {
      const b = new Uint8Array(144);
      if (s.bpftime_pin_get_by_id(this.handle, id, ptr(b)) < 0) return []; // removed meanwhile
      const v = new DataView(b.buffer);
      return [
        {
          id: v.getUint32(0, true),
          kind: v.getUint32(4, true) === 1 ? ("map" as const) : ("prog" as const),
          objectId: v.getUint32(8, true),
          createdNs: v.getBigUint64(16, true),
          name: readCString(b, 24, 128),
        },
      ];
    });
  }

  /**
   * Returns the value, or null when the key is absent (ENOENT). A bloom
   * filter is asked about `input` (the kernel's lookup reads the value
   * buffer): the result is the value when it may be present.
   */
  mapLookup(
    id: number,
    key: Uint8Array | null,
    valueSize: number,
    input?: Uint8Array,
  ): Uint8Array | null {
    const value = new Uint8Array(Math.max(1, valueSize));
    if (input) value.set(input.subarray(0, value.length));
    const rc = s.bpftime_map_lookup(
      this.handle,
      id,
      key && key.length ? ptr(key) : null,
      ptr(value),
    );
    if (rc === -2) return null;
    check(rc, `lookup in map ${id}`);
    return value.subarray(0, valueSize);
  }

  mapUpdate(id: number, key: Uint8Array | null, value: Uint8Array, flags = 0n): void {
    check(
      s.bpftime_map_update(this.handle, id, key && key.length ? ptr(key) : null, ptr(value), flags),
      `update map ${id}`,
    );
  }

  mapDeleteElem(id: number, key: Uint8Array): void {
    check(
      s.bpftime_map_delete_elem(this.handle, id, key.length ? ptr(key) : null),
      `delete from map ${id}`,
    );
  }

  /** BPF_MAP_FREEZE: the control plane can no longer change the map. */
  mapFreeze(id: number): void {
    check(s.bpftime_map_freeze(this.handle, id), `freeze map ${id}`);
  }

  mapIsFrozen(id: number): boolean {
    return check(s.bpftime_map_is_frozen(this.handle, id), `map ${id}`) === 1;
  }

  /** Pops (queue, stack) or, given a key, looks up and deletes (hash, stack trace). */
  mapPop(id: number, valueSize: number, key?: Uint8Array): Uint8Array | null {
    const value = new Uint8Array(Math.max(1, valueSize));
    const rc = s.bpftime_map_lookup_and_delete(
      this.handle,
      id,
      key && key.length ? ptr(key) : null,
      ptr(value),
    );
    if (rc === -2) return null;
    check(rc, `pop from map ${id}`);
    return value.subarray(0, valueSize);
  }

  /** Next key after `key` (null = first); null after the last. */
  mapNextKey(id: number, key: Uint8Array | null, keySize: number): Uint8Array | null {
    const next = new Uint8Array(Math.max(1, keySize));
    const rc = s.bpftime_map_get_next_key(
      this.handle,
      id,
      key && key.length ? ptr(key) : null,
      ptr(next),
    );
    if (rc === -2) return null;
    check(rc, `iterate map ${id}`);
    return next.subarray(0, keySize);
  }

  /** Waits up to timeoutMs for a ringbuf/perf record (futex wake-up, no spinning). */
  ringbufPoll(id: number, timeoutMs: number): boolean {
    return check(s.bpftime_ringbuf_poll(this.handle, id, timeoutMs), `poll map ${id}`) > 0;
  }

  /** Reads and consumes the next record, or null if none is ready. */
  ringbufRead(id: number, buf: Uint8Array): { data: Uint8Array; cpu: number } | null {
    const out = new Uint32Array(2); // length, cpu
    const rc = s.bpftime_ringbuf_read(this.handle, id, ptr(buf), buf.length, ptr(out), ptr(out, 4));
    if (rc === 0) return null;
    check(rc, `read map ${id}`);
    return { data: buf.slice(0, out[0]!), cpu: out[1]! };
  }

  ringbufLost(id: number): bigint {
    return BigInt(s.bpftime_ringbuf_lost(this.handle, id));
  }

  tracePoll(timeoutMs: number): boolean {
    return check(s.bpftime_trace_poll(this.handle, timeoutMs)) > 0;
  }

  /** Next trace_printk record, or null. */
  traceRead(): {
    timestampNs: bigint;
    pid: number;
    tid: number;
    comm: string;
    message: string;
  } | null {
    const buf = new Uint8Array(4096);
    const len = new Uint32Array(1);
    const rc = check(s.bpftime_trace_read(this.handle, ptr(buf), buf.length, ptr(len)));
    if (rc === 0) return null;
    const n = len[0]!;
    const v = new DataView(buf.buffer);
    return {
      timestampNs: v.getBigUint64(0, true),
      pid: v.getUint32(8, true),
      tid: v.getUint32(12, true),
      comm: readCString(buf, 16, 16),
      message: readCString(buf, 32, n - 32),
    };
  }

  // ---- targets and links ----
  createTarget(type: number, arg: Uint8Array): number {
    return check(
      s.bpftime_target_create(this.handle, type, arg.length ? ptr(arg) : null, arg.length),
      "create attach target",
    );
  }

  target(id: number): TargetInfo {
    const b = new Uint8Array(24);
    check(s.bpftime_target_get(this.handle, id, ptr(b)));
    const v = new DataView(b.buffer);
    const argLen = v.getUint32(8, true);
    const arg = new Uint8Array(argLen + 1);
    check(s.bpftime_target_get_arg(this.handle, id, ptr(arg), arg.length));
    return {
      id: v.getUint32(0, true),
      type: v.getUint32(4, true),
      arg: arg.subarray(0, argLen),
      createdNs: v.getBigUint64(16, true),
    };
  }

  deleteTarget(id: number): void {
    check(s.bpftime_target_delete(this.handle, id), `delete attach target ${id}`);
  }

  targetIds(): number[] {
    return this.ids((id) => s.bpftime_target_next_id(this.handle, id));
  }

  createLink(progId: number, targetId: number, cookie = 0n): number {
    return check(s.bpftime_link_create(this.handle, progId, targetId, cookie), "create link");
  }

  link(id: number): LinkInfo {
    const b = new Uint8Array(32);
    check(s.bpftime_link_get(this.handle, id, ptr(b)));
    const v = new DataView(b.buffer);
    return {
      id: v.getUint32(0, true),
      progId: v.getUint32(4, true),
      targetId: v.getUint32(8, true),
      cookie: v.getBigUint64(16, true),
      createdNs: v.getBigUint64(24, true),
    };
  }

  deleteLink(id: number): void {
    check(s.bpftime_link_delete(this.handle, id), `delete link ${id}`);
  }

  linkIds(): number[] {
    return this.ids((id) => s.bpftime_link_next_id(this.handle, id));
  }

  replaceLinkProgram(linkId: number, progId: number, expectedOld = 0): void {
    check(
      s.bpftime_link_update_prog(this.handle, linkId, progId, expectedOld),
      `replace the program of link ${linkId}`,
    );
  }

  // ---- instances ----
  instance(id: number): InstanceInfo {
    const b = new Uint8Array(296);
    check(s.bpftime_instance_get(this.handle, id, ptr(b)));
    const v = new DataView(b.buffer);
    const n = v.getUint32(32, true);
    const linkIds: number[] = [];
    for (let i = 0; i < Math.min(n, 64); i++) linkIds.push(v.getUint32(40 + 4 * i, true));
    const MAX_ERRORS = 4; // BPFTIME_INSTANCE_MAX_ERRORS
    const SIZE = 192; // sizeof(struct bpftime_link_error)
    const eb = new Uint8Array(SIZE * MAX_ERRORS);
    const failedLinks = check(s.bpftime_instance_get_errors(this.handle, id, ptr(eb), MAX_ERRORS));
    const ev = new DataView(eb.buffer);
    const linkErrors: LinkError[] = [];
    for (let i = 0; i < Math.min(failedLinks, MAX_ERRORS); i++)
      linkErrors.push({
        linkId: ev.getUint32(SIZE * i, true),
        errno: -ev.getInt32(SIZE * i + 4, true),
        message: readCString(eb, SIZE * i + 8, SIZE - 8),
      });
    return {
      id: v.getUint32(0, true),
      pid: v.getUint32(4, true),
      startTime: v.getBigUint64(8, true),
      heartbeatNs: v.getBigUint64(16, true),
      generationSeen: v.getBigUint64(24, true),
      alive: v.getUint32(36, true) !== 0,
      linkIds,
      linkErrors,
      failedLinks,
    };
  }

  instanceIds(): number[] {
    return this.ids((id) => s.bpftime_instance_next_id(this.handle, id));
  }

  reapInstances(): number {
    return check(s.bpftime_instance_reap(this.handle));
  }

  private ids(next: (id: number) => number): number[] {
    const out: number[] = [];
    for (let id = next(0); id > 0; id = next(id)) out.push(id);
    return out;
  }
}

void CString;
