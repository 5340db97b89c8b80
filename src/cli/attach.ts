import {
  type Command,
  type Parsed,
  flag,
  jsonOption,
  needPositional,
  shmOption,
  str,
} from "./command.ts";
import { attach, detach, replace } from "../ops/index.ts";
import { withRegion } from "../ops/index.ts";
import { targetTypes } from "../attach/index.ts";
import { BpftimeError } from "../errors.ts";
import { printJson } from "./output.ts";
import { ejectCommand, injectCommand } from "./start.ts";
import { kernelAttach, kernelDetach, kernelOption, kernelReplace } from "./kernel.ts";

const pidOption = (what: string) => ({
  pid: { type: "string" as const, arg: "PID", description: what },
});

/** `attach --pid PID` / `detach --pid PID`: the inject / eject commands. */
function routePid(p: Parsed, cmd: Command, path: string) {
  const pid = str(p, "pid")!;
  if (p.positionals.length)
    throw new BpftimeError(
      "usage",
      `${path} --pid takes no other arguments; see \`${path} --help\``,
    );
  return cmd.run!({ ...p, positionals: [pid] });
}

export const attachCommand: Command = {
  name: "attach",
  summary: "link a loaded program to an attach target (nginx URL filter, uprobe, …)",
  usage:
    "PROG TYPE [--prefix P | --arg ARG] [--cookie N] [--shm NAME] [--json]\n" +
    "       bpftime attach --pid PID [--shm NAME]   (= bpftime inject PID)\n" +
    "       bpftime attach --kernel PROG uprobe|uretprobe [--arg ARG] [--cookie N] [--json]",
  description:
    "Create an attach target of TYPE and link program PROG (id or name) to it. Every\n" +
    "process that instantiated the region picks the link up by itself.\n" +
    "A uprobe/uretprobe target is checked now: BINARY must exist (a relative path is made\n" +
    "absolute against the current directory, since the hooked process has its own; a bare\n" +
    "name like libc.so.6 must be a library or a program on $PATH), SYMBOL must be a function\n" +
    "in it and +OFF inside that function. Without --arg the target comes from the program's\n" +
    'SEC("uprobe/BINARY:SYMBOL") or SEC("uretprobe/BINARY:SYMBOL").\n' +
    "A syscall target (sys_enter, sys_exit, or syscall: whichever the SEC() says) takes\n" +
    'SEC("tracepoint/syscalls/sys_enter_NAME") (the syscall comes from the SEC()),\n' +
    'SEC("raw_tracepoint/sys_enter") and SEC("ksyscall/NAME") programs (--arg SYSCALL or all,\n' +
    "default: the SEC()'s syscall, else all); they run in processes with the agent.\n" +
    "in it and +OFF inside that function, at an instruction. A usdt target\n" +
    "BINARY:PROVIDER:NAME must be a probe in BINARY's .note.stapsdt (every site is hooked;\n" +
    "with libbpf's usdt.bpf.h, --cookie is what bpf_usdt_cookie() returns). Without --arg\n" +
    'the target comes from the program\'s SEC("uprobe/BINARY:SYMBOL"),\n' +
    'SEC("uretprobe/BINARY:SYMBOL") or SEC("usdt/BINARY:PROVIDER:NAME").\n' +
    "Target types:\n" +
    Object.entries(targetTypes)
      .map(([n, t]) => `  ${n.padEnd(10)} ${t.describe}`)
      .concat([`  ${"syscall".padEnd(10)} sys_enter or sys_exit, as the program's SEC() says`])
      .join("\n"),
  options: {
    prefix: {
      type: "string",
      arg: "P",
      description: "nginx: the accepted URL prefix (the target argument)",
    },
    arg: { type: "string", arg: "ARG", description: "the target argument, for any type" },
    cookie: {
      type: "string",
      arg: "N",
      description: "value bpf_get_attach_cookie() returns (default 0)",
    },
    ...pidOption("load the agent into running process PID instead (see `bpftime inject`)"),
    ...shmOption,
    ...jsonOption,
    ...kernelOption,
  },
  examples: [
    "bpftime attach url_filter nginx --prefix /aaaa",
    "bpftime attach 3 uprobe --arg /usr/bin/ls:main",
    'bpftime attach count_malloc uprobe   (target from SEC("uprobe/libc.so.6:malloc"))',
    'bpftime attach handle_openat syscall   (SEC("tracepoint/syscalls/sys_enter_openat"))',
    'bpftime attach count_syscalls sys_enter --arg all   (SEC("raw_tracepoint/sys_enter"))',
    "bpftime attach on_entry usdt --arg /usr/bin/python3.11:python:function__entry",
    "bpftime attach --pid 1234",
    "bpftime attach --kernel count_malloc uprobe --arg /usr/lib/x86_64-linux-gnu/libc.so.6:malloc",
  ],
  run(p) {
    if (flag(p, "kernel")) return kernelAttach(p);
    const path = "bpftime attach";
    if (str(p, "pid") !== undefined) return routePid(p, injectCommand, path);
    const prog = needPositional(p, 0, "PROG (program id or name)", path);
    const type = needPositional(p, 1, `TYPE (${Object.keys(targetTypes).join(", ")})`, path);
    const prefix = str(p, "prefix");
    const argOpt = str(p, "arg");
    if (prefix !== undefined && argOpt !== undefined)
      throw new BpftimeError("usage", "attach: give --prefix or --arg, not both");
    const arg = prefix ?? argOpt;
    if (arg === undefined && type === "nginx")
      throw new BpftimeError(
        "usage",
        `attach: missing the target argument: --prefix or --arg; see \`${path} --help\``,
      );
    const cookieStr = str(p, "cookie") ?? "0";
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(cookieStr))
      throw new BpftimeError("usage", `attach: --cookie must be an integer, got "${cookieStr}"`);
    const r = withRegion(str(p, "shm"), (reg) => attach(reg, prog, type, arg, BigInt(cookieStr)));
    if (flag(p, "json")) return printJson(r);
    console.log(
      `link ${r.linkId}: program ${r.progId} attached to ${r.targetType} target ${r.targetId} (${JSON.stringify(r.arg)})`,
    );
  },
};

