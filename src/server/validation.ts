// A request that does not match its route's schema is one 400 whose message
// names every bad field at once (`invalid body/type: …; invalid body/cookie:
// …; see /docs`), so a client fixes them in one round trip. Elysia's
// validation error lists each failure (`all`); a field's own `error` text
// (schemas.ts) is preferred to TypeBox's generic summary.

interface Failure {
  path?: string;
  summary?: string;
  message?: string;
  schema?: { error?: unknown };
}

export interface ValidationFailure {
  /** body, query, params, or property (one query field checked alone) */
  type?: string;
  valueError?: { path?: string; message?: string };
  all?: Failure[];
  customError?: unknown;
}

/** Where a failure is, as the message shows it: `body/type`, `query/limit`, `request`. */
function where(type: string | undefined, path: string): string {
  if (["body", "query", "params"].includes(type ?? "")) return `${type}${path}`;
  return path.replace(/^\//, "") || "request";
}

/** One line naming every failing field once, with why. */
export function validationMessage(v: ValidationFailure): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  const failures: Failure[] = v.all?.length ? v.all : [{ ...v.valueError }];
  for (const f of failures) {
    const path = f.path ?? v.valueError?.path ?? "";
    if (seen.has(path)) continue; // a union reports each branch: the field once is enough
    seen.add(path);
    const why =
      (typeof f.schema?.error === "string" && f.schema.error) ||
      (failures.length === 1 && typeof v.customError === "string" && v.customError) ||
      f.summary ||
      f.message ||
      "does not match the schema";
    parts.push(`invalid ${where(v.type, path)}: ${why}`);
  }
  return `${parts.join("; ")}; see /docs`;
}
