// The kernel event provider: the same eBPF objects and the same verbs
// (load, attach, detach, list, map dump, remove) against the real kernel,
// through the system libbpf (src/native/kernel.ts). It is both a feature
// (`bpftime … --kernel`) and the baseline userspace figures are compared with.
//
// Design
// - The kernel is the region. A loaded object lives in bpffs, pinned so it
//   survives the CLI process, under one directory per object:
//       <root>/<name>/progs/<program>   BPF_OBJ_PIN of each program
//       <root>/<name>/maps/<map>        each map (libbpf's names, .bss etc. too)
//       <root>/<name>/links/<link id>   each attach link (kernel link id)
//       <root>/<name>/meta              bpftime's metadata (see below)
//   <root> is /sys/fs/bpf/bpftime ($BPFTIME_BPFFS overrides it, for tests);
//   <name> defaults to the object's basename without .bpf.o / .o.
// - Metadata the kernel does not keep (the object path, each program's
//   SEC() and attach hint) is a one-element array map "bpftime_meta" pinned as
//   `meta`: a u32 length then JSON. Kept in the kernel, it lives exactly as
//   long as the pins: there is no sidecar file to go stale.
// - Ids are the kernel's: program, map and link ids as bpftool shows them.
//   Commands take a name ("count_malloc"), "OBJECT/NAME" when a name is in
//   several objects, or a kernel id.
// - Attach: uprobe/uretprobe only (the kernel has no nginx hook). The target
//   "BINARY:SYMBOL[+OFF]" or "BINARY:0xADDR[+OFF]" is resolved here to a file
//   and a file offset (bare library names through `ldconfig -p`, then this
//   process's mappings, then $PATH; SYMBOL from .symtab/.dynsym), then
//   perf_event_open(uprobe PMU, pid -1: every process) + BPF_LINK_CREATE,
//   and the link is pinned. No --arg: the program's SEC("uprobe/BIN:SYM").
//   --cookie N is the link's bpf_cookie (bpf_get_attach_cookie()).
// - Detach unpins the link and waits (briefly) until the kernel has freed it,
//   so the uprobe is gone when the command returns. Removing an object
//   (`bpftime shm remove --kernel NAME`) removes its directory: every pin,
//   links included, so its programs detach and everything is freed.
// - A kernel uprobe and a userspace (bpftime agent) hook on the same function
//   of the same process do not mix: the kernel's int3 is what the userspace
//   patcher finds there, and it refuses to hook. Compare them one at a time.
// - Map dumps read the pinned map with BPF_MAP_GET_NEXT_KEY / LOOKUP_ELEM and
//   print keys and values through the BTF the kernel holds for the map (the
//   object's BTF, fetched by id), with the userspace formatting rules
//   (src/ops/maps.ts); per-CPU values as one array element per CPU.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { BpftimeError } from "../errors.ts";
import {
  BpfObject,
  closeFd,
  ensureLibbpf,
  KernelError,
  kernelBtf,
  linkFdById,
  linkIdExists,
  linkInfo,
  linkPerfEvent,
  mapCreate,
  mapInfo,
  mapLookup,
  mapNextKey,
  mapUpdate,
  openPinned,
  openUprobe,
  pinFd,
  possibleCpus,
  progInfo,
  progLoadRaw,
  type KernelLinkInfo,
  type KernelMapInfo,
  type KernelProgInfo,
} from "../native/kernel.ts";
import { loadObject } from "../elf/object.ts";
import { formatAttachHint } from "../elf/sections.ts";
import { programKind } from "./program-types.ts";
import { mapTypeName } from "../elf/object.ts";
import { cString, Reader } from "../elf/elf.ts";
import { ERRNO } from "../native/errno.ts";

// ---------------------------------------------------------------- layout

export function pinRoot(): string {
  return process.env.BPFTIME_BPFFS || "/sys/fs/bpf/bpftime";
}

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

function checkName(name: string, what: string): void {
  if (!NAME_RE.test(name))
    throw new BpftimeError(
      "invalid_argument",
      `${what} "${name}" is not a valid name: use letters, digits, _ . - (at most 63)`,
    );
}

