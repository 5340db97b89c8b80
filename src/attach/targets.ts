// Attach target types (the region's target table, native/attach/attach_impl.h)
// and which program types may link to each.
import { BpftimeError } from "../errors.ts";

export const TARGET_NGINX_URL_FILTER = 1;
const TARGET_UPROBE = 2;
const TARGET_URETPROBE = 3;

/** Longest attach-target argument (a prefix, a path:symbol) we accept. */
export const MAX_TARGET_ARG = 255;

export const targetTypes: Record<string, { id: number; programType: number; describe: string }> = {
  nginx: {
    id: TARGET_NGINX_URL_FILTER,
    programType: 0x1001,
    describe: "nginx URL filter (argument: accepted prefix)",
  },
  uprobe: {
    id: TARGET_UPROBE,
    programType: 2,
    describe: "function entry (argument: BINARY:SYMBOL[+OFF])",
  },
  uretprobe: {
    id: TARGET_URETPROBE,
    programType: 2,
    describe: "function return (argument: BINARY:SYMBOL[+OFF])",
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
