// The __sk_buff context (socket_filter, sched_cls) as the kernel lays it out:
// programs compiled against <linux/bpf.h> read each field at its uapi
// offset, so every field must sit exactly there, with its kind. The oracle
// is the uapi header (include/uapi/linux/bpf.h, struct __sk_buff), not our
// table: each field is a __u32, cb is __u32[5], data/data_end are the packet
// pointers.

import { describe, expect, test } from "bun:test";
import { assemble, encode } from "../asm/index.ts";
import { contextLayout, verify } from "./index.ts";

// [field, offsetof(struct __sk_buff, field)] from include/uapi/linux/bpf.h
const UAPI_SK_BUFF: [string, number][] = [
  ["len", 0],
  ["pkt_type", 4],
  ["mark", 8],
  ["queue_mapping", 12],
  ["protocol", 16],
  ["vlan_present", 20],
  ["vlan_tci", 24],
  ["vlan_proto", 28],
  ["priority", 32],
  ["ingress_ifindex", 36],
  ["ifindex", 40],
  ["tc_index", 44],
  ["cb[0]", 48],
  ["cb[1]", 52],
  ["cb[2]", 56],
  ["cb[3]", 60],
  ["cb[4]", 64],
  ["hash", 68],
  ["tc_classid", 72],
  ["data", 76],
  ["data_end", 80],
];

const run = (type: "socket_filter" | "sched_cls", text: string) =>
  verify({ insts: encode(assemble(text)), type, maps: [] });

describe("__sk_buff fields sit at their uapi offsets", () => {
  for (const type of ["socket_filter", "sched_cls"] as const) {
    test(`${type}: names, offsets and kinds`, () => {
      const layout = contextLayout(type);
      expect(layout.map((f) => [f.name, f.kernelOff])).toEqual(UAPI_SK_BUFF);
      for (const f of layout) {
        expect(f.kernelSize).toBe(4);
        const kind = f.name === "data" ? "packet" : f.name === "data_end" ? "packet_end" : "scalar";
        expect(f.kind).toBe(kind);
      }
    });
  }

  test("hash (68) reads as a number, 4 or 2 bytes; it cannot be written", () => {
    // r0 = skb->hash; r0 &= 1: arithmetic only works on a scalar
    expect(run("socket_filter", "r0 = *(u32 *)(r1 + 68)\nr0 &= 1\nexit").ok).toBe(true);
    expect(run("socket_filter", "r0 = *(u16 *)(r1 + 70)\nr0 &= 1\nexit").ok).toBe(true);
    const w = run("socket_filter", "*(u32 *)(r1 + 68) = 1\nr0 = 0\nexit");
    expect(w.ok).toBe(false);
    expect(w.error!.reason).toBe("write to read-only context field hash at offset 68 size 4");
  });

  test("tc_classid (72) is a number; data (76) is the packet pointer", () => {
    expect(run("sched_cls", "r0 = *(u32 *)(r1 + 72)\nr0 &= 1\nexit").ok).toBe(true);
    // a packet pointer cannot be returned as the verdict (R0 must be a scalar)
    expect(run("sched_cls", "r0 = *(u32 *)(r1 + 76)\nexit").ok).toBe(false);
  });
});
