// The admin API's HTTP layer in-process, fast (no CLI child, no nginx, no
// compiler): a real listener (startServer) and fetch for the Host check, the
// bearer token, routing and the JSON error mapping; the helpers behind them
// (token file, --listen, body bounds, validation messages) called directly.
// Expectations come from HTTP's own semantics (RFC 9110 statuses, RFC 6750
// bearer challenge), the documented limits (64 KiB JSON, 16 MiB objects,
// 32 levels) and the doc comments of src/server, not from our output.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { regionNames, tempDir } from "./helpers.ts";
import { Region } from "../src/native/index.ts";
import { BpftimeError, type ErrorCode } from "../src/errors.ts";
import { startServer, type RunningServer } from "../src/server/index.ts";
import { createApp } from "../src/server/app.ts";
import { HttpError, statusOf, toApiError } from "../src/server/errors.ts";
import { defaultTokenFile, loadToken, tokenMatches } from "../src/server/token.ts";
import { hostPort, isLoopback, parseListen } from "../src/server/listen.ts";
import {
  checkJsonShape,
  MAX_JSON_DEPTH,
  MAX_OBJECT_BYTES,
  readBounded,
} from "../src/server/body.ts";
import { validationMessage } from "../src/server/validation.ts";

const newRegion = regionNames("http");
const running: RunningServer[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

/** `bpftime serve` in this process on a free loopback port, on `shm` (need not exist). */
async function serve(shm = newRegion(), listen = "127.0.0.1:0"): Promise<RunningServer> {
  const s = await startServer({ listen, shm, tokenFile: join(tempDir(), "token") });
  running.push(s);
  return s;
}

/** A region that exists (empty), for routes that need one. */
function emptyRegion(): string {
  const shm = newRegion();
  Region.create(shm).close();
  return shm;
}

interface ErrorJson {
  error: string;
  message: string;
}

/** Status, error code and message of an error answer; fails on a non-JSON body. */
async function errorOf(res: Response): Promise<{ status: number } & ErrorJson> {
  expect(res.headers.get("content-type") ?? "").toContain("application/json");
  const j = (await res.json()) as ErrorJson;
  expect(j.message.split("\n")).toHaveLength(1);
  return { status: res.status, error: j.error, message: j.message };
}

const port = (s: RunningServer) => Number(new URL(s.url).port);
const json = (body: string, token?: string): RequestInit => ({
  method: "POST",
  body,
  headers: {
    "content-type": "application/json",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  },
});

describe("Host check (DNS rebinding)", () => {
  test("every loopback name of this server's port is accepted, in any case; others are 403", async () => {
    const s = await serve();
    const p = port(s);
    for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `LocalHost:${p}`, `[::1]:${p}`]) {
      // the region does not exist: past the guard, a read is the operation's 404
      const e = await errorOf(await fetch(`${s.url}/v1/region`, { headers: { host } }));
      expect({ host, status: e.status, error: e.error }).toEqual({
        host,
        status: 404,
        error: "not_found",
      });
    }
    for (const host of [`evil.example:${p}`, `127.0.0.1:${p + 1}`, `localhost`, `127.0.0.2:${p}`]) {
      const e = await errorOf(await fetch(`${s.url}/v1/region`, { headers: { host } }));
      expect({ host, status: e.status, error: e.error }).toEqual({
        host,
        status: 403,
        error: "forbidden_host",
      });
      expect(e.message).toBe(
        `Host "${host.toLowerCase()}" is not this server's loopback address; use http://127.0.0.1:${p}`,
      );
    }
  });

  test("a server listening on localhost names itself so", async () => {
    const s = await serve(newRegion(), "localhost:0");
    expect(s.url).toBe(`http://localhost:${port(s)}`);
    expect(s.loopback).toBe(true);
    const e = await errorOf(await fetch(`${s.url}/v1/region`, { headers: { host: "a.example" } }));
    expect(e.message).toContain(`use http://localhost:${port(s)}`);
    for (const host of [`127.0.0.1:${port(s)}`, `[::1]:${port(s)}`, `localhost:${port(s)}`])
      expect({
        host,
        error: (await errorOf(await fetch(`${s.url}/v1/region`, { headers: { host } }))).error,
      }).toEqual({
        host,
        error: "not_found",
      });
  });

  test("off loopback any Host is accepted (the token guards every route instead)", async () => {
    const shm = emptyRegion();
    const token = "o".repeat(24);
    const { app } = createApp({ shm, token, protectReads: true, allowedHosts: [] });
    const get = (path: string, headers: Record<string, string> = {}) =>
      app.handle(new Request(`http://10.1.2.3:8787${path}`, { headers }));
    const auth = { authorization: `Bearer ${token}` };
    expect((await get("/v1/region", { ...auth, host: "anything.example" })).status).toBe(200);
    // reads need the token here
    const e = await errorOf(await get("/v1/region"));
    expect([e.status, e.error]).toEqual([401, "unauthorized"]);
    // the docs stay open
    expect((await get("/docs/json")).status).toBe(200);
    const page = await get("/docs");
    expect(page.status).toBe(200);
    // Swagger UI comes from this server, not a CDN: the page works offline
    const html = await page.text();
    for (const asset of ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"]) {
      expect(html).toContain(asset);
      expect((await get(asset)).status).toBe(200);
    }
  });
});

