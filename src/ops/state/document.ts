// State files as text: YAML or JSON in (YAML is a superset of JSON: one
// parser, Bun's), YAML or JSON out.
import { BpftimeError } from "../../errors.ts";
import { toJsonValue } from "../../json.ts";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { readInputFile } from "../files.ts";
import { resolveState, type DesiredState } from "./desired.ts";
import { validateState, type StateFile } from "./schema.ts";

export type StateFormat = "yaml" | "json";

/** `text` parsed as YAML (JSON is YAML too), not yet checked; `what` names it in errors. */
export function parseStateDocument(text: string, what: string): unknown {
  try {
    return Bun.YAML.parse(text) ?? {};
  } catch (e) {
    throw new BpftimeError(
      "invalid_argument",
      `${what} is neither YAML nor JSON: ${(e as Error).message.split("\n")[0]}`,
    );
  }
}

/** The state file in `text`, parsed and validated; `what` names it in errors. */
export function parseStateText(text: string, what: string): StateFile {
  return validateState(parseStateDocument(text, what), what);
}

/** "yaml" or "json", refusing anything else. */
export function stateFormat(name: string | undefined, fallback: StateFormat): StateFormat {
  if (name === undefined) return fallback;
  if (name === "yaml" || name === "yml") return "yaml";
  if (name === "json") return "json";
  throw new BpftimeError("usage", `unknown state format "${name}": choose yaml or json`);
}

/** The format a file name implies (.json → json, else yaml). */
export function formatOfPath(path: string): StateFormat {
  return /\.json$/i.test(path) ? "json" : "yaml";
}

/** The state as text: bigints as decimal strings, as the JSON the API returns. */
export function formatState(state: StateFile, format: StateFormat): string {
  const plain = toJsonValue(state);
  return format === "json"
    ? JSON.stringify(plain, null, 2) + "\n"
    : `# bpftime state (bpftime apply FILE)\n${Bun.YAML.stringify(plain, null, 2)}\n`;
}

/** The state file at `path` ("-": standard input), read, checked and resolved against its directory. */
export function readStateFile(path: string): DesiredState {
  const bytes = path === "-" ? readFileSync(0) : readInputFile(path, "state file");
  const base = path === "-" ? process.cwd() : dirname(resolve(path));
  return resolveState(parseStateText(new TextDecoder().decode(bytes), path), base, path);
}