/** Refuses clearly when bpffs is not mounted where the pins go. */
export function checkBpffs(root = pinRoot()): void {
  let mounts: string;
  try {
    mounts = readFileSync("/proc/mounts", "utf8");
  } catch {
    return; // cannot tell: let the pin fail with its own error
  }
  const bpfMounts = mounts
    .split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f[2] === "bpf")
    .map((f) => f[1]!.replace(/\\040/g, " "));
  if (!bpfMounts.some((m) => root === m || root.startsWith(m.endsWith("/") ? m : m + "/")))
    throw new BpftimeError(
      "unsupported",
      `${root} is not on a bpf filesystem: mount one with \`mount -t bpf bpf /sys/fs/bpf\``,
    );
}

/** Names of the object directories under the root (none when it does not exist). */
export function objectNames(): string[] {
  try {
    return readdirSync(pinRoot(), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM")
      throw new BpftimeError(
        "permission",
        `cannot read ${pinRoot()}: kernel objects are root's (run as root)`,
      );
    return [];
  }
}

function objectDir(name: string): string {
  return join(pinRoot(), name);
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Runs `f` with an fd of the pinned object at `path`, closed afterwards. */
function withPinned<T>(path: string, f: (fd: number) => T): T {
  const fd = openPinned(path);
  try {
    return f(fd);
  } finally {
    closeFd(fd);
  }
}

// ---------------------------------------------------------------- metadata

export interface KernelMeta {
  version: 1;
  object: string;
  loadedAt: string;
  programs: Record<string, { section: string; type: string; attachHint: string }>;
}

const META_MAP = "bpftime_meta";

function writeMeta(dir: string, meta: KernelMeta): void {
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const value = new Uint8Array(4 + json.length);
  new DataView(value.buffer).setUint32(0, json.length, true);
  value.set(json, 4);
  const fd = mapCreate(2 /* array */, META_MAP, 4, value.length, 1);
  try {
    mapUpdate(fd, new Uint8Array(4), value);
    pinFd(fd, join(dir, "meta"));
  } finally {
    closeFd(fd);
  }
}

export function readMeta(name: string): KernelMeta | undefined {
  const path = join(objectDir(name), "meta");
  if (!existsSync(path)) return undefined;
  try {
    return withPinned(path, (fd) => {
      const info = mapInfo(fd);
      const v = mapLookup(fd, new Uint8Array(4), info.valueSize);
      if (!v) return undefined;
      const len = new DataView(v.buffer, v.byteOffset).getUint32(0, true);
      return JSON.parse(new TextDecoder().decode(v.subarray(4, 4 + len))) as KernelMeta;
    });
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- names

const progTypeNames: Record<number, string> = {
  1: "socket_filter",
  2: "kprobe",
  3: "sched_cls",
  4: "sched_act",
  5: "tracepoint",
  6: "xdp",
  7: "perf_event",
  17: "raw_tracepoint",
  26: "tracing",
};

export function kernelProgTypeName(t: number): string {
  return progTypeNames[t] ?? `type ${t}`;
}

/** "malloc.bpf.o" → "malloc". */
export function defaultObjectName(file: string): string {
  return basename(file).replace(/(\.bpf)?\.o$/, "") || "object";
}

// ---------------------------------------------------------------- load

export interface KernelLoaded {
  file: string;
  /** The object's pin directory name (the kernel's "region"). */
  region: string;
  pinDir: string;
  programs: Array<{ id: number; name: string; section: string; type: string; insnCount: number }>;
  maps: Array<{ id: number; name: string; type: string }>;
}

/** One line from libbpf's log explaining a failed load (verifier's last words). */
function explainLoadFailure(e: KernelError): string {
  const log = e.log;
  const end = log.findIndex((l) => /-- END PROG LOAD LOG --/.test(l));
  let detail = "";
  if (end > 0) {
    for (let i = end - 1; i >= 0 && !/-- BEGIN PROG LOAD LOG --/.test(log[i]!); i--) {
      const l = log[i]!.trim();
      if (l && !/^(processed|verification time|stack depth|libbpf:)/.test(l)) {
        detail = l;
        break;
      }
    }
  }
  const prog = log
    .map((l) => /prog '([^']+)': (?:BPF program load failed|failed to load)/.exec(l))
    .find((m) => m)?.[1];
  if (!detail && (e.errno === ERRNO("EPERM") || e.errno === ERRNO("EACCES")))
    detail = "bpf() needs root (CAP_BPF, CAP_PERFMON) and a kernel that allows eBPF";
  if (!detail) {
    const last = [...log]
      .reverse()
      .find((l) => /libbpf: /.test(l) && !/created successfully|failed to load object/.test(l));
    detail = last ? last.replace(/^libbpf: /, "") : "";
  }
  const verifier = log.some((l) => /-- BEGIN PROG LOAD LOG --/.test(l));
  const what = verifier ? "refused by the kernel verifier" : e.message.replace(/^load: /, "");
  return [prog ? `program ${prog}` : "", what, detail].filter(Boolean).join(": ");
}

export function loadKernelObject(file: string, name?: string): KernelLoaded {
  if (!existsSync(file)) throw new BpftimeError("not_found", `${file}: no such file`);
  const objName = name ?? defaultObjectName(file);
  checkName(objName, "object name");
  ensureLibbpf();
  const root = pinRoot();
  checkBpffs(root);
  const dir = objectDir(objName);
  if (existsSync(dir))
    throw new BpftimeError(
      "exists",
      `kernel object "${objName}" is already loaded (${dir}): remove it with \`bpftime shm remove --kernel ${objName}\` or load with --name OTHER`,
    );

  // Our own parse for section kinds and attach hints; libbpf decides what loads.
  const hints = new Map<string, { type: string; attachHint: string }>();
  try {
    const spec = loadObject(new Uint8Array(readFileSync(file)), file);
    for (const p of spec.programs)
      hints.set(p.name, { type: programKind(p).name, attachHint: formatAttachHint(p.attach) });
  } catch {
    /* libbpf may accept what our loader does not: no hints then */
  }

  const obj = BpfObject.open(file);
  try {
    try {
      obj.load();
    } catch (e) {
      if (e instanceof KernelError) {
        const why = explainLoadFailure(e);
        const msg = `load ${file} into the kernel: ${why}`;
        // A verifier log means the kernel verifier refused a program (EACCES/EINVAL).
        if (e.log.some((l) => /-- BEGIN PROG LOAD LOG --/.test(l)))
          throw new BpftimeError("verifier", msg, { log: e.log });
        throw new KernelError(e.errno, msg, e.log);
      }
      throw e;
    }
    const progs = obj.programs();
    const maps = obj.maps();
    mkdirSync(root, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST")
        throw new BpftimeError(
          "exists",
          `kernel object "${objName}" was loaded meanwhile (${dir})`,
        );
      throw new BpftimeError("io", `mkdir ${dir}: ${(e as Error).message}`);
    }
    try {
      for (const sub of ["progs", "maps", "links"]) mkdirSync(join(dir, sub), { mode: 0o700 });
      const out: KernelLoaded = { file, region: objName, pinDir: dir, programs: [], maps: [] };
      const meta: KernelMeta = {
        version: 1,
        object: realpathSync(file),
        loadedAt: new Date().toISOString(),
        programs: {},
      };
      for (const m of maps) {
        pinFd(m.fd, join(dir, "maps", m.name));
        const info = mapInfo(m.fd);
        out.maps.push({ id: info.id, name: m.name, type: mapTypeName(info.type) });
      }
      for (const p of progs) {
        if (p.fd < 0) continue; // autoload off
        pinFd(p.fd, join(dir, "progs", p.name));
        const info = progInfo(p.fd);
        const h = hints.get(p.name);
        const type = h?.type ?? kernelProgTypeName(info.type);
        meta.programs[p.name] = { section: p.section, type, attachHint: h?.attachHint ?? "" };
        out.programs.push({
          id: info.id,
          name: p.name,
          section: p.section,
          type,
          insnCount: p.insnCount,
        });
      }
      writeMeta(dir, meta);
      return out;
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  } finally {
    obj.close();
  }
}

// ---------------------------------------------------------------- resolution

interface Pinned {
  object: string;
  name: string;
  path: string;
}

function pinnedIn(kind: "progs" | "maps" | "links"): Pinned[] {
  const out: Pinned[] = [];
  for (const o of objectNames())
    for (const n of entries(join(objectDir(o), kind)))
      out.push({ object: o, name: n, path: join(objectDir(o), kind, n) });
  return out;
}

function noObjects(): BpftimeError {
  return new BpftimeError(
    "not_found",
    `no kernel objects are loaded (${pinRoot()} is empty or missing): load one with \`bpftime load --kernel FILE.o\``,
  );
}

/** A pinned program or map by "NAME", "OBJECT/NAME" or kernel id. */
function resolvePinned(kind: "progs" | "maps", ref: string): Pinned & { id: number } {
  const what = kind === "progs" ? "program" : "map";
  if (objectNames().length === 0) throw noObjects();
  const all = pinnedIn(kind);
  const idOf = (p: Pinned) =>
    withPinned(p.path, (fd) => (kind === "progs" ? progInfo(fd).id : mapInfo(fd).id));
  if (/^\d+$/.test(ref)) {
    const id = Number(ref);
    for (const p of all) if (idOf(p) === id) return { ...p, id };
    throw new BpftimeError(
      "not_found",
      `no pinned kernel ${what} with id ${id} under ${pinRoot()}; see \`bpftime list --kernel\``,
    );
  }
  const slash = ref.indexOf("/");
  const matches =
    slash >= 0
      ? all.filter((p) => p.object === ref.slice(0, slash) && p.name === ref.slice(slash + 1))
      : all.filter((p) => p.name === ref);
  if (matches.length === 0)
    throw new BpftimeError(
      "not_found",
      `no kernel ${what} named "${ref}" under ${pinRoot()}; see \`bpftime list --kernel\``,
    );
  if (matches.length > 1)
    throw new BpftimeError(
      "usage",
      `${matches.length} kernel objects have a ${what} "${ref}": use ${matches.map((m) => `${m.object}/${ref}`).join(" or ")}, or an id`,
    );
  return { ...matches[0]!, id: idOf(matches[0]!) };
}

// ---------------------------------------------------------------- uprobe targets

let ldconfigCache: Array<{ name: string; path: string; x64: boolean }> | undefined;

function ldconfig(): Array<{ name: string; path: string; x64: boolean }> {
  if (ldconfigCache) return ldconfigCache;
  ldconfigCache = [];
  for (const bin of ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"]) {
    try {
      const r = Bun.spawnSync([bin, "-p"], { stdout: "pipe", stderr: "ignore" });
      if (r.exitCode !== 0) continue;
      for (const line of r.stdout.toString().split("\n")) {
        const m = /^\s*(\S+) \(([^)]*)\) => (\S+)$/.exec(line);
        if (m) ldconfigCache.push({ name: m[1]!, path: m[3]!, x64: m[2]!.includes("x86-64") });
      }
      break;
    } catch {
      /* try the next location */
    }
  }
  return ldconfigCache;
}

/** "libc.so.6" / "libc" / "/usr/bin/ls" / "ls" → an absolute file path. */
export function resolveBinary(binary: string): string {
  if (binary.includes("/")) {
    try {
      return realpathSync(binary);
    } catch {
      throw new BpftimeError("not_found", `uprobe target ${binary}: no such file`);
    }
  }
  const nameMatches = (n: string) =>
    n === binary || n.startsWith(binary + ".") || n.startsWith(binary + "-");
  const libs = ldconfig().filter((l) => nameMatches(l.name));
  const lib =
    libs.find((l) => l.name === binary && l.x64) ??
    libs.find((l) => l.name === binary) ??
    libs.find((l) => l.x64) ??
    libs[0];
  if (lib && existsSync(lib.path)) return realpathSync(lib.path);
  try {
    for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
      const path = line.split(/\s+/).slice(5).join(" ");
      if (path.startsWith("/") && nameMatches(basename(path))) return realpathSync(path);
    }
  } catch {
    /* no /proc */
  }
  const exe = Bun.which(binary);
  if (exe) return realpathSync(exe);
  throw new BpftimeError(
    "not_found",
    `uprobe target ${binary}: no such library (ldconfig -p) or program ($PATH); give its full path`,
  );
}

interface HostSymbol {
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
}

interface HostElf {
  symbols: HostSymbol[];
  /** PT_LOAD segments: vaddr, file offset, file size. */
  loads: Array<{ vaddr: number; offset: number; filesz: number }>;
}

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const elfCache = new Map<string, HostElf>();

/** Symbols (.symtab and .dynsym, defined functions) and PT_LOAD segments of an x86-64 ELF. */
function readHostElf(path: string): HostElf {
  const cached = elfCache.get(path);
  if (cached) return cached;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new BpftimeError("io", `uprobe target ${path}: ${(e as Error).message}`);
  }
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
    throw new BpftimeError("invalid_argument", `uprobe target ${path} is not an ELF file`);
  if (bytes[4] !== 2 || bytes[5] !== 1)
    throw new BpftimeError(
      "unsupported",
      `uprobe target ${path} is not a 64-bit little-endian ELF`,
    );
  const r = new Reader(bytes, `ELF ${path}`);
  const phoff = r.u64(32);
  const shoff = r.u64(40);
  const phentsize = r.u16(54);
  const phnum = r.u16(56);
  const shentsize = r.u16(58);
  const shnum = r.u16(60);
  const loads: HostElf["loads"] = [];
  for (let i = 0; i < phnum; i++) {
    const b = phoff + i * phentsize;
    if (r.u32(b) !== 1) continue; // PT_LOAD
    loads.push({ offset: r.u64(b + 8), vaddr: r.u64(b + 16), filesz: r.u64(b + 32) });
  }
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const b = shoff + i * shentsize;
    sections.push({
      type: r.u32(b + 4),
      offset: r.u64(b + 24),
      size: r.u64(b + 32),
      link: r.u32(b + 40),
    });
  }
  const symbols: HostSymbol[] = [];
  for (const s of sections) {
    if (s.type !== 2 && s.type !== 11) continue; // SHT_SYMTAB, SHT_DYNSYM
    const str = sections[s.link];
    if (!str) continue;
    const strtab = bytes.subarray(str.offset, str.offset + str.size);
    for (let off = s.offset; off + 24 <= s.offset + s.size; off += 24) {
      const info = r.u8(off + 4);
      const type = info & 0xf;
      const shndx = r.u16(off + 6);
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === 0) continue;
      let name: string;
      try {
        name = cString(strtab, r.u32(off), "symbol");
      } catch {
        continue;
      }
      symbols.push({ name, type, bind: info >> 4, value: r.u64(off + 8), size: r.u64(off + 16) });
    }
  }
  const elf = { symbols, loads };
  elfCache.set(path, elf);
  return elf;
}

