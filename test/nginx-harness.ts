// Test helper: runs the installed Debian nginx (/usr/sbin/nginx) with the
// bpftime module on a free loopback port, from a generated configuration in a
// temporary directory. Everything (config, pid, logs, temp paths, static
// files) lives in that directory; the process group is killed after each test
// by test/helpers.ts.
//
//   const skip = nginxSkipReason();          // undefined when usable
//   const ngx = await startNginx({ bpftime: "on", fail: "closed", shm: "t1" });
//   expect(await requestStatus(ngx.url("/"))).toBe(503);
//
// Static content goes through the access phase (a `return` would answer in
// the rewrite phase, before the module runs): the server's root holds
// index.html ("ok\n") plus any `files` given.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  freePort,
  repoRoot,
  run,
  startProcess,
  tempDir,
  waitUntil,
  type Started,
} from "./helpers.ts";

export const nginxBin = "/usr/sbin/nginx";
export const nginxSrc = "/usr/share/nginx/src";
export const modulePath = join(repoRoot, "nginx", "build", "ngx_http_bpftime_module.so");

export interface NginxOptions {
  /** worker_processes (default 1). */
  workers?: number;
  /** `load_module` the bpftime module (default true). */
  loadModule?: boolean;
  /** Module file (default nginx/build/ngx_http_bpftime_module.so). */
  module?: string;
  /** http-level `bpftime on|off;` (omitted when undefined: the module default, off). */
  bpftime?: "on" | "off";
  /** http-level `bpftime_shm NAME;` (omitted when undefined: "bpftime"). */
  shm?: string;
  /** http-level `bpftime_fail open|closed;` (omitted when undefined: open). */
  fail?: "open" | "closed";
  /**
   * `user` directive. Default: when the tests run as root, "root root" — the
   * workers must be able to read the 0700 temporary directory and open the
   * region (mode 0600) that the controller, run as the same user, creates.
   * Without root nginx cannot switch users and the directive is omitted.
   */
  user?: string;
  /** Raw directives added to the main context (e.g. `env BPFTIME_LOG=debug;`). */
  main?: string;
  /** Raw directives added to the http block. */
  http?: string;
  /** Raw directives / location blocks added to the server block. */
  server?: string;
  /** Extra static files under the root: path (relative, e.g. "aaaa/x") -> content. */
  files?: Record<string, string>;
  /** Environment of the nginx master (workers only see what `env` directives keep). */
  env?: Record<string, string | undefined>;
}

export interface Nginx {
  port: number;
  /** The temporary directory holding config, logs and the document root. */
  dir: string;
  confPath: string;
  proc: Started;
  url(path?: string): string;
  /** `nginx -s reload`, then waits until a full set of new workers runs and the old ones are gone. */
  reload(): Promise<void>;
  stop(): Promise<void>;
  /** Contents of error.log (level info). */
  errorLog(): string;
  /** PIDs of the current worker processes (not those shutting down). */
  workerPids(): number[];
}

/**
 * Why nginx tests cannot run here (the environment lacks nginx or its
 * sources), or undefined when they can. Decided by probing the system only;
 * then builds the module (quick when up to date) and throws when it does not
 * build: a module that fails to compile is a failure, never a skip.
 */
export function nginxSkipReason(): string | undefined {
  if (!existsSync(nginxBin)) return `${nginxBin} not installed (apt-get install nginx)`;
  if (run([nginxBin, "-V"]).code !== 0) return `${nginxBin} -V fails: nginx is unusable here`;
  if (!existsSync(join(nginxSrc, "configure")))
    return `${nginxSrc} not installed (apt-get install nginx-dev)`;
  const r = run(["bash", join(repoRoot, "nginx", "build.sh")]);
  if (r.code !== 0)
    throw new Error(`the nginx module does not build (nginx/build.sh):\n${r.stderr.trim()}`);
  return undefined;
}

/** Renders the nginx.conf used by startNginx (exported for tests of config errors). */
export function nginxConfig(dir: string, port: number, o: NginxOptions = {}): string {
  const lines: string[] = [];
  if (o.loadModule ?? true) lines.push(`load_module ${o.module ?? modulePath};`);
  const user = o.user ?? (process.getuid?.() === 0 ? "root root" : undefined);
  if (user) lines.push(`user ${user};`);
  lines.push(
    "daemon off;",
    "master_process on;",
    `worker_processes ${o.workers ?? 1};`,
    `error_log ${dir}/error.log info;`,
    `pid ${dir}/nginx.pid;`,
  );
  if (o.main) lines.push(o.main);
  lines.push("events { worker_connections 1024; }", "http {");
  lines.push(
    `  access_log ${dir}/access.log;`,
    `  client_body_temp_path ${dir}/tmp/client_body;`,
    `  proxy_temp_path ${dir}/tmp/proxy;`,
    `  fastcgi_temp_path ${dir}/tmp/fastcgi;`,
    `  uwsgi_temp_path ${dir}/tmp/uwsgi;`,
    `  scgi_temp_path ${dir}/tmp/scgi;`,
    "  default_type text/plain;",
  );
  if (o.bpftime) lines.push(`  bpftime ${o.bpftime};`);
  if (o.shm !== undefined) lines.push(`  bpftime_shm ${o.shm};`);
  if (o.fail) lines.push(`  bpftime_fail ${o.fail};`);
  if (o.http) lines.push(o.http);
  lines.push(
    "  server {",
    `    listen 127.0.0.1:${port};`,
    `    root ${dir}/www;`,
    "    location / { }",
  );
  if (o.server) lines.push(o.server);
  lines.push("  }", "}", "");
  return lines.join("\n");
}

