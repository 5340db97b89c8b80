// bun:ffi face of the uprobe symbol resolver (native/attach/elf_symbols.h):
// the same ELF lookup the agent does inside a process, used by `bpftime
// attach` to refuse a target the agent could never hook.
import { FFIType, ptr } from "bun:ffi";
import { nativeError, openLibrary } from "./lib.ts";

const { ptr: P } = FFIType;

const lib = openLibrary({
  bpftime_elf_lookup_symbol: { args: [P, P, P, P, P], returns: FFIType.i32 },
});

export interface ElfSymbol {
  /** st_value: the symbol's virtual address as the file says. */
  value: bigint;
  /** st_size in bytes (0: unknown). */
  size: bigint;
  /** STT_GNU_IFUNC: the value is the resolver, not the function. */
  ifunc: boolean;
}

/** Looks a function symbol up in ELF file `path`: the symbol, or {errno, message}. */
export function lookupElfSymbol(
  path: string,
  symbol: string,
): ElfSymbol | { errno: number; message: string } {
  const enc = new TextEncoder();
  const p = enc.encode(path + "\0");
  const sym = enc.encode(symbol + "\0");
  const vals = new BigUint64Array(2);
  const ifunc = new Int32Array(1);
  const rc = lib.symbols.bpftime_elf_lookup_symbol(
    ptr(p),
    ptr(sym),
    ptr(vals),
    ptr(vals, 8),
    ptr(ifunc),
  );
  if (rc < 0) {
    const e = nativeError(rc);
    return { errno: e.errno, message: e.message };
  }
  return { value: vals[0]!, size: vals[1]!, ifunc: ifunc[0] !== 0 };
}
