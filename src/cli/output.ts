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

/** The tables `bpftime load` prints (userspace and --kernel alike). */
export function printLoaded(r: {
  programs: Array<{ id: number; name: string; section: string; type: string; insnCount: number }>;
  maps: Array<{ id: number; name: string; type: string }>;
}): void {
  console.log(
    table(
      ["PROG", "NAME", "SECTION", "TYPE", "INSNS"],
      r.programs.map((x) => [x.id, x.name, x.section, x.type, x.insnCount]),
    ),
  );
  if (r.maps.length)
    console.log(
      table(
        ["MAP", "NAME", "TYPE"],
        r.maps.map((x) => [x.id, x.name, x.type]),
      ),
    );
}
