// Extern variables, as libbpf resolves them (tools/lib/bpf/libbpf.c, learnt
// from, written afresh):
//   - `extern T NAME __kconfig` (BTF DATASEC ".kconfig"): laid out in one
//     read-only, frozen ARRAY map ".kconfig" (by alignment descending, then
//     size, then name, as libbpf), filled from the kernel config, version and
//     features (./kconfig.ts); an lddw of the symbol becomes a pointer into
//     that map's value. Unknown weak externs are 0; unknown strong ones are
//     one clear error.
//   - `extern T NAME __ksym __weak` (DATASEC ".ksyms"): there are no kernel
//     symbols in userspace: a weak one is the constant 0 (as libbpf does for
//     a weak ksym the kernel lacks); a strong one stays an error.
import { BpftimeError } from "../errors.ts";
import { type Btf } from "../btf/index.ts";
import { kernelConfig, linuxKernelVersion } from "./kconfig.ts";

export type KconfigType = "bool" | "tristate" | "char" | "int" | "chararr";

export interface KconfigExtern {
  name: string;
  weak: boolean;
  type: KconfigType;
  signed: boolean;
  size: number;
  align: number;
  /** Byte offset in the .kconfig map's value. */
  offset: number;
}

export interface Externs {
  /** The .kconfig map's externs and contents, when the object has any. */
  kconfig?: { externs: Map<string, KconfigExtern>; data: Uint8Array; datasecId: number };
  /** Weak __ksym externs: lddw of them loads 0. */
  zero: Set<string>;
}

function unsupported(message: string): BpftimeError {
  return new BpftimeError("unsupported", message);
}

function isSignedInt(btf: Btf, id: number): boolean {
  const t = btf.resolve(id);
  return t.kind === "int" && t.signed;
}

/** libbpf's find_kcfg_type: which C types a __kconfig extern may have (undefined: none). */
function kcfgType(btf: Btf, id: number): KconfigType | undefined {
  const t = btf.resolve(id);
  switch (t.kind) {
    case "int":
      if (t.bool) return t.size === 1 ? "bool" : undefined;
      if (t.size === 1) return "char";
      return [2, 4, 8].includes(t.size) ? "int" : undefined;
    case "enum":
    case "enum64":
      if (t.name !== "libbpf_tristate" || (t.kind === "enum" && t.size !== 4)) return undefined;
      return "tristate";
    case "array":
      return t.nelems !== 0 && kcfgType(btf, t.type) === "char" ? "chararr" : undefined;
    default:
      return undefined;
  }
}

