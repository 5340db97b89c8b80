// JSON as bpftime prints it, in one place for the CLI's --json and the HTTP
// API alike: bigints as decimal strings (ids and counters beyond 2^53 stay
// exact, and both faces print the same numbers), byte arrays as hex.

/** `value` as JSON text. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    typeof v === "bigint"
      ? v.toString()
      : v instanceof Uint8Array
        ? Buffer.from(v).toString("hex")
        : v,
  );
}

/** `value` with bigints and byte arrays converted as toJson does (for a JSON response body). */
export function toJsonValue<T>(value: T): T {
  return JSON.parse(toJson(value)) as T;
}
