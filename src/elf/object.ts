// eBPF object loader: ELF + BTF → ObjectSpec (programs, maps, license, BTF).
// This is the *spec* (what the ELF says), kept apart from the live objects
// (programs and maps created in shared memory), as cilium/ebpf keeps
// CollectionSpec apart from Collection.
//
// Relocation follows libbpf's semantics (tools/lib/bpf/libbpf.c), written
// afresh:
//   - lddw of a map symbol        → src_reg 5 (BPF_PSEUDO_MAP_IDX), imm = map index
//   - lddw of global data         → src_reg 6 (BPF_PSEUDO_MAP_IDX_VALUE), imm = map
//                                   index, second slot imm = symbol value + original imm
//   - lddw of a function address  → src_reg 4 (BPF_PSEUDO_FUNC), imm = relative insn
//   - call of a bpf function      → the callee (and transitively its callees) is
//                                   appended after the program; imm = relative insn
//   - CO-RE relocations           → resolved as libbpf does (src/btf/core.ts) against the
//                                   running kernel's BTF, then the program's own BTF for the
//                                   context types the runtime provides; one that finds no
//                                   target poisons its instruction (`call 0xbad2310`), which
//                                   the verifier refuses only if it is reachable

import { BpftimeError } from "../errors.ts";
import { logger } from "../log.ts";
import { type Btf, type BtfMember, parseBtf } from "../btf/index.ts";
import { type BtfExt, coreReloKindNames, parseBtfExt } from "../btf/index.ts";
import { CORE_POISON_HELPER, type CoreResult, essentialName } from "../btf/index.ts";
import { CoreReloKind, kernelBtf, resolveCoreRelo } from "../btf/index.ts";
import { funcSignature } from "../btf/index.ts";
import {
  type ElfFile,
  type ElfSection,
  type ElfSymbol,
  R_BPF_NONE,
  SHF_EXECINSTR,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_PROGBITS,
  STT_FUNC,
  STB_LOCAL,
  STB_WEAK,
  STT_SECTION,
  badObject,
  parseElf,
} from "./elf.ts";
import {
  type AttachHint,
  type ProgramType,
  kernelProgTypes,
  programInfoForSection,
} from "./sections.ts";
import { mapType, mapTypeId, mapTypeName } from "../enums.ts";
import { type Externs, resolveExterns } from "./externs.ts";

export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;

const OP_LDDW = 0x18;
const OP_CALL = 0x85;
const INSN_SIZE = 8;
/** Global data bigger than this is refused (a corrupted .bss size must not allocate gigabytes). */
export const MAX_GLOBAL_DATA = 64 << 20;

const BPF_MAP_TYPE_ARRAY = mapTypeId("array");

/**
 * Context structs the runtime provides, in the kernel's layout. CO-RE
 * relocations against them resolve against the kernel's BTF when it has a
 * matching type, else against the program's own BTF (the compiled offsets
 * are kept: local == target), so they work on kernels without BTF.
 */
export const KNOWN_CONTEXT_TYPES: ReadonlySet<string> = new Set([
  "xdp_md",
  "__sk_buff",
  "pt_regs",
  "user_pt_regs",
  "nginx_url_ctx",
  "bpf_raw_tracepoint_args",
  "bpf_perf_event_data",
  "trace_event_raw_sys_enter",
  "trace_event_raw_sys_exit",
]);

/** A CO-RE relocation as applied to a program (libbpf's "relo #N"). */
export interface ProgramCoreRelo {
  /** Instruction (8-byte slot) index in the relocated program. */
  insn: number;
  /** Index of the relocation among its section's records. */
  relo: number;
  kind: string;
  /** The instruction became `call 0xbad2310`: refused by the verifier if reachable. */
  poisoned: boolean;
  /** "<field_byte_offset> [5] struct task_struct.pid (0:1 @ offset 4) => …". */
  text: string;
}

export type MapOrigin = "btf" | "legacy" | "data";

export interface MapSpec {
  name: string;
  /** Kernel enum bpf_map_type. */
  type: number;
  typeName: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** 0 = none, 1 = LIBBPF_PIN_BY_NAME. */
  pinning: number;
  numaNode?: number;
  mapExtra?: number;
  /** BTF type ids of key and value, when the object says. */
  keyType?: number;
  valueType?: number;
  /** Initial contents of the single entry of a global data map. */
  initialData?: Uint8Array;
  /** .rodata*: frozen after creation, read-only to programs. */
  readOnly: boolean;
  /** ELF section the map comes from (".maps", "maps", ".rodata", …). */
  section: string;
  origin: MapOrigin;
  /** array_of_maps / hash_of_maps: the inner-map template (from `__array(values, struct …)`). */
  inner?: MapSpec;
  /** Slots the object initialises (`.values = { [i] = &map }`): map = index into ObjectSpec.maps. */
  initSlots?: { slot: number; map: number }[];
}

/** array_of_maps and hash_of_maps (MAP_F_OUTER in map_types.def): values are inner map ids. */
export const isOuterMapType = (type: number): boolean => mapType(type)?.outer ?? false;

/**
 * The __uint() fields of a BTF map definition that MapSpec takes as they are
 * (a Map, not an object literal: a member named "toString" must not match).
 */
const PLAIN_UINT_FIELDS = new Map<
  string,
  "type" | "maxEntries" | "flags" | "numaNode" | "mapExtra"
>([
  ["type", "type"],
  ["max_entries", "maxEntries"],
  ["map_flags", "flags"],
  ["numa_node", "numaNode"],
  ["map_extra", "mapExtra"],
]);

