// The `--kernel` face of the CLI verbs: `load`, `attach`, `detach`, `list`,
// `map dump` and `shm remove` route here when given --kernel, so each command
// file only gains an option and one line. The work is done by the kernel event
// provider through src/ops/kernel.ts; this file parses and prints the same
// shapes and text as the userspace commands.
import { BpftimeError } from "../errors.ts";
import { needPositional, str, flag, type Parsed } from "./command.ts";
import { printJson, printLoaded, sections, toJson } from "./output.ts";
import {
  attachKernel,
  detachKernel,
  kernelDumpEntries,
  kernelSnapshot,
  loadKernelObject,
  removeKernelObject,
} from "../ops/index.ts";

/** The option every --kernel-capable command adds. */
export const kernelOption = {
  kernel: {
    type: "boolean" as const,
    description: "the real kernel instead of the region (bpffs pins under /sys/fs/bpf/bpftime)",
  },
};

const need = (p: Parsed, i: number, what: string, path: string) =>
  needPositional(p, i, what, `bpftime ${path}`);
const json = (p: Parsed) => flag(p, "json");

/** Options that mean nothing with --kernel are refused rather than ignored. */
export function refuse(p: Parsed, path: string, names: string[]): void {
  for (const n of names)
    if (p.values[n] !== undefined && p.values[n] !== false)
      throw new BpftimeError("usage", `${path}: --${n} does not apply with --kernel`);
}

export function kernelLoad(p: Parsed): void {
  refuse(p, "load", ["program", "shm"]);
  const file = need(p, 0, "FILE.o", "load");
  const r = loadKernelObject(file, str(p, "name"));
  if (json(p)) return printJson(r);
  console.log(`loaded ${file} into the kernel as ${r.region} (${r.pinDir})`);
  printLoaded(r);
}

export function kernelAttach(p: Parsed): void {
  refuse(p, "attach", ["prefix", "pid", "shm"]);
  const prog = need(p, 0, "PROG (program name or kernel id)", "attach");
  const type = need(p, 1, "TYPE (uprobe, uretprobe, usdt)", "attach");
  const cookie = str(p, "cookie") ?? "0";
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(cookie))
    throw new BpftimeError("usage", `attach: --cookie must be an integer, got "${cookie}"`);
  const r = attachKernel(prog, type, str(p, "arg"), BigInt(cookie));
  if (json(p)) return printJson(r);
  const sites = r.linkIds ? ` at ${r.linkIds.length} site(s), links ${r.linkIds.join(", ")}` : "";
  console.log(
    `link ${r.linkId}: program ${r.progId} (${r.program}) attached to kernel ${r.targetType} ${JSON.stringify(r.arg)} (${r.file}+0x${r.offset.toString(16)})${sites}, pinned at ${r.pin}`,
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

export function kernelList(p: Parsed): void {
  refuse(p, "list", ["shm"]);
  const snap = kernelSnapshot();
  if (json(p)) return printJson(snap);
  const out: string[] = [`kernel (pins under ${snap.root})`];
  const section = sections(out);
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

export function kernelMapDump(p: Parsed): void {
  refuse(p, "map dump", ["shm"]);
  const ref = need(p, 0, "MAP (name, OBJECT/NAME or kernel id)", "map dump");
  const entries = kernelDumpEntries(ref);
  if (json(p)) return printJson(entries);
  for (const e of entries) console.log(`${toJson(e.key)}: ${toJson(e.value)}`);
  console.log(`(${entries.length} entries)`);
}

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
