// `bpftime pin map|prog|list` and `bpftime unpin`: region-level names for
// maps and programs, like bpftool's pins in bpffs.
import { type Command, flag, jsonOption, needPositional, shmOption, str } from "./command.ts";
import { withRegion } from "../ops/index.ts";
import { listPins, pinObject, unpin } from "../ops/index.ts";
import { printJson, table } from "./output.ts";

const pinHelp =
  "A pin is a name in the region (1-127 characters of [A-Za-z0-9_.-/], like a path under\n" +
  "bpffs) that holds its object: a pinned map outlives the programs that use it, and\n" +
  "`bpftime load --reuse-maps` takes it over by name; a pinned program cannot be unloaded.\n" +
  "Map commands accept a pin name wherever they take MAP.";

function pinKind(kind: "map" | "prog"): Command {
  const what = kind === "map" ? "MAP" : "PROG";
  return {
    name: kind,
    summary: `pin a ${kind === "map" ? "map" : "program"} under a name`,
    usage: `${what} NAME [--shm NAME] [--json]`,
    description: `Give ${what} (id or name) the region-level name NAME.\n` + pinHelp,
    options: { ...shmOption, ...jsonOption },
    examples:
      kind === "map"
        ? ["bpftime pin map verdict_counts counters/verdicts"]
        : ["bpftime pin prog url_filter filters/url"],
    run(p) {
      const path = `bpftime pin ${kind}`;
      const ref = needPositional(p, 0, `${what} (id or name)`, path);
      const name = needPositional(p, 1, "NAME", path);
      const v = withRegion(str(p, "shm"), (r) => pinObject(r, kind, ref, name));
      if (flag(p, "json")) return printJson(v);
      console.log(`pinned ${kind} ${v.id} (${v.objectName}) as ${v.name}`);
    },
  };
}

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list the pins of the region",
  usage: "[--shm NAME] [--json]",
  options: { ...shmOption, ...jsonOption },
  examples: ["bpftime pin list"],
  run(p) {
    const pins = withRegion(str(p, "shm"), (r) => listPins(r));
    if (flag(p, "json")) return printJson(pins);
    console.log(
      table(
        ["PIN", "KIND", "ID", "NAME"],
        pins.map((x) => [x.name, x.kind, x.id, x.objectName]),
      ),
    );
  },
};

export const pinCommand: Command = {
  name: "pin",
  summary: "pin maps and programs under region-level names (like bpffs); list pins",
  subcommands: [pinKind("map"), pinKind("prog"), list],
};

export const unpinCommand: Command = {
  name: "unpin",
  summary: "remove a pin (a map nothing else holds goes with it)",
  usage: "NAME [--shm NAME] [--json]",
  description:
    "Remove pin NAME. Like unlinking a bpffs pin: a map that nothing else holds (no\n" +
    "program, no other pin, no process running code that uses it) is freed.",
  options: { ...shmOption, ...jsonOption },
  examples: ["bpftime unpin counters/verdicts"],
  run(p) {
    const name = needPositional(p, 0, "NAME", "bpftime unpin");
    const v = withRegion(str(p, "shm"), (r) => unpin(r, name));
    if (flag(p, "json")) return printJson(v);
    console.log(`unpinned ${v.unpinned}`);
  },
};
