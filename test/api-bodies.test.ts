// Every JSON body of the API is checked for shape before any schema or
// operation sees it: an object is expected, so an array, a string or a value
// nested 20,000 levels deep is a 400 with a JSON error naming what is wrong.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { buildExamples, cliOk, compileBpf, regionNames, repoRoot, tempDir } from "./helpers.ts";
import { createApp } from "../src/server/app.ts";

const newRegion = regionNames("bodies");

/** The fixture, compiled into this test's temp dir (removed after each test). */
function object(): string {
  const obj = join(tempDir(), "all_maps.bpf.o");
  compileBpf(join(repoRoot, "test/fixtures/corrupt/all_maps.bpf.c"), obj);
  return obj;
}

function appFor(shm: string) {
  const token = "b".repeat(32);
  const { app } = createApp({ shm, token, protectReads: false, allowedHosts: [] });
  return (method: string, path: string, body: string) =>
    app.handle(
      new Request(`http://127.0.0.1${path}`, {
        method,
        body,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      }),
    );
}

const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

describe("API bodies", () => {
  test("run, update, attach and stats bodies must be JSON objects of bounded depth", async () => {
    const shm = newRegion();
    cliOk(["load", object(), "--shm", shm]);
    const send = appFor(shm);
    // a well-formed run body runs (the checks below refuse shapes, not runs)
    const ok = await send("POST", "/v1/programs/1/run", JSON.stringify({ hex: "010203" }));
    expect(ok.status).toBe(200);
    const routes: Array<[string, string]> = [
      ["POST", "/v1/programs/1/run"],
      ["PUT", "/v1/maps/2/entries/1"],
      ["POST", "/v1/links"],
      ["POST", "/v1/region/stats"],
    ];
    const bad: Array<[string, string, RegExp]> = [
      ["[]", "an array", /must be a JSON object.*not an array/],
      [nested(20_000), "a 20,000-level array", /must be a JSON object.*not an array/],
      ['"text"', "a string", /must be a JSON object.*not a string/],
      ["42", "a number", /must be a JSON object.*not a number/],
      ["null", "null", /must be a JSON object.*not null/],
      [
        `{"value": ${nested(20_000)}}`,
        "a field nested 20,000 levels",
        /field "value" nests deeper/,
      ],
      [`{"hex": ${nested(40)}}`, "a field nested 40 levels", /field "hex" nests deeper/],
    ];
    for (const [method, path] of routes) {
      for (const [body, what, message] of bad) {
        const res = await send(method, path, body);
        const json = (await res.json()) as { error: string; message: string };
        expect({ route: `${method} ${path}`, what, status: res.status, error: json.error }).toEqual(
          {
            route: `${method} ${path}`,
            what,
            status: 400,
            error: "invalid_request",
          },
        );
        expect(json.message).toMatch(message);
        expect(json.message.split("\n")).toHaveLength(1);
      }
    }
  });
});

describe("API references", () => {
  test("ids are accepted as numbers or strings; prefix is arg's alias", async () => {
    const shm = newRegion();
    cliOk(["load", join(buildExamples(), "url_filter.bpf.o"), "--shm", shm]);
    const send = appFor(shm);
    const post = async (path: string, body: unknown, method = "POST") => {
      const r = await send(method, path, JSON.stringify(body));
      return { status: r.status, body: (await r.json()) as any };
    };
    const byNumber = await post("/v1/links", { program: 1, type: "nginx", arg: "/a" });
    expect(byNumber.status).toBe(201);
    const byString = await post("/v1/links", { program: "1", type: "nginx", prefix: "/b" });
    expect(byString.status).toBe(201);
    const byName = await post("/v1/links", { program: "url_filter", type: "nginx", arg: "/c" });
    expect(byName.status).toBe(201);
    const targets = (await (await send("GET", "/v1/targets", "")).json()) as Array<{ arg: string }>;
    expect(targets.map((t: { arg: string }) => t.arg).sort()).toEqual(["/a", "/b", "/c"]);
    const replaced = await post(`/v1/links/${byNumber.body.linkId}`, { program: 1 }, "PATCH");
    expect(replaced).toMatchObject({ status: 200, body: { newProgId: 1 } });
    const pinned = await post("/v1/pins", { kind: "map", ref: 1, name: "counts" });
    expect(pinned.status).toBe(201);
    // a program is pinned as kind "prog" (bpftool's word), and listed so
    const pinnedProg = await post("/v1/pins", { kind: "prog", ref: "url_filter", name: "filter" });
    expect(pinnedProg).toMatchObject({
      status: 201,
      body: { name: "filter", kind: "prog", id: 1 },
    });
    const pins = (await (await send("GET", "/v1/pins", "")).json()) as Array<{ kind: string }>;
    expect(pins.find((p) => p.kind === "prog")).toMatchObject({ name: "filter", id: 1 });
    // Neither arg nor prefix, or both disagreeing: a 400 naming the field.
    const missing = await post("/v1/links", { program: 1, type: "nginx" });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: "invalid_request" });
    expect(missing.body.message).toMatch(/^invalid body\/arg: missing /);
    const both = await post("/v1/links", { program: 1, type: "nginx", arg: "/x", prefix: "/y" });
    expect(both.status).toBe(400);
    expect(both.body.message).toBe(
      "invalid body: give the target argument as arg or prefix, not both; see /docs",
    );
  });
});

