// The negative suite: unsafe programs the verifier must refuse, each with
// the reason (substring) it must give. Programs are in the assembler syntax
// of src/asm (llvm-objdump style); `raw` programs are byte arrays.
//
// `kernel` records what the kernel's verifier (run as root, via kload.c)
// says about the same program: "reject" (agreement) or an explanation of
// why it accepts or cannot judge it. negative.test.ts checks these notes
// against the live kernel when bpf() is available.

import type { ProgramType } from "../contexts.ts";
import type { MapInfo } from "../verifier.ts";

export interface NegativeCase {
  name: string;
  type?: ProgramType;
  asm?: string;
  raw?: number[];
  expect: string;
  budget?: number;
  /** "reject" when the kernel refuses it too; otherwise why it differs */
  kernel: "reject" | { accepts: string } | { skip: string };
}

/** Maps every negative program may reference by index. */
export const NEG_MAPS: MapInfo[] = [
  { name: "arr", type: "array", keySize: 4, valueSize: 16, maxEntries: 4 },
  { name: "hash", type: "hash", keySize: 8, valueSize: 8, maxEntries: 16 },
  { name: "rb", type: "ringbuf", keySize: 0, valueSize: 0, maxEntries: 4096 },
  { name: "progs", type: "prog_array", keySize: 4, valueSize: 4, maxEntries: 4 },
  { name: "rodata", type: "array", keySize: 4, valueSize: 16, maxEntries: 1, readOnly: true },
];

const LOOKUP_ARR = `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  ld_pseudo r1, 5, 0
  call 1`;

const RESERVE_8 = `
  ld_pseudo r1, 5, 2
  r2 = 8
  r3 = 0
  call 131`;

const LOOKUP_HASH = `
  *(u64 *)(r10 - 8) = 0
  r2 = r10
  r2 += -8
  ld_pseudo r1, 5, 1
  call 1`;

const XDP_PKT = `
  r2 = *(u32 *)(r1 + 0)
  r3 = *(u32 *)(r1 + 4)`;

