// The names the log and `bpftime disasm` give helpers and maps. Both take
// them from disasmNames, so comparing the two cannot see a wrong name: the
// oracle here is the kernel's uapi (helper 1 is bpf_map_lookup_elem, 5 is
// bpf_ktime_get_ns; the kernel's log prints `call bpf_map_lookup_elem#1`).

import { expect, test } from "bun:test";
import { assemble, encode } from "../asm/index.ts";
import { disasmNames, verify } from "./index.ts";

test("helpers are named by their uapi id, maps by their index", () => {
  const names = disasmNames([{ name: "counts" }, {}]);
  expect(names.helper!(1)).toBe("bpf_map_lookup_elem");
  expect(names.helper!(5)).toBe("bpf_ktime_get_ns");
  expect(names.helper!(100_000)).toBeUndefined(); // no such helper: printed by number
  expect(names.map!(0)).toBe("counts");
  expect(names.map!(1)).toBeUndefined(); // unnamed
  expect(names.map!(2)).toBeUndefined(); // no such map
});

test("the log names the helper a call instruction calls", () => {
  const r = verify(
    { insts: encode(assemble("call 5\nr0 = 0\nexit")), type: "kprobe", maps: [] },
    { log: true },
  );
  expect(r.ok).toBe(true);
  expect(r.log!.some((l) => l.startsWith("0: (85) call bpf_ktime_get_ns"))).toBe(true);
});

test("the log prints the opcode as two hex digits, as the kernel's log does (%02x)", () => {
  const r = verify(
    { insts: encode(assemble("r0 = 0\nr0 += 1\nexit")), type: "kprobe", maps: [] },
    { log: true },
  );
  expect(r.log.filter((l) => /^\d+: \(/.test(l))).toEqual([
    expect.stringMatching(/^0: \(b7\) r0 = 0 ; /),
    expect.stringMatching(/^1: \(07\) r0 \+= 1 ; /),
    expect.stringMatching(/^2: \(95\) exit/),
  ]);
});
