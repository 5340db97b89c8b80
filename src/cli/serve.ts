import { type Command, shmOption, str } from "./command.ts";
import { DEFAULT_PORT } from "../server/index.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "serve the web console and the HTTP admin API (REST, SSE, /metrics, /docs)",
  usage: "[--listen HOST:PORT] [--shm NAME] [--token-file PATH]",
  description:
    "Serve the CLI's operations over HTTP: /v1/programs, /v1/maps, /v1/links, /v1/targets,\n" +
    "/v1/instances, /v1/events/MAP (server-sent events), /v1/region, Prometheus /metrics,\n" +
    "and the OpenAPI document with interactive docs at /docs. The web console at / shows the\n" +
    "region live (programs, maps, links, instances, events, run-rate charts) and, with the\n" +
    "token, loads, attaches, detaches, replaces and updates map entries.\n" +
    "Mutating routes and event streams need `Authorization: Bearer TOKEN` (or\n" +
    "?access_token=TOKEN). The token lives in --token-file (default\n" +
    "$XDG_CONFIG_HOME/bpftime/token, i.e. ~/.config/bpftime/token, mode 0600); the first\n" +
    "start on a loopback address creates it and prints it once. Reads are open on loopback;\n" +
    "on any other address everything needs the token, and serve refuses to start until\n" +
    "the token file exists. Runs until Ctrl-C.",
  options: {
    listen: {
      type: "string",
      arg: "HOST:PORT",
      description: `address to listen on (default 127.0.0.1:${DEFAULT_PORT}; port 0 picks one)`,
    },
    ...shmOption,
    "token-file": {
      type: "string",
      arg: "PATH",
      description: "bearer token file (default ~/.config/bpftime/token; created on loopback)",
    },
  },
  examples: [
    "bpftime serve",
    "bpftime serve --listen 127.0.0.1:9000 --shm demo",
    'curl -H "Authorization: Bearer $(cat ~/.config/bpftime/token)" -X DELETE localhost:8787/v1/links/1',
  ],
  async run(p) {
    // Loaded here so other commands do not pay for the HTTP stack.
    const { startServer } = await import("../server/index.ts");
    const s = await startServer({
      ...(str(p, "listen") !== undefined ? { listen: str(p, "listen")! } : {}),
      ...(str(p, "shm") !== undefined ? { shm: str(p, "shm")! } : {}),
      ...(str(p, "token-file") !== undefined ? { tokenFile: str(p, "token-file")! } : {}),
    });
    console.log(
      `bpftime admin API for region ${s.region} at ${s.url} (console: ${s.url}/, docs: ${s.url}/docs)`,
    );
    if (s.token.created)
      console.log(`created bearer token file ${s.token.path} (shown this once):\n${s.token.value}`);
    else console.log(`bearer token: ${s.token.path}`);
    if (!s.loopback) console.log("not a loopback address: every route needs the token");
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      process.once("SIGINT", done);
      process.once("SIGTERM", done);
    });
    await s.stop();
  },
};