describe("bearer token", () => {
  test("mutating routes and the event stream need it; loopback reads and /docs do not", async () => {
    const s = await serve(emptyRegion());
    const t = s.token.value;
    expect((await fetch(`${s.url}/v1/region`)).status).toBe(200);
    expect((await fetch(`${s.url}/v1/programs`)).status).toBe(200);
    expect((await fetch(`${s.url}/docs/json`)).status).toBe(200);
    const body = JSON.stringify({ enabled: true });
    const missing = await fetch(`${s.url}/v1/region/stats`, json(body));
    // RFC 6750 §3: a 401 carries the Bearer challenge
    expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="bpftime"');
    expect(await errorOf(missing)).toEqual({
      status: 401,
      error: "unauthorized",
      message: "this route needs Authorization: Bearer <token> (the token file of `bpftime serve`)",
    });
    for (const wrong of [t.slice(0, -1) + (t.endsWith("x") ? "y" : "x"), t + "x", "short"]) {
      const e = await errorOf(await fetch(`${s.url}/v1/region/stats`, json(body, wrong)));
      expect({ wrong, ...e }).toEqual({
        wrong,
        status: 401,
        error: "unauthorized",
        message: "wrong bearer token",
      });
    }
    // another scheme is no bearer token
    const basic = await fetch(`${s.url}/v1/region/stats`, {
      ...json(body),
      headers: { "content-type": "application/json", authorization: `Basic ${t}` },
    });
    expect((await errorOf(basic)).message).toStartWith("this route needs");
    // the right token, in the header (surrounding blanks ignored) or as ?access_token
    const ok = await fetch(`${s.url}/v1/region/stats`, {
      ...json(body),
      headers: { "content-type": "application/json", authorization: `Bearer  ${t} ` },
    });
    expect([ok.status, await ok.json()]).toEqual([200, { statsEnabled: true }]);
    const q = await fetch(`${s.url}/v1/region/stats?access_token=${t}`, json('{"enabled":false}'));
    expect([q.status, await q.json()]).toEqual([200, { statsEnabled: false }]);
    // every method that changes something, and GET on the event stream
    for (const [method, path] of [
      ["DELETE", "/v1/programs/1"],
      ["PUT", "/v1/maps/1/entries/0"],
      ["PATCH", "/v1/links/1"],
      ["POST", "/v1/links"],
      ["GET", "/v1/events/1"],
    ] as const) {
      const e = await errorOf(await fetch(`${s.url}${path}`, { method }));
      expect({ method, path, status: e.status }).toEqual({ method, path, status: 401 });
    }
  });

  test("64-bit counters are decimal strings (the API document's rule), sizes numbers", async () => {
    const s = await serve(emptyRegion());
    const region = (await (await fetch(`${s.url}/v1/region`)).json()) as Record<string, unknown>;
    expect(region.generation).toBe("0");
    expect(region.createdNs).toMatch(/^[1-9][0-9]{15,19}$/);
    expect(typeof region.size).toBe("number");
    const snap = (await (await fetch(`${s.url}/v1/snapshot`)).json()) as Record<string, unknown>;
    expect(snap).toMatchObject({ generation: "0", programs: [], maps: [], links: [] });
  });

  test("tokenMatches: equal strings only, none for nothing", () => {
    expect(tokenMatches("a".repeat(20), "a".repeat(20))).toBe(true);
    expect(tokenMatches("a".repeat(20), "a".repeat(19) + "b")).toBe(false);
    expect(tokenMatches("a".repeat(19), "a".repeat(20))).toBe(false);
    expect(tokenMatches(undefined, "a".repeat(20))).toBe(false);
    expect(tokenMatches("", "")).toBe(false);
  });
});

