// The verifier's view of a program: src/asm's instructions placed by 8-byte
// slot, the index the kernel's verifier uses and every message names (a lddw
// takes two slots; its second one holds no instruction). Instruction text is
// src/asm's, so a message shows what `bpftime disasm` prints for that slot.

import {
  type DisasmNames,
  type Instruction,
  SLOT_SIZE,
  decode,
  decodeSlot,
  instructionText,
  slotCount,
} from "../asm/index.ts";
import { helperById } from "./helpers.ts";

/** One entry per slot; undefined for the second slot of a lddw. */
export type Slots = readonly (Instruction | undefined)[];

/** Decodes bytecode into slots; throws src/asm's BpftimeError "bad_bytecode" on bad framing. */
export function programSlots(bytes: Uint8Array): Slots {
  const slots: (Instruction | undefined)[] = [];
  for (const inst of decode(bytes)) {
    slots.push(inst);
    if (slotCount(inst) === 2) slots.push(undefined);
  }
  return slots;
}

/**
 * The names `bpftime disasm` prints for an object's helpers and maps
 * (`call bpf_map_lookup_elem`, `r1 = map[counts]`): helpers by id from
 * helpers.def, maps by their index in the object.
 */
export function disasmNames(maps: ReadonlyArray<{ name?: string }>): DisasmNames {
  return {
    helper: (id) => {
      const h = helperById.get(id);
      return h && `bpf_${h.name}`;
    },
    map: (index) => maps[index]?.name || undefined,
  };
}

/** The text of the instruction at slot `pc`, as `bpftime disasm` prints it. */
export function slotText(slots: Slots, pc: number, names?: DisasmNames): string {
  if (pc < 0 || pc >= slots.length) return "?";
  const inst = slots[pc];
  return inst ? instructionText(inst, { names }) : "(second half of lddw)";
}

/**
 * The text of slot `pc` read alone from raw bytes, for bytecode `programSlots`
 * refuses (a lddw shows its first half only).
 */
export function rawSlotText(bytes: Uint8Array, pc: number): string {
  if (pc < 0 || (pc + 1) * SLOT_SIZE > bytes.length) return "?";
  return instructionText(decodeSlot(bytes, pc));
}
