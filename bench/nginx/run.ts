// nginx benchmark: requests/s of the installed Debian nginx serving a small
// static file under three configurations that differ only in the URL filter:
//
//   none     no module loaded
//   native   bench/nginx/baseline: `prefix_filter /aaaa;` (plain C module)
//   bpftime  nginx/: `bpftime on;` with bench/nginx/prefix_filter.bpf.c (the
//            native module's check, in eBPF) attached to the nginx URL-filter
//            target with `--prefix /aaaa`; `--object FILE.o` measures another
//            program (e.g. examples/build/url_filter.bpf.o)
//
// With `--links 1,10,100` there is one bpftime column per count, each its own
// region with the program linked that many times to the same target (every
// link runs on every request: cost should grow linearly with the links).
//
// All the nginx instances run side by side (1 worker each, pinned to the
// same CPU, access_log off, open_file_cache on); wrk (pinned to another CPU)
// drives them in INTERLEAVED rounds — round r runs every configuration once,
// in a rotated order — so drift (thermal, noisy neighbours) hits all columns
// alike. The overhead of a configuration is the median over rounds of its
// slowdown against `none` IN THE SAME ROUND (paired, so phases where the
// whole machine runs slower cancel out); the median req/s is shown too.
//
// A steadier measure follows the rounds: CPU cost per request of each
// worker over a wrk run, divided by the requests wrk completed
// (`--cycles-reps`, default 3 interleaved rounds; median of the paired
// differences; 0 skips it): its CPU time from /proc/PID/schedstat (the
// scheduler's ns-resolution account, user + kernel), and, where `perf stat
// -p WORKER` can count hardware events, cycles and instructions. (In a VM
// without a PMU, such as the Firecracker guest the README's figures come
// from, perf has no cycles and counts no foreign process: the CPU time is
// the measure.) Requests/s drift ±10% with the neighbours; CPU per request
// much less.
//
//   bun bench/nginx/run.ts [--rounds 5] [--duration 5] [--connections 32] [--threads 1]
//                          [--path /aaaa/index.html] [--object FILE.o] [--links 1[,10,...]]
//                          [--cycles-reps 3] [--no-native] [--events MAP] [--json]
//
// `--events MAP` runs `bpftime events MAP` for each bpftime column while it
// is measured (e.g. `--object examples/build/url_filter.bpf.o --events events`).
//
// Never part of `bun test`. Needs nginx, nginx-dev and wrk; the bpftime
// column also needs the CLI's `load` and `attach` commands and is skipped
// with a message when they are not available.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const repo = join(import.meta.dir, "..", "..");
const nginxBin = "/usr/sbin/nginx";
const bpftimeModule = join(repo, "nginx", "build", "ngx_http_bpftime_module.so");
const nativeModule = join(repo, "bench", "build", "nginx", "ngx_http_prefix_filter_module.so");
const benchSrc = join(repo, "bench", "nginx", "prefix_filter.bpf.c");
const benchObj = join(repo, "bench", "build", "nginx", "prefix_filter.bpf.o");
const cliEntry = join(repo, "src", "cli", "main.ts");
const PREFIX = "/aaaa";

const { values: opt } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "32" },
    threads: { type: "string", default: "1" },
    path: { type: "string", default: `${PREFIX}/index.html` },
    object: { type: "string" },
    links: { type: "string", default: "1" },
    events: { type: "string" },
    "cycles-reps": { type: "string", default: "3" },
    "no-native": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const rounds = Number(opt.rounds);
const duration = Number(opt.duration);
const cyclesReps = Number(opt["cycles-reps"]);
const linkCounts = opt
  .links!.split(",")
  .map((x) => Number(x))
  .filter((n) => Number.isInteger(n) && n > 0);
if (!linkCounts.length) {
  console.error(`bench/nginx: --links takes positive counts, e.g. 1,10,100`);
  process.exit(2);
}

