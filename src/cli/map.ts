import type { Command } from "./command.ts";
import { flag, intOption, jsonOption, needPositional, shmOption, str } from "./command.ts";
import { withRegion } from "../ops/index.ts";
import {
  deleteMapObject,
  describeMap,
  entriesPage,
  freeze,
  lookupEntry,
  openMap,
  popOrPeek,
  remove,
  update,
} from "../ops/index.ts";
import { kernelSnapshot, mapView, openKernelMapHandle, type MapHandle } from "../ops/index.ts";
import type { Parsed } from "./command.ts";
import { BpftimeError } from "../errors.ts";
import {
  histogramsView,
  histogramsInValues,
  histogramsOf,
  histogramLines,
  parseLinearScale,
} from "../ops/index.ts";
import { printJson, table, toJson } from "./output.ts";
import { byProvider, kernelOption } from "./kernel.ts";

const keyHelp =
  'Keys and values are JSON through the object\'s BTF (e.g. 42, "str", {"pid":1}) when\n' +
  "`bpftime load` recorded it; otherwise an integer of the key/value size, or raw bytes\n" +
  "as hex:01000000 in every case.";

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list the maps of the region",
  usage: "[--shm NAME | --kernel] [--json]",
  options: { ...shmOption, ...jsonOption, ...kernelOption },
  examples: ["bpftime map list --json", "bpftime map list --kernel"],
  run(p) {
    const maps = byProvider(
      p,
      "map list",
      () => kernelSnapshot().maps,
      (r) => r.mapIds().map((id) => mapView(r, id)),
    );
    if (flag(p, "json")) return printJson(maps);
    console.log(
      table(
        ["ID", "NAME", "TYPE", "KEY", "VALUE", "MAX", "FLAGS"],
        maps.map((m) => [m.id, m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]),
      ),
    );
  },
};

const show: Command = {
  name: "show",
  summary: "show one map: type, sizes, BTF types and entry count",
  usage: "MAP [--shm NAME | --kernel] [--json]",
  options: { ...shmOption, ...jsonOption, ...kernelOption },
  examples: ["bpftime map show verdict_counts", "bpftime map show --kernel malloc/malloc_calls"],
  run(p) {
    const ref = needPositional(p, 0, "MAP (id or name)", "bpftime map show");
    const d = withMap(p, ref, "map show", describeMap);
    if (flag(p, "json")) return printJson(d);
    console.log(
      [
        `map ${d.id}: ${d.name}`,
        `type     ${d.type}${d.perCpu ? " (one value per CPU)" : ""}`,
        `key      ${d.keySize} bytes${d.keyType ? ` (${d.keyType})` : ""}`,
        `value    ${d.valueSize} bytes${d.valueType ? ` (${d.valueType})` : ""}`,
        `max      ${d.maxEntries} entries, flags ${d.flags}`,
        ...(d.entries !== null ? [`entries  ${d.entries}`] : []),
      ].join("\n"),
    );
  },
};

