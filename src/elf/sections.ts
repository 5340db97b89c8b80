// Program section names (libbpf's SEC() conventions, plus our nginx hook) →
// program type and attach hint.

import { BpftimeError } from "../errors.ts";

export type ProgramType =
  | "xdp"
  | "socket_filter"
  | "kprobe"
  | "tracepoint"
  | "raw_tracepoint"
  | "sched_cls"
  | "perf_event"
  | "nginx_url_filter"
  | "raw"
  | "kernel_only";

/** Kernel enum bpf_prog_type for each type we know (nginx and raw have none). */
export const kernelProgTypes: Record<ProgramType, number | undefined> = {
  socket_filter: 1,
  kprobe: 2,
  sched_cls: 3,
  tracepoint: 5,
  xdp: 6,
  perf_event: 7,
  raw_tracepoint: 17,
  nginx_url_filter: undefined,
  raw: undefined,
  kernel_only: undefined, // per program: AttachHint "kernel" carries it
};

export type AttachHint =
  | {
      kind: "uprobe";
      retprobe: boolean;
      /** Binary path or library name; undefined for a bare SEC("uprobe"). */
      binary?: string;
      /** Function symbol; undefined when attaching at a raw offset or bare. */
      symbol?: string;
      /** Offset from the symbol (or absolute file offset without symbol). */
      offset: number;
      sleepable: boolean;
    }
  | { kind: "kprobe"; retprobe: boolean; function?: string; offset: number }
  /** ksyscall/NAME, kretsyscall/NAME: a kprobe on the syscall's entry (libbpf). */
  | { kind: "ksyscall"; retprobe: boolean; name?: string }
  /** A section libbpf knows whose program can only run in the kernel (fentry, cgroup, …). */
  | { kind: "kernel"; section: string; kernelType: number; kernelTypeName: string }
  /** SEC("usdt/BINARY:PROVIDER:NAME"), or bare SEC("usdt") (target at attach time). */
  | { kind: "usdt"; binary?: string; provider?: string; name?: string }
  | { kind: "tracepoint"; category?: string; name?: string }
  | { kind: "raw_tracepoint"; name?: string }
  | { kind: "xdp" }
  | { kind: "socket" }
  | { kind: "tc"; direction?: string }
  | { kind: "perf_event" }
  | { kind: "nginx"; hook: string }
  | { kind: "none" };

export interface SectionProgramInfo {
  type: ProgramType;
  attach: AttachHint;
}

function badSec(sec: string, why: string): BpftimeError {
  return new BpftimeError("bad_object", `section ${sec}: ${why}`);
}

function parseNumber(s: string): number | undefined {
  if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s.slice(2), 16);
  if (/^[0-9]+$/.test(s)) return parseInt(s, 10);
  return undefined;
}

/** "func", "func+0x10", "0x1234" → symbol and offset. */
function parseFuncOffset(sec: string, s: string): { symbol?: string; offset: number } {
  const num = parseNumber(s);
  if (num !== undefined) return { offset: num };
  const plus = s.lastIndexOf("+");
  if (plus > 0) {
    const off = parseNumber(s.slice(plus + 1));
    if (off === undefined) badSecThrow(sec, `bad offset '${s.slice(plus + 1)}' in '${s}'`);
    return { symbol: s.slice(0, plus), offset: off! };
  }
  if (!s) badSecThrow(sec, "empty function name");
  return { symbol: s, offset: 0 };
}

function badSecThrow(sec: string, why: string): never {
  throw badSec(sec, why);
}

/** uprobe/PATH:FUNC[+OFF] (PATH may start with '/', giving "uprobe//usr/bin/x:f"). */
function parseUprobe(sec: string, prefix: string, retprobe: boolean, sleepable: boolean) {
  const rest = sec.slice(prefix.length);
  if (rest === "") return { kind: "uprobe" as const, retprobe, offset: 0, sleepable };
  // rest starts with "/": `prefix` is the section name up to its first "/"
  const spec = rest.slice(1);
  const colon = spec.lastIndexOf(":");
  // libbpf loads "uprobe/func" (no binary) too and leaves the target to attach time.
  if (colon <= 0) return { kind: "uprobe" as const, retprobe, offset: 0, sleepable };
  const binary = spec.slice(0, colon);
  const { symbol, offset } = parseFuncOffset(sec, spec.slice(colon + 1));
  return { kind: "uprobe" as const, retprobe, binary, symbol, offset, sleepable };
}

