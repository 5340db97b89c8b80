// The optimizing tier: verified bytecode -> LLVM IR -> a position-independent
// native image that native/vm/native_code.c loads (docs/ARCHITECTURE.md, "LLVM tier").
export { translateToLlvm, type EnvSlot, type Translation } from "./translate.ts";
export { compileIr, compileToNative, findToolchain, packBlob, type Toolchain } from "./compile.ts";
