// bun:ffi face of the system libbpf (libbpf.so.1, Debian's libbpf1) and of the
// few libc calls the kernel event provider needs (perf_event_open, close,
// errno, vsnprintf for libbpf's log lines). Nothing here knows about pin
// directories or the CLI: see src/attach/kernel/.
//
// Struct layouts are the kernel's UAPI (include/uapi/linux/bpf.h,
// perf_event.h); the offsets below were checked with offsetof() against the
// installed headers. Info structs are read with a zero-filled buffer larger
// than the struct we know, which the kernel accepts (it checks that bytes
// past its own size are zero).
import { readFileSync } from "node:fs";
import { dlopen, FFIType, JSCallback, ptr, read, toArrayBuffer } from "bun:ffi";
import { BpftimeError } from "../errors.ts";
import { ERRNO, errnoCode } from "./errno.ts";
import { logger } from "../log.ts";

const { ptr: P, cstring: S, i32, u32, i64, u64, void: V } = FFIType;

const libbpfSymbols = {
  libbpf_set_print: { args: [P], returns: P },
  libbpf_num_possible_cpus: { args: [], returns: i32 },
  bpf_object__open_file: { args: [P, P], returns: P },
  bpf_object__load: { args: [P], returns: i32 },
  bpf_object__close: { args: [P], returns: V },
  bpf_object__next_program: { args: [P, P], returns: P },
  bpf_object__next_map: { args: [P, P], returns: P },
  bpf_program__name: { args: [P], returns: S },
  bpf_program__section_name: { args: [P], returns: S },
  bpf_program__fd: { args: [P], returns: i32 },
  bpf_program__insn_cnt: { args: [P], returns: u64 },
  bpf_map__name: { args: [P], returns: S },
  bpf_map__fd: { args: [P], returns: i32 },
  bpf_map__is_internal: { args: [P], returns: FFIType.bool },
  bpf_obj_pin: { args: [i32, P], returns: i32 },
  bpf_obj_get: { args: [P], returns: i32 },
  bpf_obj_get_info_by_fd: { args: [i32, P, P], returns: i32 },
  bpf_link_get_fd_by_id: { args: [u32], returns: i32 },
  bpf_link_get_next_id: { args: [u32, P], returns: i32 },
  bpf_map_create: { args: [u32, P, u32, u32, u32, P], returns: i32 },
  bpf_map_update_elem: { args: [i32, P, P, u64], returns: i32 },
  bpf_map_lookup_elem: { args: [i32, P, P], returns: i32 },
  bpf_map_delete_elem: { args: [i32, P], returns: i32 },
  bpf_map_get_next_key: { args: [i32, P, P], returns: i32 },
  bpf_link_create: { args: [i32, i32, u32, P], returns: i32 },
  bpf_prog_load: { args: [u32, P, P, P, u64, P], returns: i32 },
  btf__load_from_kernel_by_id: { args: [u32], returns: P },
  btf__raw_data: { args: [P, P], returns: P },
  btf__free: { args: [P], returns: V },
} as const;

const libcSymbols = {
  __errno_location: { args: [], returns: P },
  close: { args: [i32], returns: i32 },
  // long syscall(long number, ...): every argument is an integer, so the
  // variadic call needs no vector-register count.
  syscall: { args: [i64, P, i32, i32, i32, u64], returns: i64 },
  vsnprintf: { args: [P, u64, P, P], returns: i32 },
  strerror: { args: [i32], returns: S },
} as const;

type Libbpf = ReturnType<typeof dlopen<typeof libbpfSymbols>>;
type Libc = ReturnType<typeof dlopen<typeof libcSymbols>>;

let libbpf: Libbpf | undefined;
let libc: Libc | undefined;
let printCallback: JSCallback | undefined;

/** libbpf's log lines since the last call to takeLibbpfLog(). */
let logLines: string[] = [];
const MAX_LOG_LINES = 2000;

export class KernelError extends BpftimeError {
  constructor(
    readonly errno: number,
    message: string,
    /** libbpf's log lines about this failure (e.g. the verifier log). */
    readonly log: string[] = [],
  ) {
    super(errnoCode(errno), message, log.length ? { log } : undefined);
  }
}

