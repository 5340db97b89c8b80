// Map entries as the HTTP API pages and edits them: the CLI's `map dump`,
// `lookup`, `update` and `delete` (maps.ts) with offsets, and values that
// arrive as JSON values rather than command-line text.
import { BpftimeError } from "../errors.ts";
import { dumpEntries, formatKey, lookup, parseKey, remove, update } from "./maps.ts";
import { type MapHandle } from "./maps.ts";

export interface EntriesPage {
  entries: Array<{ key: unknown; value: unknown }>;
  offset: number;
  limit: number;
  /** Offset of the next page, or null after the last entry. */
  nextOffset: number | null;
}

/**
 * A page of `limit` entries from `offset`, in iteration order, formatted
 * through BTF: GET /v1/maps/:id/entries (limit 1..10000, default 100) and
 * `bpftime map dump --json` (default: the whole map, limit = max_entries).
 */
export function entriesPage(m: MapHandle, offset = 0, limit = 100): EntriesPage {
  const n = Math.max(1, limit);
  const got = dumpEntries(m, offset, n + 1);
  const more = got.length > n;
  return { entries: got.slice(0, n), offset, limit: n, nextOffset: more ? offset + n : null };
}

/**
 * A value given as a JSON value, as the text `bpftime map update` would take:
 * through BTF the JSON itself (so "18446744073709551615" stays a string and
 * keeps its precision, "abc" fills a char array); "hex:…" raw bytes; without
 * BTF a string is the command-line text ("42", "0x2a").
 */
export function valueText(m: MapHandle, v: unknown): string {
  if (v === undefined) throw new BpftimeError("usage", "missing value");
  if (typeof v !== "string") return JSON.stringify(v);
  if (v.startsWith("hex:") || !(m.btf && m.meta?.valueType)) return v;
  return JSON.stringify(v);
}

/**
 * One key's value, formatted; not_found when absent (`map lookup`, GET
 * /v1/maps/:id/entries/:key). The key is formatted as `map dump` shows it
 * (`1`, not the `"1"` typed), so both read the same.
 */
export function lookupEntry(m: MapHandle, key: string): { key: unknown; value: unknown } {
  const value = lookup(m, key);
  return { key: formatKey(m, parseKey(m, key)), value };
}

/** Stores `value` (JSON or hex) under `key` with flag any|noexist|exist (PUT /v1/maps/:id/entries/:key). */
export function updateEntry(
  m: MapHandle,
  key: string,
  value: unknown,
  flag = "any",
): { updated: true } {
  update(m, key, valueText(m, value), flag);
  return { updated: true };
}

/** Deletes one key; not_found when absent (DELETE /v1/maps/:id/entries/:key). */
export function deleteEntry(m: MapHandle, key: string): { deleted: true } {
  remove(m, key);
  return { deleted: true };
}
