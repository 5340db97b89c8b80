// bun:ffi face of the uprobe target resolver (native/attach/elf_symbols.h):
// the one resolver of "BINARY:SYMBOL[+OFF]" and "BINARY:0xADDR[+OFF]" for both
// event providers. The userspace provider resolves inside the hooked process
// (the agent calls bpftime_resolve_uprobe_target there); the kernel provider
// resolves here, to the file and file offset a kernel uprobe takes; `bpftime
// attach` looks symbols up here to refuse a target the agent could never hook.
import { FFIType, ptr } from "bun:ffi";
import { nativeError, openLibrary } from "./lib.ts";

const { ptr: P, u64, i32 } = FFIType;

const lib = openLibrary({
  bpftime_elf_lookup_symbol: { args: [P, P, P, P, P], returns: i32 },
  bpftime_resolve_uprobe_file: { args: [P, u64, P, u64, P], returns: i32 },
  bpftime_resolve_uprobe_target: { args: [P, u64, P], returns: i32 },
  bpftime_find_binary_file: { args: [P, P, u64], returns: i32 },
  bpftime_elf_describe_offset: { args: [P, u64, P, u64, P], returns: i32 },
  bpftime_usdt_sites: { args: [P, P, P, P, i32], returns: i32 },
});
const s = lib.symbols;

const PATH_MAX = 4096;
const enc = new TextEncoder();
const cstr = (v: string) => enc.encode(v + "\0");
const text = (buf: Uint8Array) => {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
};

/** "BINARY:SYMBOL[+OFF]" → the file and file offset a kernel uprobe takes (IFUNCs: the implementation). */
export function resolveUprobeFile(arg: string): { file: string; offset: number } {
  const a = enc.encode(arg);
  const path = new Uint8Array(PATH_MAX);
  const offset = new BigUint64Array(1);
  const rc = s.bpftime_resolve_uprobe_file(a, a.length, path, PATH_MAX, offset);
  if (rc < 0) throw nativeError(rc);
  return { file: text(path), offset: Number(offset[0]) };
}

/** The address `arg` resolves to in this process, as the userspace provider's agent resolves it. */
export function resolveUprobeAddress(arg: string): { addr: bigint; file: string } {
  const a = enc.encode(arg);
  // struct bpftime_resolved: addr, size, bias (u64), not_loaded (int), path[PATH_MAX],
  // func, func_size (u64, from offset 28 + PATH_MAX rounded up to 8)
  const out = new Uint8Array(28 + PATH_MAX + 4 + 16);
  const rc = s.bpftime_resolve_uprobe_target(a, a.length, out);
  if (rc < 0) throw nativeError(rc);
  const view = new DataView(out.buffer);
  return { addr: view.getBigUint64(0, true), file: text(out.subarray(28)) };
}

/**
 * The file BINARY names for a probe on a file: a path, a file of that name
 * mapped in this process, a program on $PATH, or a library in the dynamic
 * linker's default directories.
 */
export function findBinaryFile(binary: string): string {
  const path = new Uint8Array(PATH_MAX);
  const rc = s.bpftime_find_binary_file(cstr(binary), path, PATH_MAX);
  if (rc < 0) throw nativeError(rc);
  return text(path);
}

/** "symbol" and the distance into it for a file offset of `file`; undefined where none covers it. */
export function describeFileOffset(
  file: string,
  offset: number,
): { symbol: string; delta: number } | undefined {
  const name = new Uint8Array(256);
  const delta = new BigUint64Array(1);
  const rc = s.bpftime_elf_describe_offset(cstr(file), BigInt(offset), name, name.length, delta);
  return rc < 0 ? undefined : { symbol: text(name), delta: Number(delta[0]) };
}

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

/** One site of a USDT probe (native/attach/elf_symbols.h, struct bpftime_usdt_site). */
export interface UsdtSite {
  /** Virtual address of the site as the file says (prelink-adjusted). */
  pc: bigint;
  /** Virtual address of the probe's 2-byte semaphore; 0n = none. */
  semaphore: bigint;
  /** Its arguments as libbpf's `struct __bpf_usdt_spec` (208 bytes, usdt_cookie 0). */
  spec: Uint8Array;
}

const USDT_SPEC_SIZE = 208;
const USDT_SITE_SIZE = 16 + USDT_SPEC_SIZE;

/** The sites of USDT probe PROVIDER:NAME in ELF file `path`, in note order (the order the agent numbers them). */
export function usdtSites(path: string, provider: string, name: string): UsdtSite[] {
  const args = [cstr(path), cstr(provider), cstr(name)] as const;
  const n = s.bpftime_usdt_sites(...args, null, 0);
  if (n < 0) throw nativeError(n);
  const out = new Uint8Array(Math.max(1, n) * USDT_SITE_SIZE);
  const rc = s.bpftime_usdt_sites(...args, out, n);
  if (rc < 0) throw nativeError(rc);
  const v = new DataView(out.buffer);
  return Array.from({ length: n }, (_, i) => ({
    pc: v.getBigUint64(i * USDT_SITE_SIZE, true),
    semaphore: v.getBigUint64(i * USDT_SITE_SIZE + 8, true),
    spec: out.slice(i * USDT_SITE_SIZE + 16, (i + 1) * USDT_SITE_SIZE),
  }));
}