const libbpfErrors: Record<number, string> = {
  4000: "unknown libbpf error",
  4001: "bad ELF format",
  4002: "unsupported ELF format",
  4003: "no kernel version section",
  4004: "kernel version mismatch",
  4005: "bad relocation",
  4006: "failed to load the program",
  4007: "the kernel verifier refused the program",
  4008: "program too big",
  4009: "incorrect kernel version",
  4010: "kernel does not support this program type",
  4011: "wrong pid in netlink message",
  4012: "invalid netlink sequence",
  4013: "netlink parse error",
};

function libs(): { bpf: Libbpf["symbols"]; c: Libc["symbols"] } {
  if (!libbpf) {
    try {
      libc = dlopen("libc.so.6", libcSymbols);
    } catch (e) {
      throw new BpftimeError("unsupported", `libc.so.6 not loadable: ${(e as Error).message}`);
    }
    try {
      libbpf = dlopen("libbpf.so.1", libbpfSymbols);
    } catch {
      throw new BpftimeError("unsupported", "libbpf.so.1 not found: install libbpf1");
    }
    installPrint(libbpf.symbols, libc.symbols);
  }
  return { bpf: libbpf.symbols, c: libc!.symbols };
}

/** libbpf prints through a printf-style callback with a va_list: format it with vsnprintf. */
function installPrint(bpf: Libbpf["symbols"], c: Libc["symbols"]): void {
  const buf = new Uint8Array(8192);
  printCallback = new JSCallback(
    (level: number, fmt: number, args: number) => {
      const n = c.vsnprintf(ptr(buf), buf.length, fmt as never, args as never);
      if (n <= 0) return 0;
      const text = new TextDecoder().decode(buf.subarray(0, Math.min(n, buf.length - 1)));
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        logLines.push(line);
        // warn=0 info=1 debug=2 in libbpf; all of it is detail for us: the
        // failing call reports the relevant lines in its one-line error.
        if (level < 2) logger.debug(line.startsWith("libbpf: ") ? line : `libbpf: ${line}`);
      }
      if (logLines.length > MAX_LOG_LINES) logLines = logLines.slice(-MAX_LOG_LINES);
      return n;
    },
    { args: [i32, P, P], returns: i32 },
  );
  bpf.libbpf_set_print(printCallback.ptr);
}

/** Returns and forgets libbpf's log lines so far. */
function takeLibbpfLog(): string[] {
  const l = logLines;
  logLines = [];
  return l;
}

/** Throws 'unsupported' when libbpf cannot be loaded; otherwise nothing. */
export function ensureLibbpf(): void {
  libs();
}

function strerror(errno: number): string {
  if (libbpfErrors[errno]) return libbpfErrors[errno]!;
  const { c } = libs();
  return String(c.strerror(errno));
}

function errno(): number {
  const { c } = libs();
  const p = c.__errno_location();
  return p ? read.i32(p, 0) : 0;
}

function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/** rc < 0 → KernelError("what: strerror"), carrying libbpf's log lines. */
function check(rc: number, what: string): number {
  if (rc >= 0) return rc;
  const e = -rc;
  throw new KernelError(e, `${what}: ${strerror(e)}`, takeLibbpfLog());
}

export function closeFd(fd: number): void {
  if (fd >= 0) libs().c.close(fd);
}

export function possibleCpus(): number {
  return check(libs().bpf.libbpf_num_possible_cpus(), "number of possible CPUs");
}

// ---------------------------------------------------------------- objects

export interface ObjProgram {
  name: string;
  section: string;
  fd: number;
  insnCount: number;
}

export interface ObjMap {
  name: string;
  fd: number;
  internal: boolean;
}

/** A libbpf bpf_object: open, load, read its programs and maps, close. */
export class BpfObject {
  private constructor(private handle: number | null) {}

  static open(path: string): BpfObject {
    const { bpf } = libs();
    takeLibbpfLog();
    const h = bpf.bpf_object__open_file(cstr(path), null);
    if (!h) {
      const e = errno() || ERRNO("EINVAL");
      throw new KernelError(e, `open ${path}: ${strerror(e)}`, takeLibbpfLog());
    }
    return new BpfObject(h as unknown as number);
  }

  private get h(): number {
    if (this.handle === null) throw new BpftimeError("internal", "bpf_object used after close");
    return this.handle;
  }

