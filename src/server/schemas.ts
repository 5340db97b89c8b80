// Request and response schemas of the admin API (Elysia `t`, i.e. TypeBox):
// the same definitions validate requests and responses and produce the
// OpenAPI document at /docs. Response shapes are those of the CLI's --json
// (src/ops/list.ts, maps.ts, load.ts, attach.ts), counters as decimal strings.
import { t } from "elysia";

export const ErrorSchema = t.Object({
  error: t.String({ description: "stable error code, e.g. not_found, verifier, unauthorized" }),
  message: t.String({ description: "one line: what, why and what to do" }),
});

const Counter = t.String({ description: "unsigned 64-bit counter as a decimal string" });

export const ProgramSchema = t.Object({
  id: t.Integer(),
  name: t.String(),
  type: t.String(),
  insnCount: t.Integer(),
  attachHint: t.String(),
  license: t.String(),
  runCount: Counter,
  runTimeNs: Counter,
  links: t.Array(t.Integer()),
  engine: t.Optional(
    t.Union([t.Literal("llvm"), t.Literal("jit")], {
      description: "llvm: loaded with opt (the LLVM tier's code), else the JIT (not --kernel)",
    }),
  ),
});

export const ProgramDetailSchema = t.Object({
  ...ProgramSchema.properties,
  createdNs: Counter,
  mapIds: t.Array(t.Integer()),
  object: t.Nullable(t.String()),
  section: t.Nullable(t.String()),
  signature: t.Nullable(t.String()),
  verifier: t.Nullable(
    t.Object({
      insnsProcessed: t.Integer(),
      statesExplored: t.Integer(),
      statesPruned: t.Integer(),
      peakStates: t.Integer(),
    }),
  ),
  disassembly: t.String({ description: "llvm-objdump style listing of the stored bytecode" }),
  jit: t.Object({
    size: t.Nullable(t.Integer({ description: "bytes of x86-64 code the JIT generates" })),
    error: t.Nullable(t.String()),
  }),
});

export const LoadedSchema = t.Object({
  file: t.String(),
  region: t.String(),
  programs: t.Array(
    t.Object({
      id: t.Integer(),
      name: t.String(),
      section: t.String(),
      type: t.String(),
      insnCount: t.Integer(),
      engine: t.Optional(t.Union([t.Literal("llvm"), t.Literal("jit")])),
      engineNote: t.Optional(t.String({ description: "opt: why the JIT runs it instead" })),
    }),
  ),
  maps: t.Array(
    t.Object({
      id: t.Integer(),
      name: t.String(),
      type: t.String(),
      reused: t.Boolean({ description: "a live map taken over (pinned, or reuseMaps)" }),
      pin: t.Nullable(t.String({ description: "the pin holding the map" })),
    }),
  ),
});

export const PinSchema = t.Object({
  name: t.String(),
  kind: t.Union([t.Literal("map"), t.Literal("prog")]),
  id: t.Integer(),
  objectName: t.String(),
});

/**
 * A reference to a program, map or link in a request: its id as a number
 * (as responses give ids) or a string, or its unique name. `refText` turns it
 * into the text the operations resolve.
 */
const Ref = (description: string) =>
  t.Union([t.Integer({ minimum: 0 }), t.String()], {
    description: `${description}: id (number or string) or unique name`,
    error: `${description.replace(/^the /, "")} must be an id (a number or a string) or a unique name`,
  });

export const refText = (ref: number | string): string => String(ref);

export const PinBody = t.Object({
  kind: t.Union([t.Literal("map"), t.Literal("prog")]),
  ref: Ref("the map or program"),
  name: t.String({ description: "pin name: 1-127 of [A-Za-z0-9_.-/], not starting with /" }),
});

export const MapSchema = t.Object({
  id: t.Integer(),
  name: t.String(),
  type: t.String(),
  keySize: t.Integer(),
  valueSize: t.Integer(),
  maxEntries: t.Integer(),
  flags: t.Integer(),
});

export const MapDetailSchema = t.Object({
  ...MapSchema.properties,
  keyType: t.Nullable(t.String()),
  valueType: t.Nullable(t.String()),
  btf: t.Boolean(),
  perCpu: t.Boolean(),
  entries: t.Nullable(t.Integer()),
});

export const Json = t.Unknown({ description: "decoded through the object's BTF, or hex bytes" });

/** ?offset&limit of a page of entries. */
export const PageQuery = t.Object({
  offset: t.Optional(
    t.Integer({ minimum: 0, default: 0, error: "offset must be an integer >= 0" }),
  ),
  limit: t.Optional(
    t.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 100,
      error: "limit must be an integer from 1 to 10000",
    }),
  ),
});

