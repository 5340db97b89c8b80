// Where `__kconfig` extern values come from, as libbpf reads them: the
// kernel's build configuration (/boot/config-$(uname -r), else
// /proc/config.gz; BPFTIME_KCONFIG names another file, plain or gzipped),
// the kernel version (uname release, or Ubuntu's /proc/version_signature)
// and what the runtime supports (LINUX_HAS_*: ./externs.ts). Read once per process, and
// only for objects that have such externs.
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { gunzipSync } from "node:zlib";
import { BpftimeError } from "../errors.ts";

export interface KernelConfig {
  /** Where the values came from (for messages), or undefined when no config was found. */
  source?: string;
  /** CONFIG_NAME → raw value as written after '=' ("y", "m", "250", "\"(none)\""). */
  values: Map<string, string>;
}

let cached: KernelConfig | undefined;

function parseConfig(text: string, source: string): KernelConfig {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("CONFIG_")) continue; // "# CONFIG_X is not set": absent
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    values.set(line.slice(0, eq), line.slice(eq + 1).trimEnd());
  }
  return { source, values };
}

function readConfigFile(path: string): string {
  const bytes = readFileSync(path);
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString("latin1");
}

/** The running kernel's build configuration (empty when the kernel does not publish it). */
export function kernelConfig(): KernelConfig {
  const override = process.env.BPFTIME_KCONFIG;
  // the kernel's own config never changes under us; a named file may
  if (!override && cached) return cached;
  let config: KernelConfig = { values: new Map() };
  const candidates = override ? [override] : [`/boot/config-${release()}`, "/proc/config.gz"];
  for (const path of candidates) {
    if (!override && !existsSync(path)) continue;
    try {
      config = parseConfig(readConfigFile(path), path);
      break;
    } catch (e) {
      throw new BpftimeError(
        "not_found",
        `kernel config ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); __kconfig externs need it (BPFTIME_KCONFIG names another file)`,
      );
    }
  }
  if (!override) cached = config;
  return config;
}

/** libbpf's KERNEL_VERSION(a, b, c): a << 16 | b << 8 | min(c, 255). */
export function kernelVersionCode(major: number, minor: number, patch: number): number {
  return ((major << 16) + (minor << 8) + Math.min(patch, 255)) >>> 0;
}

/** LINUX_KERNEL_VERSION as libbpf computes it; 0 when the release cannot be parsed. */
export function linuxKernelVersion(): number {
  // Ubuntu's kernels carry the upstream version here ("Ubuntu 5.15.0-91.101-generic 5.15.131").
  try {
    const sig = readFileSync("/proc/version_signature", "latin1");
    const m = /^\S+ \S+ (\d+)\.(\d+)\.(\d+)/.exec(sig);
    if (m) return kernelVersionCode(Number(m[1]), Number(m[2]), Number(m[3]));
  } catch {
    // not Ubuntu
  }
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(release());
  return m ? kernelVersionCode(Number(m[1]), Number(m[2]), Number(m[3])) : 0;
}
