// The command table: every top-level command, in the order --help lists them.
import type { Command } from "./command.ts";
import { versionCommand } from "./version.ts";
import { runCommand } from "./run.ts";

export const commands: Command[] = [runCommand, versionCommand];