const dump: Command = {
  name: "dump",
  summary: "print every entry of a map (once, or every N seconds with --watch)",
  usage:
    "MAP [--offset N] [--limit N] [--hist [--linear MIN,STEP]] [--watch SECONDS [--times N]] [--shm NAME | --kernel] [--json]",
  description:
    "Print the keys and values of MAP (id or name; with --kernel a pinned kernel map), the\n" +
    "whole map or, with --offset/--limit, one page in iteration order. --json prints the\n" +
    "page as GET /v1/maps/MAP/entries does: {entries, offset, limit, nextOffset} (limit is\n" +
    "max_entries without --limit; nextOffset is null after the last entry). With --watch,\n" +
    "print again every SECONDS (after a `--- time` line; one JSON page per line with\n" +
    "--json) until Ctrl-C or --times dumps. Values shaped like log2 histograms (an integer\n" +
    "array `slots`, as in bcc's libbpf-tools, or an integer array) print as bars, as bcc's\n" +
    "print_log2_hist does; --hist also reads a map of integer keys (the bucket) to counts\n" +
    "as one histogram.\n" +
    keyHelp,
  options: {
    offset: { type: "string", arg: "N", description: "skip the first N entries (default 0)" },
    limit: { type: "string", arg: "N", description: "at most N entries (default: all)" },
    hist: { type: "boolean", description: "print the map as log2 histogram(s)" },
    linear: {
      type: "string",
      arg: "MIN,STEP",
      description:
        "with --hist: linear buckets [MIN + i*STEP, MIN + (i+1)*STEP), as lhist() (a negative MIN: --linear=-10,5)",
    },
    watch: { type: "string", arg: "SECONDS", description: "dump again every SECONDS" },
    times: { type: "string", arg: "N", description: "with --watch: stop after N dumps" },
    ...shmOption,
    ...jsonOption,
    ...kernelOption,
  },
  examples: [
    "bpftime map dump malloc_calls",
    "bpftime map dump malloc_calls --watch 1",
    "bpftime map dump latency --hist",
    "bpftime map dump sizes --hist --linear 0,64",
    "bpftime map dump 2 --json --offset 100 --limit 100",
    "bpftime map dump --kernel malloc_calls",
  ],
  async run(p) {
    const path = "bpftime map dump";
    const ref = needPositional(p, 0, "MAP (id or name)", path);
    const every = intOption(p, "watch", 0, path);
    const times = intOption(p, "times", 0, path);
    const offset = intOption(p, "offset", 0, path);
    const limit = intOption(p, "limit", 0, path);
    if (str(p, "limit") !== undefined && limit < 1)
      throw new BpftimeError("usage", `${path}: --limit must be at least 1`);
    const linearText = str(p, "linear");
    if (linearText !== undefined && !flag(p, "hist"))
      throw new BpftimeError("usage", `${path}: --linear goes with --hist`);
    const linear = linearText === undefined ? undefined : parseLinearScale(linearText, path);
    const print = () => {
      const page = withMap(p, ref, "map dump", (m) =>
        entriesPage(m, offset, limit || m.info.maxEntries),
      );
      const entries = page.entries;
      const hists = flag(p, "hist")
        ? histogramsOf(entries, ref)
        : flag(p, "json")
          ? undefined
          : histogramsInValues(entries);
      // --hist --json: GET /v1/maps/MAP/histograms?keyed=true's body
      if (flag(p, "json")) return printJson(hists ? histogramsView(hists, linear) : page);
      if (every) console.log(`--- ${new Date().toISOString()}`);
      if (hists) {
        for (const h of hists) {
          if (h.key !== undefined) console.log(`${toJson(h.key)}:`);
          console.log(histogramLines(h.counts, "value", linear).join("\n"));
        }
        return;
      }
      for (const e of entries) console.log(`${toJson(e.key)}: ${toJson(e.value)}`);
      const more = page.nextOffset === null ? "" : `; more from --offset ${page.nextOffset}`;
      console.log(`(${entries.length} entries${more})`);
    };
    print();
    if (!every) return;
    let stop = false;
    process.once("SIGINT", () => (stop = true));
    for (let n = 1; !stop && (times === 0 || n < times); n++) {
      await Bun.sleep(every * 1000);
      if (!stop) print();
    }
  },
};

const lookupCmd: Command = {
  name: "lookup",
  summary: "print the value of one key",
  usage: "MAP KEY [--shm NAME | --kernel] [--json]",
  description:
    "Print the value stored under KEY in MAP (with --kernel: a pinned kernel map).\n" + keyHelp,
  options: { ...shmOption, ...jsonOption, ...kernelOption },
  examples: [
    "bpftime map lookup verdict_counts 1",
    "bpftime map lookup --kernel malloc_calls 1234",
  ],
  run(p) {
    const ref = needPositional(p, 0, "MAP (id or name)", "bpftime map lookup");
    const key = needPositional(p, 1, "KEY", "bpftime map lookup");
    const e = withMap(p, ref, "map lookup", (m) => lookupEntry(m, key));
    if (flag(p, "json")) return printJson(e);
    console.log(toJson(e.value));
  },
};

/** Runs fn on MAP: a region's (--shm) or, with --kernel, a pinned kernel map's. */
function withMap<T>(p: Parsed, ref: string, path: string, fn: (m: MapHandle) => T): T {
  return byProvider(
    p,
    path,
    () => fn(openKernelMapHandle(ref)),
    (r) => fn(openMap(r, ref)),
  );
}

const updateCmd: Command = {
  name: "update",
  summary: "set the value of a key (push, for queues and stacks)",
  usage: "MAP [KEY] VALUE [--flag any|noexist|exist] [--shm NAME | --kernel]",
  description:
    "Store VALUE under KEY (queue/stack: push VALUE) with the kernel's update flags (with\n" +
    "--kernel: in a pinned kernel map).\n" +
    keyHelp,
  options: {
    flag: {
      type: "string",
      arg: "any|noexist|exist",
      description: "BPF_ANY (default), BPF_NOEXIST or BPF_EXIST",
    },
    ...shmOption,
    ...jsonOption,
    ...kernelOption,
  },
  examples: [
    "bpftime map update verdict_counts 0 100",
    "bpftime map update config hex:01000000 hex:ff000000 --flag exist",
  ],
  run(p) {
    const ref = needPositional(p, 0, "MAP (id or name)", "bpftime map update");
    const [a, b] = [p.positionals[1], p.positionals[2]];
    needPositional(p, 1, "VALUE", "bpftime map update");
    withMap(p, ref, "map update", (m) => {
      if (b === undefined) update(m, undefined, a!, str(p, "flag") ?? "any");
      else update(m, a, b, str(p, "flag") ?? "any");
    });
    if (flag(p, "json")) return printJson({ updated: true });
    console.log("updated");
  },
};

