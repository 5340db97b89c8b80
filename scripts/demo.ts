// The README's main job, end to end on this machine: build the URL-filter
// example, create a region, load and attach it to nginx with a prefix, start
// the Debian nginx with the bpftime module on a free loopback port (config
// generated in a temporary directory), send accepted and refused requests,
// show the 200/403 outcomes, the events and the counters, swap the program
// live, and stop everything it started.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = join(import.meta.dir, "..");
const bin = join(repo, "dist", "bpftime");
const shm = `demo-${process.pid}`;
const prefix = process.env.DEMO_PREFIX ?? "/aaaa";
const dir = mkdtempSync(join(tmpdir(), "bpftime-demo-"));
let nginx: ReturnType<typeof spawn> | undefined;

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function bpftime(...args: string[]): string {
  console.log(bold(`\n$ bpftime ${args.join(" ")}`));
  const r = spawnSync(bin, [...args, "--shm", shm], { encoding: "utf8" });
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`bpftime ${args.join(" ")} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function listening(port: number): Promise<boolean> {
  try {
    const sock = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    sock.end();
    return true;
  } catch {
    return false;
  }
}

async function requests(port: number, paths: string[]): Promise<void> {
  for (const p of paths) {
    const res = await fetch(`http://127.0.0.1:${port}${p}`, { headers: { connection: "close" } });
    await res.arrayBuffer();
    console.log(`  GET ${p.padEnd(22)} -> ${res.status}`);
  }
}

function cleanup(): void {
  if (nginx?.pid) {
    try {
      process.kill(-nginx.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  spawnSync(bin, ["shm", "remove", shm], { stdio: "ignore" });
  rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const port = await freePort();
  mkdirSync(join(dir, "www", "aaaa"), { recursive: true });
  mkdirSync(join(dir, "www", "bbbb"), { recursive: true });
  mkdirSync(join(dir, "tmp"), { recursive: true });
  writeFileSync(join(dir, "www", "aaaa", "index.html"), "welcome to /aaaa\n");
  writeFileSync(join(dir, "www", "bbbb", "index.html"), "welcome to /bbbb\n");
  const user = process.getuid?.() === 0 ? "user root root;" : "";
  writeFileSync(
    join(dir, "nginx.conf"),
    `load_module ${repo}/nginx/build/ngx_http_bpftime_module.so;
${user}
daemon off; master_process on; worker_processes 2;
error_log ${dir}/error.log info; pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/cb; proxy_temp_path ${dir}/tmp/p; fastcgi_temp_path ${dir}/tmp/f;
  uwsgi_temp_path ${dir}/tmp/u; scgi_temp_path ${dir}/tmp/s;
  bpftime on;
  bpftime_shm ${shm};
  server { listen 127.0.0.1:${port}; root ${dir}/www; location / { } }
}
`,
  );

  console.log(
    bold("== 1. Load the URL filter (verified, JIT-compiled later in each worker) and attach it"),
  );
  bpftime("load", join(repo, "examples/build/url_filter.bpf.o"));
  bpftime("attach", "url_filter", "nginx", "--prefix", prefix);

  console.log(bold(`\n== 2. Start nginx (2 workers) with the bpftime module on 127.0.0.1:${port}`));
  nginx = spawn("/usr/sbin/nginx", ["-p", dir, "-c", join(dir, "nginx.conf")], {
    detached: true,
    stdio: "ignore",
  });
  // Wait for the port with plain TCP connects, so no request reaches the filter yet.
  for (let i = 0; !(await listening(port)); i++) {
    if (i > 100) throw new Error(`nginx did not start; see ${dir}/error.log`);
    await Bun.sleep(50);
  }

  console.log(bold(`\n== 3. Requests: only URLs under ${prefix} are accepted`));
  await requests(port, [
    `${prefix}/`,
    "/bbbb/",
    `${prefix}/index.html?x=1`,
    "/",
    "/bbbb/index.html",
  ]);

  console.log(
    bold(
      "\n== 4. What the program saw: its ringbuf events and its counters (0 = refused, 1 = accepted)",
    ),
  );
  bpftime("events", "events", "--count", "5", "--timeout", "3");
  bpftime("map", "dump", "verdict_counts");
  bpftime("list");

  console.log(
    bold("\n== 5. Swap the policy live: url_blocklist hides the prefix with 404, no nginx reload"),
  );
  bpftime("load", join(repo, "examples/build/url_blocklist.bpf.o"));
  bpftime("replace", "1", "url_blocklist");
  await requests(port, [`${prefix}/`, "/bbbb/"]);

  console.log(bold("\n== 6. Detach: every request passes"));
  bpftime("detach", "1");
  await requests(port, [`${prefix}/`, "/bbbb/"]);
  console.log(bold("\nDone: nginx stopped, region and temporary files removed."));
}

process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});
try {
  await main();
} catch (e) {
  console.error(`demo: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
