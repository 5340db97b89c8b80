// Static safety checking of eBPF bytecode. See verifier.ts for the analysis
// and contexts.ts for program types and the context rewrite plan.

export {
  verify,
  verifyOrThrow,
  mapInfosOf,
  MAP_TYPES,
  type MapInfo,
  type MapType,
  type ProgramInput,
  type VerifyOptions,
  type VerifyResult,
  type VerifyStats,
  type VerifyErrorInfo,
} from "./verifier.ts";
export { type SourceLine, sourceLineText } from "./source-lines.ts";
export { type GlobalArg, type GlobalFunc, globalFuncsOf } from "./global-funcs.ts";
export { disasmNames } from "./slots.ts";
export {
  CONTEXTS,
  PROGRAM_TYPES,
  contextLayout,
  contextSpec,
  nativeContextSize,
  rewriteContextAccesses,
  type ContextSpec,
  type CtxAccess,
  type CtxField,
  type NativeField,
  type ProgramType,
} from "./contexts.ts";
export { helpers, helperById, helperByName, type HelperProto } from "./helpers.ts";
