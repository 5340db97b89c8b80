// Help text generated from the command table.
import type { Command } from "./command.ts";

export function commandHelp(cmd: Command, path: string): string {
  const lines: string[] = [];
  lines.push(`${path}${cmd.usage ? " " + cmd.usage : cmd.subcommands ? " <command>" : ""}`);
  lines.push("");
  lines.push(cmd.description ?? cmd.summary);
  if (cmd.subcommands?.length) {
    lines.push("", "Commands:");
    const width = Math.max(...cmd.subcommands.map((c) => c.name.length));
    for (const c of cmd.subcommands) lines.push(`  ${c.name.padEnd(width)}  ${c.summary}`);
  }
  const opts = Object.entries(cmd.options ?? {});
  if (opts.length || cmd.run) {
    lines.push("", "Options:");
    const rows = opts.map(([name, o]) => [
      `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` ${o.arg ?? "VALUE"}` : ""}`,
      o.description,
    ]);
    rows.push(["-h, --help", "show this help"]);
    const width = Math.max(...rows.map((r) => r[0]!.length));
    for (const [a, b] of rows) lines.push(`  ${a!.padEnd(width)}  ${b}`);
  }
  if (cmd.examples?.length) {
    lines.push("", "Examples:");
    for (const e of cmd.examples) lines.push(`  ${e}`);
  }
  if (cmd.subcommands?.length)
    lines.push("", `Run \`${path} <command> --help\` for a command's options.`);
  return lines.join("\n") + "\n";
}
