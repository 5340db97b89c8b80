// Bun imports text files with `with { type: "text" }`; tell TypeScript.
declare module "*.def" {
  const text: string;
  export default text;
}
