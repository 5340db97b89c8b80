import { type Command, flag, jsonOption, needPositional, str } from "./command.ts";
import { readObjectBytes, verifyProgram } from "../ops/index.ts";
import { BpftimeError } from "../errors.ts";
import type { VerifyResult } from "../verifier/index.ts";
import { printJson } from "./output.ts";

export const verifyCommand: Command = {
  name: "verify",
  summary: "check that an object's programs are safe to run (the verifier `load` runs)",
  usage: "FILE.o [--program NAME] [--log] [--allow-write-user] [--json]",
  description:
    "Run the verifier on every program of FILE.o (or the one named): abstract interpretation\n" +
    "of all paths, as the kernel's verifier does. A refusal names the instruction index, the\n" +
    "instruction and the reason; --log prints the register state along the explored paths,\n" +
    "with the source lines from BTF line info before the instructions they cover, and each\n" +
    "instruction as `bpftime disasm` prints it.",
  options: {
    program: { type: "string", arg: "NAME", description: "verify only this program" },
    log: {
      type: "boolean",
      description: "print the verifier log (register state per instruction)",
    },
    "allow-write-user": {
      type: "boolean",
      description: "let tracing programs call bpf_probe_write_user (writes into the host process)",
    },
    ...jsonOption,
  },
  examples: ["bpftime verify examples/build/url_filter.bpf.o", "bpftime verify prog.o --log"],
  run(p) {
    const file = needPositional(p, 0, "FILE.o", "bpftime verify");
    const { spec } = readObjectBytes(file);
    const only = str(p, "program");
    const progs = only ? spec.programs.filter((x) => x.name === only) : spec.programs;
    if (only && progs.length === 0)
      throw new BpftimeError(
        "not_found",
        `${file} has no program ${only}; it has: ${spec.programs.map((x) => x.name).join(", ")}`,
      );
    const results: Array<{
      program: string;
      section: string;
      ok: boolean;
      stats?: VerifyResult["stats"];
      error?: string;
    }> = [];
    let failed: BpftimeError | undefined;
    for (const prog of progs) {
      try {
        const v = verifyProgram(spec, prog, {
          log: flag(p, "log"),
          allowWriteUser: flag(p, "allow-write-user"),
        });
        if (flag(p, "log") && !flag(p, "json")) console.log(v.result.log.join("\n"));
        results.push({
          program: prog.name,
          section: prog.section,
          ok: true,
          stats: v.result.stats,
        });
      } catch (e) {
        if (!(e instanceof BpftimeError) || e.code !== "verifier") throw e;
        const res = e.details as VerifyResult | undefined;
        if (flag(p, "log") && !flag(p, "json") && res) console.log(res.log.join("\n"));
        results.push({
          program: prog.name,
          section: prog.section,
          ok: false,
          error: e.message,
          ...(res ? { stats: res.stats } : {}),
        });
        failed ??= e;
      }
    }
    if (flag(p, "json")) printJson(results);
    else
      for (const r of results)
        if (r.ok)
          console.log(
            `${r.program} (${r.section}): ok, ${r.stats!.insnsProcessed} instructions processed, ${r.stats!.statesExplored} states`,
          );
    if (failed) throw failed;
  },
};