export interface ProgramFuncInfo {
  /** Instruction (8-byte slot) index in the relocated program. */
  insn: number;
  typeId: number;
}

export interface ProgramLineInfo {
  insn: number;
  fileName: string;
  line: string;
  lineNum: number;
  column: number;
}

export interface ProgramSpec {
  /** Function symbol name. */
  name: string;
  /** ELF section (SEC() name). */
  section: string;
  type: ProgramType;
  /** Kernel enum bpf_prog_type, for types the kernel has. */
  kernelType?: number;
  attach: AttachHint;
  /** Relocated bytecode, 8-byte slots; subprograms appended after the main function. */
  instructions: Uint8Array;
  /** Number of 8-byte slots (an lddw counts as two). */
  insnCount: number;
  license: string;
  /** BTF FUNC type id of the program function, if the object has BTF. */
  btfFuncId?: number;
  /** "int handle(struct xdp_md *ctx)", when BTF says. */
  signature?: string;
  /**
   * Subprograms appended after the main function, in order, with their start
   * slot; `global`: a non-static function of default visibility, which the
   * kernel verifies once from its BTF prototype (hidden ones count as static,
   * as libbpf marks them).
   */
  subprograms: { name: string; section: string; insn: number; global: boolean }[];
  /** Map indexes (into ObjectSpec.maps) the program references. */
  mapRefs: number[];
  funcInfo: ProgramFuncInfo[];
  lineInfo: ProgramLineInfo[];
  coreRelos: ProgramCoreRelo[];
}

export interface ObjectSpec {
  fileName?: string;
  programs: ProgramSpec[];
  maps: MapSpec[];
  license: string;
  /** Kernel version from the legacy "version" section, if present. */
  kernelVersion?: number;
  btf?: Btf;
  btfExt?: BtfExt;
}

interface Func {
  name: string;
  section: ElfSection;
  /** Slot index of the first instruction within its section. */
  start: number;
  /** Number of slots. */
  count: number;
  symbol: ElfSymbol;
}

function unsupported(message: string): BpftimeError {
  return new BpftimeError("unsupported", message);
}

function isDataSection(s: ElfSection): boolean {
  if (s.type !== SHT_PROGBITS && s.type !== SHT_NOBITS) return false;
  if ((s.flags & SHF_EXECINSTR) !== 0) return false;
  const n = s.name;
  return (
    n === ".data" ||
    n === ".rodata" ||
    n === ".bss" ||
    n.startsWith(".data.") ||
    n.startsWith(".rodata.") ||
    n.startsWith(".bss.")
  );
}

function isCodeSection(s: ElfSection): boolean {
  return s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0;
}

class Loader {
  readonly elf: ElfFile;
  license = "";
  btf?: Btf;
  btfExt?: BtfExt;
  maps: MapSpec[] = [];
  /** section index → (offset within section → map index). */
  mapsBySection = new Map<number, Map<number, number>>();
  /** data section index → map index. */
  dataMaps = new Map<number, number>();
  externs: Externs = { zero: new Set() };
  /** Map index of ".kconfig" (the __kconfig externs' values), if any. */
  kconfigMap?: number;
  /** code section index → functions sorted by start. */
  funcs = new Map<number, Func[]>();
  /** code section index → (byte offset → relocation index into rels). */
  relocs = new Map<number, Map<number, { index: number; type: number; symbol: number }>>();
  /** code section index → (byte offset → resolved CO-RE relocation). */
  coreRelos = new Map<number, Map<number, { index: number; kind: number; res: CoreResult }>>();

  constructor(bytes: Uint8Array) {
    this.elf = parseElf(bytes);
  }

  load(fileName?: string): ObjectSpec {
    const elf = this.elf;
    const lic = elf.section("license");
    if (lic) {
      // Like libbpf, a license without a terminating NUL is taken whole.
      const end = lic.data.indexOf(0);
      this.license = new TextDecoder("latin1").decode(
        lic.data.subarray(0, end < 0 ? undefined : end),
      );
    }
    let kernelVersion: number | undefined;
    const ver = elf.section("version");
    if (ver && ver.size >= 4 && ver.type === SHT_PROGBITS) {
      kernelVersion = new DataView(ver.data.buffer, ver.data.byteOffset, 4).getUint32(0, true);
    }

    const btfSec = elf.section(".BTF");
    if (btfSec) {
      this.btf = parseBtf(btfSec.data);
      this.fixupDatasecs();
      const ext = elf.section(".BTF.ext");
      if (ext) this.btfExt = parseBtfExt(ext.data, this.btf.strings);
    }

    this.collectLegacyMaps();
    this.collectBtfMaps();
    this.collectDataMaps();
    this.collectExterns();
    this.collectFuncs();
    this.collectRelocs();
    this.resolveCoreRelos();

    const programs: ProgramSpec[] = [];
    for (const s of elf.sections) {
      if (!isCodeSection(s) || s.name === ".text") continue;
      for (const f of this.funcs.get(s.index) ?? []) programs.push(this.buildProgram(f));
    }
    const names = new Set<string>();
    for (const p of programs) {
      if (names.has(p.name)) throw badObject(`section ${p.section}: duplicate program ${p.name}`);
      names.add(p.name);
    }
    return {
      fileName,
      programs,
      maps: this.maps,
      license: this.license,
      kernelVersion,
      btf: this.btf,
      btfExt: this.btfExt,
    };
  }

