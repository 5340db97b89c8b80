// `npm run bench [-- NAME...]`: every benchmark, one after the other (they
// would disturb each other side by side). Each prints its own table of
// ratios against a baseline measured in the same run; nothing here asserts a
// timing. The README quotes these tables with this command.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const here = import.meta.dir;
// Each benchmark: what it measures, and the command that runs it.
const sh = (script: string): string[] => ["sh", join(here, script)];
const bun = (script: string, ...args: string[]): string[] => [
  process.execPath,
  join(here, script),
  ...args,
];
const benches: Record<string, [what: string, cmd: string[]]> = {
  vm: ["VM: interpreter and JIT vs native C -O2 and the kernel JIT", sh("vm/run.sh")],
  maps: ["map helpers: bpftime vs the kernel (BPF_PROG_TEST_RUN)", sh("maps/run.sh")],
  "maps-scale": [
    "hash and LRU map operations at 1k, 100k, 1M entries: bpftime vs the kernel (BPF_PROG_TEST_RUN)",
    sh("maps-scale/run.sh"),
  ],
  ringbuf: [
    "ringbuf records/s with 1 and 4 producer processes: bpftime vs the kernel's ringbuf (one libbpf app)",
    sh("ringbuf/run.sh"),
  ],
  uprobe: [
    "uprobes: ns per call, bpftime (jump and trap paths) vs kernel uprobes",
    sh("uprobe/run.sh"),
  ],
  syscall: [
    "syscall targets: ns per intercepted getpid, bpftime (Syscall User Dispatch) vs the kernel tracepoint",
    bun("syscall/run.ts"),
  ],
  "syscall-server": [
    "map lookups from an application: bpftime load's syscall server vs the kernel's bpf()",
    sh("syscall-server/run.sh"),
  ],
  nginx: ["nginx: requests/s with no module, a native C filter, bpftime", bun("nginx/run.ts")],
  "nginx-call": [
    "nginx: CPU ns the module's call adds per request (prefix filter, full example with and without a consumer)",
    bun("nginx/call.ts"),
  ],
  "nginx-links": [
    "nginx: requests/s and worker CPU per request with 1, 10 and 100 bpftime links on one target",
    bun("nginx/run.ts", "--links", "1,10,100", "--no-native"),
  ],
  verifier: [
    "verifier: processed instructions and time, ours beside the kernel's verifier",
    bun("verifier/run.ts"),
  ],
  "big-program": [
    "a generated 10k- and 100k-instruction program: our verify + JIT time beside the kernel's load",
    bun("big-program/run.ts"),
  ],
  "verifier-soundness": [
    "verifier soundness: millions of ALU ops against the VM, random programs on a reference interpreter (exits non-zero when unsound)",
    bun("verifier-soundness/run.ts"),
  ],
};

const chosen = process.argv.slice(2);
for (const name of chosen) {
  if (!benches[name]) {
    console.error(`bench: unknown benchmark "${name}": choose ${Object.keys(benches).join(", ")}`);
    process.exit(2);
  }
}
let failed = 0;
for (const [name, [what, cmd]] of Object.entries(benches)) {
  if (chosen.length && !chosen.includes(name)) continue;
  console.log(`\n=== ${name}: ${what}\n$ ${cmd.join(" ")}`);
  const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`bench ${name} exited with ${r.status ?? r.signal}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
