/* ebpf_insn_format(): the one-line text of an instruction that load and
 * runtime errors quote ("instruction 3 (ldxw r1, [r2+4]): ..."). The
 * expected mnemonics are RFC 9669's names for each opcode (class, operation,
 * source, size, mode), written by hand from its tables; the operand syntax
 * is bpftime's own: `op dst, src`, signed offsets, `32` for 32-bit forms. */
#include "test/harness.h"
#include "vm/tests/insn_macros.h"

#define RAW_INSN(op, d, s, o, i) \
    { \
        .opcode = (op), .dst = (d), .src = (s), .off = (int16_t)(o), .imm = (int32_t)(i) \
    }

struct row {
    struct ebpf_inst in;
    const char *text;
};

static const struct row ROWS[] = {
    /* ALU64 / ALU, immediate and register forms */
    {RAW_INSN(0x07, 1, 0, 0, 5), "add r1, 5"},
    {RAW_INSN(0x04, 1, 0, 0, -5), "add32 r1, -5"},
    {RAW_INSN(0x1f, 2, 3, 0, 0), "sub r2, r3"},
    {RAW_INSN(0x2c, 2, 3, 0, 0), "mul32 r2, r3"},
    {RAW_INSN(0x37, 4, 0, 0, 7), "div r4, 7"},
    {RAW_INSN(0x37, 4, 0, 1, 7), "sdiv r4, 7"},
    {RAW_INSN(0x3c, 4, 5, 1, 0), "sdiv32 r4, r5"},
    {RAW_INSN(0x97, 4, 0, 0, 3), "mod r4, 3"},
    {RAW_INSN(0x9f, 4, 6, 1, 0), "smod r4, r6"},
    {RAW_INSN(0x47, 1, 0, 0, 1), "or r1, 1"},
    {RAW_INSN(0x57, 1, 0, 0, 255), "and r1, 255"},
    {RAW_INSN(0x67, 1, 0, 0, 3), "lsh r1, 3"},
    {RAW_INSN(0x7f, 1, 2, 0, 0), "rsh r1, r2"},
    {RAW_INSN(0x87, 7, 0, 0, 0), "neg r7"},
    {RAW_INSN(0x84, 7, 0, 0, 0), "neg32 r7"},
    {RAW_INSN(0xa7, 1, 0, 0, -1), "xor r1, -1"},
    {RAW_INSN(0xb7, 0, 0, 0, 42), "mov r0, 42"},
    {RAW_INSN(0xbc, 0, 9, 0, 0), "mov32 r0, r9"},
    {RAW_INSN(0xbf, 1, 2, 8, 0), "movsx8 r1, r2"},
    {RAW_INSN(0xbc, 1, 2, 16, 0), "movsx1632 r1, r2"},
    {RAW_INSN(0xc7, 1, 0, 0, 63), "arsh r1, 63"},
    {RAW_INSN(0xd4, 3, 0, 0, 16), "le16 r3"},
    {RAW_INSN(0xdc, 3, 0, 0, 32), "be32 r3"},
    {RAW_INSN(0xd7, 3, 0, 0, 64), "bswap64 r3"},
    /* jumps */
    {RAW_INSN(0x05, 0, 0, -3, 0), "ja -3"},
    {RAW_INSN(0x06, 0, 0, 0, 100), "ja32 +100"},
    {RAW_INSN(0x15, 1, 0, 2, 0), "jeq r1, 0, +2"},
    {RAW_INSN(0x2d, 1, 2, -1, 0), "jgt r1, r2, -1"},
    {RAW_INSN(0x36, 1, 0, 4, 9), "jge32 r1, 9, +4"},
    {RAW_INSN(0x45, 1, 0, 1, 8), "jset r1, 8, +1"},
    {RAW_INSN(0x5d, 1, 2, 1, 0), "jne r1, r2, +1"},
    {RAW_INSN(0x65, 1, 0, 1, -1), "jsgt r1, -1, +1"},
    {RAW_INSN(0x75, 1, 0, 1, 0), "jsge r1, 0, +1"},
    {RAW_INSN(0xa5, 1, 0, 1, 10), "jlt r1, 10, +1"},
    {RAW_INSN(0xbe, 1, 2, 1, 0), "jle32 r1, r2, +1"},
    {RAW_INSN(0xc5, 1, 0, 1, 0), "jslt r1, 0, +1"},
    {RAW_INSN(0xdd, 1, 2, 1, 0), "jsle r1, r2, +1"},
    {RAW_INSN(0x85, 0, 0, 0, 6), "call 6"},
    {RAW_INSN(0x85, 0, 1, 0, 4), "call local +4"},
    {RAW_INSN(0x8d, 3, 0, 0, 0), "callx r3"},
    {RAW_INSN(0x95, 0, 0, 0, 0), "exit"},
    /* loads and stores of each size; sign-extending loads */
    {RAW_INSN(0x61, 1, 2, 4, 0), "ldxw r1, [r2+4]"},
    {RAW_INSN(0x69, 1, 10, -2, 0), "ldxh r1, [r10-2]"},
    {RAW_INSN(0x71, 1, 2, 0, 0), "ldxb r1, [r2+0]"},
    {RAW_INSN(0x79, 1, 2, 8, 0), "ldxdw r1, [r2+8]"},
    {RAW_INSN(0x81, 1, 2, 0, 0), "ldxsw r1, [r2+0]"},
    {RAW_INSN(0x91, 1, 2, 0, 0), "ldxsb r1, [r2+0]"},
    {RAW_INSN(0x62, 10, 0, -4, 7), "stw [r10-4], 7"},
    {RAW_INSN(0x7a, 10, 0, -8, -1), "stdw [r10-8], -1"},
    {RAW_INSN(0x63, 10, 1, -4, 0), "stxw [r10-4], r1"},
    {RAW_INSN(0x73, 1, 2, 3, 0), "stxb [r1+3], r2"},
    /* atomics: the operation named by imm; the 32-bit form says so */
    {RAW_INSN(0xdb, 1, 2, 0, 0x00), "lock add [r1+0], r2"},
    {RAW_INSN(0xc3, 1, 2, 0, 0x01), "lock fetch_add32 [r1+0], r2"},
    {RAW_INSN(0xdb, 1, 2, 0, 0x40), "lock or [r1+0], r2"},
    {RAW_INSN(0xdb, 1, 2, 0, 0x51), "lock fetch_and [r1+0], r2"},
    {RAW_INSN(0xdb, 1, 2, 0, 0xa1), "lock fetch_xor [r1+0], r2"},
    {RAW_INSN(0xdb, 1, 2, 0, 0xe1), "lock xchg [r1+0], r2"},
    {RAW_INSN(0xdb, 1, 2, 8, 0xf1), "lock cmpxchg [r1+8], r2"},
    {RAW_INSN(0xdb, 1, 2, 0, 0x10), "lock ? [r1+0], r2"},
    /* what has no name */
    {RAW_INSN(0xff, 0, 0, 0, 0), "unknown opcode 0xff"},
    {RAW_INSN(0xe7, 0, 0, 0, 0), "unknown opcode 0xe7"}, /* ALU op 0xe0 */
    {RAW_INSN(0xe5, 0, 0, 0, 0), "unknown opcode 0xe5"}, /* JMP op 0xe0 */
    {RAW_INSN(0x20, 0, 0, 0, 0), "unknown opcode 0x20"}, /* legacy ld abs */
    {RAW_INSN(0x00, 0, 0, 0, 0), "unknown opcode 0x00"}, /* not after an lddw */
};