export const NEGATIVE: NegativeCase[] = [
  // ---------------------------------------------------------------- stack
  {
    name: "stack read below the 512-byte frame",
    asm: `r0 = *(u64 *)(r10 - 520)\nexit`,
    expect: "invalid stack access off=-520 size=8",
    kernel: "reject",
  },
  {
    name: "stack write above the frame pointer",
    asm: `*(u64 *)(r10 + 8) = 0\nr0 = 0\nexit`,
    expect: "invalid stack access off=8 size=8",
    kernel: "reject",
  },
  {
    name: "misaligned stack write",
    asm: `*(u64 *)(r10 - 12) = 0\nr0 = 0\nexit`,
    expect: "misaligned stack access off=-12 size=8",
    kernel: "reject",
  },
  {
    name: "uninitialised stack read",
    asm: `r0 = *(u64 *)(r10 - 8)\nexit`,
    expect: "uninitialised stack",
    kernel: {
      accepts:
        "root may read uninitialised stack since Linux 6.x (allow_uninit_stack); we refuse it: it would leak stale host stack memory",
    },
  },
  {
    name: "partly initialised stack read",
    asm: `*(u32 *)(r10 - 8) = 1\nr0 = *(u64 *)(r10 - 8)\nexit`,
    expect: "invalid read from stack off -8+4 size 8",
    kernel: { accepts: "root may read uninitialised stack (allow_uninit_stack)" },
  },
  {
    name: "variable-offset stack write beyond the frame",
    asm: `
      call 7
      r0 &= 1023
      r2 = r10
      r2 += -512
      r2 += r0
      *(u8 *)(r2 + 0) = 0
      r0 = 0
      exit`,
    expect: "invalid variable-offset stack access",
    kernel: "reject",
  },
  {
    name: "partial fill of a spilled pointer",
    asm: `*(u64 *)(r10 - 8) = r1\nr0 = *(u32 *)(r10 - 8)\nexit`,
    expect: "invalid size of register fill",
    kernel: "reject",
  },
  {
    name: "4-byte spill of a pointer",
    asm: `*(u32 *)(r10 - 8) = r1\nr0 = 0\nexit`,
    expect: "invalid size of register spill",
    kernel: "reject",
  },
  // ---------------------------------------------------------------- context
  {
    name: "xdp context read past the end",
    asm: `r0 = *(u32 *)(r1 + 0x40)\nexit`,
    expect: "invalid access to context at offset 64 size 4 (context is 24 bytes)",
    kernel: "reject",
  },
  {
    name: "xdp context write to data",
    asm: `*(u32 *)(r1 + 0) = 0\nr0 = 0\nexit`,
    expect: "write to read-only context field data",
    kernel: "reject",
  },
  {
    name: "xdp context write to ingress_ifindex",
    asm: `*(u32 *)(r1 + 12) = 1\nr0 = 0\nexit`,
    expect: "write to read-only context field ingress_ifindex",
    kernel: "reject",
  },
  {
    name: "narrow load of the data pointer",
    asm: `r0 = *(u16 *)(r1 + 0)\nexit`,
    expect: "pointer fields need a full 4-byte load",
    kernel: "reject",
  },
  {
    name: "dereference of a modified ctx pointer",
    asm: `r1 += 12\nr0 = *(u32 *)(r1 + 0)\nexit`,
    expect: "dereference of modified ctx ptr",
    kernel: "reject",
  },
  {
    name: "kprobe context write",
    type: "kprobe",
    asm: `r2 = 0\n*(u64 *)(r1 + 0) = r2\nr0 = 0\nexit`,
    expect: "write to read-only context",
    kernel: "reject",
  },
  {
    name: "kprobe context read past pt_regs",
    type: "kprobe",
    asm: `r0 = *(u64 *)(r1 + 168)\nexit`,
    expect: "invalid access to context at offset 168 size 8 (context is 168 bytes)",
    kernel: "reject",
  },
  {
    name: "kprobe misaligned context read",
    type: "kprobe",
    asm: `r0 = *(u64 *)(r1 + 4)\nexit`,
    expect: "misaligned context access",
    kernel: "reject",
  },
  {
    name: "socket filter write to len",
    type: "socket_filter",
    asm: `*(u32 *)(r1 + 0) = 0\nr0 = 0\nexit`,
    expect: "write to read-only context field len",
    kernel: "reject",
  },
  {
    name: "nginx context is read-only",
    type: "nginx_url_filter",
    asm: `r2 = 0\n*(u64 *)(r1 + 16) = r2\nr0 = 0\nexit`,
    expect: "write to read-only context field method",
    kernel: { skip: "nginx_url_filter is not a kernel program type" },
  },
  {
    name: "nginx context field read with a 4-byte load",
    type: "nginx_url_filter",
    asm: `r0 = *(u32 *)(r1 + 0)\nexit`,
    expect: "pointer fields need a full 8-byte load",
    kernel: { skip: "nginx_url_filter is not a kernel program type" },
  },
  {
    name: "same instruction with ctx and stack pointers",
    asm: `
      r6 = r1
      r0 = *(u32 *)(r1 + 12)
      *(u64 *)(r10 - 8) = 0
      r2 = r10
      r2 += -8
      if r0 == 0 goto +1
      r2 = r6
      r0 = *(u32 *)(r2 + 0)
      r0 = 0
      exit`,
    expect: "same insn cannot be used with different pointers",
    kernel: "reject",
  },
  // ---------------------------------------------------------------- packet
  {
    name: "packet read without a data_end check",
    asm: `${XDP_PKT}\nr0 = *(u8 *)(r2 + 0)\nexit`,
    expect: "invalid access to packet, off=0 size=1",
    kernel: "reject",
  },
  {
    name: "packet read past the checked range",
    asm: `${XDP_PKT}
      r4 = r2
      r4 += 14
      r0 = 0
      if r4 > r3 goto +1
      r0 = *(u8 *)(r2 + 14)
      exit`,
    expect: "invalid access to packet, off=14 size=1",
    kernel: "reject",
  },
  {
    name: "packet read on the failing side of the check",
    asm: `${XDP_PKT}
      r4 = r2
      r4 += 14
      r0 = 0
      if r4 <= r3 goto +1
      r0 = *(u8 *)(r2 + 0)
      exit`,
    expect: "invalid access to packet",
    kernel: "reject",
  },
  {
    name: "packet read before the start",
    asm: `${XDP_PKT}
      r4 = r2
      r4 += 14
      r0 = 0
      if r4 > r3 goto +1
      r0 = *(u8 *)(r2 - 1)
      exit`,
    expect: "invalid access to packet, off=-1",
    kernel: "reject",
  },
  {
    name: "packet pointer with unchecked variable offset",
    asm: `${XDP_PKT}
      r4 = r2
      r4 += 14
      r0 = 0
      if r4 > r3 goto +5
      r5 = *(u8 *)(r2 + 0)
      r2 += r5
      r0 = *(u8 *)(r2 + 0)
      r0 = 0
      exit
      exit`,
    expect: "invalid access to packet",
    kernel: "reject",
  },
  {
    name: "nginx url is read-only",
    type: "nginx_url_filter",
    asm: `
      r2 = *(u64 *)(r1 + 0)
      r3 = *(u64 *)(r1 + 8)
      r4 = r2
      r4 += 1
      r0 = 0
      if r4 > r3 goto +1
      *(u8 *)(r2 + 0) = 0
      exit`,
    expect: "write into read-only url memory",
    kernel: { skip: "nginx_url_filter is not a kernel program type" },
  },
  {
    name: "nginx url checked against the wrong end pointer",
    type: "nginx_url_filter",
    asm: `
      r2 = *(u64 *)(r1 + 0)
      r3 = *(u64 *)(r1 + 24)
      r4 = r2
      r4 += 1
      r0 = 0
      if r4 > r3 goto +1
      r0 = *(u8 *)(r2 + 0)
      exit`,
    expect: "invalid access to url, off=0 size=1",
    kernel: { skip: "nginx_url_filter is not a kernel program type" },
  },
  {
    name: "arithmetic on data_end",
    asm: `${XDP_PKT}\nr3 += 1\nr0 = 0\nexit`,
    expect: "pointer arithmetic on packet_end prohibited",
    kernel: "reject",
  },
  // ---------------------------------------------------------------- map values
  {
    name: "map value read past value_size",
    asm: `${LOOKUP_ARR}
      if r0 == 0 goto +1
      r0 = *(u64 *)(r0 + 16)
      r0 = 0
      exit`,
    expect: "invalid access to map value, value_size=16 off=16 size=8",
    kernel: "reject",
  },
  {
    name: "map value write past value_size",
    asm: `${LOOKUP_ARR}
      if r0 == 0 goto +1
      *(u32 *)(r0 + 14) = 1
      r0 = 0
      exit`,
    expect: "invalid access to map value, value_size=16 off=14 size=4",
    kernel: "reject",
  },
  {
    name: "map value read before the start",
    asm: `${LOOKUP_ARR}
      if r0 == 0 goto +1
      r0 = *(u8 *)(r0 - 1)
      r0 = 0
      exit`,
    expect: "invalid access to map value, value_size=16 off=-1 size=1",
    kernel: "reject",
  },
  {
    name: "map value with unbounded variable offset",
    asm: `${LOOKUP_ARR}
      if r0 == 0 goto +5
      r6 = r0
      call 7
      r6 += r0
      r0 = *(u8 *)(r6 + 0)
      r0 = 0
      exit`,
    expect: "math between map_value pointer and register with unbounded min value",
    kernel: "reject",
  },
  {
    name: "map value with a variable offset bounded too loosely",
    asm: `${LOOKUP_ARR}
      if r0 == 0 goto +5
      r6 = r0
      call 7
      r0 &= 31
      r6 += r0
      r0 = *(u64 *)(r6 + 0)
      r0 = 0
      exit`,
    expect: "invalid access to map value, value_size=16 off=0 size=8 (variable offset up to 31)",
    kernel: "reject",
  },
  {
    name: "map value with a possibly negative variable offset",
    asm: `${LOOKUP_ARR}
      if r0 == 0 goto +6
      r6 = r0
      call 7
      r0 &= 7
      r0 += -4
      r6 += r0
      r0 = *(u8 *)(r6 + 0)
      r0 = 0
      exit`,
    expect: "min value is negative",
    kernel: "reject",
  },
  {
    name: "missing null check",
    asm: `${LOOKUP_HASH}\nr0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit`,
    expect: "invalid mem access 'map_value_or_null' (missing null check)",
    kernel: "reject",
  },
  {
    name: "null check of a different lookup",
    asm: `${LOOKUP_HASH}
      r6 = r0
      r2 = r10
      r2 += -8
      ld_pseudo r1, 5, 1
      call 1
      if r0 == 0 goto +1
      r0 = *(u64 *)(r6 + 0)
      r0 = 0
      exit`,
    expect: "missing null check",
    kernel: "reject",
  },
  {
    name: "arithmetic on a maybe-null pointer",
    asm: `${LOOKUP_HASH}\nr0 += 4\nr0 = 0\nexit`,
    expect: "pointer arithmetic on map_value_or_null prohibited, null-check it first",
    kernel: "reject",
  },
  {
    name: "pointer stored into a map value",
    asm: `${LOOKUP_ARR}
      if r0 == 0 goto +1
      *(u64 *)(r0 + 0) = r10
      r0 = 0
      exit`,
    expect: "leaks addr into map value",
    kernel: {
      accepts:
        "root may store pointers into maps (allow_ptr_leaks); we keep host addresses out of shared memory",
    },
  },
  {
    name: "write into a read-only map",
    asm: `
      ld_pseudo r1, 6, 4
      *(u32 *)(r1 + 0) = 1
      r0 = 0
      exit`,
    expect: "write into map forbidden",
    kernel: "reject",
  },
  {
    name: "direct value access on a hash map",
    asm: `ld_pseudo r1, 6, 1\nr0 = 0\nexit`,
    expect: "direct value access on hash map 1 is not allowed",
    kernel: "reject",
  },
  {
    name: "invalid map index",
    asm: `ld_pseudo r1, 5, 7\nr0 = 0\nexit`,
    expect: "invalid map index 7",
    kernel: "reject",
  },
  {
    name: "arithmetic on a map pointer",
    asm: `ld_pseudo r1, 5, 0\nr1 += 8\nr0 = 0\nexit`,
    expect: "pointer arithmetic on map_ptr prohibited",
    kernel: "reject",
  },
  // ---------------------------------------------------------------- registers
  {
    name: "read of an uninitialised register",
    asm: `r0 = r5\nexit`,
    expect: "R5 !read_ok",
    kernel: "reject",
  },
  {
    name: "exit without setting r0",
    asm: `exit`,
    expect: "R0 !read_ok",
    kernel: "reject",
  },
  {
    name: "exit with r0 set on one path only",
    asm: `
      r1 = *(u32 *)(r1 + 12)
      if r1 == 0 goto +1
      r0 = 1
      exit`,
    expect: "R0 !read_ok",
    kernel: "reject",
  },
  {
    name: "caller-saved register read after a helper call",
    asm: `r1 = 1\ncall 5\nr0 = r1\nexit`,
    expect: "R1 !read_ok",
    kernel: "reject",
  },
  {
    name: "write to r10",
    asm: `r10 = 0\nr0 = 0\nexit`,
    expect: "frame pointer is read only",
    kernel: "reject",
  },
  {
    name: "arithmetic on r10 in place",
    asm: `r10 += -8\nr0 = 0\nexit`,
    expect: "frame pointer is read only",
    kernel: "reject",
  },
  {
    name: "returning a pointer",
    asm: `r0 = r10\nexit`,
    expect: "R0 leaks addr as return value",
    kernel: {
      accepts: "root may return pointers from XDP (allow_ptr_leaks); a host address is no verdict",
    },
  },
  {
    name: "returning the context pointer",
    asm: `r0 = r1\nexit`,
    expect: "R0 leaks addr as return value",
    kernel: {
      accepts: "root may return pointers from XDP (allow_ptr_leaks); a host address is no verdict",
    },
  },
  // ---------------------------------------------------------------- pointer arithmetic
  {
    name: "pointer multiplied by pointer",
    asm: `r2 = r1\nr2 *= r1\nr0 = 0\nexit`,
    expect: "pointer *= pointer prohibited",
    kernel: "reject",
  },
  {
    name: "shift of the context pointer",
    asm: `r1 <<= 2\nr0 = 0\nexit`,
    expect: "pointer arithmetic with <<= operator prohibited",
    kernel: "reject",
  },
  {
    name: "mask of the stack pointer",
    asm: `r2 = r10\nr2 &= 7\nr0 = 0\nexit`,
    expect: "bitwise operator &= on pointer prohibited",
    kernel: "reject",
  },
  {
    name: "32-bit arithmetic on a pointer",
    asm: `w1 += 4\nr0 = 0\nexit`,
    expect: "32-bit pointer arithmetic prohibited",
    kernel: "reject",
  },
  {
    name: "scalar minus pointer",
    asm: `r0 = 0\nr0 -= r1\nr0 = 0\nexit`,
    expect: "tried to subtract pointer from scalar",
    kernel: "reject",
  },
  {
    name: "stack pointer plus unbounded scalar",
    asm: `call 7\nr2 = r10\nr2 += r0\nr0 = 0\nexit`,
    expect: "math between stack pointer and register with unbounded min value",
    kernel: "reject",
  },
  // ---------------------------------------------------------------- ALU
  {
    name: "division by constant zero",
    asm: `r0 = 1\nr0 /= 0\nexit`,
    expect: "division by zero",
    kernel: "reject",
  },
  {
    name: "shift by 64",
    asm: `r0 = 1\nr0 <<= 64\nexit`,
    expect: "invalid shift 64",
    kernel: "reject",
  },
  // ---------------------------------------------------------------- control flow
  {
    name: "falling off the end",
    asm: `r0 = 0`,
    expect: "last insn is not an exit or jmp",
    kernel: "reject",
  },
  {
    name: "conditional jump as last instruction",
    asm: `r0 = 0\nif r0 == 0 goto -2`,
    expect: "last insn is not an exit or jmp",
    kernel: "reject",
  },
  {
    name: "unreachable code",
    asm: `r0 = 0\nexit\nr0 = 1\nexit`,
    expect: "unreachable insn 2",
    kernel: "reject",
  },
  {
    name: "jump into the middle of lddw",
    asm: `r0 = 0\nif r0 == 0 goto +1\nr1 = 0x100000000 ll\nexit`,
    expect: "jump into the middle of ldimm64 insn 2",
    kernel: "reject",
  },
  {
    name: "jump past the end",
    asm: `r0 = 0\ngoto +5\nexit`,
    expect: "jump out of range from insn 1 to 7",
    kernel: "reject",
  },
  {
    name: "jump before the start",
    asm: `r0 = 0\nif r0 == 0 goto -5\nexit`,
    expect: "jump out of range from insn 1 to -3",
    kernel: "reject",
  },
  {
    name: "infinite loop",
    asm: `
      r0 = 0
      r1 = *(u32 *)(r1 + 12)
      if r1 == 0 goto +1
      exit
      goto -1`,
    expect: "infinite loop detected",
    kernel: "reject",
  },
  {
    name: "loop without a usable bound",
    asm: `
      r0 = 0
      r1 = *(u32 *)(r1 + 12)
      r1 -= 1
      if r1 != 0 goto -2
      exit`,
    budget: 20000,
    expect: "program too complex or unbounded loop",
    kernel: "reject",
  },
  {
    name: "loop exceeding the instruction budget",
    asm: `
      r0 = 0
      r1 = 0
      r1 += 1
      if r1 != 0 goto -2
      exit`,
    budget: 20000,
    expect: "program too complex or unbounded loop",
    kernel: "reject",
  },
  {
    name: "unknown opcode",
    raw: [0xff, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    expect: "unknown opcode 0xff",
    kernel: "reject",
  },
  {
    name: "register r11",
    raw: [0xb7, 0x0b, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    expect: "invalid register r11",
    kernel: "reject",
  },
  {
    name: "truncated lddw",
    raw: [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x18, 1, 0, 0, 0, 0, 0, 0],
    expect: "invalid bpf_ld_imm64",
    kernel: "reject",
  },
  {
    name: "lddw whose second slot has an opcode",
    raw: [
      0x18, 1, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0, 0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0,
      0, 0, 0, 0, 0,
    ],
    expect: "invalid bpf_ld_imm64",
    kernel: "reject",
  },
  {
    name: "reserved field set (exit with imm 1)",
    raw: [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 1, 0, 0, 0],
    expect: "reserved field imm must be 0",
    kernel: "reject",
  },
  {
    name: "reserved field set (ldx with imm)",
    raw: [0x61, 0x10, 16, 0, 5, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    expect: "reserved field imm must be 0",
    kernel: "reject",
  },
  // ---------------------------------------------------------------- helpers
  {
    name: "unknown helper",
    asm: `call 9999\nr0 = 0\nexit`,
    expect: "invalid func unknown#9999",
    kernel: "reject",
  },
  {
    name: "helper the runtime does not provide",
    asm: `call 9\nr0 = 0\nexit`,
    expect: "invalid func unknown#9",
    kernel: "reject",
  },
  {
    name: "map lookup with the context as map",
    asm: `*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\ncall 1\nr0 = 0\nexit`,
    expect: "R1 type=ctx expected=map_ptr",
    kernel: "reject",
  },
  {
    name: "map key on uninitialised stack",
    asm: `r2 = r10\nr2 += -4\nld_pseudo r1, 5, 0\ncall 1\nr0 = 0\nexit`,
    expect: "uninitialised stack passed to map_lookup_elem",
    kernel: { accepts: "root may pass uninitialised stack (allow_uninit_stack)" },
  },
  {
    name: "map key outside the stack",
    asm: `r2 = r10\nld_pseudo r1, 5, 0\ncall 1\nr0 = 0\nexit`,
    expect: "invalid indirect access to stack R2 off=0 size=4",
    kernel: "reject",
  },
  {
    name: "map key as a scalar",
    asm: `r2 = 0\nld_pseudo r1, 5, 0\ncall 1\nr0 = 0\nexit`,
    expect: "R2 type=scalar expected=fp, pkt, map_value, mem",
    kernel: "reject",
  },
  {
    name: "helper size larger than the buffer",
    type: "kprobe",
    asm: `r1 = r10\nr1 += -16\nr2 = 64\nr3 = 0\ncall 112\nr0 = 0\nexit`,
    expect: "invalid indirect access to stack R1 off=-16 size=64",
    kernel: "reject",
  },
  {
    name: "helper size unbounded",
    type: "kprobe",
    asm: `call 7\nr2 = r0\nr2 >>= 1\nr1 = r10\nr1 += -16\nr3 = 0\ncall 112\nr0 = 0\nexit`,
    expect: "unbounded memory access",
    kernel: "reject",
  },
  {
    name: "helper size zero where it must be positive",
    type: "kprobe",
    asm: `r1 = r10\nr1 += -16\nr2 = 0\ncall 16\nr0 = 0\nexit`,
    expect: "invalid zero-sized read",
    kernel: "reject",
  },
  {
    name: "uninitialised helper argument",
    asm: `
      *(u32 *)(r10 - 4) = 0
      *(u64 *)(r10 - 24) = 0
      *(u64 *)(r10 - 16) = 0
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -24
      ld_pseudo r1, 5, 0
      call 2
      r0 = 0
      exit`,
    expect: "R4 !read_ok",
    kernel: "reject",
  },
  {
    name: "tail call through an array map",
    asm: `ld_pseudo r2, 5, 0\nr3 = 0\ncall 12\nr0 = 0\nexit`,
    expect: "cannot pass map_type array into func tail_call",
    kernel: "reject",
  },
  {
    name: "format string in a writable map",
    type: "kprobe",
    asm: `
      r1 = r10
      r1 += -16
      r2 = 16
      ld_pseudo r3, 6, 0
      r4 = 0
      r5 = 0
      call 165
      r0 = 0
      exit`,
    expect: "does not point to a readonly map",
    kernel: "reject",
  },
  {
    name: "atomic add to the context",
    asm: `r2 = 1\nlock *(u32 *)(r1 + 12) += w2\nr0 = 0\nexit`,
    expect: "BPF_ATOMIC stores into R1 ctx is not allowed",
    kernel: "reject",
  },
  {
    name: "atomic fetch of a spilled pointer leaks its address",
    // The old value would come back as a number: the context's address.
    asm: `
      *(u64 *)(r10 - 8) = r1
      r2 = 0
      r2 = atomic_fetch_add((u64 *)(r10 - 8), r2)
      r0 = r2
      exit`,
    expect: "leaking pointer from stack off -8",
    kernel: {
      accepts:
        "as root the kernel allows pointer leaks (the fetched register keeps the pointer type); an unprivileged load is refused with the same 'leaking pointer from stack', the rule bpftime applies to every program",
    },
  },
  {
    name: "atomic exchange with a spilled pointer leaks its address",
    asm: `
      *(u64 *)(r10 - 8) = r1
      r2 = 0
      r2 = xchg_64(r10 - 8, r2)
      r0 = r2
      exit`,
    expect: "leaking pointer from stack off -8",
    kernel: {
      accepts:
        "as root the kernel allows pointer leaks (the fetched register keeps the pointer type); an unprivileged load is refused with the same 'leaking pointer from stack', the rule bpftime applies to every program",
    },
  },
  // ---------------------------------------------------------------- ringbuf references
  {
    name: "ringbuf record leaked",
    type: "kprobe",
    asm: `${RESERVE_8}
      if r0 == 0 goto +1
      r0 = 0
      r0 = 0
      exit`,
    expect: "reference leak",
    kernel: "reject",
  },
  {
    name: "ringbuf record leaked on one path",
    type: "kprobe",
    asm: `${RESERVE_8}
      if r0 == 0 goto +6
      r6 = r0
      call 7
      if r0 > 100 goto +3
      r1 = r6
      r2 = 0
      call 132
      r0 = 0
      exit`,
    expect: "unreleased reference",
    kernel: "reject",
  },
  {
    name: "ringbuf double submit",
    type: "kprobe",
    asm: `${RESERVE_8}
      if r0 == 0 goto +7
      r6 = r0
      r1 = r6
      r2 = 0
      call 132
      r1 = r6
      r2 = 0
      call 132
      r0 = 0
      exit`,
    expect: "R1 type=scalar expected=ringbuf record",
    kernel: "reject",
  },
  {
    name: "ringbuf use after submit",
    type: "kprobe",
    asm: `${RESERVE_8}
      if r0 == 0 goto +5
      r6 = r0
      r1 = r6
      r2 = 0
      call 132
      *(u32 *)(r6 + 0) = 1
      r0 = 0
      exit`,
    expect: "R6 invalid mem access 'scalar'",
    kernel: "reject",
  },
  {
    name: "ringbuf submit without null check",
    type: "kprobe",
    asm: `${RESERVE_8}\nr1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit`,
    expect: "R1 type=mem_or_null expected=ringbuf record",
    kernel: "reject",
  },
  {
    name: "ringbuf record written past its size",
    type: "kprobe",
    asm: `${RESERVE_8}
      if r0 == 0 goto +5
      *(u32 *)(r0 + 8) = 1
      r1 = r0
      r2 = 0
      call 133
      r0 = 0
      r0 = 0
      exit`,
    expect: "invalid access to memory, mem_size=8 off=8 size=4",
    kernel: "reject",
  },
  {
    name: "ringbuf reserve with a variable size",
    type: "kprobe",
    asm: `
      call 7
      r2 = r0
      r2 &= 63
      ld_pseudo r1, 5, 2
      r3 = 0
      call 131
      r0 = 0
      exit`,
    expect: "is not a known constant",
    kernel: "reject",
  },
  {
    name: "ringbuf reserve on an array map",
    type: "kprobe",
    asm: `ld_pseudo r1, 5, 0\nr2 = 8\nr3 = 0\ncall 131\nr0 = 0\nexit`,
    expect: "cannot pass map_type array into func ringbuf_reserve",
    kernel: "reject",
  },
  {
    name: "ringbuf submit of a moved pointer",
    type: "kprobe",
    asm: `${RESERVE_8}
      if r0 == 0 goto +4
      r1 = r0
      r1 += 4
      r2 = 0
      call 132
      r0 = 0
      exit`,
    expect: "must have zero offset when passed to release func",
    kernel: "reject",
  },
  {
    name: "tail call while holding a ringbuf record",
    type: "kprobe",
    asm: `
      r6 = r1
      ld_pseudo r1, 5, 2
      r2 = 8
      r3 = 0
      call 131
      if r0 == 0 goto +9
      r7 = r0
      r1 = r6
      ld_pseudo r2, 5, 3
      r3 = 0
      call 12
      r1 = r7
      r2 = 0
      call 133
      r0 = 0
      exit`,
    expect: "tail_call would lead to reference leak",
    kernel: "reject",
  },
  // ---------------------------------------------------------------- subprograms
  {
    name: "recursion",
    asm: `
      call local f
      exit
    f:
      call local f
      r0 = 0
      exit`,
    expect: "recursive call",
    kernel: "reject",
  },
  {
    name: "call depth of 9 frames",
    asm: `
      call local f1
      exit
    f1:
      call local f2
      exit
    f2:
      call local f3
      exit
    f3:
      call local f4
      exit
    f4:
      call local f5
      exit
    f5:
      call local f6
      exit
    f6:
      call local f7
      exit
    f7:
      call local f8
      exit
    f8:
      r0 = 0
      exit`,
    expect: "the call stack of 9 frames is too deep",
    kernel: "reject",
  },
  {
    name: "subprogram returns a pointer to its own stack",
    asm: `
      call local f
      r0 = 0
      exit
    f:
      r0 = r10
      r0 += -8
      exit`,
    expect: "cannot return stack pointer to the caller",
    kernel: "reject",
  },
  {
    name: "subprogram exit without r0",
    asm: `
      call local f
      exit
    f:
      exit`,
    expect: "R0 !read_ok",
    kernel: "reject",
  },
  {
    name: "subprogram jumps into its caller",
    asm: `
      call local f
      exit
    f:
      r0 = 0
      goto -3`,
    expect: "jump out of range",
    kernel: "reject",
  },
  {
    name: "subprogram reads an argument the caller did not set",
    asm: `
      call local f
      exit
    f:
      r0 = r3
      exit`,
    expect: "R3 !read_ok",
    kernel: "reject",
  },
  {
    name: "subprogram stack access below its frame",
    asm: `
      call local f
      exit
    f:
      *(u64 *)(r10 - 520) = 0
      r0 = 0
      exit`,
    expect: "invalid stack access off=-520",
    kernel: "reject",
  },
  // ------------------------------------------- soundness (issue 14 root causes)
  {
    name: "32-bit left shift by a register count of 32 hides a path",
    // The VM masks the count to 5 bits (w7 << 0 = w7, never 0): the branch
    // below is reachable and its out-of-frame read must be checked.
    asm: `
      call 7
      w7 = w0
      w7 |= 1
      w8 = 32
      w7 <<= w8
      if w7 == 0 goto +1
      r0 = *(u64 *)(r10 + 8)
      r0 = 0
      exit`,
    expect: "invalid stack access off=8 size=8",
    kernel: "reject",
  },
  {
    name: "64-bit multiply whose signed product overflows gives a stack offset",
    // 0xffffffff * 0xffffffff is negative as s64: s>>= 63 gives -1, not a known 0.
    asm: `
      call 7
      w6 = w0
      r6 *= r6
      r6 s>>= 63
      r6 <<= 12
      r1 = r10
      r1 += -8
      r1 += r6
      *(u64 *)(r1 + 0) = 0
      r0 = 0
      exit`,
    expect: "R1 math between stack pointer and register with unbounded min value",
    kernel: "reject",
  },
  // ------------------------------------------- helpers allowed per program type
  {
    name: "xdp program writes into the host with bpf_probe_write_user",
    asm: `
      *(u64 *)(r10 - 8) = 0
      r1 = 4096
      r2 = r10
      r2 += -8
      r3 = 8
      call 36
      r0 = 2
      exit`,
    expect: "bpf_probe_write_user#36 is not allowed in xdp programs",
    kernel: "reject",
  },
  {
    name: "nginx URL filter writes into the host with bpf_probe_write_user",
    type: "nginx_url_filter",
    asm: `
      *(u64 *)(r10 - 8) = 0
      r1 = 4096
      r2 = r10
      r2 += -8
      r3 = 8
      call 36
      r0 = 0
      exit`,
    expect: "bpf_probe_write_user#36 is not allowed in nginx_url_filter programs",
    kernel: { skip: "nginx_url_filter has no kernel program type" },
  },
  {
    name: "kprobe calls bpf_probe_write_user without --allow-write-user",
    type: "kprobe",
    asm: `
      *(u64 *)(r10 - 8) = 0
      r1 = 4096
      r2 = r10
      r2 += -8
      r3 = 8
      call 36
      r0 = 0
      exit`,
    expect: "load with --allow-write-user",
    kernel: {
      skip: "kernels differ (privileged kprobes may call it on some, 6.18 refuses it); bpftime asks for the explicit load flag",
    },
  },
  {
    name: "xdp program reads host memory with bpf_probe_read",
    asm: `
      r1 = r10
      r1 += -8
      r2 = 8
      r3 = 4096
      call 4
      r0 = 2
      exit`,
    expect: "bpf_probe_read#4 is not allowed in xdp programs",
    kernel: "reject",
  },
  {
    name: "socket filter reads host memory with bpf_probe_read_user",
    type: "socket_filter",
    asm: `
      r1 = r10
      r1 += -8
      r2 = 8
      r3 = 4096
      call 112
      r0 = 0
      exit`,
    expect: "bpf_probe_read_user#112 is not allowed in socket_filter programs",
    kernel: {
      accepts:
        "the kernel gives privileged network programs probe_read_user; bpftime keeps host-memory reads to tracing types by design (README, helpers per program type)",
    },
  },
  {
    name: "callx of the tail-call helper id",
    asm: `
      r2 = 12
      callx r2
      r0 = 2
      exit`,
    expect: "bpf_tail_call is only reached by `call 12`",
    kernel: "reject",
  },
  {
    name: "callx through a register read from the context",
    asm: `
      r3 = *(u32 *)(r1 + 12)
      callx r3
      r0 = 2
      exit`,
    expect: "the verifier cannot prove which helper it calls (r3 is not a known constant)",
    kernel: "reject",
  },
  {
    name: "a spilled context pointer passed as a map value (pointer leak into the map)",
    asm: `
      *(u64 *)(r10 - 8) = r1
      *(u64 *)(r10 - 16) = 0
      ld_pseudo r1, 5, 1
      r2 = r10
      r2 += -16
      r3 = r10
      r3 += -8
      r4 = 0
      call 2
      r0 = 0
      exit`,
    expect:
      "R3 off -8+0 size 8: a spilled ctx pointer would leak as data (passed to map_update_elem#2)",
    kernel: {
      accepts:
        "the kernel lets privileged programs leak pointers (allow_ptr_leaks); a bpftime program runs inside another process, whose addresses are that process's secrets (README)",
    },
  },
];
