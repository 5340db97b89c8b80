// Reading what the user names on the command line or uploads: input files
// (objects, raw bytecode, run data) with one clear error each, and eBPF
// objects parsed by the ELF loader. Every operation that reads a file comes
// here, so no operation needs another's module just to open a file.
import { readFileSync } from "node:fs";
import { BpftimeError } from "../errors.ts";
import { loadObject, type ObjectSpec } from "../elf/index.ts";

/** The bytes of `path`; `what` ("object file", "data file") names it in errors. */
export function readInputFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT")
      throw new BpftimeError("not_found", `${what} ${path} does not exist`);
    if (err.code === "EISDIR")
      throw new BpftimeError("invalid_argument", `${what} ${path} is a directory`);
    throw new BpftimeError("io", `cannot read ${what} ${path}: ${err.message}`);
  }
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** Does `bytes` start with the ELF magic? */
export function isElf(bytes: Uint8Array): boolean {
  return ELF_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Reads and parses the eBPF object `path`; a file that is not ELF is refused
 * with `notElf` appended to "PATH is not an ELF object" (what to do instead).
 */
export function readObjectFile(
  path: string,
  notElf: string,
): { bytes: Uint8Array; spec: ObjectSpec } {
  const bytes = readInputFile(path, "object file");
  if (!isElf(bytes)) throw new BpftimeError("bad_object", `${path} is not an ELF object${notElf}`);
  return { bytes, spec: loadObject(bytes, path) }; // its errors already name the file
}
