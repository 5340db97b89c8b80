import { type Command, flag, jsonOption, needPositional } from "./command.ts";
import { objectView, readObject } from "../ops/index.ts";
import { formatObjectSummary } from "../elf/index.ts";
import { printJson } from "./output.ts";

const show: Command = {
  name: "show",
  summary: "list the programs, maps and license of an eBPF object file",
  usage: "FILE.o [--json]",
  options: { ...jsonOption },
  examples: ["bpftime obj show examples/build/url_filter.bpf.o"],
  run(p) {
    const file = needPositional(p, 0, "FILE.o", "bpftime obj show");
    const summary = objectView(readObject(file));
    if (flag(p, "json")) printJson(summary);
    else process.stdout.write(formatObjectSummary(summary).replace(/\n?$/, "\n"));
  },
};

export const objCommand: Command = {
  name: "obj",
  summary: "inspect eBPF object files",
  subcommands: [show],
};
