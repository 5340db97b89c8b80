// The agent library (native/agent/, libbpftime-agent.so): where it is on disk
// (processes load it by path, so in the compiled dist/bpftime, where it is
// embedded, it is written out once to a private directory), and the ptrace
// injector it contains (`bpftime inject` / `eject`), run in a helper process.
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import embeddedAgentPath from "../../native/build/libbpftime-agent.so" with { type: "file" };
import { BpftimeError } from "../errors.ts";
import { ERRNO, NativeError } from "./errno.ts";

const AGENT_FILE = "libbpftime-agent.so";

/** A directory only we can write to (refuses one planted by another user). */
function privateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o755 });
  const st = lstatSync(path);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0)
    throw new BpftimeError(
      "permission",
      `${path} is not a directory owned by uid ${uid} and writable only by it; remove it and retry`,
    );
  return path;
}

const cachedPaths = new Map<string, string>();

/**
 * A real file path of the agent library. From source this is
 * native/build/libbpftime-agent.so; in the compiled binary the embedded copy
 * is written to $XDG_RUNTIME_DIR/bpftime/<hash>/ (or /tmp/bpftime-<uid>/<hash>/)
 * once and reused while its content is the same.
 */
export function agentLibraryPath(): string {
  return libraryFilePath(embeddedAgentPath, AGENT_FILE, "the agent library");
}

/**
 * A real file path of a library bun embeds (`import … with { type: "file" }`):
 * the file itself when run from source, else the embedded copy written out
 * once (see agentLibraryPath).
 */
export function libraryFilePath(embeddedPath: string, fileName: string, what: string): string {
  const cached = cachedPaths.get(fileName);
  if (cached) return cached;
  const embedded: string = embeddedPath;
  if (!embedded.startsWith("/$bunfs") && existsSync(embedded)) {
    cachedPaths.set(fileName, embedded);
    return embedded;
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(embeddedPath);
  } catch (e) {
    throw new BpftimeError(
      "internal",
      `${what} is missing (${embeddedPath}: ${(e as Error).message}); rebuild with \`npm run build\``,
    );
  }
  const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
  const uid = process.getuid?.() ?? 0;
  const xdg = process.env.XDG_RUNTIME_DIR;
  const base = xdg && existsSync(xdg) ? join(xdg, "bpftime") : `/tmp/bpftime-${uid}`;
  const dir = privateDir(join(privateDir(base), hash));
  const file = join(dir, fileName);
  let same = false;
  try {
    same = createHash("sha256").update(readFileSync(file)).digest("hex").startsWith(hash);
  } catch {
    same = false;
  }
  if (!same) {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes, { mode: 0o755 });
    chmodSync(tmp, 0o755);
    renameSync(tmp, file); // atomic: a process loading it never sees half a file
  }
  cachedPaths.set(fileName, file);
  return file;
}

/**
 * Runs the injector: a helper process (this executable) with the agent
 * preloaded in injector mode, which ptraces pid and prints "ok N" or
 * "error ERRNO MESSAGE" from the library's constructor before main() would
 * run. (This process cannot load the agent itself: libbpftime and the agent
 * both use initial-exec TLS and dlopen has no room for the second.)
 */
function runInjector(mode: "INJECT" | "EJECT", pid: number, shm?: string): number {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  delete env.BPFTIME_AGENT_INJECT;
  delete env.BPFTIME_AGENT_EJECT;
  delete env.BPFTIME_AGENT_DISABLE;
  env[`BPFTIME_AGENT_${mode}`] = String(pid);
  env.LD_PRELOAD = agentLibraryPath();
  if (shm !== undefined) env.BPFTIME_SHM = shm;
  const r = Bun.spawnSync([process.execPath, "--version"], {
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = r.stdout.toString();
  const m = /^(ok (-?\d+)|error (\d+) (.*))$/m.exec(out);
  if (!m)
    throw new NativeError(
      ERRNO("EIO"),
      `the injector did not report (exit ${r.exitCode}): ${(r.stderr.toString() || out).trim().slice(0, 500)}`,
    );
  if (m[2] !== undefined) return Number(m[2]);
  throw new NativeError(Number(m[3]), m[4]!);
}

/** Loads and starts the agent in process pid on region shm; returns the links attached. */
export function injectAgent(pid: number, shm: string): number {
  return runInjector("INJECT", pid, shm);
}

/** Asks the agent in process pid to remove every hook and stop (returns at once). */
export function ejectAgent(pid: number): void {
  runInjector("EJECT", pid);
}