describe("token file", () => {
  test("created once 0600 in a 0700 directory, then read back", () => {
    const path = join(tempDir(), "conf", "bpftime", "token");
    const made = loadToken(path, true);
    expect(made.created).toBe(true);
    // 32 random bytes as base64url: 43 characters
    expect(made.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, "..")).mode & 0o777).toBe(0o700);
    const again = loadToken(path, true);
    expect(again).toEqual({ path, value: made.value, created: false });
    expect(loadToken(path, false).value).toBe(made.value);
  });

  test("refusals: missing off loopback, readable by others, too short, not a file", () => {
    const dir = tempDir();
    const refused = (path: string, create: boolean): [string, string] => {
      try {
        loadToken(path, create);
      } catch (e) {
        expect(e).toBeInstanceOf(BpftimeError);
        return [(e as BpftimeError).code, (e as Error).message];
      }
      throw new Error(`loadToken(${path}) did not refuse`);
    };
    const missing = join(dir, "missing");
    expect(refused(missing, false)).toEqual([
      "permission",
      `no token file ${missing}: start \`bpftime serve\` on a loopback address once to create it, or write a secret of at least 16 characters there (mode 0600)`,
    ]);
    const open = join(dir, "open");
    writeFileSync(open, "s".repeat(20));
    chmodSync(open, 0o640);
    expect(refused(open, true)).toEqual([
      "permission",
      `token file ${open} is readable by others (mode 640): chmod 600 ${open}`,
    ]);
    chmodSync(open, 0o604);
    expect(refused(open, true)[0]).toBe("permission");
    // 16 characters is the minimum (surrounding whitespace is not the secret)
    const short = join(dir, "short");
    writeFileSync(short, ` ${"s".repeat(15)}\n`, { mode: 0o600 });
    expect(refused(short, true)).toEqual([
      "invalid_argument",
      `token file ${short} holds no usable token (at least 16 characters): delete it to have a new one made`,
    ]);
    writeFileSync(short, ` ${"s".repeat(16)}\n`, { mode: 0o600 });
    expect(loadToken(short, false).value).toBe("s".repeat(16));
    const sub = join(dir, "sub");
    mkdirSync(sub, { mode: 0o700 });
    expect(refused(sub, true)).toEqual(["invalid_argument", `token file ${sub} is not a file`]);
  });

  test("the default path is $XDG_CONFIG_HOME/bpftime/token, else ~/.config", () => {
    const saved = process.env.XDG_CONFIG_HOME;
    try {
      process.env.XDG_CONFIG_HOME = "/x/conf";
      expect(defaultTokenFile()).toBe("/x/conf/bpftime/token");
      process.env.XDG_CONFIG_HOME = "";
      expect(defaultTokenFile()).toBe(join(require("node:os").homedir(), ".config/bpftime/token"));
    } finally {
      if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved;
    }
  });
});

