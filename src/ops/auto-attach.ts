// `bpftime load FILE.o --attach`: after the load, link every program whose
// SEC() names its whole target, as libbpf's skeleton auto-attach does:
//   uprobe/BINARY:SYMBOL, uretprobe/…                   → uprobe, uretprobe
//   usdt/BINARY:PROVIDER:NAME                            → usdt
//   tracepoint/syscalls/sys_enter_NAME, sys_exit_NAME,
//   raw_tracepoint/sys_enter|sys_exit, tp_btf/…,
//   ksyscall/NAME, kretsyscall/NAME                      → sys_enter, sys_exit
// Programs whose SEC() leaves the target open (SEC("uprobe"), nginx/…,
// xdp, …) or that only run in the kernel are skipped with the reason; a
// target that is named but fails is an error, as in libbpf.
import type { Region } from "../native/index.ts";
import { cannotAttachReason } from "../attach/index.ts";
import { attach, type AttachResult } from "./attach.ts";

export interface AutoAttached {
  program: string;
  link?: AttachResult;
  /** Why it was not attached. */
  skipped?: string;
}

/** The target type a program's attach hint names completely, or why none. */
function autoTargetType(hint: string): string | { why: string } {
  if (/^u(?:ret)?probe \S+:\S+$/.test(hint))
    return hint.startsWith("uret") ? "uretprobe" : "uprobe";
  if (/^usdt \S+:\S+:\S+$/.test(hint)) return "usdt";
  if (/^tracepoint syscalls:sys_(?:enter|exit)_\w+$/.test(hint)) return "syscall";
  if (/^raw_tracepoint sys_(?:enter|exit)$/.test(hint)) return "syscall";
  if (/^k(?:ret)?syscall \w+$/.test(hint)) return "syscall";
  if (/^(?:raw_)?tracepoint \S/.test(hint))
    return { why: `${hint}: bpftime has only the syscall tracepoints in userspace` };
  return { why: "its SEC() names no complete target: attach it with `bpftime attach`" };
}

/** Attaches the programs `ids` of region r whose SEC() names their target. */
export function autoAttach(r: Region, ids: number[], cwd = process.cwd()): AutoAttached[] {
  return ids.map((id) => {
    const p = r.program(id);
    const never = cannotAttachReason(p.name, p.type, p.attachHint);
    if (never) return { program: p.name, skipped: never };
    const t = autoTargetType(p.attachHint);
    if (typeof t !== "string") return { program: p.name, skipped: t.why };
    return { program: p.name, link: attach(r, String(id), t, undefined, 0n, cwd) };
  });
}
