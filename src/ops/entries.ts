// Map entries as the HTTP API pages and edits them: the CLI's `map dump`,
// `lookup`, `update` and `delete` (maps.ts) with offsets, and values that
// arrive as JSON values rather than command-line text.
import { dumpEntries, lookup, remove, update, type MapHandle } from "./maps.ts";

export interface EntriesPage {
  entries: Array<{ key: unknown; value: unknown }>;
  offset: number;
  limit: number;
  /** Offset of the next page, or null after the last entry. */
  nextOffset: number | null;
}

export const MAX_PAGE = 10_000;

export function entriesPage(m: MapHandle, offset = 0, limit = 100): EntriesPage {
  const n = Math.min(Math.max(1, limit), MAX_PAGE);
  const got = dumpEntries(m, offset, n + 1);
  const more = got.length > n;
  return { entries: got.slice(0, n), offset, limit: n, nextOffset: more ? offset + n : null };
}

/**
 * A key or value given as JSON: strings are taken as the CLI takes its
 * arguments (so "hex:0100…" and "42" work), anything else as its JSON text.
 */
export function inputText(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

export function lookupEntry(m: MapHandle, key: string): { key: string; value: unknown } {
  return { key, value: lookup(m, key) };
}

export function updateEntry(
  m: MapHandle,
  key: string,
  value: unknown,
  flag = "any",
): { updated: true } {
  update(m, key, inputText(value), flag);
  return { updated: true };
}

export function deleteEntry(m: MapHandle, key: string): { deleted: true } {
  remove(m, key);
  return { deleted: true };
}
