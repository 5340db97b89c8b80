// The running kernel's BTF, the target of CO-RE relocations against kernel
// types: /sys/kernel/btf/vmlinux (5.5 MB, ~125k types here, parsed once per
// process and only when an object has such relocations).
// BPFTIME_KERNEL_BTF overrides the path; "none" behaves as a kernel without
// BTF (only the context types the runtime provides resolve), for tests and
// for machines whose kernel BTF should not be trusted.
import { readFileSync } from "node:fs";
import { BpftimeError } from "../errors.ts";
import { type Btf, parseBtf } from "./btf.ts";

export const VMLINUX_BTF = "/sys/kernel/btf/vmlinux";

const cache = new Map<string, Btf | undefined>();

/** Where the kernel BTF comes from ("none" when disabled). */
export function kernelBtfPath(): string {
  return process.env.BPFTIME_KERNEL_BTF || VMLINUX_BTF;
}

/** The kernel's BTF, or undefined when there is none (no file, or BPFTIME_KERNEL_BTF=none). */
export function kernelBtf(): Btf | undefined {
  const path = kernelBtfPath();
  if (path === "none") return undefined;
  if (cache.has(path)) return cache.get(path);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && path === VMLINUX_BTF) {
      cache.set(path, undefined);
      return undefined;
    }
    throw new BpftimeError(
      "not_found",
      `kernel BTF ${path}: cannot read it (${code ?? (e as Error).message}); set BPFTIME_KERNEL_BTF to a BTF file or to "none"`,
    );
  }
  try {
    const btf = parseBtf(bytes);
    cache.set(path, btf);
    return btf;
  } catch (e) {
    if (e instanceof BpftimeError) throw e.wrap(`kernel BTF ${path}`);
    throw e;
  }
}
