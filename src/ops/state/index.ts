// Declarative state (issue 16, "fleet-ready state"): `bpftime apply FILE`,
// `bpftime export`, PUT|GET /v1/state. A state file lists objects to load,
// links with their targets, map pins and map entries; apply converges a
// region to it (plan first, idempotent), export writes a region as one.
export { STATE_API_VERSION, StateSchema, validateState, type StateFile } from "./schema.ts";
export {
  formatOfPath,
  formatState,
  parseStateDocument,
  parseStateText,
  readStateFile,
  stateFormat,
  type StateFormat,
} from "./document.ts";
export { resolveState, type DesiredState } from "./desired.ts";
export { changeLine, type Change } from "./plan.ts";
export { applyState, type ApplyOptions, type ApplyResult } from "./apply.ts";
export { exportState, type ExportOptions, type Exported } from "./export.ts";
