// Public API of the eBPF instruction package: model, decode/encode,
// disassembler (llvm-objdump syntax) and assembler (ubpf and llvm syntax).

export * from "./opcodes.ts";
export * from "./instruction.ts";
export * from "./disasm.ts";
export * from "./assembler.ts";
