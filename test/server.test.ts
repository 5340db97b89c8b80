// `bpftime serve`: the HTTP admin API against a real server (the CLI, started
// as a child process on a free loopback port), a real region per test, and —
// for server-sent events and run statistics — a real nginx running the
// loaded program. The CLI and the API must show the same objects and ids.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import {
  cli,
  cliOk,
  freePort,
  regionNames,
  run,
  startProcess,
  tempDir,
  type Started,
  buildExamples,
} from "./helpers.ts";
import { nginxSkipReason, requestStatus, startNginx } from "./nginx-harness.ts";
import { createApp } from "../src/server/app.ts";
import { runName } from "./run-id.ts";
import { cliEntry } from "./helpers.ts";

const examples = buildExamples();
const urlFilter = join(examples, "url_filter.bpf.o");
const checksum = join(examples, "checksum.bpf.o");

const newRegion = regionNames("srv");
const ok = (args: string[]) => cliOk(args);
const cliJson = (args: string[]) => JSON.parse(ok([...args, "--json"]));

interface Server {
  url: string;
  token: string;
  tokenFile: string;
  proc: Started;
  /** fetch with the bearer token. */
  auth(path: string, init?: RequestInit): Promise<Response>;
  get(path: string): Promise<Response>;
}

/** A new region with `objects` loaded in order, and `bpftime serve` on it. */
async function serveLoaded(...objects: string[]): Promise<{ shm: string; s: Server }> {
  const shm = newRegion();
  for (const o of objects) ok(["load", o, "--shm", shm]);
  return { shm, s: await serve(shm) };
}

/** Starts `bpftime serve` on a free loopback port (retrying if the port was taken meanwhile). */
async function serve(
  shm: string,
  opts: { tokenFile?: string; env?: Record<string, string> } = {},
): Promise<Server> {
  const tokenFile = opts.tokenFile ?? join(tempDir(), "token");
  let last = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const args = ["serve", "--listen", `127.0.0.1:${port}`, "--shm", shm];
    if (!opts.env?.XDG_CONFIG_HOME) args.push("--token-file", tokenFile);
    const proc = startProcess([process.execPath, cliEntry, ...args], { env: opts.env ?? {} });
    try {
      await proc.waitFor(/bearer token|token file/);
    } catch (e) {
      last = (e as Error).message;
      await proc.stop();
      if (/in use/.test(last)) continue;
      throw e;
    }
    const url = /at (http:\/\/\S+) /.exec(proc.output())![1]!;
    const path = opts.env?.XDG_CONFIG_HOME
      ? join(opts.env.XDG_CONFIG_HOME, "bpftime", "token")
      : tokenFile;
    const token = readFileSync(path, "utf8").trim();
    const withToken = (init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${token}`);
      return { ...init, headers };
    };
    return {
      url,
      token,
      tokenFile: path,
      proc,
      auth: (p, init) => fetch(url + p, withToken(init)),
      get: (p) => fetch(url + p),
    };
  }
  throw new Error(`serve did not start: ${last}`);
}

async function json(res: Response): Promise<{ status: number; body: any }> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`not JSON (status ${res.status}): ${text.slice(0, 300)}`);
  }
  return { status: res.status, body };
}

function expectError(r: { status: number; body: any }, status: number, code: string) {
  expect({ status: r.status, error: r.body.error }).toEqual({ status, error: code });
  expect(typeof r.body.message).toBe("string");
  expect(r.body.message.length).toBeGreaterThan(0);
  expect(r.body.message).not.toMatch(/\n\s+at /); // no stack trace
}

const octet = (bytes: Uint8Array, query = ""): [string, RequestInit] => [
  `/v1/programs${query}`,
  { method: "POST", body: bytes, headers: { "content-type": "application/octet-stream" } },
];
const sendJson = (method: string, body: unknown): RequestInit => ({
  method,
  body: typeof body === "string" ? body : JSON.stringify(body),
  headers: { "content-type": "application/json" },
});

/** An object whose only program the verifier refuses (out-of-bounds context read). */
function refusedObject(): string {
  const dir = tempDir();
  const src = join(dir, "bad.bpf.c");
  writeFileSync(
    src,
    '#define SEC(n) __attribute__((section(n), used))\nSEC("xdp") int bad(int *ctx) { return ctx[100000]; }\nchar LICENSE[] SEC("license") = "GPL";\n',
  );
  const out = join(dir, "bad.bpf.o");
  const r = run(["clang", "-O2", "-g", "-target", "bpf", "-c", src, "-o", out]);
  if (r.code !== 0) throw new Error(`clang failed: ${r.stderr}`);
  return out;
}

describe("bpftime serve: token and listening", () => {
  test("the first start creates a 0600 token file and prints the token once", async () => {
    const shm = newRegion();
    const cfg = tempDir();
    const s = await serve(shm, { env: { XDG_CONFIG_HOME: cfg } });
    expect(s.tokenFile).toBe(join(cfg, "bpftime", "token"));
    expect(statSync(s.tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(cfg, "bpftime")).mode & 0o777).toBe(0o700);
    expect(s.token.length).toBeGreaterThanOrEqual(32);
    expect(s.proc.output()).toContain(s.token);
    await s.proc.stop();
    const again = await serve(shm, { env: { XDG_CONFIG_HOME: cfg } });
    expect(again.token).toBe(s.token);
    expect(again.proc.output()).not.toContain(s.token);
    expect(again.proc.output()).toContain(`bearer token: ${s.tokenFile}`);
  }, 60_000);

  test("a non-loopback address without a token file is refused with one line", () => {
    const tokenFile = join(tempDir(), "missing", "token");
    const r = cli([
      "serve",
      "--listen",
      "0.0.0.0:0",
      "--shm",
      newRegion(),
      "--token-file",
      tokenFile,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`no token file ${tokenFile}`);
    expect(existsSync(tokenFile)).toBe(false);
  }, 60_000);

  test("a token file others can read is refused", () => {
    const tokenFile = join(tempDir(), "token");
    writeFileSync(tokenFile, "0123456789abcdef0123456789abcdef\n");
    chmodSync(tokenFile, 0o644);
    const r = cli([
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--shm",
      newRegion(),
      "--token-file",
      tokenFile,
    ]);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain("chmod 600");
  }, 60_000);

  test("bad --listen values are usage errors", () => {
    for (const v of ["nope", "127.0.0.1:99999", "[zz]:80"]) {
      const r = cli(["serve", "--listen", v, "--shm", newRegion()]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^bpftime: serve: /);
    }
  }, 60_000);

  test("off loopback, reads need the token too (same app, no listener)", async () => {
    // A region name nothing made (not the default one, which a user may have).
    const absent = runName("absent-region");
    const { app } = createApp({
      shm: absent,
      token: "t".repeat(32),
      protectReads: true,
      allowedHosts: [],
    });
    const req = (p: string, token?: string) =>
      app.handle(
        new Request(
          `http://10.0.0.1${p}`,
          token ? { headers: { authorization: `Bearer ${token}` } } : {},
        ),
      );
    expectError(await json(await req("/v1/programs")), 401, "unauthorized");
    expectError(await json(await req("/metrics")), 401, "unauthorized");
    expect((await req("/docs/json")).status).toBe(200);
    // With the token the request reaches the operation (here: no such region).
    expectError(await json(await req("/v1/region", "t".repeat(32))), 404, "not_found");
  }, 60_000);

  test("requests naming another Host are refused (DNS rebinding)", async () => {
    const s = await serve(newRegion());
    const port = new URL(s.url).port;
    // fetch() sets Host from the URL: a raw request names any Host.
    const evil = await rawGet(s.url, "/v1/programs", "attacker.example");
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body).error).toBe("forbidden_host");
    const evilPort = await rawGet(s.url, "/v1/programs", `127.0.0.1:${Number(port) + 1}`);
    expect(evilPort.status).toBe(403);
    // The server's own names pass: 127.0.0.1:PORT and localhost:PORT.
    expect((await rawGet(s.url, "/docs/json", `127.0.0.1:${port}`)).status).toBe(200);
    expect((await rawGet(s.url, "/docs/json", `localhost:${port}`)).status).toBe(200);
    // (this region was never created: past the Host check, 404 from the operation)
    expect(JSON.parse((await rawGet(s.url, "/v1/programs", `127.0.0.1:${port}`)).body).error).toBe(
      "not_found",
    );
  }, 60_000);
});

