// The web console (`bpftime serve`, page at /) in a real browser: Debian's
// chromium, headless, driven by playwright-core. One browser for the file; each
// test gets its own region, server and page. What the page shows and does is
// checked against the API and the CLI, never against the page itself.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import {
  bpftimeBin,
  buildExamples,
  cli,
  cliEntry,
  cliOk,
  compileBpf,
  freePort,
  regionNames,
  repoRoot,
  run,
  skipReason,
  startProcess,
  tempDir,
  compileNative,
} from "./helpers.ts";

const examples = buildExamples();
/** An example object built by buildExamples(). */
const example = (name: string) => join(examples, `${name}.bpf.o`);
const urlFilter = example("url_filter");
const newRegion = regionNames("console");

// Independent probe: the browser binary, not the console.
const chromiumPath = Bun.which("chromium");
const noBrowser = skipReason(
  chromiumPath ? undefined : "no chromium on PATH (apt-get install chromium)",
  "web console browser tests",
);

interface Served {
  shm: string;
  url: string;
  token: string;
  /** The API with the token, parsed. */
  api(path: string, init?: RequestInit): Promise<any>;
}

/** A fresh region with `objects` loaded, and `bpftime serve` on a free loopback port. */
async function serve(...objects: string[]): Promise<Served> {
  const shm = newRegion();
  for (const o of objects) cliOk(["load", o, "--shm", shm]);
  const tokenFile = join(tempDir("console"), "token");
  const listen = `127.0.0.1:${await freePort()}`;
  const proc = startProcess([
    process.execPath,
    cliEntry,
    ...["serve", "--listen", listen, "--shm", shm, "--token-file", tokenFile],
  ]);
  await proc.waitFor("bearer token", 30_000);
  const token = readFileSync(tokenFile, "utf8").trim();
  const url = `http://${listen}`;
  const api = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    const res = await fetch(url + path, { ...init, headers });
    return res.headers.get("content-type")?.includes("json") ? res.json() : res.text();
  };
  return { shm, url, token, api };
}

let browser: Browser | undefined;
beforeAll(async () => {
  if (!noBrowser)
    browser = await chromium.launch({
      executablePath: chromiumPath!,
      args: ["--no-sandbox"], // tests run as root
    });
});
afterAll(async () => {
  await browser?.close();
});

interface Opened {
  page: Page;
  /** Console messages of type error or warning, and uncaught exceptions. */
  problems: string[];
  /** Every URL the page asked for. */
  requests: string[];
}

async function open(s: Served, viewport = { width: 1280, height: 900 }): Promise<Opened> {
  const context = await browser!.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`exception: ${e.message}`));
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(s.url + "/");
  await page.getByText(`Region ${s.shm}:`).waitFor();
  return { page, problems, requests };
}

async function useToken(page: Page, token: string): Promise<void> {
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Use token" }).click();
  await page.getByText("token set: changes allowed").waitFor();
}

/** The message line once it says `text` (the outcome of an action). */
async function outcome(page: Page, text: string | RegExp): Promise<string> {
  const message = page.locator("#message");
  await message.filter({ hasText: text }).waitFor({ timeout: 15_000 });
  return (await message.textContent()) ?? "";
}

/** The row of a table in #container whose first cell is `first`. */
const rowOf = (page: Page, container: string, first: string) =>
  page
    .locator(`#${container} tbody tr`)
    .filter({ has: page.locator(`td:first-child`, { hasText: new RegExp(`^${first}$`) }) });

test("the console's browser code type-checks with the DOM's types (tsc --noEmit -p src/server/console)", () => {
  const r = run(
    [join(repoRoot, "node_modules", ".bin", "tsc"), "--noEmit", "-p", "src/server/console"],
    {
      cwd: repoRoot,
    },
  );
  expect(r.stdout + r.stderr).toBe("");
  expect(r.code).toBe(0);
}, 120_000);

test("GET /v1/maps/:id/histograms reads a map as `map dump --hist --json` does", async () => {
  const obj = join(tempDir("console-hist"), "hist.bpf.o");
  compileBpf(join(import.meta.dir, "fixtures", "hist", "hist.bpf.c"), obj);
  const s = await serve(obj);
  cliOk(["map", "update", "hists", "7", '{"slots":[1,0,4,2,0,0,0,0]}', "--shm", s.shm]);
  cliOk(["map", "update", "buckets", "0", "3", "--shm", s.shm]);
  cliOk(["map", "update", "buckets", "2", "6", "--shm", s.shm]);
  const dump = (m: string) =>
    JSON.parse(cliOk(["map", "dump", m, "--hist", "--json", "--shm", s.shm]));
  // the CLI prints the API's body ({histograms}), from the same function
  expect(await s.api("/v1/maps/hists/histograms")).toEqual(dump("hists"));
  expect(await s.api("/v1/maps/buckets/histograms?keyed=true")).toEqual(dump("buckets"));
  // Values that are not histogram-shaped: null, not an error.
  expect(await s.api("/v1/maps/buckets/histograms")).toEqual({ histograms: null });
  // A key past the last log2 bucket: refused with the CLI's message.
  cliOk(["map", "update", "buckets", "200", "1", "--shm", s.shm]);
  const past = await s.api("/v1/maps/buckets/histograms?keyed=true");
  expect(past.error).toBe("invalid_argument");
  const cliRefusal = cli(["map", "dump", "buckets", "--hist", "--shm", s.shm]);
  expect(cliRefusal.code).not.toBe(0);
  expect(cliRefusal.stderr).toContain(past.message);
}, 60_000);

