// Data and human table for `bpftime obj show FILE.o [--json]`.

import { typeName } from "../btf/index.ts";
import type { ObjectSpec } from "./object.ts";
import { type AttachHint, formatAttachHint } from "./sections.ts";

export interface ProgramSummary {
  name: string;
  section: string;
  type: string;
  /** Human form, e.g. "uprobe /usr/bin/bash:readline". */
  attach: string;
  /** Structured form of the attach hint parsed from the section name. */
  attachHint: AttachHint;
  insnCount: number;
  signature?: string;
  subprograms: string[];
}

export interface MapSummary {
  name: string;
  type: string;
  typeId: number;
  keySize: number;
  valueSize: number;
  keyType?: string;
  valueType?: string;
  maxEntries: number;
  flags: number;
  pinning: string;
  readOnly: boolean;
  section: string;
}

export interface ObjectSummary {
  file?: string;
  license: string;
  programs: ProgramSummary[];
  maps: MapSummary[];
}

export function objectSummary(spec: ObjectSpec): ObjectSummary {
  const btf = spec.btf;
  const tname = (id?: number) => (btf && id !== undefined ? typeName(btf, id) : undefined);
  return {
    file: spec.fileName,
    license: spec.license,
    programs: spec.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: p.type,
      attach: formatAttachHint(p.attach),
      attachHint: p.attach,
      insnCount: p.insnCount,
      signature: p.signature,
      subprograms: p.subprograms.map((s) => s.name),
    })),
    maps: spec.maps.map((m) => ({
      name: m.name,
      type: m.typeName,
      typeId: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      keyType: tname(m.keyType),
      valueType: tname(m.valueType),
      maxEntries: m.maxEntries,
      flags: m.flags,
      pinning: m.pinning === 1 ? "by_name" : "none",
      readOnly: m.readOnly,
      section: m.section,
    })),
  };
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** The human form of `obj show`: a programs table, a maps table and the license. */
export function formatObjectSummary(s: ObjectSummary): string {
  const out: string[] = [];
  if (s.file) out.push(`object ${s.file}`);
  out.push(`license: ${s.license || "(none)"}`, "");
  out.push(`programs (${s.programs.length}):`);
  if (s.programs.length > 0) {
    out.push(
      table(
        ["NAME", "SECTION", "TYPE", "ATTACH", "INSNS", "SIGNATURE"],
        s.programs.map((p) => [
          p.name,
          p.section,
          p.type,
          p.attach,
          String(p.insnCount),
          p.signature ?? "-",
        ]),
      ),
    );
  }
  out.push("", `maps (${s.maps.length}):`);
  if (s.maps.length > 0) {
    const kv = (size: number, type?: string) => (type ? `${size} (${type})` : String(size));
    out.push(
      table(
        ["NAME", "TYPE", "KEY", "VALUE", "MAX", "FLAGS"],
        s.maps.map((m) => [
          m.name,
          m.type,
          kv(m.keySize, m.keyType),
          kv(m.valueSize, m.valueType),
          String(m.maxEntries),
          [
            m.flags ? `0x${m.flags.toString(16)}` : "0",
            m.readOnly ? "ro" : "",
            m.pinning !== "none" ? `pin:${m.pinning}` : "",
          ]
            .filter(Boolean)
            .join(" "),
        ]),
      ),
    );
  }
  return out.join("\n");
}
