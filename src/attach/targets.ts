// Attach target types (the region's target table, native/attach/attach_impl.h)
// and which program types may link to each.
import { BpftimeError } from "../errors.ts";
import { progTypeId } from "../enums.ts";

export const TARGET_NGINX_URL_FILTER = 1;
const TARGET_UPROBE = 2;
const TARGET_URETPROBE = 3;
export const TARGET_USDT = 6;

/** Longest attach-target argument (a prefix, a path:symbol) we accept. */
export const MAX_TARGET_ARG = 255;

export const targetTypes: Record<string, { id: number; programType: number; describe: string }> = {
  nginx: {
    id: TARGET_NGINX_URL_FILTER,
    programType: progTypeId("nginx_url_filter"),
    describe: "nginx URL filter (argument: accepted prefix)",
  },
  uprobe: {
    id: TARGET_UPROBE,
    programType: progTypeId("kprobe"),
    describe: "function entry (argument: BINARY:SYMBOL[+OFF])",
  },
  uretprobe: {
    id: TARGET_URETPROBE,
    programType: progTypeId("kprobe"),
    describe: "function return (argument: BINARY:SYMBOL[+OFF])",
  },
  usdt: {
    id: TARGET_USDT,
    programType: progTypeId("kprobe"),
    describe: "USDT probe, every site (argument: BINARY:PROVIDER:NAME)",
  },
};

export function targetTypeByName(name: string): { id: number; programType: number; name: string } {
  const t = targetTypes[name];
  if (!t) {
    throw new BpftimeError(
      "usage",
      `unknown attach target type "${name}": choose ${Object.keys(targetTypes).join(", ")}`,
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
