// The shape every CLI command follows: `bpftime <command> [<subcommand>] ARGS`.
// Each command group lives in its own file under src/cli/ and is thin: parse,
// call an operation in src/, print. Help text is generated from these fields
// so `--help` is always complete.
import { parseArgs } from "node:util";
import { BpftimeError } from "../errors.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Shown in --help; `<arg>` names the value. */
  description: string;
  arg?: string;
  default?: string | boolean;
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** The raw argv after the command name (for commands that pass arguments through). */
  rest: string[];
}

export interface Command {
  name: string;
  aliases?: string[];
  summary: string;
  /** e.g. "FILE [--engine interp|jit]"; shown after `bpftime <name>`. */
  usage?: string;
  description?: string;
  options?: Record<string, OptionSpec>;
  examples?: string[];
  subcommands?: Command[];
  /**
   * Stop option parsing at the first positional (e.g. `bpftime start -- prog -x`); a function
   * decides from the arguments (`bpftime load FILE.o --program x` parses on, `bpftime load
   * ./app -x` stops).
   */
  passThrough?: boolean | ((argv: string[]) => boolean);
  run?: (args: Parsed) => Promise<number | void> | number | void;
}

export const jsonOption: Record<string, OptionSpec> = {
  json: { type: "boolean", description: "print machine-readable JSON" },
};

export const shmOption: Record<string, OptionSpec> = {
  shm: {
    type: "string",
    arg: "NAME",
    description: "shared-memory region /dev/shm/bpftime-NAME (default: $BPFTIME_SHM or bpftime)",
  },
};

export function parseCommandArgs(cmd: Command, path: string, argv: string[]): Parsed {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const [name, o] of Object.entries(cmd.options ?? {})) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      multiple: !!o.multiple,
    };
  }
  let args = argv;
  let rest: string[] = [];
  const passThrough =
    typeof cmd.passThrough === "function" ? cmd.passThrough(argv) : cmd.passThrough;
  if (passThrough) {
    const dd = argv.indexOf("--");
    // The first word that is neither an option nor a string option's value.
    const takesValue = (a: string) =>
      Object.entries(cmd.options ?? {}).some(
        ([n, o]) => o.type === "string" && (a === `--${n}` || (o.short && a === `-${o.short}`)),
      );
    const firstPositional = argv.findIndex(
      (a, i) => !a.startsWith("-") && !(i > 0 && takesValue(argv[i - 1]!)),
    );
    const cut = dd >= 0 ? dd : firstPositional;
    if (cut >= 0) {
      args = argv.slice(0, cut);
      rest = argv.slice(dd >= 0 ? cut + 1 : cut);
    }
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed["values"], positionals: [...positionals, ...rest], rest };
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0]!.replace(/\. To specify.*$/, "");
    throw new BpftimeError("usage", `${label(path)}${msg}; see \`${path} --help\``);
  }
}

/** "bpftime map dump" → "map dump: " (the CLI prints errors as "bpftime: …"). */
export function label(path: string): string {
  const rest = path.replace(/^bpftime ?/, "");
  return rest ? `${rest}: ` : "";
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** Parses a non-negative integer option, with a clear error naming the option. */
export function intOption(p: Parsed, name: string, fallback: number, path: string): number {
  const v = str(p, name);
  if (v === undefined) return fallback;
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(v))
    throw new BpftimeError(
      "usage",
      `${label(path)}--${name} must be a non-negative integer, got "${v}"`,
    );
  return Number(v);
}

export function needPositional(p: Parsed, index: number, what: string, path: string): string {
  const v = p.positionals[index];
  if (v === undefined)
    throw new BpftimeError("usage", `${label(path)}missing ${what}; see \`${path} --help\``);
  return v;
}