  /** Symbols defined in section `index` (not section/file symbols), sorted by value. */
  private symbolsIn(index: number, filter: (s: ElfSymbol) => boolean = () => true): ElfSymbol[] {
    return this.elf.symbols
      .filter((s) => s.shndx === index && s.type !== STT_SECTION && s.name !== "" && filter(s))
      .sort((a, b) => a.value - b.value);
  }

  /**
   * clang leaves DATASEC sizes and global variable offsets at 0 in .o files;
   * like libbpf, fill them in from the ELF section sizes and symbol values.
   */
  private fixupDatasecs(): void {
    const btf = this.btf!;
    for (const t of btf.types) {
      if (t.kind !== "datasec") continue;
      const sec = this.elf.section(t.name);
      if (!sec) continue;
      t.size = sec.size;
      for (const v of t.vars) {
        const vt = btf.type(v.type);
        const sym = this.elf.symbols.find((s) => s.shndx === sec.index && s.name === vt.name);
        if (sym) v.offset = sym.value;
        if (v.offset + v.size > sec.size) {
          throw badObject(
            `section .BTF: variable ${vt.name} (offset ${v.offset}, ${v.size} bytes) is beyond section ${t.name} (${sec.size} bytes)`,
          );
        }
      }
    }
  }

  private addMap(m: MapSpec, sectionIndex: number, offset: number): void {
    if (this.maps.some((x) => x.name === m.name)) {
      throw badObject(`section ${m.section}: duplicate map ${m.name}`);
    }
    const idx = this.maps.length;
    this.maps.push(m);
    let byOff = this.mapsBySection.get(sectionIndex);
    if (!byOff) this.mapsBySection.set(sectionIndex, (byOff = new Map()));
    byOff.set(offset, idx);
  }

  /** Legacy `struct bpf_map_def` maps in the "maps" section. */
  private collectLegacyMaps(): void {
    const sec = this.elf.section("maps");
    if (!sec || sec.size === 0) return;
    if (sec.type !== SHT_PROGBITS)
      throw badObject(`section maps: has no contents (type ${sec.type})`);
    const syms = this.symbolsIn(sec.index);
    if (syms.length === 0) throw badObject("section maps: no map symbols");
    const defSize = Math.floor(sec.size / syms.length);
    if (defSize < 16 || defSize % 4 !== 0 || defSize * syms.length !== sec.size) {
      throw badObject(
        `section maps: ${sec.size} bytes for ${syms.length} maps is not a whole number of bpf_map_def records`,
      );
    }
    const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
    for (const sym of syms) {
      if (sym.value % 4 !== 0 || sym.value + defSize > sec.size) {
        throw badObject(
          `section maps: map ${sym.name} at offset ${sym.value} (${defSize} bytes) is beyond the section (${sec.size} bytes)`,
        );
      }
      const u32 = (i: number) => (i * 4 + 4 <= defSize ? dv.getUint32(sym.value + i * 4, true) : 0);
      const type = u32(0);
      this.addMap(
        {
          name: sym.name,
          type,
          typeName: mapTypeName(type),
          keySize: u32(1),
          valueSize: u32(2),
          maxEntries: u32(3),
          flags: u32(4),
          pinning: 0,
          readOnly: false,
          section: "maps",
          origin: "legacy",
        },
        sec.index,
        sym.value,
      );
    }
  }

  /** BTF-defined maps in ".maps": struct { __uint(type, …); __type(key, …); … } name SEC(".maps"). */
  private collectBtfMaps(): void {
    const sec = this.elf.section(".maps");
    if (!sec || sec.size === 0) return;
    const btf = this.btf;
    if (!btf) throw badObject("section .maps: BTF-defined maps need a .BTF section");
    const ds = btf.datasec(".maps");
    if (!ds) throw badObject("section .maps: no DATASEC .maps in BTF");
    const outers: { index: number; offset: number; size: number; valuesOffset: number }[] = [];
    for (const v of ds.vars) {
      const vt = btf.type(v.type);
      if (vt.kind !== "var")
        throw badObject(`section .maps: BTF entry ${v.type} is not a variable`);
      const name = vt.name;
      const where = `section .maps: map ${name}`;
      const def = btf.resolve(vt.type);
      if (def.kind !== "struct") {
        throw badObject(`${where}: BTF type is ${def.kind}, expected a struct definition`);
      }
      const sym = this.elf.symbols.find((s) => s.shndx === sec.index && s.name === name);
      const offset = sym ? sym.value : v.offset;
      const { map: m, valuesOffset } = this.btfMapDef(def, name, where, true);
      if (valuesOffset !== undefined)
        outers.push({ index: this.maps.length, offset, size: v.size, valuesOffset });
      this.addMap(m, sec.index, offset);
    }
    this.collectInnerMapSlots(sec, outers);
  }

