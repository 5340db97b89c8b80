// x86-64 syscall names and numbers: the table the agent uses too
// (native/attach/syscall_names.def, from the system headers), read at import
// time so `bpftime attach … sys_enter --arg NAME` refuses a name the agent
// would not know.
import text from "../../native/attach/syscall_names.def" with { type: "text" };

const byName = new Map<string, number>();
const byNr = new Map<number, string>();
for (const m of text.matchAll(/^SYSCALL\((\d+), (\w+)\)$/gm)) {
  byName.set(m[2]!, Number(m[1]));
  byNr.set(Number(m[1]), m[2]!);
}

/** The number of syscall `name` on x86-64, or undefined. */
export function syscallNr(name: string): number | undefined {
  return byName.get(name);
}

/** The name of syscall `nr` on x86-64, or undefined. */
export function syscallName(nr: number): string | undefined {
  return byNr.get(nr);
}

/** Every name in the table, in number order. */
export function syscallNames(): string[] {
  return [...byNr.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
}