function vaddrToOffset(elf: HostElf, vaddr: number): number | undefined {
  const seg = elf.loads.find((l) => vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz);
  return seg ? vaddr - seg.vaddr + seg.offset : undefined;
}

export interface ResolvedTarget {
  /** As given: "libc.so.6:malloc". */
  arg: string;
  file: string;
  /** File offset the uprobe goes to. */
  offset: number;
  symbol?: string;
}

/** "BINARY:SYMBOL[+OFF]" or "BINARY:0xADDR[+OFF]" → file and file offset. */
export function resolveUprobeTarget(arg: string): ResolvedTarget {
  const colon = arg.lastIndexOf(":");
  const m = colon > 0 ? /^([^+\s]+)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(arg.slice(colon + 1)) : null;
  if (!m)
    throw new BpftimeError(
      "invalid_argument",
      `bad uprobe target "${arg}": expected BINARY:SYMBOL[+OFF] or BINARY:0xADDR[+OFF]`,
    );
  const file = resolveBinary(arg.slice(0, colon));
  const extra = m[2] ? Number(m[2]) : 0;
  const elf = readHostElf(file);
  let vaddr: number;
  let symbol: string | undefined;
  if (/^0x[0-9a-f]+$/i.test(m[1]!)) {
    vaddr = Number(m[1]) + extra;
  } else {
    symbol = m[1]!;
    const cands = elf.symbols.filter((s) => s.name === symbol || s.name.split("@")[0] === symbol);
    if (cands.length === 0)
      throw new BpftimeError(
        "not_found",
        `uprobe target ${arg}: no function ${symbol} in ${file} (.symtab/.dynsym)`,
      );
    const sym = cands.find((s) => s.bind === 1) ?? cands[0]!;
    if (sym.type === STT_GNU_IFUNC)
      throw new BpftimeError(
        "unsupported",
        `uprobe target ${arg}: ${symbol} is an indirect function (IFUNC) in ${file}; the kernel would probe its resolver: name the implementation (see \`nm -D ${file}\`)`,
      );
    vaddr = sym.value + extra;
  }
  const offset = vaddrToOffset(elf, vaddr);
  if (offset === undefined)
    throw new BpftimeError(
      "invalid_argument",
      `uprobe target ${arg}: address 0x${vaddr.toString(16)} is in no loadable segment of ${file}`,
    );
  return { arg, file, offset, ...(symbol ? { symbol } : {}) };
}

