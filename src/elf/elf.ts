// ELF64 little-endian reader for eBPF relocatable objects (what `clang -target
// bpf -c` writes). Pure TypeScript, no FFI. Every offset, size and index read
// from the file is bounds-checked before use: a malformed object gives one
// BpftimeError("bad_object", …) line naming the section/symbol/offset, never
// another exception, and every loop is bounded by counts derived from the
// (already validated) file size, so no input can make the parser hang.

import { BpftimeError } from "../errors.ts";

export const EM_BPF = 247;
export const ET_REL = 1;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
/** Far more sections than any compiler emits; keeps a corrupted e_shnum cheap to reject. */
const MAX_SECTIONS = 65536;

export interface ElfHeader {
  type: number;
  machine: number;
  version: number;
  flags: number;
  shoff: number;
  shnum: number;
  shstrndx: number;
}

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** File bytes of the section (empty for SHT_NOBITS; a view, not a copy). */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  type: number;
  bind: number;
  other: number;
  shndx: number;
  value: number;
  size: number;
}

export interface ElfRelocation {
  /** Index of the relocation within its REL section (for error messages). */
  index: number;
  offset: number;
  type: number;
  symbol: number;
}

export function badObject(message: string): BpftimeError {
  return new BpftimeError("bad_object", message);
}

/** Bounds-checked little-endian reads over a byte array. */
export class Reader {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    /** Describes the bytes in error messages ("ELF header", "section .BTF"). */
    readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  check(offset: number, size: number, field: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || size < 0 || offset + size > this.length) {
      throw badObject(
        `${this.what}: ${field} at offset ${offset} (${size} bytes) is beyond its end (${this.length} bytes)`,
      );
    }
  }

  u8(offset: number, field = "byte"): number {
    this.check(offset, 1, field);
    return this.view.getUint8(offset);
  }
  u16(offset: number, field = "u16"): number {
    this.check(offset, 2, field);
    return this.view.getUint16(offset, true);
  }
  u32(offset: number, field = "u32"): number {
    this.check(offset, 4, field);
    return this.view.getUint32(offset, true);
  }
  i32(offset: number, field = "i32"): number {
    this.check(offset, 4, field);
    return this.view.getInt32(offset, true);
  }
  u64big(offset: number, field = "u64"): bigint {
    this.check(offset, 8, field);
    return this.view.getBigUint64(offset, true);
  }
  /** A u64 that must fit a JS safe integer (offsets, sizes). */
  u64(offset: number, field = "u64"): number {
    const v = this.u64big(offset, field);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw badObject(`${this.what}: ${field} 0x${v.toString(16)} is too large`);
    }
    return Number(v);
  }
}

const latin1 = new TextDecoder("latin1");
const utf8Fatal = new TextDecoder("utf-8", { fatal: true });

/** Reads a NUL-terminated string at `offset` of `table`; the NUL must be inside the table. */
export function cString(table: Uint8Array, offset: number, what: string): string {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= table.length) {
    if (offset === 0 && table.length === 0) return "";
    throw badObject(
      `${what}: string offset ${offset} is beyond the string table (${table.length} bytes)`,
    );
  }
  const end = table.indexOf(0, offset);
  if (end < 0) throw badObject(`${what}: string at offset ${offset} is not NUL-terminated`);
  const raw = table.subarray(offset, end);
  // Names are ASCII in practice; fall back to latin1 so any byte sequence decodes.
  try {
    return utf8Fatal.decode(raw);
  } catch {
    return latin1.decode(raw);
  }
}

export class ElfFile {
  readonly header: ElfHeader;
  readonly sections: ElfSection[];
  readonly symbols: ElfSymbol[];
  /** Index of the SYMTAB section, 0 if none. */
  readonly symtabIndex: number;
  private readonly relCache = new Map<number, ElfRelocation[]>();

