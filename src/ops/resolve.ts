// The one resolver of what a user names: a program, map or link of a region
// by id ("3") or, for programs and maps, by name ("url_filter", which must be
// unique). The CLI and the HTTP API take the same references and give the
// same errors.
import { BpftimeError } from "../errors.ts";
import { ERRNO, NativeError, type Region } from "../native/index.ts";
import { didYouMean } from "../suggest.ts";

interface Kind {
  what: "program" | "map" | "link";
  /** The command that lists them, for "see …". */
  list: string;
  ids(r: Region): number[];
  /** Throws NativeError ENOENT when there is no such id; undefined for what has no name (links). */
  nameOf(r: Region, id: number): string | undefined;
}

const kind = (what: Kind["what"], list: string, ids: Kind["ids"], nameOf: Kind["nameOf"]) =>
  ({ what, list, ids, nameOf }) satisfies Kind;
const programs = kind(
  "program",
  "bpftime list",
  (r) => r.programIds(),
  (r, id) => r.program(id).name,
);
const maps = kind(
  "map",
  "bpftime map list",
  (r) => r.mapIds(),
  (r, id) => r.map(id).name,
);
const links = kind(
  "link",
  "bpftime list",
  (r) => r.linkIds(),
  (r, id) => void r.link(id),
);

function resolve(k: Kind, r: Region, ref: string): number {
  if (/^\d+$/.test(ref)) {
    const id = Number(ref);
    try {
      k.nameOf(r, id);
    } catch (e) {
      if (e instanceof NativeError && e.errno === ERRNO("ENOENT"))
        throw new BpftimeError(
          "not_found",
          `no ${k.what} with id ${id} in region ${r.name}; see \`${k.list}\``,
        );
      throw e;
    }
    return id;
  }
  if (k.what === "link")
    throw new BpftimeError("usage", `${k.what} id must be a number, got "${ref}"`);
  const matches = k.ids(r).filter((id) => k.nameOf(r, id) === ref);
  if (matches.length === 0) {
    const names = k.ids(r).flatMap((id) => k.nameOf(r, id) ?? []);
    throw new BpftimeError(
      "not_found",
      `no ${k.what} named "${ref}" in region ${r.name}${didYouMean(ref, names)}; see \`${k.list}\``,
    );
  }
  if (matches.length > 1)
    throw new BpftimeError(
      "usage",
      `${matches.length} ${k.what}s are named "${ref}" (ids ${matches.join(", ")}): use an id` +
        (k.what === "map" ? ", or load with --reuse-maps so versions share one map" : ""),
    );
  return matches[0]!;
}

/** A program by id or unique name. */
export const resolveProgram = (r: Region, ref: string): number => resolve(programs, r, ref);
/** A map by pin name (a pin wins), id, or unique name. */
export function resolveMap(r: Region, ref: string): number {
  const pinned = r.pins().find((p) => p.kind === "map" && p.name === ref);
  if (pinned) return pinned.objectId;
  return resolve(maps, r, ref);
}
/** A link by id. */
export const resolveLink = (r: Region, ref: string): number => resolve(links, r, ref);
