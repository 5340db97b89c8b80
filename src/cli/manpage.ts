// `bpftime man`: the bpftime(1) manual page in roff, generated from the one
// command table (usage, descriptions, options, examples of every command), so
// it says what the CLI accepts. `bpftime man | man -l -` shows it.
import { exitCodes } from "../errors.ts";
import { version } from "../version.ts";
import type { Command } from "./command.ts";

/** Text as roff: backslashes and hyphens escaped, no line starting with a control character. */
function roff(text: string): string {
  return (
    text
      .replace(/\\/g, "\\e")
      .replace(/-/g, "\\-")
      // Non-ASCII as groff glyph names, so the page reads the same in any locale.
      .replace(
        /[^\x00-\x7f]/gu,
        (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`,
      )
      .split("\n")
      .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
      .join("\n")
  );
}

function section(cmd: Command, path: string, out: string[]): void {
  if (cmd.run || !cmd.subcommands) {
    out.push(`.SS "${roff(path)}"`);
    out.push(
      `.B ${roff(path)}`,
      roff(cmd.usage ?? ""),
      ".PP",
      roff(cmd.description ?? cmd.summary),
    );
    if (cmd.aliases?.length) out.push(".PP", `Also: ${roff(cmd.aliases.join(", "))}.`);
    for (const [name, o] of Object.entries(cmd.options ?? {})) {
      const flag = `\\fB\\-\\-${roff(name)}\\fR${o.arg ? ` \\fI${roff(o.arg)}\\fR` : ""}`;
      out.push(".TP", o.short ? `\\fB\\-${o.short}\\fR, ${flag}` : flag, roff(o.description));
    }
    if (cmd.examples?.length) out.push(".PP", "Examples:", ".EX", ...cmd.examples.map(roff), ".EE");
  }
  for (const c of cmd.subcommands ?? []) section(c, `${path} ${c.name}`, out);
}

/** The manual page for the command table `commands`. */
export function manPage(root: Command, commands: readonly Command[], date = new Date()): string {
  const out = [
    `.TH BPFTIME 1 "${date.toISOString().slice(0, 10)}" "bpftime ${version}" "User Commands"`,
    ".SH NAME",
    "bpftime \\- userspace eBPF runtime and extension framework",
    ".SH SYNOPSIS",
    ".B bpftime",
    "\\fICOMMAND\\fR [\\fIARGS\\fR...] [\\fIOPTIONS\\fR]",
    ".SH DESCRIPTION",
    roff(root.description ?? root.summary),
    ".PP",
    "Commands (each described below):",
    ...commands.flatMap((c) => [".TP", `\\fB${roff(c.name)}\\fR`, roff(c.summary)]),
    ".SH COMMANDS",
  ];
  for (const c of commands) section(c, `bpftime ${c.name}`, out);
  const codes = new Map<number, string[]>();
  for (const [code, n] of Object.entries(exitCodes)) codes.set(n, [...(codes.get(n) ?? []), code]);
  out.push(
    ".SH EXIT STATUS",
    "0 on success; otherwise one line on standard error and:",
    ...[...codes.entries()]
      .sort(([a], [b]) => a - b)
      .flatMap(([n, names]) => [".TP", `\\fB${n}\\fR`, roff(names.join(", ").replace(/_/g, " "))]),
    ".SH ENVIRONMENT",
    ".TP",
    "\\fBBPFTIME_SHM\\fR",
    "the region used when \\fB\\-\\-shm\\fR is not given (default: bpftime)",
    ".TP",
    "\\fBBPFTIME_LOG\\fR",
    "log level: error, warn, info or debug",
    ".SH SEE ALSO",
    "\\fBbpftool\\fR(8), \\fBbpftrace\\fR(8)",
  );
  return out.join("\n") + "\n";
}

export const manCommand: Command = {
  name: "man",
  summary: "print the bpftime(1) manual page (roff, from the command table)",
  usage: "",
  description: "Print the manual page in roff. Read it with `bpftime man | man -l -`.",
  examples: ["bpftime man | man -l -", "bpftime man > /usr/local/share/man/man1/bpftime.1"],
  async run() {
    // The table imports this file: read it when run, not at load.
    const { commands } = await import("./commands.ts");
    const { rootCommand } = await import("./root.ts");
    process.stdout.write(manPage(rootCommand, commands));
  },
};
