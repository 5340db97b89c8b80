// The parent's side of the syscall server (`bpftime load -- APP`): the
// control socket the preloaded library in APP talks to (its side and the
// message layout: native/syscall-server/control_client.c).
//
// Why a socket: map commands are answered inside APP straight from the region
// (C, no round trip); BPF_PROG_LOAD needs the verifier, which is TypeScript,
// so APP sends the program here, we verify and store it and answer its id
// and the verifier log (kernel style: libbpf prints it when a load fails).
// APP also notes every map, attach target and link it creates, so we can
// show them with its pid and remove them when it exits, as the kernel does
// when the last descriptor of an object closes.
import { createServer, type Server, type Socket } from "node:net";
import { progTypeName } from "../enums.ts";
import { Region } from "../native/index.ts";
import {
  PROGRAM_TYPES,
  rewriteContextAccesses,
  verify,
  type MapInfo,
  type ProgramType,
} from "../verifier/index.ts";
import { readMeta, removeMeta, writeMeta } from "./metadata.ts";

const OP_PROG_LOAD = 1;
const OP_NOTE = 2;
const NOTE_MAP = 1;
const NOTE_TARGET = 2;
const NOTE_LINK = 3;
const PROG_LOAD_FIXED = 6 * 4 + 16 + 128;

const EINVAL = 22;
const EACCES = 13;
const EBADF = 9;
const BPF_F_RDONLY_PROG = 1 << 7;

/** What marks a record as written for an application run by `bpftime load -- APP`. */
const APP_MARK = "(bpftime load)";

/**
 * The application (name and pid) that created map `id`, if one did: what
 * `bpftime list` shows beside the map.
 */
export function mapLoadedBy(region: string, id: number): string | undefined {
  const o = readMeta<{ object?: string }>(region, "map", id)?.object;
  return o?.endsWith(APP_MARK) ? o.slice(0, -APP_MARK.length).trim() : undefined;
}

/** Objects one application created in the region (what its exit removes). */
export interface AppObjects {
  programs: Set<number>;
  maps: Set<number>;
  targets: Set<number>;
  links: Set<number>;
}

export interface AppServer {
  /** The socket path to pass in BPFTIME_CONTROL_SOCKET. */
  path: string;
  objects: AppObjects;
  /** Sets the label objects are recorded with ("./app (pid 123)") once the pid is known. */
  setOwner(owner: string): void;
  close(): Promise<void>;
}

interface ProgLoadRequest {
  progType: number;
  expectedAttachType: number;
  logLevel: number;
  logSize: number;
  name: string;
  license: string;
  insns: Uint8Array;
  mapIds: number[];
}

function cstr(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end >= 0 ? bytes.subarray(0, end) : bytes);
}

function parseProgLoad(p: Uint8Array): ProgLoadRequest {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const insnCnt = v.getUint32(8, true);
  const nrMaps = v.getUint32(12, true);
  if (p.byteLength !== PROG_LOAD_FIXED + insnCnt * 8 + nrMaps * 4)
    throw new Error("malformed BPF_PROG_LOAD message");
  const mapIds: number[] = [];
  const mapsAt = PROG_LOAD_FIXED + insnCnt * 8;
  for (let i = 0; i < nrMaps; i++) mapIds.push(v.getUint32(mapsAt + i * 4, true));
  return {
    progType: v.getUint32(0, true),
    expectedAttachType: v.getUint32(4, true),
    logLevel: v.getUint32(16, true),
    logSize: v.getUint32(20, true),
    name: cstr(p.subarray(24, 40)),
    license: cstr(p.subarray(40, 168)),
    insns: p.slice(PROG_LOAD_FIXED, mapsAt),
    mapIds,
  };
}

/**
 * The verifier's context for a kernel program type. A kprobe-type program
 * is a uprobe here (the only probes bpftime runs: pt_regs of a user function).
 */
function verifierType(progType: number): ProgramType | undefined {
  const name = progTypeName(progType);
  if (name === "kprobe") return "uprobe";
  return PROGRAM_TYPES.find((t) => t === name);
}

function mapInfo(region: Region, id: number): MapInfo {
  const m = region.map(id);
  const readOnly = (m.flags & BPF_F_RDONLY_PROG) !== 0;
  let initialValue: Uint8Array | undefined;
  if (readOnly && m.maxEntries === 1 && region.mapIsFrozen(id))
    initialValue = region.mapLookup(id, new Uint8Array(4), m.valueSize) ?? undefined;
  return {
    name: m.name,
    type: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    readOnly,
    ...(initialValue ? { initialValue } : {}),
    ...(m.inner ? { inner: m.inner } : {}),
  };
}

interface LoadAnswer {
  result: number;
  log: string;
  message: string;
}

