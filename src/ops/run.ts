// Running a program once or many times: shared by `bpftime run` and the HTTP API.
import { readFileSync } from "node:fs";
import { BpftimeError } from "../errors.ts";
import { Vm, type Engine } from "../native/vm.ts";

export type EngineName = Engine | "ubpf";

export interface RunOptions {
  /** Raw little-endian 8-byte instructions (unverified: an ISA test mode). */
  code: Uint8Array;
  /** Bytes r1 points to (a private copy); r2 holds their length. */
  data?: Uint8Array;
  engine: EngineName;
  repeat: number;
}

export interface RunOutcome {
  returnValue: bigint;
  averageNs: number;
  repeat: number;
  engine: EngineName;
  /** The data buffer after the run(s). */
  dataOut: Uint8Array;
}

export function engineFromEnv(): EngineName {
  const v = process.env.BPFTIME_VM;
  if (v === undefined || v === "") return "jit";
  return parseEngine(v);
}

export function parseEngine(v: string): EngineName {
  if (v === "interp" || v === "jit" || v === "ubpf") return v;
  throw new BpftimeError("usage", `unknown engine "${v}": choose interp, jit or ubpf`);
}

export function runRaw(opts: RunOptions): RunOutcome {
  if (opts.code.length % 8 !== 0) {
    throw new BpftimeError(
      "bad_bytecode",
      `the program is ${opts.code.length} bytes, not a whole number of 8-byte instructions`,
    );
  }
  if (opts.engine === "ubpf") {
    throw new BpftimeError(
      "unsupported",
      "engine ubpf: libubpf.so was not found on this machine; install ubpf or use --engine jit",
    );
  }
  const data = opts.data ? new Uint8Array(opts.data) : new Uint8Array(0);
  const vm = new Vm(opts.code);
  try {
    const r = vm.run(data, opts.engine, opts.repeat);
    return { ...r, engine: opts.engine, dataOut: data };
  } finally {
    vm.close();
  }
}

export function readInputFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT")
      throw new BpftimeError("not_found", `${what} ${path} does not exist`);
    throw new BpftimeError("io", `cannot read ${what} ${path}: ${err.message}`);
  }
}
