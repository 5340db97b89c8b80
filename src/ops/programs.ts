// One program in depth, and objects that arrive as bytes rather than files:
// the HTTP API's GET /v1/programs/:id and POST /v1/programs (the CLI's
// `bpftime load` reads a file; the server receives the same object in a request).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { BpftimeError } from "../errors.ts";
import type { Region } from "../native/index.ts";
import { decode, disassemble } from "../asm/index.ts";
import { resolveProgram } from "./resolve.ts";
import { programView, type ProgramView } from "./list.ts";
import { loadIntoRegion, type LoadedObject } from "./load.ts";
import { readMeta, writeMeta, type MapMeta, type ProgMeta } from "./metadata.ts";
import { engineFromEnv, jitCodeOfStored, parseEngine, runStored } from "./run.ts";

export interface ProgramDetail extends ProgramView {
  createdNs: string;
  mapIds: number[];
  object: string | null;
  section: string | null;
  signature: string | null;
  verifier: NonNullable<ProgMeta["verifier"]> | null;
  /** llvm-objdump style listing of the stored (verified, context-rewritten) bytecode. */
  disassembly: string;
  /** x86-64 bytes the JIT generates for the stored bytecode, or why it could not tell. */
  jit: { size: number | null; error: string | null };
}

/**
 * JIT size of stored bytecode, compiled in a private VM. Programs that call
 * helpers need the region's helper table, which only the data plane's VM
 * set-up registers; for those the size is null with the reason.
 */
/** JIT size of stored program `id`, compiled with the data plane's set-up (helpers, maps). */
function jitSize(r: Region, id: number): { size: number | null; error: string | null } {
  try {
    return { size: jitCodeOfStored(r, id).length, error: null };
  } catch (e) {
    if (e instanceof BpftimeError) return { size: null, error: e.message };
    throw e;
  }
}

/** One program by id or name: disassembly, JIT size, verifier statistics, maps (GET /v1/programs/:id). */
export function programDetail(r: Region, ref: string): ProgramDetail {
  const id = resolveProgram(r, ref);
  const info = r.program(id);
  const insns = r.programInsns(id);
  const meta = readMeta<ProgMeta>(r.name, "prog", id);
  return {
    ...programView(r, id),
    createdNs: info.createdNs.toString(),
    mapIds: r.programMapIds(id),
    object: meta?.object ?? null,
    section: meta?.section ?? null,
    signature: meta?.signature ?? null,
    verifier: meta?.verifier ?? null,
    disassembly: disassemble(decode(insns), { listing: true }).replace(/^\n/, ""),
    jit: jitSize(r, id),
  };
}

/** A client-supplied object name reduced to a harmless file name. */
function uploadName(name: string | undefined): string {
  const base = basename(name ?? "").replace(/[^A-Za-z0-9._+-]/g, "_");
  return base && base !== "." && base !== ".." ? base : "upload.bpf.o";
}

/**
 * `bpftime load` for an object received as bytes: the same verification and
 * storage (loadIntoRegion) through a private temporary file, with the
 * object's name (not the temporary path) in the result, messages and metadata.
 */
export function loadObjectBytes(
  bytes: Uint8Array,
  name: string | undefined,
  regionName: string | undefined,
  opts: Parameters<typeof loadIntoRegion>[2] = {},
): LoadedObject {
  return withUploadedFile(bytes, name, (path, file) => {
    const loaded = loadIntoRegion(path, regionName, opts);
    for (const p of loaded.programs) {
      const m = readMeta<ProgMeta>(loaded.region, "prog", p.id);
      if (m) writeMeta(loaded.region, "prog", p.id, { ...m, object: file });
    }
    for (const mp of loaded.maps) {
      const m = readMeta<MapMeta>(loaded.region, "map", mp.id);
      if (m) writeMeta(loaded.region, "map", mp.id, { ...m, object: file });
    }
    return { ...loaded, file };
  });
}

/**
 * Runs fn on an object received as bytes, written to a private temporary
 * file named after the client's (harmless) file name; the temporary path
 * never shows in an error message (POST /v1/programs, either provider).
 */
export function withUploadedFile<T>(
  bytes: Uint8Array,
  name: string | undefined,
  fn: (path: string, file: string) => T,
): T {
  const file = uploadName(name);
  const dir = mkdtempSync(join(tmpdir(), "bpftime-upload-"));
  const path = join(dir, file);
  const scrub = (s: string) => s.split(path).join(file);
  try {
    writeFileSync(path, bytes, { mode: 0o600 });
    return fn(path, file);
  } catch (e) {
    if (e instanceof BpftimeError) throw new BpftimeError(e.code, scrub(e.message), e.details);
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MAX_TEST_RUN_REPEAT = 10_000;

export interface TestRunResult {
  returnValue: string;
  engine: string;
  repeat: number;
  averageNs: number;
  /** The data buffer after the run, hex. */
  dataOut: string;
}

/**
 * `bpftime run ID --shm NAME --json` with the input given inline: bytes as
 * "hex:…" or UTF-8 text. Repeats are bounded: the run holds the caller's thread.
 */
export function testRunProgram(
  r: Region,
  ref: string,
  o: { hex?: string; text?: string; engine?: string; repeat?: number },
): TestRunResult {
  if (o.hex !== undefined && o.text !== undefined)
    throw new BpftimeError("usage", "give the input as hex or as text, not both");
  let data: Uint8Array | undefined;
  if (o.hex !== undefined) {
    const clean = o.hex.replace(/^hex:/, "").replace(/[\s:]/g, "");
    if (!/^([0-9a-f]{2})*$/i.test(clean))
      throw new BpftimeError("invalid_argument", `input: bad hex bytes "${o.hex.slice(0, 40)}"`);
    data = new Uint8Array(Buffer.from(clean, "hex"));
  } else if (o.text !== undefined) data = new TextEncoder().encode(o.text);
  const repeat = o.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > MAX_TEST_RUN_REPEAT)
    throw new BpftimeError(
      "invalid_argument",
      `repeat must be from 1 to ${MAX_TEST_RUN_REPEAT}; use \`bpftime run\` for longer measurements`,
    );
  const engine = o.engine ? parseEngine(o.engine) : engineFromEnv();
  return runView(
    runStored(r, resolveProgram(r, ref), { engine, repeat, ...(data ? { data } : {}) }),
  );
}

/** A run's outcome as `bpftime run --json` and POST /v1/programs/:id/run show it. */
export function runView(out: {
  returnValue: bigint;
  engine: string;
  repeat: number;
  averageNs: number;
  dataOut: Uint8Array;
}): TestRunResult {
  return {
    returnValue: "0x" + out.returnValue.toString(16),
    engine: out.engine,
    repeat: out.repeat,
    averageNs: out.averageNs,
    dataOut: Buffer.from(out.dataOut).toString("hex"),
  };
}
