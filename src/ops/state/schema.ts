// The declarative state file of `bpftime apply` / `export` and PUT|GET
// /v1/state, as one JSON Schema (TypeBox): the CLI validates files with it,
// the server documents its body with it, and every bad field is reported at
// once with its path (`objects/1/path: expected string`).
import { Type, type Static } from "@sinclair/typebox";
import { Value, ValueErrorType } from "@sinclair/typebox/value";
import { BpftimeError } from "../../errors.ts";

export const STATE_API_VERSION = "bpftime/v1";

const NAME_PATTERN = "^[A-Za-z0-9_.+-]+$";
const Name = Type.String({ minLength: 1, pattern: NAME_PATTERN });
/** A key or value as `map update` takes it: JSON through BTF, an integer, or "hex:…". */
const MapData = Type.Unknown({
  description: 'JSON through the map\'s BTF (numbers, strings, objects), an integer, or "hex:…"',
});

export const StateObjectSchema = Type.Object(
  {
    name: Type.Optional({
      ...Name,
      description:
        "the object's name in the region (default: the file name without .bpf.o/.o); links, pins and entries say NAME/PROGRAM, NAME/MAP",
    }),
    path: Type.String({
      minLength: 1,
      description: "the .o file; relative to the state file (HTTP: to the server's directory)",
    }),
    programs: Type.Optional(
      Type.Array(Name, { minItems: 1, description: "load only these programs (default: all)" }),
    ),
    sha256: Type.Optional(
      Type.String({
        pattern: "^[0-9a-f]{64}$",
        description: "refuse the file unless its SHA-256 is this (hex)",
      }),
    ),
    pinMaps: Type.Optional(
      Type.Boolean({ description: "pin every map under its name (bpftime load --pin-maps)" }),
    ),
    reuseMaps: Type.Optional(
      Type.Boolean({
        description: "take over live maps of the same name (bpftime load --reuse-maps)",
      }),
    ),
  },
  { additionalProperties: false },
);

export const StateLinkSchema = Type.Object(
  {
    program: Type.String({
      minLength: 1,
      description: "OBJECT/PROGRAM (or PROGRAM when one object of the file has it)",
    }),
    type: Type.String({
      minLength: 1,
      description:
        "target type, as `bpftime attach` takes it: nginx, uprobe, uretprobe, usdt, syscall, sys_enter, sys_exit",
    }),
    arg: Type.Optional(
      Type.String({
        description:
          "the target argument (nginx: URL prefix; uprobe: BINARY:SYMBOL[+OFF]; usdt: BINARY:PROVIDER:NAME; syscall: NAME or all); default: the program's SEC()",
      }),
    ),
    cookie: Type.Optional(
      Type.Union(
        [Type.Integer({ minimum: 0 }), Type.String({ pattern: "^(0x[0-9a-fA-F]+|\\d+)$" })],
        {
          description: "what bpf_get_attach_cookie() returns (default 0)",
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const StatePinSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: "the pin's name (bpftime pin list)" }),
    map: Type.String({ minLength: 1, description: "OBJECT/MAP" }),
  },
  { additionalProperties: false },
);

export const StateEntrySchema = Type.Object(
  {
    map: Type.String({ minLength: 1, description: "OBJECT/MAP, or a pin name of this file" }),
    key: MapData,
    value: MapData,
  },
  { additionalProperties: false },
);

export const StateSchema = Type.Object(
  {
    apiVersion: Type.Optional(Type.Literal(STATE_API_VERSION)),
    objects: Type.Optional(Type.Array(StateObjectSchema)),
    links: Type.Optional(Type.Array(StateLinkSchema)),
    pins: Type.Optional(Type.Array(StatePinSchema)),
    entries: Type.Optional(Type.Array(StateEntrySchema)),
  },
  {
    additionalProperties: false,
    title: "bpftime state",
    description:
      "What a region should hold: objects to load, links with their targets, pinned maps and map entries (bpftime apply)",
  },
);

export type StateFile = Static<typeof StateSchema>;
export type StateObject = Static<typeof StateObjectSchema>;
export type StateLink = Static<typeof StateLinkSchema>;

const MAX_REPORTED = 20;

/**
 * The document as a StateFile, or one BpftimeError listing every bad field
 * with its path (`objects/0/path: Expected string; links/2: unknown field
 * "prefix"`). `what` names the source ("state.yaml", "the body").
 */
export function validateState(doc: unknown, what: string): StateFile {
  if (Value.Check(StateSchema, doc)) return doc;
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const e of Value.Errors(StateSchema, doc)) {
    const path = e.path.replace(/^\//, "") || "(top level)";
    if (seen.has(path)) continue; // one line per field: the first reason
    seen.add(path);
    problems.push(`${path}: ${reason(e.type, e.message, e.schema)}`);
  }
  const shown = problems.slice(0, MAX_REPORTED);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : "";
  throw new BpftimeError(
    "invalid_argument",
    `${what} is not a valid state file: ${shown.join("; ")}${more}; see \`bpftime apply --help\``,
    { problems },
  );
}

function reason(type: ValueErrorType, message: string, schema: unknown): string {
  if (type === ValueErrorType.ObjectAdditionalProperties) return "unknown field";
  if (type === ValueErrorType.ObjectRequiredProperty) return "missing";
  if (
    type === ValueErrorType.StringPattern &&
    (schema as { pattern?: string }).pattern === NAME_PATTERN
  )
    return "a name is letters, digits and _ . + -";
  return message.charAt(0).toLowerCase() + message.slice(1);
}
