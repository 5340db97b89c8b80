// A kernel uprobe and a bpftime (userspace) hook on the same code do not mix:
// the kernel writes int3 over the first byte of the probed instruction in
// every process that maps the file, and puts the file's original byte back
// when the uprobe goes — into the middle of bpftime's jump, which then
// crashes the process (general protection fault). `attach --kernel` checks
// here that no running process has bpftime's patch where the uprobe would go.
// (The other order — bpftime hooking code that already has a kernel uprobe —
// is refused by the agent: native/attach/uprobe.c finds the int3.)
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { BpftimeError } from "../../errors.ts";

const WINDOW = 16; // bytes compared: covers bpftime's 5-byte jump and what it overwrote

/** glibc's makedev(): how stat's st_dev encodes the "MAJ:MIN" /proc/PID/maps shows. */
function makedev(major: number, minor: number): bigint {
  const M = BigInt(major);
  const m = BigInt(minor);
  return (
    ((M & 0xfffff000n) << 32n) | ((M & 0xfffn) << 8n) | ((m & 0xffffff00n) << 12n) | (m & 0xffn)
  );
}

/** Where file offset `offset` of the file (dev, ino) is mapped executable in pid, if it is. */
function mappedAt(maps: string, dev: bigint, ino: bigint, offset: number): number | undefined {
  for (const line of maps.split("\n")) {
    const f = line.split(/\s+/);
    if (f.length < 6 || !f[1]!.includes("x") || BigInt(f[4]!) !== ino) continue;
    const [maj, min] = f[3]!.split(":").map((x) => parseInt(x, 16));
    if (makedev(maj!, min!) !== dev) continue;
    const [start, end] = f[0]!.split("-").map((x) => parseInt(x, 16));
    const fileOff = parseInt(f[2]!, 16);
    if (offset >= fileOff && offset < fileOff + (end! - start!)) return start! + offset - fileOff;
  }
  return undefined;
}

function readAt(path: string, position: number, len: number): Buffer | undefined {
  let fd = -1;
  try {
    fd = openSync(path, "r");
    const b = Buffer.alloc(len);
    return readSync(fd, b, 0, len, position) === len ? b : undefined;
  } catch {
    return undefined; // gone, or not ours to read
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * Pids of processes with the bpftime agent whose code at `offset` of `file`
 * differs from the file other than by one int3 (what a kernel uprobe or a
 * breakpoint writes): bpftime's patch is there.
 */
export function processesPatchedAt(file: string, offset: number): number[] {
  const st = statSync(file, { bigint: true });
  const want = readAt(file, offset, WINDOW);
  if (!want) return [];
  const out: number[] = [];
  for (const ent of readdirSync("/proc")) {
    if (!/^\d+$/.test(ent) || Number(ent) === process.pid) continue;
    let maps: string;
    try {
      maps = readFileSync(`/proc/${ent}/maps`, "utf8");
    } catch {
      continue;
    }
    if (!maps.includes("libbpftime-agent")) continue;
    const vaddr = mappedAt(maps, st.dev, st.ino, offset);
    if (vaddr === undefined) continue;
    const have = readAt(`/proc/${ent}/mem`, vaddr, WINDOW);
    if (!have || have.equals(want)) continue;
    const onlyInt3 = have[0] === 0xcc && have.subarray(1).equals(want.subarray(1));
    if (!onlyInt3) out.push(Number(ent));
  }
  return out;
}

/** Refuses a kernel uprobe at file:offset where a running process has bpftime's patch. */
export function refuseIfPatchedByBpftime(arg: string, file: string, offset: number): void {
  const pids = processesPatchedAt(file, offset);
  if (pids.length === 0) return;
  throw new BpftimeError(
    "busy",
    `attach --kernel: ${arg} is hooked by bpftime in process ${pids.join(", ")}; a kernel uprobe there would crash it when removed: detach the bpftime link or \`bpftime eject ${pids[0]}\` first`,
  );
}
