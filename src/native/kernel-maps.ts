// bun:ffi face of the kernel's bpf() map commands, raw (no libbpf): the
// differential map tests (test/maps-kernel.test.ts) apply the same operation
// sequences to bpftime maps and to these kernel maps. Only BPF_MAP_CREATE and
// the element commands; results carry the kernel's errno instead of throwing,
// because comparing errors is the point.
//
// union bpf_attr layouts (include/uapi/linux/bpf.h):
//   BPF_MAP_CREATE: 0 u32 map_type  4 key_size  8 value_size  12 max_entries
//     16 map_flags  20 inner_map_fd  24 numa_node  28 char map_name[16]
//     44 map_ifindex  48 btf_fd  52 btf_key_type_id  56 btf_value_type_id
//     60 btf_vmlinux_value_type_id  64 u64 map_extra          (72 bytes)
//   element commands: 0 u32 map_fd  8 u64 key  16 u64 value|next_key
//     24 u64 flags                                              (32 bytes)
import { dlopen, FFIType, ptr, read } from "bun:ffi";

const { ptr: P, i32, i64, u64 } = FFIType;

const SYS_bpf = 321; // x86-64
const SYS_sched_setaffinity = 203;
const SYS_sched_getaffinity = 204;
const SYS_fcntl = 72;
const F_DUPFD_CLOEXEC = 1030;
/** Kernel map descriptors are moved at or above this number (see kernelMapCreate). */
const HIGH_FD = 900;

export const BPF_MAP_CREATE = 0;
export const BPF_MAP_LOOKUP_ELEM = 1;
export const BPF_MAP_UPDATE_ELEM = 2;
export const BPF_MAP_DELETE_ELEM = 3;
export const BPF_MAP_GET_NEXT_KEY = 4;
export const BPF_MAP_LOOKUP_AND_DELETE_ELEM = 21;

let libc:
  | ReturnType<
      typeof dlopen<{
        syscall: { args: [typeof i64, typeof u64, typeof u64, typeof u64]; returns: typeof i64 };
        __errno_location: { args: []; returns: typeof P };
        close: { args: [typeof i32]; returns: typeof i32 };
      }>
    >
  | undefined;

function c() {
  libc ??= dlopen("libc.so.6", {
    // long syscall(long nr, ...): integer arguments only, so the variadic
    // call needs no vector-register count.
    syscall: { args: [i64, u64, u64, u64], returns: i64 },
    __errno_location: { args: [], returns: P },
    close: { args: [i32], returns: i32 },
  });
  return libc.symbols;
}

function addr(b: Uint8Array): bigint {
  return BigInt(ptr(b));
}

/** One raw syscall: >= 0, or -errno (read right after the call, on the same thread). */
function sys(nr: number, a: bigint, b: bigint, d: bigint): number {
  const s = c();
  const rc = Number(s.syscall(nr, a, b, d));
  if (rc >= 0) return rc;
  const e = s.__errno_location();
  return -(e ? read.i32(e, 0) : 1);
}

/** BPF_MAP_CREATE: the new fd, or -errno. */
export function kernelMapCreate(m: {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  name?: string;
  mapExtra?: bigint;
  /** maps of maps: the template map's fd */
  innerMapFd?: number;
}): number {
  const attr = new Uint8Array(72);
  const v = new DataView(attr.buffer);
  v.setUint32(0, m.type, true);
  v.setUint32(4, m.keySize, true);
  v.setUint32(8, m.valueSize, true);
  v.setUint32(12, m.maxEntries, true);
  v.setUint32(16, m.flags ?? 0, true);
  v.setUint32(20, m.innerMapFd ?? 0, true);
  attr.set(new TextEncoder().encode((m.name ?? "").slice(0, 15)), 28);
  v.setBigUint64(64, m.mapExtra ?? 0n, true);
  const fd = sys(SYS_bpf, BigInt(BPF_MAP_CREATE), addr(attr), BigInt(attr.length));
  if (fd < 0) return fd;
  // Move it out of the low numbers: Bun closes the descriptors of finished
  // child processes asynchronously, and a number it is about to close may be
  // the one this map just got (seen as EBADF on the map's first update).
  const high = sys(SYS_fcntl, BigInt(fd), BigInt(F_DUPFD_CLOEXEC), BigInt(HIGH_FD));
  if (high < 0) return fd;
  c().close(fd);
  return high;
}