  constructor(readonly bytes: Uint8Array) {
    const r = new Reader(bytes, "ELF header");
    if (bytes.length < EHDR_SIZE) {
      throw badObject(`ELF header: file is ${bytes.length} bytes, shorter than an ELF64 header`);
    }
    if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw badObject("ELF header: not an ELF file (bad magic)");
    }
    if (bytes[4] !== 2) {
      throw badObject(`ELF header: class ${bytes[4]} is not ELFCLASS64 (2)`);
    }
    if (bytes[5] !== 1) {
      throw new BpftimeError(
        "unsupported",
        `ELF header: data encoding ${bytes[5]} is not little-endian (1); big-endian eBPF objects are not supported`,
      );
    }
    const type = r.u16(16, "e_type");
    const machine = r.u16(18, "e_machine");
    const version = r.u32(20, "e_version");
    const shoff = r.u64(40, "e_shoff");
    const flags = r.u32(48, "e_flags");
    const shentsize = r.u16(58, "e_shentsize");
    let shnum = r.u16(60, "e_shnum");
    let shstrndx = r.u16(62, "e_shstrndx");
    if (machine !== EM_BPF) {
      throw badObject(`ELF header: e_machine ${machine} is not EM_BPF (247): not an eBPF object`);
    }
    if (type !== ET_REL) {
      throw badObject(`ELF header: e_type ${type} is not ET_REL (1): expected a relocatable .o`);
    }
    if (shoff === 0) throw badObject("ELF header: no section header table (e_shoff is 0)");
    if (shentsize !== SHDR_SIZE) {
      throw badObject(`ELF header: e_shentsize ${shentsize} is not ${SHDR_SIZE}`);
    }
    const shr = new Reader(bytes, "section header table");
    if (shnum === 0) {
      // Extended numbering: the real count is in section 0's sh_size.
      shnum = shr.u64(shoff + 32, "section 0 sh_size (extended e_shnum)");
    }
    if (shstrndx === SHN_XINDEX) shstrndx = shr.u32(shoff + 40, "section 0 sh_link (e_shstrndx)");
    if (shnum > MAX_SECTIONS) throw badObject(`ELF header: ${shnum} sections is too many`);
    shr.check(shoff, shnum * SHDR_SIZE, `${shnum} section headers`);
    if (shstrndx >= shnum) {
      throw badObject(
        `ELF header: e_shstrndx ${shstrndx} is beyond the section table (${shnum} sections)`,
      );
    }
    this.header = { type, machine, version, flags, shoff, shnum, shstrndx };

    const sections: ElfSection[] = [];
    for (let i = 0; i < shnum; i++) {
      const b = shoff + i * SHDR_SIZE;
      const field = (f: string) => `section ${i} ${f}`;
      const s: ElfSection = {
        index: i,
        name: "",
        type: shr.u32(b + 4, field("sh_type")),
        flags: Number(shr.u64big(b + 8, field("sh_flags")) & 0xffffffffn),
        offset: shr.u64(b + 24, field("sh_offset")),
        size: shr.u64(b + 32, field("sh_size")),
        link: shr.u32(b + 40, field("sh_link")),
        info: shr.u32(b + 44, field("sh_info")),
        addralign: shr.u64(b + 48, field("sh_addralign")),
        entsize: shr.u64(b + 56, field("sh_entsize")),
        data: new Uint8Array(0),
      };
      if (i === 0) {
        sections.push(s);
        continue;
      }
      if (s.type !== SHT_NOBITS && s.type !== SHT_NULL) {
        if (s.offset > bytes.length || s.size > bytes.length - s.offset) {
          throw badObject(
            `section ${i}: contents at offset ${s.offset} (${s.size} bytes) extend beyond the file (${bytes.length} bytes)`,
          );
        }
        s.data = bytes.subarray(s.offset, s.offset + s.size);
      }
      sections.push(s);
    }
    const shstr = sections[shstrndx]!;
    if (shstr.type !== SHT_STRTAB) {
      throw badObject(`ELF header: e_shstrndx ${shstrndx} does not name a string table section`);
    }
    for (const s of sections) {
      if (s.index === 0) continue;
      const nameOff = shr.u32(shoff + s.index * SHDR_SIZE, `section ${s.index} sh_name`);
      s.name = cString(shstr.data, nameOff, `section ${s.index} name`);
    }
    this.sections = sections;

