// Where the kernel provider keeps what it loads: bpffs pins, one directory
// per object (the layout is described in src/attach/kernel/index.ts),
// and the lookup of a pinned program or map by "NAME", "OBJECT/NAME" or id.
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { BpftimeError } from "../../errors.ts";
import { closeFd, mapInfo, openPinned, progInfo } from "../../native/index.ts";

export function pinRoot(): string {
  return process.env.BPFTIME_BPFFS || "/sys/fs/bpf/bpftime";
}

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

export function checkName(name: string, what: string): void {
  if (!NAME_RE.test(name))
    throw new BpftimeError(
      "invalid_argument",
      `${what} "${name}" is not a valid name: use letters, digits, _ . - (at most 63)`,
    );
}

/** "malloc.bpf.o" → "malloc". */
export function defaultObjectName(file: string): string {
  return basename(file).replace(/(\.bpf)?\.o$/, "") || "object";
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

export function objectDir(name: string): string {
  return join(pinRoot(), name);
}

/** The names in a directory, sorted; none when it cannot be read. */
export function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Runs `f` with an fd of the pinned object at `path`, closed afterwards. */
export function withPinned<T>(path: string, f: (fd: number) => T): T {
  const fd = openPinned(path);
  try {
    return f(fd);
  } finally {
    closeFd(fd);
  }
}

export interface Pinned {
  object: string;
  name: string;
  path: string;
}

export function pinnedIn(kind: "progs" | "maps" | "links"): Pinned[] {
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
export function resolvePinned(kind: "progs" | "maps", ref: string): Pinned & { id: number } {
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
  const named = (p: Pinned, n: string) => p.name === n || p.name === pinName(n);
  const matches =
    slash >= 0
      ? all.filter((p) => p.object === ref.slice(0, slash) && named(p, ref.slice(slash + 1)))
      : all.filter((p) => named(p, ref));
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

/**
 * The pin file name of a map or program: bpffs refuses names with a dot, and
 * libbpf names global-data maps "<object>.rodata", ".bss", ".data",
 * ".rodata.str1.1" (bpf_printk's strings). Each '.' becomes '_'
 * ("globals.rodata" is pinned as maps/globals_rodata); commands accept both.
 */
export function pinName(name: string): string {
  return name.replace(/\./g, "_");
}
