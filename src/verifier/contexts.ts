// Program types and their context (the struct r1 points to on entry).
//
// Every program type declares its context as the *kernel* lays it out, so
// programs compiled against the usual headers (struct xdp_md, __sk_buff,
// pt_regs) verify and behave the same here and in the kernel: the size, which
// fields are readable/writable with which access sizes, and which fields are
// packet pointers (each start/end pair is its own packet "region").
//
// CONTEXT REWRITE PLAN (xdp, socket_filter, sched_cls — `rewrite: true`)
// -----------------------------------------------------------------------------
// The kernel exposes packet pointers as 32-bit fields (xdp_md.data is a __u32)
// and rewrites the loads to real pointer loads in its own ctx conversion. We do
// the same, in userspace, with one uniform layout rule:
//
//   * The runtime builds a *native* context: one 64-bit slot per 32-bit kernel
//     field, in the same order. The field at kernel offset 4*k lives at native
//     offset 8*k. Pointer fields hold full 64-bit host pointers; scalar fields
//     hold their value zero-extended in the slot (little endian, so the low
//     bytes come first). `nativeContextSize(type)` gives the struct size and
//     `contextLayout(type)` lists every field with both offsets.
//   * During verification every instruction that accesses the context is
//     recorded with the field it touches (VerifyResult.ctxAccesses). The
//     verifier guarantees that the base register holds the unmodified ctx
//     pointer there on every path (it refuses "same insn with different
//     pointers" and modified ctx pointers), so the rewrite is static.
//   * `rewriteContextAccesses(insts, type, accesses)` then patches the approved
//     bytecode: an access at kernel offset 4*k+j becomes an access at 8*k+j;
//     a 32-bit load of a pointer field (`ldxw rX, [ctx+4k]`) becomes a 64-bit
//     load (`ldxdw rX, [ctx+8k]`). Scalar loads and stores keep their size.
//     Only valid after verification, with the accesses it returned.
//
// kprobe/uprobe (pt_regs) contexts are used as-is (the native pt_regs is the
// kernel's), so they have no rewrites. nginx_url_filter needs none either: its
// struct (native/include/bpftime/nginx_url_filter.h, shared by programs and
// the data plane) already has 64-bit pointer fields, each start/end pair
// exposed like xdp's data/data_end (its own packet region), read-only.

import { BpftimeError } from "../errors.ts";
import {
  Class,
  SLOT_SIZE,
  Size,
  classOf,
  encode,
  isLoadStoreClass,
  sizeBytes,
  sizeOf,
} from "../asm/index.ts";
import { programSlots } from "./slots.ts";
import type { HelperClass, HelperProto } from "./helpers.ts";

export const PROGRAM_TYPES = [
  "socket_filter",
  "sched_cls",
  "kprobe",
  "kretprobe",
  "uprobe",
  "uretprobe",
  "tracepoint",
  "raw_tracepoint",
  "perf_event",
  "xdp",
  "nginx_url_filter",
  "raw",
] as const;
export type ProgramType = (typeof PROGRAM_TYPES)[number];

export type FieldKind = "scalar" | "packet" | "packet_end" | "packet_meta";

export interface CtxField {
  name: string;
  /** kernel offset and size */
  off: number;
  size: number;
  kind: FieldKind;
  writable?: boolean;
  /** packet region the pointer belongs to (packet / packet_end fields) */
  region?: number;
}

export interface ContextSpec {
  type: ProgramType;
  /** C struct the program sees */
  struct: string;
  /** size in bytes of the kernel-layout context */
  size: number;
  /** declared fields; `undefined` means any naturally aligned read of 1-8 bytes (pt_regs) */
  fields?: CtxField[];
  /** native layout differs: one u64 per 32-bit field (see the plan above) */
  rewrite: boolean;
  /** names of the packet regions (index = region id) */
  regions: string[];
  /**
   * Helper classes (helpers.def's last column) the type may call, as the
   * kernel's get_func_proto per type. WRITE_USER also needs the load flag
   * (--allow-write-user): see verifier.ts helperCall.
   */
  helpers: readonly HelperClass[];
}

/** Network, nginx and raw programs: maps, time, random, tail calls, output, strings. */
const BASE_HELPERS = ["BASE"] as const;
/** Tracing programs also read host memory and the current task, and may write it with the flag. */
const TRACING_HELPERS = ["BASE", "TRACING", "WRITE_USER"] as const;

/** Is this a tracing type (may call TRACING helpers; WRITE_USER with the flag)? */
export const isTracingType = (type: ProgramType): boolean =>
  contextSpec(type).helpers.includes("TRACING");

const u32Fields = (names: [string, FieldKind, number?, boolean?][], size = 4): CtxField[] =>
  names.map(([name, kind, region, writable], i) => {
    const f: CtxField = { name, off: i * size, size, kind };
    if (region !== undefined) f.region = region;
    if (writable) f.writable = true;
    return f;
  });

