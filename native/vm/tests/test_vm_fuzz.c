/* Randomised tests with a fixed seed (reproducible):
 *  - arbitrary and half-structured bytecode never crashes load or exec
 *    (run under SANITIZE=1 this also proves no out-of-bounds host access);
 *  - differential: random straight-line-and-forward-branch programs over
 *    every ALU/JMP/JMP32 opcode plus stack loads/stores/atomics give the
 *    same r0 on the interpreter and the JIT (when the build has one). */
#include "vm/tests/vm_case.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* Interesting immediates: edges of the signed/unsigned ranges and shifts. */
static int32_t rnd_imm(void)
{
    static const int32_t edge[] = {0,    1,      -1, 2,  7,  8,  15,         16,
                                   31,   32,     33, 63, 64, 65, 0x7fffffff, (int32_t)0x80000000,
                                   0xff, 0xffff, -2, 255};
    if (rnd_below(3))
        return edge[rnd_below(sizeof edge / sizeof edge[0])];
    return (int32_t)rnd();
}
static uint64_t rnd_val(void)
{
    static const uint64_t edge[] = {0,
                                    1,
                                    0xffffffffffffffffULL,
                                    0x8000000000000000ULL,
                                    0x7fffffffffffffffULL,
                                    0xffffffffULL,
                                    0x80000000ULL,
                                    0x7fffffffULL,
                                    0x100000000ULL,
                                    0xffffffff80000000ULL,
                                    2,
                                    3};
    if (rnd_below(2))
        return edge[rnd_below(sizeof edge / sizeof edge[0])];
    return rnd();
}

TEST(fuzz_random_bytes_never_crash)
{
    rng_state = 1;
    struct ebpf_inst prog[64];
    int loaded = 0;
    for (int iter = 0; iter < 20000; iter++) {
        uint32_t n = 1 + rnd_below(64);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t raw = rnd();
            memcpy(&prog[i], &raw, sizeof raw);
        }
        if (rnd_below(2))
            prog[n - 1] = (struct ebpf_inst)EXIT();
        struct ebpf_vm *vm = case_vm();
        ebpf_vm_set_budget(vm, 2000);
        if (ebpf_vm_load(vm, prog, n * sizeof prog[0]) == 0) {
            loaded++;
            uint8_t mem[32] = {0};
            uint64_t r;
            int rc = ebpf_vm_exec(vm, mem, sizeof mem, &r);
            CHECK(rc == 0 || rc == -EFAULT || rc == -E2BIG || rc == -ENOENT);
        } else {
            CHECK_STR_CONTAINS(ebpf_vm_error(vm), "instruction");
        }
        ebpf_vm_destroy(vm);
    }
    CHECK(loaded > 0);
}

/* Valid-looking instructions with random registers, offsets and immediates:
 * most load, and then exercise wild memory accesses, calls, deep recursion. */
static const uint8_t some_opcodes[] = {
    0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77,
    0x7f, 0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0xd7, 0x04, 0x0c, 0x14, 0x1c,
    0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c, 0x54, 0x5c, 0x64, 0x6c, 0x74, 0x7c, 0x84, 0x94, 0x9c,
    0xa4, 0xac, 0xb4, 0xbc, 0xc4, 0xcc, 0xd4, 0xdc, 0x05, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d,
    0x45, 0x4d, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0x7d, 0x85, 0x8d, 0x95, 0xa5, 0xad, 0xb5, 0xbd,
    0xc5, 0xcd, 0xd5, 0xdd, 0x06, 0x16, 0x1e, 0x26, 0x2e, 0x36, 0x3e, 0x46, 0x4e, 0x56, 0x5e,
    0x66, 0x6e, 0x76, 0x7e, 0xa6, 0xae, 0xb6, 0xbe, 0xc6, 0xce, 0xd6, 0xde, 0x18, 0x61, 0x69,
    0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb,
};

