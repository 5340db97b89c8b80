// The command table: every top-level command, in the order --help lists them.
import type { Command } from "./command.ts";
import { versionCommand } from "./version.ts";
import { runCommand } from "./run.ts";
import { verifyCommand } from "./verify.ts";
import { loadCommand } from "./load.ts";
import { attachCommand, detachCommand, replaceCommand } from "./attach.ts";
import { ejectCommand, injectCommand, startCommand } from "./start.ts";
import { listCommand } from "./list.ts";
import { mapCommand } from "./map.ts";
import { pinCommand, unpinCommand } from "./pin.ts";
import { eventsCommand, traceCommand } from "./events.ts";
import { shmCommand } from "./shm.ts";
import { objCommand } from "./obj.ts";
import { disasmCommand } from "./disasm.ts";
import { serveCommand } from "./serve.ts";
import { metricsCommand, statsCommand, unloadCommand } from "./admin.ts";
import { completionCommand } from "./completion.ts";
import { buildCommand } from "./build.ts";
import { manCommand } from "./manpage.ts";
import { applyCommand, exportCommand } from "./state.ts";

export const commands: Command[] = [
  loadCommand,
  attachCommand,
  detachCommand,
  replaceCommand,
  unloadCommand,
  startCommand,
  injectCommand,
  ejectCommand,
  listCommand,
  applyCommand,
  exportCommand,
  mapCommand,
  pinCommand,
  unpinCommand,
  eventsCommand,
  traceCommand,
  statsCommand,
  metricsCommand,
  buildCommand,
  verifyCommand,
  runCommand,
  disasmCommand,
  objCommand,
  shmCommand,
  serveCommand,
  completionCommand,
  manCommand,
  versionCommand,
];
