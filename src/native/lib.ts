// Loads libbpftime.so. In `bun run`/`bun test` the import below resolves to
// native/build/libbpftime.so; in the compiled dist/bpftime it is embedded in
// the binary (Bun's file embedding) and dlopen reads it from there, so a copy
// of dist/bpftime alone works anywhere.
//
// Every symbol TypeScript uses is declared in one of the src/native/*.ts
// files next to this one; this file owns the handle and the log callback.
import { dlopen, JSCallback, FFIType, type FFIFunction, CString } from "bun:ffi";
import libPath from "../../native/build/libbpftime.so" with { type: "file" };
import { log } from "../log.ts";
import { BpftimeError } from "../errors.ts";

type Symbols = Record<string, FFIFunction>;

const baseSymbols = {
  bpftime_log_set_callback: { args: [FFIType.function], returns: FFIType.void },
  bpftime_log_set_level: { args: [FFIType.i32], returns: FFIType.void },
  bpftime_native_version: { args: [], returns: FFIType.cstring },
} satisfies Symbols;

let logCallback: JSCallback | undefined;

/** Opens libbpftime with the given symbol declarations (each binding file calls this once). */
export function openLibrary<S extends Symbols>(symbols: S) {
  try {
    return dlopen(libPath, symbols);
  } catch (e) {
    throw new BpftimeError(
      "internal",
      `cannot load the native library ${libPath}: ${(e as Error).message}; rebuild with \`npm run build\``,
    );
  }
}

const base = openLibrary(baseSymbols);

/** Routes the C data plane's log lines through the TypeScript logger. */
export function installNativeLogger(level: number): void {
  if (!logCallback) {
    logCallback = new JSCallback(
      (lvl: number, msg: number) => log(lvl, new CString(msg as never).toString()),
      { args: [FFIType.i32, FFIType.ptr], returns: FFIType.void },
    );
    base.symbols.bpftime_log_set_callback(logCallback.ptr!);
  }
  base.symbols.bpftime_log_set_level(level);
}

/** The version the native library was built with (package.json's at build time). */
export function nativeVersion(): string {
  return String(base.symbols.bpftime_native_version());
}

export { libPath };
