// Reading eBPF objects from disk and choosing a program in them: shared by
// `bpftime obj show`, `disasm`, `run`, `verify` and `load`.
import { BpftimeError } from "../errors.ts";
import { loadObject, type ObjectSpec, type ProgramSpec } from "../elf/object.ts";
import { readInputFile } from "./run.ts";

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

export function isElf(bytes: Uint8Array): boolean {
  return ELF_MAGIC.every((b, i) => bytes[i] === b);
}

export function readObject(path: string): ObjectSpec {
  const bytes = readInputFile(path, "object file");
  if (!isElf(bytes)) {
    throw new BpftimeError(
      "bad_object",
      `${path} is not an ELF object (compile with clang -target bpf, or pass --raw for raw bytecode)`,
    );
  }
  return loadObject(bytes, path); // its errors already name the file
}

/** Picks one program by --program name or --section; the only one if neither is given. */
export function selectProgram(
  spec: ObjectSpec,
  sel: { program?: string; section?: string },
  file: string,
): ProgramSpec {
  let progs = spec.programs;
  if (sel.program) progs = progs.filter((p) => p.name === sel.program);
  if (sel.section) progs = progs.filter((p) => p.section === sel.section);
  const names = spec.programs.map((p) => `${p.name} (${p.section})`).join(", ");
  if (progs.length === 0) {
    const what = sel.program
      ? `program "${sel.program}"`
      : sel.section
        ? `section "${sel.section}"`
        : "program";
    throw new BpftimeError(
      "not_found",
      `${file}: no ${what}${spec.programs.length ? `; it has: ${names}` : ": the object has no programs"}`,
    );
  }
  if (progs.length > 1) {
    throw new BpftimeError(
      "usage",
      `${file} has ${progs.length} programs (${names}): choose one with --program NAME`,
    );
  }
  return progs[0]!;
}
