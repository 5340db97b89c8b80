// Running a program once or many times: shared by `bpftime run` and the HTTP API.
//   raw bytecode      unverified ISA test mode: r1 = data, r2 = its length
//   an ELF object     verified and loaded into a private temporary region,
//                     then run like BPF_PROG_TEST_RUN (context built per type)
//   a stored program  by id, in a region, on that region's maps — so several
//                     processes can run the same program on the same maps
import { readdirSync } from "node:fs";
import { dirname } from "node:path";
import { BpftimeError } from "../errors.ts";
import { Vm, jitCodeOf, type Engine } from "../native/index.ts";
import { Region, regionPath, removeRegion } from "../native/index.ts";
import { removeMeta } from "./metadata.ts";
import { loadIntoRegion, readObjectBytes } from "./load.ts";
import { selectProgram } from "./object.ts";
import { runUbpf, ubpfLibrary } from "../native/index.ts";

export type EngineName = Engine | "ubpf";

export interface RunOutcome {
  returnValue: bigint;
  averageNs: number;
  repeat: number;
  engine: EngineName;
  /** The data buffer after the run(s). */
  dataOut: Uint8Array;
}

/** The engine $BPFTIME_VM names (interp, jit, ubpf); jit when unset. */
export function engineFromEnv(): EngineName {
  const v = process.env.BPFTIME_VM;
  if (v === undefined || v === "") return "jit";
  return parseEngine(v);
}

/**
 * The engine for raw (unverified) bytecode. Only the interpreters check
 * every memory access at run time (ours, and ubpf's ubpf_exec); the JIT
 * relies on the verifier, so on raw bytecode a wild store would hit the
 * process's memory. Raw runs default to the interpreter ($BPFTIME_VM still
 * chooses), and the JIT needs `unverified` — the CLI's --unverified — which
 * says so.
 */
export function rawEngine(chosen: EngineName | undefined, unverified: boolean): EngineName {
  const fromEnv = process.env.BPFTIME_VM ? parseEngine(process.env.BPFTIME_VM) : undefined;
  const engine = chosen ?? fromEnv ?? "interp";
  if (engine === "jit" && !unverified)
    throw new BpftimeError(
      "usage",
      "raw bytecode is not verified and the JIT does not bounds-check memory accesses: run it " +
        "on the interpreter (the default for --raw) or add --unverified to JIT it anyway",
    );
  return engine;
}

/** "interp" | "jit" | "ubpf", or a usage error. */
export function parseEngine(v: string): EngineName {
  if (v === "interp" || v === "jit" || v === "ubpf") return v;
  throw new BpftimeError("usage", `unknown engine "${v}": choose interp, jit or ubpf`);
}

/** ubpf runs raw bytecode only: it has none of our helpers, maps or contexts. */
function noUbpf(engine: EngineName): asserts engine is Engine {
  if (engine === "ubpf") {
    ubpfLibrary() ?? runUbpf(new Uint8Array(), new Uint8Array(), 0); // throws the "not found" error
    throw new BpftimeError(
      "unsupported",
      "engine ubpf runs raw bytecode only (--raw): objects need bpftime's helpers and maps; use --engine jit",
    );
  }
}

/** Runs raw bytecode (no ELF, not verified) once or `repeat` times on `data` (`bpftime run --raw`). */
export function runRaw(opts: {
  code: Uint8Array;
  data?: Uint8Array;
  engine: EngineName;
  repeat: number;
}): RunOutcome {
  if (opts.code.length % 8 !== 0) {
    throw new BpftimeError(
      "bad_bytecode",
      `the program is ${opts.code.length} bytes, not a whole number of 8-byte instructions`,
    );
  }
  const data = opts.data ? new Uint8Array(opts.data) : new Uint8Array(0);
  if (opts.engine === "ubpf") {
    // ubpf's timing includes one FFI call per run: figures are not comparable.
    return {
      ...runUbpf(opts.code, data, Math.max(1, opts.repeat)),
      repeat: opts.repeat,
      engine: "ubpf",
      dataOut: data,
    };
  }
  const vm = new Vm(opts.code);
  try {
    const r = vm.run(data, opts.engine, opts.repeat);
    return { ...r, engine: opts.engine, dataOut: data };
  } finally {
    vm.close();
  }
}

