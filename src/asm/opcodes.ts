// eBPF opcode fields, as in RFC 9669 (BPF Instruction Set Architecture),
// including ISA v4 (movsx, sdiv/smod, bswap, BPF_MEMSX, gotol) and atomics.
//
// The opcode byte is split three ways depending on its class:
//   arithmetic and jumps: | op (4 bits) | source (1 bit) | class (3 bits) |
//   loads and stores:     | mode (3 bits) | size (2 bits) | class (3 bits) |

/** Instruction class: the low three bits of the opcode. */
export const Class = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;

/** Operand source of arithmetic and jump instructions (bit 3). */
export const Source = {
  /** 32-bit immediate operand (BPF_K). */
  K: 0x00,
  /** register operand (BPF_X). For BPF_END: to big endian (BPF_TO_BE). */
  X: 0x08,
} as const;

/** Arithmetic operation (high four bits) of ALU and ALU64 instructions. */
export const AluOp = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  /** unsigned division; signed (sdiv) when off = 1 */
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  /** unsigned modulo; signed (smod) when off = 1 */
  MOD: 0x90,
  XOR: 0xa0,
  /** move; sign-extending move (movsx) when off = 8, 16 or 32 */
  MOV: 0xb0,
  ARSH: 0xc0,
  /** byte swap: ALU|K = to little endian, ALU|X = to big endian, ALU64|K = bswap */
  END: 0xd0,
} as const;

/** Jump operation (high four bits) of JMP and JMP32 instructions. */
export const JmpOp = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
} as const;

/** Access size of loads and stores (bits 3-4). */
export const Size = {
  W: 0x00,
  H: 0x08,
  B: 0x10,
  DW: 0x18,
} as const;

/** Addressing mode of loads and stores (high three bits). */
export const Mode = {
  IMM: 0x00,
  /** legacy packet access (BPF_LD only) */
  ABS: 0x20,
  /** legacy packet access (BPF_LD only) */
  IND: 0x40,
  MEM: 0x60,
  /** sign-extending load (BPF_LDX only, ISA v4) */
  MEMSX: 0x80,
  ATOMIC: 0xc0,
} as const;

/** The imm field of BPF_STX | BPF_ATOMIC instructions. */
export const AtomicOp = {
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  /** flag: the old value is returned in src */
  FETCH: 0x01,
  XCHG: 0xe1,
  CMPXCHG: 0xf1,
} as const;

/** The src field of a lddw instruction (BPF_LD | BPF_IMM | BPF_DW). */
export const PseudoSrc = {
  /** plain 64-bit immediate */
  NONE: 0,
  /** imm = map fd: dst = map_by_fd(imm) */
  MAP_FD: 1,
  /** dst = map_val(map_by_fd(imm)) + next_imm */
  MAP_VALUE: 2,
  /** dst = var_addr(imm): a kernel variable by BTF id */
  BTF_ID: 3,
  /** dst = code_addr(imm): address of a bpf-to-bpf function */
  FUNC: 4,
  /** dst = map_by_idx(imm) */
  MAP_IDX: 5,
  /** dst = map_val(map_by_idx(imm)) + next_imm */
  MAP_IDX_VALUE: 6,
} as const;

/** The src field of a call instruction (BPF_JMP | BPF_CALL). */
export const CallSrc = {
  /** imm = helper id */
  HELPER: 0,
  /** bpf-to-bpf call: imm = offset in slots from the next instruction */
  LOCAL: 1,
  /** imm = BTF id of a kernel function */
  KFUNC: 2,
} as const;

/** Number of general registers r0..r10 (r10 is the read-only frame pointer). */
export const REGISTER_COUNT = 11;

/** Bytes of one instruction slot. lddw takes two slots. */
export const SLOT_SIZE = 8;

// Well-known opcodes, by name (the ubpf/Linux spelling).
export const OP_LDDW = Class.LD | Mode.IMM | Size.DW; // 0x18
export const OP_CALL = Class.JMP | JmpOp.CALL; // 0x85
export const OP_CALLX = Class.JMP | JmpOp.CALL | Source.X; // 0x8d (call register; not in RFC 9669)
export const OP_EXIT = Class.JMP | JmpOp.EXIT; // 0x95
export const OP_JA = Class.JMP | JmpOp.JA; // 0x05
export const OP_JA32 = Class.JMP32 | JmpOp.JA; // 0x06: gotol, offset in imm

/** Class of an opcode, or of an instruction (anything with an `opcode`). */
export const classOf = (x: number | { opcode: number }): number =>
  (typeof x === "number" ? x : x.opcode) & 0x07;
export const sourceOf = (opcode: number): number => opcode & 0x08;
/** The operation of an arithmetic or jump opcode (AluOp / JmpOp value). */
export const opOf = (opcode: number): number => opcode & 0xf0;
export const sizeOf = (opcode: number): number => opcode & 0x18;
export const modeOf = (opcode: number): number => opcode & 0xe0;

/** Bytes accessed for a Size value. */
export function sizeBytes(size: number): 1 | 2 | 4 | 8 {
  switch (size & 0x18) {
    case Size.B:
      return 1;
    case Size.H:
      return 2;
    case Size.W:
      return 4;
    default:
      return 8;
  }
}

export const isAluClass = (cls: number): boolean => cls === Class.ALU || cls === Class.ALU64;
export const isJmpClass = (cls: number): boolean => cls === Class.JMP || cls === Class.JMP32;
export const isLoadStoreClass = (cls: number): boolean => cls <= Class.STX;