const PT_REGS: Omit<ContextSpec, "type"> = {
  struct: "struct pt_regs",
  size: 168,
  rewrite: false,
  regions: [],
  helpers: TRACING_HELPERS,
};

const SK_BUFF_FIELDS = u32Fields([
  ["len", "scalar"],
  ["pkt_type", "scalar"],
  ["mark", "scalar"],
  ["queue_mapping", "scalar"],
  ["protocol", "scalar"],
  ["vlan_present", "scalar"],
  ["vlan_tci", "scalar"],
  ["vlan_proto", "scalar"],
  ["priority", "scalar"],
  ["ingress_ifindex", "scalar"],
  ["ifindex", "scalar"],
  ["tc_index", "scalar"],
  ["cb[0]", "scalar", undefined, true],
  ["cb[1]", "scalar", undefined, true],
  ["cb[2]", "scalar", undefined, true],
  ["cb[3]", "scalar", undefined, true],
  ["cb[4]", "scalar", undefined, true],
  ["hash", "scalar"],
  ["tc_classid", "scalar"],
  ["data", "packet", 0],
  ["data_end", "packet_end", 0],
]);

/** socket_filter and sched_cls: the same __sk_buff subset. */
const SK_BUFF: Omit<ContextSpec, "type"> = {
  struct: "struct __sk_buff (subset: len .. data_end)",
  size: 84,
  rewrite: true,
  regions: ["packet"],
  helpers: BASE_HELPERS,
  fields: SK_BUFF_FIELDS,
};

export const CONTEXTS: Record<ProgramType, ContextSpec> = {
  xdp: {
    type: "xdp",
    struct: "struct xdp_md",
    size: 24,
    rewrite: true,
    regions: ["packet"],
    helpers: BASE_HELPERS,
    fields: u32Fields([
      ["data", "packet", 0],
      ["data_end", "packet_end", 0],
      ["data_meta", "packet_meta", 0],
      ["ingress_ifindex", "scalar"],
      ["rx_queue_index", "scalar"],
      ["egress_ifindex", "scalar"],
    ]),
  },
  socket_filter: { type: "socket_filter", ...SK_BUFF },
  sched_cls: { type: "sched_cls", ...SK_BUFF },
  kprobe: { type: "kprobe", ...PT_REGS },
  kretprobe: { type: "kretprobe", ...PT_REGS },
  uprobe: { type: "uprobe", ...PT_REGS },
  uretprobe: { type: "uretprobe", ...PT_REGS },
  // Our own context (native/include/bpftime/nginx_url_filter.h): 64-bit
  // pointer fields, so the layout the program sees is the native one and no
  // access needs rewriting.
  tracepoint: {
    type: "tracepoint",
    struct: "tracepoint record (format-specific; any aligned read in the first 512 bytes)",
    size: 512,
    rewrite: false,
    regions: [],
    helpers: TRACING_HELPERS,
  },
  raw_tracepoint: {
    type: "raw_tracepoint",
    struct: "struct bpf_raw_tracepoint_args (up to 12 args)",
    size: 96,
    rewrite: false,
    regions: [],
    helpers: TRACING_HELPERS,
  },
  perf_event: {
    type: "perf_event",
    struct: "struct bpf_perf_event_data",
    size: 184,
    rewrite: false,
    regions: [],
    helpers: TRACING_HELPERS,
  },
  nginx_url_filter: {
    type: "nginx_url_filter",
    struct: "struct nginx_url_ctx",
    size: 48,
    rewrite: false,
    regions: ["url", "method", "arg"],
    helpers: BASE_HELPERS,
    fields: u32Fields(
      [
        ["url", "packet", 0],
        ["url_end", "packet_end", 0],
        ["method", "packet", 1],
        ["method_end", "packet_end", 1],
        ["arg", "packet", 2],
        ["arg_end", "packet_end", 2],
      ],
      8,
    ),
  },
  raw: {
    type: "raw",
    struct: "no context",
    size: 0,
    rewrite: false,
    regions: [],
    helpers: BASE_HELPERS,
  },
};

export function contextSpec(type: ProgramType): ContextSpec {
  const c = CONTEXTS[type];
  if (!c)
    throw new BpftimeError(
      "invalid_argument",
      `unknown program type ${JSON.stringify(type)} (known: ${PROGRAM_TYPES.join(", ")})`,
    );
  return c;
}

/**
 * Why a program of `type` may not call `proto`, or undefined if it may:
 * the type's helper classes (above) and, for WRITE_USER, the load flag.
 */