/** "file:symbol+0xoff" for a file offset (what `list` shows), best effort. */
export function describeOffset(file: string, offset: number): string {
  const short = basename(file);
  try {
    const elf = readHostElf(file);
    const seg = elf.loads.find((l) => offset >= l.offset && offset < l.offset + l.filesz);
    if (seg) {
      const vaddr = offset - seg.offset + seg.vaddr;
      const sym =
        elf.symbols.find((s) => s.value === vaddr && s.bind === 1) ??
        elf.symbols.find((s) => vaddr >= s.value && vaddr < s.value + Math.max(s.size, 1));
      if (sym) {
        const d = vaddr - sym.value;
        return `${short}:${sym.name.split("@")[0]}${d ? `+0x${d.toString(16)}` : ""}`;
      }
    }
  } catch {
    /* unreadable: fall back to the offset */
  }
  return `${short}:0x${offset.toString(16)}`;
}

// ---------------------------------------------------------------- attach / detach

export interface KernelAttached {
  linkId: number;
  progId: number;
  program: string;
  /** The object directory the link is pinned in. */
  region: string;
  targetType: "uprobe" | "uretprobe";
  arg: string;
  file: string;
  offset: number;
  cookie: bigint;
  pin: string;
}

export function attachKernel(
  progRef: string,
  type: string,
  argOrDefault: string | undefined,
  cookie = 0n,
): KernelAttached {
  if (type !== "uprobe" && type !== "uretprobe")
    throw new BpftimeError(
      type === "nginx" ? "unsupported" : "usage",
      type === "nginx"
        ? "the kernel has no nginx URL-filter hook: attach nginx programs without --kernel"
        : `unknown kernel attach target type "${type}": choose uprobe or uretprobe`,
    );
  ensureLibbpf();
  const prog = resolvePinned("progs", progRef);
  const meta = readMeta(prog.object);
  const hint = meta?.programs[prog.name]?.attachHint ?? "";
  const hinted = /^u(?:ret)?probe (\S+:\S+)$/.exec(hint)?.[1];
  const arg = argOrDefault ?? hinted;
  if (arg === undefined)
    throw new BpftimeError(
      "usage",
      `attach: program ${prog.name} names no ${type} target in its SEC(): give --arg BINARY:SYMBOL`,
    );
  const target = resolveUprobeTarget(arg);
  return withPinned(prog.path, (progFd) => {
    const info = progInfo(progFd);
    if (info.type !== 2)
      throw new BpftimeError(
        "invalid_argument",
        `program ${prog.name} is a ${kernelProgTypeName(info.type)} program and cannot attach to a ${type} target`,
      );
    const pfd = openUprobe(target.file, target.offset, type === "uretprobe");
    let linkFd = -1;
    try {
      linkFd = linkPerfEvent(progFd, pfd, cookie);
      const link = linkInfo(linkFd);
      const pin = join(objectDir(prog.object), "links", String(link.id));
      pinFd(linkFd, pin);
      return {
        linkId: link.id,
        progId: info.id,
        program: prog.name,
        region: prog.object,
        targetType: type,
        arg,
        file: target.file,
        offset: target.offset,
        cookie,
        pin,
      };
    } finally {
      closeFd(linkFd);
      closeFd(pfd);
    }
  });
}

