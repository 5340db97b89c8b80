import { describe, expect, test } from "bun:test";
import { closest, didYouMean } from "./suggest.ts";

describe("did you mean", () => {
  const commands = ["load", "list", "attach", "detach", "map", "disasm", "serve"];
  test("a typo finds the command it was meant to be", () => {
    expect(closest("lod", commands)).toBe("load");
    expect(closest("atach", commands)).toBe("attach");
    expect(closest("dettach", commands)).toBe("detach");
    expect(closest("disasem", commands)).toBe("disasm");
  });
  test("a prefix finds the longer name", () => {
    expect(closest("url", ["url_filter", "checksum"])).toBe("url_filter");
  });
  test("a word unlike every candidate gets no suggestion", () => {
    expect(closest("frobnicate", commands)).toBeUndefined();
    expect(didYouMean("xyz", commands)).toBe("");
    expect(closest("x", [])).toBeUndefined();
  });
  test("the exact name is not suggested for itself", () => {
    expect(closest("load", ["load"])).toBeUndefined();
  });
  test("the message names the suggestion", () => {
    expect(didYouMean("lst", commands)).toBe(' (did you mean "list"?)');
  });
});