describe("API document", () => {
  test("the OpenAPI document has every route, its responses and every request body's schema", async () => {
    // over a region, and over the kernel (serve --kernel)
    for (const kernel of [false, true]) await documentCovers(kernel);
    // the JSON bodies the issue found undocumented
    const doc = await documentOf(false);
    for (const [path, method] of [
      ["/v1/links", "post"],
      ["/v1/links/{id}", "patch"],
      ["/v1/maps/{id}/entries/{key}", "put"],
      ["/v1/region/stats", "post"],
    ] as const)
      expect(doc.paths[path]![method].requestBody.content["application/json"].schema.type).toBe(
        "object",
      );
    // a list's fields whose meaning the name does not tell are described
    const links = doc.paths["/v1/links"]!.get.responses["200"].content["application/json"].schema;
    expect(links.items.properties.pids.description).toMatch(/process/);
    expect(links.items.properties.errors.description).toMatch(/process/);
  });

  async function documentOf(kernel: boolean) {
    const { app } = createApp({
      shm: newRegion(),
      token: "b".repeat(32),
      protectReads: false,
      allowedHosts: [],
      kernel,
    });
    const doc = (await (await app.handle(new Request("http://127.0.0.1/docs/json"))).json()) as {
      paths: Record<string, Record<string, any>>;
    };
    return Object.assign(doc, { routes: app.routes });
  }

  async function documentCovers(kernel: boolean) {
    const doc = await documentOf(kernel);
    const routes = doc.routes.filter(
      (r) => !(r.hooks as any)?.detail?.hide && !r.path.startsWith("/docs") && r.method !== "HEAD",
    );
    expect(routes.length).toBeGreaterThan(kernel ? 12 : 25);
    for (const r of routes) {
      const where = `${kernel ? "kernel " : ""}${r.method} ${r.path}`;
      const op = doc.paths[r.path.replace(/:([^/]+)/g, "{$1}")]?.[r.method.toLowerCase()];
      expect({ where, documented: op !== undefined }).toEqual({ where, documented: true });
      // a success answer with a described content (a JSON schema, an event stream, text)
      const ok = Object.entries(op.responses ?? {}).filter(([s]) => /^2/.test(s));
      const content = ok.flatMap(([, v]: [string, any]) => Object.entries(v.content ?? {}));
      expect({ where, successContent: content.length > 0 }).toEqual({
        where,
        successContent: true,
      });
      for (const [type, c] of content as Array<[string, any]>)
        if (type === "application/json")
          expect({ where, schema: typeof c.schema?.type }).toEqual({ where, schema: "string" });
      // a route whose handler validates a body documents that body's fields
      const body = (r.hooks as any)?.body as { properties?: Record<string, unknown> } | undefined;
      if (!body) continue;
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      expect({ where, fields: Object.keys(schema?.properties ?? {}).sort() }).toEqual({
        where,
        fields: Object.keys(body.properties ?? {}).sort(),
      });
    }
  }

  test("over bpffs pins (the other provider) links are uprobes or uretprobes only, and say so", async () => {
    const { app } = createApp({
      shm: newRegion(),
      token: "b".repeat(32),
      protectReads: false,
      allowedHosts: [],
      kernel: true,
    });
    const res = await app.handle(
      new Request("http://127.0.0.1/v1/links", {
        method: "POST",
        body: JSON.stringify({ program: 1, type: "nginx", arg: "/a" }),
        headers: { authorization: `Bearer ${"b".repeat(32)}`, "content-type": "application/json" },
      }),
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(
      "invalid body/type: type must be uprobe or uretprobe; see /docs",
    );
    const doc = await documentOf(true);
    const body = doc.paths["/v1/links"]!.post.requestBody.content["application/json"].schema;
    expect(body.properties.type.enum).toEqual(["uprobe", "uretprobe"]);
  });

  test("a body with several bad fields is one 400 naming each of them", async () => {
    const shm = newRegion();
    cliOk(["load", join(buildExamples(), "url_filter.bpf.o"), "--shm", shm]);
    const send = appFor(shm);
    const res = await send(
      "POST",
      "/v1/links",
      JSON.stringify({ program: [1], type: 3, cookie: -1 }),
    );
    const body = (await res.json()) as { error: string; message: string };
    expect({ status: res.status, error: body.error }).toEqual({
      status: 400,
      error: "invalid_request",
    });
    expect(body.message.split("\n")).toHaveLength(1);
    for (const field of ["program", "type", "cookie"])
      expect(body.message).toContain(`invalid body/${field}: `);
    expect(body.message).toContain("cookie must be a non-negative integer");
    expect(body.message).toContain("program must be an id");
    // nothing was linked
    const links = (await (await send("GET", "/v1/links", "")).json()) as unknown[];
    expect(links).toEqual([]);
  });
});
