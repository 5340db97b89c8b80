// Printing helpers shared by the commands: JSON (src/json.ts: the same text
// the HTTP API returns) and tables.
import { toJson } from "../json.ts";

export { toJson };

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

/** The program columns of `bpftime list` and `bpftime prog list` (either provider). */
export const PROGRAM_COLUMNS = ["ID", "NAME", "TYPE", "INSNS", "LINKS", "RUNS", "HINT"];
export function programRow(x: {
  id: number;
  name: string;
  type: string;
  insnCount: number;
  links: number[];
  runCount: string;
  attachHint: string;
}): Array<string | number> {
  return [
    x.id,
    x.name,
    x.type,
    x.insnCount,
    x.links.join(",") || "-",
    x.runCount,
    x.attachHint || "-",
  ];
}

/** Titled tables, "title (N)" then the table (nothing under an empty one), joined by blank lines. */
export function sections(
  out: string[],
): (title: string, headers: string[], rows: Array<Array<string | number>>) => void {
  return (title, headers, rows) => {
    out.push("", `${title} (${rows.length})`);
    if (rows.length) out.push(table(headers, rows));
  };
}

/** The tables `bpftime load` prints (userspace and --kernel alike). */
export function printLoaded(r: {
  programs: Array<{ id: number; name: string; section: string; type: string; insnCount: number }>;
  maps: Array<{ id: number; name: string; type: string; reused?: boolean; pin?: string | null }>;
}): void {
  console.log(
    table(
      ["PROG", "NAME", "SECTION", "TYPE", "INSNS"],
      r.programs.map((x) => [x.id, x.name, x.section, x.type, x.insnCount]),
    ),
  );
  // reused/pinned maps (userspace --reuse-maps, --pin-maps, LIBBPF_PIN_BY_NAME) say so
  const state = (x: { reused?: boolean; pin?: string | null }) =>
    [x.reused ? "reused" : "", x.pin ? `pinned as ${x.pin}` : ""].filter(Boolean).join(", ");
  const withState = r.maps.some((x) => state(x));
  if (r.maps.length)
    console.log(
      table(
        ["MAP", "NAME", "TYPE", ...(withState ? ["STATE"] : [])],
        r.maps.map((x) => [x.id, x.name, x.type, ...(withState ? [state(x)] : [])]),
      ),
    );
}
