// BTF: types (btf.ts), .BTF.ext (ext.ts), C rendering (format.ts), values (value.ts),
// CO-RE relocations (core.ts) against the kernel's BTF (kernel.ts).
export * from "./btf.ts";
export * from "./ext.ts";
export * from "./format.ts";
export * from "./value.ts";
export * from "./core.ts";
export * from "./kernel.ts";
