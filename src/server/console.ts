// The web console: the page at `/` and its script and style, which Bun
// bundles from src/server/console/ (index.html → main.ts and its imports,
// console.css) — when `bun build --compile` makes the binary, or at the
// server's start when run from source — and serves as static routes of the
// listener (`serve.routes`), beside the API. Nothing is fetched from
// elsewhere. The page holds no data: it reads and changes the region through
// /v1 like any client, with the same bearer token, so it is served without
// one (even on a non-loopback listener, where the page then asks for it).
import page from "./console/index.html";

/** Bun.serve static routes of the console. */
export const consoleRoutes = { "/": page };
