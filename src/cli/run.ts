import { writeFileSync } from "node:fs";
import { type Command, flag, intOption, jsonOption, needPositional, str } from "./command.ts";
import { engineFromEnv, parseEngine, readInputFile, runRaw } from "../ops/run.ts";

export const runCommand: Command = {
  name: "run",
  summary: "run an eBPF program once or N times and print its return value",
  usage: "FILE [--raw] [--data FILE] [--engine interp|jit|ubpf] [--repeat N] [--json]",
  description:
    "Run an eBPF program and print `return value: 0x…`.\n" +
    "With --raw, FILE holds little-endian 8-byte instructions; r1 points to a private copy\n" +
    "of the --data bytes (or is null) and r2 holds their length. Raw bytecode is NOT\n" +
    "verified: it is an ISA test mode (the interpreter still checks every memory access).\n" +
    "With --repeat N, also print the average duration measured in-process around the runs\n" +
    "alone, like `bpftool prog run`. The engine defaults to $BPFTIME_VM or jit.",
  options: {
    raw: { type: "boolean", description: "FILE is raw bytecode, not an ELF object" },
    data: { type: "string", arg: "FILE", description: "input bytes the program gets in r1/r2" },
    "data-out": { type: "string", arg: "FILE", description: "write the data buffer after the run" },
    engine: {
      type: "string",
      arg: "interp|jit|ubpf",
      description: "execution engine (default jit)",
    },
    repeat: { type: "string", arg: "N", description: "run N times and report the average time" },
    ...jsonOption,
  },
  examples: [
    "bpftime run --raw prog.bin --engine interp",
    "bpftime run --raw prog.bin --data packet.bin --repeat 1000000 --json",
  ],
  run(p) {
    const path = "bpftime run";
    const file = needPositional(p, 0, "FILE (the program to run)", path);
    const engineArg = str(p, "engine");
    const engine = engineArg ? parseEngine(engineArg) : engineFromEnv();
    const repeat = intOption(p, "repeat", 1, path);
    const data = str(p, "data");
    const code = readInputFile(file, "program file");
    const outcome = runRaw({
      code,
      engine,
      repeat,
      ...(data ? { data: readInputFile(data, "data file") } : {}),
    });
    const dataOut = str(p, "data-out");
    if (dataOut) writeFileSync(dataOut, outcome.dataOut);
    if (flag(p, "json")) {
      console.log(
        JSON.stringify({
          returnValue: "0x" + outcome.returnValue.toString(16),
          engine: outcome.engine,
          repeat: outcome.repeat,
          averageNs: outcome.averageNs,
        }),
      );
    } else {
      console.log(`return value: 0x${outcome.returnValue.toString(16)}`);
      if (repeat > 1) console.log(`duration (average): ${Math.round(outcome.averageNs)} ns`);
    }
  },
};
