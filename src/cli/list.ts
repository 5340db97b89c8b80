import { type Command, flag, jsonOption, shmOption, str } from "./command.ts";
import { mapLoadedBy, snapshot } from "../ops/index.ts";
import { withRegion } from "../ops/index.ts";
import { PROGRAM_COLUMNS, printJson, programRow, sections } from "./output.ts";
import { kernelList, kernelOption } from "./kernel.ts";

export const listCommand: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list programs, maps, targets, links and the processes that instantiated them",
  usage: "[--shm NAME] [--json]",
  options: { ...shmOption, ...jsonOption, ...kernelOption },
  examples: ["bpftime list", "bpftime list --shm demo --json", "bpftime list --kernel"],
  run(p) {
    if (flag(p, "kernel")) return kernelList(p);
    const s = withRegion(str(p, "shm"), snapshot);
    if (flag(p, "json")) return printJson(s);
    const out: string[] = [`region ${s.region} (generation ${s.generation})`];
    const section = sections(out);
    section("programs", PROGRAM_COLUMNS, s.programs.map(programRow));
    // Maps an application made under `bpftime load -- APP` say which (and its pid).
    const loadedBy = s.maps.map((x) => mapLoadedBy(s.region, x.id));
    const byApp = loadedBy.some((o) => o !== undefined);
    section(
      "maps",
      ["ID", "NAME", "TYPE", "KEY", "VALUE", "MAX", ...(byApp ? ["LOADED BY"] : [])],
      s.maps.map((x, i) => [
        x.id,
        x.name,
        x.type,
        x.keySize,
        x.valueSize,
        x.maxEntries,
        ...(byApp ? [loadedBy[i] ?? "-"] : []),
      ]),
    );
    section(
      "targets",
      ["ID", "TYPE", "ARG"],
      s.targets.map((x) => [x.id, x.type, JSON.stringify(x.arg)]),
    );
    section(
      "links",
      ["ID", "PROG", "TARGET", "TYPE", "ARG", "PIDS"],
      s.links.map((x) => [
        x.id,
        x.progId,
        x.targetId,
        x.targetType,
        JSON.stringify(x.arg),
        x.pids.join(",") || "-",
      ]),
    );
    const failures = s.links.flatMap((l) =>
      l.errors.map((e) => [l.id, e.pid, e.waiting ? "waiting" : "failed", e.message]),
    );
    if (failures.length) section("links not hooked", ["LINK", "PID", "STATE", "WHY"], failures);
    section(
      "instances",
      ["ID", "PID", "ALIVE", "LINKS", "FAILED"],
      s.instances.map((x) => [
        x.id,
        x.pid,
        x.alive ? "yes" : "no",
        x.links.join(",") || "-",
        x.failedLinks ? x.linkErrors.map((e) => e.linkId).join(",") : "-",
      ]),
    );
    console.log(out.join("\n"));
  },
};