/**
 * Waits until the kernel has freed link `id`; false on timeout (another
 * process still holds it). Dropping the last reference of a pinned link is
 * asynchronous (an RCU callback, then a work item), so unpinning returns
 * before the uprobe stops: first the references go (no new fd by id), then
 * the link leaves the id table, right before its program is detached.
 */
function waitLinkGone(id: number, timeoutMs = 5000): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fd = linkFdById(id);
    if (fd >= 0) closeFd(fd);
    else if (!linkIdExists(id)) {
      Bun.sleepSync(2); // the release follows the id's removal in the same work item
      return true;
    }
    if (Date.now() > deadline) return false;
    Bun.sleepSync(2);
  }
}

export interface KernelDetached {
  linkId: number;
  progId: number;
  region: string;
  /** False when another process still holds the link open (it stays until closed). */
  freed: boolean;
}

export function detachKernel(linkRef: string): KernelDetached {
  if (!/^\d+$/.test(linkRef))
    throw new BpftimeError("usage", `kernel link id must be a number, got "${linkRef}"`);
  ensureLibbpf();
  const id = Number(linkRef);
  const pinned = pinnedIn("links").find((l) => l.name === String(id));
  if (!pinned)
    throw new BpftimeError(
      "not_found",
      `no pinned kernel link ${id} under ${pinRoot()}; see \`bpftime list --kernel\``,
    );
  const info = withPinned(pinned.path, linkInfo);
  rmSync(pinned.path);
  return { linkId: id, progId: info.progId, region: pinned.object, freed: waitLinkGone(id) };
}

