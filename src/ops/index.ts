// The operations both faces (src/cli, src/server) call: each takes plain values and
// returns plain data (never prints, never parses argv or HTTP). One file per concern.
export * from "./agent.ts";
export * from "./app-server.ts";
export * from "./attach.ts";
export * from "./entries.ts";
export * from "./events.ts";
export * from "./files.ts";
export * from "./hook-report.ts";
export * from "./instances.ts";
export * from "./kernel.ts";
export * from "./list.ts";
export * from "./load.ts";
export * from "./load-app.ts";
export * from "./map-reuse.ts";
export * from "./maps.ts";
export * from "./metadata.ts";
export * from "./metrics.ts";
export * from "./object.ts";
export * from "./pins.ts";
export * from "./programs.ts";
export * from "./prometheus.ts";
export * from "./region.ts";
export * from "./resolve.ts";
export * from "./run.ts";
export * from "./shm.ts";
export * from "./stream.ts";
export * from "./uprobe-target.ts";
