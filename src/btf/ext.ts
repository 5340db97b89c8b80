// .BTF.ext parser: func_info, line_info and CO-RE relocation records, grouped
// by the ELF section they describe. In a relocatable object every insn_off is a
// byte offset into that section (libbpf divides by 8 when it loads).

import { BpftimeError } from "../errors.ts";
import { Reader, cString } from "../elf/index.ts";
import { BTF_MAGIC } from "./btf.ts";

export interface BtfFuncInfo {
  /** Byte offset of the function in its section. */
  insnOff: number;
  typeId: number;
}

export interface BtfLineInfo {
  insnOff: number;
  fileName: string;
  line: string;
  lineNum: number;
  column: number;
}

export const CoreReloKind = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;

export const coreReloKindNames = [
  "field_byte_offset",
  "field_byte_size",
  "field_exists",
  "field_signed",
  "field_lshift_u64",
  "field_rshift_u64",
  "type_id_local",
  "type_id_target",
  "type_exists",
  "type_size",
  "enumval_exists",
  "enumval_value",
  "type_matches",
] as const;

export interface BtfCoreRelo {
  insnOff: number;
  typeId: number;
  /** Access string, e.g. "0:1" (struct member path). */
  access: string;
  kind: number;
}

export interface BtfExt {
  funcInfo: Map<string, BtfFuncInfo[]>;
  lineInfo: Map<string, BtfLineInfo[]>;
  coreRelos: Map<string, BtfCoreRelo[]>;
}

function extError(message: string): BpftimeError {
  return new BpftimeError("bad_object", `section .BTF.ext: ${message}`);
}

/**
 * Parses .BTF.ext. `strings` is the .BTF string section (names in .BTF.ext
 * point into it).
 */
export function parseBtfExt(bytes: Uint8Array, strings: Uint8Array): BtfExt {
  const r = new Reader(bytes, "section .BTF.ext");
  if (bytes.length < 8) throw extError(`${bytes.length} bytes is shorter than its header`);
  const magic = r.u16(0, "magic");
  if (magic !== BTF_MAGIC) throw extError(`bad magic 0x${magic.toString(16)} (expected 0xeb9f)`);
  const version = r.u8(2);
  if (version !== 1) {
    throw new BpftimeError("unsupported", `section .BTF.ext: version ${version} (only 1 is known)`);
  }
  const hdrLen = r.u32(4, "hdr_len");
  if (hdrLen < 24 || hdrLen > bytes.length) {
    throw extError(`header length ${hdrLen} is invalid (section is ${bytes.length} bytes)`);
  }
  const str = (off: number, what: string) => cString(strings, off, `section .BTF.ext: ${what}`);

  const out: BtfExt = { funcInfo: new Map(), lineInfo: new Map(), coreRelos: new Map() };

  // Walks one info block: u32 rec_size, then { sec_name_off, num_info, records }*.
  const block = <T>(
    name: string,
    off: number,
    len: number,
    minRec: number,
    into: Map<string, T[]>,
    read: (rr: Reader, at: number, what: string) => T,
  ) => {
    if (len === 0) return;
    r.check(hdrLen + off, len, `${name} (offset ${off}, ${len} bytes)`);
    const br = new Reader(
      bytes.subarray(hdrLen + off, hdrLen + off + len),
      `section .BTF.ext ${name}`,
    );
    if (len < 4) throw extError(`${name}: ${len} bytes is too short`);
    const recSize = br.u32(0, `${name} record size`);
    if (recSize < minRec || recSize % 4 !== 0) {
      throw extError(`${name}: record size ${recSize} is invalid (at least ${minRec})`);
    }
    let pos = 4;
    while (pos < len) {
      const secName = str(br.u32(pos, `${name} sec_name_off`), `${name} section name at ${pos}`);
      const num = br.u32(pos + 4, `${name} num_info`);
      pos += 8;
      if (num === 0) throw extError(`${name}: section ${secName} has zero records`);
      br.check(pos, num * recSize, `${name}: ${num} records for section ${secName}`);
      const list = into.get(secName) ?? [];
      for (let i = 0; i < num; i++) {
        list.push(read(br, pos, `${name} record ${i} of section ${secName}`));
        pos += recSize;
      }
      into.set(secName, list);
    }
  };

  block("func_info", r.u32(8), r.u32(12), 8, out.funcInfo, (br, at) => ({
    insnOff: br.u32(at),
    typeId: br.u32(at + 4),
  }));
  block("line_info", r.u32(16), r.u32(20), 16, out.lineInfo, (br, at, what) => {
    const lineCol = br.u32(at + 12);
    return {
      insnOff: br.u32(at),
      fileName: str(br.u32(at + 4), `${what} file name`),
      line: str(br.u32(at + 8), `${what} line`),
      lineNum: lineCol >>> 10,
      column: lineCol & 0x3ff,
    };
  });
  if (hdrLen >= 32) {
    block("core_relo", r.u32(24), r.u32(28), 16, out.coreRelos, (br, at, what) => ({
      insnOff: br.u32(at),
      typeId: br.u32(at + 4),
      access: str(br.u32(at + 8), `${what} access string`),
      kind: br.u32(at + 12),
    }));
  }
  return out;
}
