// The syscall-server library (native/syscall-server/,
// libbpftime-syscall-server.so): where it is on disk. `bpftime load -- APP`
// preloads it into an unmodified libbpf application (src/ops/load-app.ts).
import embeddedServerPath from "../../native/build/libbpftime-syscall-server.so" with { type: "file" };
import { libraryFilePath } from "./agent.ts";

/** A real file path of libbpftime-syscall-server.so (written out once from dist/bpftime). */
export function syscallServerLibraryPath(): string {
  return libraryFilePath(
    embeddedServerPath,
    "libbpftime-syscall-server.so",
    "the syscall-server library",
  );
}
