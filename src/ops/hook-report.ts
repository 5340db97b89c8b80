// What `bpftime start` and `inject` print once the agent in a process has
// instantiated the region: one line per uprobe/uretprobe/syscall link, attached or
// failed with why (the process's instance record, written by its attach
// manager; see native/attach/attach_manager.c).
import { existsSync } from "node:fs";
import { Region, regionPath, type InstanceInfo } from "../native/index.ts";
import { formatTargetArg, targetTypeName } from "../attach/index.ts";

export interface HookLine {
  linkId: number;
  targetType: string;
  arg: string;
  attached: boolean;
  /** Attached but waiting for its binary to be loaded (error says which). */
  waiting: boolean;
  /** Why it failed or waits (absent when hooked). */
  error?: string;
}

/** The instance record of pid once its agent has instantiated (undefined: not yet). */
function instantiated(r: Region, pid: number): InstanceInfo | undefined {
  for (const id of r.instanceIds()) {
    let i: InstanceInfo;
    try {
      i = r.instance(id);
    } catch {
      continue; // removed meanwhile
    }
    // generation_seen is 0 until the first instantiate has reported.
    if (i.pid === pid && i.generationSeen > 0n) return i;
  }
  return undefined;
}

/** The uprobe-type links as process pid sees them (undefined until it instantiated). */
export function hookLines(r: Region, pid: number): HookLine[] | undefined {
  const inst = instantiated(r, pid);
  if (!inst) return undefined;
  const out: HookLine[] = [];
  for (const id of r.linkIds()) {
    let link, target;
    try {
      link = r.link(id);
      target = r.target(link.targetId);
    } catch {
      continue;
    }
    const type = targetTypeName(target.type);
    if (!["uprobe", "uretprobe", "sys_enter", "sys_exit"].includes(type)) continue;
    const err = inst.linkErrors.find((e) => e.linkId === id);
    const listed = inst.linkIds.includes(id);
    if (!listed && !err) continue; // linked after this process instantiated
    // Listed with an error: attached, then waiting (errno 0) or failed later.
    const attached = listed && (!err || err.errno === 0);
    out.push({
      linkId: id,
      targetType: type,
      arg: formatTargetArg(target.arg),
      attached,
      waiting: attached && !!err,
      ...(err ? { error: err.message } : {}),
    });
  }
  return out;
}

/** One hook line as `bpftime start` and `inject` print it. */
export function formatHookLine(pid: number, h: HookLine): string {
  const what = `link ${h.linkId} (${h.targetType} ${h.arg})`;
  if (h.waiting) return `${what}: waiting in process ${pid}: ${h.error}`;
  return h.attached
    ? `${what}: attached in process ${pid}`
    : `${what}: failed in process ${pid}: ${h.error}`;
}

/**
 * Waits (polling the region) until process pid has instantiated, then
 * returns its hook lines; undefined if it exits or the time runs out first.
 */
export async function waitHookLines(
  shm: string,
  pid: number,
  exited: () => boolean,
  timeoutMs = 5000,
): Promise<HookLine[] | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited()) {
    if (existsSync(regionPath(shm))) {
      let r: Region | undefined;
      try {
        r = Region.open(shm);
        const lines = hookLines(r, pid);
        if (lines) return lines;
      } catch {
        /* region being recreated: try again */
      } finally {
        r?.close();
      }
    }
    await Bun.sleep(10);
  }
  return undefined;
}
