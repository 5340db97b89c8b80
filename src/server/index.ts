// Starting and stopping the admin API: `bpftime serve` and tests.
import { BpftimeError } from "../errors.ts";
import { regionName } from "../native/index.ts";
import { createApp } from "./app.ts";
import { DEFAULT_PORT, hostPort, isLoopback, parseListen } from "./listen.ts";
import { defaultTokenFile, loadToken, type Token } from "./token.ts";
import { MAX_OBJECT_BYTES } from "./body.ts";
import { KEEPALIVE_MS } from "./sse.ts";

export interface ServeOptions {
  /** HOST:PORT (default 127.0.0.1:8787). */
  listen?: string;
  shm?: string;
  tokenFile?: string;
  /** Serve the kernel event provider instead of a region. */
  kernel?: boolean;
}

export interface RunningServer {
  url: string;
  /** The region served, or "kernel". */
  region: string;
  loopback: boolean;
  token: Token;
  stop(): Promise<void>;
}

export { DEFAULT_PORT };

export async function startServer(o: ServeOptions = {}): Promise<RunningServer> {
  const { host, port } = parseListen(o.listen);
  const loopback = isLoopback(host);
  const tokenPath = o.tokenFile ?? defaultTokenFile();
  // Only a loopback listener may mint a token: on any other address the
  // secret must exist before the port opens.
  const token = loadToken(tokenPath, loopback);
  const region = o.kernel ? "kernel" : regionName(o.shm);
  const allowedHosts = (actualPort: number) =>
    loopback
      ? [
          hostPort(host, actualPort),
          `localhost:${actualPort}`,
          `127.0.0.1:${actualPort}`,
          `[::1]:${actualPort}`,
        ].map((h) => h.toLowerCase())
      : [];
  const hosts: string[] = [];
  const { app, events } = createApp({
    shm: region,
    token: token.value,
    protectReads: !loopback,
    allowedHosts: hosts,
    ...(o.kernel ? { kernel: true } : {}),
  });
  try {
    app.listen({
      hostname: host,
      port,
      // Elysia asks for SO_REUSEPORT: a second server on a port in use would
      // then share it (requests split between two regions) instead of failing.
      reusePort: false,
      // Above every route's own bound, which answers 413 as JSON first.
      maxRequestBodySize: MAX_OBJECT_BYTES * 4,
      idleTimeout: Math.ceil((KEEPALIVE_MS * 3) / 1000),
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const what = hostPort(host, port);
    if (err.code === "EADDRINUSE")
      throw new BpftimeError("exists", `cannot listen on ${what}: the address is in use`);
    throw new BpftimeError("io", `cannot listen on ${what}: ${err.message}`);
  }
  const actual = app.server?.port ?? port;
  hosts.push(...allowedHosts(actual));
  return {
    url: `http://${hostPort(host, actual)}`,
    region,
    loopback,
    token,
    async stop() {
      events.closeAll();
      await app.stop(true);
    },
  };
}