  /** BPF_PROG_LOAD / BPF_MAP_CREATE for everything in the object. */
  load(): void {
    takeLibbpfLog();
    check(libs().bpf.bpf_object__load(this.h as never), "load");
  }

  programs(): ObjProgram[] {
    const { bpf } = libs();
    return this.walk(bpf.bpf_object__next_program, (p) => ({
      name: String(bpf.bpf_program__name(p)),
      section: String(bpf.bpf_program__section_name(p)),
      fd: bpf.bpf_program__fd(p),
      insnCount: Number(bpf.bpf_program__insn_cnt(p)),
    }));
  }

  maps(): ObjMap[] {
    const { bpf } = libs();
    return this.walk(bpf.bpf_object__next_map, (m) => ({
      name: String(bpf.bpf_map__name(m)),
      fd: bpf.bpf_map__fd(m),
      internal: bpf.bpf_map__is_internal(m),
    }));
  }

  /** One of libbpf's iterators over the object (NULL starts the walk and ends it), mapped. */
  private walk<P, T>(next: (obj: never, prev: P | null) => P | null, each: (item: P) => T): T[] {
    const out: T[] = [];
    for (let item = next(this.h as never, null); item; item = next(this.h as never, item)) {
      out.push(each(item));
    }
    return out;
  }

  close(): void {
    if (this.handle !== null) libs().bpf.bpf_object__close(this.handle as never);
    this.handle = null;
  }
}

// ---------------------------------------------------------------- fds and pins

/** BPF_OBJ_PIN: the object stays while the bpffs file exists. */
export function pinFd(fd: number, path: string): void {
  check(libs().bpf.bpf_obj_pin(fd, cstr(path)), `pin ${path}`);
}

/** BPF_OBJ_GET: a new fd for a pinned object. */
export function openPinned(path: string): number {
  return check(libs().bpf.bpf_obj_get(cstr(path)), `open pinned ${path}`);
}

/** A new fd for link `id`, or -ENOENT once the link is gone (no throw). */
export function linkFdById(id: number): number {
  return libs().bpf.bpf_link_get_fd_by_id(id);
}

/**
 * Whether link `id` is still in the kernel's link table. Unlike
 * linkFdById, this stays true after the last reference is dropped until the
 * kernel actually frees the link (and, right after, detaches its program),
 * which a loaded machine may do some milliseconds later.
 */
export function linkIdExists(id: number): boolean {
  const next = new Uint32Array(1);
  const rc = libs().bpf.bpf_link_get_next_id(id - 1, next);
  return rc === 0 && next[0] === id;
}

function objInfo(fd: number, size: number, what: string, fill?: (b: Uint8Array) => void) {
  const buf = new Uint8Array(size);
  fill?.(buf);
  const len = new Uint32Array([size]);
  check(libs().bpf.bpf_obj_get_info_by_fd(fd, buf, len), what);
  return { buf, view: new DataView(buf.buffer), len: len[0]! };
}

function nameAt(buf: Uint8Array, off: number, max: number): string {
  const b = buf.subarray(off, off + max);
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}

export interface KernelProgInfo {
  id: number;
  type: number;
  name: string;
  /** Translated (post-verifier) instructions. */
  xlatedInsns: number;
  jitedBytes: number;
  /** Counted only while BPF_ENABLE_STATS / kernel.bpf_stats_enabled is on. */
  runCount: bigint;
  runTimeNs: bigint;
  verifiedInsns: number;
  btfId: number;
  mapIds: number[];
}

export function progInfo(fd: number): KernelProgInfo {
  // First call: counts; second: the map ids.
  const first = objInfo(fd, 256, "program info");
  const nrMaps = first.view.getUint32(52, true);
  let mapIds: number[] = [];
  if (nrMaps > 0) {
    const ids = new Uint32Array(nrMaps);
    const again = objInfo(fd, 256, "program info", (b) => {
      const v = new DataView(b.buffer);
      v.setUint32(52, nrMaps, true);
      v.setBigUint64(56, BigInt(ptr(ids)), true);
    });
    void again;
    mapIds = [...ids];
  }
  const v = first.view;
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    jitedBytes: v.getUint32(16, true),
    xlatedInsns: v.getUint32(20, true) / 8,
    name: nameAt(first.buf, 64, 16),
    btfId: v.getUint32(128, true),
    runTimeNs: v.getBigUint64(192, true),
    runCount: v.getBigUint64(200, true),
    verifiedInsns: v.getUint32(216, true),
    mapIds,
  };
}

