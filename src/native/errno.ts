// Error numbers from C (the data plane, libbpf, the kernel) as the CLI's error
// codes: the one mapping, parsed at import time from the table the C side
// also compiles (native/common/errno.def), so names, numbers and codes are
// written once.

import text from "../../native/common/errno.def" with { type: "text" };
import { BpftimeError, exitCodes, type ErrorCode } from "../errors.ts";

export interface ErrnoEntry {
  number: number;
  name: string;
  code: ErrorCode;
  /** false for numbers <errno.h> lacks (the kernel's ENOTSUPP, libbpf's codes) */
  libc: boolean;
}

export function parseErrnos(src: string): ErrnoEntry[] {
  const out: ErrnoEntry[] = [];
  for (const m of src.matchAll(/^\s*BPFTIME_ERRNO(_EXT)?\(([^)]*)\)/gm)) {
    const f = m[2]!.split(",").map((s) => s.trim());
    if (f.length !== 3) throw new Error(`errno.def: bad line ${m[0]}`);
    const [num, name, code] = f as [string, string, string];
    if (!(code in exitCodes)) throw new Error(`errno.def: unknown error code ${code} for ${name}`);
    out.push({ number: Number(num), name, code: code as ErrorCode, libc: !m[1] });
  }
  return out;
}

export const errnos: readonly ErrnoEntry[] = parseErrnos(text);
const byNumber = new Map(errnos.map((e) => [e.number, e]));
const byName = new Map(errnos.map((e) => [e.name, e]));

/** The error code a failure with this (positive) errno becomes; "io" if unlisted. */
export function errnoCode(errno: number): ErrorCode {
  return byNumber.get(errno)?.code ?? "io";
}

/** "ENOENT" for 2; "errno N" for numbers the table does not list. */
export function errnoName(errno: number): string {
  return byNumber.get(errno)?.name ?? `errno ${errno}`;
}

/** The number of a listed errno name (ERRNO("ENOENT") === 2); throws on a name not in the table. */
export function ERRNO(name: string): number {
  const e = byName.get(name);
  if (!e) throw new Error(`errno.def has no ${name}`);
  return e.number;
}

/** A failed native call: the C side's errno (positive) and its message, with the code errno.def gives. */
export class NativeError extends BpftimeError {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(errnoCode(errno), message);
  }
}
