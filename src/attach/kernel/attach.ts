// Attaching a pinned program to a kernel uprobe or uretprobe (perf_event_open
// on the uprobe PMU for every process, BPF_LINK_CREATE, the link pinned under
// <object>/links/<id>) and detaching it again.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BpftimeError } from "../../errors.ts";
import {
  closeFd,
  ensureLibbpf,
  linkFdById,
  linkIdExists,
  linkInfo,
  linkPerfEvent,
  openUprobe,
  pinFd,
  progInfo,
} from "../../native/index.ts";
import { kernelProgTypeName, readMeta } from "./metadata.ts";
import { objectDir, pinnedIn, pinRoot, resolvePinned, withPinned } from "./pins.ts";
import { resolveUprobeTarget } from "./uprobe-target.ts";
import { refuseIfPatchedByBpftime } from "./patched-sites.ts";
import { attachKernelUsdt, isUsdtGroup, usdtGroupLinks } from "./usdt.ts";

export interface KernelAttached {
  linkId: number;
  progId: number;
  program: string;
  /** The object directory the link is pinned in. */
  region: string;
  targetType: "uprobe" | "uretprobe" | "usdt";
  /** usdt: the link of every site (linkId is the first) */
  linkIds?: number[];
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
  if (type !== "uprobe" && type !== "uretprobe" && type !== "usdt")
    throw new BpftimeError(
      type === "nginx" ? "unsupported" : "usage",
      type === "nginx"
        ? "the kernel has no nginx URL-filter hook: attach nginx programs without --kernel"
        : `unknown kernel attach target type "${type}": choose uprobe, uretprobe or usdt`,
    );
  ensureLibbpf();
  const prog = resolvePinned("progs", progRef);
  const meta = readMeta(prog.object);
  const hint = meta?.programs[prog.name]?.attachHint ?? "";
  const hinted = /^(?:u(?:ret)?probe|usdt) (\S+:\S+)$/.exec(hint)?.[1];
  const arg = argOrDefault ?? hinted;
  if (arg === undefined)
    throw new BpftimeError(
      "usage",
      `attach: program ${prog.name} names no ${type} target in its SEC(): give --arg ${type === "usdt" ? "BINARY:PROVIDER:NAME" : "BINARY:SYMBOL"}`,
    );
  if (type === "usdt") return attachUsdt(prog, arg, cookie);
  const target = resolveUprobeTarget(arg);
  refuseIfPatchedByBpftime(arg, target.file, target.offset);
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

/** A USDT probe: one link per site, pinned together (usdt.ts). */
function attachUsdt(
  prog: { object: string; name: string; path: string },
  arg: string,
  cookie: bigint,
): KernelAttached {
  return withPinned(prog.path, (progFd) => {
    const info = progInfo(progFd);
    if (info.type !== 2)
      throw new BpftimeError(
        "invalid_argument",
        `program ${prog.name} is a ${kernelProgTypeName(info.type)} program and cannot attach to a usdt target`,
      );
    const r = attachKernelUsdt(prog.object, progFd, arg, cookie);
    return {
      linkId: r.linkId,
      linkIds: r.linkIds,
      progId: info.id,
      program: prog.name,
      region: prog.object,
      targetType: "usdt",
      arg,
      file: r.file,
      offset: r.offset,
      cookie,
      pin: r.pin,
    };
  });
}

/**
 * Waits until the kernel has freed link `id`; false on timeout (another
 * process still holds it). Dropping the last reference of a pinned link is
 * asynchronous (an RCU callback, then a work item), so unpinning returns
 * before the uprobe stops: first the references go (no new fd by id), then
 * the link leaves the id table, right before its program is detached.
 */
export function waitLinkGone(id: number, timeoutMs = 5000): boolean {
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
  // a USDT attach is a directory of links, one per site (usdt.ts)
  const pins = isUsdtGroup(pinned.path) ? usdtGroupLinks(pinned.path) : [pinned.path];
  const infos = pins.map((p) => withPinned(p, linkInfo));
  rmSync(pinned.path, { recursive: true });
  const freed = infos.map((l) => waitLinkGone(l.id)).every(Boolean);
  return { linkId: id, progId: infos[0]?.progId ?? 0, region: pinned.object, freed };
}