TEST(fuzz_structured_never_crash)
{
    rng_state = 2;
    struct ebpf_inst prog[48];
    static const int32_t atomics[] = {0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1};
    static const int16_t offs[] = {0, 1, 8, 16, 32, -8, -512, 4, -1};
    int loaded = 0, ran_ok = 0;
    for (int iter = 0; iter < 20000; iter++) {
        uint32_t n = 2 + rnd_below(47);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t op = some_opcodes[rnd_below(sizeof some_opcodes)];
            struct ebpf_inst in = {.opcode = op, .dst = rnd_below(11), .src = rnd_below(11)};
            bool jmp = (op & 7) == 5 || (op & 7) == 6;
            in.off = jmp ? (int16_t)((int)rnd_below(9) - 4) : offs[rnd_below(9)];
            in.imm = rnd_imm();
            if (op == 0xd4 || op == 0xdc || op == 0xd7)
                in.imm = 16 << rnd_below(3);
            if (op == 0xc3 || op == 0xdb)
                in.imm = atomics[rnd_below(10)];
            if (op == 0x85) {
                in.src = rnd_below(2);
                in.imm = in.src ? (int32_t)rnd_below(9) - 4 : (int32_t)rnd_below(4);
            }
            if (op == 0x06)
                in.imm = (int32_t)rnd_below(9) - 4;
            if (op == 0x8d) /* callx: reserved fields zero, any id at run time */
                in.src = 0, in.off = 0, in.imm = 0;
            if (op == 0x18) {
                if (i + 1 >= n)
                    continue;
                in.src = 0;
                prog[i++] = in;
                in = (struct ebpf_inst){.imm = (int32_t)rnd()};
            }
            prog[i] = in;
        }
        prog[n - 1] = (struct ebpf_inst)EXIT();
        struct ebpf_vm *vm = ebpf_vm_create();
        /* no deref helper here: it would trust any pointer */
        ebpf_vm_register_helper(vm, CASE_HELPER_SUM5, "sum5", case_helper_sum5);
        ebpf_vm_register_helper(vm, CASE_HELPER_CONST, "const", case_helper_const);
        ebpf_vm_set_budget(vm, 5000);
        if (ebpf_vm_load(vm, prog, n * sizeof prog[0]) == 0) {
            loaded++;
            _Alignas(8) uint8_t mem[64] = {0};
            uint64_t r;
            int rc = ebpf_vm_exec(vm, mem, sizeof mem, &r);
            CHECK(rc == 0 || rc == -EFAULT || rc == -E2BIG || rc == -ENOENT);
            if (rc == 0)
                ran_ok++;
            else
                CHECK_STR_CONTAINS(ebpf_vm_error(vm), "at instruction ");
        }
        ebpf_vm_destroy(vm);
    }
    CHECK(loaded > 1000);
    CHECK(ran_ok > 100);
}

/* ---- differential: interpreter vs JIT ---- */

#define STACK_SLOTS 6

static const uint8_t alu_ops[] = {0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60,
                                  0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0};
static const uint8_t jmp_ops[] = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0};

/* One random instruction that is valid for the JIT too: registers r0-r9,
 * memory only on the stack through r10 at aligned in-frame offsets, jumps
 * only forward (termination) and within [i+1, end). Returns slots used. */
static uint32_t gen_safe(struct ebpf_inst *p, uint32_t i, uint32_t end)
{
    uint8_t dst = rnd_below(10), src = rnd_below(10);
    uint32_t kind = rnd_below(20);
    if (kind < 10) { /* ALU */
        bool is64 = rnd_below(2);
        uint8_t op = alu_ops[rnd_below(sizeof alu_ops)];
        bool x = rnd_below(2);
        struct ebpf_inst in = {.dst = dst, .src = x ? src : 0, .imm = x ? 0 : rnd_imm()};
        if (op == 0x80)
            x = false, in.src = 0, in.imm = 0;
        if (op == 0xd0) {
            in.imm = 16 << rnd_below(3);
            in.src = 0;
            if (is64)
                x = false; /* bswap */
        }
        if ((op == 0x30 || op == 0x90) && rnd_below(2))
            in.off = 1;
        if (op == 0xb0 && x && rnd_below(2)) {
            static const int16_t sx[] = {8, 16, 32};
            in.off = sx[rnd_below(is64 ? 3 : 2)];
        }
        in.opcode = (uint8_t)((is64 ? 0x07 : 0x04) | op | (x ? 0x08 : 0));
        *p = in;
        return 1;
    }
    if (kind < 12 && i + 2 < end) { /* lddw */
        uint64_t v = rnd_val();
        p[0] = (struct ebpf_inst)INSN(0x18, dst, 0, 0, (uint32_t)v);
        p[1] = (struct ebpf_inst)INSN(0, 0, 0, 0, (uint32_t)(v >> 32));
        return 2;
    }
    if (kind < 15 && i + 2 < end) { /* conditional jump forward */
        bool is32 = rnd_below(2), x = rnd_below(2);
        uint8_t op = jmp_ops[rnd_below(sizeof jmp_ops)];
        uint32_t room = end - (i + 1); /* targets i+1 .. end-1 */
        struct ebpf_inst in = {.opcode = (uint8_t)((is32 ? 0x06 : 0x05) | op | (x ? 0x08 : 0)),
                               .dst = dst,
                               .src = x ? src : 0,
                               .imm = x ? 0 : rnd_imm(),
                               .off = (int16_t)rnd_below(room)};
        *p = in;
        return 1;
    }
    /* stack memory: slot k of the STACK_SLOTS aligned 8-byte slots below r10 */
    int16_t off = (int16_t)(-8 * (1 + (int)rnd_below(STACK_SLOTS)));
    uint32_t m = rnd_below(6);
    static const uint8_t sizes[] = {BPF_W, BPF_H, BPF_B, BPF_DW};
    uint8_t sz = sizes[rnd_below(4)];
    switch (m) {
    case 0: *p = (struct ebpf_inst)LDX(sz, dst, 10, off); break;
    case 1: *p = (struct ebpf_inst)LDXSX(sz == BPF_DW ? BPF_W : sz, dst, 10, off); break;
    case 2: *p = (struct ebpf_inst)ST_IMM(sz, 10, off, rnd_imm()); break;
    case 3: *p = (struct ebpf_inst)STX(sz, 10, src, off); break;
    default: {
        static const int32_t a[] = {0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1};
        *p =
            (struct ebpf_inst)ATOMIC(rnd_below(2) ? BPF_W : BPF_DW, a[rnd_below(10)], 10, src, off);
    }
    }
    return 1;
}

