// `bpftime unload --kernel PROG`: a pinned kernel program no link uses goes,
// as a region's does (`bpftime unload`): its pin is removed, and so are the
// pins of its object's maps that no remaining program of the object uses
// (the loader pinned every map only so the object outlives the CLI; those
// pins are the object's, not a user's). The last program takes the whole
// object directory with it (metadata, maps), as `shm remove --kernel` does.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BpftimeError } from "../../errors.ts";
import { ensureLibbpf, linkInfo, mapInfo, progInfo } from "../../native/index.ts";
import { entries, objectDir, pinnedIn, resolvePinned, withPinned } from "./pins.ts";
import { isUsdtGroup, usdtGroupLinks } from "./usdt.ts";

export interface KernelUnloaded {
  /** The program's kernel id. */
  deleted: number;
  region: string;
  /** Ids of the maps whose pins went with it. */
  maps: number[];
}

export function unloadKernel(progRef: string): KernelUnloaded {
  ensureLibbpf();
  const prog = resolvePinned("progs", progRef);
  // every link, a USDT probe's sites too (a directory of links, usdt.ts)
  const links = pinnedIn("links").flatMap((l) => {
    try {
      const infos = (isUsdtGroup(l.path) ? usdtGroupLinks(l.path) : [l.path]).map((p) =>
        withPinned(p, linkInfo),
      );
      return infos.some((i) => i.progId === prog.id) ? [Number(l.name)] : [];
    } catch {
      return []; // a link detached meanwhile
    }
  });
  if (links.length)
    throw new BpftimeError(
      "busy",
      `kernel program ${prog.id} (${prog.name}) is still linked (links ${links.join(", ")}): detach them first`,
    );
  const dir = objectDir(prog.object);
  const mapIdsOf = (path: string) => withPinned(path, (fd) => progInfo(fd).mapIds);
  const mine = new Set(mapIdsOf(prog.path));
  rmSync(prog.path);
  const rest = entries(join(dir, "progs"));
  const stillUsed = new Set(rest.flatMap((n) => mapIdsOf(join(dir, "progs", n))));
  const freed: number[] = [];
  for (const n of entries(join(dir, "maps"))) {
    const path = join(dir, "maps", n);
    const id = withPinned(path, (fd) => mapInfo(fd).id);
    if (rest.length === 0 || (mine.has(id) && !stillUsed.has(id))) {
      if (rest.length) rmSync(path);
      freed.push(id);
    }
  }
  if (rest.length === 0) rmSync(dir, { recursive: true, force: true });
  return { deleted: prog.id, region: prog.object, maps: freed };
}