/** strtoull(value, &end, 0) consuming the whole value, as libbpf's parse_u64. */
function parseNumber(value: string): bigint | undefined {
  const m = /^\s*([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(value);
  if (!m) return undefined;
  const digits = m[2]!;
  const v =
    digits.length > 1 && digits[0] === "0" && !/^0x/i.test(digits)
      ? BigInt(`0o${digits.slice(1)}`)
      : BigInt(digits);
  return BigInt.asUintN(64, m[1] === "-" ? -v : v);
}

class KconfigWriter {
  private readonly dv: DataView;
  readonly set = new Set<string>();
  constructor(readonly data: Uint8Array) {
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  tri(e: KconfigExtern, value: "y" | "n" | "m"): void {
    switch (e.type) {
      case "bool":
        if (value === "m")
          throw unsupported(`extern ${e.name} (__kconfig): value 'm' is not a bool`);
        this.data[e.offset] = value === "y" ? 1 : 0;
        break;
      case "tristate":
        this.dv.setUint32(e.offset, value === "y" ? 1 : value === "m" ? 2 : 0, true);
        break;
      case "char":
        this.data[e.offset] = value.charCodeAt(0);
        break;
      default:
        throw unsupported(
          `extern ${e.name} (__kconfig): value '${value}' needs a bool, tristate or char extern, not ${e.type}`,
        );
    }
    this.set.add(e.name);
  }

  num(e: KconfigExtern, v: bigint, raw: string): void {
    if (e.type !== "int" && e.type !== "char") {
      throw unsupported(
        `extern ${e.name} (__kconfig): value '${raw}' is an integer, the extern is a ${e.type}`,
      );
    }
    const bits = BigInt(e.size * 8);
    const fits =
      e.size === 8 ||
      (e.signed ? BigInt.asUintN(64, v + (1n << (bits - 1n))) < 1n << bits : v >> bits === 0n);
    if (!fits) {
      throw unsupported(
        `extern ${e.name} (__kconfig): value '${raw}' does not fit in ${e.size} bytes`,
      );
    }
    for (let i = 0; i < e.size; i++) this.data[e.offset + i] = Number((v >> BigInt(8 * i)) & 0xffn);
    this.set.add(e.name);
  }

  str(e: KconfigExtern, raw: string): void {
    if (e.type !== "chararr") {
      throw unsupported(
        `extern ${e.name} (__kconfig): value ${raw} is a string, the extern is a ${e.type}`,
      );
    }
    if (raw.length < 2 || !raw.endsWith('"')) {
      throw unsupported(`extern ${e.name} (__kconfig): invalid string value ${raw}`);
    }
    // libbpf copies the bytes between the quotes, cut to size - 1, NUL-terminated
    const bytes = new TextEncoder().encode(raw.slice(1, -1)).subarray(0, e.size - 1);
    this.data.set(bytes, e.offset);
    this.data[e.offset + bytes.length] = 0;
    this.set.add(e.name);
  }
}

/**
 * Lays out and fills the object's externs. `undefs`: the object's undefined
 * symbols by name, with whether each is weak.
 */
export function resolveExterns(btf: Btf | undefined, undefs: Map<string, boolean>): Externs {
  const out: Externs = { zero: new Set() };
  if (!btf) return out;
  const ksyms = btf.datasec(".ksyms");
  for (const v of ksyms?.vars ?? []) {
    const name = btf.type(v.type).name;
    if (undefs.get(name) === true) out.zero.add(name);
  }
  const ds = btf.datasec(".kconfig");
  if (!ds || ds.vars.length === 0) return out;
  const list: KconfigExtern[] = [];
  for (const v of ds.vars) {
    const vt = btf.type(v.type);
    if (vt.kind !== "var") continue;
    const type = kcfgType(btf, vt.type);
    if (!type) {
      throw unsupported(
        `extern ${vt.name} (__kconfig): type ${btf.typeName(vt.type)} is not one a kconfig value can have (bool, enum libbpf_tristate, char, an integer, a char array)`,
      );
    }
    list.push({
      name: vt.name,
      weak: undefs.get(vt.name) ?? false,
      type,
      signed: isSignedInt(btf, vt.type), // chars and integers; bools and tristates are unsigned
      size: btf.sizeof(vt.type),
      align: btf.alignof(vt.type),
      offset: 0,
    });
  }
  // libbpf's order: alignment descending, size ascending, then name
  list.sort((a, b) =>
    a.align !== b.align
      ? b.align - a.align
      : a.size !== b.size
        ? a.size - b.size
        : a.name < b.name
          ? -1
          : a.name > b.name
            ? 1
            : 0,
  );
  let off = 0;
  for (const e of list) {
    off = Math.ceil(off / e.align) * e.align;
    e.offset = off;
    off += e.size;
  }
  // The DATASEC as libbpf fixes it up (map dumps format the value with it).
  ds.size = off;
  for (const v of ds.vars) {
    const e = list.find((x) => x.name === btf.type(v.type).name);
    if (e) v.offset = e.offset;
  }

  const w = new KconfigWriter(new Uint8Array(off));
  let needConfig = false;
  for (const e of list) {
    if (e.name === "LINUX_KERNEL_VERSION") {
      const v = linuxKernelVersion();
      if (!v) throw unsupported("extern LINUX_KERNEL_VERSION: cannot parse the kernel release");
      w.num(e, BigInt(v), String(v));
    } else if (e.name.startsWith("LINUX_HAS_BPF_COOKIE")) {
      w.tri(e, "y"); // bpf_get_attach_cookie: every link has a cookie
    } else if (e.name.startsWith("LINUX_HAS_SYSCALL_WRAPPER")) {
      // BPF_KSYSCALL reads the arguments through an inner struct pt_regs when
      // the kernel wraps syscalls; bpftime's syscall programs get the
      // arguments in the context's own registers: no wrapper.
      w.tri(e, "n");
    } else if (e.name.startsWith("CONFIG_")) {
      needConfig = true;
    } else {
      throw unsupported(
        `extern ${e.name} (__kconfig): unknown; known are LINUX_KERNEL_VERSION, LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER and CONFIG_*`,
      );
    }
  }
  let source: string | undefined;
  if (needConfig) {
    const config = kernelConfig();
    source = config.source;
    for (const e of list) {
      const raw = config.values.get(e.name);
      if (raw === undefined || w.set.has(e.name)) continue;
      if (raw === "y" || raw === "n" || raw === "m") {
        w.tri(e, raw);
      } else if (raw.startsWith('"')) {
        w.str(e, raw);
      } else {
        const v = parseNumber(raw);
        if (v === undefined) {
          throw unsupported(`extern ${e.name} (__kconfig): value '${raw}' is not an integer`);
        }
        w.num(e, v, raw);
      }
    }
  }
  for (const e of list) {
    if (w.set.has(e.name) || e.weak) continue; // weak and unknown: 0
    const where = source
      ? `not set in ${source}`
      : "no kernel config found (/boot/config-$(uname -r), /proc/config.gz; BPFTIME_KCONFIG names one)";
    throw unsupported(`extern ${e.name} (__kconfig): ${where}; declare it __weak to default to 0`);
  }
  out.kconfig = {
    externs: new Map(list.map((e) => [e.name, e])),
    data: w.data,
    datasecId: ds.id,
  };
  return out;
}