type ConfigKind = "none" | "native" | "bpftime";
/** One nginx configuration: `name` labels its column (bpftime ones carry their link count). */
interface Config {
  name: string;
  kind: ConfigKind;
  shm: string;
}
interface Instance extends Config {
  port: number;
  dir: string;
  proc: ChildProcess;
  rps: number[];
  cost: PerRequest[];
}
/** CPU cost of one request in the worker, from one `perf stat` window. */
interface PerRequest {
  requests: number;
  taskNs: number;
  /** cycles (hardware) or TSC ticks while running (msr/tsc), per request. */
  cycles: number;
  /** NaN without hardware counters. */
  instructions: number;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
const cleanups: Array<() => void> = [];
function cleanup() {
  // Each nginx runs in its own process group: killing the group takes the
  // workers too (a SIGKILLed master would leave them running).
  for (const c of children) if (c.pid) tryKill(-c.pid, "SIGKILL");
  for (const f of cleanups.splice(0)) f();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

function tryKill(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

function die(msg: string): never {
  console.error(`bench/nginx: ${msg}`);
  process.exit(1);
}

function sh(cmd: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    cwd: repo,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "", signal: r.signal };
}

/** Why a command failed, in one line. */
function why(r: ReturnType<typeof sh>): string {
  const text = (r.stderr.trim() || r.stdout.trim()).split("\n").pop() ?? "";
  return `${r.signal ? `killed by ${r.signal}` : `exit ${r.code}`}${text ? `: ${text}` : ""}`;
}

function have(bin: string): boolean {
  return sh(["sh", "-c", `command -v ${bin}`]).code === 0;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      const port = typeof a === "object" && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// CPUs: nginx workers on one, wrk on another (when there are at least two).
const ncpu = cpus().length;
const nginxCpu = 0;
const wrkCpu = ncpu > 1 ? 1 : 0;
const pin = have("taskset") && ncpu > 1;

/** The bpftime column's region, program and link. */
function setUpBpftime(links: number): Config | { skip: string } {
  if (!existsSync(bpftimeModule)) return { skip: "the bpftime module did not build" };
  const shm = `bench-nginx-${process.pid}-${links}`;
  const env = { BPFTIME_SHM: shm };
  const cli = (...args: string[]) => sh([process.execPath, cliEntry, ...args], env);
  const c = cli("shm", "create");
  if (c.code !== 0) return { skip: `\`bpftime shm create\` failed (${why(c)})` };
  cleanups.push(() => void cli("shm", "remove"));
  let obj = opt.object;
  if (!obj && !existsSync(benchObj)) {
    mkdirSync(join(repo, "bench", "build", "nginx"), { recursive: true });
    const cc = sh([
      "clang",
      "-O2",
      "-g",
      "-target",
      "bpf",
      `-I${join(repo, "native", "include")}`,
      "-I/usr/include/x86_64-linux-gnu",
      "-c",
      benchSrc,
      "-o",
      benchObj,
    ]);
    if (cc.code !== 0) return { skip: `cannot build ${benchObj}: ${why(cc)}` };
  }
  obj ??= benchObj;
  const load = cli("load", obj, "--json");
  if (load.code !== 0) return { skip: `\`bpftime load ${obj}\` failed (${why(load)})` };
  let id: number | undefined;
  try {
    const parsed = JSON.parse(load.stdout) as { programs: Array<{ id: number; type: string }> };
    id = parsed.programs.find((p) => p.type === "nginx_url_filter")?.id;
  } catch {
    /* reported below */
  }
  if (id === undefined)
    return {
      skip: `no nginx URL-filter program in \`bpftime load --json\` output: ${load.stdout}`,
    };
  for (let k = 0; k < links; k++) {
    const attach = cli("attach", String(id), "nginx", "--prefix", PREFIX);
    if (attach.code !== 0)
      return {
        skip: `\`bpftime attach ${id} nginx --prefix ${PREFIX}\` failed (${why(attach)})`,
      };
  }
  if (opt.events) {
    // A consumer following the program's ringbuf, as a user would run
    // `bpftime events MAP`; on wrk's CPU (without one the ring fills and
    // every later event is dropped, which costs less than delivering it).
    const ev = spawn(
      pin ? "taskset" : process.execPath,
      [
        ...(pin ? ["-c", String(wrkCpu), process.execPath] : []),
        cliEntry,
        "events",
        opt.events,
        "--json",
      ],
      { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"], detached: true },
    );
    children.push(ev);
  }
  const name = linkCounts.length > 1 || links > 1 ? `bpftime x${links}` : "bpftime";
  console.log(`${name} column: ${obj}, ${links} link(s) to one nginx target`);
  return { name, kind: "bpftime", shm };
}

function config(name: ConfigKind, dir: string, port: number, shm: string): string {
  const main: string[] = [];
  const http: string[] = [];
  if (name === "native") {
    main.push(`load_module ${nativeModule};`);
    http.push(`prefix_filter ${PREFIX};`);
  } else if (name === "bpftime") {
    main.push(`load_module ${bpftimeModule};`);
    http.push("bpftime on;", `bpftime_shm ${shm};`, "bpftime_fail closed;");
  }
  const user = process.getuid?.() === 0 ? "user root root;" : "";
  return `${main.join("\n")}
${user}
daemon off;
master_process on;
worker_processes 1;
worker_cpu_affinity ${(1 << nginxCpu).toString(2)};
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/client_body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  default_type text/plain;
  open_file_cache max=100 inactive=60s;
  keepalive_requests 1000000;
  ${http.join("\n  ")}
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    root ${dir}/www;
    log_not_found off;
    location / { }
  }
}
`;
}

async function status(url: string): Promise<number> {
  const res = await fetch(url, { headers: { connection: "close" } });
  await res.arrayBuffer();
  return res.status;
}

async function start(c: Config): Promise<Instance> {
  const { name, kind, shm } = c;
  const dir = mkdtempSync(join(tmpdir(), `bench-nginx-${kind}-`));
  dirs.push(dir);
  mkdirSync(join(dir, "tmp"));
  mkdirSync(join(dir, "www", PREFIX.slice(1)), { recursive: true });
  writeFileSync(join(dir, "www", "index.html"), "ok\n");
  writeFileSync(join(dir, "www", PREFIX.slice(1), "index.html"), "ok\n");
  const port = await freePort();
  writeFileSync(join(dir, "nginx.conf"), config(kind, dir, port, shm));
  const proc = spawn(nginxBin, ["-p", dir, "-c", join(dir, "nginx.conf")], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  children.push(proc);
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) die(`nginx (${name}) exited: ${stderr}`);
    try {
      await status(`http://127.0.0.1:${port}/`);
      break;
    } catch {
      if (Date.now() > deadline) die(`nginx (${name}) does not answer: ${stderr}`);
      await Bun.sleep(50);
    }
  }
  return { ...c, port, dir, proc, rps: [], cost: [] };
}

function wrk(
  port: number,
  seconds: number,
): { rps: number; requests: number; non2xx: number; errors: string } {
  const cmd = [
    "wrk",
    `-t${opt.threads}`,
    `-c${opt.connections}`,
    `-d${seconds}s`,
    `http://127.0.0.1:${port}${opt.path}`,
  ];
  const r = sh(pin ? ["taskset", "-c", String(wrkCpu), ...cmd] : cmd);
  if (r.code !== 0) die(`wrk failed: ${r.stderr || r.stdout}`);
  const rps = Number(/Requests\/sec:\s*([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s*(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(r.stdout)?.[0] ?? "";
  if (!Number.isFinite(rps)) die(`cannot parse wrk output:\n${r.stdout}`);
  return { rps, requests, non2xx, errors };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The worker of an nginx master (worker_processes 1). */
function workerPid(master: number): number {
  const kids = readFileSync(`/proc/${master}/task/${master}/children`, "utf8").trim().split(/\s+/);
  const pid = Number(kids[0]);
  if (!Number.isInteger(pid) || pid <= 0) die(`nginx master ${master} has no worker`);
  return pid;
}

/** ns this process has run on a CPU (the scheduler's own account, ns resolution). */
function cpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
}

/**
 * Whether `perf stat -p` counts hardware cycles and instructions of another
 * process here: a VM without a PMU says "<not supported>", some refuse to
 * count a foreign process at all ("<not counted>").
 */
function perfCounters(pid: number): { ok: true } | { ok: false; why: string } {
  if (!have("perf")) return { ok: false, why: "perf is not installed" };
  const r = sh([
    "perf",
    "stat",
    "-x,",
    "-e",
    "cycles,instructions",
    "-p",
    String(pid),
    "--",
    "sleep",
    "0.1",
  ]);
  const bad = /<not (supported|counted)>,[^,]*,(\w+)/.exec(r.stderr);
  if (r.code !== 0 || bad)
    return { ok: false, why: bad ? `${bad[2]} ${bad[0].slice(1, bad[0].indexOf(">"))}` : why(r) };
  return { ok: true };
}

/**
 * One window of `n` requests' worth of wrk on one instance: CPU ns of its
 * worker (and, with hardware counters, cycles and instructions) per request.
 */
function measureCost(i: Instance, worker: number, hw: boolean): PerRequest {
  let perf: ReturnType<typeof spawn> | undefined;
  let perfErr = "";
  if (hw) {
    // perf counts the worker from the first sample on; wrk starts after its
    // first line of output would be too late to matter at these durations.
    perf = spawn("perf", ["stat", "-x,", "-e", "cycles,instructions", "-p", String(worker)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    perf.stderr?.on("data", (d: Buffer) => (perfErr += d.toString()));
  }
  const before = cpuNs(worker);
  const w = wrk(i.port, duration);
  const after = cpuNs(worker);
  if (w.non2xx > 0) die(`${i.name}: ${w.non2xx} non-2xx responses during the run`);
  let cycles = NaN;
  let instructions = NaN;
  if (perf) {
    perf.kill("SIGINT");
    spawnSync("sh", ["-c", `while kill -0 ${perf.pid} 2>/dev/null; do sleep 0.05; done`]);
    cycles = Number(/^(\d+),[^,]*,cycles/m.exec(perfErr)?.[1] ?? NaN) / w.requests;
    instructions = Number(/^(\d+),[^,]*,instructions/m.exec(perfErr)?.[1] ?? NaN) / w.requests;
  }
  return { requests: w.requests, taskNs: (after - before) / w.requests, cycles, instructions };
}

async function main() {
  if (!existsSync(nginxBin)) die(`${nginxBin} not installed (apt-get install nginx)`);
  if (!have("wrk")) die("wrk not installed (apt-get install wrk)");
  const b = sh(["bash", join(repo, "bench", "nginx", "build.sh")]);
  if (b.code !== 0 && !existsSync(nativeModule)) die(`building the modules failed:\n${b.stderr}`);

  const configs: Config[] = [{ name: "none", kind: "none", shm: "" }];
  if (!opt["no-native"]) configs.push({ name: "native", kind: "native", shm: "" });
  for (const links of linkCounts) {
    const bp = setUpBpftime(links);
    if ("skip" in bp) console.log(`bpftime x${links} column skipped: ${bp.skip}`);
    else configs.push(bp);
  }

  const instances: Instance[] = [];
  for (const c of configs) instances.push(await start(c));

  // Sanity: every configuration serves the path, the filters refuse other URLs.
  for (const i of instances) {
    const ok = await status(`http://127.0.0.1:${i.port}${opt.path}`);
    const refused = await status(`http://127.0.0.1:${i.port}/other`);
    const want = i.kind === "none" ? 404 : 403;
    if (ok !== 200 || refused !== want)
      die(`${i.name}: ${opt.path} -> ${ok}, /other -> ${refused} (want 200 and ${want})`);
  }

  console.log(
    `nginx ${sh([nginxBin, "-v"]).stderr.trim().replace("nginx version: ", "")}, 1 worker` +
      `${pin ? ` on CPU ${nginxCpu}, wrk on CPU ${wrkCpu}` : " (not pinned)"}; ` +
      `wrk -t${opt.threads} -c${opt.connections} -d${duration}s GET ${opt.path}; ` +
      `${rounds} interleaved rounds`,
  );
  for (const i of instances) wrk(i.port, 1); // warm-up

  for (let r = 0; r < rounds; r++) {
    const order = instances.map((_, k) => instances[(k + r) % instances.length]!);
    const line: string[] = [];
    for (const i of order) {
      const w = wrk(i.port, duration);
      if (w.non2xx > 0) die(`${i.name}: ${w.non2xx} non-2xx responses during the run`);
      i.rps.push(w.rps);
      line.push(`${i.name} ${w.rps.toFixed(0)}${w.errors ? ` (${w.errors})` : ""}`);
    }
    console.log(`round ${r + 1}/${rounds}: ${line.join(", ")}`);
  }

  // The steadier measure: CPU per request of each worker, interleaved too.
  const workers = new Map(instances.map((i) => [i, workerPid(i.proc.pid!)] as const));
  let hw = false;
  if (cyclesReps > 0) {
    const probe = perfCounters(workers.get(instances[0]!)!);
    hw = probe.ok;
    console.log(
      probe.ok
        ? "CPU per request: perf stat cycles and instructions of each worker, and its CPU time"
        : `CPU per request: the worker's CPU time from /proc/PID/schedstat (no hardware counters: ${probe.why})`,
    );
    for (let r = 0; r < cyclesReps; r++) {
      const order = instances.map((_, k) => instances[(k + r) % instances.length]!);
      const line: string[] = [];
      for (const i of order) {
        const c = measureCost(i, workers.get(i)!, hw);
        i.cost.push(c);
        line.push(
          `${i.name} ${c.taskNs.toFixed(0)} ns${hw ? ` ${c.cycles.toFixed(0)} cycles` : ""}`,
        );
      }
      console.log(`CPU round ${r + 1}/${cyclesReps}: ${line.join(", ")}`);
    }
  }

  const none = instances[0]!;
  const rows = instances.map((i) => {
    const med = median(i.rps);
    // Paired per round: each round's slowdown against `none` in that round.
    const slowdowns = i.rps.map((rps, r) => ((none.rps[r]! - rps) / none.rps[r]!) * 100);
    const ns = i.cost.map((c) => c.taskNs);
    // Paired too: extra CPU per request against `none` in the same CPU round.
    const extra = i.cost.map(
      (c, r) => ((c.taskNs - none.cost[r]!.taskNs) / none.cost[r]!.taskNs) * 100,
    );
    return {
      config: i.name,
      medianRps: Math.round(med),
      minRps: Math.round(Math.min(...i.rps)),
      maxRps: Math.round(Math.max(...i.rps)),
      overheadPct: Number(median(slowdowns).toFixed(2)),
      cpuNsPerRequest: ns.length ? Number(median(ns).toFixed(1)) : null,
      cpuOverheadPct: extra.length ? Number(median(extra).toFixed(2)) : null,
      cyclesPerRequest: hw ? Math.round(median(i.cost.map((c) => c.cycles))) : null,
      instructionsPerRequest: hw ? Math.round(median(i.cost.map((c) => c.instructions))) : null,
    };
  });
  if (opt.json) {
    console.log(JSON.stringify({ rounds, duration, cyclesReps, rows }, null, 2));
    return;
  }
  console.log("");
  const head = [
    "config",
    "median req/s",
    "min",
    "max",
    "overhead (req/s)",
    "CPU ns/req",
    "CPU overhead",
    ...(hw ? ["cycles/req", "instr/req"] : []),
  ];
  const body = rows.map((r) => [
    r.config,
    String(r.medianRps),
    String(r.minRps),
    String(r.maxRps),
    r.config === "none" ? "-" : `${r.overheadPct.toFixed(2)}%`,
    r.cpuNsPerRequest === null ? "-" : r.cpuNsPerRequest.toFixed(0),
    r.cpuOverheadPct === null || r.config === "none" ? "-" : `${r.cpuOverheadPct.toFixed(2)}%`,
    ...(hw ? [String(r.cyclesPerRequest), String(r.instructionsPerRequest)] : []),
  ]);
  const w = head.map((h, k) => Math.max(h.length, ...body.map((row) => row[k]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, k) => (k === 0 ? c.padEnd(w[k]!) : c.padStart(w[k]!))).join("  ");
  console.log(line(head));
  for (const row of body) console.log(line(row));
  console.log(
    "overheads: median over rounds of the slowdown (req/s) or extra CPU per request against `none` in the same round",
  );
  for (const i of instances) {
    const log = existsSync(join(i.dir, "error.log"))
      ? readFileSync(join(i.dir, "error.log"), "utf8")
      : "";
    const errs = log.split("\n").filter((l) => /\[(error|crit|alert|emerg)\]/.test(l));
    if (errs.length) console.log(`${i.name} error.log:\n${errs.slice(0, 5).join("\n")}`);
  }
}

/** Fast shutdown of every nginx (the masters reap their workers), then the fallback. */
async function stopAll() {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null || !c.pid) return;
      const exited = new Promise((resolve) => c.once("exit", resolve));
      tryKill(c.pid, "SIGTERM");
      await Promise.race([exited, Bun.sleep(3000)]);
    }),
  );
  cleanup();
}

await main();
await stopAll();