const deleteCmd: Command = {
  name: "delete",
  aliases: ["rm"],
  summary: "delete one key, or (without KEY) the map itself",
  usage: "MAP [KEY] [--shm NAME] [--json]",
  description:
    "With KEY: delete that entry of MAP. Without KEY: remove MAP itself (as DELETE\n" +
    "/v1/maps/ID) if nothing holds it; a map is held by the programs that use it, by pins\n" +
    "(`bpftime pin list`) and by processes still running code that uses it, and the\n" +
    "refusal names them. Maps are also freed by themselves when their last holder goes\n" +
    "(`bpftime unload`, `bpftime unpin`, a process letting go or exiting).\n" +
    keyHelp,
  options: { ...shmOption, ...jsonOption, ...kernelOption },
  examples: [
    "bpftime map delete malloc_calls 1234",
    "bpftime map delete 7",
    "bpftime map delete --kernel malloc_calls 1234",
  ],
  run(p) {
    const ref = needPositional(p, 0, "MAP (id or name)", "bpftime map delete");
    const key = p.positionals[1];
    if (key === undefined && flag(p, "kernel"))
      throw new BpftimeError(
        "usage",
        "map delete --kernel: give a KEY (a kernel map goes with its object: `bpftime shm remove --kernel OBJECT`)",
      );
    if (key === undefined) {
      const out = withRegion(str(p, "shm"), (r) => deleteMapObject(r, ref));
      if (flag(p, "json")) return printJson(out);
      console.log(`removed map ${out.deleted}`);
      return;
    }
    withMap(p, ref, "map delete", (m) => remove(m, key));
    if (flag(p, "json")) return printJson({ deleted: true });
    console.log("deleted");
  },
};

function popPeek(name: "pop" | "peek"): Command {
  const remove = name === "pop";
  return {
    name,
    summary: remove
      ? "remove and print the next value of a queue or stack"
      : "print the next value of a queue or stack, leaving it there",
    usage: "MAP [--shm NAME] [--json]",
    description:
      (remove
        ? "Remove the next value of queue/stack MAP (oldest for a queue, newest for a stack)\n"
        : "Print the next value of queue/stack MAP (oldest for a queue, newest for a stack)\n") +
      "and print it through the map's BTF. An empty map is an error (exit code 3).",
    options: { ...shmOption, ...jsonOption },
    examples: [`bpftime map ${name} jobs`],
    run(p) {
      const ref = needPositional(p, 0, "MAP (id or name)", `bpftime map ${name}`);
      const v = withRegion(str(p, "shm"), (r) => popOrPeek(openMap(r, ref), remove));
      if (flag(p, "json")) return printJson({ value: v });
      console.log(toJson(v));
    },
  };
}

const freezeCmd: Command = {
  name: "freeze",
  summary: "make a map read-only to the control plane, for good (as bpftool map freeze)",
  usage: "MAP [--shm NAME] [--json]",
  description:
    "After this, `map update`/`map delete` (and the API's) refuse to change MAP; programs\n" +
    "still read it (and write it, unless it was created BPF_F_RDONLY_PROG). There is no\n" +
    "thaw. `bpftime load` freezes .rodata maps itself once their value is written.",
  options: { ...shmOption, ...jsonOption },
  examples: ["bpftime map freeze config"],
  run(p) {
    const ref = needPositional(p, 0, "MAP (id or name)", "bpftime map freeze");
    withRegion(str(p, "shm"), (r) => freeze(openMap(r, ref)));
    if (flag(p, "json")) return printJson({ frozen: true });
    console.log("frozen");
  },
};

export const mapCommand: Command = {
  name: "map",
  summary:
    "list, show, dump, look up, update, delete, pop, peek and freeze map entries; delete maps",
  subcommands: [
    list,
    show,
    dump,
    lookupCmd,
    updateCmd,
    deleteCmd,
    popPeek("pop"),
    popPeek("peek"),
    freezeCmd,
  ],
};
