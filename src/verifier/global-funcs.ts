// Global (non-static) subprograms, as the kernel's verifier treats them
// (btf_prepare_func_args): each is verified once, on its own, from its BTF
// prototype — never with its caller's values — and every call only checks
// the arguments against that prototype and returns an unknown scalar. So a
// global function may rely on nothing its callers know: a pointer argument
// may be NULL (the function must check), and it may touch exactly the bytes
// its BTF type has. Functions without BTF func info, static ones and hidden
// ones (libbpf marks __hidden functions static) are verified at every call
// with the caller's state, as before.

import type { Btf } from "../btf/index.ts";

/** One argument as the prototype types it. */
export type GlobalArg =
  | { kind: "scalar" }
  | { kind: "ctx" }
  /** pointer to `size` bytes of memory, or NULL */
  | { kind: "mem"; size: number; type: string }
  /** a type a global function cannot take (refused when it is called) */
  | { kind: "unsupported"; type: string };

export interface GlobalFunc {
  /** slot of its first instruction */
  insn: number;
  name: string;
  args: GlobalArg[];
  /** returns an int or enum: the kernel refuses any other global function */
  scalarReturn: boolean;
}

/** What the object loader says about a program (ProgramSpec's fields). */
export interface GlobalFuncSource {
  subprograms: readonly { name: string; insn: number; global: boolean }[];
  funcInfo: readonly { insn: number; typeId: number }[];
}

/**
 * The global subprograms of a program, typed from BTF. `ctxStruct` is the
 * program type's context ("struct xdp_md"): a pointer to it is the context.
 */
export function globalFuncsOf(
  p: GlobalFuncSource,
  btf: Btf | undefined,
  ctxStruct: string,
): GlobalFunc[] {
  if (!btf) return [];
  const ctxName = /^struct (\w+)/.exec(ctxStruct)?.[1];
  const out: GlobalFunc[] = [];
  for (const sp of p.subprograms) {
    if (!sp.global) continue;
    const fi = p.funcInfo.find((f) => f.insn === sp.insn);
    const fn = fi && btf.type(fi.typeId);
    if (!fn || fn.kind !== "func" || fn.linkage !== 1) continue; // BTF_FUNC_GLOBAL
    const proto = btf.type(fn.type);
    if (proto.kind !== "func_proto") continue;
    out.push({
      insn: sp.insn,
      name: sp.name,
      args: proto.params.map((a) => argOf(btf, a.type, ctxName)),
      scalarReturn: /^(int|enum|enum64)$/.test(btf.resolve(proto.returnType).kind),
    });
  }
  return out;
}

function argOf(btf: Btf, typeId: number, ctxName: string | undefined): GlobalArg {
  const t = btf.resolve(typeId);
  const text = btf.formatType(typeId);
  if (t.kind === "int" || t.kind === "enum" || t.kind === "enum64") return { kind: "scalar" };
  if (t.kind !== "ptr") return { kind: "unsupported", type: text };
  const to = t.type === 0 ? undefined : btf.resolve(t.type);
  if (!to) return { kind: "unsupported", type: text }; // void *: no size
  if ((to.kind === "struct" || to.kind === "union") && ctxName && to.name === ctxName)
    return { kind: "ctx" };
  if (
    to.kind === "int" ||
    to.kind === "enum" ||
    to.kind === "enum64" ||
    to.kind === "float" ||
    to.kind === "struct" ||
    to.kind === "union" ||
    to.kind === "array"
  ) {
    let size = 0;
    try {
      size = btf.sizeof(t.type);
    } catch {
      size = 0;
    }
    if (size > 0) return { kind: "mem", size, type: text };
  }
  return { kind: "unsupported", type: text };
}
