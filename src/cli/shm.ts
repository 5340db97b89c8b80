import { type Command, flag, jsonOption, shmOption, str } from "./command.ts";
import { createRegion, deleteRegion, listRegions, parseSize } from "../ops/index.ts";
import { regionView, withRegion } from "../ops/index.ts";
import { printJson, table } from "./output.ts";
import type { Parsed } from "./command.ts";
import { kernelOption, kernelRemove } from "./kernel.ts";

/** The region is named by a positional NAME or by --shm, like every other command. */
function nameOf(p: Parsed): string | undefined {
  return p.positionals[0] ?? str(p, "shm");
}

const create: Command = {
  name: "create",
  summary: "create a shared-memory region",
  usage: "[NAME | --shm NAME] [--size BYTES] [--owner USER] [--group GROUP] [--mode MODE]",
  description:
    "Create /dev/shm/bpftime-NAME, mode 0600 for the creating user. Processes running as another\n" +
    "user (nginx workers as www-data or nobody) must be able to open it read-write: give it to\n" +
    "their group with --group GROUP --mode 0660 (see nginx/README.md).",
  options: {
    ...shmOption,
    size: {
      type: "string",
      arg: "BYTES",
      description: "region size, e.g. 64M (default 64M; sparse)",
    },
    owner: { type: "string", arg: "USER", description: "user (name or uid) that owns the region" },
    group: {
      type: "string",
      arg: "GROUP",
      description: "group (name or gid) of the region, e.g. the nginx workers' group",
    },
    mode: { type: "string", arg: "MODE", description: "permission bits, octal (default 0600)" },
    ...jsonOption,
  },
  examples: [
    "bpftime shm create",
    "bpftime shm create --shm demo --size 256M",
    "bpftime shm create --group www-data --mode 0660   (nginx workers run as www-data)",
  ],
  run(p) {
    const size = str(p, "size");
    const info = createRegion(nameOf(p), size ? parseSize(size) : 0, {
      owner: str(p, "owner"),
      group: str(p, "group"),
      mode: str(p, "mode"),
    });
    if (flag(p, "json")) printJson(info);
    else console.log(`created region ${info.path} (${info.size} bytes)`);
  },
};

const info: Command = {
  name: "info",
  summary: "show a region's header and object counts",
  usage: "[NAME | --shm NAME] [--json]",
  options: { ...shmOption, ...jsonOption },
  examples: ["bpftime shm info --shm demo --json"],
  run(p) {
    const i = withRegion(nameOf(p), regionView);
    if (flag(p, "json")) return printJson(i);
    console.log(
      [
        `region      ${i.path}`,
        `layout      version ${i.layoutVersion}`,
        `size        ${i.size} bytes (${i.heapUsed} of ${i.heapSize} heap bytes used)`,
        `created     ${new Date(Number(BigInt(i.createdNs) / 1000000n)).toISOString()}`,
        `generation  ${i.generation}`,
        `cpus        ${i.ncpus}`,
        `stats       ${i.statsEnabled ? "on" : "off"}`,
        `objects     ${i.programs} programs, ${i.maps} maps, ${i.targets} targets, ${i.links} links, ${i.instances} instances`,
      ].join("\n"),
    );
  },
};

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list the regions that exist",
  usage: "[--json]",
  options: { ...jsonOption },
  examples: ["bpftime shm list"],
  run(p) {
    const regions = listRegions();
    if (flag(p, "json")) return printJson(regions);
    if (!regions.length) return console.log("no regions (`bpftime shm create NAME` makes one)");
    console.log(
      table(
        ["NAME", "SIZE", "PATH"],
        regions.map((r) => [r.name, r.size, r.path]),
      ),
    );
  },
};

const remove: Command = {
  name: "remove",
  aliases: ["rm"],
  summary: "remove a region (processes that mapped it keep their mapping)",
  usage: "[NAME | --shm NAME]",
  options: { ...shmOption, ...jsonOption, ...kernelOption },
  examples: ["bpftime shm remove --shm demo", "bpftime shm remove --kernel malloc"],
  run(p) {
    if (flag(p, "kernel")) return kernelRemove(p);
    const name = deleteRegion(nameOf(p));
    if (flag(p, "json")) printJson({ removed: name });
    else console.log(`removed region ${name}`);
  },
};

export const shmCommand: Command = {
  name: "shm",
  summary: "create, list, inspect and remove shared-memory regions",
  subcommands: [create, list, info, remove],
};
