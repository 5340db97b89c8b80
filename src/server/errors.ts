// Every failure the API reports is `{ "error": CODE, "message": "…" }` with a
// status from one table: BpftimeError codes (src/errors.ts) for what the
// operations refuse, plus the HTTP layer's own (auth, size, bad JSON, schema,
// unknown route). Server faults are 500 with the same shape, never a stack.
import { BpftimeError, type ErrorCode } from "../errors.ts";

export type HttpErrorCode =
  | "unauthorized" // no or wrong bearer token
  | "forbidden_host" // Host header other than the loopback address served (DNS rebinding)
  | "too_large" // body over the route's limit
  | "invalid_request" // body is not JSON, or does not match the route's schema
  | "route_not_found" // no such route
  | "method_not_allowed" // a route, but not with this method
  | "unsupported_media_type";

export type ApiErrorCode = ErrorCode | HttpErrorCode;

/** Status of each error code: the client's fault is 4xx, the server's 5xx. */
export const statusOf: Record<ApiErrorCode, number> = {
  usage: 400,
  invalid_argument: 400,
  bad_object: 400,
  bad_bytecode: 400,
  invalid_request: 400,
  unsupported: 400, // asks for something this host cannot do (engine, target type)
  unauthorized: 401,
  permission: 403,
  forbidden_host: 403,
  not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  exists: 409,
  busy: 409,
  too_large: 413,
  unsupported_media_type: 415,
  verifier: 422,
  vm: 422,
  io: 500,
  internal: 500,
};

/** An error of the HTTP layer itself. */
export class HttpError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export interface ErrorBody {
  error: ApiErrorCode;
  message: string;
}

export function errorBody(code: ApiErrorCode, message: string): ErrorBody {
  return { error: code, message };
}

/** First line of a message: what the CLI would print, without anything multi-line. */
function oneLine(s: string): string {
  return s.split("\n")[0]!.slice(0, 2000);
}

/** Status and body for anything thrown while handling a request. */
export function toApiError(e: unknown): { status: number; body: ErrorBody } {
  // Errors thrown in body parsers arrive wrapped in Elysia's ParseError.
  const cause = (e as { cause?: unknown } | null)?.cause;
  if (!(e instanceof BpftimeError || e instanceof HttpError) && cause instanceof Error)
    if (cause instanceof BpftimeError || cause instanceof HttpError) e = cause;
  if (e instanceof BpftimeError || e instanceof HttpError)
    return { status: statusOf[e.code], body: errorBody(e.code, oneLine(e.message)) };
  return {
    status: 500,
    body: errorBody("internal", `internal error: ${oneLine(String((e as Error)?.message ?? e))}`),
  };
}
