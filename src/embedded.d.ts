// Native libraries imported with `with { type: "file" }` resolve to a path
// (a real file in development, an embedded file inside dist/bpftime).
declare module "*.so" {
  const path: string;
  export default path;
}

// Static assets embedded the same way (the HTTP API's docs page).
declare module "swagger-ui-dist/*" {
  const path: string;
  export default path;
}

// The eBPF program-facing headers `bpftime build` ships (native/include/bpftime).
declare module "*.h" {
  const path: string;
  export default path;
}
