// bun:ffi face of the eBPF VM (native/vm/ebpf_vm.h): load bytecode, run it on
// the interpreter or the JIT, read the JIT's machine code.
import { FFIType, ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import { openLibrary } from "./lib.ts";
import { BpftimeError } from "../errors.ts";

const lib = openLibrary({
  ebpf_vm_create: { args: [], returns: FFIType.ptr },
  ebpf_vm_destroy: { args: [FFIType.ptr], returns: FFIType.void },
  ebpf_vm_error: { args: [FFIType.ptr], returns: FFIType.cstring },
  ebpf_vm_load: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  ebpf_vm_set_budget: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.void },
  ebpf_vm_num_insts: { args: [FFIType.ptr], returns: FFIType.u64 },
  ebpf_vm_compile: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  ebpf_vm_jit_code: { args: [FFIType.ptr], returns: FFIType.ptr },
  ebpf_vm_jit_size: { args: [FFIType.ptr], returns: FFIType.u64 },
  ebpf_vm_run_repeat: {
    args: [
      FFIType.ptr,
      FFIType.i32,
      FFIType.ptr,
      FFIType.u64,
      FFIType.u64,
      FFIType.ptr,
      FFIType.ptr,
    ],
    returns: FFIType.i32,
  },
});

export type Engine = "interp" | "jit";

export interface RunResult {
  returnValue: bigint;
  /** Average ns per run over `repeat` runs, measured in C around the runs alone. */
  averageNs: number;
  repeat: number;
}

/** One loaded program. Call close() when done (frees the VM and its JIT code). */
export class Vm {
  private handle: Pointer | null;

  constructor(code: Uint8Array, opts: { budget?: bigint } = {}) {
    const h = lib.symbols.ebpf_vm_create() as Pointer | null;
    if (!h) throw new BpftimeError("internal", "cannot create a VM: out of memory");
    this.handle = h;
    if (opts.budget !== undefined) lib.symbols.ebpf_vm_set_budget(h, opts.budget);
    if (code.length === 0) {
      this.close();
      throw new BpftimeError("bad_bytecode", "the program is empty: expected 8-byte instructions");
    }
    const err = lib.symbols.ebpf_vm_load(h, ptr(code), code.length);
    if (err < 0) {
      const msg = this.error();
      this.close();
      throw new BpftimeError("bad_bytecode", msg);
    }
  }

  /** Raw handle for other native bindings (runtime set-up of helpers and maps). */
  get pointer(): Pointer {
    if (!this.handle) throw new BpftimeError("internal", "VM used after close");
    return this.handle;
  }

  private error(): string {
    return String(lib.symbols.ebpf_vm_error(this.handle));
  }

  run(mem: Uint8Array | null, engine: Engine, repeat = 1): RunResult {
    const h = this.pointer;
    const out = new BigUint64Array(2);
    // An empty buffer still needs a valid pointer for ptr(); pass null instead.
    const memPtr = mem && mem.length ? ptr(mem) : null;
    const err = lib.symbols.ebpf_vm_run_repeat(
      h,
      engine === "jit" ? 1 : 0,
      memPtr,
      mem?.length ?? 0,
      repeat,
      ptr(out),
      ptr(out, 8),
    );
    if (err < 0) {
      const msg = this.error();
      throw new BpftimeError(
        engine === "jit" && /not supported|ENOTSUP/i.test(msg) ? "unsupported" : "vm",
        msg,
      );
    }
    return { returnValue: out[0]!, averageNs: Number(out[1]!) / Math.max(1, repeat), repeat };
  }

  /** JIT-compiles (once) and returns a copy of the machine code. */
  jitCode(): Uint8Array {
    const h = this.pointer;
    const fn = new BigUint64Array(1);
    if (lib.symbols.ebpf_vm_compile(h, ptr(fn)) < 0) throw new BpftimeError("vm", this.error());
    const size = Number(lib.symbols.ebpf_vm_jit_size(h));
    const code = lib.symbols.ebpf_vm_jit_code(h);
    if (!code || size === 0) return new Uint8Array();
    return new Uint8Array(toArrayBuffer(code, 0, size).slice(0));
  }

  get instructionCount(): number {
    return Number(lib.symbols.ebpf_vm_num_insts(this.pointer));
  }

  close(): void {
    if (this.handle) lib.symbols.ebpf_vm_destroy(this.handle);
    this.handle = null;
  }
}

const disasmLib = openLibrary({
  bpftime_disasm_x86: {
    args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64],
    returns: FFIType.i32,
  },
});

/** x86-64 machine code as objdump-style text (capstone). */
export function disassembleX86(code: Uint8Array): string {
  if (code.length === 0) return "";
  const out = new Uint8Array(code.length * 80 + 64);
  const n = disasmLib.symbols.bpftime_disasm_x86(ptr(code), code.length, ptr(out), out.length);
  if (n < 0) throw new BpftimeError("unsupported", "capstone cannot disassemble x86-64 here");
  return new TextDecoder().decode(out.subarray(0, n));
}

/** JIT-compiles a VM set up elsewhere (e.g. Region.loadVm) and copies its machine code. */
export function jitCodeOf(vm: Pointer): Uint8Array {
  const fn = new BigUint64Array(1);
  if (lib.symbols.ebpf_vm_compile(vm, ptr(fn)) < 0)
    throw new BpftimeError("vm", String(lib.symbols.ebpf_vm_error(vm)));
  const size = Number(lib.symbols.ebpf_vm_jit_size(vm));
  const code = lib.symbols.ebpf_vm_jit_code(vm);
  if (!code || size === 0) return new Uint8Array();
  return new Uint8Array(toArrayBuffer(code, 0, size).slice(0));
}
