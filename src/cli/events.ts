import type { Command } from "./command.ts";
import { flag, intOption, jsonOption, needPositional, shmOption, str } from "./command.ts";
import { Region } from "../native/index.ts";
import { openMap } from "../ops/index.ts";
import { follow } from "../ops/index.ts";
import { toJson } from "./output.ts";

export const eventsCommand: Command = {
  name: "events",
  summary: "follow a ringbuf or perf event array and print each record as it arrives",
  usage: "MAP [--count N] [--timeout SECONDS] [--type STRUCT] [--shm NAME] [--json]",
  description:
    "Print the records programs write to MAP (ringbuf or perf event array), decoded\n" +
    "through BTF when one struct of the object has the record's size (or --type names it).\n" +
    "Waits without spinning; stops after --count records, after --timeout seconds, or on Ctrl-C.",
  options: {
    count: { type: "string", arg: "N", description: "stop after N records" },
    timeout: { type: "string", arg: "SECONDS", description: "stop after this long" },
    type: { type: "string", arg: "STRUCT", description: "decode records as this BTF struct" },
    ...shmOption,
    ...jsonOption,
  },
  examples: ["bpftime events events", "bpftime events events --count 10 --json"],
  async run(p) {
    const path = "bpftime events";
    const ref = needPositional(p, 0, "MAP (id or name)", path);
    const count = intOption(p, "count", 0, path);
    const timeout = intOption(p, "timeout", 0, path);
    const r = Region.open(str(p, "shm"));
    let seen = 0;
    let interrupted = false;
    const onSig = () => (interrupted = true);
    process.on("SIGINT", onSig);
    process.on("SIGTERM", onSig);
    const deadline = timeout ? Date.now() + timeout * 1000 : Infinity;
    try {
      const m = openMap(r, ref);
      await follow(
        m,
        (rec) => {
          seen++;
          if (flag(p, "json")) console.log(toJson(rec));
          else console.log(`cpu ${rec.cpu} size ${rec.size}: ${toJson(rec.data)}`);
        },
        {
          stop: () => interrupted || (count > 0 && seen >= count) || Date.now() >= deadline,
          ...(str(p, "type") ? { typeName: str(p, "type")! } : {}),
        },
      );
    } finally {
      process.off("SIGINT", onSig);
      process.off("SIGTERM", onSig);
      r.close();
    }
  },
};

export const traceCommand: Command = {
  name: "trace",
  summary: "follow bpf_printk / bpf_trace_printk output",
  usage: "[--count N] [--timeout SECONDS] [--shm NAME] [--json]",
  options: {
    count: { type: "string", arg: "N", description: "stop after N messages" },
    timeout: { type: "string", arg: "SECONDS", description: "stop after this long" },
    ...shmOption,
    ...jsonOption,
  },
  examples: ["bpftime trace", "bpftime trace --count 5 --json"],
  async run(p) {
    const count = intOption(p, "count", 0, "bpftime trace");
    const timeout = intOption(p, "timeout", 0, "bpftime trace");
    const deadline = timeout ? Date.now() + timeout * 1000 : Infinity;
    const r = Region.open(str(p, "shm"));
    let seen = 0;
    let interrupted = false;
    const onSig = () => (interrupted = true);
    process.on("SIGINT", onSig);
    try {
      const stop = () => interrupted || (count > 0 && seen >= count) || Date.now() >= deadline;
      while (!stop()) {
        for (let rec = r.traceRead(); rec && !stop(); rec = r.traceRead()) {
          seen++;
          if (flag(p, "json")) console.log(toJson(rec));
          else
            console.log(
              `${rec.comm}-${rec.pid} [${(Number(rec.timestampNs) / 1e9).toFixed(6)}] ${rec.message.replace(/\n$/, "")}`,
            );
        }
        if (!stop()) r.tracePoll(200);
        await Promise.resolve();
      }
    } finally {
      process.off("SIGINT", onSig);
      r.close();
    }
  },
};