  /**
   * One BTF map definition (a struct of __uint/__type/__array fields). An
   * outer map's `__array(values, struct inner)` gives its inner-map
   * template, parsed as a definition of its own (as libbpf's
   * parse_btf_map_def); valuesOffset is where the slots start.
   */
  private btfMapDef(
    def: { members: readonly BtfMember[] },
    name: string,
    where: string,
    outer: boolean,
  ): { map: MapSpec; valuesOffset?: number } {
    const btf = this.btf!;
    const m: MapSpec = {
      name,
      type: 0,
      typeName: "",
      keySize: 0,
      valueSize: 0,
      maxEntries: 0,
      flags: 0,
      pinning: 0,
      readOnly: false,
      section: ".maps",
      origin: "btf",
    };
    let valuesOffset: number | undefined;
    // __uint(name, val) is `int (*name)[val]`; __type(name, T) is `T *name`.
    const uintField = (memberType: number, field: string): number => {
      const p = btf.resolve(memberType);
      if (p.kind !== "ptr") throw badObject(`${where}: field ${field} is not __uint() (${p.kind})`);
      const arr = btf.resolve(p.type);
      if (arr.kind !== "array") {
        throw badObject(`${where}: field ${field} is not __uint() (points to ${arr.kind})`);
      }
      return arr.nelems;
    };
    const typeField = (memberType: number, field: string): number => {
      const p = btf.resolve(memberType);
      if (p.kind !== "ptr") throw badObject(`${where}: field ${field} is not __type() (${p.kind})`);
      return p.type;
    };
    let keySize: number | undefined;
    let valueSize: number | undefined;
    for (const mem of def.members) {
      const plain = PLAIN_UINT_FIELDS.get(mem.name);
      if (plain) {
        m[plain] = uintField(mem.type, mem.name);
        continue;
      }
      switch (mem.name) {
        case "pinning":
          m.pinning = uintField(mem.type, mem.name);
          if (m.pinning > 1) {
            throw unsupported(`${where}: pinning ${m.pinning} (only 0 and LIBBPF_PIN_BY_NAME)`);
          }
          break;
        case "key_size":
          keySize = uintField(mem.type, mem.name);
          break;
        case "value_size":
          valueSize = uintField(mem.type, mem.name);
          break;
        case "key":
          m.keyType = typeField(mem.type, mem.name);
          m.keySize = this.btfSize(m.keyType, `${where}: key`);
          break;
        case "value":
          m.valueType = typeField(mem.type, mem.name);
          m.valueSize = this.btfSize(m.valueType, `${where}: value`);
          break;
        case "values": {
          // __array(values, struct inner) is `struct inner *values[]`
          const arr = btf.resolve(mem.type);
          const p = arr.kind === "array" ? btf.resolve(arr.type) : undefined;
          const target = p?.kind === "ptr" ? btf.resolve(p.type) : undefined;
          if (!target) throw badObject(`${where}: field values is not __array()`);
          if (target.kind !== "struct")
            throw unsupported(`${where}: initial 'values' of a prog array are not supported`);
          if (!outer) throw badObject(`${where}: maps of maps cannot nest`);
          m.inner = this.btfMapDef(target, `${name}.inner`, `${where}: inner map`, false).map;
          // libbpf: the outer map's values are 4-byte map ids (fds)
          valueSize ??= 4;
          valuesOffset = mem.bitOffset / 8;
          break;
        }
        default:
          logger.debug(`${where}: ignoring unknown field '${mem.name}'`);
      }
    }
    if (keySize !== undefined) {
      if (m.keyType !== undefined && keySize !== m.keySize) {
        throw badObject(`${where}: key_size ${keySize} does not match key type size ${m.keySize}`);
      }
      m.keySize = keySize;
    }
    if (valueSize !== undefined) {
      if (m.valueType !== undefined && valueSize !== m.valueSize) {
        throw badObject(
          `${where}: value_size ${valueSize} does not match value type size ${m.valueSize}`,
        );
      }
      m.valueSize = valueSize;
    }
    m.typeName = mapTypeName(m.type);
    if (m.inner && !isOuterMapType(m.type))
      throw badObject(`${where}: only array_of_maps and hash_of_maps take __array(values, …)`);
    if (outer && isOuterMapType(m.type) && !m.inner)
      throw unsupported(
        `${where}: a ${m.typeName} map needs its inner map in the definition (__array(values, struct inner_map))`,
      );
    return valuesOffset === undefined ? { map: m } : { map: m, valuesOffset };
  }

  /**
   * libbpf's static initialisation of outer maps (`.values = { [0] = &inner_a }`):
   * relocations in .rel.maps at slot i of an outer map's values name the map stored there.
   */
  private collectInnerMapSlots(
    sec: ElfSection,
    outers: { index: number; offset: number; size: number; valuesOffset: number }[],
  ): void {
    const rel = this.elf.relSectionFor(sec.index);
    if (!rel) return;
    for (const r of this.elf.relocations(rel)) {
      const o = outers.find((x) => r.offset >= x.offset && r.offset < x.offset + x.size);
      const sym = this.elf.symbols[r.symbol];
      const outer = o ? this.maps[o.index]! : undefined;
      const where = `section .maps: relocation at offset ${r.offset}`;
      if (!o || !outer) throw badObject(`${where} is not inside an outer map's values`);
      const rel0 = r.offset - o.offset - o.valuesOffset;
      if (rel0 < 0 || rel0 % 8 !== 0)
        throw badObject(`${where} is not a slot of map ${outer.name}'s values`);
      const slot = rel0 / 8;
      const target = this.maps.findIndex((x) => x.section === ".maps" && x.name === sym?.name);
      if (!sym || target < 0)
        throw badObject(`${where}: map ${outer.name} slot ${slot} names no map of .maps`);
      if (slot >= outer.maxEntries)
        throw badObject(
          `${where}: map ${outer.name} slot ${slot} is past its max_entries ${outer.maxEntries}`,
        );
      (outer.initSlots ??= []).push({ slot, map: target });
    }
  }

  private btfSize(id: number, what: string): number {
    try {
      return this.btf!.sizeof(id);
    } catch (e) {
      if (e instanceof BpftimeError) throw e.wrap(what);
      throw e;
    }
  }

