// bun:ffi face of the LLVM tier's loader (native/vm/native_code.h): map a
// blob made by src/llvm for a loaded VM and run it.
import { FFIType, ptr, type Pointer } from "bun:ffi";
import { openLibrary } from "./lib.ts";
import { BpftimeError } from "../errors.ts";

const lib = openLibrary({
  ebpf_native_load: {
    args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr],
    returns: FFIType.i32,
  },
  ebpf_native_run: {
    args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr],
    returns: FFIType.void,
  },
  ebpf_native_size: { args: [FFIType.ptr], returns: FFIType.u64 },
  ebpf_native_free: { args: [FFIType.ptr], returns: FFIType.void },
  ebpf_vm_error: { args: [FFIType.ptr], returns: FFIType.cstring },
});

/** The LLVM tier's code for one loaded VM. The VM must outlive it; call close() when done. */
export class NativeCode {
  private handle: Pointer | null;

  /** Maps `blob` for the program loaded in `vm` (a Vm's .pointer). */
  constructor(vm: Pointer, blob: Uint8Array) {
    const out = new BigUint64Array(1);
    if (lib.symbols.ebpf_native_load(vm, ptr(blob), blob.length, ptr(out)) < 0)
      throw new BpftimeError("bad_bytecode", String(lib.symbols.ebpf_vm_error(vm)));
    this.handle = Number(out[0]) as unknown as Pointer;
  }

  /** Runs once with r1 = mem, r2 = mem.length; returns r0. */
  run(mem: Uint8Array | null): bigint {
    if (!this.handle) throw new BpftimeError("internal", "native code used after close");
    const ret = new BigUint64Array(1);
    const memPtr = mem && mem.length ? ptr(mem) : null;
    lib.symbols.ebpf_native_run(this.handle, memPtr, mem?.length ?? 0, ptr(ret));
    return ret[0]!;
  }

  get size(): number {
    return this.handle ? Number(lib.symbols.ebpf_native_size(this.handle)) : 0;
  }

  close(): void {
    if (this.handle) lib.symbols.ebpf_native_free(this.handle);
    this.handle = null;
  }
}