// ---------------------------------------------------------------- remove

export function removeKernelObject(name: string): { region: string; links: number[] } {
  checkName(name, "object name");
  const dir = objectDir(name);
  if (!existsSync(dir))
    throw new BpftimeError(
      "not_found",
      `no kernel object "${name}" under ${pinRoot()}; see \`bpftime list --kernel\``,
    );
  const links = entries(join(dir, "links"))
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
  rmSync(dir, { recursive: true, force: true });
  for (const l of links) waitLinkGone(l);
  return { region: name, links };
}

// ---------------------------------------------------------------- list

export interface KernelSnapshot {
  root: string;
  programs: Array<{
    id: number;
    name: string;
    region: string;
    type: string;
    insnCount: number;
    links: number[];
    runCount: number;
    runTimeNs: number;
    attachHint: string;
    section: string;
  }>;
  maps: Array<{
    id: number;
    name: string;
    region: string;
    type: string;
    keySize: number;
    valueSize: number;
    maxEntries: number;
    flags: number;
  }>;
  links: Array<{
    id: number;
    progId: number;
    region: string;
    targetType: string;
    arg: string;
  }>;
}

export function kernelSnapshot(): KernelSnapshot {
  const snap: KernelSnapshot = { root: pinRoot(), programs: [], maps: [], links: [] };
  if (objectNames().length === 0) return snap;
  ensureLibbpf();
  const safe = <T>(path: string, f: (fd: number) => T): T | undefined => {
    try {
      return withPinned(path, f);
    } catch {
      return undefined; // a pin removed meanwhile, or not ours to read
    }
  };
  for (const o of objectNames()) {
    const meta = readMeta(o);
    const dir = objectDir(o);
    const links: Array<KernelLinkInfo> = [];
    for (const n of entries(join(dir, "links"))) {
      const l = safe(join(dir, "links", n), linkInfo);
      if (!l) continue;
      links.push(l);
      snap.links.push({
        id: l.id,
        progId: l.progId,
        region: o,
        targetType: l.uprobe ? (l.uprobe.retprobe ? "uretprobe" : "uprobe") : `link type ${l.type}`,
        arg: l.uprobe ? describeOffset(l.uprobe.file, l.uprobe.offset) : "",
      });
    }
    for (const n of entries(join(dir, "progs"))) {
      const p: KernelProgInfo | undefined = safe(join(dir, "progs", n), progInfo);
      if (!p) continue;
      const m = meta?.programs[n];
      snap.programs.push({
        id: p.id,
        name: n,
        region: o,
        type: m?.type ?? kernelProgTypeName(p.type),
        insnCount: p.xlatedInsns,
        links: links.filter((l) => l.progId === p.id).map((l) => l.id),
        runCount: Number(p.runCount),
        runTimeNs: Number(p.runTimeNs),
        attachHint: m?.attachHint ?? "",
        section: m?.section ?? "",
      });
    }
    for (const n of entries(join(dir, "maps"))) {
      const m: KernelMapInfo | undefined = safe(join(dir, "maps", n), mapInfo);
      if (!m) continue;
      snap.maps.push({
        id: m.id,
        name: n,
        region: o,
        type: mapTypeName(m.type),
        keySize: m.keySize,
        valueSize: m.valueSize,
        maxEntries: m.maxEntries,
        flags: m.flags,
      });
    }
  }
  return snap;
}

