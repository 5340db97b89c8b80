// "BINARY:SYMBOL[+OFF]" → the file and file offset a kernel uprobe takes,
// through the same C resolver the userspace provider uses in the hooked
// process (native/attach/elf_symbols.h): the same binary names, the same
// symbols, and an IFUNC resolves to the implementation the dynamic linker
// picks on this machine in both providers.
import { basename } from "node:path";
import { BpftimeError } from "../../errors.ts";
import {
  describeFileOffset,
  findBinaryFile,
  NativeError,
  resolveUprobeFile,
} from "../../native/index.ts";

export interface ResolvedTarget {
  /** As given: "libc.so.6:malloc". */
  arg: string;
  file: string;
  /** File offset the uprobe goes to. */
  offset: number;
}

/** "BINARY:SYMBOL[+OFF]" or "BINARY:0xADDR[+OFF]" → file and file offset. */
export function resolveUprobeTarget(arg: string): ResolvedTarget {
  try {
    return { arg, ...resolveUprobeFile(arg) };
  } catch (e) {
    if (e instanceof NativeError)
      throw new BpftimeError(
        e.code,
        `uprobe target ${arg}: ${e.message.replace(/^uprobe target "[^"]*": /, "")}`,
      );
    throw e;
  }
}

/** "libc.so.6" / "libc" / "/usr/bin/ls" / "ls" → an absolute file path (as the resolver finds it). */
export function resolveBinary(binary: string): string {
  try {
    return findBinaryFile(binary);
  } catch (e) {
    if (e instanceof NativeError) throw new BpftimeError(e.code, `uprobe target ${e.message}`);
    throw e;
  }
}

/** "file:symbol+0xoff" for a file offset (what `list` shows), best effort. */
export function describeOffset(file: string, offset: number): string {
  const short = basename(file);
  const at = describeFileOffset(file, offset);
  if (!at) return `${short}:0x${offset.toString(16)}`;
  return `${short}:${at.symbol}${at.delta ? `+0x${at.delta.toString(16)}` : ""}`;
}