static void dump_prog(const struct ebpf_inst *p, uint32_t n)
{
    char buf[64];
    for (uint32_t i = 0; i < n; i++) {
        ebpf_insn_format(p, n, i, buf, sizeof buf);
        printf("  %3u: %s\n", i, buf);
    }
}

TEST(fuzz_differential_interpreter_vs_jit)
{
    struct ebpf_vm *probe = case_vm();
    static const struct ebpf_inst trivial[] = {MOV64_IMM(0, 0), EXIT()};
    CHECK_EQ(ebpf_vm_load(probe, trivial, sizeof trivial), 0);
    ebpf_jit_fn pf;
    int have = case_try_compile(t, probe, &pf);
    ebpf_vm_destroy(probe);
    CHECK(have >= 0);
    if (!have)
        return; /* no JIT in this build: nothing to compare */

    rng_state = 3;
    enum { N = 48 };
    struct ebpf_inst prog[N];
    for (int iter = 0; iter < 10000; iter++) {
        uint32_t i = 0;
        /* the stack slots used start zeroed (both engines leave the stack
         * uninitialised) */
        for (int k = 1; k <= STACK_SLOTS; k++)
            prog[i++] = (struct ebpf_inst)ST_IMM(BPF_DW, 10, -8 * k, 0);
        uint32_t end = N - 1;
        while (i < end)
            i += gen_safe(&prog[i], i, end);
        prog[end] = (struct ebpf_inst)EXIT();
        /* a jump must not land on the high half of an lddw: aim at its start */
        for (uint32_t k = 0; k < end; k++) {
            uint8_t c = prog[k].opcode & 7;
            if ((c == 5 || c == 6) && prog[k].opcode != 0x85 && prog[k].opcode != 0x95) {
                uint32_t tgt = k + 1 + (uint32_t)prog[k].off;
                if (tgt > 0 && prog[tgt].opcode == 0 && prog[tgt - 1].opcode == 0x18)
                    prog[k].off--;
            }
        }
        /* r0 folds in every register so a wrong one anywhere shows */
        struct ebpf_inst full[N + 20];
        uint32_t fn_ = 0;
        for (uint8_t r = 0; r < 10; r++) {
            uint64_t v = rnd_val();
            full[fn_++] = (struct ebpf_inst)INSN(0x18, r, 0, 0, (uint32_t)v);
            full[fn_++] = (struct ebpf_inst)INSN(0, 0, 0, 0, (uint32_t)(v >> 32));
        }
        /* program body without its exit, then r0 ^= r1..r9 rotated, exit */
        uint32_t body_start = fn_;
        for (uint32_t k = 0; k < end; k++) {
            struct ebpf_inst in = prog[k];
            full[fn_++] = in;
        }
        (void)body_start;
        /* jumps in the body target at most index end-1 of prog, which is now
         * body_start+end-1: the fold below begins right at body_start+end */
        struct ebpf_inst tail[] = {
            ALU64_REG(BPF_XOR, 0, 1), ALU64_REG(BPF_ADD, 0, 2), ALU64_REG(BPF_XOR, 0, 3),
            ALU64_REG(BPF_ADD, 0, 4), ALU64_REG(BPF_XOR, 0, 5), ALU64_REG(BPF_ADD, 0, 6),
            ALU64_REG(BPF_XOR, 0, 7), ALU64_REG(BPF_ADD, 0, 8), ALU64_REG(BPF_XOR, 0, 9),
            LDX(BPF_DW, 1, 10, -8),   ALU64_REG(BPF_ADD, 0, 1), EXIT(),
        };
        struct ebpf_inst code[N + 40];
        memcpy(code, full, fn_ * sizeof full[0]);
        memcpy(code + fn_, tail, sizeof tail);
        uint32_t total = fn_ + (uint32_t)(sizeof tail / sizeof tail[0]);

        struct ebpf_vm *vm = case_vm();
        int rc = ebpf_vm_load(vm, code, total * sizeof code[0]);
        if (rc != 0) {
            dump_prog(code, total);
            test_fail(t, __FILE__, __LINE__, "iteration %d: generated program refused: %s", iter,
                      ebpf_vm_error(vm));
            return;
        }
        uint64_t ri = 0;
        rc = ebpf_vm_exec(vm, NULL, 0, &ri);
        if (rc != 0) {
            dump_prog(code, total);
            test_fail(t, __FILE__, __LINE__, "iteration %d: interpreter: %s", iter,
                      ebpf_vm_error(vm));
            return;
        }
        ebpf_jit_fn fn;
        if (case_try_compile(t, vm, &fn) != 1)
            return;
        uint64_t rj = fn(NULL, 0);
        if (ri != rj) {
            dump_prog(code, total);
            test_fail(t, __FILE__, __LINE__,
                      "iteration %d: interpreter r0 0x%" PRIx64 " != JIT r0 0x%" PRIx64, iter, ri,
                      rj);
            return;
        }
        ebpf_vm_destroy(vm);
    }
}

