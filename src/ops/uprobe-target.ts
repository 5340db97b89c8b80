// `bpftime attach … uprobe|uretprobe`: the target is checked here, before the
// link is written, so a target that can never work is one clear error (exit
// code, HTTP 4xx) instead of a warning on the hooked process's stderr.
import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { BpftimeError } from "../errors.ts";
import { ERRNO, lookupElfSymbol, resolveUprobeFile } from "../native/index.ts";
import { resolveBinary } from "../attach/index.ts";

const FORM = "expected BINARY:SYMBOL[+OFF] or BINARY:0xADDR[+OFF], e.g. /usr/bin/bash:readline";

/**
 * Checks a uprobe target "BINARY:SYMBOL[+OFF]" / "BINARY:0xADDR[+OFF]" and
 * returns it as the link stores it:
 *   - a BINARY with a '/' is made absolute against `cwd` (the hooked process
 *     has its own working directory) and must exist;
 *   - a bare BINARY ("libc.so.6") stays a name, matched against what each
 *     process has loaded, but must name a library or program (the one resolver,
 *     native/attach/elf_symbols.h: loaded here, $PATH, the library directories);
 *   - SYMBOL must be a function in that file, and OFF inside it, at the start
 *     of an instruction.
 */
export function checkUprobeTarget(type: string, arg: string, cwd = process.cwd()): string {
  const colon = arg.lastIndexOf(":");
  const m = colon > 0 ? /^([^+\s]+)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(arg.slice(colon + 1)) : null;
  if (!m) throw new BpftimeError("invalid_argument", `${type} target "${arg}": ${FORM}`);
  const binary = arg.slice(0, colon);
  const symbol = m[1]!;
  const offText = m[2];
  let stored = binary;
  let file: string;
  if (binary.includes("/")) {
    stored = isAbsolute(binary) ? binary : resolve(cwd, binary);
    const rel = stored === binary ? "" : ` (${binary} relative to ${cwd})`;
    if (!existsSync(stored))
      throw new BpftimeError("not_found", `${type} target ${arg}: no such file ${stored}${rel}`);
    if (!statSync(stored).isFile())
      throw new BpftimeError("invalid_argument", `${type} target ${arg}: ${stored} is not a file`);
    file = stored;
  } else {
    file = resolveBinary(binary);
  }
  const target = `${stored}:${symbol}${offText ? `+${offText}` : ""}`;
  if (/^0x[0-9a-f]+$/i.test(symbol)) return target; // an address: the agent checks it is code
  const sym = lookupElfSymbol(file, symbol);
  if ("errno" in sym)
    throw new BpftimeError(
      sym.errno === ERRNO("ENOENT") ? "not_found" : "invalid_argument",
      `${type} target ${arg}: ${sym.message}`,
    );
  const off = offText ? BigInt(offText) : 0n;
  if (!sym.ifunc && sym.size > 0n && off >= sym.size)
    throw new BpftimeError(
      "invalid_argument",
      `${type} target ${arg}: offset ${off} is beyond ${symbol} (${sym.size} bytes)`,
    );
  // +OFF must start an instruction (decoded from the symbol's start in the file).
  if (!sym.ifunc && off > 0n) {
    try {
      resolveUprobeFile(`${file}:${symbol}+${off}`);
    } catch (e) {
      throw new BpftimeError("invalid_argument", (e as Error).message);
    }
  }
  return target;
}
