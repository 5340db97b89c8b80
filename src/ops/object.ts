// Reading eBPF objects from disk (files.ts) and choosing a program in them: shared by
// `bpftime obj show`, `disasm`, `run`, `verify` and `load`.
import { BpftimeError } from "../errors.ts";
import type { ObjectSpec, ObjectSummary, ProgramSpec } from "../elf/index.ts";
import { objectSummary } from "../elf/index.ts";
import { programTypeOf } from "../attach/index.ts";
import { readObjectFile } from "./files.ts";

/**
 * What `bpftime obj show` prints of an object: its programs (with the type
 * `load` and `list` give them, not the ELF section's kprobe for a uprobe),
 * maps and license.
 */
export function objectView(spec: ObjectSpec): ObjectSummary {
  const s = objectSummary(spec);
  return {
    ...s,
    programs: s.programs.map((p, i) => ({ ...p, type: programTypeOf(spec.programs[i]!) })),
  };
}

/** The object at `path`, for commands that also take raw bytecode (--raw). */
export function readObject(path: string): ObjectSpec {
  return readObjectFile(path, " (compile with clang -target bpf, or pass --raw for raw bytecode)")
    .spec;
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
