// The `--kernel` face of the CLI verbs: `load`, `attach`, `detach`, `list`,
// `map dump` and `shm remove` route here when given --kernel, so each CLI
// file only gains an option and one line. The work is done by the kernel
// event provider (src/attach/kernel-provider.ts); this file turns its
// results into the same shapes and text as the userspace commands, and
// reuses src/ops/maps.ts's key/value formatting through a MapHandle-like
// object built from the kernel's map info and BTF.
import { BpftimeError } from "../errors.ts";
import type { Parsed } from "../cli/command.ts";
import { printJson, printLoaded, table, toJson } from "../cli/output.ts";
import {
  attachKernel,
  detachKernel,
  kernelMapEntries,
  kernelSnapshot,
  loadKernelObject,
  openKernelMap,
  removeKernelObject,
  type KernelMapHandle,
} from "../attach/kernel-provider.ts";
import { formatKey, formatMapValue, type MapHandle } from "./maps.ts";
import { parseBtf } from "../btf/btf.ts";
import type { Region } from "../native/runtime.ts";

/** The option every --kernel-capable command adds. */
export const kernelOption = {
  kernel: {
    type: "boolean" as const,
    description: "the real kernel instead of the region (bpffs pins under /sys/fs/bpf/bpftime)",
  },
};

const s = (p: Parsed, name: string) => {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
};
const json = (p: Parsed) => p.values.json === true;

function need(p: Parsed, i: number, what: string, path: string): string {
  const v = p.positionals[i];
  if (v === undefined)
    throw new BpftimeError("usage", `${path}: missing ${what}; see \`bpftime ${path} --help\``);
  return v;
}

/** Options that mean nothing with --kernel are refused rather than ignored. */
function refuse(p: Parsed, path: string, names: string[]): void {
  for (const n of names)
    if (p.values[n] !== undefined && p.values[n] !== false)
      throw new BpftimeError("usage", `${path}: --${n} does not apply with --kernel`);
}

// ---------------------------------------------------------------- load

export function kernelLoad(p: Parsed): void {
  refuse(p, "load", ["program", "shm"]);
  const file = need(p, 0, "FILE.o", "load");
  const r = loadKernelObject(file, s(p, "name"));
  if (json(p)) return printJson(r);
  console.log(`loaded ${file} into the kernel as ${r.region} (${r.pinDir})`);
  printLoaded(r);
}

// ---------------------------------------------------------------- attach / detach

export function kernelAttach(p: Parsed): void {
  refuse(p, "attach", ["prefix", "pid", "shm"]);
  const prog = need(p, 0, "PROG (program name or kernel id)", "attach");
  const type = need(p, 1, "TYPE (uprobe, uretprobe)", "attach");
  const cookie = s(p, "cookie") ?? "0";
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(cookie))
    throw new BpftimeError("usage", `attach: --cookie must be an integer, got "${cookie}"`);
  const r = attachKernel(prog, type, s(p, "arg"), BigInt(cookie));
  if (json(p)) return printJson(r);
  console.log(
    `link ${r.linkId}: program ${r.progId} (${r.program}) attached to kernel ${r.targetType} ${JSON.stringify(r.arg)} (${r.file}+0x${r.offset.toString(16)}), pinned at ${r.pin}`,
  );
}

export function kernelDetach(p: Parsed): void {
  refuse(p, "detach", ["pid", "shm"]);
  const link = need(p, 0, "LINK (kernel link id)", "detach");
  const r = detachKernel(link);
  if (json(p)) return printJson(r);
  console.log(
    r.freed
      ? `detached kernel link ${r.linkId}`
      : `unpinned kernel link ${r.linkId}; another process still holds it open, it goes when that one closes it`,
  );
}

// ---------------------------------------------------------------- list

export function kernelList(p: Parsed): void {
  refuse(p, "list", ["shm"]);
  const snap = kernelSnapshot();
  if (json(p)) return printJson(snap);
  const out: string[] = [`kernel (pins under ${snap.root})`];
  const section = (title: string, headers: string[], rows: Array<Array<string | number>>) => {
    out.push("", `${title} (${rows.length})`);
    if (rows.length) out.push(table(headers, rows));
  };
  section(
    "programs",
    ["ID", "NAME", "OBJECT", "TYPE", "INSNS", "LINKS", "RUNS", "HINT"],
    snap.programs.map((x) => [
      x.id,
      x.name,
      x.region,
      x.type,
      x.insnCount,
      x.links.join(",") || "-",
      x.runCount,
      x.attachHint || "-",
    ]),
  );
  section(
    "maps",
    ["ID", "NAME", "OBJECT", "TYPE", "KEY", "VALUE", "MAX"],
    snap.maps.map((x) => [x.id, x.name, x.region, x.type, x.keySize, x.valueSize, x.maxEntries]),
  );
  section(
    "links",
    ["ID", "PROG", "OBJECT", "TYPE", "TARGET"],
    snap.links.map((x) => [x.id, x.progId, x.region, x.targetType, x.arg]),
  );
  console.log(out.join("\n"));
}

// ---------------------------------------------------------------- maps

/** A src/ops/maps.ts MapHandle over a kernel map (formatting only: no region behind it). */
export function kernelMapHandle(m: KernelMapHandle): MapHandle {
  let btf: MapHandle["btf"];
  if (m.btf) {
    try {
      btf = parseBtf(m.btf);
    } catch {
      btf = undefined; // hex then
    }
  }
  const stride = Math.ceil(m.info.valueSize / 8) * 8;
  return {
    r: undefined as unknown as Region,
    id: m.info.id,
    info: {
      id: m.info.id,
      type: m.info.type,
      keySize: m.info.keySize,
      valueSize: m.info.valueSize,
      maxEntries: m.info.maxEntries,
      flags: m.info.flags,
      mapExtra: 0n,
      createdNs: 0n,
      valueBufSize: m.ncpus > 1 ? stride * m.ncpus : m.info.valueSize,
      ncpus: m.ncpus,
      name: m.name,
    },
    ...(btf ? { btf } : {}),
    meta: {
      ...(btf && m.info.btfKeyTypeId ? { keyType: m.info.btfKeyTypeId } : {}),
      ...(btf && m.info.btfValueTypeId ? { valueType: m.info.btfValueTypeId } : {}),
    },
  };
}

export function kernelDumpEntries(ref: string): Array<{ key: unknown; value: unknown }> {
  const m = openKernelMap(ref);
  const h = kernelMapHandle(m);
  return kernelMapEntries(m).map((e) => ({
    key: formatKey(h, e.key),
    value: formatMapValue(h, e.value),
  }));
}

export function kernelMapDump(p: Parsed): void {
  refuse(p, "map dump", ["shm"]);
  const ref = need(p, 0, "MAP (name, OBJECT/NAME or kernel id)", "map dump");
  const entries = kernelDumpEntries(ref);
  if (json(p)) return printJson(entries);
  for (const e of entries) console.log(`${toJson(e.key)}: ${toJson(e.value)}`);
  console.log(`(${entries.length} entries)`);
}

// ---------------------------------------------------------------- remove

export function kernelRemove(p: Parsed): void {
  refuse(p, "shm remove", ["shm"]);
  const name = need(
    p,
    0,
    "NAME (the kernel object's name, see `bpftime list --kernel`)",
    "shm remove",
  );
  const r = removeKernelObject(name);
  if (json(p)) return printJson(r);
  console.log(
    `removed kernel object ${r.region}${r.links.length ? ` and detached links ${r.links.join(", ")}` : ""}`,
  );
}
