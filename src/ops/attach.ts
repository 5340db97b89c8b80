// Targets and links: `bpftime attach`, `detach`, `replace`, and the HTTP API.
import { BpftimeError } from "../errors.ts";
import type { Region } from "../native/index.ts";
import {
  MAX_TARGET_ARG,
  SYSCALL_TARGET_ALIAS,
  TARGET_NGINX_URL_FILTER,
  TARGET_SYSCALL_ENTER,
  TARGET_SYSCALL_EXIT,
  cannotAttachReason,
  TARGET_USDT,
  targetTypeByName,
  targetTypeName,
} from "../attach/index.ts";
import { programTypeName } from "../attach/index.ts";
import { syscallTarget } from "./syscall-target.ts";
import { removeMeta } from "./metadata.ts";
import { collectMaps } from "./maps.ts";
import { resolveLink, resolveProgram } from "./resolve.ts";
import { checkUprobeTarget } from "./uprobe-target.ts";
import { prepareUsdtTarget, usdtTargetArg } from "./usdt-target.ts";

export interface AttachResult {
  linkId: number;
  targetId: number;
  progId: number;
  targetType: string;
  arg: string;
}

/** An attach target as `attach` stores it: type name and id, argument as stored (paths made absolute, "tp:openat", …). */
export interface TargetSpec {
  type: string;
  typeId: number;
  arg: string;
}

/**
 * The target `attach` makes for program `prog` on target type `type` ("nginx",
 * "uprobe", "syscall", …) with the user's argument (default: the program's
 * SEC() hint), checked, without writing anything: `attach` creates it, and
 * `apply` compares it with the links a region has.
 */
export function targetFor(
  prog: { id: number; name: string; type: number; attachHint: string },
  type: string,
  argOrDefault: string | undefined,
  cwd = process.cwd(),
): TargetSpec {
  const never = cannotAttachReason(prog.name, prog.type, prog.attachHint);
  if (never) throw new BpftimeError("unsupported", never);
  let arg: string;
  if (type === SYSCALL_TARGET_ALIAS || type === "sys_enter" || type === "sys_exit") {
    const st = syscallTarget(prog.name, prog.type, prog.attachHint, type, argOrDefault);
    type = st.type;
    arg = st.arg;
  }
  const t = targetTypeByName(type);
  if (!t.programTypes.includes(prog.type)) {
    throw new BpftimeError(
      "invalid_argument",
      `program ${prog.id} (${prog.name}) is a ${programTypeName(prog.type, prog.attachHint)} program and cannot attach to a ${type} target`,
    );
  }
  if (t.id === TARGET_NGINX_URL_FILTER) {
    if (argOrDefault === undefined)
      throw new BpftimeError("usage", `attach: give the nginx target's --prefix`);
    arg = argOrDefault;
  } else if (t.id !== TARGET_SYSCALL_ENTER && t.id !== TARGET_SYSCALL_EXIT) {
    // A uprobe's target defaults to its SEC("uprobe/BINARY:SYMBOL") (hint "uprobe BINARY:SYMBOL"),
    // a USDT program's to its SEC("usdt/BINARY:PROVIDER:NAME").
    const hinted = /^(?:u(?:ret)?probe|usdt) (\S+:\S+)$/.exec(prog.attachHint)?.[1];
    const given = argOrDefault ?? hinted;
    if (given === undefined)
      throw new BpftimeError(
        "usage",
        `attach: program ${prog.name} names no ${type} target in its SEC(): give --arg ${t.id === TARGET_USDT ? "BINARY:PROVIDER:NAME" : "BINARY:SYMBOL"}`,
      );
    arg = t.id === TARGET_USDT ? usdtTargetArg(given, cwd) : checkUprobeTarget(type, given, cwd);
  }
  const bytes = new TextEncoder().encode(arg!);
  if (bytes.length > MAX_TARGET_ARG) {
    throw new BpftimeError(
      "invalid_argument",
      `the ${type} target argument is ${bytes.length} bytes; the limit is ${MAX_TARGET_ARG}`,
    );
  }
  return { type, typeId: t.id, arg: arg! };
}

