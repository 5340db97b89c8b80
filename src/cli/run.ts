import { writeFileSync } from "node:fs";
import type { Command } from "./command.ts";
import { flag, intOption, jsonOption, needPositional, shmOption, str } from "./command.ts";
import {
  engineFromEnv,
  parseEngine,
  rawEngine,
  readInputFile,
  runObject,
  runRaw,
  runStored,
  type RunOutcome,
} from "../ops/index.ts";
import { isElf } from "../ops/index.ts";
import { withRegion } from "../ops/index.ts";
import { resolveProgram } from "../ops/index.ts";
import { runView } from "../ops/index.ts";
import { printJson } from "./output.ts";

export const runCommand: Command = {
  name: "run",
  summary: "run an eBPF program once or N times and print its return value",
  usage:
    "FILE.o | ID | FILE --raw  [--data FILE] [--data-out FILE] [--engine interp|jit|ubpf] [--repeat N] [--json]",
  description:
    "Run a program and print `return value: 0x…`, like `bpftool prog run`.\n" +
    "  FILE.o    an ELF object: the program (choose with --program/--section) is verified and\n" +
    "            run in a private temporary region, on a context built for its type\n" +
    "            (xdp: struct xdp_md over the --data bytes, which --data-out writes back)\n" +
    "  ID        a program stored with `bpftime load`, run against the region's maps\n" +
    "            (--shm): several processes may run it on the same maps at once\n" +
    "  --raw     FILE holds little-endian 8-byte instructions; r1 points to a private copy\n" +
    "            of the --data bytes (or is null) and r2 holds their length. Raw bytecode is\n" +
    "            NOT verified: an ISA test mode. It runs on the interpreter, which checks every\n" +
    "            memory access; the JIT does not, so `--engine jit` on raw bytecode also needs\n" +
    "            --unverified (a bad program can then corrupt or crash this process).\n" +
    "With --repeat N, also print the average duration measured in-process around the runs\n" +
    "alone. The engine defaults to $BPFTIME_VM, else jit (verified programs) or interp (--raw).",
  options: {
    raw: { type: "boolean", description: "FILE is raw bytecode, not an ELF object" },
    unverified: {
      type: "boolean",
      description: "with --raw --engine jit: JIT bytecode nobody verified (accesses unchecked)",
    },
    program: {
      type: "string",
      arg: "NAME",
      description: "the program to run, in an object with several",
    },
    section: { type: "string", arg: "NAME", description: "the program in this section" },
    data: {
      type: "string",
      arg: "FILE",
      description: "input bytes (packet, buffer) for the program",
    },
    "data-out": { type: "string", arg: "FILE", description: "write the data buffer after the run" },
    engine: {
      type: "string",
      arg: "interp|jit|ubpf",
      description: "execution engine (default jit; interp with --raw)",
    },
    repeat: { type: "string", arg: "N", description: "run N times and report the average time" },
    ...shmOption,
    ...jsonOption,
  },
  examples: [
    "bpftime run examples/build/checksum.bpf.o --data packet.bin --repeat 1000",
    "bpftime run 3 --shm demo --data url.txt",
    "bpftime run --raw prog.bin --data in.bin",
    "bpftime run --raw prog.bin --engine jit --unverified --repeat 1000",
  ],
  async run(p) {
    const path = "bpftime run";
    const file = needPositional(p, 0, "FILE.o, ID or raw FILE", path);
    const engineArg = str(p, "engine");
    const chosen = engineArg ? parseEngine(engineArg) : undefined;
    const engine = chosen ?? engineFromEnv();
    const repeat = intOption(p, "repeat", 1, path);
    const dataPath = str(p, "data");
    const data = dataPath ? readInputFile(dataPath, "data file") : undefined;
    const opts = { engine, repeat, ...(data ? { data } : {}) };
    let outcome: RunOutcome;
    if (!flag(p, "raw") && /^\d+$/.test(file)) {
      outcome = withRegion(str(p, "shm"), (r) => runStored(r, resolveProgram(r, file), opts));
    } else {
      const code = readInputFile(file, "program file");
      outcome =
        flag(p, "raw") || !isElf(code)
          ? runRaw({ code, ...opts, engine: rawEngine(chosen, flag(p, "unverified")) })
          : await runObject(file, { program: str(p, "program"), section: str(p, "section") }, opts);
    }
    const dataOut = str(p, "data-out");
    if (dataOut) writeFileSync(dataOut, outcome.dataOut);
    if (flag(p, "json")) {
      return printJson(runView(outcome));
    }
    console.log(`return value: 0x${outcome.returnValue.toString(16)}`);
    if (repeat > 1) console.log(`duration (average): ${Math.round(outcome.averageNs)} ns`);
  },
};
