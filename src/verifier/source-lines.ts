// BTF line info in the verifier log. As the kernel's verifier does, the log
// shows the source line that covers an instruction before it, whenever the
// covering line differs from the last one shown (over the whole log, not per
// path): `; void *data = (void *)(long)ctx->data; @ xdp_swap.bpf.c:15`.
// Records that differ only in their column count as the same line (clang
// emits several per line; the log shows no columns), as in the kernel.

/** One BTF line info record, its instruction index in slots (ProgramSpec.lineInfo). */
export interface SourceLine {
  /** first slot the line covers; it covers every slot up to the next record */
  insn: number;
  fileName: string;
  /** the source text */
  line: string;
  lineNum: number;
}

/** The kernel's text: the line without leading blanks, ` @ `, the file's base name, `:N`. */
export function sourceLineText(l: SourceLine): string {
  const file = l.fileName.slice(l.fileName.lastIndexOf("/") + 1);
  return `; ${l.line.trimStart()} @ ${file}:${l.lineNum}`;
}

export class SourceLines {
  private readonly lines: SourceLine[];
  private shown: SourceLine | undefined;

  constructor(lines: readonly SourceLine[]) {
    this.lines = [...lines].sort((a, b) => a.insn - b.insn);
  }

  /** The line to log before the instruction at `pc`, or undefined if it is the one shown last. */
  before(pc: number): string | undefined {
    const l = this.covering(pc);
    const last = this.shown;
    if (!l || (last && l.fileName === last.fileName && l.lineNum === last.lineNum))
      return undefined;
    this.shown = l;
    return sourceLineText(l);
  }

  /** The last record at or before `pc` (the first record for slots before it, as the kernel). */
  private covering(pc: number): SourceLine | undefined {
    let lo = 0;
    let hi = this.lines.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lines[mid]!.insn <= pc) lo = mid;
      else hi = mid - 1;
    }
    return this.lines[lo];
  }
}
