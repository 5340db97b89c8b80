// Native libraries imported with `with { type: "file" }` resolve to a path
// (a real file in development, an embedded file inside dist/bpftime).
declare module "*.so" {
  const path: string;
  export default path;
}