    // Symbol table: eBPF objects have exactly one.
    const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
    if (symtabs.length > 1) throw badObject(`ELF: ${symtabs.length} symbol tables (expected 1)`);
    const symtab = symtabs[0];
    this.symtabIndex = symtab?.index ?? 0;
    this.symbols = symtab ? this.readSymbols(symtab) : [];
  }

  private readSymbols(symtab: ElfSection): ElfSymbol[] {
    const what = `section ${symtab.name || symtab.index}`;
    if (symtab.entsize !== SYM_SIZE) {
      throw badObject(`${what}: symbol entry size ${symtab.entsize} is not ${SYM_SIZE}`);
    }
    if (symtab.size % SYM_SIZE !== 0) {
      throw badObject(`${what}: size ${symtab.size} is not a multiple of ${SYM_SIZE}`);
    }
    const strtab = this.sections[symtab.link];
    if (!strtab || strtab.type !== SHT_STRTAB) {
      throw badObject(`${what}: sh_link ${symtab.link} does not name a string table section`);
    }
    const r = new Reader(symtab.data, what);
    const n = symtab.size / SYM_SIZE;
    const out: ElfSymbol[] = [];
    for (let i = 0; i < n; i++) {
      const b = i * SYM_SIZE;
      const info = r.u8(b + 4);
      const sym: ElfSymbol = {
        index: i,
        name: cString(strtab.data, r.u32(b), `${what}: symbol ${i} name`),
        type: info & 0xf,
        bind: info >> 4,
        other: r.u8(b + 5),
        shndx: r.u16(b + 6),
        value: r.u64(b + 8, `symbol ${i} st_value`),
        size: r.u64(b + 16, `symbol ${i} st_size`),
      };
      if (
        sym.shndx !== SHN_UNDEF &&
        sym.shndx < SHN_LORESERVE &&
        sym.shndx >= this.sections.length
      ) {
        throw badObject(
          `${what}: symbol ${i} (${sym.name || "unnamed"}) refers to section ${sym.shndx} beyond the section table (${this.sections.length} sections)`,
        );
      }
      if (sym.shndx === SHN_XINDEX) {
        throw new BpftimeError(
          "unsupported",
          `${what}: symbol ${i} (${sym.name}) uses SHN_XINDEX (extended section indexes)`,
        );
      }
      out.push(sym);
    }
    return out;
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The REL section applying to section `target`, if any. */
  relSectionFor(target: number): ElfSection | undefined {
    return this.sections.find((s) => s.type === SHT_REL && s.info === target);
  }

  /** Relocations of REL section `rel`, validated against the symbol table and target section. */
  relocations(rel: ElfSection): ElfRelocation[] {
    const cached = this.relCache.get(rel.index);
    if (cached) return cached;
    const target = this.sections[rel.info];
    const what = `section ${target?.name || rel.name || rel.index}`;
    if (rel.type === SHT_RELA) {
      throw new BpftimeError("unsupported", `${what}: RELA relocations are not used by eBPF`);
    }
    if (rel.entsize !== REL_SIZE && rel.entsize !== 0) {
      throw badObject(`${what}: relocation entry size ${rel.entsize} is not ${REL_SIZE}`);
    }
    if (rel.size % REL_SIZE !== 0) {
      throw badObject(`${what}: relocation section size ${rel.size} is not a multiple of 16`);
    }
    if (!target || rel.info === 0) {
      throw badObject(
        `section ${rel.name}: sh_info ${rel.info} does not name a section to relocate (${this.sections.length} sections)`,
      );
    }
    if (rel.link !== this.symtabIndex || this.symtabIndex === 0) {
      throw badObject(`${what}: relocation sh_link ${rel.link} is not the symbol table`);
    }
    const r = new Reader(rel.data, `section ${rel.name}`);
    const n = rel.size / REL_SIZE;
    const out: ElfRelocation[] = [];
    for (let i = 0; i < n; i++) {
      const offset = r.u64(i * REL_SIZE, `relocation ${i} r_offset`);
      const info = r.u64big(i * REL_SIZE + 8, `relocation ${i} r_info`);
      const symbol = Number(info >> 32n);
      const type = Number(info & 0xffffffffn);
      if (symbol >= this.symbols.length) {
        throw badObject(
          `${what}: relocation ${i} refers to symbol index ${symbol} beyond the symbol table (${this.symbols.length} entries)`,
        );
      }
      if (target.type !== SHT_NOBITS && offset >= target.size) {
        throw badObject(
          `${what}: relocation ${i} at offset ${offset} is beyond the section (${target.size} bytes)`,
        );
      }
      out.push({ index: i, offset, type, symbol });
    }
    this.relCache.set(rel.index, out);
    return out;
  }
}

/** Parses an ELF64 little-endian eBPF relocatable object. */
export function parseElf(bytes: Uint8Array): ElfFile {
  return new ElfFile(bytes);
}
