// The one logger. Level from BPFTIME_LOG=error|warn|info|debug (default warn).
// Output goes to stderr so that command output on stdout stays machine-readable.
// The C data plane logs through the same function when Bun hosts it (see
// src/native/lib.ts, which installs a callback).

export const levels = ["error", "warn", "info", "debug"] as const;
export type Level = (typeof levels)[number];

function levelFromEnv(): number {
  const v = process.env.BPFTIME_LOG;
  const i = levels.indexOf((v ?? "warn") as Level);
  return i < 0 ? 1 : i;
}

let current = levelFromEnv();

export function setLogLevel(level: Level): void {
  current = levels.indexOf(level);
}

export function logLevel(): Level {
  return levels[current]!;
}

export function log(level: Level | number, message: string): void {
  const i = typeof level === "number" ? level : levels.indexOf(level);
  if (i > current) return;
  process.stderr.write(`bpftime: ${levels[Math.max(0, Math.min(3, i))]}: ${message}\n`);
}

export const logger = {
  error: (m: string) => log(0, m),
  warn: (m: string) => log(1, m),
  info: (m: string) => log(2, m),
  debug: (m: string) => log(3, m),
};
