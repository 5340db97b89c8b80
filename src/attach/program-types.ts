// Program types as stored in the region (u32): the kernel's enum
// bpf_prog_type where one exists, and ids of our own from 0x1000 for what
// the kernel does not have (the one table: native/runtime/prog_types.def).
// Shared by the loader step of `bpftime load`, the attach step (which target
// types a program may link to) and the listings.
import { formatAttachHint, type ProgramSpec } from "../elf/index.ts";
import { PROGRAM_TYPES, type ProgramType as VerifierType } from "../verifier/index.ts";
import { progTypeId, progTypeName } from "../enums.ts";

export interface ProgramKind {
  /** Name shown to users and used by the verifier's context registry. */
  name: VerifierType;
  /** Stored in the region. */
  id: number;
  /**
   * A program type that only runs in the kernel (fentry, cgroup, …): stored
   * for listings and `--kernel`, never verified nor run here (see load.ts).
   */
  kernelOnly?: { section: string; typeName: string };
}

/** Region type id of each verifier program type (native/runtime/prog_types.def). */
const ids = Object.fromEntries(PROGRAM_TYPES.map((name) => [name, progTypeId(name)])) as Record<
  VerifierType,
  number
>;

/** The verifier context and region type id of a program from an object. */
export function programKind(p: ProgramSpec): ProgramKind {
  if (p.attach.kind === "kernel")
    return {
      name: "raw",
      id: p.attach.kernelType,
      kernelOnly: { section: p.attach.section, typeName: p.attach.kernelTypeName },
    };
  const name = verifierType(p);
  return { name, id: ids[name] };
}

function verifierType(p: ProgramSpec): VerifierType {
  if (p.type === "kernel_only") return "raw"; // not reached: programKind returns first
  if (p.type === "kprobe") {
    if (p.attach.kind === "uprobe") return p.attach.retprobe ? "uretprobe" : "uprobe";
    if (p.attach.kind === "usdt") return "uprobe"; // the same context: pt_regs at the site
    if (p.attach.kind === "kprobe" && p.attach.retprobe) return "kretprobe";
    return "kprobe";
  }
  return p.type; // the loader's other types are the verifier's names
}

/**
 * The type a user sees for a program of an object, before and after it is
 * stored: what `obj show`, `load` (userspace and --kernel), `list` and the
 * API print ("uprobe" for SEC("uprobe/…"), not the ELF's kprobe; "usdt").
 */
export function programTypeOf(p: ProgramSpec): string {
  const k = programKind(p);
  return k.kernelOnly ? k.kernelOnly.typeName : programTypeName(k.id, formatAttachHint(p.attach));
}

export function programTypeName(id: number, attachHint: string): string {
  if (id === progTypeId("kprobe"))
    return attachHint.startsWith("uretprobe")
      ? "uretprobe"
      : attachHint.startsWith("usdt")
        ? "usdt"
        : attachHint.startsWith("uprobe")
          ? "uprobe"
          : attachHint.startsWith("kretprobe")
            ? "kretprobe"
            : "kprobe";
  return progTypeName(id) ?? `type ${id}`;
}

/**
 * Why a program can never attach in userspace (one line: what, why, what to
 * do), or undefined if some bpftime target type takes it.
 */
export function cannotAttachReason(
  name: string,
  id: number,
  attachHint: string,
): string | undefined {
  if (attachHint.startsWith("kernel ")) {
    const sec = attachHint.slice("kernel ".length);
    return `program ${name} (SEC("${sec}"), a ${progTypeName(id) ?? `type ${id}`} program) runs only in the kernel: bpftime has no such hook in userspace ("bpftime load --kernel" loads it into the kernel)`;
  }
  if (id === progTypeId("kprobe") && /^k(?:ret)?probe\b/.test(attachHint))
    return `program ${name} is a ${attachHint.split(" ")[0]} program: it hooks a kernel function, which bpftime cannot do in userspace; use SEC("uprobe/BINARY:FUNCTION") for a function of a process, or load it into the kernel with "bpftime load --kernel"`;
  return undefined;
}