export interface KernelMapInfo {
  id: number;
  type: number;
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
}

export function mapInfo(fd: number): KernelMapInfo {
  const { buf, view: v } = objInfo(fd, 128, "map info");
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    keySize: v.getUint32(8, true),
    valueSize: v.getUint32(12, true),
    maxEntries: v.getUint32(16, true),
    flags: v.getUint32(20, true),
    name: nameAt(buf, 24, 16),
    btfId: v.getUint32(64, true),
    btfKeyTypeId: v.getUint32(68, true),
    btfValueTypeId: v.getUint32(72, true),
  };
}

const BPF_LINK_TYPE_PERF_EVENT = 7;
const BPF_PERF_EVENT_UPROBE = 1;
const BPF_PERF_EVENT_URETPROBE = 2;

export interface KernelLinkInfo {
  id: number;
  type: number;
  progId: number;
  /** For a perf-event uprobe link (kernel >= 6.6): what it probes. */
  uprobe?: { retprobe: boolean; file: string; offset: number; cookie: bigint };
}

export function linkInfo(fd: number): KernelLinkInfo {
  const file = new Uint8Array(4096);
  // bpf_link_info.perf_event.uprobe: file_name (in/out pointer) at 24,
  // name_len at 32, offset at 36, cookie at 40; perf_event.type at 16.
  const { view: v } = objInfo(fd, 256, "link info", (b) => {
    const w = new DataView(b.buffer);
    w.setBigUint64(24, BigInt(ptr(file)), true);
    w.setUint32(32, file.length, true);
  });
  const info: KernelLinkInfo = {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    progId: v.getUint32(8, true),
  };
  if (info.type === BPF_LINK_TYPE_PERF_EVENT) {
    const t = v.getUint32(16, true);
    if (t === BPF_PERF_EVENT_UPROBE || t === BPF_PERF_EVENT_URETPROBE)
      info.uprobe = {
        retprobe: t === BPF_PERF_EVENT_URETPROBE,
        file: nameAt(file, 0, file.length),
        offset: v.getUint32(36, true),
        cookie: v.getBigUint64(40, true),
      };
  }
  return info;
}

// ---------------------------------------------------------------- maps

export function mapCreate(
  type: number,
  name: string,
  keySize: number,
  valueSize: number,
  maxEntries: number,
): number {
  return check(
    libs().bpf.bpf_map_create(type, cstr(name), keySize, valueSize, maxEntries, null),
    `create map ${name}`,
  );
}

export function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = 0): void {
  check(libs().bpf.bpf_map_update_elem(fd, key, value, flags), "map update");
}

/** Deletes `key`; throws KernelError (ENOENT when absent). */
export function mapDelete(fd: number, key: Uint8Array): void {
  check(libs().bpf.bpf_map_delete_elem(fd, key), "map delete");
}

/** The value, or undefined when the key is absent. */
export function mapLookup(fd: number, key: Uint8Array, valueBytes: number): Uint8Array | undefined {
  const value = new Uint8Array(Math.max(valueBytes, 1));
  const rc = libs().bpf.bpf_map_lookup_elem(fd, key, value);
  if (rc === -2) return undefined;
  check(rc, "map lookup");
  return value.subarray(0, valueBytes);
}

/** The key after `key` (the first when null); undefined at the end. */
export function mapNextKey(
  fd: number,
  key: Uint8Array | null,
  keySize: number,
): Uint8Array | undefined {
  const next = new Uint8Array(Math.max(keySize, 1));
  const rc = libs().bpf.bpf_map_get_next_key(fd, key, next);
  if (rc === -2) return undefined;
  check(rc, "map next key");
  return next.subarray(0, keySize);
}

