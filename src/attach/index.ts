// Event providers: the userspace one (a shared-memory region, event-provider.ts),
// the kernel one (bpf() and bpffs pins, kernel/), and what both share — the
// program types (program-types.ts) and attach target types (targets.ts).
export * from "./event-provider.ts";
export * from "./program-types.ts";
export * from "./targets.ts";
export * from "./kernel/index.ts";
export * from "./syscalls.ts";
export * from "./usdt-specs.ts";
