// Every expected failure is a BpftimeError: a stable code (for scripts and the
// HTTP API's `{ error: CODE }`) and one human line saying what, why and what
// to do. The CLI prints `bpftime: <message>` and exits non-zero; it never
// prints a stack trace for these.

export type ErrorCode =
  | "usage" // bad command line
  | "not_found" // unknown id, file, map, region
  | "invalid_argument" // well-formed request with a bad value
  | "bad_object" // malformed ELF/BTF object
  | "bad_bytecode" // malformed bytecode
  | "verifier" // program refused by the verifier
  | "vm" // runtime failure inside the VM (bounds, budget)
  | "exists" // object already exists
  | "busy" // object in use (e.g. program still linked)
  | "unsupported" // feature or engine not available here
  | "permission" // not allowed (auth, privileges)
  | "io" // filesystem or process failure
  | "internal"; // a bug: should never be seen

export class BpftimeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "BpftimeError";
  }

  /** Prefixes the message with the step that failed: "load program x: verifier: …". */
  wrap(step: string): BpftimeError {
    return new BpftimeError(this.code, `${step}: ${this.message}`, this.details);
  }
}

/** Exit codes of the CLI, documented in the README. */
export const exitCodes: Record<ErrorCode, number> = {
  usage: 2,
  not_found: 3,
  invalid_argument: 4,
  bad_object: 5,
  bad_bytecode: 5,
  verifier: 6,
  vm: 7,
  exists: 8,
  busy: 8,
  unsupported: 9,
  permission: 10,
  io: 11,
  internal: 70,
};

/**
 * The BpftimeError that `f` throws. Anything else it throws is rethrown, and
 * returning normally is an error: for tests that check a refusal's code and
 * line.
 */
export function bpftimeErrorOf(f: () => unknown): BpftimeError {
  try {
    f();
  } catch (e) {
    if (e instanceof BpftimeError) return e;
    throw e;
  }
  throw new Error("expected a BpftimeError");
}
