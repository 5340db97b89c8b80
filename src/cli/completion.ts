// `bpftime completion bash|zsh|fish`: shell completion generated from the one
// command table (commands, subcommands, aliases and options), so it cannot
// drift from what the CLI accepts.
import { BpftimeError } from "../errors.ts";
import type { Command } from "./command.ts";
import { needPositional } from "./command.ts";

const SHELLS = ["bash", "zsh", "fish"] as const;

interface Node {
  /** Command path below `bpftime`, space-separated ("" for the top level). */
  path: string;
  cmd: Command;
}

function walk(root: Command): Node[] {
  const out: Node[] = [];
  const visit = (cmd: Command, path: string) => {
    out.push({ path, cmd });
    for (const c of cmd.subcommands ?? [])
      for (const name of [c.name, ...(c.aliases ?? [])]) visit(c, path ? `${path} ${name}` : name);
  };
  visit(root, "");
  return out;
}

/** What may follow a command: its subcommands (and aliases) and its --options. */
function wordsOf(cmd: Command): string[] {
  const subs = (cmd.subcommands ?? []).flatMap((c) => [c.name, ...(c.aliases ?? [])]);
  const opts = Object.keys(cmd.options ?? {}).map((o) => `--${o}`);
  return [...subs, ...opts, "--help"];
}

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** A bash completion function: the command path from the words typed, then its words (or files). */
export function bashCompletion(root: Command): string {
  const nodes = walk(root);
  const cases = nodes
    .map((n) => `    ${quote(n.path)}) words=${quote(wordsOf(n.cmd).join(" "))} ;;`)
    .join("\n");
  const paths = nodes.filter((n) => n.path).map((n) => quote(n.path));
  return `# bpftime completion for bash: eval "$(bpftime completion bash)"
_bpftime() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path="" next w i words
  local -A known=(${paths.map((p) => `[${p}]=1`).join(" ")})
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    next=\${path:+$path }$w
    [[ -n \${known[$next]:-} ]] && path=$next
  done
  case "$path" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _bpftime bpftime
`;
}

/** zsh runs the bash function through bashcompinit. */
export function zshCompletion(root: Command): string {
  return `# bpftime completion for zsh: eval "$(bpftime completion zsh)"
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(root).replace(/^# .*\n/, "")}`;
}

/** fish: one `complete` line per subcommand and option, with its summary. */
export function fishCompletion(root: Command): string {
  const lines = ["# bpftime completion for fish: bpftime completion fish | source"];
  const desc = (s: string) => quote(s.split("\n")[0]!);
  for (const n of walk(root)) {
    const words = n.path ? n.path.split(" ") : [];
    // The command path typed so far, and none of its own subcommands yet.
    const seen = words.length
      ? words.map((w) => `__fish_seen_subcommand_from ${w}`).join("; and ")
      : "__fish_use_subcommand";
    const subs = (n.cmd.subcommands ?? []).map((c) => c.name);
    const cond =
      subs.length && words.length
        ? `${seen}; and not __fish_seen_subcommand_from ${subs.join(" ")}`
        : seen;
    for (const c of n.cmd.subcommands ?? [])
      lines.push(`complete -c bpftime -f -n ${quote(cond)} -a ${c.name} -d ${desc(c.summary)}`);
    if (!n.path) continue;
    for (const [name, o] of Object.entries(n.cmd.options ?? {}))
      lines.push(
        `complete -c bpftime -n ${quote(seen)} -l ${name}${o.short ? ` -s ${o.short}` : ""}${o.type === "string" ? " -r" : ""} -d ${desc(o.description)}`,
      );
  }
  return lines.join("\n") + "\n";
}

export const completionCommand: Command = {
  name: "completion",
  summary: "print shell completion for bash, zsh or fish (from the command table)",
  usage: "bash|zsh|fish",
  description:
    "Print a completion script for SHELL: commands, subcommands and options of this bpftime.\n" +
    "Load it from your shell's start-up file.",
  examples: [
    'eval "$(bpftime completion bash)"   # in ~/.bashrc',
    'eval "$(bpftime completion zsh)"    # in ~/.zshrc',
    "bpftime completion fish > ~/.config/fish/completions/bpftime.fish",
  ],
  async run(p) {
    const shell = needPositional(p, 0, "SHELL (bash, zsh or fish)", "bpftime completion");
    if (!(SHELLS as readonly string[]).includes(shell))
      throw new BpftimeError(
        "usage",
        `completion: unknown shell "${shell}": choose ${SHELLS.join(", ")}`,
      );
    // The table imports this file: read it when run, not at load.
    const { commands } = await import("./commands.ts");
    const { rootCommand } = await import("./root.ts");
    const root: Command = { ...rootCommand, subcommands: commands };
    const gen = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[
      shell as (typeof SHELLS)[number]
    ];
    process.stdout.write(gen(root));
  },
};