describe("--listen", () => {
  test("HOST:PORT, [IPv6]:PORT, PORT alone; defaults 127.0.0.1:8787", () => {
    expect(parseListen(undefined)).toEqual({ host: "127.0.0.1", port: 8787 });
    expect(parseListen("")).toEqual({ host: "127.0.0.1", port: 8787 });
    expect(parseListen("9000")).toEqual({ host: "127.0.0.1", port: 9000 });
    expect(parseListen(":9000")).toEqual({ host: "127.0.0.1", port: 9000 });
    expect(parseListen("0.0.0.0:80")).toEqual({ host: "0.0.0.0", port: 80 });
    expect(parseListen("[::1]:65535")).toEqual({ host: "::1", port: 65535 });
    expect(parseListen("[fe80::1:2]:1")).toEqual({ host: "fe80::1:2", port: 1 });
    expect(parseListen("my-host.example:8080")).toEqual({ host: "my-host.example", port: 8080 });
  });

  test("bad values are usage errors naming the value", () => {
    const usage = (v: string) => {
      try {
        parseListen(v);
      } catch (e) {
        expect((e as BpftimeError).code).toBe("usage");
        return (e as Error).message;
      }
      throw new Error(`parseListen(${v}) accepted`);
    };
    expect(usage("65536")).toBe("serve: port 65536 is out of range");
    expect(usage("host:99999")).toBe("serve: port 99999 is out of range");
    expect(usage("[1.2.3.4]:80")).toBe('serve: "1.2.3.4" is not an IPv6 address');
    for (const v of ["host", "host:", "::1:80", "host:port", "[::1]", "a:1:2", " 80"])
      expect(usage(v)).toBe(
        `serve: bad --listen "${v}": use HOST:PORT, [IPV6]:PORT or PORT (e.g. 127.0.0.1:8787)`,
      );
  });

  test("loopback addresses: 127.0.0.0/8, ::1 (any spelling), localhost, v4-mapped 127/8", () => {
    for (const h of [
      "127.0.0.1",
      "127.255.0.9",
      "localhost",
      "LOCALHOST",
      "::1",
      "0:0:0:0:0:0:0:1",
      "::ffff:127.0.0.1",
      "::FFFF:127.1.2.3",
    ])
      expect({ h, loopback: isLoopback(h) }).toEqual({ h, loopback: true });
    for (const h of [
      "0.0.0.0",
      "10.0.0.1",
      "128.0.0.1",
      "1.127.0.0",
      "::",
      "::2",
      "::ffff:10.0.0.1",
      "localhost.example",
      "127.example",
    ])
      expect({ h, loopback: isLoopback(h) }).toEqual({ h, loopback: false });
  });

  test("hostPort brackets IPv6 addresses only", () => {
    expect(hostPort("::1", 80)).toBe("[::1]:80");
    expect(hostPort("127.0.0.1", 80)).toBe("127.0.0.1:80");
    expect(hostPort("localhost", 1)).toBe("localhost:1");
  });

  test("a port in use is refused with one line; stop() frees it", async () => {
    const s = await serve();
    const taken = `127.0.0.1:${port(s)}`;
    let err: unknown;
    try {
      running.push(await startServer({ listen: taken, tokenFile: join(tempDir(), "token") }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpftimeError);
    expect((err as BpftimeError).code).toBe("exists");
    expect((err as Error).message).toBe(`cannot listen on ${taken}: the address is in use`);
    await running.pop()!.stop();
    const again = await startServer({ listen: taken, tokenFile: join(tempDir(), "token") });
    running.push(again);
    expect(again.url).toBe(`http://${taken}`);
  });
});

describe("the API document", () => {
  test("states the token rule, the error shape, the counters' encoding and the other provider", async () => {
    const s = await serve();
    const doc = (await (await fetch(`${s.url}/docs/json`)).json()) as {
      info: { description: string };
    };
    const d = doc.info.description;
    for (const point of [
      "need `Authorization: Bearer <token>`",
      "Errors are `{ error, message }`",
      "always decimal strings",
      "`bpftime serve --kernel` serves the kernel provider on the same paths",
    ])
      expect(d).toContain(point);
  });
});

describe("routing and the error mapping", () => {
  test("unknown routes are 404; a known path with another method is 405 with Allow", async () => {
    const s = await serve();
    const t = { authorization: `Bearer ${s.token.value}` };
    const nf = await errorOf(await fetch(`${s.url}/v1/nothing`));
    expect(nf).toEqual({
      status: 404,
      error: "route_not_found",
      message: "no such route; see /docs",
    });
    // /v1/programs/:id has GET and DELETE (and HEAD, which Allow does not list)
    const res = await fetch(`${s.url}/v1/programs/3`, { method: "PUT", headers: t });
    expect(res.headers.get("allow")).toBe("DELETE, GET");
    expect(await errorOf(res)).toEqual({
      status: 405,
      error: "method_not_allowed",
      message: "PUT is not allowed here; use DELETE or GET",
    });
    const one = await fetch(`${s.url}/v1/region/stats`, { method: "DELETE", headers: t });
    expect(one.headers.get("allow")).toBe("POST");
  });

  test("an operation's refusal keeps its code and maps to its 4xx", async () => {
    const shm = newRegion();
    const s = await serve(shm);
    // the region does not exist: not_found → 404, one line naming it
    const e = await errorOf(await fetch(`${s.url}/v1/programs`));
    expect([e.status, e.error]).toEqual([404, "not_found"]);
    expect(e.message).toContain(shm);
  });

  test("statusOf: client faults are 4xx with their RFC 9110 meaning, server faults 500", () => {
    const rfc: Record<string, number> = {
      invalid_request: 400,
      usage: 400,
      unauthorized: 401,
      forbidden_host: 403,
      permission: 403,
      not_found: 404,
      route_not_found: 404,
      method_not_allowed: 405,
      exists: 409,
      too_large: 413,
      unsupported_media_type: 415,
      io: 500,
      internal: 500,
    };
    for (const [code, status] of Object.entries(rfc))
      expect({ code, status: statusOf[code as keyof typeof statusOf] }).toEqual({ code, status });
    for (const [code, status] of Object.entries(statusOf)) {
      const server = code === "io" || code === "internal";
      expect({ code, fault: Math.floor(status / 100) }).toEqual({ code, fault: server ? 5 : 4 });
    }
  });

  test("toApiError: our errors keep code and first line; anything else is 500 internal", () => {
    for (const code of Object.keys(statusOf).filter((c) => !(c in HTTP_ONLY)) as ErrorCode[]) {
      const r = toApiError(new BpftimeError(code, `what\nsecond line`));
      expect(r).toEqual({ status: statusOf[code], body: { error: code, message: "what" } });
    }
    expect(toApiError(new HttpError("too_large", "big"))).toEqual({
      status: 413,
      body: { error: "too_large", message: "big" },
    });
    // wrapped by a body parser (Elysia's ParseError keeps it as cause)
    const wrapped = new Error("parse failed", { cause: new HttpError("invalid_request", "bad") });
    expect(toApiError(wrapped)).toEqual({
      status: 400,
      body: { error: "invalid_request", message: "bad" },
    });
    const plainCause = new Error("outer", { cause: new Error("inner") });
    expect(toApiError(plainCause).body).toEqual({
      error: "internal",
      message: "internal error: outer",
    });
    expect(toApiError(new TypeError("x is undefined\n    at f (a.ts:1)"))).toEqual({
      status: 500,
      body: { error: "internal", message: "internal error: x is undefined" },
    });
    expect(toApiError("a string").body.message).toBe("internal error: a string");
    expect(toApiError(null).body.message).toBe("internal error: null");
    // a message is capped (one line, not a dump)
    const long = toApiError(new BpftimeError("io", "y".repeat(5000))).body.message;
    expect(long).toBe("y".repeat(2000));
  });
});

const HTTP_ONLY = {
  unauthorized: 1,
  forbidden_host: 1,
  too_large: 1,
  invalid_request: 1,
  route_not_found: 1,
  method_not_allowed: 1,
  unsupported_media_type: 1,
};

describe("bodies", () => {
  test("JSON bodies: up to 64 KiB, valid JSON, an object; empty is {}", async () => {
    const s = await serve(emptyRegion());
    const t = s.token.value;
    const post = (body: string) => fetch(`${s.url}/v1/region/stats`, json(body, t));
    // exactly 64 KiB passes the bound (then the schema decides), one byte more is 413
    const pad = (n: number) => `{"enabled":true${" ".repeat(n - 16)}}`;
    expect(pad(64 * 1024)).toHaveLength(64 * 1024);
    const at = await post(pad(64 * 1024));
    expect([at.status, await at.json()]).toEqual([200, { statsEnabled: true }]);
    expect(await errorOf(await post(pad(64 * 1024 + 1)))).toEqual({
      status: 413,
      error: "too_large",
      message: "the JSON body is larger than the limit of 64 KiB",
    });
    // a body sent without Content-Length (chunked) is bounded while read
    const chunked = await fetch(`${s.url}/v1/region/stats`, {
      method: "POST",
      headers: { authorization: `Bearer ${t}`, "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 5; i++) c.enqueue(new TextEncoder().encode(" ".repeat(16 * 1024)));
          c.close();
        },
      }),
    });
    expect((await errorOf(chunked)).error).toBe("too_large");
    const bad = await errorOf(await post("{enabled: true}"));
    expect([bad.status, bad.error]).toEqual([400, "invalid_request"]);
    expect(bad.message).toStartWith("the body is not valid JSON: ");
    // empty is {}: the schema then names the missing field
    const empty = await errorOf(await post("  "));
    expect([empty.status, empty.error]).toEqual([400, "invalid_request"]);
    expect(empty.message).toMatch(/^invalid body\/enabled: .*; see \/docs$/);
  });

  test("JSON shape: an object, each field nested at most 31 levels below it", () => {
    const nest = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
    const shapeError = (v: unknown) => {
      try {
        checkJsonShape(v);
      } catch (e) {
        expect((e as HttpError).code).toBe("invalid_request");
        return (e as Error).message;
      }
      return null;
    };
    expect(MAX_JSON_DEPTH).toBe(32);
    // the body is level 1: a field may hold 31 more levels, 32 is too deep
    const ok = { a: 1, f: JSON.parse(nest(31)) };
    expect(checkJsonShape(ok)).toBe(ok);
    expect(shapeError({ a: 1, f: JSON.parse(nest(32)) })).toBe(
      'field "f" nests deeper than 32 levels: flatten it',
    );
    const deepObject = JSON.parse('{"x":'.repeat(32) + "1" + "}".repeat(32));
    expect(shapeError({ g: deepObject })).toContain('field "g"');
    expect(shapeError({ g: JSON.parse('{"x":'.repeat(31) + "1" + "}".repeat(31)) })).toBeNull();
    // a deep branch after a shallow one is still seen
    expect(shapeError({ h: [1, [2], JSON.parse(nest(31))] })).toContain('field "h"');
    for (const [v, kind] of [
      [[], "an array"],
      ["s", "a string"],
      [3, "a number"],
      [true, "a boolean"],
      [null, "null"],
    ] as const)
      expect(shapeError(v)).toBe(
        `the body must be a JSON object with the route's fields, not ${kind}`,
      );
  });

  test("a declared Content-Length over the limit is refused before the body is read", async () => {
    const req = (body: string, length: number) =>
      new Request("http://127.0.0.1/", {
        method: "POST",
        body,
        headers: { "content-length": String(length) },
      });
    // the body itself is small: only the declared length can refuse it
    await expect(readBounded(req("abc", 11), 10, "the body")).rejects.toMatchObject({
      code: "too_large",
    });
    expect(await readBounded(req("0123456789", 10), 10, "the body")).toHaveLength(10);
  });

  test("object uploads: octet-stream or multipart; other types are 415; 16 MiB bound", async () => {
    const s = await serve();
    const t = { authorization: `Bearer ${s.token.value}` };
    const upload = (body: RequestInit["body"], headers: Record<string, string> = {}) =>
      fetch(`${s.url}/v1/programs`, { method: "POST", body, headers: { ...t, ...headers } });
    for (const type of [
      "application/json",
      "text/plain; charset=utf-8",
      "Text/Html",
      'text/plain; note="multipart/form-data"',
    ]) {
      const e = await errorOf(await upload("{}", { "content-type": type }));
      expect({ type, ...e }).toEqual({
        type,
        status: 415,
        error: "unsupported_media_type",
        message: `send the object as application/octet-stream or multipart/form-data, not ${type.split(";")[0]}`,
      });
    }
    // only the media type counts, not a parameter that mentions another one
    const param = await errorOf(
      await upload("{}", { "content-type": 'application/octet-stream; note="text/plain"' }),
    );
    expect([param.status, param.error]).toEqual([400, "bad_object"]);
    const over = await upload(new Uint8Array(MAX_OBJECT_BYTES + 1), {
      "content-type": "application/octet-stream",
    });
    expect(await errorOf(over)).toEqual({
      status: 413,
      error: "too_large",
      message: "the object is larger than the limit of 16 MiB",
    });
    // a maximal object fits in a multipart body too (the bound leaves room for its framing)
    const maximal = new FormData();
    maximal.append("file", new Blob([new Uint8Array(MAX_OBJECT_BYTES)]), "big.o");
    const big = await errorOf(await upload(maximal));
    expect([big.status, big.error]).toEqual([400, "bad_object"]);
    const tooBig = new FormData();
    tooBig.append("file", new Blob([new Uint8Array(MAX_OBJECT_BYTES + 1)]), "big.o");
    expect((await errorOf(await upload(tooBig))).error).toBe("too_large");
    // a multipart body without a file part
    const noFile = new FormData();
    noFile.append("note", "text only");
    expect(await errorOf(await upload(noFile))).toEqual({
      status: 400,
      error: "invalid_request",
      message: 'the multipart body has no file part: send the object as the "file" field',
    });
    // two files, neither named "file": which one is meant?
    const two = new FormData();
    two.append("a", new Blob([new Uint8Array(8)]), "a.o");
    two.append("b", new Blob([new Uint8Array(8)]), "b.o");
    expect((await errorOf(await upload(two))).message).toContain("has no file part");
    // one file part under any name is the object; it reaches the ELF reader
    for (const [field, form] of [
      ["other", () => new FormData()],
      ["file", () => new FormData()],
    ] as const) {
      const f = form();
      f.append(field, new Blob([new TextEncoder().encode("not an ELF object")]), "x.o");
      if (field === "file") f.append("extra", new Blob([new Uint8Array(8)]), "y.o");
      const e = await errorOf(await upload(f));
      expect({ field, status: e.status, error: e.error }).toEqual({
        field,
        status: 400,
        error: "bad_object",
      });
    }
    const raw = await errorOf(
      await upload("not an ELF object", { "content-type": "application/octet-stream" }),
    );
    expect([raw.status, raw.error]).toEqual([400, "bad_object"]);
  });
});

