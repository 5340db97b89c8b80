// Program types as stored in the region (u32): the kernel's enum
// bpf_prog_type where one exists, and ids of our own above 0x1000 for hooks
// the kernel does not have. Shared by the loader step of `bpftime load`, the
// attach step (which target types a program may link to) and the listings.
import type { ProgramSpec } from "../elf/object.ts";
import type { ProgramType as VerifierType } from "../verifier/contexts.ts";

export interface ProgramKind {
  /** Name shown to users and used by the verifier's context registry. */
  name: VerifierType;
  /** Stored in the region. */
  id: number;
}

const kinds: Partial<Record<VerifierType, number>> = {
  socket_filter: 1,
  kprobe: 2,
  kretprobe: 2,
  uprobe: 2,
  uretprobe: 2,
  xdp: 6,
  nginx_url_filter: 0x1001,
};

/** The verifier context and region type id of a program from an object. */
export function programKind(p: ProgramSpec): ProgramKind {
  const name = verifierType(p);
  return { name, id: kinds[name] ?? 1 };
}

function verifierType(p: ProgramSpec): VerifierType {
  switch (p.type) {
    case "xdp":
      return "xdp";
    case "socket_filter":
      return "socket_filter";
    case "nginx_url_filter":
      return "nginx_url_filter";
    case "kprobe":
      if (p.attach.kind === "uprobe") return p.attach.retprobe ? "uretprobe" : "uprobe";
      if (p.attach.kind === "kprobe") return p.attach.retprobe ? "kretprobe" : "kprobe";
      return "kprobe";
    default:
      // Raw sections (no recognised SEC) run like socket filters over a data
      // buffer: r1 is the context pointer of a generic program.
      return "socket_filter";
  }
}

export function programTypeName(id: number, attachHint: string): string {
  if (id === 0x1001) return "nginx_url_filter";
  if (id === 6) return "xdp";
  if (id === 1) return "socket_filter";
  if (id === 2)
    return attachHint.startsWith("uretprobe")
      ? "uretprobe"
      : attachHint.startsWith("uprobe")
        ? "uprobe"
        : "kprobe";
  return `type ${id}`;
}
