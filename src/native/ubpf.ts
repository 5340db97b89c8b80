// The optional ubpf backend: a system libubpf.so found at run time runs raw
// bytecode behind the same interface as our VM (`--engine ubpf`,
// BPFTIME_VM=ubpf). libubpf is packaged neither in Debian nor in npm, so it
// is usually absent: then the choice fails with one clear line.
import { dlopen, FFIType, ptr, CString, type Pointer } from "bun:ffi";
import { BpftimeError } from "../errors.ts";

const candidates = [
  process.env.BPFTIME_UBPF_LIB,
  "libubpf.so",
  "libubpf.so.0",
  "/usr/local/lib/libubpf.so",
].filter((x): x is string => !!x);

const symbols = {
  ubpf_create: { args: [], returns: FFIType.ptr },
  ubpf_destroy: { args: [FFIType.ptr], returns: FFIType.void },
  ubpf_load: { args: [FFIType.ptr, FFIType.ptr, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
  ubpf_exec: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
} as const;

type UbpfLib = ReturnType<typeof dlopen<typeof symbols>>;
let cached: UbpfLib | null | undefined;

/** The loaded libubpf, or null when none is installed. */
export function ubpfLibrary(): UbpfLib | null {
  if (cached !== undefined) return cached;
  cached = null;
  for (const c of candidates) {
    try {
      cached = dlopen(c, symbols);
      break;
    } catch {
      /* try the next name */
    }
  }
  return cached;
}

export function ubpfMissingReason(): string | undefined {
  return ubpfLibrary()
    ? undefined
    : "libubpf.so was not found (ubpf is packaged neither in Debian nor in npm)";
}

/** Runs raw bytecode on ubpf's interpreter: r1 = data, r2 = its length. */
export function runUbpf(
  code: Uint8Array,
  data: Uint8Array,
  repeat: number,
): { returnValue: bigint; averageNs: number } {
  const lib = ubpfLibrary();
  if (!lib) {
    throw new BpftimeError(
      "unsupported",
      "engine ubpf: libubpf.so was not found on this machine; install ubpf (or set BPFTIME_UBPF_LIB) or use --engine jit",
    );
  }
  const vm = lib.symbols.ubpf_create() as Pointer | null;
  if (!vm) throw new BpftimeError("internal", "ubpf_create failed");
  try {
    const errp = new BigUint64Array(1);
    if (lib.symbols.ubpf_load(vm, ptr(code), code.length, ptr(errp)) < 0) {
      const msg = errp[0] ? new CString(Number(errp[0]) as Pointer).toString() : "refused";
      throw new BpftimeError("bad_bytecode", `ubpf: ${msg}`);
    }
    const ret = new BigUint64Array(1);
    const mem = data.length ? ptr(data) : null;
    const start = Bun.nanoseconds();
    for (let i = 0; i < repeat; i++) {
      if (lib.symbols.ubpf_exec(vm, mem, data.length, ptr(ret)) < 0)
        throw new BpftimeError("vm", "ubpf: execution failed");
    }
    const ns = Bun.nanoseconds() - start;
    return { returnValue: ret[0]!, averageNs: ns / Math.max(1, repeat) };
  } finally {
    lib.symbols.ubpf_destroy(vm);
  }
}
