// Region-wide operations the HTTP API also offers: the run-statistics switch,
// the Prometheus metrics, and removing a program that nothing links.
import { type Command, flag, jsonOption, needPositional, shmOption, str } from "./command.ts";
import { withRegion } from "../ops/index.ts";
import { setStats } from "../ops/index.ts";
import { collectMetrics } from "../ops/index.ts";
import { renderMetrics } from "../ops/index.ts";
import { deleteProgram } from "../ops/index.ts";
import { BpftimeError } from "../errors.ts";
import { printJson } from "./output.ts";

export const statsCommand: Command = {
  name: "stats",
  summary: "switch per-program run statistics (run count, run time) on or off",
  usage: "on|off [--shm NAME] [--json]",
  description:
    "Like the kernel's bpf_stats_enabled: while on, every program run is counted and timed\n" +
    "(shown by `bpftime list` and /metrics); off, runs cost nothing extra.",
  options: { ...shmOption, ...jsonOption },
  examples: ["bpftime stats on", "bpftime stats off --shm demo"],
  run(p) {
    const v = needPositional(p, 0, "on or off", "bpftime stats");
    if (v !== "on" && v !== "off")
      throw new BpftimeError("usage", `stats: expected on or off, got "${v}"`);
    const r = withRegion(str(p, "shm"), (reg) => setStats(reg, v === "on"));
    if (flag(p, "json")) return printJson(r);
    console.log(`run statistics ${r.statsEnabled ? "on" : "off"}`);
  },
};

export const metricsCommand: Command = {
  name: "metrics",
  summary: "print the region's metrics in Prometheus text format (as GET /metrics)",
  usage: "[--shm NAME]",
  options: { ...shmOption },
  examples: ["bpftime metrics", "bpftime metrics --shm demo | grep bpftime_program_runs"],
  run(p) {
    process.stdout.write(withRegion(str(p, "shm"), (r) => renderMetrics(collectMetrics(r))));
  },
};

export const unloadCommand: Command = {
  name: "unload",
  summary: "remove a loaded program that no link uses (as DELETE /v1/programs/ID)",
  usage: "PROG [--shm NAME] [--json]",
  description:
    "Remove program PROG (id or name) once no link uses it (`bpftime detach` first).\n" +
    "Its maps stay, with their data, for other programs and for reading: processes that\n" +
    "ran the program may still hold code that refers to them. `bpftime shm remove`\n" +
    "frees everything at once.",
  options: { ...shmOption, ...jsonOption },
  examples: ["bpftime unload url_filter", "bpftime unload 3 --shm demo"],
  run(p) {
    const prog = needPositional(p, 0, "PROG (program id or name)", "bpftime unload");
    const id = withRegion(str(p, "shm"), (r) => deleteProgram(r, prog));
    if (flag(p, "json")) return printJson({ deleted: id });
    console.log(`removed program ${id}`);
  },
};
