// `bpftime list --kernel`: every pinned program, map and link, read back from
// the kernel (ids, run statistics) and our metadata (types, attach hints).
import { join } from "node:path";
import {
  ensureLibbpf,
  linkInfo,
  mapInfo,
  progInfo,
  type KernelLinkInfo,
  type KernelMapInfo,
  type KernelProgInfo,
} from "../../native/index.ts";
import { mapTypeName } from "../../enums.ts";
import { kernelProgTypeName, readMeta } from "./metadata.ts";
import { entries, objectDir, objectNames, pinRoot, withPinned } from "./pins.ts";
import { describeOffset } from "./uprobe-target.ts";
import { isUsdtGroup, usdtGroupLinks } from "./usdt.ts";

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

/** The link pins of an object: each plain link, and each site's link of a USDT attach (usdt.ts). */
function linkPins(dir: string): Array<{ path: string; usdt: boolean }> {
  return entries(dir).flatMap((n): Array<{ path: string; usdt: boolean }> => {
    const p = join(dir, n);
    return isUsdtGroup(p)
      ? usdtGroupLinks(p).map((path) => ({ path, usdt: true }))
      : [{ path: p, usdt: false }];
  });
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
    for (const { path, usdt } of linkPins(join(dir, "links"))) {
      const l = safe(path, linkInfo);
      if (!l) continue;
      links.push(l);
      snap.links.push({
        id: l.id,
        progId: l.progId,
        region: o,
        targetType: usdt
          ? "usdt"
          : l.uprobe
            ? l.uprobe.retprobe
              ? "uretprobe"
              : "uprobe"
            : `link type ${l.type}`,
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