/** An element command on map `fd`: 0 or -errno. `value` receives lookups / next keys. */
export function kernelMapElem(
  cmd: number,
  fd: number,
  key: Uint8Array | null,
  value: Uint8Array | null,
  flags = 0n,
): number {
  const attr = new Uint8Array(32);
  const v = new DataView(attr.buffer);
  v.setUint32(0, fd, true);
  if (key && key.length) v.setBigUint64(8, addr(key), true);
  if (value && value.length) v.setBigUint64(16, addr(value), true);
  v.setBigUint64(24, flags, true);
  return sys(SYS_bpf, BigInt(cmd), addr(attr), BigInt(attr.length));
}

export function kernelClose(fd: number): void {
  if (fd >= 0) c().close(fd);
}

/**
 * Pins the calling thread to one CPU (sched_setaffinity(0, …)); returns a
 * function restoring the previous mask. The kernel's LRU lists are per CPU,
 * so its eviction order is only reproducible from a single CPU.
 */
export function pinToCpu(cpu: number): () => void {
  const old = new Uint8Array(128);
  const got = sys(SYS_sched_getaffinity, 0n, BigInt(old.length), addr(old));
  const mask = new Uint8Array(128);
  mask[cpu >> 3] = 1 << (cpu & 7);
  const rc = sys(SYS_sched_setaffinity, 0n, BigInt(mask.length), addr(mask));
  if (rc < 0) throw new Error(`sched_setaffinity(cpu ${cpu}): errno ${-rc}`);
  return () => {
    if (got > 0) sys(SYS_sched_setaffinity, 0n, BigInt(got), addr(old));
  };
}

const BPF_PROG_LOAD = 5;
const BPF_PROG_TEST_RUN = 10;

/**
 * BPF_PROG_LOAD of raw instructions (map fds already in the lddw immediates):
 * the new fd, or -errno. attr: 0 u32 prog_type  4 insn_cnt  8 u64 insns
 * 16 u64 license  24 log_level  28 log_size  32 u64 log_buf ...  48 prog_name[16].
 */
export function kernelProgLoad(type: number, insns: Uint8Array, license = "GPL"): number {
  const lic = new TextEncoder().encode(license + "\0");
  const attr = new Uint8Array(72);
  const v = new DataView(attr.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, insns.length / 8, true);
  v.setBigUint64(8, addr(insns), true);
  v.setBigUint64(16, addr(lic), true);
  return sys(SYS_bpf, BigInt(BPF_PROG_LOAD), addr(attr), BigInt(attr.length));
}

/**
 * BPF_PROG_TEST_RUN once over `data`: the program's return value, or
 * -errno as { errno }. attr: 0 u32 prog_fd  4 retval  8 data_size_in
 * 12 data_size_out  16 u64 data_in  24 u64 data_out  32 repeat  36 duration.
 */
export function kernelProgTestRun(fd: number, data: Uint8Array): { retval: number; errno: number } {
  const attr = new Uint8Array(80);
  const v = new DataView(attr.buffer);
  v.setUint32(0, fd, true);
  v.setUint32(8, data.length, true);
  v.setBigUint64(16, addr(data), true);
  v.setUint32(32, 1, true);
  const rc = sys(SYS_bpf, BigInt(BPF_PROG_TEST_RUN), addr(attr), BigInt(attr.length));
  return rc < 0 ? { retval: 0, errno: -rc } : { retval: v.getUint32(4, true), errno: 0 };
}
