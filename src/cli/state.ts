// `bpftime apply FILE` and `bpftime export`: declarative state (src/ops/state).
import { writeFileSync } from "node:fs";
import { BpftimeError } from "../errors.ts";
import {
  applyState,
  changeLine,
  exportState,
  formatOfPath,
  formatState,
  readStateFile,
  stateFormat,
  StateSchema,
  withRegion,
} from "../ops/index.ts";
import { type Command, flag, jsonOption, needPositional, shmOption, str } from "./command.ts";
import { printJson } from "./output.ts";

export const applyCommand: Command = {
  name: "apply",
  summary: "make the region hold what a state file says (objects, links, pins, map entries)",
  usage: "FILE [--dry-run] [--prune] [--shm NAME] [--json]",
  description:
    "FILE (YAML or JSON; - for standard input) lists objects to load, links with their\n" +
    "targets, map pins and map entries (`bpftime export` writes one; the schema is at\n" +
    "/docs of `bpftime serve`). apply prints the plan and makes it: objects new to the\n" +
    "region are loaded; an object whose file changed (by SHA-256) or whose program list\n" +
    "changed is replaced: the new version is loaded, its links move to it atomically\n" +
    "(`bpftime replace`), the old programs are unloaded. The links of the file's objects\n" +
    "are exactly those it lists; pins and entries are set where they differ (entries it\n" +
    "does not list are never touched). Applying the same file again changes nothing.\n" +
    "Objects and map pins the file does not mention are left alone (and listed);\n" +
    "--prune removes them. Relative paths are relative to FILE's directory.\n" +
    "The first failure stops the apply: what was done stays, the error says what was\n" +
    "applied and where it stopped, and the next apply carries on from there.",
  options: {
    "dry-run": { type: "boolean", description: "print the plan, change nothing" },
    prune: {
      type: "boolean",
      description: "also remove objects (with their links) and map pins the file does not mention",
    },
    ...shmOption,
    ...jsonOption,
  },
  examples: [
    "bpftime apply /etc/bpftime/state.yaml",
    "bpftime apply state.yaml --dry-run --shm demo",
    "bpftime export -o state.yaml && bpftime apply state.yaml --shm other",
  ],
  run(p) {
    const file = needPositional(p, 0, "FILE (a state file, YAML or JSON)", "bpftime apply");
    const desired = readStateFile(file);
    const r = applyState(str(p, "shm"), desired, {
      dryRun: flag(p, "dry-run"),
      prune: flag(p, "prune"),
    });
    if (flag(p, "json")) return printJson(r);
    if (r.changes.length === 0)
      console.log(`region ${r.region} already holds what ${file} says: nothing to do`);
    else {
      const n = `${r.changes.length} change${r.changes.length > 1 ? "s" : ""}`;
      console.log(
        r.dryRun
          ? `plan for region ${r.region} (dry run): ${n}`
          : `region ${r.region}: ${n} applied`,
      );
      for (const c of r.changes) console.log(`  ${changeLine(c)}`);
    }
    if (r.leftAlone.length)
      console.log(`left alone (not in ${file}; --prune removes them): ${r.leftAlone.join(", ")}`);
  },
};

export const exportCommand: Command = {
  name: "export",
  summary: "write what the region holds as a state file (for `bpftime apply`)",
  usage:
    "[-o FILE] [--format yaml|json] [--no-entries] [--shm NAME]\n       bpftime export --schema   (the JSON Schema of state files)",
  description:
    "Objects (with the object file each was loaded from), links, map pins and map entries,\n" +
    "as `bpftime apply` takes them: apply the output to another region and it holds the same.\n" +
    "Entries are those of hash, array, lru_hash and lpm_trie maps (array slots that are all\n" +
    "zero are left out; per-CPU maps, global data and frozen maps are not exported): counters\n" +
    "included, so trim them before using the file as a policy. What a state file cannot say\n" +
    "(programs an application loaded, program pins) is named on stderr.",
  options: {
    output: {
      type: "string",
      short: "o",
      arg: "FILE",
      description: "write to FILE (default: standard output)",
    },
    format: {
      type: "string",
      arg: "yaml|json",
      description: "output format (default: from -o's extension, else yaml)",
    },
    "no-entries": { type: "boolean", description: "leave map entries out" },
    schema: {
      type: "boolean",
      description: "print the JSON Schema of state files instead (for editors and validators)",
    },
    ...shmOption,
  },
  examples: [
    "bpftime export -o state.yaml",
    "bpftime export --format json --shm demo > state.json",
    "bpftime export --schema -o bpftime-state.schema.json",
  ],
  run(p) {
    const out = str(p, "output");
    const format = stateFormat(str(p, "format"), out ? formatOfPath(out) : "yaml");
    if (p.positionals.length)
      throw new BpftimeError(
        "usage",
        `export: unexpected argument "${p.positionals[0]}"; write to a file with -o FILE`,
      );
    if (flag(p, "schema")) {
      const text = JSON.stringify(StateSchema, null, 2) + "\n";
      if (out) writeFileSync(out, text);
      else process.stdout.write(text);
      return;
    }
    const e = withRegion(str(p, "shm"), (r) => exportState(r, { entries: !flag(p, "no-entries") }));
    for (const s of e.skipped) console.error(`bpftime: export: not in the file: ${s}`);
    const text = formatState(e.state, format);
    if (out) writeFileSync(out, text);
    else process.stdout.write(text);
  },
};