export const EntriesPageSchema = t.Object({
  entries: t.Array(t.Object({ key: Json, value: Json })),
  offset: t.Integer(),
  limit: t.Integer(),
  nextOffset: t.Nullable(t.Integer()),
});

export const EntrySchema = t.Object({ key: Json, value: Json });

export const UpdateBody = t.Object({
  value: t.Union(
    [
      t.String(),
      t.Number(),
      t.Boolean(),
      t.Null(),
      t.Array(t.Any()),
      t.Record(t.String(), t.Any()),
    ],
    {
      description:
        'the value: JSON through BTF (42, "text", {"field": 1}), or "hex:0100…" raw bytes',
      error: 'value is required: JSON through BTF (42, "text", {"field": 1}) or "hex:…" bytes',
    },
  ),
  flag: t.Optional(
    t.Union([t.Literal("any"), t.Literal("noexist"), t.Literal("exist")], {
      description: "BPF_ANY (default), BPF_NOEXIST or BPF_EXIST",
      error: "flag must be any, noexist or exist",
    }),
  ),
});

export const TargetSchema = t.Object({ id: t.Integer(), type: t.String(), arg: t.String() });

export const LinkSchema = t.Object({
  id: t.Integer(),
  progId: t.Integer(),
  targetId: t.Integer(),
  targetType: t.String(),
  arg: t.String(),
  pids: t.Array(t.Integer(), { description: "live processes that instantiated the link" }),
  errors: t.Array(t.Object({ pid: t.Integer(), waiting: t.Boolean(), message: t.String() }), {
    description:
      "processes where the link failed to attach, or waits (its binary is not loaded there), and why",
  }),
});

const LinkErrorSchema = t.Object({
  linkId: t.Integer(),
  errno: t.Integer(),
  message: t.String(),
});
const InstanceErrors = {
  linkErrors: t.Array(LinkErrorSchema, {
    description: "links that failed to attach in this process (the first 4), with why",
  }),
  failedLinks: t.Integer({ description: "how many links failed to attach in this process" }),
};

/** An instance as `bpftime list` shows it. */
const InstanceViewSchema = t.Object({
  id: t.Integer(),
  pid: t.Integer(),
  alive: t.Boolean(),
  links: t.Array(t.Integer()),
  heartbeatNs: Counter,
  generationSeen: Counter,
  ...InstanceErrors,
});

export const InstanceSchema = t.Object({
  ...InstanceViewSchema.properties,
  startedAt: t.Nullable(t.String({ description: "process start time, ISO 8601" })),
  heartbeatAgeMs: t.Number({ description: "milliseconds since the last heartbeat" }),
});

export const SnapshotSchema = t.Object({
  region: t.String(),
  generation: Counter,
  programs: t.Array(ProgramSchema),
  maps: t.Array(MapSchema),
  targets: t.Array(TargetSchema),
  links: t.Array(LinkSchema),
  instances: t.Array(InstanceSchema),
});

export const AttachBody = t.Object({
  program: Ref("the program"),
  type: t.String({
    description: "target type: nginx, uprobe, uretprobe, usdt, sys_enter, sys_exit, syscall",
  }),
  arg: t.Optional(
    t.String({
      description: "target argument: URL prefix, BINARY:SYMBOL[+OFF], BINARY:PROVIDER:NAME (usdt)",
    }),
  ),
  prefix: t.Optional(
    t.String({ description: "alias of arg, as the CLI's --prefix (for nginx targets)" }),
  ),
  cookie: t.Optional(
    t.Union([t.Integer({ minimum: 0 }), t.String({ pattern: "^(0x[0-9a-fA-F]+|[0-9]+)$" })], {
      description: "value bpf_get_attach_cookie() returns (default 0)",
      error: "cookie must be a non-negative integer (a number, or a decimal or 0x string)",
    }),
  ),
});

export const AttachedSchema = t.Object({
  linkId: t.Integer(),
  targetId: t.Integer(),
  progId: t.Integer(),
  targetType: t.String(),
  arg: t.String(),
});

export const DetachedSchema = t.Object({
  linkId: t.Integer(),
  targetId: t.Integer(),
  targetRemoved: t.Boolean(),
});

export const ReplaceBody = t.Object({
  program: Ref("the program"),
});

export const ReplacedSchema = t.Object({
  linkId: t.Integer(),
  oldProgId: t.Integer(),
  newProgId: t.Integer(),
});