/** GET over a raw socket with the given Host header; returns status and body. */
async function rawGet(base: string, path: string, host: string) {
  const { hostname, port } = new URL(base);
  const text = await new Promise<string>((resolve, reject) => {
    const sock = connect(Number(port), hostname, () =>
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    let out = "";
    sock.setEncoding("utf8");
    sock.on("data", (d) => (out += d));
    sock.on("end", () => resolve(out));
    sock.on("error", reject);
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  const head = text.indexOf("\r\n\r\n");
  let body = text.slice(head + 4);
  // chunked transfer: keep the chunk payloads only
  if (/transfer-encoding: chunked/i.test(text.slice(0, head))) {
    let out = "";
    for (let rest = body; ;) {
      const nl = rest.indexOf("\r\n");
      const n = parseInt(rest.slice(0, nl), 16);
      if (!n) break;
      out += rest.slice(nl + 2, nl + 2 + n);
      rest = rest.slice(nl + 2 + n + 2);
    }
    body = out;
  }
  return { status, body };
}

describe("bpftime serve: authentication", () => {
  test("every mutating route and the event stream answer 401 without or with a wrong token", async () => {
    const { shm, s } = await serveLoaded(urlFilter);
    const obj = new Uint8Array(readFileSync(checksum));
    const routes: Array<[string, RequestInit]> = [
      octet(obj),
      ["/v1/programs/1", { method: "DELETE" }],
      ["/v1/programs/1/run", sendJson("POST", { text: "/" })],
      ["/v1/maps/1/entries/0", sendJson("PUT", { value: 1 })],
      ["/v1/maps/1/entries/0", { method: "DELETE" }],
      ["/v1/links", sendJson("POST", { program: "1", type: "nginx", arg: "/" })],
      ["/v1/links/1", { method: "DELETE" }],
      ["/v1/links/1", sendJson("PATCH", { program: "1" })],
      ["/v1/region/stats", sendJson("POST", { enabled: true })],
      ["/v1/events/events", {}],
    ];
    // Wrong tokens of the right length (only the last or first character
    // differs): a comparison by length alone would let them in.
    const flip = (c: string) => (c === "A" ? "B" : "A");
    const sameLength = [
      s.token.slice(0, -1) + flip(s.token.at(-1)!),
      flip(s.token[0]!) + s.token.slice(1),
    ];
    for (const [path, init] of routes) {
      for (const wrong of sameLength) {
        const headers = new Headers(init.headers);
        headers.set("authorization", `Bearer ${wrong}`);
        const viaHeader = await fetch(s.url + path, { ...init, headers });
        expectError(await json(viaHeader), 401, "unauthorized");
        const q = path.includes("?") ? "&" : "?";
        const viaQuery = await fetch(`${s.url}${path}${q}access_token=${wrong}`, init);
        expectError(await json(viaQuery), 401, "unauthorized");
      }
      const none = await fetch(s.url + path, init);
      expect(none.headers.get("www-authenticate")).toContain("Bearer");
      expectError(await json(none), 401, "unauthorized");
      const headers = new Headers(init.headers);
      headers.set("authorization", "Bearer wrong-token-wrong-token-wrong-token");
      expectError(await json(await fetch(s.url + path, { ...init, headers })), 401, "unauthorized");
      // A token in the query string is checked the same way.
      const q = path.includes("?") ? "&" : "?";
      expectError(
        await json(await fetch(`${s.url}${path}${q}access_token=nope`, init)),
        401,
        "unauthorized",
      );
    }
    // Nothing changed.
    expect(cliJson(["list", "--shm", shm]).programs.map((p: any) => p.id)).toEqual([1]);
    expect(cliJson(["list", "--shm", shm]).links).toEqual([]);
    // Reads are open on loopback.
    for (const p of ["/v1/programs", "/v1/maps", "/v1/links", "/v1/region", "/metrics"])
      expect((await s.get(p)).status).toBe(200);
  }, 60_000);
});

describe("bpftime serve: programs", () => {
  test("upload (raw and multipart) answers as `bpftime load --json`, and CLI and API list the same", async () => {
    const shm = newRegion();
    const s = await serve(shm);
    const bytes = new Uint8Array(readFileSync(urlFilter));
    const raw = await json(await s.auth(...octet(bytes, "?name=url_filter.bpf.o")));
    expect(raw.status).toBe(201);
    const other = newRegion();
    const viaCli = cliJson(["load", urlFilter, "--shm", other]);
    expect(raw.body).toEqual({ ...viaCli, file: "url_filter.bpf.o", region: shm });

    const form = new FormData();
    form.append("file", new Blob([readFileSync(checksum)]), "checksum.bpf.o");
    const multi = await json(await s.auth("/v1/programs", { method: "POST", body: form }));
    expect(multi.status).toBe(201);
    expect(multi.body.file).toBe("checksum.bpf.o");
    expect(multi.body.programs).toEqual([
      { id: 2, name: "checksum", section: "xdp", type: "xdp", insnCount: 42, engine: "jit" },
    ]);

    const list = cliJson(["list", "--shm", shm]);
    expect((await json(await s.get("/v1/programs"))).body).toEqual(list.programs);
    expect((await json(await s.get("/v1/snapshot"))).body).toEqual(list);
    expect((await json(await s.get("/v1/maps"))).body).toEqual(
      cliJson(["map", "list", "--shm", shm]),
    );
  }, 60_000);

  test("?program= loads only the programs named", async () => {
    const shm = newRegion();
    const s = await serve(shm);
    const bytes = new Uint8Array(readFileSync(urlFilter));
    const r = await json(await s.auth(...octet(bytes, "?program=nope")));
    expectError(r, 404, "not_found");
    expect(r.body.message).toContain("has no program nope");
    const good = await json(await s.auth(...octet(bytes, "?program=url_filter")));
    expect(good.body.programs.map((p: any) => p.name)).toEqual(["url_filter"]);
  }, 60_000);

  test("an object the verifier refuses is 422 { error: verifier } and nothing is stored", async () => {
    const shm = newRegion();
    const s = await serve(shm);
    ok(["load", checksum, "--shm", shm]);
    const before = cliJson(["list", "--shm", shm]);
    const r = await json(
      await s.auth(...octet(new Uint8Array(readFileSync(refusedObject())), "?name=bad.bpf.o")),
    );
    expectError(r, 422, "verifier");
    expect(r.body.message).toMatch(/^program bad \(section xdp\): verifier: instruction \d+/);
    expect(r.body.message).not.toContain("bpftime-upload-");
    expect(cliJson(["list", "--shm", shm])).toEqual(before);
  }, 60_000);

  test("malformed uploads are 4xx JSON errors", async () => {
    const s = await serve(newRegion());
    expectError(
      await json(await s.auth(...octet(new TextEncoder().encode("not an object")))),
      400,
      "bad_object",
    );
    expectError(await json(await s.auth(...octet(new Uint8Array(0)))), 400, "bad_object");
    const elfHeaderOnly = new Uint8Array(readFileSync(checksum)).subarray(0, 80);
    const trunc = await json(await s.auth(...octet(elfHeaderOnly)));
    expect(trunc.status).toBe(400);
    expectError(
      await json(await s.auth("/v1/programs", sendJson("POST", { file: "x" }))),
      415,
      "unsupported_media_type",
    );
    const form = new FormData();
    form.append("other", "text");
    expectError(
      await json(await s.auth("/v1/programs", { method: "POST", body: form })),
      400,
      "invalid_request",
    );
    const big = new Uint8Array(16 * 1024 * 1024 + 1);
    expectError(await json(await s.auth(...octet(big))), 413, "too_large");
  }, 60_000);

  test("GET /v1/programs/:id: disassembly, JIT size and verifier statistics; unknown ids are 404", async () => {
    const { shm, s } = await serveLoaded(urlFilter, checksum);
    const cs = (await json(await s.get("/v1/programs/2"))).body;
    expect(cs).toMatchObject({ id: 2, name: "checksum", type: "xdp", section: "xdp", mapIds: [] });
    expect(cs.jit.size).toBeGreaterThan(0);
    expect(cs.disassembly.split("\n")[0]).toMatch(/^ +0:\t[0-9a-f ]+\t/);
    expect(cs.disassembly).toContain("exit");
    expect(cs.verifier.insnsProcessed).toBeGreaterThan(0);
    expect(cs.object).toBe(checksum);
    // By name too, as the CLI resolves it.
    const uf = (await json(await s.get("/v1/programs/url_filter"))).body;
    expect(uf.id).toBe(1);
    expect(uf.mapIds).toEqual([1, 2]);
    expect(uf.jit.size === null ? typeof uf.jit.error : typeof uf.jit.size).toBe(
      uf.jit.size === null ? "string" : "number",
    );
    expect(uf.signature).toBe("int url_filter(struct nginx_url_ctx *ctx)");
    const {
      disassembly: _d,
      jit: _j,
      createdNs: _c,
      mapIds: _m,
      object: _o,
      section: _s,
      signature: _g,
      verifier: _v,
      ...view
    } = uf;
    expect(view).toEqual(cliJson(["list", "--shm", shm]).programs[0]);
    expectError(await json(await s.get("/v1/programs/99")), 404, "not_found");
    expectError(await json(await s.get("/v1/programs/no_such_prog")), 404, "not_found");
  }, 60_000);

  test("DELETE /v1/programs/:id: 409 while linked, then gone", async () => {
    const { shm, s } = await serveLoaded(urlFilter);
    const link = await json(
      await s.auth(
        "/v1/links",
        sendJson("POST", { program: "url_filter", type: "nginx", arg: "/a" }),
      ),
    );
    expect(link.status).toBe(201);
    expectError(await json(await s.auth("/v1/programs/1", { method: "DELETE" })), 409, "busy");
    expect(
      (await json(await s.auth(`/v1/links/${link.body.linkId}`, { method: "DELETE" }))).status,
    ).toBe(200);
    expect(await json(await s.auth("/v1/programs/1", { method: "DELETE" }))).toEqual({
      status: 200,
      body: { deleted: 1 },
    });
    expectError(await json(await s.auth("/v1/programs/1", { method: "DELETE" })), 404, "not_found");
    expect(cliJson(["list", "--shm", shm]).programs).toEqual([]);
  }, 60_000);
});

describe("bpftime serve: maps", () => {
  test("show, paged entries, lookup, update and delete match the CLI", async () => {
    const { shm, s } = await serveLoaded(urlFilter);
    expect((await json(await s.get("/v1/maps/1"))).body).toEqual(
      cliJson(["map", "show", "1", "--shm", shm]),
    );
    expect((await json(await s.get("/v1/maps/verdict_counts"))).body.id).toBe(1);

    expect(await json(await s.auth("/v1/maps/1/entries/1", sendJson("PUT", { value: 7 })))).toEqual(
      { status: 200, body: { updated: true } },
    );
    expect(
      (
        await json(
          await s.auth(
            "/v1/maps/1/entries/hex:00000000",
            sendJson("PUT", { value: "hex:0500000000000000", flag: "exist" }),
          ),
        )
      ).status,
    ).toBe(200);
    expect(cliJson(["map", "dump", "verdict_counts", "--shm", shm]).entries).toEqual([
      { key: 0, value: 5 },
      { key: 1, value: 7 },
    ]);
    const p1 = (await json(await s.get("/v1/maps/1/entries?limit=1"))).body;
    expect(p1).toEqual({ entries: [{ key: 0, value: 5 }], offset: 0, limit: 1, nextOffset: 1 });
    const p2 = (await json(await s.get("/v1/maps/1/entries?offset=1&limit=1"))).body;
    expect(p2).toEqual({ entries: [{ key: 1, value: 7 }], offset: 1, limit: 1, nextOffset: null });
    const all = (await json(await s.get("/v1/maps/1/entries"))).body;
    expect(all.entries).toEqual(cliJson(["map", "dump", "1", "--shm", shm]).entries);

    expect((await json(await s.get("/v1/maps/1/entries/1"))).body).toEqual(
      cliJson(["map", "lookup", "1", "1", "--shm", shm]),
    );
    expect(
      (await json(await s.get(`/v1/maps/1/entries/${encodeURIComponent("hex:01000000")}`))).body
        .value,
    ).toBe(7);
  }, 60_000);

  test("map errors: unknown map or key, wrong key size, bad value, bad JSON, bad flag, too large", async () => {
    const { s } = await serveLoaded(urlFilter);
    expectError(await json(await s.get("/v1/maps/99")), 404, "not_found");
    expectError(await json(await s.get("/v1/maps/nope/entries")), 404, "not_found");
    expectError(await json(await s.get("/v1/maps/1/entries/5")), 404, "not_found");
    expectError(await json(await s.get("/v1/maps/1/entries/hex:0102")), 400, "invalid_argument");
    expectError(await json(await s.get("/v1/maps/1/entries/hex:zz")), 400, "invalid_argument");
    expectError(await json(await s.get("/v1/maps/1/entries?limit=0")), 400, "invalid_request");
    expectError(await json(await s.get("/v1/maps/1/entries?offset=-1")), 400, "invalid_request");
    expectError(await json(await s.get("/v1/maps/events/entries")), 400, "invalid_argument");
    const put = (key: string, body: unknown) =>
      s.auth(`/v1/maps/1/entries/${key}`, sendJson("PUT", body));
    expectError(await json(await put("hex:010203", { value: 1 })), 400, "invalid_argument");
    expectError(await json(await put("1", { value: "hex:01" })), 400, "invalid_argument");
    expectError(
      await json(await put("1", { value: { not: "a number" } })),
      400,
      "invalid_argument",
    );
    expectError(await json(await put("1", "{not json")), 400, "invalid_request");
    expectError(await json(await put("1", {})), 400, "invalid_request");
    expectError(
      await json(await put("1", { value: 1, flag: "sometimes" })),
      400,
      "invalid_request",
    );
    expectError(await json(await put("1", { value: 1, flag: "noexist" })), 409, "exists");
    expectError(await json(await put("1", { value: "x".repeat(70 * 1024) })), 413, "too_large");
    expectError(await json(await put("5", { value: 1 })), 400, "invalid_argument");
    expectError(
      await json(await s.auth("/v1/maps/1/entries/0", { method: "DELETE" })),
      400,
      "invalid_argument",
    );
    expectError(
      await json(await s.auth("/v1/maps/9/entries/0", { method: "DELETE" })),
      404,
      "not_found",
    );
  }, 60_000);
});

describe("bpftime serve: links, targets, region", () => {
  test("attach, replace and detach as the CLI does; the CLI sees the same ids", async () => {
    const { shm, s } = await serveLoaded(urlFilter, urlFilter);
    const a = await json(
      await s.auth(
        "/v1/links",
        sendJson("POST", { program: "1", type: "nginx", arg: "/aaaa", cookie: "7" }),
      ),
    );
    expect(a).toEqual({
      status: 201,
      body: { linkId: 1, targetId: 1, progId: 1, targetType: "nginx", arg: "/aaaa" },
    });
    const viaCli = cliJson(["attach", "1", "nginx", "--prefix", "/b", "--shm", shm]);
    expect(viaCli.linkId).toBe(2);
    const list = cliJson(["list", "--shm", shm]);
    expect((await json(await s.get("/v1/links"))).body).toEqual(list.links);
    expect((await json(await s.get("/v1/targets"))).body).toEqual(list.targets);

    const rep = await json(await s.auth("/v1/links/1", sendJson("PATCH", { program: "2" })));
    expect(rep).toEqual({ status: 200, body: { linkId: 1, oldProgId: 1, newProgId: 2 } });
    expect(cliJson(["list", "--shm", shm]).links[0].progId).toBe(2);
    const det = await json(await s.auth("/v1/links/2", { method: "DELETE" }));
    expect(det).toEqual({ status: 200, body: { linkId: 2, targetId: 2, targetRemoved: true } });
    expect(cliJson(["detach", "1", "--shm", shm])).toEqual({
      linkId: 1,
      targetId: 1,
      targetRemoved: true,
    });
    expect((await json(await s.get("/v1/links"))).body).toEqual([]);
  }, 60_000);

  test("link errors are 4xx", async () => {
    const { shm, s } = await serveLoaded(urlFilter, checksum);
    const post = (b: unknown) => s.auth("/v1/links", sendJson("POST", b));
    expectError(
      await json(await post({ program: "2", type: "nginx", arg: "/" })),
      400,
      "invalid_argument",
    );
    expectError(await json(await post({ program: "1", type: "kprobe", arg: "/" })), 400, "usage");
    expectError(
      await json(await post({ program: "9", type: "nginx", arg: "/" })),
      404,
      "not_found",
    );
    expectError(
      await json(await post({ program: "1", type: "nginx", arg: "x".repeat(300) })),
      400,
      "invalid_argument",
    );
    expectError(await json(await post({ program: "1", type: "nginx" })), 400, "invalid_request");
    expectError(
      await json(await post({ program: "1", type: "nginx", arg: "/", cookie: "-1" })),
      400,
      "invalid_request",
    );
    expectError(await json(await post("[1,2")), 400, "invalid_request");
    expectError(await json(await s.auth("/v1/links/5", { method: "DELETE" })), 404, "not_found");
    expectError(await json(await s.auth("/v1/links/x", { method: "DELETE" })), 400, "usage");
    expectError(
      await json(await s.auth("/v1/links/5", sendJson("PATCH", { program: "1" }))),
      404,
      "not_found",
    );
    expectError(
      await json(await s.auth("/v1/links/5", sendJson("PATCH", {}))),
      400,
      "invalid_request",
    );
    expect(cliJson(["list", "--shm", shm]).targets).toEqual([]);
  }, 60_000);

  test("region info and the statistics switch", async () => {
    const { shm, s } = await serveLoaded(checksum);
    const info = (await json(await s.get("/v1/region"))).body;
    const viaCli = cliJson(["shm", "info", shm]);
    expect(info).toMatchObject({ name: shm, programs: 1, maps: 0, statsEnabled: false });
    expect(info.size).toBe(viaCli.size);
    expect(info.path).toBe(viaCli.path);
    expect(
      await json(await s.auth("/v1/region/stats", sendJson("POST", { enabled: true }))),
    ).toEqual({
      status: 200,
      body: { statsEnabled: true },
    });
    expect((await json(await s.get("/v1/region"))).body.statsEnabled).toBe(true);
    expect(await (await s.get("/metrics")).text()).toContain("bpftime_stats_enabled 1");
    expectError(
      await json(await s.auth("/v1/region/stats", sendJson("POST", { enabled: 1 }))),
      400,
      "invalid_request",
    );
  }, 60_000);

  test("a region that does not exist is 404 for reads; an upload creates it", async () => {
    const shm = newRegion();
    const s = await serve(shm);
    for (const p of ["/v1/programs", "/v1/maps", "/v1/region", "/v1/instances", "/metrics"])
      expectError(await json(await s.get(p)), 404, "not_found");
    expectError(await json(await s.auth("/v1/events/events")), 404, "not_found");
    const r = await json(await s.auth(...octet(new Uint8Array(readFileSync(checksum)))));
    expect(r.status).toBe(201);
    expect((await json(await s.get("/v1/programs"))).body).toHaveLength(1);
  }, 60_000);
});

describe("bpftime serve: documents and errors", () => {
  test("unknown routes are 404; a known route with another method is 405 with Allow", async () => {
    const s = await serve(newRegion());
    expectError(await json(await s.get("/v1/nothing")), 404, "route_not_found");
    const wrong = await s.auth("/v1/maps/1", { method: "POST" });
    expect(wrong.headers.get("allow")).toBe("DELETE, GET");
    expectError(await json(wrong), 405, "method_not_allowed");
    const links = await s.auth("/v1/links", { method: "PUT" });
    expect(links.headers.get("allow")).toBe("GET, POST");
    expectError(await json(links), 405, "method_not_allowed");
  });

  test("/docs serves interactive docs and /docs/json the OpenAPI document of every route", async () => {
    const s = await serve(newRegion());
    const html = await s.get("/docs");
    expect(html.status).toBe(200);
    expect(html.headers.get("content-type")).toContain("text/html");
    // As typed or bookmarked with a trailing slash: the same page.
    const slash = await s.get("/docs/");
    expect(slash.status).toBe(200);
    expect(await slash.text()).toContain("swagger-ui-bundle.js");
    // The page's script and style come from this server (embedded), not a CDN:
    // the docs work without internet access.
    const page = await html.text();
    const assets = [...page.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(assets.sort()).toEqual([
      "/docs/assets/swagger-ui-bundle.js",
      "/docs/assets/swagger-ui.css",
    ]);
    for (const a of assets) {
      const res = await s.get(a);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    }
    const doc = (await json(await s.get("/docs/json"))).body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer).toEqual({ type: "http", scheme: "bearer" });
    const routes: Array<[string, string]> = [
      ["/v1/programs", "post"],
      ["/v1/programs", "get"],
      ["/v1/programs/{id}", "get"],
      ["/v1/programs/{id}", "delete"],
      ["/v1/programs/{id}/run", "post"],
      ["/v1/maps", "get"],
      ["/v1/maps/{id}", "get"],
      ["/v1/maps/{id}/entries", "get"],
      ["/v1/maps/{id}/entries/{key}", "get"],
      ["/v1/maps/{id}/entries/{key}", "put"],
      ["/v1/maps/{id}/entries/{key}", "delete"],
      ["/v1/links", "post"],
      ["/v1/links", "get"],
      ["/v1/links/{id}", "delete"],
      ["/v1/links/{id}", "patch"],
      ["/v1/targets", "get"],
      ["/v1/instances", "get"],
      ["/v1/events/{map}", "get"],
      ["/v1/region", "get"],
      ["/v1/region/stats", "post"],
      ["/metrics", "get"],
    ];
    for (const [path, method] of routes) expect(doc.paths[path]?.[method]).toBeDefined();
    expect(doc.paths["/v1/links"].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/v1/links"].post.requestBody).toBeDefined();
  }, 60_000);

  test("no bad request is ever a 5xx or a non-JSON answer", async () => {
    const { s } = await serveLoaded(urlFilter);
    const cases: Array<[string, RequestInit?]> = [
      ["/nope"],
      ["/v1"],
      ["/v1/programs/%ff"],
      ["/v1/programs/-1"],
      ["/v1/programs/99999999999999999999"],
      ["/v1/maps/1/entries/%7B%22a%22%3A"],
      ["/v1/maps/1/entries/%22str%22"],
      ["/v1/maps/1/entries?limit=x&offset=y"],
      ["/v1/maps/1/entries?limit=100000"],
      ["/v1/events/nope"],
      ["/v1/events/verdict_counts"],
      ["/v1/events/events?type=nope"],
      ["/v1/events/events?count=0"],
      ["/v1/programs", { method: "PUT" }],
      ["/v1/links", sendJson("POST", "")],
      ["/v1/links", sendJson("POST", "null")],
      ["/v1/links", sendJson("POST", "[]")],
      ["/v1/links", sendJson("POST", '"x"')],
      [
        "/v1/links",
        { method: "POST", body: "\u0000\u00ff", headers: { "content-type": "text/plain" } },
      ],
      ["/v1/links/1", sendJson("PATCH", { program: 1 })],
      ["/v1/region/stats", sendJson("POST", { enabled: true, extra: 1 })],
      ["/v1/maps/1/entries/1", sendJson("PUT", { value: null })],
      ["/v1/maps/1/entries/1", sendJson("PUT", { value: [1, 2] })],
      ["/v1/maps/1/entries/1", sendJson("PUT", { value: 1e40 })],
      [
        "/v1/programs",
        {
          method: "POST",
          body: "--x\r\n",
          headers: { "content-type": "multipart/form-data; boundary=x" },
        },
      ],
    ];
    for (const [path, init] of cases) {
      const r = await s.auth(path, init);
      const body = await json(r);
      expect({ path, status: r.status < 500 && r.status >= 200 }).toEqual({ path, status: true });
      if (r.status >= 400) {
        expect(typeof body.body.error).toBe("string");
        expect(typeof body.body.message).toBe("string");
      }
    }
  }, 60_000);
});

describe("bpftime serve: running stored programs and following their events", () => {
  test("POST /v1/programs/:id/run answers as `bpftime run ID --json` and its records reach SSE clients", async () => {
    const { shm, s } = await serveLoaded(urlFilter);
    const res = await s.auth("/v1/events/events");
    expect(res.status).toBe(200);
    const sse = sseReader(res);
    expect(JSON.parse((await sse.waitFor("open", 1))[0]!.data)).toEqual({
      map: { id: 2, name: "events" },
    });
    const viaApi = await json(
      await s.auth(
        "/v1/programs/url_filter/run",
        sendJson("POST", { text: "/aaaa/x", engine: "jit" }),
      ),
    );
    expect(viaApi.status).toBe(200);
    const dataFile = join(tempDir(), "url.txt");
    writeFileSync(dataFile, "/bbbb");
    const viaCli = cliJson(["run", "1", "--shm", shm, "--data", dataFile, "--engine", "interp"]);
    const { averageNs: _a, dataOut, ...rest } = viaApi.body;
    const { averageNs: _b, dataOut: cliOut, ...cliRest } = viaCli;
    expect(rest).toEqual({ ...cliRest, engine: "jit" });
    expect(cliOut).toBe(Buffer.from("/bbbb").toString("hex"));
    expect(rest.returnValue).toBe("0x1");
    expect(dataOut).toBe(Buffer.from("/aaaa/x").toString("hex"));
    // Both runs' records, decoded as `bpftime events --json` does, in order.
    const recs = (await sse.waitFor("message", 2)).map((e) => JSON.parse(e.data));
    expect(recs).toEqual([
      { cpu: recs[0].cpu, size: 136, data: { verdict: 1, url_len: 7, url: "/aaaa/x" } },
      { cpu: recs[1].cpu, size: 136, data: { verdict: 1, url_len: 5, url: "/bbbb" } },
    ]);
    expect((await sse.waitFor("message", 2)).map((e) => e.id)).toEqual(["1", "2"]);
    // Counted in the array map too.
    expect((await json(await s.get("/v1/maps/verdict_counts/entries/1"))).body.value).toBe(2);
    await sse.cancel();
    // Errors.
    const run = (b: unknown, id = "1") => s.auth(`/v1/programs/${id}/run`, sendJson("POST", b));
    expectError(await json(await run({ text: "/" }, "9")), 404, "not_found");
    expectError(await json(await run({ hex: "zz" })), 400, "invalid_argument");
    expectError(await json(await run({ hex: "00", text: "x" })), 400, "usage");
    expectError(await json(await run({ repeat: 1_000_000 })), 400, "invalid_request");
    expectError(await json(await run({ engine: "fast" })), 400, "invalid_request");
  }, 60_000);

  test("a client that disconnects leaves the others streaming; ?type= decodes by struct name", async () => {
    const { s } = await serveLoaded(urlFilter);
    const a = sseReader(await s.auth("/v1/events/events?type=decision"));
    const b = sseReader(await fetch(`${s.url}/v1/events/events?access_token=${s.token}`));
    await a.waitFor("open", 1);
    await b.waitFor("open", 1);
    await a.cancel();
    await s.auth("/v1/programs/1/run", sendJson("POST", { text: "/x" }));
    const [rec] = (await b.waitFor("message", 1)).map((e) => JSON.parse(e.data));
    expect(rec.data).toEqual({ verdict: 1, url_len: 2, url: "/x" });
    const c = sseReader(await s.auth("/v1/events/events?type=decision&count=1"));
    await c.waitFor("open", 1);
    await s.auth("/v1/programs/1/run", sendJson("POST", { text: "/y" }));
    expect((await c.waitFor("message", 1)).map((e) => JSON.parse(e.data).data.url)).toEqual(["/y"]);
    expect((await b.waitFor("message", 2)).map((e) => JSON.parse(e.data).data.url)).toEqual([
      "/x",
      "/y",
    ]);
    expectError(await json(await s.auth("/v1/events/events?type=nope")), 404, "not_found");
  }, 60_000);

  test("removing the region ends its event streams with an error event", async () => {
    const { shm, s } = await serveLoaded(urlFilter);
    const a = sseReader(await s.auth("/v1/events/events"));
    await a.waitFor("open", 1);
    ok(["shm", "remove", shm]);
    const [err] = await a.waitFor("error", 1);
    expect(JSON.parse(err!.data)).toMatchObject({ error: "not_found" });
    expect(JSON.parse(err!.data).message).toContain(`region ${shm} was removed`);
    expectError(await json(await s.get("/v1/maps")), 404, "not_found");
  }, 60_000);
});

// ---- with a real program run: server-sent events, statistics, instances ----

const skip = nginxSkipReason();
if (skip) console.log(`skip: bpftime serve with nginx: ${skip}`);

const files = { "aaaa/index.html": "a\n", "bbbb/index.html": "b\n" };

/** Reads server-sent events from a streaming response. */
function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = "";
  const events: Array<{ event: string; data: string; id?: string }> = [];
  async function pump(): Promise<boolean> {
    const { done, value } = await reader.read();
    if (done) return false;
    buf += dec.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev: { event: string; data: string; id?: string } = { event: "message", data: "" };
      let any = false;
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const [k, ...rest] = line.split(":");
        const v = rest.join(":").replace(/^ /, "");
        if (k === "event") ev.event = v;
        else if (k === "data") ev.data += v;
        else if (k === "id") ev.id = v;
        else continue;
        any = true;
      }
      if (any) events.push(ev);
    }
    return true;
  }
  return {
    events,
    /** Waits until `n` events of this kind arrived (or the stream ended). */
    async waitFor(kind: string, n: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (events.filter((e) => e.event === kind).length < n) {
        if (Date.now() > deadline)
          throw new Error(`timed out; events so far: ${JSON.stringify(events)}`);
        if (!(await pump())) break;
      }
      return events.filter((e) => e.event === kind);
    },
    cancel: () => reader.cancel(),
  };
}

describe.skipIf(!!skip)("bpftime serve with nginx running the program", () => {
  test("SSE delivers the records nginx's program writes; metrics and instances show the runs", async () => {
    const shm = newRegion();
    const s = await serve(shm);
    const loaded = await json(
      await s.auth(...octet(new Uint8Array(readFileSync(urlFilter)), "?name=url_filter.bpf.o")),
    );
    expect(loaded.status).toBe(201);
    const progId = loaded.body.programs[0].id;
    const link = await json(
      await s.auth(
        "/v1/links",
        sendJson("POST", { program: String(progId), type: "nginx", arg: "/aaaa" }),
      ),
    );
    expect(link.status).toBe(201);
    await s.auth("/v1/region/stats", sendJson("POST", { enabled: true }));

    // The header form of the token, and the query form EventSource clients use.
    const res = await s.auth("/v1/events/events");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const sse = sseReader(res);
    expect(JSON.parse((await sse.waitFor("open", 1))[0]!.data)).toEqual({
      map: { id: 2, name: "events" },
    });
    const res2 = await fetch(`${s.url}/v1/events/2?count=2&access_token=${s.token}`);
    expect(res2.status).toBe(200);
    const sse2 = sseReader(res2);
    await sse2.waitFor("open", 1);

    const ngx = await startNginx({ bpftime: "on", shm, files });
    const urls = ["/aaaa/", "/bbbb/", "/aaaa/index.html"];
    for (const u of urls) await requestStatus(ngx.url(u));
    // Same decoding as `bpftime events --json`: {cpu, size, data} through BTF.
    // The harness's readiness probe also went through the filter: match by URL.
    let all: any[] = [];
    let decisions: Array<[string, number]> = [];
    for (let n = 3; decisions.length < 3; n++) {
      all = (await sse.waitFor("message", n)).map((e) => JSON.parse(e.data));
      decisions = all
        .filter((r) => urls.includes(r.data.url))
        .map((r) => [r.data.url, r.data.verdict]);
    }
    expect(decisions).toEqual([
      ["/aaaa/", 1],
      ["/bbbb/", 0],
      ["/aaaa/index.html", 1],
    ]);
    expect(all[0].size).toBe(136);
    expect(all[0].data.url_len).toBe(all[0].data.url.length);
    // count=2 ends that stream by itself.
    // Each client gets every record (the server reads the ring once and fans out).
    const two = (await sse2.waitFor("message", 2)).map((e) => JSON.parse(e.data));
    expect(two).toEqual(all.slice(0, 2));
    expect(await sse2.waitFor("message", 3, 2000).catch(() => "timeout")).toHaveLength(2);

    // Statistics were on: the program's runs are counted, in the API and in /metrics.
    const prog = (await json(await s.get(`/v1/programs/${progId}`))).body;
    expect(Number(prog.runCount)).toBeGreaterThanOrEqual(3);
    const metrics = await (await s.get("/metrics")).text();
    const runs = new RegExp(
      `^bpftime_program_run_count_total\\{id="${progId}",name="url_filter",type="nginx_url_filter"\\} (\\d+)$`,
      "m",
    ).exec(metrics);
    expect(Number(runs![1])).toBe(Number(prog.runCount));
    expect(metrics).toMatch(/^bpftime_program_run_time_seconds_total\{id="1",[^}]*\} [0-9.e-]+$/m);
    expect(metrics).toMatch(
      /^bpftime_map_entries\{id="1",name="verdict_counts",type="array"\} 2$/m,
    );
    expect(metrics).toContain(
      `bpftime_link_instances{id="${link.body.linkId}",prog_id="${progId}"} 1`,
    );

    // The worker instantiated the link: alive, with a recent heartbeat and start time.
    const [worker] = ngx.workerPids();
    const inst = (await json(await s.get("/v1/instances"))).body;
    const mineInst = inst.find((i: any) => i.pid === worker);
    expect(mineInst).toMatchObject({ alive: true, links: [link.body.linkId] });
    expect(Date.parse(mineInst.startedAt)).toBeGreaterThan(0);
    expect(mineInst.heartbeatAgeMs).toBeGreaterThanOrEqual(0);
    expect(metrics).toContain(`bpftime_instance_alive{id="${mineInst.id}",pid="${worker}"} 1`);
    // `list --json` shows the instance as the API does, start time included
    // (only the heartbeat's age moves between the two reads).
    const viaCli = cliJson(["list", "--shm", shm]);
    const { heartbeatAgeMs: _h, ...asListed } = mineInst;
    const { heartbeatAgeMs: cliAge, ...cliListed } = viaCli.instances.find(
      (i: any) => i.id === mineInst.id,
    );
    expect(cliListed).toEqual(asListed);
    expect(cliAge).toBeGreaterThanOrEqual(0);

    // A client that goes away does not disturb the server.
    await sse.cancel();
    expect((await s.get("/v1/region")).status).toBe(200);
    await ngx.stop();
  }, 60_000);
});
