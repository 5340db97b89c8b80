// `bpftime start` runs a program with the agent preloaded; `bpftime inject` /
// `eject` load the agent into / stop it in a process that is already running.
// (`bpftime attach --pid PID` and `bpftime detach --pid PID` are the same as
// inject / eject: see attach.ts.)
import { type Command, flag, jsonOption, needPositional, shmOption, str } from "./command.ts";
import { eject, formatHookLine, inject, startProgram } from "../ops/index.ts";
import { printJson } from "./output.ts";

const quietOption = {
  quiet: {
    type: "boolean" as const,
    description: "do not print which hooks attached and which failed",
  },
};

export const startCommand: Command = {
  name: "start",
  summary: "run a program with the bpftime agent: its uprobes attach inside it",
  usage: "[--shm NAME] [--quiet] [--] PROGRAM [ARGS…]",
  description:
    "Run PROGRAM with the agent library preloaded (LD_PRELOAD) on the region. Every uprobe and\n" +
    "uretprobe link whose binary the program loads is attached before main() runs, and links\n" +
    "attached, detached or replaced later apply while it runs (within ~100 ms). Child processes\n" +
    "inherit the agent. Everything after PROGRAM is its own: `bpftime start ls --help` runs\n" +
    "`ls --help`. The exit code is the program's (128 + N when signal N ended it); signals sent\n" +
    "to bpftime are forwarded to it. A missing region is one warning line; the program runs\n" +
    "unhooked. Once the agent has attached, bpftime prints one line per uprobe link on stderr\n" +
    "(attached, or failed and why); --quiet (before PROGRAM) silences them.",
  options: { ...shmOption, ...quietOption },
  passThrough: true,
  examples: ["bpftime start ./my-server --port 8080", "bpftime start --shm demo -- python3 app.py"],
  async run(p) {
    needPositional(p, 0, "PROGRAM", "bpftime start");
    return await startProgram(
      p.positionals,
      str(p, "shm"),
      flag(p, "quiet") ? null : (l) => console.error(`bpftime: ${l}`),
    );
  },
};

export const injectCommand: Command = {
  name: "inject",
  summary: "load the agent into a running process (ptrace): its uprobes attach now",
  usage: "PID [--shm NAME] [--quiet] [--json]",
  description:
    "Stop the main thread of process PID for a moment (ptrace), make it dlopen() the agent\n" +
    "library and start it on the region, then let it go on. From then on the process follows\n" +
    "the region like one run with `bpftime start`. Needs permission to ptrace PID (same user and\n" +
    "kernel.yama.ptrace_scope 0, or root). Only glibc (>= 2.34) processes on x86-64.\n" +
    "Prints one line per uprobe link: attached, or failed and why (--quiet: only the summary).\n" +
    "Also spelled `bpftime attach --pid PID`.",
  options: { ...shmOption, ...jsonOption, ...quietOption },
  examples: ["bpftime inject 1234", "bpftime attach --pid 1234 --shm demo"],
  run(p) {
    const pid = needPositional(p, 0, "PID", "bpftime inject");
    const r = inject(pid, str(p, "shm"));
    if (flag(p, "json")) return printJson(r);
    console.log(
      `agent started in process ${r.pid} on region ${r.shm}: ${r.links} link(s) attached`,
    );
    if (!flag(p, "quiet")) for (const h of r.hooks) console.log(formatHookLine(r.pid, h));
  },
};

export const ejectCommand: Command = {
  name: "eject",
  summary: "make the agent in a running process remove every hook and stop",
  usage: "PID [--shm NAME] [--json]",
  description:
    "Ask the agent in process PID (started by `bpftime start` or `bpftime inject`) to detach\n" +
    "every hook and stop, and wait until it has. The process keeps running, unhooked; the\n" +
    "region's links stay (other processes keep them). `bpftime inject PID` starts it again.\n" +
    "Also spelled `bpftime detach --pid PID`. With --shm, only if that agent runs region NAME.",
  options: { ...shmOption, ...jsonOption },
  examples: ["bpftime eject 1234", "bpftime detach --pid 1234"],
  async run(p) {
    const pid = needPositional(p, 0, "PID", "bpftime eject");
    const r = await eject(pid, str(p, "shm"));
    if (flag(p, "json")) return printJson(r);
    console.log(`agent in process ${r.pid} stopped: every hook removed`);
  },
};
