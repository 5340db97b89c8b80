// `bpftime attach --kernel PROG usdt --arg BINARY:PROVIDER:NAME`: a USDT probe
// on the kernel, as libbpf's bpf_program__attach_usdt does it:
//   - every site of the probe in the file's .note.stapsdt gets its own kernel
//     uprobe (perf_event_open on the uprobe PMU, for every process) and link;
//   - a probe behind a semaphore passes the semaphore's file offset as the
//     uprobe's ref_ctr_offset (config bits 32..63), so the kernel raises it
//     in every process mapping the file while the uprobe exists;
//   - for programs built with usdt.bpf.h, each site's argument spec (the same
//     `struct __bpf_usdt_spec` bytes the userspace provider writes,
//     native/attach/usdt_args.c) goes into the object's pinned
//     `__bpf_usdt_specs` map at a spec id of its own, with the user's cookie
//     as usdt_cookie, and the link's BPF cookie is that spec id (libbpf's
//     way on kernels with cookies; its IP → spec id map is not filled).
// One attach makes several links: they are pinned together in a directory
// links/<first link id>/, one pin per site named spec-<spec id> (site-<i>
// without usdt.bpf.h); the spec ids in use are read back from those names.
// `detach --kernel <first link id>` removes the directory, hence every site.
import { mkdirSync, rmSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { BpftimeError } from "../../errors.ts";
import {
  closeFd,
  linkInfo,
  linkPerfEvent,
  mapInfo,
  mapUpdate,
  NativeError,
  openUprobe,
  pinFd,
  resolveUprobeFile,
  type UsdtSite,
} from "../../native/index.ts";
import { entries, objectDir, withPinned } from "./pins.ts";
import { resolveBinary } from "./uprobe-target.ts";
import { refuseIfPatchedByBpftime } from "./patched-sites.ts";
import { probeSites, USDT_SPECS_MAP, usdtSpecEntries } from "../usdt-specs.ts";

export interface KernelUsdtAttached {
  /** The first site's link: the id `detach --kernel` takes. */
  linkId: number;
  /** Every site's link, in note order. */
  linkIds: number[];
  file: string;
  /** File offset of the first site. */
  offset: number;
  pin: string;
}

/** Is this entry of an object's links/ directory a USDT link group? */
export function isUsdtGroup(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The pins of the links in a USDT link group, in site order. */
export function usdtGroupLinks(path: string): string[] {
  const names = entries(path);
  const num = (n: string) => Number(n.replace(/^\D+-/, ""));
  return names.sort((a, b) => num(a) - num(b)).map((n) => join(path, n));
}

function fileOffset(file: string, vaddr: bigint, arg: string): number {
  try {
    return resolveUprobeFile(`${file}:0x${vaddr.toString(16)}`).offset;
  } catch (e) {
    if (e instanceof NativeError)
      throw new BpftimeError("invalid_argument", `usdt target ${arg}: ${e.message}`);
    throw e;
  }
}

function probeTarget(arg: string): { file: string; sites: UsdtSite[] } {
  const m = /^(.+):([^:\s]+):([^:\s]+)$/.exec(arg);
  if (!m)
    throw new BpftimeError(
      "invalid_argument",
      `usdt target "${arg}": expected BINARY:PROVIDER:NAME (e.g. /usr/bin/python3.11:python:gc__start)`,
    );
  const bin = m[1]!;
  const file = bin.includes("/") ? (isAbsolute(bin) ? bin : resolve(bin)) : resolveBinary(bin);
  const sites = probeSites(file, m[2]!, m[3]!, arg);
  if (sites.length === 0) throw new BpftimeError("not_found", `usdt target ${arg}: no sites`);
  return { file, sites };
}

/** The first of `n` free spec ids past every one this object's USDT links use. */
function freeSpecBase(object: string): number {
  let next = 0;
  const links = join(objectDir(object), "links");
  for (const g of entries(links))
    for (const n of entries(join(links, g))) {
      const id = /^spec-(\d+)$/.exec(n)?.[1];
      if (id !== undefined) next = Math.max(next, Number(id) + 1);
    }
  return next;
}

/** Writes the sites' specs into the object's pinned spec map; returns the first spec id. */
function writeSpecs(
  specsPin: string,
  object: string,
  sites: UsdtSite[],
  cookie: bigint,
  arg: string,
): number {
  const base = freeSpecBase(object);
  withPinned(specsPin, (fd) => {
    for (const [key, value] of usdtSpecEntries(sites, base, cookie, mapInfo(fd).maxEntries, arg))
      mapUpdate(fd, key, value);
  });
  return base;
}

/** Attaches pinned program `progFd` (of `object`) to every site of USDT probe `arg`. */
export function attachKernelUsdt(
  object: string,
  progFd: number,
  arg: string,
  cookie: bigint,
): KernelUsdtAttached {
  const { file, sites } = probeTarget(arg);
  const specsPin = join(objectDir(object), "maps", USDT_SPECS_MAP);
  const withSpecs = isPinned(specsPin);
  const offsets = sites.map((s) => fileOffset(file, s.pc, arg));
  for (const off of offsets) refuseIfPatchedByBpftime(arg, file, off);
  const base = withSpecs ? writeSpecs(specsPin, object, sites, cookie, arg) : 0;
  const made: Array<{ link: number; id: number; name: string }> = [];
  const perf: number[] = [];
  try {
    sites.forEach((site, i) => {
      const sema = site.semaphore ? fileOffset(file, site.semaphore, arg) : 0;
      const pfd = openUprobe(file, offsets[i]!, false, -1, sema);
      perf.push(pfd);
      const link = linkPerfEvent(progFd, pfd, withSpecs ? BigInt(base + i) : cookie);
      made.push({
        link,
        id: linkInfo(link).id,
        name: withSpecs ? `spec-${base + i}` : `site-${i}`,
      });
    });
    const dir = join(objectDir(object), "links", String(made[0]!.id));
    mkdirSync(dir, { mode: 0o700 });
    try {
      for (const m of made) pinFd(m.link, join(dir, m.name));
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return {
      linkId: made[0]!.id,
      linkIds: made.map((m) => m.id),
      file,
      offset: offsets[0]!,
      pin: dir,
    };
  } finally {
    // the pins hold the links; unpinned ones (a failure) go with their fds
    for (const m of made) closeFd(m.link);
    for (const fd of perf) closeFd(fd);
  }
}

function isPinned(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