// ---------------------------------------------------------------- maps

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

// ---------------------------------------------------------------- benchmark hook

/**
 * Runs `f` while an empty kernel program (r0 = 0; exit) is attached as a
 * uprobe or uretprobe at `target` ("BINARY:SYMBOL[+OFF]") in every process;
 * nothing is pinned: closing the fds afterwards detaches it.
 */
export function withEmptyKernelUprobe<T>(
  target: string,
  type: "uprobe" | "uretprobe",
  f: () => T,
): T {
  const t = resolveUprobeTarget(target);
  // mov64 r0, 0; exit
  const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  const prog = progLoadRaw(2 /* kprobe */, "bpftime_empty", insns);
  let pfd = -1;
  let link = -1;
  try {
    pfd = openUprobe(t.file, t.offset, type === "uretprobe");
    link = linkPerfEvent(prog, pfd);
    return f();
  } finally {
    closeFd(link);
    closeFd(pfd);
    closeFd(prog);
  }
}

const BENCH_C = `#include <stdio.h>
#include <stdlib.h>
#include <time.h>
__attribute__((noinline)) int bench_target(int x) { __asm__ volatile("" ::: "memory"); return x; }
static volatile int sink;
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    double best = 1e18;
    for (int r = 0; r < 5; r++) {
        struct timespec a, b;
        int acc = 0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++) acc += bench_target((int)i);
        clock_gettime(CLOCK_MONOTONIC, &b);
        sink = acc;
        double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n;
        if (ns < best) best = ns;
    }
    printf("%.3f\\n", best);
    return 0;
}
`;

