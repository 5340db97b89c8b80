// Region life cycle: shared by `bpftime shm …` and the HTTP API.
import { BpftimeError } from "../errors.ts";
import { removeMeta } from "./metadata.ts";
import { chmodSync, chownSync, statSync } from "node:fs";
import {
  existingRegions,
  Region,
  regionName,
  regionPath,
  removeRegion,
  type RegionInfo,
} from "../native/index.ts";

/** "64M", "1G", "4096" → bytes; usage error otherwise. */
export function parseSize(v: string): number {
  const m = /^(\d+)([kmg]?)i?b?$/i.exec(v.trim());
  if (!m) throw new BpftimeError("usage", `bad size "${v}": use a number of bytes or 64M, 1G, …`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    m[2]!.toLowerCase() as "" | "k" | "m" | "g"
  ];
  return Number(m[1]) * mult;
}

/** Who may open a region besides its creator (`shm create --owner/--group/--mode`). */
export interface RegionAccess {
  /** User name or uid that owns the file. */
  owner?: string;
  /** Group name or gid, e.g. the nginx workers' group. */
  group?: string;
  /** Permission bits, octal text ("0660"). The default is 0600. */
  mode?: string;
}

/** uid/gid of a user or group name (or a number), through NSS like ls -l. */
function lookupId(db: "passwd" | "group", name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const r = Bun.spawnSync(["getent", db, name], { stdout: "pipe", stderr: "ignore" });
  const id = r.exitCode === 0 ? r.stdout.toString().split(":")[2] : undefined;
  if (id === undefined || !/^\d+$/.test(id))
    throw new BpftimeError(
      "not_found",
      `shm create: no ${db === "passwd" ? "user" : "group"} named "${name}" (getent ${db} ${name})`,
    );
  return Number(id);
}

function parseMode(mode: string): number {
  if (!/^0?[0-7]{3}$/.test(mode))
    throw new BpftimeError(
      "usage",
      `shm create: --mode must be octal permission bits like 0660, got "${mode}"`,
    );
  const m = parseInt(mode, 8);
  if (m & 0o111)
    throw new BpftimeError(
      "invalid_argument",
      `shm create: --mode ${mode} has execute bits; a region is data: use e.g. 0660`,
    );
  if ((m & 0o600) !== 0o600)
    throw new BpftimeError(
      "invalid_argument",
      `shm create: --mode ${mode} takes read/write away from the owner; the owner needs 06xx`,
    );
  return m;
}

/** Creates region `name` of `size` bytes (0: the default), readable by whom `access` says (`bpftime shm create`). */
export function createRegion(name?: string, size = 0, access: RegionAccess = {}): RegionInfo {
  // Everything is checked before the region exists: a bad option creates nothing.
  const uid = access.owner !== undefined ? lookupId("passwd", access.owner) : -1;
  const gid = access.group !== undefined ? lookupId("group", access.group) : -1;
  const mode = access.mode !== undefined ? parseMode(access.mode) : undefined;
  const r = Region.create(name, size);
  try {
    const path = regionPath(name);
    try {
      if (uid >= 0 || gid >= 0) chownSync(path, uid, gid);
      if (mode !== undefined) chmodSync(path, mode);
    } catch (e) {
      removeRegion(regionName(name));
      const err = e as NodeJS.ErrnoException;
      throw new BpftimeError(
        err.code === "EPERM" ? "permission" : "io",
        `shm create: cannot give ${path} to ${access.owner ?? ""}${access.group ? `:${access.group}` : ""}: ${err.message} (changing the owner needs root)`,
      );
    }
    return r.info();
  } finally {
    r.close();
  }
}

/** The regions that exist (`bpftime shm list`): name, path and size of each. */
export function listRegions(): Array<{ name: string; path: string; size: number }> {
  return existingRegions().map((name) => {
    const path = regionPath(name);
    return { name, path, size: statSync(path).size };
  });
}

/** Removes region `name` and its sidecar metadata; returns its name (`bpftime shm remove`). */
export function deleteRegion(name?: string): string {
  const n = regionName(name);
  removeRegion(n);
  removeMeta(n);
  return n;
}

/** Runs fn with the region open, closing it afterwards. */
export function withRegion<T>(name: string | undefined, fn: (r: Region) => T): T {
  const r = Region.open(name);
  try {
    return fn(r);
  } finally {
    r.close();
  }
}