export const detachCommand: Command = {
  name: "detach",
  summary: "remove a link (its target goes too when nothing else uses it)",
  usage:
    "LINK [--shm NAME] [--json]\n       bpftime detach --pid PID   (= bpftime eject PID)\n" +
    "       bpftime detach --kernel LINK [--json]   (kernel link id)",
  options: {
    ...pidOption("stop the agent in running process PID instead (see `bpftime eject`)"),
    ...shmOption,
    ...jsonOption,
    ...kernelOption,
  },
  examples: ["bpftime detach 1", "bpftime detach --pid 1234", "bpftime detach --kernel 42"],
  run(p) {
    if (flag(p, "kernel")) return kernelDetach(p);
    if (str(p, "pid") !== undefined) return routePid(p, ejectCommand, "bpftime detach");
    const link = needPositional(p, 0, "LINK (link id)", "bpftime detach");
    const r = withRegion(str(p, "shm"), (reg) => detach(reg, link));
    if (flag(p, "json")) return printJson(r);
    console.log(
      `detached link ${r.linkId}${r.targetRemoved ? ` and removed target ${r.targetId}` : ""}`,
    );
  },
};

export const replaceCommand: Command = {
  name: "replace",
  summary: "point a link at another program, atomically, without detaching",
  usage:
    "LINK PROG [--shm NAME] [--json]\n" +
    "       bpftime replace --kernel LINK PROG [--json]   (kernel link id)",
  description:
    "Make link LINK run program PROG (id or name) instead of its own, in every process at once.\n" +
    "--kernel: PROG is attached at the link's probe with its cookie, then the old link goes\n" +
    "(the kernel cannot swap a uprobe link's program): the link gets a new kernel id.",
  options: { ...shmOption, ...jsonOption, ...kernelOption },
  examples: ["bpftime replace 1 url_filter_v2", "bpftime replace --kernel 42 count_v2"],
  run(p) {
    if (flag(p, "kernel")) return kernelReplace(p);
    const link = needPositional(p, 0, "LINK (link id)", "bpftime replace");
    const prog = needPositional(p, 1, "PROG (program id or name)", "bpftime replace");
    const r = withRegion(str(p, "shm"), (reg) => replace(reg, link, prog));
    if (flag(p, "json")) return printJson(r);
    console.log(`link ${r.linkId} now runs program ${r.newProgId} (was ${r.oldProgId})`);
  },
};
