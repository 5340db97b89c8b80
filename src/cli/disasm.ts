import { type Command, flag, jsonOption, needPositional, str } from "./command.ts";
import { printJson } from "./output.ts";
import { type DisasmNames, decode, disassemble } from "../asm/index.ts";
import { disasmNames } from "../verifier/index.ts";
import { isElf, readObject, selectProgram } from "../ops/index.ts";
import { jitCodeOfStored, readInputFile, withTemporaryLoad } from "../ops/index.ts";
import { Vm, disassembleX86 } from "../native/index.ts";

export const disasmCommand: Command = {
  name: "disasm",
  summary: "print a program's bytecode (or, with --jited, its x86-64 JIT code)",
  usage: "FILE [--raw] [--program NAME] [--section NAME] [--jited] [--json]",
  description:
    "Print a program's instructions as llvm-objdump does. FILE is an ELF object (every\n" +
    "program, or the one chosen with --program/--section) or, with --raw, little-endian\n" +
    "8-byte instructions. With --jited, print the x86-64 code the JIT generates (capstone).",
  options: {
    raw: { type: "boolean", description: "FILE is raw bytecode, not an ELF object" },
    program: { type: "string", arg: "NAME", description: "only this program (function name)" },
    section: { type: "string", arg: "NAME", description: "only the program in this section" },
    jited: { type: "boolean", description: "print the JIT's x86-64 code instead" },
    ...jsonOption,
  },
  examples: [
    "bpftime disasm examples/build/url_filter.bpf.o",
    "bpftime disasm examples/build/checksum.bpf.o --jited",
  ],
  async run(p) {
    const file = needPositional(p, 0, "FILE", "bpftime disasm");
    const bytes = readInputFile(file, "program file");
    const progs: Array<{ name: string; code: Uint8Array; fn: string; names?: DisasmNames }> = [];
    const raw = flag(p, "raw") || !isElf(bytes);
    if (raw) {
      progs.push({ name: file, code: bytes, fn: "" });
    } else {
      const spec = readObject(file);
      const sel = { program: str(p, "program"), section: str(p, "section") };
      const chosen = sel.program || sel.section ? [selectProgram(spec, sel, file)] : spec.programs;
      for (const prog of chosen)
        progs.push({
          name: `${prog.name} (${prog.section})`,
          code: prog.instructions,
          fn: prog.name,
          names: disasmNames(spec.maps),
        });
    }
    // Text per program; printed as it comes, or collected for --json.
    const json = flag(p, "json");
    const listings: Array<{ program: string; lines: string[] }> = [];
    const out = {
      write: (text: string) =>
        json
          ? listings.at(-1)!.lines.push(...text.split("\n").filter(Boolean))
          : process.stdout.write(text),
    };
    for (const [i, prog] of progs.entries()) {
      if (json) listings.push({ program: prog.name, lines: [] });
      else if (progs.length > 1) console.log(`${i ? "\n" : ""}${prog.name}:`);
      if (flag(p, "jited") && raw) {
        const vm = new Vm(prog.code);
        try {
          out.write(disassembleX86(vm.jitCode()));
        } finally {
          vm.close();
        }
      } else if (flag(p, "jited")) {
        // Objects are verified and set up as the data plane does (helpers, maps).
        const code = await withTemporaryLoad(file, { program: prog.fn }, (r, id) =>
          jitCodeOfStored(r, id),
        );
        out.write(disassembleX86(code));
      } else {
        const listing = disassemble(decode(prog.code), { listing: true, names: prog.names });
        out.write(listing.replace(/^\n/, ""));
      }
    }
    if (json) printJson(listings);
  },
};
