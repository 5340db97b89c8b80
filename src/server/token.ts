// The API's bearer token: a random secret in a file only its owner can read.
// Default path: $XDG_CONFIG_HOME/bpftime/token (~/.config/bpftime/token),
// per user rather than per region, so one token serves every region the user
// administers; --token-file chooses another. Created on the first start on a
// loopback address; a non-loopback listener refuses to start without it.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { BpftimeError } from "../errors.ts";

export function defaultTokenFile(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "bpftime", "token");
}

export interface Token {
  path: string;
  value: string;
  /** True when this start created the file (the token is shown once, then). */
  created: boolean;
}

function readToken(path: string): string {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new BpftimeError("not_found", `token file ${path} does not exist`);
  }
  if (!st.isFile()) throw new BpftimeError("invalid_argument", `token file ${path} is not a file`);
  if ((st.mode & 0o077) !== 0)
    throw new BpftimeError(
      "permission",
      `token file ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 ${path}`,
    );
  const value = readFileSync(path, "utf8").trim();
  if (value.length < 16)
    throw new BpftimeError(
      "invalid_argument",
      `token file ${path} holds no usable token (at least 16 characters): delete it to have a new one made`,
    );
  return value;
}

/** Reads the token file, creating it (0600, directory 0700) when `create` and missing. */
export function loadToken(path: string, create: boolean): Token {
  if (existsSync(path)) return { path, value: readToken(path), created: false };
  if (!create)
    throw new BpftimeError(
      "permission",
      `no token file ${path}: start \`bpftime serve\` on a loopback address once to create it, or write a secret of at least 16 characters there (mode 0600)`,
    );
  const value = randomBytes(32).toString("base64url");
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, value + "\n", { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "EEXIST") return { path, value: readToken(path), created: false };
    throw new BpftimeError("io", `cannot create token file ${path}: ${err.message}`);
  }
  return { path, value, created: true };
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
