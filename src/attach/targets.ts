// Attach target types (the region's target table, native/attach/attach_impl.h)
// and which program types may link to each.
import { BpftimeError } from "../errors.ts";
import { progTypeId } from "../enums.ts";

export const TARGET_NGINX_URL_FILTER = 1;
const TARGET_UPROBE = 2;
const TARGET_URETPROBE = 3;
export const TARGET_SYSCALL_ENTER = 4;
export const TARGET_SYSCALL_EXIT = 5;
export const TARGET_USDT = 6;

/** Longest attach-target argument (a prefix, a path:symbol) we accept. */
export const MAX_TARGET_ARG = 255;

export interface TargetType {
  id: number;
  /** Program types (region ids) that may link to it. */
  programTypes: number[];
  describe: string;
}

/** Syscall targets take tracepoint, raw_tracepoint and (ksyscall) kprobe programs. */
const SYSCALL_PROGRAMS = [
  progTypeId("tracepoint"),
  progTypeId("raw_tracepoint"),
  progTypeId("kprobe"),
];

export const targetTypes: Record<string, TargetType> = {
  nginx: {
    id: TARGET_NGINX_URL_FILTER,
    programTypes: [progTypeId("nginx_url_filter")],
    describe: "nginx URL filter (argument: accepted prefix)",
  },
  uprobe: {
    id: TARGET_UPROBE,
    programTypes: [progTypeId("kprobe")],
    describe: "function entry (argument: BINARY:SYMBOL[+OFF])",
  },
  uretprobe: {
    id: TARGET_URETPROBE,
    programTypes: [progTypeId("kprobe")],
    describe: "function return (argument: BINARY:SYMBOL[+OFF])",
  },
  sys_enter: {
    id: TARGET_SYSCALL_ENTER,
    programTypes: SYSCALL_PROGRAMS,
    describe: "syscall entry, in the traced process (argument: SYSCALL or all)",
  },
  sys_exit: {
    id: TARGET_SYSCALL_EXIT,
    programTypes: SYSCALL_PROGRAMS,
    describe: "syscall return, in the traced process (argument: SYSCALL or all)",
  },
  usdt: {
    id: TARGET_USDT,
    programTypes: [progTypeId("kprobe")],
    describe: "USDT probe, every site (argument: BINARY:PROVIDER:NAME)",
  },
};

/** `syscall`: sys_enter or sys_exit, whichever the program's SEC() names. */
export const SYSCALL_TARGET_ALIAS = "syscall";

export function targetTypeByName(name: string): TargetType & { name: string } {
  const t = targetTypes[name];
  if (!t) {
    throw new BpftimeError(
      "usage",
      `unknown attach target type "${name}": choose ${[...Object.keys(targetTypes), SYSCALL_TARGET_ALIAS].join(", ")}`,
    );
  }
  return { ...t, name };
}

export function targetTypeName(id: number): string {
  return Object.entries(targetTypes).find(([, t]) => t.id === id)?.[0] ?? `type ${id}`;
}

/** Target argument as printable text. */
export function formatTargetArg(arg: Uint8Array): string {
  return new TextDecoder().decode(arg);
}
