// `bpftime attach PROG sys_enter|sys_exit|syscall [--arg SYSCALL|all]`: the
// target is worked out here from the program's SEC() (its attach hint) and
// checked before the link is written. The stored argument is
// "FORMAT:SYSCALL", FORMAT being the context the agent builds for the
// program (native/attach/syscall_tracepoint.h):
//   tracepoint/syscalls/sys_enter_NAME, tp/…      → tp   (trace_event_raw_sys_enter/exit)
//   raw_tracepoint/sys_enter|sys_exit, raw_tp/…   → raw  (bpf_raw_tracepoint_args)
//   ksyscall/NAME, kretsyscall/NAME               → ksys (pt_regs, syscall-wrapper style)
import { BpftimeError } from "../errors.ts";
import { progTypeId } from "../enums.ts";
import { SYSCALL_TARGET_ALIAS, syscallNr } from "../attach/index.ts";

export interface SyscallTarget {
  /** "sys_enter" or "sys_exit" */
  type: "sys_enter" | "sys_exit";
  /** "tp:openat", "raw:all", "ksys:openat" */
  arg: string;
}

/** What the program's hint says: direction, context format, syscall (if named). */
function fromHint(
  name: string,
  type: number,
  hint: string,
): { dir?: "sys_enter" | "sys_exit"; format: string; syscall?: string } {
  if (type === progTypeId("tracepoint")) {
    const m = /^tracepoint (\S+):(\S+)$/.exec(hint);
    if (!m) return { format: "tp" };
    const [, category, event] = m;
    const ev = /^(sys_enter|sys_exit)_(\w+)$/.exec(event!);
    if (category !== "syscalls" || !ev)
      throw new BpftimeError(
        "unsupported",
        `program ${name} is for the kernel tracepoint ${category}:${event}; bpftime has only the syscall tracepoints in userspace (syscalls:sys_enter_NAME, syscalls:sys_exit_NAME); "bpftime load --kernel" loads it into the kernel`,
      );
    return { dir: ev[1] as "sys_enter" | "sys_exit", format: "tp", syscall: ev[2] };
  }
  if (type === progTypeId("raw_tracepoint")) {
    const m = /^raw_tracepoint (\S+)$/.exec(hint);
    if (!m) return { format: "raw" };
    if (m[1] !== "sys_enter" && m[1] !== "sys_exit")
      throw new BpftimeError(
        "unsupported",
        `program ${name} is for the kernel raw tracepoint ${m[1]}; bpftime has only sys_enter and sys_exit in userspace; "bpftime load --kernel" loads it into the kernel`,
      );
    return { dir: m[1], format: "raw" };
  }
  const m = /^(k(?:ret)?syscall)(?: (\S+))?$/.exec(hint);
  if (type === progTypeId("kprobe") && m)
    return {
      dir: m[1] === "ksyscall" ? "sys_enter" : "sys_exit",
      format: "ksys",
      ...(m[2] ? { syscall: m[2] } : {}),
    };
  throw new BpftimeError(
    "invalid_argument",
    `program ${name} cannot attach to a syscall target: it takes SEC("tracepoint/syscalls/sys_enter_NAME"), SEC("raw_tracepoint/sys_enter"), SEC("ksyscall/NAME") and their exit forms`,
  );
}

/**
 * The syscall target for program `name` (region type `type`, attach hint
 * `hint`) on target type `requested` (sys_enter, sys_exit or syscall) with
 * the user's argument, if any.
 */
export function syscallTarget(
  name: string,
  type: number,
  hint: string,
  requested: string,
  given: string | undefined,
): SyscallTarget {
  const h = fromHint(name, type, hint);
  let dir: "sys_enter" | "sys_exit";
  if (requested === SYSCALL_TARGET_ALIAS) {
    if (!h.dir)
      throw new BpftimeError(
        "usage",
        `attach: program ${name}'s SEC() does not say enter or exit: use target type sys_enter or sys_exit`,
      );
    dir = h.dir;
  } else {
    dir = requested as "sys_enter" | "sys_exit";
    if (h.dir && h.dir !== dir)
      throw new BpftimeError(
        "invalid_argument",
        `program ${name} is a ${h.dir} program (its SEC() says so) and cannot attach to a ${dir} target`,
      );
  }
  // A tracepoint program reads the argument layout of its own syscall: its
  // SEC() fixes which one. raw_tracepoint and ksyscall take any, "all" by default.
  if (given !== undefined && h.syscall !== undefined && h.format === "tp" && given !== h.syscall)
    throw new BpftimeError(
      "invalid_argument",
      `program ${name} is the tracepoint of ${h.syscall} and cannot attach to ${given}: its context has ${h.syscall}'s arguments`,
    );
  const syscall = given ?? h.syscall ?? "all";
  if (syscall !== "all" && syscallNr(syscall) === undefined)
    throw new BpftimeError(
      "not_found",
      `syscall target "${syscall}": no such syscall on x86-64 (a name like openat, or all)`,
    );
  return { type: dir, arg: `${h.format}:${syscall}` };
}
