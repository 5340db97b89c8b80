// The nginx module's per-request call alone (bench/nginx/filter_call.c):
// CPU ns that bpftime_ss_nginx_url_filter() adds to a request, for the
// benchmark's prefix filter and for the full example (examples/url_filter:
// prefix check, counter, ringbuf event) with and without a consumer
// following the ringbuf (a child process polling as `bpftime events` does;
// without one the ring fills and each event is dropped). Beside it the
// native module's check; and the prefix filter linked 10 and 100 times to
// the same target (every link runs per request: linear growth expected).
// nginx's own cost per request is in the CPU ns/req
// column of `npm run bench -- nginx`: the overhead is this over that.
//
//   bun bench/nginx/call.ts [--rounds 5] [--calls 1000000]
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cliEntry, loadBpftime, median, printTable, repo, scratch, sh } from "../lib/prog-run.ts";

const { values: opt } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    calls: { type: "string", default: "1000000" },
  },
});
const out = join(repo, "bench", "build", "nginx");
mkdirSync(out, { recursive: true });
const harness = join(out, "filter_call");
const native = join(repo, "native");
sh(
  [
    "cc",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    `-I${native}`,
    `-I${join(native, "include")}`,
    `-I${join(native, "syscall-server")}`,
    "-o",
    harness,
    join(repo, "bench", "nginx", "filter_call.c"),
    `-L${join(native, "build")}`,
    "-lbpftime-syscall-server",
    `-Wl,-rpath,${join(native, "build")}`,
  ],
  "building filter_call",
);
const prefixObj = join(out, "prefix_filter.bpf.o");
sh(
  [
    "clang",
    "-O2",
    "-g",
    "-target",
    "bpf",
    `-I${join(native, "include")}`,
    "-I/usr/include/x86_64-linux-gnu",
    "-c",
    join(repo, "bench", "nginx", "prefix_filter.bpf.c"),
    "-o",
    prefixObj,
  ],
  "building prefix_filter.bpf.o",
);

const tmp = scratch("nginx-call");
function setUp(name: string, obj: string, links = 1): { region: string; ringbuf: number } {
  const region = tmp.region(name);
  const ids = loadBpftime(region, obj);
  const prog = [...ids.keys()][0]!;
  for (let k = 0; k < links; k++)
    sh(
      [process.execPath, cliEntry, "attach", prog, "nginx", "--prefix", "/aaaa", "--shm", region],
      "attach",
    );
  const maps = JSON.parse(
    sh([process.execPath, cliEntry, "map", "list", "--shm", region, "--json"], "map list"),
  ) as Array<{ id: number; type: string }>;
  return { region, ringbuf: maps.find((m) => m.type === "ringbuf")?.id ?? 0 };
}
const prefix = setUp("prefix", prefixObj);
const prefix10 = setUp("prefix10", prefixObj, 10);
const prefix100 = setUp("prefix100", prefixObj, 100);
const full = setUp("full", join(repo, "examples", "build", "url_filter.bpf.o"));
const cases = [
  { what: "prefix filter (bench/nginx/prefix_filter.bpf.c)", region: prefix.region, rb: 0 },
  { what: "prefix filter, 10 links on the target", region: prefix10.region, rb: 0 },
  { what: "prefix filter, 100 links on the target", region: prefix100.region, rb: 0 },
  { what: "full example, no consumer (ring full: events dropped)", region: full.region, rb: 0 },
  { what: "full example, `bpftime events`-like consumer", region: full.region, rb: full.ringbuf },
];
const bp: number[][] = cases.map(() => []);
const nat: number[] = [];
for (let r = 0; r < Number(opt.rounds); r++)
  cases.forEach((c, i) => {
    const res = spawnSync(harness, [c.region, String(c.rb), opt.calls!], { encoding: "utf8" });
    const m = /bpftime_ns ([\d.]+) native_ns ([\d.]+)/.exec(res.stdout);
    if (res.status !== 0 || !m) throw new Error(`filter_call: ${res.stderr || res.stdout}`);
    bp[i]!.push(Number(m[1]));
    nat.push(Number(m[2]));
  });
console.log(`\nCPU ns per call (median of ${opt.rounds} rounds of ${opt.calls} calls)\n`);
printTable(
  ["program", "bpftime ns/request"],
  [
    ...cases.map((c, i) => [c.what, median(bp[i]!).toFixed(1)]),
    ["native module's check (bench/nginx/baseline)", median(nat).toFixed(1)],
  ],
);
