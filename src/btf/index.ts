// BTF: types (btf.ts), .BTF.ext (ext.ts), C rendering (format.ts), values (value.ts).
export * from "./btf.ts";
export * from "./ext.ts";
export * from "./format.ts";
export * from "./value.ts";
