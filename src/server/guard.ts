// The one guard in front of every route, run when a request arrives (before
// routing, before any body is read):
// - Host: on a loopback listener only the loopback names of this server are
//   accepted (a DNS-rebinding page cannot reach the API through its own name);
// - bearer token (Authorization: Bearer T, or ?access_token=T for EventSource
//   clients): for every mutating route and the event stream, and for reads too
//   on a non-loopback listener; compared in constant time (token.ts). The token
//   is read here rather than by @elysiajs/bearer, whose derive step runs only
//   after the body has been parsed.
import { Elysia } from "elysia";
import { errorBody } from "./errors.ts";
import { tokenMatches } from "./token.ts";

export interface GuardOptions {
  token: string;
  /** Require the token for reads as well (non-loopback listeners). */
  protectReads: boolean;
  /** Accepted Host header values (host:port); empty accepts any (non-loopback). */
  allowedHosts: string[];
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const OPEN_PATHS = /^\/docs(\/|$)/;

/** The token as presented: Authorization header, else ?access_token. */
function presentedToken(request: Request, url: URL): string | undefined {
  const auth = request.headers.get("authorization");
  if (auth?.startsWith("Bearer ")) return auth.slice("Bearer ".length).trim();
  return url.searchParams.get("access_token") ?? undefined;
}

export function guard(o: GuardOptions) {
  return new Elysia().onRequest(({ request, set }) => {
    const url = new URL(request.url);
    if (o.allowedHosts.length) {
      const host = (request.headers.get("host") ?? "").toLowerCase();
      if (!o.allowedHosts.includes(host)) {
        set.status = 403;
        return errorBody(
          "forbidden_host",
          `Host "${host}" is not this server's loopback address; use http://${o.allowedHosts[0]}`,
        );
      }
    }
    const needsToken =
      !OPEN_PATHS.test(url.pathname) &&
      (o.protectReads ||
        !SAFE_METHODS.has(request.method) ||
        url.pathname.startsWith("/v1/events/"));
    if (needsToken && !tokenMatches(presentedToken(request, url), o.token)) {
      set.status = 401;
      set.headers["www-authenticate"] = 'Bearer realm="bpftime"';
      return errorBody(
        "unauthorized",
        presentedToken(request, url)
          ? "wrong bearer token"
          : "this route needs Authorization: Bearer <token> (the token file of `bpftime serve`)",
      );
    }
  });
}