export interface KernelUprobeBench {
  calls: number;
  /** ns per call of the empty function, unhooked. */
  baselineNs: number;
  /** ns per call with an empty kernel uprobe / uretprobe on it. */
  uprobeNs: number;
  uretprobeNs: number;
}

/**
 * Benchmark hook (bench/): ns per call of an empty noinline function,
 * unhooked and with an empty eBPF program on it as a kernel uprobe and
 * uretprobe (best of 5 rounds of `calls` calls each, measured inside the
 * process). Needs cc, root and a kernel that allows uprobes. Asserts nothing.
 */
export function benchKernelUprobe(calls = 100_000): KernelUprobeBench {
  ensureLibbpf();
  const dir = mkdtempSync(join(tmpdir(), "bpftime-kbench-"));
  try {
    const src = join(dir, "bench.c");
    const bin = join(dir, "bench");
    writeFileSync(src, BENCH_C);
    const cc = Bun.spawnSync(["cc", "-O2", "-o", bin, src], { stdout: "pipe", stderr: "pipe" });
    if (cc.exitCode !== 0)
      throw new BpftimeError("io", `cc bench.c: ${cc.stderr.toString().trim().split("\n")[0]}`);
    const measure = (): number => {
      const r = Bun.spawnSync([bin, String(calls)], { stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) throw new BpftimeError("io", `bench run failed: exit ${r.exitCode}`);
      return Number(r.stdout.toString().trim());
    };
    const target = `${bin}:bench_target`;
    return {
      calls,
      baselineNs: measure(),
      uprobeNs: withEmptyKernelUprobe(target, "uprobe", measure),
      uretprobeNs: withEmptyKernelUprobe(target, "uretprobe", measure),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