  /** .data/.rodata/.bss (and their .suffix variants) as single-entry ARRAY maps. */
  private collectDataMaps(): void {
    for (const s of this.elf.sections) {
      if (!isDataSection(s) || s.size === 0) continue;
      if (s.size > MAX_GLOBAL_DATA) {
        throw unsupported(
          `section ${s.name}: ${s.size} bytes of global data is more than the ${MAX_GLOBAL_DATA} supported`,
        );
      }
      const readOnly = s.name === ".rodata" || s.name.startsWith(".rodata.");
      const ds = this.btf?.datasec(s.name);
      const initial = s.type === SHT_NOBITS ? new Uint8Array(s.size) : s.data.slice();
      const idx = this.maps.length;
      this.addMap(
        {
          name: s.name,
          type: BPF_MAP_TYPE_ARRAY,
          typeName: mapTypeName(BPF_MAP_TYPE_ARRAY),
          keySize: 4,
          valueSize: s.size,
          maxEntries: 1,
          flags: readOnly ? BPF_F_RDONLY_PROG : 0,
          pinning: 0,
          valueType: ds?.id,
          initialData: initial,
          readOnly,
          section: s.name,
          origin: "data",
        },
        s.index,
        0,
      );
      this.dataMaps.set(s.index, idx);
    }
  }

  /** __kconfig externs → the read-only ".kconfig" map; weak __ksym externs → 0 (./externs.ts). */
  private collectExterns(): void {
    const undefs = new Map<string, boolean>();
    for (const s of this.elf.symbols) {
      if (s.shndx === SHN_UNDEF && s.name) undefs.set(s.name, s.bind === STB_WEAK);
    }
    if (undefs.size === 0) return;
    this.externs = resolveExterns(this.btf, undefs);
    const k = this.externs.kconfig;
    if (!k) return;
    this.kconfigMap = this.maps.length;
    this.maps.push({
      name: ".kconfig",
      type: BPF_MAP_TYPE_ARRAY,
      typeName: mapTypeName(BPF_MAP_TYPE_ARRAY),
      keySize: 4,
      valueSize: Math.max(k.data.length, 1),
      maxEntries: 1,
      flags: BPF_F_RDONLY_PROG,
      pinning: 0,
      valueType: k.datasecId,
      initialData: k.data.length ? k.data : new Uint8Array(1),
      readOnly: true,
      section: ".kconfig",
      origin: "data",
    });
  }

  /** Splits every code section into functions, by STT_FUNC symbols (like libbpf). */
  private collectFuncs(): void {
    for (const s of this.elf.sections) {
      if (!isCodeSection(s) || s.size === 0) continue;
      if (s.size % INSN_SIZE !== 0) {
        throw badObject(`section ${s.name}: size ${s.size} is not a multiple of 8`);
      }
      const syms = this.symbolsIn(s.index, (sym) => sym.type === STT_FUNC);
      const funcs: Func[] = [];
      for (let i = 0; i < syms.length; i++) {
        const sym = syms[i]!;
        const where = `section ${s.name}: function ${sym.name}`;
        if (sym.value % INSN_SIZE !== 0 || sym.size % INSN_SIZE !== 0) {
          throw badObject(
            `${where}: offset ${sym.value} or size ${sym.size} is not a multiple of 8`,
          );
        }
        let size = sym.size;
        if (size === 0) size = (syms[i + 1]?.value ?? s.size) - sym.value;
        if (size <= 0 || sym.value + size > s.size) {
          throw badObject(
            `${where}: offset ${sym.value} (${size} bytes) is beyond the section (${s.size} bytes)`,
          );
        }
        const prev = funcs[funcs.length - 1];
        if (prev && (prev.start + prev.count) * INSN_SIZE > sym.value) {
          throw badObject(`${where}: overlaps function ${prev.name}`);
        }
        funcs.push({
          name: sym.name,
          section: s,
          start: sym.value / INSN_SIZE,
          count: size / INSN_SIZE,
          symbol: sym,
        });
      }
      this.funcs.set(s.index, funcs);
    }
  }

  private collectRelocs(): void {
    for (const s of this.elf.sections) {
      if (!isCodeSection(s)) continue;
      const rel = this.elf.relSectionFor(s.index);
      if (!rel) continue;
      const byOff = new Map<number, { index: number; type: number; symbol: number }>();
      for (const r of this.elf.relocations(rel)) {
        if (r.offset % INSN_SIZE !== 0) {
          throw badObject(
            `section ${s.name}: relocation ${r.index} at offset ${r.offset} is not on an instruction boundary`,
          );
        }
        if (byOff.has(r.offset)) {
          throw badObject(`section ${s.name}: two relocations for offset ${r.offset}`);
        }
        byOff.set(r.offset, r);
      }
      this.relocs.set(s.index, byOff);
    }
  }