/** Creates an attach target of `type` ("nginx", "uprobe", "sys_enter", …) with its argument (default: the program's SEC() hint) and links program `progRef` to it (`bpftime attach`, POST /v1/links). */
export function attach(
  r: Region,
  progRef: string,
  type: string,
  argOrDefault: string | undefined,
  cookie = 0n,
  cwd = process.cwd(),
): AttachResult {
  const progId = resolveProgram(r, progRef);
  const t = targetFor({ ...r.program(progId), id: progId }, type, argOrDefault, cwd);
  let arg = t.arg;
  if (t.typeId === TARGET_USDT)
    ({ arg, linkCookie: cookie } = prepareUsdtTarget(r, progId, arg, cookie, cwd));
  const targetId = r.createTarget(t.typeId, new TextEncoder().encode(arg));
  try {
    const linkId = r.createLink(progId, targetId, cookie);
    return { linkId, targetId, progId, targetType: t.type, arg };
  } catch (e) {
    r.deleteTarget(targetId);
    throw e;
  }
}

/** Removes a link, and its target when no other link uses it. */
export function detach(
  r: Region,
  linkRef: string,
): { linkId: number; targetId: number; targetRemoved: boolean } {
  const linkId = resolveLink(r, linkRef);
  const { targetId } = r.link(linkId);
  r.deleteLink(linkId);
  const stillUsed = r.linkIds().some((id) => r.link(id).targetId === targetId);
  if (!stillUsed) r.deleteTarget(targetId);
  return { linkId, targetId, targetRemoved: !stillUsed };
}

/** Points link `linkRef` at program `progRef`, atomically for the processes running it (`bpftime replace`, PATCH /v1/links/:id). */
export function replace(
  r: Region,
  linkRef: string,
  progRef: string,
): { linkId: number; oldProgId: number; newProgId: number } {
  const linkId = resolveLink(r, linkRef);
  const newProgId = resolveProgram(r, progRef);
  const link = r.link(linkId);
  const target = r.target(link.targetId);
  const t = targetTypeByName(targetTypeName(target.type));
  const prog = r.program(newProgId);
  if (!t.programTypes.includes(prog.type)) {
    throw new BpftimeError(
      "invalid_argument",
      `program ${newProgId} (${prog.name}) cannot run on link ${linkId}'s ${t.name} target`,
    );
  }
  if (t.id === TARGET_SYSCALL_ENTER || t.id === TARGET_SYSCALL_EXIT) {
    // The new program must take this target as `attach` would make it: the
    // same direction, syscall and context format (tp, raw, ksys).
    const [format, syscall] = new TextDecoder().decode(target.arg).split(":");
    const st = syscallTarget(prog.name, prog.type, prog.attachHint, t.name, syscall);
    if (st.arg !== `${format}:${syscall}`)
      throw new BpftimeError(
        "invalid_argument",
        `program ${newProgId} (${prog.name}) gets a ${st.arg.split(":")[0]} context and link ${linkId} gives ${format}: it cannot run there`,
      );
  }
  r.replaceLinkProgram(linkId, newProgId, link.progId);
  return { linkId, oldProgId: link.progId, newProgId };
}

/** Deletes an unlinked program (and forgets its metadata). */
export function deleteProgram(r: Region, progRef: string): number {
  const id = resolveProgram(r, progRef);
  const links = r.linkIds().filter((l) => r.link(l).progId === id);
  if (links.length)
    throw new BpftimeError(
      "busy",
      `program ${id} is still linked (links ${links.join(", ")}): detach them first`,
    );
  r.deleteProgram(id); // frees the maps only this program held
  removeMeta(r.name, "prog", id);
  collectMaps(r);
  return id;
}
