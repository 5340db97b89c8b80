import { type Command, flag, jsonOption, needPositional, shmOption, str } from "./command.ts";
import { loadIntoRegion } from "../ops/index.ts";
import { printJson, printLoaded } from "./output.ts";
import { kernelLoad, kernelOption } from "./kernel.ts";

export const loadCommand: Command = {
  name: "load",
  summary: "verify an object's programs and store them and its maps in the region",
  usage:
    "FILE.o [--program NAME]... [--shm NAME] [--allow-write-user] [--json]\n" +
    "       bpftime load --kernel FILE.o [--name NAME] [--json]   (pins under /sys/fs/bpf/bpftime/NAME)",
  description:
    "Verify every program of FILE.o (or those named with --program) and store them, with\n" +
    "the object's maps and global data, in the shared-memory region (created if missing).\n" +
    "Nothing is attached yet: see `bpftime attach`. Prints the new ids.",
  options: {
    program: {
      type: "string",
      multiple: true,
      arg: "NAME",
      description: "load only this program (repeatable)",
    },
    ...shmOption,
    "allow-write-user": {
      type: "boolean",
      description: "let tracing programs call bpf_probe_write_user (writes into the host process)",
    },
    ...jsonOption,
    ...kernelOption,
    name: {
      type: "string",
      arg: "NAME",
      description: "--kernel: pin directory name (default: file name)",
    },
  },
  examples: [
    "bpftime load examples/build/url_filter.bpf.o",
    "bpftime load --kernel examples/build/malloc.bpf.o",
    "bpftime load prog.o --program count --shm demo --json",
  ],
  run(p) {
    if (flag(p, "kernel")) return kernelLoad(p);
    const file = needPositional(p, 0, "FILE.o", "bpftime load");
    const names = (p.values.program as string[] | undefined) ?? [];
    const r = loadIntoRegion(file, str(p, "shm"), {
      programs: names,
      allowWriteUser: flag(p, "allow-write-user"),
    });
    if (flag(p, "json")) return printJson(r);
    console.log(`loaded ${file} into region ${r.region}`);
    printLoaded(r);
  },
};