TEST(every_instruction_class_has_its_rfc_name)
{
    char buf[64];
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        ebpf_insn_format(&ROWS[i].in, 1, 0, buf, sizeof buf);
        if (strcmp(buf, ROWS[i].text) != 0) {
            test_fail(t, __FILE__, __LINE__, "row %zu: \"%s\", expected \"%s\"", i, buf,
                      ROWS[i].text);
            return;
        }
    }
}

TEST(lddw_reads_both_halves)
{
    const struct ebpf_inst p[] = {
        RAW_INSN(0x18, 3, 0, 0, 0x89abcdef),
        RAW_INSN(0x00, 0, 0, 0, 0x01234567),
        RAW_INSN(0x18, 2, 1, 0, 5), /* pseudo source 1 (a map fd), imm 5 */
        RAW_INSN(0x00, 0, 0, 0, 0),
    };
    char buf[64];
    ebpf_insn_format(p, 4, 0, buf, sizeof buf);
    CHECK(strcmp(buf, "lddw r3, 0x123456789abcdef") == 0);
    /* its second half is not an instruction of its own */
    ebpf_insn_format(p, 4, 1, buf, sizeof buf);
    CHECK(strcmp(buf, "(lddw high half 0x1234567)") == 0);
    ebpf_insn_format(p, 4, 2, buf, sizeof buf);
    CHECK(strcmp(buf, "lddw r2, pseudo1 5") == 0);
    /* the half is recognised by what comes before it, not after */
    const struct ebpf_inst q[] = {
        RAW_INSN(0xb7, 0, 0, 0, 0), RAW_INSN(0x00, 0, 0, 0, 0), RAW_INSN(0x18, 1, 0, 0, 1),
        RAW_INSN(0x00, 0, 0, 0, 2), RAW_INSN(0x95, 0, 0, 0, 0),
    };
    ebpf_insn_format(q, 5, 1, buf, sizeof buf);
    CHECK(strcmp(buf, "unknown opcode 0x00") == 0);
    ebpf_insn_format(q, 5, 3, buf, sizeof buf);
    CHECK(strcmp(buf, "(lddw high half 0x2)") == 0);
    /* truncated: only the low half is known */
    ebpf_insn_format(p, 1, 0, buf, sizeof buf);
    CHECK(strcmp(buf, "lddw r3, 0x89abcdef") == 0);
}

TEST(out_of_range_index_and_small_buffers)
{
    const struct ebpf_inst p[] = {RAW_INSN(0xb7, 0, 0, 0, 42)};
    char buf[64] = "untouched";
    ebpf_insn_format(p, 1, 1, buf, sizeof buf);
    CHECK_EQ(buf[0], 0);
    memcpy(buf, "untouched", 10);
    ebpf_insn_format(p, 1, 0, buf, 0); /* no room: nothing written */
    CHECK(strcmp(buf, "untouched") == 0);
    ebpf_insn_format(p, 1, 0, buf, 5);
    CHECK(strcmp(buf, "mov ") == 0);
}
