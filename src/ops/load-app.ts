// `bpftime load -- APP [ARGS…]`: runs an unmodified libbpf application in
// userspace. We stay alive as its parent: we open (or create) the region,
// listen on a private control socket (app-server.ts), and run APP with the
// syscall-server library preloaded (native/syscall-server/), which answers
// its bpf(), perf_event_open, perf ioctls and mmap from the region. APP keeps
// our terminal (stdin/stdout/stderr inherited), gets the signals we get, and
// its exit status is ours. When it exits, what it created goes (links,
// targets, unpinned programs and maps), as in the kernel.
import { existsSync, mkdtempSync, openSync, readSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { BpftimeError } from "../errors.ts";
import { Region, regionName, syscallServerLibraryPath } from "../native/index.ts";
import { startAppServer } from "./app-server.ts";
import {
  exitStatus,
  forwardedSignals,
  forwardSignals,
  spawnForeground,
} from "./foreground-child.ts";

const ET_REL = 1;

/**
 * Whether `file` is a program to run (an executable or shared ELF, or a
 * script) rather than an eBPF object (ELF relocatable, ET_REL) to load.
 * A name without '/' that is no file here is looked up on $PATH.
 */
export function isApplication(file: string): boolean {
  const path = resolveProgram(file);
  if (!path) return false;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return false;
  }
  try {
    const head = new Uint8Array(18);
    const n = readSync(fd, head, 0, 18, 0);
    if (n >= 2 && head[0] === 0x23 && head[1] === 0x21) return true; // #!
    if (n < 18 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46)
      return false;
    return (head[16]! | (head[17]! << 8)) !== ET_REL;
  } finally {
    closeSync(fd);
  }
}

function resolveProgram(file: string): string | undefined {
  if (file.includes("/") || existsSync(file)) return existsSync(file) ? file : undefined;
  return Bun.which(file) ?? undefined;
}

/**
 * Runs argv as an application whose eBPF goes to region `shm` (created if
 * missing) and resolves with its exit code (128 + N when signal N ended it).
 */
export async function runApplication(argv: string[], shm: string | undefined): Promise<number> {
  const [file, ...args] = argv;
  if (!file) throw new BpftimeError("usage", "load: missing PROGRAM");
  const resolved = resolveProgram(file);
  if (!resolved)
    throw new BpftimeError("not_found", `load: program "${file}" not found (nor on $PATH)`);
  const name = regionName(shm);
  Region.openOrCreate(name).close();
  const dir = mkdtempSync(join(tmpdir(), "bpftime-load-")); // mode 0700
  let server: Awaited<ReturnType<typeof startAppServer>> | undefined;
  try {
    server = await startAppServer(name, join(dir, "control.sock"));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    const lib = syscallServerLibraryPath();
    const pre = (env.LD_PRELOAD ?? "").split(/[: ]/).filter((p) => p && p !== lib);
    env.LD_PRELOAD = [lib, ...pre].join(":");
    env.BPFTIME_SHM = name;
    env.BPFTIME_CONTROL_SOCKET = server.path;
    const child = spawnForeground("load", file, resolved, args, env);
    server.setOwner(`${basename(file)} pid ${child.pid} (bpftime load)`); // see mapLoadedBy
    const stopForwarding = forwardSignals(child, forwardedSignals);
    try {
      return await exitStatus(child);
    } finally {
      stopForwarding();
    }
  } finally {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
