// The optimizing tier's back half: LLVM IR -> one flat, position-independent
// image, wrapped in the blob format native/vm/native_code.c loads.
//
//   clang -O2 -c -fPIC  (the system's clang-19 or clang-14)
//   check: no undefined symbol, only PC-relative relocations (an absolute one
//          would need the image's runtime address)
//   ld -T <script>      .text, .rodata and the env table in one image at 0,
//                       so every PC-relative reference resolves at link time
//   objcopy -O binary   the flat bytes
//
// Blob layout (little-endian), checked by the loader:
//   0  magic "BPFTLLVM"        8  u32 version (1)     12 u32 program instruction slots
//   16 u32 entry offset        20 u32 env offset      24 u32 env slot count
//   28 u32 image size          32 slots: {u32 kind (1 helper, 2 lddw, 3 helper table), u32 arg}
//   then the image (slot k is the 8 bytes at env offset + 8k)
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BpftimeError } from "../errors.ts";
import { ENTRY_SYMBOL, ENV_SYMBOL, translateToLlvm, type Translation } from "./translate.ts";

export const BLOB_MAGIC = "BPFTLLVM";
export const BLOB_VERSION = 1;
const HEADER_SIZE = 32;

/** Relocation types whose value depends only on distances inside the image. */
const PC_RELATIVE = new Set(["R_X86_64_PC32", "R_X86_64_PLT32", "R_X86_64_PC64"]);

const LINKER_SCRIPT = `SECTIONS {
  . = 0;
  .text : { *(.text .text.*) }
  .rodata : { *(.rodata .rodata.*) }
  .data : { *(.data .data.*) *(.bss .bss.*) }
  /DISCARD/ : { *(.eh_frame) *(.comment) *(.note*) *(.llvm_addrsig) }
}
`;

export interface Toolchain {
  clang: string;
  /** clang 14 reads `ptr` only with -opaque-pointers; 15+ by default. */
  major: number;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr || r.stdout).trim().split("\n")[0];
    throw new BpftimeError("unsupported", `LLVM tier: ${cmd} failed: ${why}`);
  }
  return r.stdout;
}

/** The executable `name` on $PATH (or `name` itself when it is a path). */
function which(name: string): string | undefined {
  if (name.includes("/")) return existsSync(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? "").split(":"))
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/**
 * The clang the tier uses: $BPFTIME_CLANG, else clang-19, clang-14, clang.
 * Undefined when none is installed (the caller keeps the JIT).
 */
export function findToolchain(): Toolchain | undefined {
  const names = process.env.BPFTIME_CLANG
    ? [process.env.BPFTIME_CLANG]
    : ["clang-19", "clang-14", "clang"];
  for (const n of names) {
    const clang = which(n);
    if (!clang) continue;
    const v = spawnSync(clang, ["--version"], { encoding: "utf8" }).stdout ?? "";
    const major = Number(/clang version (\d+)/.exec(v)?.[1] ?? 0);
    if (major >= 14) return { clang, major };
  }
  return undefined;
}

function requireToolchain(): Toolchain {
  const tc = findToolchain();
  if (!tc)
    throw new BpftimeError(
      "unsupported",
      "LLVM tier: no clang >= 14 found (install clang or set BPFTIME_CLANG); the JIT runs the program instead",
    );
  return tc;
}

/** The tools beside clang (same version suffix when there is one). */
function sibling(tc: Toolchain, tool: string): string {
  const suffix = /-(\d+)$/.exec(tc.clang)?.[0] ?? "";
  return which(`llvm-${tool}${suffix}`) ?? which(`llvm-${tool}`) ?? tool;
}

/** Compiles IR to the image; returns its bytes and the two symbols' offsets. */
export function compileIr(
  ir: string,
  tc: Toolchain = requireToolchain(),
): { image: Uint8Array; entry: number; env: number } {
  const dir = mkdtempSync(join(tmpdir(), "bpftime-llvm-"));
  try {
    const ll = join(dir, "prog.ll");
    const obj = join(dir, "prog.o");
    const elf = join(dir, "prog.elf");
    const bin = join(dir, "prog.bin");
    const lds = join(dir, "image.ld");
    writeFileSync(ll, ir);
    writeFileSync(lds, LINKER_SCRIPT);
    const opaque = tc.major < 15 ? ["-mllvm", "-opaque-pointers"] : [];
    run(tc.clang, ["-O2", "-c", "-fPIC", "-x", "ir", ...opaque, ll, "-o", obj]);

    const undef = run(sibling(tc, "nm"), ["-u", obj]).trim();
    if (undef) throw new BpftimeError("internal", `LLVM tier: undefined symbols remain: ${undef}`);
    const relocs = run(sibling(tc, "readelf"), ["-r", "--wide", obj]);
    for (const m of relocs.matchAll(/\b(R_X86_64_\w+)/g))
      if (!PC_RELATIVE.has(m[1]!))
        throw new BpftimeError("internal", `LLVM tier: relocation ${m[1]} needs a runtime address`);

    run("ld", ["-T", lds, "-o", elf, obj]);
    const syms = run(sibling(tc, "nm"), [elf]);
    const addr = (name: string): number => {
      const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, "m").exec(syms);
      if (!m) throw new BpftimeError("internal", `LLVM tier: no symbol ${name} in the image`);
      return parseInt(m[1]!, 16);
    };
    run(sibling(tc, "objcopy"), ["-O", "binary", elf, bin]);
    const image = new Uint8Array(readFileSync(bin));
    return { image, entry: addr(ENTRY_SYMBOL), env: addr(ENV_SYMBOL) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Wraps a compiled image and its slot table in the loader's format. */
export function packBlob(
  t: Translation,
  image: Uint8Array,
  entry: number,
  env: number,
): Uint8Array {
  if (env + 8 * t.slots.length > image.length || entry >= image.length)
    throw new BpftimeError("internal", "LLVM tier: the env table or entry lies outside the image");
  const out = new Uint8Array(HEADER_SIZE + 8 * t.slots.length + image.length);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(BLOB_MAGIC), 0);
  dv.setUint32(8, BLOB_VERSION, true);
  dv.setUint32(12, t.numInsts, true);
  dv.setUint32(16, entry, true);
  dv.setUint32(20, env, true);
  dv.setUint32(24, t.slots.length, true);
  dv.setUint32(28, image.length, true);
  t.slots.forEach((s, k) => {
    const [kind, arg] = s.kind === "helper" ? [1, s.id] : s.kind === "lddw" ? [2, s.index] : [3, 0];
    dv.setUint32(HEADER_SIZE + 8 * k, kind, true);
    dv.setUint32(HEADER_SIZE + 8 * k + 4, arg, true);
  });
  out.set(image, HEADER_SIZE + 8 * t.slots.length);
  return out;
}

/**
 * Bytecode -> loadable blob. Throws BpftimeError("unsupported") when the
 * program has something the tier does not translate or no clang is present.
 */
export function compileToNative(code: Uint8Array, tc?: Toolchain): Uint8Array {
  const t = translateToLlvm(code);
  const { image, entry, env } = compileIr(t.ir, tc);
  return packBlob(t, image, entry, env);
}
