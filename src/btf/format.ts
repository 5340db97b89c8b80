// C-like rendering of BTF types: short names ("struct event", "u32"), full
// definitions ("struct event { u32 pid; char comm[16]; }") and function
// signatures ("int handle(struct xdp_md *ctx)"). Recursion is depth-limited.

import { BpftimeError } from "../errors.ts";
import { type Btf, type BtfType, MAX_RESOLVE_DEPTH } from "./btf.ts";

function tooDeep(id: number): BpftimeError {
  return new BpftimeError("bad_object", `section .BTF: type ${id}: nesting too deep to format`);
}

/** Short C name of a type: "struct event", "u32", "char *", "int [4]". */
export function typeName(btf: Btf, id: number): string {
  return declare(btf, id, "", 0);
}

function baseName(btf: Btf, t: BtfType, depth: number): string {
  switch (t.kind) {
    case "void":
      return "void";
    case "struct":
    case "union":
      if (t.name) return `${t.kind} ${t.name}`;
      return depth < 3 ? structBody(btf, t, depth + 1) : `${t.kind} {…}`;
    case "enum":
    case "enum64":
      return t.name ? `enum ${t.name}` : "enum {…}";
    case "fwd":
      return `${t.union ? "union" : "struct"} ${t.name}`;
    case "datasec":
      return `SEC("${t.name}")`;
    default:
      return t.name || `(anon ${t.kind})`;
  }
}

function join(base: string, decl: string): string {
  return decl ? `${base} ${decl}` : base;
}

/** C declaration of `name` with type `id` ("char comm[16]", "int (*fn)(int)"). */
export function declare(btf: Btf, id: number, name: string, depth = 0): string {
  if (depth > MAX_RESOLVE_DEPTH) throw tooDeep(id);
  const t = btf.type(id);
  switch (t.kind) {
    case "ptr": {
      const target = btf.type(t.type);
      let inner = `*${name}`;
      if (target.kind === "array" || target.kind === "func_proto") inner = `(${inner})`;
      return declare(btf, t.type, inner, depth + 1);
    }
    case "const":
    case "volatile":
    case "restrict": {
      const target = btf.type(t.type);
      if (target.kind === "ptr") return declare(btf, t.type, `${t.kind} ${name}`.trim(), depth + 1);
      return `${t.kind} ${declare(btf, t.type, name, depth + 1)}`;
    }
    case "type_tag":
    case "decl_tag":
      return declare(btf, t.type, name, depth + 1);
    case "array":
      return declare(btf, t.type, `${name}[${t.nelems}]`, depth + 1);
    case "func_proto":
      return declare(btf, t.returnType, `${name}(${params(btf, t, depth)})`, depth + 1);
    case "func":
      return declare(btf, t.type, t.name, depth + 1);
    case "var":
      return declare(btf, t.type, t.name, depth + 1);
    default:
      return join(baseName(btf, t, depth), name);
  }
}

function params(btf: Btf, t: Extract<BtfType, { kind: "func_proto" }>, depth: number): string {
  if (t.params.length === 0) return "void";
  return t.params
    .map((p, i) =>
      p.type === 0 && i === t.params.length - 1 ? "..." : declare(btf, p.type, p.name, depth + 1),
    )
    .join(", ");
}

function structBody(btf: Btf, t: Extract<BtfType, { kind: "struct" | "union" }>, depth: number) {
  const head = t.name ? `${t.kind} ${t.name}` : t.kind;
  if (t.members.length === 0) return `${head} {}`;
  const members = t.members.map((m) => {
    const d = declare(btf, m.type, m.name, depth + 1);
    return m.bitSize ? `${d}:${m.bitSize};` : `${d};`;
  });
  return `${head} { ${members.join(" ")} }`;
}

/**
 * Full C definition of a type: struct/union bodies with their members, enums
 * with their values, typedefs with their target, functions as signatures.
 */
export function formatType(btf: Btf, id: number): string {
  const t = btf.type(id);
  switch (t.kind) {
    case "struct":
    case "union":
      return structBody(btf, t, 0);
    case "enum":
    case "enum64": {
      const head = t.name ? `enum ${t.name}` : "enum";
      const vals = t.values.map((v) => `${v.name} = ${v.value}`).join(", ");
      return `${head} { ${vals} }`;
    }
    case "typedef":
      return `typedef ${declare(btf, t.type, t.name)}`;
    case "func":
      return funcSignature(btf, id);
    case "datasec": {
      const vars = t.vars.map(
        (v) => `${declare(btf, v.type, "")}; /* offset ${v.offset}, size ${v.size} */`,
      );
      return `SEC("${t.name}") { ${vars.join(" ")} }`;
    }
    default:
      return declare(btf, id, "");
  }
}

/** "int handle(struct xdp_md *ctx)" for a FUNC type (by id or name). */
export function funcSignature(btf: Btf, func: number | string): string {
  const t = typeof func === "number" ? btf.type(func) : btf.func(func);
  if (!t || t.kind !== "func") {
    throw new BpftimeError("not_found", `BTF: no function ${JSON.stringify(func)}`);
  }
  return declare(btf, t.id, "");
}