describe("validation messages", () => {
  test("every failing field once, its schema's own error first, then TypeBox's text", () => {
    expect(
      validationMessage({
        type: "body",
        all: [
          { path: "/engine", schema: { error: "engine must be interp or jit" }, summary: "s" },
          { path: "/engine", summary: "union branch" },
          { path: "/repeat", summary: "Expected integer", message: "m" },
          { path: "/x", message: "Expected string" },
          { path: "/y" },
        ],
      }),
    ).toBe(
      "invalid body/engine: engine must be interp or jit; invalid body/repeat: Expected integer; " +
        "invalid body/x: Expected string; invalid body/y: does not match the schema; see /docs",
    );
  });

  test("where: body, query and params keep their prefix; anything else its path or 'request'", () => {
    expect(validationMessage({ type: "query", all: [{ path: "/limit", summary: "big" }] })).toBe(
      "invalid query/limit: big; see /docs",
    );
    expect(validationMessage({ type: "params", all: [{ path: "/id", summary: "n" }] })).toBe(
      "invalid params/id: n; see /docs",
    );
    expect(validationMessage({ type: "property", all: [{ path: "/limit", summary: "n" }] })).toBe(
      "invalid limit: n; see /docs",
    );
    expect(validationMessage({ all: [{ summary: "n" }] })).toBe("invalid request: n; see /docs");
  });

  test("a single failure: valueError's path, then the custom error before TypeBox's", () => {
    expect(
      validationMessage({
        type: "body",
        valueError: { path: "/ref", message: "Expected union value" },
        customError: "map must be an id",
      }),
    ).toBe("invalid body/ref: map must be an id; see /docs");
    expect(
      validationMessage({ type: "body", valueError: { path: "/ref", message: "Expected x" } }),
    ).toBe("invalid body/ref: Expected x; see /docs");
    // with several failures, one custom error cannot say which field it is about
    expect(
      validationMessage({
        type: "body",
        customError: "custom",
        all: [
          { path: "/a", summary: "sa" },
          { path: "/b", summary: "sb" },
        ],
      }),
    ).toBe("invalid body/a: sa; invalid body/b: sb; see /docs");
    // an empty list counts as none: the value error is reported
    expect(
      validationMessage({ type: "query", all: [], valueError: { path: "/q", message: "mq" } }),
    ).toBe("invalid query/q: mq; see /docs");
  });
});
