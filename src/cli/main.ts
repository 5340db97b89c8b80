#!/usr/bin/env bun
// Entry point of the `bpftime` binary: dispatch to a command, print expected
// failures as one line `bpftime: <message>` with a documented exit code.
import { BpftimeError, exitCodes } from "../errors.ts";
import { type Command, parseCommandArgs } from "./command.ts";
import { commandHelp } from "./help.ts";
import { version } from "../version.ts";
import { label } from "./command.ts";
import { levels, logLevel } from "../log.ts";
import { didYouMean } from "../suggest.ts";
import { rootCommand } from "./root.ts";

// Commands load lazily inside main()'s error handling: a native library that
// fails to load is then one clear line, not a stack trace at import time.

async function dispatch(argv: string[]): Promise<number> {
  const { commands } = await import("./commands.ts");
  // The C data plane logs through the same logger as TypeScript (BPFTIME_LOG).
  const { installNativeLogger } = await import("../native/index.ts");
  installNativeLogger(levels.indexOf(logLevel()));
  const root: Command = { ...rootCommand, subcommands: commands };
  let cmd = root;
  let path = "bpftime";
  let i = 0;
  // Walk down the command tree: `bpftime map dump NAME` → map → dump.
  while (cmd.subcommands && i < argv.length && !argv[i]!.startsWith("-")) {
    const word = argv[i]!;
    const next = cmd.subcommands.find((c) => c.name === word || c.aliases?.includes(word));
    if (!next) {
      const names = cmd.subcommands.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
      throw new BpftimeError(
        "usage",
        `${label(path)}unknown command "${word}"${didYouMean(word, names)}; see \`${path} --help\``,
      );
    }
    cmd = next;
    path += ` ${next.name}`;
    i++;
  }
  const rest = argv.slice(i);
  // --help counts only before `--` (and, for pass-through commands, before the
  // program they run): `bpftime start -- ls --help` runs `ls --help`.
  const firstPositional = rest.findIndex((a) => !a.startsWith("-"));
  let end = rest.indexOf("--");
  if (end < 0) end = rest.length;
  if (cmd.passThrough && firstPositional >= 0) end = Math.min(end, firstPositional);
  if (rest.slice(0, end).some((a) => a === "--help" || a === "-h")) {
    process.stdout.write(commandHelp(cmd, path));
    return 0;
  }
  if (cmd === root) {
    if (rest.includes("--version") || rest.includes("-V")) {
      process.stdout.write(`bpftime ${version}\n`);
      return 0;
    }
    if (rest.length === 0) {
      // No command is a usage error (as git and bpftool do): usage on stderr, exit 2.
      process.stderr.write(commandHelp(root, "bpftime"));
      return exitCodes.usage;
    }
    parseCommandArgs(root, path, rest);
  }
  if (!cmd.run) {
    if (rest.length) parseCommandArgs(cmd, path, rest);
    throw new BpftimeError("usage", `${label(path)}missing command; see \`${path} --help\``);
  }
  const parsed = parseCommandArgs(cmd, path, rest);
  const code = await cmd.run(parsed);
  return typeof code === "number" ? code : 0;
}

/** Whether --json was asked for (before any `--`: after it, words belong to the program run). */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (e) {
    const known = e instanceof BpftimeError;
    const code = known ? e.code : "internal";
    const message = known ? e.message : `internal error: ${(e as Error)?.stack ?? e}`;
    // With --json, the error too is JSON, shaped as the HTTP API's error body.
    if (wantsJson(argv)) process.stderr.write(`${JSON.stringify({ error: code, message })}\n`);
    else process.stderr.write(`bpftime: ${message}\n`);
    return exitCodes[code];
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  process.exit(code);
}
