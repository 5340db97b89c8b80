import type { Command } from "./command.ts";
import { jsonOption, flag } from "./command.ts";
import { version } from "../version.ts";
import { nativeVersion } from "../native/index.ts";

export const versionCommand: Command = {
  name: "version",
  summary: "print the version of bpftime",
  options: { ...jsonOption },
  examples: ["bpftime version --json"],
  run(p) {
    const native = nativeVersion();
    if (flag(p, "json")) console.log(JSON.stringify({ version, native, bun: Bun.version }));
    else console.log(`bpftime ${version} (native library ${native}, bun ${Bun.version})`);
  },
};