/** Verifies and stores one program of the application (BPF_PROG_LOAD). */
function progLoad(region: Region, req: ProgLoadRequest, owner: string): LoadAnswer {
  const type = verifierType(req.progType);
  const label = req.name || "(unnamed)";
  if (!type) {
    const name = progTypeName(req.progType) ?? `type ${req.progType}`;
    return {
      result: -EINVAL,
      log: "",
      // Unnamed programs are libbpf's feature probes: an unsupported type there is an answer.
      message: req.name
        ? `BPF_PROG_LOAD ${label}: program type ${name} is not supported by bpftime (supported: ${PROGRAM_TYPES.join(", ")})`
        : "",
    };
  }
  let maps: MapInfo[];
  try {
    maps = req.mapIds.map((id) => mapInfo(region, id));
  } catch {
    return { result: -EBADF, log: "", message: "" };
  }
  const wantLog = req.logLevel > 0 && req.logSize > 0;
  const r = verify({ insts: req.insns, type, maps }, { log: wantLog });
  if (!r.ok) {
    const lines = wantLog ? r.log : [];
    if (wantLog && r.error && !lines.includes(r.error.message)) lines.push(r.error.message);
    lines.push(`processed ${r.stats.insnsProcessed} insns (limit 1000000)`);
    return { result: -EACCES, log: lines.join("\n") + "\n", message: "" };
  }
  const insns = rewriteContextAccesses(req.insns, type, r.ctxAccesses);
  const id = region.createProgram({
    name: req.name || "prog",
    type: req.progType,
    license: req.license,
    // `bpftime list` shows the hint: which application (and pid) loaded it.
    attachHint: `${type === "uprobe" ? "uprobe " : ""}from ${owner}`.slice(0, 255),
    insns,
    mapIds: req.mapIds,
  });
  writeMeta(region.name, "prog", id, {
    object: owner,
    verifier: {
      insnsProcessed: r.stats.insnsProcessed,
      statesExplored: r.stats.statesExplored,
      statesPruned: r.stats.statesPruned,
      peakStates: r.stats.peakStates,
    },
  });
  const log = wantLog ? `processed ${r.stats.insnsProcessed} insns (limit 1000000)\n` : "";
  return { result: id, log, message: "" };
}

function reply(a: LoadAnswer): Buffer {
  const log = Buffer.from(a.log.slice(0, 1 << 24));
  const msg = Buffer.from(a.message);
  const hdr = Buffer.alloc(12);
  hdr.writeInt32LE(a.result, 0);
  hdr.writeUInt32LE(log.length, 4);
  hdr.writeUInt32LE(msg.length, 8);
  return Buffer.concat([hdr, log, msg]);
}

/** Listens on `path` (in a 0700 directory the caller made) for the application's library. */
export async function startAppServer(regionName: string, path: string): Promise<AppServer> {
  const region = Region.open(regionName);
  const objects: AppObjects = {
    programs: new Set(),
    maps: new Set(),
    targets: new Set(),
    links: new Set(),
  };
  let owner = "bpftime load";
  const sockets = new Set<Socket>();
  const handle = (s: Socket, op: number, payload: Uint8Array) => {
    if (op === OP_NOTE && payload.byteLength === 12) {
      const v = new DataView(payload.buffer, payload.byteOffset, 12);
      const what = v.getUint32(0, true);
      const id = v.getUint32(4, true);
      const set =
        what === NOTE_MAP
          ? objects.maps
          : what === NOTE_TARGET
            ? objects.targets
            : what === NOTE_LINK
              ? objects.links
              : undefined;
      const created = v.getUint32(8, true) !== 0;
      if (created) set?.add(id);
      else set?.delete(id);
      if (what === NOTE_MAP && created) writeMeta(region.name, "map", id, { object: owner });
      else if (what === NOTE_MAP) removeMeta(region.name, "map", id);
      return;
    }
    if (op === OP_PROG_LOAD) {
      let answer: LoadAnswer;
      try {
        answer = progLoad(region, parseProgLoad(payload), owner);
        if (answer.result > 0) objects.programs.add(answer.result);
      } catch (e) {
        const err = e as Error & { errno?: number };
        answer = {
          result: -(err.errno ?? EINVAL),
          log: "",
          message: `BPF_PROG_LOAD: ${err.message}`,
        };
      }
      s.write(reply(answer));
      return;
    }
    s.destroy(new Error(`unknown control message ${op}`));
  };
  const server: Server = createServer((s) => {
    sockets.add(s);
    let buf: Buffer = Buffer.alloc(0);
    s.on("data", (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 8) {
        const op = buf.readUInt32LE(0);
        const len = buf.readUInt32LE(4);
        if (buf.length < 8 + len) break;
        const payload = new Uint8Array(buf.subarray(8, 8 + len));
        buf = buf.subarray(8 + len);
        handle(s, op, payload);
      }
    });
    s.on("error", () => s.destroy());
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  return {
    path,
    objects,
    setOwner(o) {
      owner = o;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        removeAppObjects(region, objects);
      } finally {
        region.close();
      }
    },
  };
}

/**
 * What the kernel does when an application's last descriptors close: its
 * links go, then its attach targets, programs and maps — except what a pin
 * holds (a pinned map outlives the application, as in bpffs). A map some
 * other process still runs code with is freed by the runtime once that
 * process lets go.
 */
export function removeAppObjects(region: Region, o: AppObjects): void {
  const pinned = new Set(region.pins().map((p) => `${p.kind}:${p.objectId}`));
  const attempt = (f: () => void) => {
    try {
      f();
    } catch {
      /* gone already, or still held: the runtime collects it later */
    }
  };
  for (const id of o.links) attempt(() => region.deleteLink(id));
  for (const id of o.targets) attempt(() => region.deleteTarget(id));
  for (const id of o.programs)
    if (!pinned.has(`prog:${id}`)) attempt(() => region.deleteProgram(id));
  // twice: a map stored in one of the application's maps of maps is held
  // until that outer map goes in the first pass
  for (let pass = 0; pass < 2; pass++)
    for (const id of o.maps) if (!pinned.has(`map:${id}`)) attempt(() => region.deleteMap(id));
  attempt(() => region.collectMaps());
  // Closed descriptors already removed some (as the kernel does): their records go too.
  const programs = new Set(region.programIds());
  const maps = new Set(region.mapIds());
  for (const id of o.programs) if (!programs.has(id)) removeMeta(region.name, "prog", id);
  for (const id of o.maps) if (!maps.has(id)) removeMeta(region.name, "map", id);
}
