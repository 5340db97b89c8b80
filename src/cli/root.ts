// The top of the command tree: `bpftime` itself (its description, options and
// examples); the commands below it are the table in commands.ts.
import type { Command } from "./command.ts";

export const rootCommand: Command = {
  name: "bpftime",
  summary: "userspace eBPF runtime: run, load and attach eBPF programs inside ordinary processes",
  description:
    "bpftime — userspace eBPF runtime and extension framework.\n" +
    "eBPF programs compiled with clang -target bpf run JIT-compiled inside ordinary processes\n" +
    "(an nginx worker, any binary hooked with uprobes) with maps in shared memory.",
  options: {
    version: { type: "boolean", short: "V", description: "print the version" },
  },
  examples: [
    "bpftime load examples/build/url_filter.bpf.o",
    "bpftime attach url_filter nginx --prefix /aaaa",
    "bpftime run examples/build/checksum.bpf.o --engine jit",
    "bpftime start -- ./app",
  ],
};