/* Every (dst, src) register pair for the instructions whose x86 forms use
 * fixed registers (div/mod need rax:rdx, variable shifts need cl): the JIT
 * must give the interpreter's result whatever the eBPF registers map to. */
TEST(register_pairs_div_mod_shift_interpreter_vs_jit)
{
    static const struct {
        uint8_t opcode;
        int16_t off;
    } ops[] = {
        {0x3f, 0}, {0x3f, 1}, {0x9f, 0}, {0x9f, 1}, {0x3c, 0}, {0x3c, 1}, {0x9c, 0}, {0x9c, 1},
        {0x6f, 0}, {0x7f, 0}, {0xcf, 0}, {0x6c, 0}, {0x7c, 0}, {0xcc, 0}, {0x2f, 0}, {0x2c, 0},
    };
    static const uint64_t vals[10] = {
        0xfedcba9876543210ULL,
        0x8000000000000000ULL,
        0x0000000100000007ULL,
        13,
        0xffffffffffffffffULL,
        0x00000000ffffffffULL,
        0x123456789ULL,
        0xffffffff80000000ULL,
        65,
        0x7fffffffffffffffULL,
    };
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (uint8_t d = 0; d < 10; d++) {
            for (uint8_t sr = 0; sr < 10; sr++) {
                struct ebpf_inst code[40];
                uint32_t n = 0;
                for (uint8_t r = 0; r < 10; r++) {
                    code[n++] = (struct ebpf_inst)INSN(0x18, r, 0, 0, (uint32_t)vals[r]);
                    code[n++] = (struct ebpf_inst)INSN(0, 0, 0, 0, (uint32_t)(vals[r] >> 32));
                }
                code[n++] = (struct ebpf_inst)INSN(ops[o].opcode, d, sr, ops[o].off, 0);
                for (uint8_t r = 1; r < 10; r++) {
                    code[n++] = (struct ebpf_inst)ALU64_IMM(BPF_LSH, 0, 7);
                    code[n++] = (struct ebpf_inst)ALU64_REG(BPF_XOR, 0, r);
                }
                code[n++] = (struct ebpf_inst)EXIT();
                struct ebpf_vm *vm = case_vm();
                CHECK_EQ(ebpf_vm_load(vm, code, n * sizeof code[0]), 0);
                uint64_t ri = 0;
                CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &ri), 0);
                ebpf_jit_fn fn;
                int have = case_try_compile(t, vm, &fn);
                CHECK(have >= 0);
                if (!have) {
                    ebpf_vm_destroy(vm);
                    return;
                }
                uint64_t rj = fn(NULL, 0);
                if (ri != rj) {
                    char text[64];
                    ebpf_insn_format(code, n, 20, text, sizeof text);
                    test_fail(t, __FILE__, __LINE__,
                              "%s: interpreter 0x%" PRIx64 " != JIT 0x%" PRIx64, text, ri, rj);
                    return;
                }
                ebpf_vm_destroy(vm);
            }
        }
    }
}