  /**
   * Resolves every CO-RE relocation (src/btf/core.ts) against the kernel's
   * BTF, and the program's own BTF for the context types the runtime
   * provides; the instructions are patched per program (buildProgram).
   */
  private resolveCoreRelos(): void {
    const ext = this.btfExt;
    const btf = this.btf;
    if (!ext || !btf) return;
    let kernel: Btf | undefined | null = null; // null: not read yet
    for (const [secName, relos] of ext.coreRelos) {
      const sec = this.elf.section(secName);
      if (!sec || !isCodeSection(sec)) {
        throw badObject(`section .BTF.ext: CO-RE relocations for unknown code section ${secName}`);
      }
      const bySec = new Map<number, { index: number; kind: number; res: CoreResult }>();
      relos.forEach((r, i) => {
        const where = `section ${secName}: CO-RE relocation #${i} at insn ${r.insnOff / INSN_SIZE}`;
        if (r.insnOff % INSN_SIZE !== 0 || r.insnOff >= sec.size) {
          throw badObject(`${where}: not an instruction of the section (${sec.size} bytes)`);
        }
        if (r.typeId === 0 || r.typeId >= btf.count) {
          throw badObject(`${where}: type id ${r.typeId} is not in BTF (${btf.count} types)`);
        }
        const kind = coreReloKindNames[r.kind];
        if (!kind) throw badObject(`${where}: unknown relocation kind ${r.kind}`);
        if (!/^[0-9]+(:[0-9]+)*$/.test(r.access)) {
          throw badObject(`${where}: bad access string '${r.access}'`);
        }
        if (bySec.has(r.insnOff)) throw badObject(`${where}: a second relocation of the insn`);
        const targets: Btf[] = [];
        if (r.kind !== CoreReloKind.TYPE_ID_LOCAL) {
          if (kernel === null) kernel = kernelBtf();
          if (kernel) targets.push(kernel);
          if (KNOWN_CONTEXT_TYPES.has(essentialName(btf.type(r.typeId).name))) targets.push(btf);
        }
        let res: CoreResult;
        try {
          res = resolveCoreRelo(btf, r, targets);
        } catch (e) {
          if (e instanceof BpftimeError) throw e.wrap(`${where} (${kind}, access ${r.access})`);
          throw e;
        }
        logger.debug(`${where}: ${res.text}${res.poison ? ": poisoned" : ""}`);
        bySec.set(r.insnOff, { index: i, kind: r.kind, res });
      });
      this.coreRelos.set(sec.index, bySec);
    }
  }

  /**
   * Patches slot `i` of `code` (a function's instructions) with a resolved
   * CO-RE relocation, as libbpf's bpf_core_patch_insn: the immediate of an
   * ALU op or ldimm64, the offset (and for a field whose size changed, the
   * size) of a load or store; or poisons it. Returns true when poisoned.
   */
  private patchCore(code: Uint8Array, i: number, res: CoreResult, where: string): boolean {
    const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
    const at = i * INSN_SIZE;
    const op = code[at]!;
    const cls = op & 7;
    const isLddw = op === OP_LDDW;
    const poison = () => {
      for (const slot of isLddw ? [i, i + 1] : [i]) {
        code[slot * INSN_SIZE] = OP_CALL;
        code[slot * INSN_SIZE + 1] = 0;
        dv.setInt16(slot * INSN_SIZE + 2, 0, true);
        dv.setInt32(slot * INSN_SIZE + 4, CORE_POISON_HELPER, true);
      }
      return true;
    };
    if (res.poison) return poison();
    const expect = (got: bigint) => {
      if (res.validate && got !== res.origVal) {
        throw badObject(
          `${where}: the instruction holds ${got}, expected ${res.origVal} (compiled with other types than its BTF says)`,
        );
      }
    };
    const u64 = (v: number) => BigInt.asUintN(64, BigInt(v));
    switch (cls) {
      case 4: // ALU
      case 7: // ALU64
        if ((op & 0x08) !== 0) throw badObject(`${where}: ALU instruction with a register source`);
        expect(u64(dv.getInt32(at + 4, true)));
        dv.setInt32(at + 4, Number(BigInt.asIntN(32, res.newVal)), true);
        return false;
      case 1: // LDX
      case 2: // ST
      case 3: {
        // STX
        expect(u64(dv.getInt16(at + 2, true)));
        if (res.newVal > 0x7fffn) throw badObject(`${where}: offset ${res.newVal} is too big`);
        if (res.failMemszAdjust) {
          logger.warn(
            `${where}: the field's size changed (${res.origSz} -> ${res.newSz}) and it is not an unsigned integer or pointer: instruction poisoned`,
          );
          return poison();
        }
        dv.setInt16(at + 2, Number(res.newVal), true);
        if (res.newSz !== res.origSz) {
          const sizes: Record<number, number> = { 8: 0x18, 4: 0x00, 2: 0x08, 1: 0x10 };
          const bytes: Record<number, number> = { 0x18: 8, 0x00: 4, 0x08: 2, 0x10: 1 };
          if (bytes[op & 0x18] !== res.origSz) {
            throw badObject(
              `${where}: memory access of ${bytes[op & 0x18]} bytes, expected ${res.origSz}`,
            );
          }
          const sz = sizes[res.newSz];
          if (sz === undefined)
            throw badObject(`${where}: field size ${res.newSz} cannot be loaded`);
          code[at] = (op & ~0x18) | sz;
        }
        return false;
      }
      case 0: {
        // LD: only ldimm64 of a plain constant
        if (
          !isLddw ||
          i + 1 >= code.length / INSN_SIZE ||
          code[at + 1]! >> 4 !== 0 ||
          dv.getInt16(at + 2, true) !== 0 ||
          code[at + 8] !== 0 ||
          code[at + 9] !== 0 ||
          dv.getInt16(at + 10, true) !== 0
        ) {
          throw badObject(`${where}: ldimm64 of unexpected form`);
        }
        const imm =
          (BigInt(dv.getUint32(at + 12, true)) << 32n) | BigInt(dv.getUint32(at + 4, true));
        expect(imm);
        dv.setUint32(at + 4, Number(res.newVal & 0xffffffffn), true);
        dv.setUint32(at + 12, Number((res.newVal >> 32n) & 0xffffffffn), true);
        return false;
      }
      default:
        throw badObject(`${where}: cannot relocate instruction opcode 0x${op.toString(16)}`);
    }
  }