/** Runs `nginx -t` on a configuration; returns the exit code and output. */
export function testNginxConfig(o: NginxOptions = {}): { code: number; output: string } {
  const dir = tempDir("nginx");
  const confPath = prepare(dir, 1, o);
  const r = run([nginxBin, "-t", "-p", dir, "-c", confPath], { env: o.env });
  return { code: r.code, output: r.stdout + r.stderr };
}

function prepare(dir: string, port: number, o: NginxOptions): string {
  mkdirSync(join(dir, "tmp"), { recursive: true });
  mkdirSync(join(dir, "www"), { recursive: true });
  writeFileSync(join(dir, "www", "index.html"), "ok\n");
  for (const [path, content] of Object.entries(o.files ?? {})) {
    const file = join(dir, "www", path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  const confPath = join(dir, "nginx.conf");
  writeFileSync(confPath, nginxConfig(dir, port, o));
  return confPath;
}

/** PIDs of the nginx worker processes whose parent is `master`. */
function workersOf(master: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces, so parse after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== master) continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (cmdline.includes("worker process") && !cmdline.includes("shutting down"))
        pids.push(Number(name));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids.sort((a, b) => a - b);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return (
      existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ")
    );
  } catch {
    return false;
  }
}

async function answers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      headers: { connection: "close" },
      signal: AbortSignal.timeout(1000),
    });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** Starts nginx and waits until its port answers and all workers run. */
export async function startNginx(o: NginxOptions = {}): Promise<Nginx> {
  const workers = o.workers ?? 1;
  let lastError = "";
  // freePort() can race with another process taking the port: retry a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = tempDir("nginx");
    const port = await freePort();
    const confPath = prepare(dir, port, o);
    const errorLogPath = join(dir, "error.log");
    const proc = startProcess([nginxBin, "-p", dir, "-c", confPath], { env: o.env });
    const errorLog = () => (existsSync(errorLogPath) ? readFileSync(errorLogPath, "utf8") : "");
    const exitedEarly = () => proc.proc.exitCode !== null || proc.proc.signalCode !== null;
    try {
      await waitUntil(`nginx on port ${port}`, async () => {
        if (exitedEarly()) throw new Error("nginx exited");
        return (await answers(port)) && workersOf(proc.pid).length === workers;
      });
    } catch (e) {
      lastError = `${(e as Error).message}\n${proc.output()}\n${errorLog()}`;
      await proc.stop();
      if (/Address already in use/.test(lastError)) continue;
      throw new Error(`nginx did not start: ${lastError}`);
    }
    const ngx: Nginx = {
      port,
      dir,
      confPath,
      proc,
      url: (path = "/") => `http://127.0.0.1:${port}${path}`,
      errorLog,
      workerPids: () => workersOf(proc.pid),
      stop: () => proc.stop(),
      async reload() {
        const old = workersOf(proc.pid);
        const r = run([nginxBin, "-p", dir, "-c", confPath, "-s", "reload"], { env: o.env });
        if (r.code !== 0) throw new Error(`nginx -s reload failed: ${r.stderr}`);
        await waitUntil("new nginx workers after reload", () => {
          const now = workersOf(proc.pid);
          return now.length === workers && now.every((p) => !old.includes(p));
        });
        await waitUntil("old nginx workers to exit", () => old.every((p) => !alive(p)));
      },
    };
    return ngx;
  }
  throw new Error(`nginx did not start: ${lastError}`);
}

/**
 * Status code of a request (GET unless init says otherwise; the body is read
 * and discarded). Uses `Connection: close` so no pooled connection outlives a
 * worker that a reload retires.
 */
export async function requestStatus(url: string, init?: RequestInit): Promise<number> {
  const headers = new Headers(init?.headers);
  headers.set("connection", "close");
  const res = await fetch(url, {
    ...init,
    headers,
    signal: init?.signal ?? AbortSignal.timeout(5000),
  });
  await res.arrayBuffer();
  return res.status;
}
