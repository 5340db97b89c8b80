// Request bodies, read with a size bound before anything is parsed: eBPF
// objects up to 16 MiB (raw octet-stream or a multipart file), JSON up to
// 64 KiB. Used as Elysia `parse` hooks, so routes still validate the result
// against their schema.
import { HttpError } from "./errors.ts";

export const MAX_OBJECT_BYTES = 16 * 1024 * 1024;
const MAX_JSON_BYTES = 64 * 1024;
/** Room for multipart boundaries and headers around a maximal object. */
const MULTIPART_SLACK = 64 * 1024;

function mib(n: number): string {
  return n >= 1024 * 1024 ? `${n / (1024 * 1024)} MiB` : `${n / 1024} KiB`;
}

/** The whole body, refusing (413) as soon as it exceeds `limit` bytes. */
export async function readBounded(
  request: Request,
  limit: number,
  what: string,
): Promise<Uint8Array> {
  const tooLarge = () =>
    new HttpError("too_large", `${what} is larger than the limit of ${mib(limit)}`);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Deepest nesting any JSON body may have: every route's schema needs a few levels. */
export const MAX_JSON_DEPTH = 32;

function jsonKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "string" ? "a string" : `a ${typeof v}`;
}

/** Levels of arrays/objects under v, counted without recursion (no stack to exhaust). */
function nestingDepth(v: unknown, stopAt: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== "object") continue;
    if (d > deepest) deepest = d;
    if (deepest > stopAt) break;
    for (const c of Object.values(x as object)) stack.push([c, d + 1]);
  }
  return deepest;
}

/**
 * Every JSON body is an object (the routes' schemas describe its fields),
 * nested at most MAX_JSON_DEPTH levels: an array, a string or a value nested
 * 20,000 levels deep is refused here, naming the field, before any schema
 * check or operation walks it.
 */
export function checkJsonShape(v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new HttpError(
      "invalid_request",
      `the body must be a JSON object with the route's fields, not ${jsonKind(v)}`,
    );
  for (const [field, x] of Object.entries(v)) {
    if (nestingDepth(x, MAX_JSON_DEPTH) >= MAX_JSON_DEPTH)
      throw new HttpError(
        "invalid_request",
        `field "${field}" nests deeper than ${MAX_JSON_DEPTH} levels: flatten it`,
      );
  }
  return v as Record<string, unknown>;
}

/** A JSON object body (whatever its content type claims); empty means {}. */
export async function parseJsonBody({ request }: { request: Request }): Promise<unknown> {
  const bytes = await readBounded(request, MAX_JSON_BYTES, "the JSON body");
  const text = new TextDecoder().decode(bytes).trim();
  if (text === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new HttpError(
      "invalid_request",
      `the body is not valid JSON: ${(e as Error).message.split("\n")[0]}`,
    );
  }
  return checkJsonShape(v);
}

export interface ObjectUpload {
  bytes: Uint8Array;
  /** File name from the multipart part, if any. */
  filename?: string;
}

/** An ELF object: the raw body, or the `file` (or only) part of a multipart form. */
export async function parseObjectBody({ request }: { request: Request }): Promise<ObjectUpload> {
  const type = request.headers.get("content-type") ?? "";
  if (/^multipart\/form-data/i.test(type)) {
    const raw = await readBounded(request, MAX_OBJECT_BYTES + MULTIPART_SLACK, "the object");
    let form: globalThis.FormData;
    try {
      form = (await new Response(raw, {
        headers: { "content-type": type },
      }).formData()) as unknown as globalThis.FormData;
    } catch (e) {
      throw new HttpError("invalid_request", `bad multipart body: ${(e as Error).message}`);
    }
    const files = [...form.entries()].filter(([, v]) => typeof v !== "string");
    const part = form.get("file") ?? (files.length === 1 ? files[0]![1] : null);
    if (!part || typeof part === "string")
      throw new HttpError(
        "invalid_request",
        'the multipart body has no file part: send the object as the "file" field',
      );
    const file = part as File;
    if (file.size > MAX_OBJECT_BYTES)
      throw new HttpError(
        "too_large",
        `the object is larger than the limit of ${mib(MAX_OBJECT_BYTES)}`,
      );
    return {
      bytes: new Uint8Array(await file.arrayBuffer()),
      ...(file.name ? { filename: file.name } : {}),
    };
  }
  if (/^(application\/json|application\/x-www-form-urlencoded|text\/)/i.test(type))
    throw new HttpError(
      "unsupported_media_type",
      `send the object as application/octet-stream or multipart/form-data, not ${type.split(";")[0]}`,
    );
  return { bytes: await readBounded(request, MAX_OBJECT_BYTES, "the object") };
}
