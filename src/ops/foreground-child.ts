// What `bpftime start` and `bpftime load` share when they run a program in
// the foreground: spawning it with the terminal, handing on the signals
// bpftime gets, and its exit status as shells report it.
import { constants } from "node:os";
import { BpftimeError } from "../errors.ts";

/** The signals both commands hand on to the program they run. */
export const forwardedSignals: readonly NodeJS.Signals[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
];

export type ForegroundChild = ReturnType<typeof Bun.spawn>;

/**
 * Spawns `resolved` with args, env and bpftime's stdin/stdout/stderr; its
 * argv[0] is `file` as the user typed it. A failure to start is one
 * BpftimeError naming `command`.
 */
export function spawnForeground(
  command: string,
  file: string,
  resolved: string,
  args: string[],
  env: Record<string, string>,
): ForegroundChild {
  try {
    return Bun.spawn([resolved, ...args], {
      argv0: file,
      env,
      stdio: ["inherit", "inherit", "inherit"],
    });
  } catch (e) {
    throw new BpftimeError("io", `${command}: cannot run ${file}: ${(e as Error).message}`);
  }
}

/**
 * Sends each of `signals` bpftime gets on to `child` (gone already: nothing
 * to do); returns what stops forwarding.
 */
export function forwardSignals(
  child: ForegroundChild,
  signals: readonly NodeJS.Signals[],
): () => void {
  const handlers = signals.map((sig) => {
    const h = () => {
      try {
        child.kill(sig);
      } catch {
        /* already gone */
      }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

/** Waits for `child` to end: its exit code, or 128 + N when signal N ended it. */
export async function exitStatus(child: ForegroundChild): Promise<number> {
  const code = await child.exited;
  const sig = child.signalCode;
  if (sig) return 128 + (constants.signals[sig as keyof typeof constants.signals] ?? 0);
  return code;
}
