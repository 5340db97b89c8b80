// The command table: every top-level command, in the order --help lists them.
import type { Command } from "./command.ts";
import { versionCommand } from "./version.ts";

export const commands: Command[] = [versionCommand];
