import type { Command } from "./command.ts";
import { flag, jsonOption, needPositional, str } from "./command.ts";
import { buildProgram } from "../ops/index.ts";
import { printJson } from "./output.ts";

export const buildCommand: Command = {
  name: "build",
  summary: "compile an eBPF C program (clang -target bpf with the right flags and headers)",
  usage: "PROG.bpf.c [-o OUT] [--vmlinux] [-I DIR] [-D NAME[=VALUE]] [--json]",
  description:
    "Compile PROG.bpf.c into an eBPF object as the examples are built: clang -O2 -g -target\n" +
    'bpf, the context headers this bpftime ships (#include "bpftime/nginx_url_filter.h"),\n' +
    "libbpf's headers (<bpf/bpf_helpers.h>, from libbpf-dev) and, with --vmlinux, the running\n" +
    'kernel\'s vmlinux.h generated from its BTF (#include "vmlinux.h"). Default output:\n' +
    "PROG.bpf.o beside the source.",
  options: {
    out: { type: "string", short: "o", arg: "OUT", description: "the object to write" },
    vmlinux: {
      type: "boolean",
      description: "generate and include the running kernel's vmlinux.h",
    },
    include: {
      type: "string",
      short: "I",
      arg: "DIR",
      multiple: true,
      description: "another include directory",
    },
    define: {
      type: "string",
      short: "D",
      arg: "NAME[=VALUE]",
      multiple: true,
      description: "a preprocessor definition",
    },
    ...jsonOption,
  },
  examples: [
    "bpftime build examples/url_filter.bpf.c -o /tmp/url_filter.bpf.o",
    "bpftime build examples/opensnoop.bpf.c -o /tmp/opensnoop.bpf.o && bpftime load /tmp/opensnoop.bpf.o --attach",
  ],
  run(p) {
    const source = needPositional(p, 0, "PROG.bpf.c", "bpftime build");
    const r = buildProgram(source, {
      out: str(p, "out"),
      vmlinux: flag(p, "vmlinux"),
      includes: p.values.include as string[] | undefined,
      defines: p.values.define as string[] | undefined,
    });
    if (flag(p, "json")) return printJson(r);
    console.log(`built ${r.object}`);
  },
};
