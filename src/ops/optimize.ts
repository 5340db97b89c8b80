// `load --opt`: compile a stored program with the LLVM tier (src/llvm) and
// keep the blob in the region, where each process's attach manager finds it
// at instantiate (native/attach/prog_engine.c). The tier refusing a program,
// or no clang, is not an error: the JIT runs it, and the note says why.
import { BpftimeError } from "../errors.ts";
import { compileToNative } from "../llvm/index.ts";
import type { Region } from "../native/index.ts";

export type Engine = "llvm" | "jit";

/** Compiles and stores program id's blob; returns the engine it will run on. */
export function optimize(
  region: Region,
  id: number,
  name: string,
  insns: Uint8Array,
): { engine: Engine; engineNote?: string } {
  let blob: Uint8Array;
  try {
    blob = compileToNative(insns);
  } catch (e) {
    if (!(e instanceof BpftimeError)) throw e;
    return { engine: "jit", engineNote: `program ${name}: ${e.message}` };
  }
  region.setProgramNative(id, blob);
  return { engine: "llvm" };
}

/** The engine a stored program runs on (a blob stored: the LLVM tier). */
export function engineOf(region: Region, id: number): Engine {
  return region.programNativeSize(id) > 0 ? "llvm" : "jit";
}
