// Region-wide operations the HTTP API also offers: the run-statistics switch,
// the Prometheus metrics, and removing a program that nothing links.
import { type Command, flag, jsonOption, needPositional, shmOption, str } from "./command.ts";
import { withRegion } from "../ops/index.ts";
import { setStats } from "../ops/index.ts";
import { collectMetrics } from "../ops/index.ts";
import { renderMetrics } from "../ops/index.ts";
import { unload } from "../ops/index.ts";
import { BpftimeError } from "../errors.ts";
import { printJson } from "./output.ts";
import { kernelOption, kernelUnload } from "./kernel.ts";

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
  usage: "PROG [--shm NAME | --kernel] [--json]",
  description:
    "Remove program PROG (id or name) once no link uses it (`bpftime detach` first) and\n" +
    "no pin names it. Its maps go with it unless something else holds them: another\n" +
    "program, a pin (`bpftime pin`, --pin-maps), or a process still running code that\n" +
    "uses them (the map then goes when that process lets go or exits).\n" +
    "With --kernel: a pinned kernel program (name, OBJECT/NAME or kernel id); the pins of\n" +
    "its object's maps that no other program of the object uses go with it, and the last\n" +
    "program takes the whole object (as `shm remove --kernel OBJECT`).",
  options: { ...shmOption, ...jsonOption, ...kernelOption },
  examples: [
    "bpftime unload url_filter",
    "bpftime unload 3 --shm demo",
    "bpftime unload --kernel malloc/count_malloc",
  ],
  run(p) {
    if (flag(p, "kernel")) return kernelUnload(p);
    const prog = needPositional(p, 0, "PROG (program id or name)", "bpftime unload");
    const out = withRegion(str(p, "shm"), (r) => unload(r, prog));
    if (flag(p, "json")) return printJson(out);
    console.log(`removed program ${out.deleted}`);
  },
};
