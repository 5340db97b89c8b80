// Program types as stored in the region (u32): the kernel's enum
// bpf_prog_type where one exists, and ids of our own from 0x1000 for what
// the kernel does not have. Shared by the loader step of `bpftime load`, the
// attach step (which target types a program may link to) and the listings.
import type { ProgramSpec } from "../elf/index.ts";
import type { ProgramType as VerifierType } from "../verifier/index.ts";

export interface ProgramKind {
  /** Name shown to users and used by the verifier's context registry. */
  name: VerifierType;
  /** Stored in the region. */
  id: number;
}

/** Region type id of each verifier program type. */
const ids: Record<VerifierType, number> = {
  socket_filter: 1,
  kprobe: 2,
  kretprobe: 2,
  uprobe: 2,
  uretprobe: 2,
  sched_cls: 3,
  tracepoint: 5,
  xdp: 6,
  perf_event: 7,
  raw_tracepoint: 17,
  raw: 0x1000, // no recognised SEC(): r1 is the data buffer
  nginx_url_filter: 0x1001,
};

/** The verifier context and region type id of a program from an object. */
export function programKind(p: ProgramSpec): ProgramKind {
  const name = verifierType(p);
  return { name, id: ids[name] };
}

function verifierType(p: ProgramSpec): VerifierType {
  if (p.type === "kprobe") {
    if (p.attach.kind === "uprobe") return p.attach.retprobe ? "uretprobe" : "uprobe";
    if (p.attach.kind === "kprobe" && p.attach.retprobe) return "kretprobe";
    return "kprobe";
  }
  return p.type; // the loader's other types are the verifier's names
}

export function programTypeName(id: number, attachHint: string): string {
  if (id === 2)
    return attachHint.startsWith("uretprobe")
      ? "uretprobe"
      : attachHint.startsWith("uprobe")
        ? "uprobe"
        : attachHint.startsWith("kretprobe")
          ? "kretprobe"
          : "kprobe";
  const name = Object.entries(ids).find(([, v]) => v === id)?.[0];
  return name ?? `type ${id}`;
}
