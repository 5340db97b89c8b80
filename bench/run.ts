// `npm run bench [-- NAME...]`: every benchmark, one after the other (they
// would disturb each other side by side). Each prints its own table of
// ratios against a baseline measured in the same run; nothing here asserts a
// timing. The README quotes these tables with this command.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const here = import.meta.dir;
const benches: Record<string, { what: string; cmd: string[] }> = {
  vm: {
    what: "VM: interpreter and JIT vs native C -O2 and the kernel JIT",
    cmd: ["sh", join(here, "vm/run.sh")],
  },
  maps: {
    what: "map helpers: bpftime vs the kernel (BPF_PROG_TEST_RUN)",
    cmd: ["sh", join(here, "maps/run.sh")],
  },
  "maps-scale": {
    what: "hash and LRU map operations at 1k, 100k, 1M entries: bpftime vs the kernel (BPF_PROG_TEST_RUN)",
    cmd: ["sh", join(here, "maps-scale/run.sh")],
  },
  ringbuf: {
    what: "ringbuf records/s with 1 and 4 producer processes: bpftime vs the kernel's ringbuf (one libbpf app)",
    cmd: ["sh", join(here, "ringbuf/run.sh")],
  },
  uprobe: {
    what: "uprobes: ns per call, bpftime (jump and trap paths) vs kernel uprobes",
    cmd: ["sh", join(here, "uprobe/run.sh")],
  },
  syscall: {
    what: "syscall targets: ns per intercepted getpid, bpftime (Syscall User Dispatch) vs the kernel tracepoint",
    cmd: [process.execPath, join(here, "syscall/run.ts")],
  },
  "syscall-server": {
    what: "map lookups from an application: bpftime load's syscall server vs the kernel's bpf()",
    cmd: ["sh", join(here, "syscall-server/run.sh")],
  },
  nginx: {
    what: "nginx: requests/s with no module, a native C filter, bpftime",
    cmd: [process.execPath, join(here, "nginx/run.ts")],
  },
  "nginx-call": {
    what: "nginx: CPU ns the module's call adds per request (prefix filter, full example with and without a consumer)",
    cmd: [process.execPath, join(here, "nginx/call.ts")],
  },
  "nginx-links": {
    what: "nginx: requests/s and worker CPU per request with 1, 10 and 100 bpftime links on one target",
    cmd: [process.execPath, join(here, "nginx/run.ts"), "--links", "1,10,100", "--no-native"],
  },
  verifier: {
    what: "verifier: processed instructions and time, ours beside the kernel's verifier",
    cmd: [process.execPath, join(here, "verifier/run.ts")],
  },
  "big-program": {
    what: "a generated 10k- and 100k-instruction program: our verify + JIT time beside the kernel's load",
    cmd: [process.execPath, join(here, "big-program/run.ts")],
  },
  "verifier-soundness": {
    what: "verifier soundness: millions of ALU ops against the VM, random programs on a reference interpreter (exits non-zero when unsound)",
    cmd: [process.execPath, join(here, "verifier-soundness/run.ts")],
  },
};

const chosen = process.argv.slice(2);
for (const name of chosen) {
  if (!benches[name]) {
    console.error(`bench: unknown benchmark "${name}": choose ${Object.keys(benches).join(", ")}`);
    process.exit(2);
  }
}
let failed = 0;
for (const [name, b] of Object.entries(benches)) {
  if (chosen.length && !chosen.includes(name)) continue;
  console.log(`\n=== ${name}: ${b.what}\n$ ${b.cmd.join(" ")}`);
  const r = spawnSync(b.cmd[0]!, b.cmd.slice(1), { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`bench ${name} exited with ${r.status ?? r.signal}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
