// `bpftime prog list|show`: the programs of a region, as GET /v1/programs and
// GET /v1/programs/ID give them (one serializer: src/ops list.ts, programs.ts).
import { type Command, flag, jsonOption, needPositional, shmOption, str } from "./command.ts";
import { kernelSnapshot, programDetail, snapshot, withRegion } from "../ops/index.ts";
import { byProvider, kernelOption } from "./kernel.ts";
import { PROGRAM_COLUMNS, printJson, programRow, table } from "./output.ts";

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list the programs of the region with their links and run statistics",
  usage: "[--shm NAME | --kernel] [--json]",
  description:
    "One line per program: id, name, type, instructions, links, runs counted while\n" +
    "`bpftime stats on`, and the attach hint from its SEC(). --json: GET /v1/programs.",
  options: { ...shmOption, ...jsonOption, ...kernelOption },
  examples: ["bpftime prog list --json", "bpftime prog list --kernel"],
  run(p) {
    const progs = byProvider<Array<Parameters<typeof programRow>[0]>>(
      p,
      "prog list",
      () => kernelSnapshot().programs,
      (r) => snapshot(r).programs,
    );
    if (flag(p, "json")) return printJson(progs);
    console.log(table(PROGRAM_COLUMNS, progs.map(programRow)));
  },
};

const show: Command = {
  name: "show",
  summary: "show one program: disassembly, JIT size, verifier statistics, maps",
  usage: "PROG [--shm NAME] [--json]",
  description: "PROG by id or name; --json: GET /v1/programs/PROG.",
  options: { ...shmOption, ...jsonOption },
  examples: ["bpftime prog show url_filter", "bpftime prog show 1 --json"],
  run(p) {
    const ref = needPositional(p, 0, "PROG (id or name)", "bpftime prog show");
    const d = withRegion(str(p, "shm"), (r) => programDetail(r, ref));
    if (flag(p, "json")) return printJson(d);
    const v = d.verifier;
    console.log(
      [
        `program ${d.id}: ${d.name}`,
        `type      ${d.type}${d.attachHint ? ` (${d.attachHint})` : ""}`,
        `object    ${d.object ?? "-"}${d.section ? ` section ${d.section}` : ""}`,
        `license   ${d.license}`,
        `maps      ${d.mapIds.join(", ") || "-"}`,
        `links     ${d.links.join(", ") || "-"}`,
        `runs      ${d.runCount} (${d.runTimeNs} ns)`,
        `jit       ${d.jit.size !== null ? `${d.jit.size} bytes` : (d.jit.error ?? "-")}`,
        ...(v
          ? [
              `verifier  ${v.insnsProcessed} insns processed, ${v.statesExplored} states explored, ${v.statesPruned} pruned, peak ${v.peakStates}`,
            ]
          : []),
        `${d.insnCount} instructions:`,
        d.disassembly.replace(/\n$/, ""),
      ].join("\n"),
    );
  },
};

export const progCommand: Command = {
  name: "prog",
  summary: "list the programs of the region; show one (disassembly, JIT size, verifier)",
  subcommands: [list, show],
};
