// What every route plugin of the admin API shares: the region it serves,
// the event hub, and the OpenAPI pieces repeated on each route.
import type { Region } from "../../native/index.ts";
import type { EventHub } from "../sse.ts";
import * as S from "../schemas.ts";

export interface RouteContext {
  /** Region name (default $BPFTIME_SHM or bpftime). */
  shm?: string;
  /** Runs fn with the region open (closed afterwards). */
  region<T>(fn: (r: Region) => T): T;
  events: EventHub;
}

/** The error responses every route may give. */
export const errors = { 400: S.ErrorSchema, 401: S.ErrorSchema, 404: S.ErrorSchema };
/** OpenAPI: the route needs the bearer token. */
export const secured = [{ bearer: [] as string[] }];