export function helperRefusal(
  proto: HelperProto,
  type: ProgramType,
  allowWriteUser: boolean,
): string | undefined {
  const name = `bpf_${proto.name}#${proto.id}`;
  const tracing = PROGRAM_TYPES.filter(isTracingType).join(", ");
  if (!contextSpec(type).helpers.includes(proto.class))
    return `${name} is not allowed in ${type} programs: ${proto.class === "WRITE_USER" ? "it writes into the host process's memory, and only" : "only"} tracing programs (${tracing}) may call it`;
  if (proto.class === "WRITE_USER" && !allowWriteUser)
    return `${name} writes into the host process's memory: load with --allow-write-user (HTTP: allowWriteUser=true) to allow it in this ${type} program`;
  return undefined;
}

/** Result of checking one context access. */
export type CtxAccessCheck = { ok: true; field?: CtxField } | { ok: false; reason: string };

/** Is an access of `size` bytes at kernel offset `off` allowed? */
export function checkContextAccess(
  spec: ContextSpec,
  off: number,
  size: number,
  write: boolean,
): CtxAccessCheck {
  const where = `at offset ${off} size ${size}`;
  if (off < 0 || off + size > spec.size)
    return {
      ok: false,
      reason: `invalid access to context ${where} (context is ${spec.size} bytes)`,
    };
  if (!spec.fields) {
    if (write) return { ok: false, reason: `write to read-only context ${where} (${spec.struct})` };
    if (off % size !== 0) return { ok: false, reason: `misaligned context access ${where}` };
    return { ok: true };
  }
  const f = spec.fields.find((x) => off >= x.off && off < x.off + x.size);
  if (!f) return { ok: false, reason: `invalid access to context ${where} (no field there)` };
  if (off + size > f.off + f.size || (off - f.off) % size !== 0)
    return { ok: false, reason: `invalid access to context field ${f.name} ${where}` };
  if (f.kind !== "scalar" && (size !== f.size || write))
    return {
      ok: false,
      reason: write
        ? `write to read-only context field ${f.name} ${where}`
        : `invalid access to context field ${f.name} ${where} (pointer fields need a full ${f.size}-byte load)`,
    };
  if (write && !f.writable)
    return { ok: false, reason: `write to read-only context field ${f.name} ${where}` };
  return { ok: true, field: f };
}

/** One context access recorded during verification. */
export interface CtxAccess {
  /** slot index of the load/store */
  index: number;
  /** kernel offset and size (as in the instruction) */
  off: number;
  size: number;
  /** native offset and size after rewriting */
  nativeOff: number;
  nativeSize: number;
}

export function nativeAccess(spec: ContextSpec, off: number, size: number): [number, number] {
  if (!spec.rewrite) return [off, size];
  const field = spec.fields?.find((x) => off >= x.off && off < x.off + x.size);
  const nativeOff = Math.floor(off / 4) * 8 + (off % 4);
  const isPtr = field !== undefined && field.kind !== "scalar";
  return [nativeOff, isPtr ? 8 : size];
}

export interface NativeField {
  name: string;
  kernelOff: number;
  kernelSize: number;
  nativeOff: number;
  nativeSize: number;
  kind: FieldKind;
}

/** The native (runtime) context layout of a program type. */
export function contextLayout(type: ProgramType): NativeField[] {
  const spec = contextSpec(type);
  if (!spec.fields) return [];
  return spec.fields.map((f) => ({
    name: f.name,
    kernelOff: f.off,
    kernelSize: f.size,
    nativeOff: spec.rewrite ? (f.off / 4) * 8 : f.off,
    nativeSize: spec.rewrite ? 8 : f.size,
    kind: f.kind,
  }));
}

export function nativeContextSize(type: ProgramType): number {
  const spec = contextSpec(type);
  return spec.rewrite ? (spec.size / 4) * 8 : spec.size;
}

const SIZE_BITS: Record<number, number> = { 4: Size.W, 2: Size.H, 1: Size.B, 8: Size.DW };

/**
 * Patch the context accesses of verified bytecode to the native layout.
 * `accesses` must be VerifyResult.ctxAccesses of this exact program.
 */
export function rewriteContextAccesses(
  insts: Uint8Array,
  type: ProgramType,
  accesses: readonly CtxAccess[],
): Uint8Array {
  const spec = contextSpec(type);
  const out = new Uint8Array(insts);
  if (!spec.rewrite) return out;
  const slots = programSlots(insts);
  for (const a of accesses) {
    const insn = slots[a.index];
    if (!insn) throw new BpftimeError("internal", `context rewrite: no instruction at ${a.index}`);
    if (
      !isLoadStoreClass(classOf(insn)) ||
      classOf(insn) === Class.LD ||
      insn.off !== a.off ||
      sizeBytes(sizeOf(insn.opcode)) !== a.size
    )
      throw new BpftimeError(
        "internal",
        `context rewrite: instruction ${a.index} is not the verified context access`,
      );
    const opcode = (insn.opcode & ~Size.DW) | SIZE_BITS[a.nativeSize]!;
    out.set(encode([{ ...insn, opcode, off: a.nativeOff }]), a.index * SLOT_SIZE);
  }
  return out;
}