/** usdt/BINARY:PROVIDER:NAME (BINARY may be a path: "usdt//usr/bin/python3:python:gc__start"). */
function parseUsdt(sec: string) {
  const rest = sec.slice("usdt".length);
  if (rest === "") return { kind: "usdt" as const };
  const m = /^\/(.+):([^:]+):([^:]+)$/.exec(rest);
  if (!m) badSecThrow(sec, "expected usdt/BINARY:PROVIDER:NAME, e.g. usdt/libc.so.6:libc:setjmp");
  return { kind: "usdt" as const, binary: m[1]!, provider: m[2]!, name: m[3]! };
}

/** Program type and attach hint for a program section name, like libbpf's section_defs. */
export function programInfoForSection(sec: string): SectionProgramInfo {
  const first = sec.split("/")[0]!;
  switch (first) {
    case "uprobe":
    case "uretprobe":
    case "uprobe.s":
    case "uretprobe.s":
      return {
        type: "kprobe",
        attach: parseUprobe(sec, first, first.startsWith("uret"), first.endsWith(".s")),
      };
    case "usdt":
      return { type: "kprobe", attach: parseUsdt(sec) };
    case "kprobe":
    case "kretprobe": {
      const retprobe = first === "kretprobe";
      const rest = sec.slice(first.length + 1);
      if (!rest) return { type: "kprobe", attach: { kind: "kprobe", retprobe, offset: 0 } };
      const { symbol, offset } = parseFuncOffset(sec, rest);
      return { type: "kprobe", attach: { kind: "kprobe", retprobe, function: symbol, offset } };
    }
    case "tracepoint":
    case "tp": {
      const parts = sec.split("/");
      if (parts.length === 1) return { type: "tracepoint", attach: { kind: "tracepoint" } };
      if (parts.length !== 3 || !parts[1] || !parts[2]) {
        badSecThrow(sec, `expected ${first}/CATEGORY/NAME`);
      }
      return {
        type: "tracepoint",
        attach: { kind: "tracepoint", category: parts[1], name: parts[2] },
      };
    }
    case "tp_btf":
      // tp_btf/sys_enter|sys_exit: the same u64 args as the raw tracepoint
      // (BTF-typed in the kernel; here, read them like raw_tracepoint ones).
      if (sec === "tp_btf/sys_enter" || sec === "tp_btf/sys_exit")
        return {
          type: "raw_tracepoint",
          attach: { kind: "raw_tracepoint", name: sec.slice("tp_btf/".length) },
        };
      break;
    case "raw_tracepoint":
    case "raw_tp": {
      const name = sec.slice(first.length + 1) || undefined;
      return { type: "raw_tracepoint", attach: { kind: "raw_tracepoint", name } };
    }
    case "xdp":
    case "xdp.frags":
      return { type: "xdp", attach: { kind: "xdp" } };
    case "socket":
      return { type: "socket_filter", attach: { kind: "socket" } };
    case "tc":
    case "classifier":
    case "action": {
      const direction = sec.slice(first.length + 1) || undefined;
      return { type: "sched_cls", attach: { kind: "tc", direction } };
    }
    case "perf_event":
      return { type: "perf_event", attach: { kind: "perf_event" } };
    case "ksyscall":
    case "kretsyscall": {
      const name = sec.slice(first.length + 1) || undefined;
      return {
        type: "kprobe",
        attach: { kind: "ksyscall", retprobe: first === "kretsyscall", name },
      };
    }
    case "nginx":
      return { type: "nginx_url_filter", attach: { kind: "nginx", hook: sec.slice(6) } };
  }
  const k = kernelOnlySection(sec);
  if (k) return { type: "kernel_only", attach: { kind: "kernel", section: sec, ...k } };
  return { type: "raw", attach: { kind: "none" } };
}

/**
 * libbpf's section prefixes whose programs run only in the kernel: the
 * program type (the kernel's enum bpf_prog_type) for each. Such a program
 * loads with its object (for `--kernel`, listings) but never attaches here.
 */