export const RegionSchema = t.Object({
  name: t.String(),
  path: t.String(),
  size: t.Integer(),
  createdNs: Counter,
  generation: Counter,
  heapUsed: t.Integer(),
  heapSize: t.Integer(),
  layoutVersion: t.Integer(),
  ncpus: t.Integer(),
  statsEnabled: t.Boolean(),
  programs: t.Integer(),
  maps: t.Integer(),
  targets: t.Integer(),
  links: t.Integer(),
  instances: t.Integer(),
});

export const StatsBody = t.Object({ enabled: t.Boolean() });
export const StatsSchema = t.Object({ statsEnabled: t.Boolean() });

export const IdParam = t.Object({ id: t.String({ description: "id, or unique name" }) });

export const TestRunBody = t.Object({
  hex: t.Optional(t.String({ description: 'input bytes as hex ("hex:" prefix optional)' })),
  text: t.Optional(t.String({ description: "input bytes as UTF-8 text (e.g. a URL)" })),
  engine: t.Optional(
    t.Union([t.Literal("interp"), t.Literal("jit")], { error: "engine must be interp or jit" }),
  ),
  repeat: t.Optional(
    t.Integer({ minimum: 1, maximum: 10_000, error: "repeat must be an integer from 1 to 10000" }),
  ),
});

export const TestRunSchema = t.Object({
  returnValue: t.String({ description: "r0 after the run, 0x hex" }),
  engine: t.String(),
  repeat: t.Integer(),
  averageNs: t.Number(),
  dataOut: t.String({ description: "the input buffer after the run, hex" }),
});

// ---- `bpftime serve --kernel`: the kernel provider's shapes (src/attach/kernel/),
// as `bpftime … --kernel --json` prints them. Ids are the kernel's; `region` is
// the object's pin directory under the bpffs root.

const KernelObject = t.String({ description: "the kernel object (its pin directory's name)" });

export const KernelProgramSchema = t.Object({
  id: t.Integer(),
  name: t.String(),
  region: KernelObject,
  type: t.String(),
  insnCount: t.Integer(),
  links: t.Array(t.Integer()),
  runCount: Counter,
  runTimeNs: Counter,
  attachHint: t.String(),
  section: t.String(),
});

// The fields in the order the CLI prints them: Elysia writes a response in its schema's order.
export const KernelMapSchema = t.Object({
  id: t.Integer(),
  name: t.String(),
  region: KernelObject,
  type: t.String(),
  keySize: t.Integer(),
  valueSize: t.Integer(),
  maxEntries: t.Integer(),
  flags: t.Integer(),
});

export const KernelLinkSchema = t.Object({
  id: t.Integer(),
  progId: t.Integer(),
  region: KernelObject,
  targetType: t.String(),
  arg: t.String(),
});

export const KernelSnapshotSchema = t.Object({
  root: t.String({ description: "the bpffs directory the pins are under" }),
  programs: t.Array(KernelProgramSchema),
  maps: t.Array(KernelMapSchema),
  links: t.Array(KernelLinkSchema),
});

export const KernelLoadedSchema = t.Object({
  file: t.String(),
  region: KernelObject,
  pinDir: t.String(),
  programs: LoadedSchema.properties.programs,
  maps: t.Array(t.Object({ id: t.Integer(), name: t.String(), type: t.String() })),
});

export const KernelAttachBody = t.Object({
  program: Ref("the program (name, OBJECT/NAME or kernel id)"),
  type: t.Union([t.Literal("uprobe"), t.Literal("uretprobe")], {
    description: "the kernel provider attaches uprobes and uretprobes",
    error: "type must be uprobe or uretprobe",
  }),
  arg: AttachBody.properties.arg,
  cookie: AttachBody.properties.cookie,
});

export const KernelAttachedSchema = t.Object({
  linkId: t.Integer(),
  progId: t.Integer(),
  program: t.String(),
  region: KernelObject,
  targetType: t.String(),
  arg: t.String(),
  file: t.String(),
  offset: t.Integer(),
  cookie: t.String({ description: "the link's bpf_cookie, a decimal string (64-bit)" }),
  pin: t.String(),
});

export const KernelDetachedSchema = t.Object({
  linkId: t.Integer(),
  progId: t.Integer(),
  region: KernelObject,
  freed: t.Boolean({ description: "false while another process still holds the link open" }),
});

export const KernelReplacedSchema = t.Object({
  linkId: t.Integer({ description: "the new link (the kernel cannot swap a uprobe's program)" }),
  oldProgId: t.Integer(),
  newProgId: t.Integer(),
  oldLinkId: t.Integer({ description: "the link replaced, now detached" }),
  region: KernelObject,
  arg: t.String(),
});

export const KernelUnloadedSchema = t.Object({
  deleted: t.Integer(),
  region: KernelObject,
  maps: t.Array(t.Integer(), { description: "maps whose pins went with the program" }),
});
