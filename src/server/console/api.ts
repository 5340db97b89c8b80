// How the console talks to the admin API: JSON over fetch, the bearer token
// (kept for this tab only, in sessionStorage) on every request, errors as
// the API's `{ error, message }`, and server-sent events read from a fetch
// stream so the token travels in the Authorization header, not in the URL.
// The shapes are the API's own schemas (type-only imports, erased for the
// browser).
import type { Static } from "elysia";
import type * as S from "../schemas.ts";

export type Snapshot = Static<typeof S.SnapshotSchema>;
export type Program = Static<typeof S.ProgramSchema>;
export type MapInfo = Static<typeof S.MapSchema>;
export type Link = Static<typeof S.LinkSchema>;
export type Target = Static<typeof S.TargetSchema>;
export type Instance = Static<typeof S.InstanceSchema>;
export type RegionInfo = Static<typeof S.RegionSchema>;
export type EntriesPage = Static<typeof S.EntriesPageSchema>;
export type Loaded = Static<typeof S.LoadedSchema>;

const TOKEN_KEY = "bpftime-token";

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string | null): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A refusal from the API: its status, stable code and one-line message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function refusal(status: number, data: unknown): ApiError {
  const e = (data ?? {}) as { error?: string; message?: string };
  return new ApiError(status, e.error ?? `http_${status}`, e.message ?? `HTTP ${status}`);
}

function authHeaders(): Headers {
  const headers = new Headers();
  const t = token();
  if (t) headers.set("authorization", `Bearer ${t}`);
  return headers;
}

/** One request; the parsed JSON answer, or ApiError with the API's message. */
export async function call<T>(
  method: string,
  path: string,
  body?: FormData | Record<string, unknown>,
): Promise<T> {
  const headers = authHeaders();
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers.set("content-type", "application/json");
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, ...(payload ? { body: payload } : {}) });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) throw refusal(res.status, data);
  return data as T;
}

export const get = <T>(path: string) => call<T>("GET", path);

/** A path segment (id, name or key) as the API expects it in a URL. */
export const seg = (v: string | number) => encodeURIComponent(String(v));

export interface StreamHandlers {
  /** One event: its kind ("message", "open", "lost", "error") and parsed data. */
  event(kind: string, data: unknown, id: string | undefined): void;
}

/**
 * Follows a server-sent event stream until it ends or `signal` aborts.
 * Rejects with ApiError when the stream is refused (no token, no such map).
 */
export async function follow(path: string, on: StreamHandlers, signal: AbortSignal): Promise<void> {
  const res = await fetch(path, { headers: authHeaders(), signal });
  if (!res.ok || !res.body) throw refusal(res.status, await res.json().catch(() => null));
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let kind = "message";
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) kind = line.slice(7);
        else if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (!data.length) continue; // comments (keepalive), retry hints
      let parsed: unknown = data.join("\n");
      try {
        parsed = JSON.parse(parsed as string);
      } catch {
        /* plain text data */
      }
      on.event(kind, parsed, id);
    }
  }
}