const KERNEL_ONLY: Array<[prefix: string, type: number, name: string]> = [
  ["fentry", 26, "tracing"],
  ["fexit", 26, "tracing"],
  ["fmod_ret", 26, "tracing"],
  ["tp_btf", 26, "tracing"],
  ["iter", 26, "tracing"],
  ["freplace", 28, "ext"],
  ["struct_ops", 27, "struct_ops"],
  ["lsm", 29, "lsm"],
  ["lsm_cgroup", 29, "lsm"],
  ["kprobe.multi", 2, "kprobe"],
  ["kretprobe.multi", 2, "kprobe"],
  ["kprobe.session", 2, "kprobe"],
  ["cgroup_skb", 8, "cgroup_skb"],
  ["cgroup/skb", 8, "cgroup_skb"],
  ["cgroup/sock", 9, "cgroup_sock"],
  ["cgroup/post_bind", 9, "cgroup_sock"],
  ["cgroup/dev", 15, "cgroup_device"],
  ["cgroup/sysctl", 23, "cgroup_sysctl"],
  ["cgroup/getsockopt", 25, "cgroup_sockopt"],
  ["cgroup/setsockopt", 25, "cgroup_sockopt"],
  ["cgroup", 18, "cgroup_sock_addr"], // bind4, connect6, sendmsg4, getpeername6, …
  ["sockops", 13, "sock_ops"],
  ["sk_skb", 14, "sk_skb"],
  ["sk_msg", 16, "sk_msg"],
  ["lirc_mode2", 20, "lirc_mode2"],
  ["sk_reuseport", 21, "sk_reuseport"],
  ["flow_dissector", 22, "flow_dissector"],
  ["lwt_in", 10, "lwt_in"],
  ["lwt_out", 11, "lwt_out"],
  ["lwt_xmit", 12, "lwt_xmit"],
  ["lwt_seg6local", 19, "lwt_seg6local"],
  ["sk_lookup", 30, "sk_lookup"],
  ["syscall", 31, "syscall"],
  ["netfilter", 32, "netfilter"],
  ["tcx", 3, "sched_cls"],
  ["netkit", 3, "sched_cls"],
];

function kernelOnlySection(
  sec: string,
): { kernelType: number; kernelTypeName: string } | undefined {
  for (const [prefix, kernelType, kernelTypeName] of KERNEL_ONLY) {
    const tail = sec.slice(prefix.length);
    const boundary = prefix.includes("/") || tail === "" || /^[./]/.test(tail);
    if (sec.startsWith(prefix) && boundary) return { kernelType, kernelTypeName };
  }
  return undefined;
}

/** Human form of an attach hint: "uprobe /usr/bin/bash:readline", "nginx url_filter". */
export function formatAttachHint(a: AttachHint): string {
  switch (a.kind) {
    case "uprobe": {
      const name = a.retprobe ? "uretprobe" : "uprobe";
      if (!a.binary) return `${name} (manual)`;
      const off = a.offset
        ? a.symbol
          ? `+0x${a.offset.toString(16)}`
          : `0x${a.offset.toString(16)}`
        : "";
      return `${name} ${a.binary}:${a.symbol ?? ""}${off}`;
    }
    case "usdt":
      return a.binary ? `usdt ${a.binary}:${a.provider}:${a.name}` : "usdt (manual)";
    case "kprobe": {
      const name = a.retprobe ? "kretprobe" : "kprobe";
      if (!a.function) return a.offset ? `${name} 0x${a.offset.toString(16)}` : name;
      return `${name} ${a.function}${a.offset ? `+0x${a.offset.toString(16)}` : ""}`;
    }
    case "ksyscall":
      return `${a.retprobe ? "kretsyscall" : "ksyscall"}${a.name ? ` ${a.name}` : ""}`;
    case "kernel":
      return `kernel ${a.section}`;
    case "tracepoint":
      return a.category ? `tracepoint ${a.category}:${a.name}` : "tracepoint";
    case "raw_tracepoint":
      return a.name ? `raw_tracepoint ${a.name}` : "raw_tracepoint";
    case "tc":
      return a.direction ? `tc ${a.direction}` : "tc";
    case "nginx":
      return `nginx ${a.hook}`.trim();
    case "none":
      return "-";
    default:
      return a.kind;
  }
}