/** Raw .BTF bytes of a kernel BTF object (what the loader gave the kernel). */
export function kernelBtf(id: number): Uint8Array {
  const { bpf } = libs();
  const h = bpf.btf__load_from_kernel_by_id(id);
  if (!h) {
    const e = errno() || ERRNO("ENOENT");
    throw new KernelError(e, `BTF id ${id}: ${strerror(e)}`, takeLibbpfLog());
  }
  try {
    const size = new Uint32Array(1);
    const data = bpf.btf__raw_data(h, size);
    if (!data) throw new KernelError(12, `BTF id ${id}: no raw data`);
    return new Uint8Array(toArrayBuffer(data, 0, size[0]!)).slice();
  } finally {
    bpf.btf__free(h);
  }
}

// ---------------------------------------------------------------- uprobes

const SYS_perf_event_open = 298; // x86-64
const PERF_FLAG_FD_CLOEXEC = 8;
const BPF_PERF_EVENT = 41;

/** The dynamic PMU type of uprobes and the config bit that makes one a uretprobe. */
function uprobePmu(): { type: number; retprobeBit: number } {
  const base = "/sys/bus/event_source/devices/uprobe";
  let type: number;
  try {
    type = Number(readFileSync(`${base}/type`, "utf8").trim());
  } catch {
    throw new BpftimeError(
      "unsupported",
      `${base}/type is missing: this kernel has no uprobe PMU (CONFIG_UPROBE_EVENTS)`,
    );
  }
  let bit = 0;
  try {
    const f = readFileSync(`${base}/format/retprobe`, "utf8");
    const m = /config:(\d+)/.exec(f);
    if (m) bit = Number(m[1]);
  } catch {
    /* config:0 on every kernel so far */
  }
  return { type, retprobeBit: bit };
}

/**
 * perf_event_open() for a uprobe at `offset` (file offset) in `path`, for
 * every process (pid -1, cpu 0 — as libbpf does: a BPF program on a uprobe
 * event runs whichever CPU hits it). Returns the perf event fd.
 */
export function openUprobe(
  path: string,
  offset: number,
  retprobe: boolean,
  pid = -1,
  /** file offset of a USDT semaphore the kernel raises while the uprobe exists (0: none) */
  refCtrOffset = 0,
): number {
  const { c } = libs();
  const pmu = uprobePmu();
  const attr = new Uint8Array(128);
  const v = new DataView(attr.buffer);
  const pathBuf = cstr(path);
  v.setUint32(0, pmu.type, true); // type
  v.setUint32(4, attr.length, true); // size
  // config: the retprobe bit, and the semaphore's offset in bits 32..63
  // (PERF_UPROBE_REF_CTR_OFFSET_SHIFT)
  const refCtr = BigInt(refCtrOffset) << 32n;
  v.setBigUint64(8, (retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n) | refCtr, true);
  v.setBigUint64(56, BigInt(ptr(pathBuf)), true); // config1 = uprobe_path
  v.setBigUint64(64, BigInt(offset), true); // config2 = probe_offset
  const fd = Number(
    c.syscall(SYS_perf_event_open, attr, pid, pid === -1 ? 0 : -1, -1, PERF_FLAG_FD_CLOEXEC),
  );
  if (fd < 0) {
    const e = errno();
    throw new KernelError(
      e,
      `perf_event_open uprobe ${path}+0x${offset.toString(16)}: ${strerror(e)}`,
    );
  }
  void pathBuf;
  return fd;
}

/** BPF_LINK_CREATE of a program on a perf event: a link that can be pinned. */
export function linkPerfEvent(progFd: number, perfFd: number, cookie = 0n): number {
  // struct bpf_link_create_opts (libbpf 1.1): sz at 0, perf_event.bpf_cookie
  // at 32, 64 bytes in all.
  const opts = new Uint8Array(64);
  const v = new DataView(opts.buffer);
  v.setBigUint64(0, BigInt(opts.length), true);
  v.setBigUint64(32, BigInt.asUintN(64, cookie), true);
  return check(libs().bpf.bpf_link_create(progFd, perfFd, BPF_PERF_EVENT, opts), "link create");
}

/** BPF_PROG_LOAD of raw instructions (8 bytes each), without an object file. */
export function progLoadRaw(type: number, name: string, insns: Uint8Array): number {
  takeLibbpfLog();
  return check(
    libs().bpf.bpf_prog_load(type, cstr(name), cstr("GPL"), insns, insns.length / 8, null),
    `load program ${name}`,
  );
}
