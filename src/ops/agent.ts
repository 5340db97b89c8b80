// The agent in hooked processes: `bpftime start` (run a program with the agent
// preloaded), `bpftime inject` / `eject` (load it into / stop it in a running
// process through ptrace), shared with the HTTP API.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { BpftimeError } from "../errors.ts";
import { agentLibraryPath, ejectAgent, injectAgent, NativeError } from "../native/index.ts";
import { Region, regionName, regionPath } from "../native/index.ts";
import {
  exitStatus,
  forwardedSignals,
  forwardSignals,
  spawnForeground,
} from "./foreground-child.ts";
import { formatHookLine, hookLines, type HookLine, waitHookLines } from "./hook-report.ts";

/** The environment a program started with the agent gets. */
function agentEnv(shm: string | undefined, base = process.env): Record<string, string> {
  const agent = agentLibraryPath();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  const pre = (env.LD_PRELOAD ?? "").split(/[: ]/).filter((p) => p && p !== agent);
  env.LD_PRELOAD = [agent, ...pre].join(":");
  env.BPFTIME_SHM = regionName(shm);
  return env;
}

// start also hands on terminal resizes.
const forwarded = [...forwardedSignals, "SIGWINCH"] as const;

/**
 * Runs argv with the agent preloaded on region shm and resolves with its exit
 * code (128 + signal number when a signal ended it, as shells report).
 * Signals sent to bpftime are forwarded to the program.
 */
export async function startProgram(
  argv: string[],
  shm: string | undefined,
  /** Gets one line per hook once the agent attached (null: print nothing). */
  report: ((line: string) => void) | null = null,
): Promise<number> {
  const [file, ...args] = argv;
  if (!file) throw new BpftimeError("usage", "start: missing PROGRAM");
  const resolved = file.includes("/") ? file : Bun.which(file);
  if (!resolved || !existsSync(resolved))
    throw new BpftimeError("not_found", `start: program "${file}" not found`);
  const env = agentEnv(shm);
  const child = spawnForeground("start", file, resolved, args, env);
  const stopForwarding = forwardSignals(child, forwarded);
  // Once the agent in the child has instantiated: one line per hook.
  const reported = report
    ? waitHookLines(env.BPFTIME_SHM!, child.pid, () => child.exitCode !== null).then((lines) => {
        for (const h of lines ?? []) report(formatHookLine(child.pid, h));
      })
    : Promise.resolve();
  try {
    const status = await exitStatus(child);
    await reported;
    return status;
  } finally {
    stopForwarding();
  }
}

function checkPid(pidStr: string, what: string): number {
  if (!/^\d+$/.test(pidStr) || Number(pidStr) <= 0)
    throw new BpftimeError("usage", `${what}: PID must be a process id, got "${pidStr}"`);
  const pid = Number(pidStr);
  if (!existsSync(`/proc/${pid}`))
    throw new BpftimeError("not_found", `${what}: no process ${pid}`);
  if (pid === process.pid)
    throw new BpftimeError("invalid_argument", `${what}: cannot target bpftime itself`);
  return pid;
}

function injectFailure(what: string, e: unknown): never {
  if (!(e instanceof NativeError)) throw e;
  throw e.wrap(what);
}

export interface InjectResult {
  pid: number;
  shm: string;
  links: number;
  agent: string;
  /** Each uprobe/uretprobe link as the process sees it: attached, or failed and why. */
  hooks: HookLine[];
}

/** Loads the agent into running process pid (ptrace) and starts it on region shm. */
export function inject(pidStr: string, shm: string | undefined): InjectResult {
  const pid = checkPid(pidStr, "inject");
  const name = regionName(shm);
  if (!existsSync(regionPath(name)))
    throw new BpftimeError(
      "not_found",
      `inject: region ${regionPath(name)} does not exist: load a program first (\`bpftime load\`)`,
    );
  const agent = agentLibraryPath();
  try {
    const links = injectAgent(pid, name);
    // The agent instantiated before the injector returned: its record is there.
    let hooks: HookLine[] = [];
    const r = Region.open(name);
    try {
      hooks = hookLines(r, pid) ?? [];
    } finally {
      r.close();
    }
    return { pid, shm: name, links, agent, hooks };
  } catch (e) {
    injectFailure("inject", e);
  }
}

/** Threads of pid named like the agent's watcher. */
function watcherRunning(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((t) => {
      try {
        return readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim() === "bpftime-agent";
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Makes the agent in process pid remove every hook; waits until it has. */
export async function eject(
  pidStr: string,
  shm?: string,
  timeoutMs = 10_000,
): Promise<{ pid: number }> {
  const pid = checkPid(pidStr, "eject");
  // With a region named (as inject takes it): only an agent on that region.
  if (shm !== undefined) {
    const r = Region.open(shm);
    try {
      r.reapInstances();
      if (!r.instanceIds().some((id) => r.instance(id).pid === pid))
        throw new BpftimeError(
          "not_found",
          `eject: process ${pid} has no agent on region ${r.name}; see \`bpftime list --shm ${r.name}\``,
        );
    } finally {
      r.close();
    }
  }
  try {
    ejectAgent(pid);
  } catch (e) {
    injectFailure("eject", e);
  }
  const deadline = Date.now() + timeoutMs;
  while (watcherRunning(pid)) {
    if (Date.now() > deadline)
      throw new BpftimeError(
        "io",
        `eject: the agent in process ${pid} did not finish within ${timeoutMs / 1000} s`,
      );
    await Bun.sleep(20);
  }
  return { pid };
}
