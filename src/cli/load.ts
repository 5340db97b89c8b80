import { BpftimeError } from "../errors.ts";
import { type Command, flag, jsonOption, needPositional, shmOption, str } from "./command.ts";
import {
  autoAttach,
  isApplication,
  loadIntoRegion,
  runApplication,
  withRegion,
} from "../ops/index.ts";
import { printJson, printLoaded } from "./output.ts";
import { kernelLoad, kernelOption } from "./kernel.ts";

export const loadCommand: Command = {
  name: "load",
  summary:
    "verify an object's programs and store them and its maps in the region, or run a libbpf application",
  usage:
    "FILE.o [--program NAME]... [--attach] [--pin-maps] [--reuse-maps] [--shm NAME] [--allow-write-user] [--opt] [--json]\n" +
    "       bpftime load --kernel FILE.o [--name NAME] [--json]   (pins under /sys/fs/bpf/bpftime/NAME)\n" +
    "       bpftime load [--shm NAME] [--] PROGRAM [ARGS…]   (an unmodified libbpf application)",
  description:
    "PROGRAM (an executable, not an eBPF object; after `--` always a program): run the\n" +
    "unmodified libbpf application with bpftime's syscall server preloaded. Its bpf() calls,\n" +
    "uprobe perf events and ring buffers are served from the region, never the kernel; start\n" +
    "the traced program with `bpftime start` (or `bpftime inject`). PROGRAM keeps the terminal,\n" +
    "gets the signals bpftime gets, and its exit code is bpftime's. When it exits, its links and\n" +
    "unpinned programs and maps are removed. Everything after PROGRAM is its own.\n" +
    "\n" +
    "Verify every program of FILE.o (or those named with --program) and store them, with\n" +
    "the object's maps and global data, in the shared-memory region (created if missing).\n" +
    "Nothing is attached yet (see `bpftime attach`) unless --attach: then every program whose\n" +
    "SEC() names its whole target is linked to it, as libbpf's auto-attach does\n" +
    '(SEC("uprobe/BINARY:SYMBOL"), SEC("tracepoint/syscalls/sys_enter_NAME"),\n' +
    'SEC("raw_tracepoint/sys_enter"), SEC("ksyscall/NAME"), …); the others are listed as skipped,\n' +
    "with why. Prints the new ids.\n" +
    "\n" +
    "State-preserving upgrades: a map declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)`\n" +
    "is pinned under its name (`bpftime pin list`) and later loads take that live map over\n" +
    "instead of creating a new one; --pin-maps does the same for every map of the object.\n" +
    "--reuse-maps takes over live maps by name (a pin of that name, else the only map of\n" +
    "that name), so `bpftime replace` to the new version keeps counters and other state.\n" +
    "A reused map must match type, key_size, value_size, max_entries and map_flags (the\n" +
    "load is refused naming the field that differs). Read-only data (.rodata) is the new\n" +
    "version's constants: it is never reused or pinned. Maps go when their last holder\n" +
    "(program, pin, process running code that uses them) goes.",
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
    opt: {
      type: "boolean",
      description:
        "compile each program with the LLVM tier (~1-2 s each; the JIT runs any it refuses)",
    },
    ...jsonOption,
    attach: {
      type: "boolean",
      description: "link every program whose SEC() names its target (libbpf's auto-attach)",
    },
    "pin-maps": {
      type: "boolean",
      description: "pin every map under its name and reuse maps already pinned so",
    },
    "reuse-maps": {
      type: "boolean",
      description: "take over live maps of the same name instead of creating new ones",
    },
    ...kernelOption,
    name: {
      type: "string",
      arg: "NAME",
      description: "--kernel: pin directory name (default: file name)",
    },
  },
  passThrough: (argv) => {
    if (argv.includes("--")) return true;
    const first = argv.find((a, i) => !a.startsWith("-") && argv[i - 1] !== "--shm");
    return first !== undefined && isApplication(first);
  },
  examples: [
    "bpftime load examples/build/url_filter.bpf.o",
    "bpftime load examples/build/opensnoop.bpf.o --attach   (then: bpftime start -- cat /etc/hosts)",
    "bpftime load ./uprobe_counter /usr/bin/target   (then: bpftime start /usr/bin/target)",
    "bpftime load --shm demo -- bpftrace -e 'uprobe:/bin/bash:readline { @[comm] = count(); }'",
    "bpftime load --kernel examples/build/malloc.bpf.o",
    "bpftime load prog.o --program count --shm demo --json",
    "bpftime load examples/build/checksum.bpf.o --opt   (the LLVM tier: for programs run often)",
    "bpftime load v1.bpf.o --pin-maps && bpftime load v2.bpf.o --reuse-maps",
  ],
  async run(p) {
    if (p.rest.length && flag(p, "kernel"))
      throw new BpftimeError(
        "usage",
        `load --kernel takes an eBPF object, not an application (${p.rest[0]}): run the ` +
          "application directly to use the kernel's eBPF, or drop --kernel to run it on bpftime",
      );
    if (p.rest.length) return await runApplication(p.rest, str(p, "shm"));
    if (flag(p, "kernel")) return kernelLoad(p);
    const file = needPositional(p, 0, "FILE.o", "bpftime load");
    const names = (p.values.program as string[] | undefined) ?? [];
    const r = loadIntoRegion(file, str(p, "shm"), {
      programs: names,
      pinMaps: flag(p, "pin-maps"),
      reuseMaps: flag(p, "reuse-maps"),
      allowWriteUser: flag(p, "allow-write-user"),
      opt: flag(p, "opt"),
    });
    // not an error: the program loaded and the JIT runs it
    for (const x of r.programs) if (x.engineNote) console.error(`bpftime: ${x.engineNote}`);
    const attached = flag(p, "attach")
      ? withRegion(str(p, "shm"), (reg) =>
          autoAttach(
            reg,
            r.programs.map((x) => x.id),
          ),
        )
      : undefined;
    if (flag(p, "json")) return printJson(attached ? { ...r, attached } : r);
    console.log(`loaded ${file} into region ${r.region}`);
    printLoaded(r);
    for (const a of attached ?? [])
      console.log(
        a.link
          ? `link ${a.link.linkId}: program ${a.link.progId} (${a.program}) attached to ${a.link.targetType} target ${a.link.targetId} (${JSON.stringify(a.link.arg)})`
          : `${a.program}: not attached: ${a.skipped}`,
      );
  },
};
