// The bun:ffi bindings to the C libraries, and nothing else: the rest of the
// control plane imports them from here.
export * from "./agent.ts";
export * from "./attach.ts";
export * from "./errno.ts";
export * from "./kernel-maps.ts";
export * from "./kernel.ts";
export * from "./lib.ts";
export * from "./native-code.ts";
export * from "./runtime.ts";
export * from "./symbols.ts";
export * from "./syscall-server.ts";
export * from "./ubpf.ts";
export * from "./vm.ts";
export * from "./symbols.ts";
