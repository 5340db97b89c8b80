// Printing helpers shared by the commands: JSON with bigints as decimal
// strings (ids and counters match what the HTTP API returns), and tables.

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    typeof v === "bigint"
      ? v.toString()
      : v instanceof Uint8Array
        ? Buffer.from(v).toString("hex")
        : v,
  );
}

export function printJson(value: unknown): void {
  console.log(toJson(value));
}

/** A plain aligned table: header row, then rows. */
export function table(headers: string[], rows: Array<Array<string | number | bigint>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  "))
    .join("\n");
}
