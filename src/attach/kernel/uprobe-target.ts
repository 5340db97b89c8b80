// "BINARY:SYMBOL[+OFF]" → the file and file offset a kernel uprobe takes.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { basename } from "node:path";
import { BpftimeError } from "../../errors.ts";
import { cString, Reader } from "../../elf/index.ts";

let ldconfigCache: Array<{ name: string; path: string; x64: boolean }> | undefined;

function ldconfig(): Array<{ name: string; path: string; x64: boolean }> {
  if (ldconfigCache) return ldconfigCache;
  ldconfigCache = [];
  for (const bin of ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"]) {
    try {
      const r = Bun.spawnSync([bin, "-p"], { stdout: "pipe", stderr: "ignore" });
      if (r.exitCode !== 0) continue;
      for (const line of r.stdout.toString().split("\n")) {
        const m = /^\s*(\S+) \(([^)]*)\) => (\S+)$/.exec(line);
        if (m) ldconfigCache.push({ name: m[1]!, path: m[3]!, x64: m[2]!.includes("x86-64") });
      }
      break;
    } catch {
      /* try the next location */
    }
  }
  return ldconfigCache;
}

/** "libc.so.6" / "libc" / "/usr/bin/ls" / "ls" → an absolute file path. */
export function resolveBinary(binary: string): string {
  if (binary.includes("/")) {
    try {
      return realpathSync(binary);
    } catch {
      throw new BpftimeError("not_found", `uprobe target ${binary}: no such file`);
    }
  }
  const nameMatches = (n: string) =>
    n === binary || n.startsWith(binary + ".") || n.startsWith(binary + "-");
  const libs = ldconfig().filter((l) => nameMatches(l.name));
  const lib =
    libs.find((l) => l.name === binary && l.x64) ??
    libs.find((l) => l.name === binary) ??
    libs.find((l) => l.x64) ??
    libs[0];
  if (lib && existsSync(lib.path)) return realpathSync(lib.path);
  try {
    for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
      const path = line.split(/\s+/).slice(5).join(" ");
      if (path.startsWith("/") && nameMatches(basename(path))) return realpathSync(path);
    }
  } catch {
    /* no /proc */
  }
  const exe = Bun.which(binary);
  if (exe) return realpathSync(exe);
  throw new BpftimeError(
    "not_found",
    `uprobe target ${binary}: no such library (ldconfig -p) or program ($PATH); give its full path`,
  );
}

interface HostSymbol {
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
}

interface HostElf {
  symbols: HostSymbol[];
  /** PT_LOAD segments: vaddr, file offset, file size. */
  loads: Array<{ vaddr: number; offset: number; filesz: number }>;
}

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const elfCache = new Map<string, HostElf>();

/** Symbols (.symtab and .dynsym, defined functions) and PT_LOAD segments of an x86-64 ELF. */
function readHostElf(path: string): HostElf {
  const cached = elfCache.get(path);
  if (cached) return cached;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new BpftimeError("io", `uprobe target ${path}: ${(e as Error).message}`);
  }
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
    throw new BpftimeError("invalid_argument", `uprobe target ${path} is not an ELF file`);
  if (bytes[4] !== 2 || bytes[5] !== 1)
    throw new BpftimeError(
      "unsupported",
      `uprobe target ${path} is not a 64-bit little-endian ELF`,
    );
  const r = new Reader(bytes, `ELF ${path}`);
  const phoff = r.u64(32);
  const shoff = r.u64(40);
  const phentsize = r.u16(54);
  const phnum = r.u16(56);
  const shentsize = r.u16(58);
  const shnum = r.u16(60);
  const loads: HostElf["loads"] = [];
  for (let i = 0; i < phnum; i++) {
    const b = phoff + i * phentsize;
    if (r.u32(b) !== 1) continue; // PT_LOAD
    loads.push({ offset: r.u64(b + 8), vaddr: r.u64(b + 16), filesz: r.u64(b + 32) });
  }
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const b = shoff + i * shentsize;
    sections.push({
      type: r.u32(b + 4),
      offset: r.u64(b + 24),
      size: r.u64(b + 32),
      link: r.u32(b + 40),
    });
  }
  const symbols: HostSymbol[] = [];
  for (const s of sections) {
    if (s.type !== 2 && s.type !== 11) continue; // SHT_SYMTAB, SHT_DYNSYM
    const str = sections[s.link];
    if (!str) continue;
    const strtab = bytes.subarray(str.offset, str.offset + str.size);
    for (let off = s.offset; off + 24 <= s.offset + s.size; off += 24) {
      const info = r.u8(off + 4);
      const type = info & 0xf;
      const shndx = r.u16(off + 6);
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === 0) continue;
      let name: string;
      try {
        name = cString(strtab, r.u32(off), "symbol");
      } catch {
        continue;
      }
      symbols.push({ name, type, bind: info >> 4, value: r.u64(off + 8), size: r.u64(off + 16) });
    }
  }
  const elf = { symbols, loads };
  elfCache.set(path, elf);
  return elf;
}