/** Runs program `id` of an open region on a private copy of `data`. */
export function runStored(
  r: Region,
  id: number,
  opts: { data?: Uint8Array; engine: EngineName; repeat: number },
): RunOutcome {
  noUbpf(opts.engine);
  const data = opts.data ? new Uint8Array(opts.data) : new Uint8Array(0);
  const repeat = Math.max(1, opts.repeat);
  const res = r.testRun(id, opts.engine === "jit", data, repeat);
  return {
    returnValue: res.returnValue,
    averageNs: Number(res.totalNs) / repeat,
    repeat,
    engine: opts.engine,
    dataOut: data,
  };
}

/** Temporary regions are named run-<pid>-<random>: the pid says whose they are. */
const TEMP_REGION = /^bpftime-(run-(\d+)-[a-z0-9]+)(\.meta)?$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Removes the temporary regions (and their metadata) of runs whose process
 * is gone: a run killed during its load (SIGKILL runs no cleanup) leaves
 * them behind, and the next run takes them away. A reused pid only delays
 * that until the process holding it ends.
 */
export function reapStaleRunRegions(): string[] {
  const reaped = new Set<string>();
  let entries: string[];
  try {
    entries = readdirSync(dirname(regionPath("run")));
  } catch {
    return [];
  }
  for (const entry of entries) {
    const m = TEMP_REGION.exec(entry);
    if (!m || Number(m[2]) === process.pid || processAlive(Number(m[2]))) continue;
    try {
      if (!m[3]) removeRegion(m[1]!);
    } catch {
      /* removed meanwhile by another run's reaper */
    }
    removeMeta(m[1]!);
    reaped.add(m[1]!);
  }
  return [...reaped];
}

/**
 * Verifies and stores one program of an object in a private temporary region,
 * calls fn with it, and removes the region: the same set-up (helpers, maps,
 * context) as the data plane, for one-off runs and JIT listings of files.
 *
 * A crashed or killed run must not leave the region behind: its file is
 * unlinked as soon as the program is loaded (our mapping keeps it alive for
 * the run), and what a run killed during the load leaves is reaped by the
 * next one (reapStaleRunRegions).
 */
export async function withTemporaryLoad<T>(
  file: string,
  sel: { program?: string; section?: string },
  fn: (r: Region, progId: number, program: string) => T,
): Promise<T> {
  const { spec } = readObjectBytes(file);
  const prog = selectProgram(spec, sel, file);
  reapStaleRunRegions();
  const name = `run-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const region = Region.create(name, 16 << 20);
  let linked = true;
  try {
    const loaded = loadIntoRegion(file, name, { programs: [prog.name] });
    removeRegion(name);
    linked = false;
    return fn(region, loaded.programs[0]!.id, prog.name);
  } finally {
    region.close();
    if (linked) removeRegion(name);
    removeMeta(name);
  }
}

/** Verifies and runs one program of an object in a temporary region removed afterwards. */
export async function runObject(
  file: string,
  sel: { program?: string; section?: string },
  opts: { data?: Uint8Array; engine: EngineName; repeat: number },
): Promise<RunOutcome & { program: string }> {
  noUbpf(opts.engine);
  return withTemporaryLoad(file, sel, (r, id, program) => ({ ...runStored(r, id, opts), program }));
}

/** The x86-64 code the JIT generates for stored program `id`, with the data plane's set-up. */
export function jitCodeOfStored(r: Region, id: number): Uint8Array {
  const vm = r.loadVm(id);
  try {
    return jitCodeOf(vm);
  } finally {
    r.unloadVm(id);
  }
}
