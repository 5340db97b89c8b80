// Object loading: ELF reader, ObjectSpec (programs, maps, relocations), obj show.
export { parseElf, ElfFile, Reader, cString } from "./elf.ts";
export * from "./object.ts";
export * from "./sections.ts";
export * from "./summary.ts";