function vaddrToOffset(elf: HostElf, vaddr: number): number | undefined {
  const seg = elf.loads.find((l) => vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz);
  return seg ? vaddr - seg.vaddr + seg.offset : undefined;
}

export interface ResolvedTarget {
  /** As given: "libc.so.6:malloc". */
  arg: string;
  file: string;
  /** File offset the uprobe goes to. */
  offset: number;
  symbol?: string;
}

/** "BINARY:SYMBOL[+OFF]" or "BINARY:0xADDR[+OFF]" → file and file offset. */
export function resolveUprobeTarget(arg: string): ResolvedTarget {
  const colon = arg.lastIndexOf(":");
  const m = colon > 0 ? /^([^+\s]+)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(arg.slice(colon + 1)) : null;
  if (!m)
    throw new BpftimeError(
      "invalid_argument",
      `bad uprobe target "${arg}": expected BINARY:SYMBOL[+OFF] or BINARY:0xADDR[+OFF]`,
    );
  const file = resolveBinary(arg.slice(0, colon));
  const extra = m[2] ? Number(m[2]) : 0;
  const elf = readHostElf(file);
  let vaddr: number;
  let symbol: string | undefined;
  if (/^0x[0-9a-f]+$/i.test(m[1]!)) {
    vaddr = Number(m[1]) + extra;
  } else {
    symbol = m[1]!;
    const cands = elf.symbols.filter((s) => s.name === symbol || s.name.split("@")[0] === symbol);
    if (cands.length === 0)
      throw new BpftimeError(
        "not_found",
        `uprobe target ${arg}: no function ${symbol} in ${file} (.symtab/.dynsym)`,
      );
    const sym = cands.find((s) => s.bind === 1) ?? cands[0]!;
    if (sym.type === STT_GNU_IFUNC)
      throw new BpftimeError(
        "unsupported",
        `uprobe target ${arg}: ${symbol} is an indirect function (IFUNC) in ${file}; the kernel would probe its resolver: name the implementation (see \`nm -D ${file}\`)`,
      );
    vaddr = sym.value + extra;
  }
  const offset = vaddrToOffset(elf, vaddr);
  if (offset === undefined)
    throw new BpftimeError(
      "invalid_argument",
      `uprobe target ${arg}: address 0x${vaddr.toString(16)} is in no loadable segment of ${file}`,
    );
  return { arg, file, offset, ...(symbol ? { symbol } : {}) };
}

/** "file:symbol+0xoff" for a file offset (what `list` shows), best effort. */
export function describeOffset(file: string, offset: number): string {
  const short = basename(file);
  try {
    const elf = readHostElf(file);
    const seg = elf.loads.find((l) => offset >= l.offset && offset < l.offset + l.filesz);
    if (seg) {
      const vaddr = offset - seg.offset + seg.vaddr;
      const sym =
        elf.symbols.find((s) => s.value === vaddr && s.bind === 1) ??
        elf.symbols.find((s) => vaddr >= s.value && vaddr < s.value + Math.max(s.size, 1));
      if (sym) {
        const d = vaddr - sym.value;
        return `${short}:${sym.name.split("@")[0]}${d ? `+0x${d.toString(16)}` : ""}`;
      }
    }
  } catch {
    /* unreadable: fall back to the offset */
  }
  return `${short}:0x${offset.toString(16)}`;
}