test("dist/bpftime, copied alone into an empty directory, serves the page and its script", async () => {
  const dir = tempDir("console-bin");
  const copy = join(dir, "bpftime");
  copyFileSync(bpftimeBin, copy);
  chmodSync(copy, 0o755);
  const shm = newRegion();
  cliOk(["shm", "create", shm]);
  const listen = `127.0.0.1:${await freePort()}`;
  const proc = startProcess(
    [copy, "serve", "--listen", listen, "--shm", shm, "--token-file", join(dir, "token")],
    { cwd: dir },
  );
  await proc.waitFor("bearer token", 30_000);
  expect(proc.output()).toContain(`(console: http://${listen}/,`);
  const page = await fetch(`http://${listen}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toContain("text/html");
  const html = await page.text();
  expect(html).toContain("<title>bpftime console</title>");
  // The bundled module (main.ts and its imports), served from inside the binary.
  const src = /<script type="module"[^>]* src="([^"]+)"/.exec(html)?.[1];
  expect(src).toMatch(/^\/[^/]+\.js$/);
  const js = await fetch(`http://${listen}${src}`);
  expect(js.status).toBe(200);
  expect(await js.text()).toContain("/v1/snapshot");
}, 60_000);

describe.skipIf(noBrowser)("the web console in chromium", () => {
  test("the page loads from the server alone, without errors, and shows the region", async () => {
    const s = await serve(urlFilter);
    const { page, problems, requests } = await open(s);
    const programs = rowOf(page, "programs-table", "1");
    await expect(programs.innerText()).resolves.toContain("url_filter");
    const maps = await page.locator("#maps tbody").innerText();
    expect(maps).toContain("verdict_counts");
    expect(maps).toContain("ringbuf");
    // Every request stays on this server: no CDN, no font, no favicon elsewhere.
    expect(requests.length).toBeGreaterThan(2);
    expect(requests.filter((u) => !u.startsWith(s.url + "/"))).toEqual([]);
    expect(problems).toEqual([]);
  }, 60_000);

  test("load an object, attach, replace and detach through the page, with the token", async () => {
    const s = await serve(urlFilter);
    const { page, problems } = await open(s);
    // Without the token nothing changes, and the page says why.
    await page.getByLabel("Argument").fill("/console");
    await page.getByRole("button", { name: "Attach", exact: true }).click();
    expect(await outcome(page, "needs the API token")).toContain("enter it above");
    expect(await s.api("/v1/links")).toEqual([]);

    await useToken(page, s.token);
    await page.getByLabel("Load an object (.o)").setInputFiles(example("url_blocklist"));
    await page.getByRole("button", { name: "Load", exact: true }).click();
    expect(await outcome(page, "Loaded url_blocklist.bpf.o")).toContain("url_blocklist (2)");
    expect((await s.api("/v1/programs")).map((p: { name: string }) => p.name)).toEqual([
      "url_filter",
      "url_blocklist",
    ]);
    // A new version of url_filter that takes the live maps over (load --reuse-maps).
    await page.getByLabel("take over live maps of the same name").check();
    await page.getByLabel("Load an object (.o)").setInputFiles(urlFilter);
    await page.getByRole("button", { name: "Load", exact: true }).click();
    expect(await outcome(page, "Loaded url_filter.bpf.o")).toContain(
      "programs url_filter (3); maps verdict_counts (1, reused), events (2, reused).",
    );
    expect((await s.api("/v1/maps")).map((m: { id: number }) => m.id)).toEqual([1, 2]);

    await page.getByLabel("Program", { exact: true }).selectOption({ label: "url_filter (1)" });
    await page.getByLabel("Target type").selectOption("nginx");
    await page.getByRole("button", { name: "Attach", exact: true }).click();
    await outcome(page, "Attached: link 1");
    expect(await s.api("/v1/links")).toMatchObject([
      { id: 1, progId: 1, targetType: "nginx", arg: "/console" },
    ]);
    const link = rowOf(page, "links-table", "1");
    await link.waitFor();
    expect(await link.innerText()).toContain("not hooked in any process");

    await page.getByLabel("new program for link 1").selectOption({ label: "url_blocklist (2)" });
    await page.getByRole("button", { name: "Replace the program of link 1" }).click();
    await outcome(page, "Link 1 now runs program 2 (was 1)");
    expect((await s.api("/v1/links"))[0].progId).toBe(2);

    await page.getByRole("button", { name: "Detach link 1" }).click();
    await outcome(page, "Detached link 1");
    expect(await s.api("/v1/links")).toEqual([]);
    await page.getByText("No links: attach a program below.").waitFor();
    expect(problems).toEqual([]);
  }, 90_000);

  test("update a map entry and see it in the table; histogram values drawn as bars", async () => {
    const obj = join(tempDir("console-hist"), "hist.bpf.o");
    compileBpf(join(import.meta.dir, "fixtures", "hist", "hist.bpf.c"), obj);
    const s = await serve(urlFilter, obj);
    const { page, problems } = await open(s);
    await useToken(page, s.token);
    await page.getByRole("button", { name: "Show entries of verdict_counts" }).click();
    await page.getByLabel("Key (JSON)").fill("1");
    await page.getByLabel("Value (JSON or hex:…)").fill("42");
    await page.getByRole("button", { name: "Update entry" }).click();
    await outcome(page, "key 1 set to 42");
    expect(
      JSON.parse(cliOk(["map", "lookup", "verdict_counts", "1", "--shm", s.shm, "--json"])),
    ).toEqual({
      key: 1,
      value: 42,
    });
    const entry = rowOf(page, "map-panel", "1");
    await entry.filter({ hasText: "42" }).waitFor();
    // A change made elsewhere shows up on the next poll.
    cliOk(["map", "update", "verdict_counts", "0", "7", "--shm", s.shm]);
    await rowOf(page, "map-panel", "0").filter({ hasText: "7" }).waitFor({ timeout: 15_000 });

    // libbpf-tools' struct hist { __u32 slots[8]; }: log2 buckets, as print_log2_hist labels them.
    cliOk(["map", "update", "hists", "7", '{"slots":[1,0,4,2,0,0,0,0]}', "--shm", s.shm]);
    await page.getByRole("button", { name: "Show entries of hists" }).click();
    const hist = page.locator("#map-panel table.hist");
    await hist.waitFor();
    expect(await hist.locator("caption").innerText()).toBe("hists[7]");
    const column = (n: number) => hist.locator(`tbody td:nth-child(${n})`).allInnerTexts();
    const [ranges, counts] = [await column(1), await column(2)];
    const rows = ranges.map((r, i) => [r, counts[i]]);
    expect(rows).toEqual([
      ["0 – 1", "1"],
      ["2 – 3", "0"],
      ["4 – 7", "4"],
      ["8 – 15", "2"],
    ]);
    // Bars scale to the largest count: bucket 4–7 is the full width, 8–15 half of it.
    const bars = hist.locator(".bar");
    const widths: Array<string | null> = [];
    for (let i = 0; i < (await bars.count()); i++)
      widths.push(await bars.nth(i).getAttribute("style"));
    expect(widths).toEqual(["width: 25%;", "width: 0%;", "width: 100%;", "width: 50%;"]);
    // The same slots as a linear histogram (bpftrace's lhist): bucket i is [min + i*step, …).
    await page.getByLabel("Buckets", { exact: true }).selectOption("linear");
    await page.getByLabel("linear min").fill("10");
    await page.getByLabel("linear step").fill("5");
    await page.getByLabel("linear step").press("Tab"); // commits the change
    await hist.locator("tbody td", { hasText: "10 – 14" }).waitFor();
    expect(await column(1)).toEqual(["10 – 14", "15 – 19", "20 – 24", "25 – 29"]);
    expect(await column(2)).toEqual(["1", "0", "4", "2"]);
    expect(problems).toEqual([]);
  }, 90_000);

  test("a ring buffer record appears live in the events list", async () => {
    const s = await serve(urlFilter);
    const { page, problems } = await open(s);
    await useToken(page, s.token);
    await page.getByRole("button", { name: "Follow events of events" }).click();
    await page.getByText("following events (2, ringbuf)").waitFor({ timeout: 15_000 });
    const url = join(tempDir("console-run"), "url.txt");
    writeFileSync(url, "/console-live");
    cliOk(["run", "1", "--shm", s.shm, "--data", url]);
    const item = page.locator("#events-list li").filter({ hasText: "/console-live" });
    await item.waitFor({ timeout: 15_000 });
    expect(JSON.parse((await item.innerText()).replace(/^#1 /, ""))).toMatchObject({
      size: 136,
      data: { verdict: 1, url_len: "/console-live".length, url: "/console-live" },
    });
    expect(problems).toEqual([]);
  }, 60_000);

  test("a hooked process: its link's pids, the instance alive, run rate and latency charts from /metrics' counters", async () => {
    const s = await serve(example("malloc"));
    // A process that calls a function of its own steadily (not libc's malloc: a kernel
    // uprobe someone else placed there would refuse our hook), with the agent preloaded.
    const dir = tempDir("console-app");
    writeFileSync(
      join(dir, "app.c"),
      "#include <unistd.h>\n" +
        "__attribute__((noinline)) int console_tick(int n) { return n + 1; }\n" +
        "int main(void) { for (int n = 0;; n = console_tick(n)) usleep(2000); }\n",
    );
    compileNative(["cc", "-O0", join(dir, "app.c"), "-o", join(dir, "app")]);
    cliOk([
      "attach",
      "count_malloc",
      "uprobe",
      "--arg",
      `${join(dir, "app")}:console_tick`,
      "--shm",
      s.shm,
    ]);
    const { page, problems } = await open(s);
    await useToken(page, s.token);
    await page.getByRole("button", { name: "Turn statistics on" }).click();
    await outcome(page, "Run statistics are on");
    expect((await s.api("/v1/region")).statsEnabled).toBe(true);
    const app = startProcess([
      process.execPath,
      cliEntry,
      "start",
      "--shm",
      s.shm,
      "--",
      join(dir, "app"),
    ]);
    await app.waitFor(/attached in process (\d+)/, 30_000);
    const pid = /attached in process (\d+)/.exec(app.output())![1]!;
    await rowOf(page, "links-table", "1")
      .filter({ hasText: `hooked in process ${pid}` })
      .waitFor({ timeout: 15_000 });
    await page
      .locator("#instances-table tbody tr")
      .filter({ hasText: pid })
      .filter({ hasText: /alive \(heartbeat/ })
      .waitFor();
    const captions = page.locator(".program-charts figcaption");
    await captions
      .filter({ hasText: /^run rate: now [1-9][\d.]* runs\/s, peak/ })
      .waitFor({ timeout: 15_000 });
    await captions.filter({ hasText: /^latency: now [\d.]+ (ns|µs|ms)\/run/ }).waitFor();
    // Once the process is gone the counters hold still: the page's total is /metrics' count.
    await app.stop();
    const metric = /bpftime_program_run_count_total\{[^}]*name="count_malloc"[^}]*\} (\d+)/;
    const counted = Number(metric.exec(await s.api("/metrics"))![1]);
    expect(counted).toBeGreaterThan(0);
    await page
      .getByRole("heading", { name: `count_malloc (program 1): ${counted} runs in total` })
      .waitFor({ timeout: 15_000 });
    expect(problems).toEqual([]);
  }, 90_000);

  test("keyboard only: Tab reaches the token and the actions, Enter runs them, focus is visible", async () => {
    const s = await serve(urlFilter);
    cliOk(["attach", "url_filter", "nginx", "--prefix", "/kbd", "--shm", s.shm]);
    const { page, problems } = await open(s);
    await rowOf(page, "links-table", "1").waitFor();
    /** Presses Tab until the focused element matches, returning how many presses it took. */
    const tabTo = async (matches: string): Promise<number> => {
      for (let i = 1; i <= 120; i++) {
        await page.keyboard.press("Tab");
        if (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(matches)})`))
          return i;
      }
      throw new Error(`Tab never reached ${matches}`);
    };
    await tabTo("#token");
    await page.keyboard.type(s.token);
    await page.keyboard.press("Enter");
    await page.getByText("token set: changes allowed").waitFor();
    await tabTo('[aria-label="Detach link 1"]');
    const outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle");
    expect(outline).not.toBe("none");
    await page.keyboard.press("Enter");
    await outcome(page, "Detached link 1");
    expect(await s.api("/v1/links")).toEqual([]);
    // The map panel's form is reachable the same way.
    await tabTo('[aria-label="Show entries of verdict_counts"]');
    await page.keyboard.press("Enter");
    await tabTo("#entry-key");
    expect(problems).toEqual([]);
  }, 60_000);

  test("at a phone's width the page reflows: nothing scrolls sideways but the tables' own boxes", async () => {
    const s = await serve(urlFilter);
    cliOk(["attach", "url_filter", "nginx", "--prefix", "/narrow", "--shm", s.shm]);
    const { page, problems } = await open(s, { width: 360, height: 740 });
    await rowOf(page, "links-table", "1").waitFor();
    const scroll = (await page.evaluate("document.documentElement.scrollWidth")) as number;
    const width = (await page.evaluate("document.documentElement.clientWidth")) as number;
    expect(scroll).toBeLessThanOrEqual(width);
    expect(problems).toEqual([]);
  }, 60_000);
});