  private funcAt(sectionIndex: number, insn: number): Func | undefined {
    for (const f of this.funcs.get(sectionIndex) ?? []) {
      if (insn >= f.start && insn < f.start + f.count) return f;
    }
    return undefined;
  }

  private buildProgram(main: Func): ProgramSpec {
    const info = programInfoForSection(main.section.name);
    const placed = new Map<Func, number>([[main, 0]]);
    const order: Func[] = [main];
    const codes: Uint8Array[] = [];
    const mapRefs = new Set<number>();
    const coreRelos: ProgramCoreRelo[] = [];
    let total = main.count;
    const place = (f: Func): number => {
      let at = placed.get(f);
      if (at === undefined) {
        at = total;
        placed.set(f, at);
        order.push(f);
        total += f.count;
      }
      return at;
    };

    for (let n = 0; n < order.length; n++) {
      const f = order[n]!;
      const fStart = placed.get(f)!;
      const sec = f.section;
      const code = sec.data.slice(f.start * INSN_SIZE, (f.start + f.count) * INSN_SIZE);
      const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
      const relocs = this.relocs.get(sec.index);
      const where = `section ${sec.name}: function ${f.name}`;
      for (const [off, c] of this.coreRelos.get(sec.index) ?? []) {
        const i = off / INSN_SIZE - f.start;
        if (i < 0 || i >= f.count) continue;
        const cwhere = `${where}: CO-RE relocation #${c.index} (insn ${i}, ${coreReloKindNames[c.kind]})`;
        const poisoned = this.patchCore(code, i, c.res, cwhere);
        coreRelos.push({
          insn: fStart + i,
          relo: c.index,
          kind: coreReloKindNames[c.kind]!,
          poisoned,
          text: c.res.text,
        });
        if (poisoned)
          logger.info(
            `prog '${main.name}': relo #${c.index}: poisoned insn #${fStart + i}: ${c.res.text}`,
          );
      }
      const setCallTarget = (i: number, tsec: ElfSection, tinsn: number, what: string) => {
        const target = this.funcAt(tsec.index, tinsn);
        if (!target) {
          throw badObject(
            `${where}: ${what} at insn ${i} targets instruction ${tinsn} of section ${tsec.name}, which is in no function`,
          );
        }
        const tStart = place(target);
        const rel = tStart + (tinsn - target.start) - (fStart + i) - 1;
        dv.setInt32(i * INSN_SIZE + 4, rel, true);
      };
      for (let i = 0; i < f.count; i++) {
        const op = code[i * INSN_SIZE]!;
        const regs = code[i * INSN_SIZE + 1]!;
        const src = regs >> 4;
        const imm = dv.getInt32(i * INSN_SIZE + 4, true);
        const byteOff = (f.start + i) * INSN_SIZE;
        const r = relocs?.get(byteOff);
        const isLddw = op === OP_LDDW;
        if (isLddw && i + 1 >= f.count) {
          throw badObject(`${where}: lddw at insn ${i} is cut off by the end of the function`);
        }
        if (r && r.type !== R_BPF_NONE) {
          const sym = this.elf.symbols[r.symbol]!;
          const symName =
            sym.name ||
            (sym.shndx < this.elf.sections.length ? this.elf.sections[sym.shndx]?.name : "") ||
            `#${sym.index}`;
          const rwhere = `${where}: relocation ${r.index} (insn ${i}, symbol ${symName})`;
          if (sym.shndx === SHN_UNDEF) {
            const kcfg = this.externs.kconfig?.externs.get(sym.name);
            if (isLddw && kcfg && this.kconfigMap !== undefined) {
              // a pointer into the .kconfig map's value
              code[i * INSN_SIZE + 1] = (regs & 0x0f) | (BPF_PSEUDO_MAP_IDX_VALUE << 4);
              dv.setInt32(i * INSN_SIZE + 4, this.kconfigMap, true);
              dv.setInt32((i + 1) * INSN_SIZE + 4, kcfg.offset + imm, true);
              mapRefs.add(this.kconfigMap);
              i++;
              continue;
            }
            if (isLddw && this.externs.zero.has(sym.name)) {
              // a weak __ksym: no kernel symbols in userspace
              dv.setInt32(i * INSN_SIZE + 4, 0, true);
              dv.setInt32((i + 1) * INSN_SIZE + 4, 0, true);
              i++;
              continue;
            }
            throw unsupported(
              `${rwhere}: extern symbol (a strong __ksym, a kfunc or a function in another object) is not supported; __kconfig externs and weak __ksym variables are`,
            );
          }
          if (sym.shndx >= SHN_LORESERVE) {
            throw unsupported(`${rwhere}: symbol in special section 0x${sym.shndx.toString(16)}`);
          }
          const tsec = this.elf.sections[sym.shndx]!;
          if (isLddw) {
            if (isCodeSection(tsec)) {
              const target = sym.value + imm;
              if (target % INSN_SIZE !== 0) {
                throw badObject(`${rwhere}: function address ${target} is not instruction aligned`);
              }
              code[i * INSN_SIZE + 1] = (regs & 0x0f) | (BPF_PSEUDO_FUNC << 4);
              setCallTarget(i, tsec, target / INSN_SIZE, "function address");
            } else if (this.mapsBySection.has(tsec.index) && !this.dataMaps.has(tsec.index)) {
              const idx = this.mapsBySection.get(tsec.index)!.get(sym.value + imm);
              if (idx === undefined) {
                throw badObject(
                  `${rwhere}: no map at offset ${sym.value + imm} of section ${tsec.name}`,
                );
              }
              code[i * INSN_SIZE + 1] = (regs & 0x0f) | (BPF_PSEUDO_MAP_IDX << 4);
              dv.setInt32(i * INSN_SIZE + 4, idx, true);
              mapRefs.add(idx);
            } else if (this.dataMaps.has(tsec.index)) {
              const idx = this.dataMaps.get(tsec.index)!;
              const off = sym.value + imm;
              if (off < 0 || off > tsec.size) {
                throw badObject(
                  `${rwhere}: offset ${off} is beyond section ${tsec.name} (${tsec.size} bytes)`,
                );
              }
              code[i * INSN_SIZE + 1] = (regs & 0x0f) | (BPF_PSEUDO_MAP_IDX_VALUE << 4);
              dv.setInt32(i * INSN_SIZE + 4, idx, true);
              dv.setInt32((i + 1) * INSN_SIZE + 4, off, true);
              mapRefs.add(idx);
            } else {
              throw unsupported(
                `${rwhere}: lddw refers to section ${tsec.name || tsec.index}, which is neither a map nor global data section`,
              );
            }
          } else if (op === OP_CALL && src === BPF_PSEUDO_CALL) {
            if (!isCodeSection(tsec)) {
              throw badObject(`${rwhere}: call target is in non-code section ${tsec.name}`);
            }
            if (sym.value % INSN_SIZE !== 0) {
              throw badObject(
                `${rwhere}: call target offset ${sym.value} is not instruction aligned`,
              );
            }
            setCallTarget(i, tsec, sym.value / INSN_SIZE + imm + 1, "call");
          } else if (op === OP_CALL && src === BPF_PSEUDO_KFUNC_CALL) {
            throw unsupported(`${rwhere}: kfunc calls are not supported`);
          } else {
            throw unsupported(
              `${rwhere}: relocation type ${r.type} on instruction opcode 0x${op.toString(16)} (only lddw and bpf-to-bpf calls are relocated)`,
            );
          }
        } else if (op === OP_CALL && src === BPF_PSEUDO_CALL) {
          // A call within the same section carries no relocation: imm is relative.
          setCallTarget(i, sec, f.start + i + imm + 1, "call");
        } else if (op === OP_CALL && src === BPF_PSEUDO_KFUNC_CALL) {
          throw unsupported(`${where}: kfunc call at insn ${i} is not supported`);
        } else if (isLddw && (src === BPF_PSEUDO_MAP_FD || src === 2 || src === 3)) {
          throw badObject(`${where}: lddw at insn ${i} refers to a map fd without a relocation`);
        }
        if (isLddw) i++;
      }
      codes[n] = code;
    }

    const instructions = new Uint8Array(total * INSN_SIZE);
    order.forEach((f, n) => instructions.set(codes[n]!, placed.get(f)! * INSN_SIZE));

    const spec: ProgramSpec = {
      name: main.name,
      section: main.section.name,
      type: info.type,
      kernelType: kernelProgTypes[info.type],
      attach: info.attach,
      instructions,
      insnCount: total,
      license: this.license,
      subprograms: order.slice(1).map((f) => ({
        name: f.name,
        section: f.section.name,
        insn: placed.get(f)!,
        // STV_DEFAULT (0) or STV_PROTECTED (3): visible outside the object
        global: f.symbol.bind !== STB_LOCAL && (f.symbol.other & 3) % 3 === 0,
      })),
      mapRefs: [...mapRefs].sort((a, b) => a - b),
      funcInfo: [],
      lineInfo: [],
      coreRelos: coreRelos.sort((a, b) => a.insn - b.insn),
    };
    const btf = this.btf;
    if (btf) {
      const fn = btf.func(main.name);
      if (fn) {
        spec.btfFuncId = fn.id;
        spec.signature = funcSignature(btf, fn.id);
      }
    }
    if (this.btfExt) {
      for (const f of order) {
        const base = placed.get(f)!;
        const inF = (off: number) => {
          const insn = off / INSN_SIZE;
          return off % INSN_SIZE === 0 && insn >= f.start && insn < f.start + f.count;
        };
        for (const fi of this.btfExt.funcInfo.get(f.section.name) ?? []) {
          if (inF(fi.insnOff)) {
            spec.funcInfo.push({
              insn: base + fi.insnOff / INSN_SIZE - f.start,
              typeId: fi.typeId,
            });
          }
        }
        for (const li of this.btfExt.lineInfo.get(f.section.name) ?? []) {
          if (inF(li.insnOff)) {
            spec.lineInfo.push({
              insn: base + li.insnOff / INSN_SIZE - f.start,
              fileName: li.fileName,
              line: li.line,
              lineNum: li.lineNum,
              column: li.column,
            });
          }
        }
      }
    }
    return spec;
  }
}

/**
 * Loads an eBPF object (.o from clang -target bpf) into an ObjectSpec. Throws
 * BpftimeError: "bad_object" for malformed input, "unsupported" for valid
 * features the runtime does not handle.
 */
export function loadObject(bytes: Uint8Array, fileName?: string): ObjectSpec {
  try {
    return new Loader(bytes).load(fileName);
  } catch (e) {
    if (e instanceof BpftimeError) throw fileName ? e.wrap(fileName) : e;
    throw e;
  }
}

/** Reads and loads an object file. */
export async function loadObjectFile(path: string): Promise<ObjectSpec> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await Bun.file(path).arrayBuffer());
  } catch (e) {
    throw new BpftimeError(
      "not_found",
      `${path}: cannot read object file: ${(e as Error).message}`,
    );
  }
  return loadObject(bytes, path);
}
