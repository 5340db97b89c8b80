/* Differential test: thousands of random valid programs run on the
 * interpreter and the JIT must give the same r0 and the same memory.
 *
 * The generator tracks which registers hold defined scalars, so programs
 * never read an undefined register (helper calls clobber r1-r5 on real
 * hardware but not in the interpreter) and never let a pointer escape into
 * r0 or memory (the two engines run on different buffers and stacks). It
 * emits: ALU32/ALU64 ops of every kind with random registers and immediates
 * (incl. div/mod/sdiv/smod, shifts, movsx, byte swaps), lddw, loads/stores
 * of every size (incl. sign-extending loads) to the mem buffer and the
 * stack, atomics, helper calls (also through a register: callx with registered,
 * unregistered and out-of-range ids), bpf-to-bpf calls, nested if/else with every
 * condition (JMP and JMP32, reg and imm, ja and gotol) and bounded loops.
 *
 * Deterministic: BPFTIME_JIT_DIFF_SEED / BPFTIME_JIT_DIFF_COUNT override
 * the seed and the number of programs; a mismatch prints the seed and the
 * program index (BPFTIME_JIT_DUMP=1 also prints the program and its code). */
#include "vm/tests/test_jit_util.h"

#define MEMLEN 512
#define MAXF 6
#define STACK_LO (-256) /* frame bytes [-256, -16) are initialized, [-8] holds mem */
#define STACK_HI (-16)

enum { U = 0, S = 1 };

struct state {
    uint8_t k[10];
};

struct fixup {
    int func, idx, target;
};

struct gen {
    uint64_t rng;
    struct prog f[MAXF];
    int nf;
    struct fixup fix[4096];
    int nfix;
    int fn; /* function being generated */
    int insns_left;
};

static uint64_t rnd64(struct gen *g)
{
    /* splitmix64 */
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t rnd(struct gen *g, uint32_t n)
{
    return (uint32_t)(rnd64(g) % n);
}

static void E(struct gen *g, uint8_t op, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    prog_emit(&g->f[g->fn], op, dst, src, off, imm);
    g->insns_left--;
}

static uint32_t cur(struct gen *g)
{
    return g->f[g->fn].n;
}

static int32_t rnd_imm(struct gen *g)
{
    static const int32_t edge[] = {0,      1,      -1,        2,         31,   32,
                                   63,     64,     INT32_MIN, INT32_MAX, 0x80, 0xff,
                                   0xffff, 0x8000, 1 << 16,   -128,      7,    3};
    switch (rnd(g, 10)) {
    case 0:
    case 1:
    case 2: return (int32_t)rnd(g, 33) - 16;
    case 3:
    case 4: return edge[rnd(g, sizeof edge / sizeof edge[0])];
    default: return (int32_t)(uint32_t)rnd64(g);
    }
}

static uint64_t rnd_val(struct gen *g)
{
    switch (rnd(g, 6)) {
    case 0: return (uint64_t)(int64_t)rnd_imm(g);
    case 1: return 0x8000000000000000ULL >> rnd(g, 64);
    case 2: return (uint64_t)(int64_t)(int32_t)rnd64(g);
    default: return rnd64(g);
    }
}

static void set_scalar(struct gen *g, struct state *st, uint8_t r)
{
    if (rnd(g, 3) == 0)
        prog_lddw(&g->f[g->fn], r, rnd_val(g)), g->insns_left -= 2;
    else
        E(g, rnd(g, 2) ? 0xb7 : 0xb4, r, 0, 0, rnd_imm(g));
    st->k[r] = S;
}

static void ensure(struct gen *g, struct state *st, uint8_t r)
{
    if (st->k[r] != S)
        set_scalar(g, st, r);
}

/* a register the block may write: r0-r9 minus reserved loop counters */
static uint8_t pick_dst(struct gen *g, unsigned reserved)
{
    for (;;) {
        uint8_t r = (uint8_t)rnd(g, 10);
        if (!(reserved & (1u << r)))
            return r;
    }
}

static uint8_t pick_src(struct gen *g, struct state *st)
{
    uint8_t r = (uint8_t)rnd(g, 10);
    for (int i = 0; i < 10; i++) {
        uint8_t q = (uint8_t)((r + i) % 10);
        if (st->k[q] == S)
            return q;
    }
    /* nothing defined (cannot normally happen): define r0 */
    return 0;
}

static void gen_alu(struct gen *g, struct state *st, unsigned reserved)
{
    static const uint8_t ops[] = {0x00, 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70,
                                  0x80, 0x90, 0xa0, 0xa0, 0xb0, 0xb0, 0xc0, 0xd0};
    uint8_t op = ops[rnd(g, sizeof ops)];
    bool w = rnd(g, 2);
    uint8_t dst = pick_dst(g, reserved);
    if (op != 0xb0)
        ensure(g, st, dst);
    ensure(g, st, pick_src(g, st)); /* at least one defined register */
    uint8_t src = pick_src(g, st);
    bool x = rnd(g, 2);
    int16_t off = 0;
    int32_t imm = x ? 0 : rnd_imm(g);
    if (op == 0x80) {
        x = false;
        imm = 0;
    } else if (op == 0xd0) {
        static const int32_t widths[] = {16, 32, 64};
        uint8_t opc = rnd(g, 3) == 0 ? 0xd7 : rnd(g, 2) ? 0xdc : 0xd4;
        E(g, opc, dst, 0, 0, widths[rnd(g, 3)]);
        st->k[dst] = S;
        return;
    } else if (op == 0x30 || op == 0x90) {
        off = (int16_t)rnd(g, 2);
        if (!x && rnd(g, 4) == 0)
            imm = rnd(g, 2) ? -1 : 1 << rnd(g, 31);
    } else if (op == 0xb0 && x && rnd(g, 3) == 0) {
        static const int16_t sx64[] = {8, 16, 32}, sx32[] = {8, 16};
        off = w ? sx64[rnd(g, 3)] : sx32[rnd(g, 2)];
    }
    E(g, (uint8_t)(op | (w ? 0x07 : 0x04) | (x ? 0x08 : 0)), dst, x ? src : 0, off, imm);
    st->k[dst] = S;
}

static const int sizes[4] = {4, 2, 1, 8}; /* by size field >> 3 */

/* Puts a pointer into a scratch register (or uses r10) and returns the base
 * register and an offset valid for an access of `size` bytes. */
static uint8_t gen_base(struct gen *g, struct state *st, unsigned reserved, int size, bool aligned,
                        int16_t *off, uint8_t avoid)
{
    if (rnd(g, 3) == 0) {
        int span = (STACK_HI - STACK_LO - size) / (aligned ? size : 1);
        *off = (int16_t)(STACK_LO + (int)rnd(g, (uint32_t)span + 1) * (aligned ? size : 1));
        return 10;
    }
    uint8_t b;
    do
        b = pick_dst(g, reserved);
    while (b == avoid);
    E(g, 0x79, b, 10, -8, 0);
    st->k[b] = U; /* holds a pointer now */
    int delta = 0;
    if (rnd(g, 2)) {
        delta = (int)rnd(g, MEMLEN / 8) * 8;
        E(g, 0x07, b, 0, 0, delta);
    }
    int span = (MEMLEN - size) / (aligned ? size : 1);
    *off = (int16_t)((int)rnd(g, (uint32_t)span + 1) * (aligned ? size : 1) - delta);
    return b;
}

static void gen_store(struct gen *g, struct state *st, unsigned reserved)
{
    uint8_t sz = (uint8_t)(rnd(g, 4) << 3);
    int16_t off;
    ensure(g, st, pick_src(g, st));
    uint8_t src = pick_src(g, st);
    uint8_t b = gen_base(g, st, reserved, sizes[sz >> 3], false, &off, src);
    if (rnd(g, 3) == 0)
        E(g, (uint8_t)(0x62 | sz), b, 0, off, rnd_imm(g));
    else
        E(g, (uint8_t)(0x63 | sz), b, src, off, 0);
}

/* clang's address arithmetic: rA = rB(ptr); rA += rC; rA = *(rA + off) */
static void gen_indexed_load(struct gen *g, struct state *st, unsigned reserved)
{
    uint8_t sz = (uint8_t)(rnd(g, 4) << 3);
    static const uint8_t sx[4] = {0x81, 0x89, 0x91, 0x79};
    uint8_t op = rnd(g, 3) == 0 ? sx[sz >> 3] : (uint8_t)(0x61 | sz);
    uint8_t b = pick_dst(g, reserved), c, a;
    do
        c = pick_dst(g, reserved);
    while (c == b);
    do /* rA may be rB (then the pointer is consumed) but not rC */
        a = pick_dst(g, reserved);
    while (a == c);
    E(g, 0x79, b, 10, -8, 0);
    st->k[b] = U;
    int idx = (int)rnd(g, MEMLEN - 64);
    E(g, 0xb7, c, 0, 0, idx);
    st->k[c] = S;
    E(g, 0xbf, a, b, 0, 0);
    E(g, 0x0f, a, c, 0, 0);
    E(g, op, a, a, (int16_t)((int)rnd(g, 64 - 8) - (rnd(g, 2) ? (idx < 32 ? idx : 32) : 0)), 0);
    st->k[a] = S;
    if (rnd(g, 2))
        st->k[b] = U;
}

/* mov + add/zext pairs the JIT folds into lea / mov r32 */
static void gen_mov_pair(struct gen *g, struct state *st, unsigned reserved)
{
    ensure(g, st, pick_src(g, st));
    uint8_t b = pick_src(g, st), a = pick_dst(g, reserved);
    E(g, 0xbf, a, b, 0, 0);
    switch (rnd(g, 3)) {
    case 0:
        ensure(g, st, pick_src(g, st));
        E(g, 0x0f, a, rnd(g, 3) == 0 ? a : pick_src(g, st), 0, 0);
        break;
    case 1: E(g, 0x07, a, 0, 0, rnd_imm(g)); break;
    default:
        E(g, 0x67, a, 0, 0, 32);
        E(g, rnd(g, 2) ? 0x77 : 0xc7, a, 0, 0, 32);
        break;
    }
    st->k[a] = S;
}

static void gen_load(struct gen *g, struct state *st, unsigned reserved)
{
    if (rnd(g, 4) == 0) {
        gen_indexed_load(g, st, reserved);
        return;
    }
    uint8_t sz = (uint8_t)(rnd(g, 4) << 3);
    bool sx = sz != 0x18 && rnd(g, 3) == 0;
    int16_t off;
    uint8_t b = gen_base(g, st, reserved, sizes[sz >> 3], false, &off, 0xff);
    uint8_t dst = rnd(g, 3) == 0 && b != 10 ? b : pick_dst(g, reserved);
    E(g, (uint8_t)((sx ? 0x81 : 0x61) | sz), dst, b, off, 0);
    st->k[dst] = S;
}

static void gen_atomic(struct gen *g, struct state *st, unsigned reserved)
{
    static const int32_t ops[] = {0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1};
    int32_t op = ops[rnd(g, sizeof ops / sizeof ops[0])];
    bool dw = rnd(g, 2);
    if (op == 0xf1)
        ensure(g, st, 0);
    uint8_t src = pick_dst(g, reserved);
    ensure(g, st, src);
    int16_t off;
    /* base r0 for cmpxchg is fine: the comparand is then a pointer, which
     * no memory word equals, and r0 receives the old value */
    uint8_t b = gen_base(g, st, reserved, dw ? 8 : 4, true, &off, src);
    E(g, dw ? 0xdb : 0xc3, b, src, off, op);
    if (op & 1)
        st->k[src] = S;
    if (op == 0xf1)
        st->k[0] = S;
}

/* callx: the id in r0-r5 (dead after the call anyway), registered or not */
static void gen_callx(struct gen *g)
{
    static const int64_t ids[] = {1, 2, 3, 0, 5, 12, 1023, 1024, -1, 0x100000002LL};
    int64_t id = ids[rnd(g, sizeof ids / sizeof ids[0])];
    uint8_t r = (uint8_t)rnd(g, 6);
    if (id == (int32_t)id) {
        E(g, 0xb7, r, 0, 0, (int32_t)id);
    } else {
        prog_lddw(&g->f[g->fn], r, (uint64_t)id);
        g->insns_left -= 2;
    }
    E(g, 0x8d, r, 0, 0, 0);
}

static void gen_helper(struct gen *g, struct state *st)
{
    for (uint8_t r = 1; r <= 5; r++)
        ensure(g, st, r);
    if (rnd(g, 3) == 0)
        gen_callx(g);
    else
        E(g, 0x85, 0, 0, 0, (int32_t)(1 + rnd(g, 3)));
    st->k[0] = S;
    for (uint8_t r = 1; r <= 5; r++)
        st->k[r] = U;
}

static void gen_local_call(struct gen *g, struct state *st)
{
    int target = g->fn + 1 + (int)rnd(g, (uint32_t)(g->nf - g->fn - 1));
    for (uint8_t r = 1; r <= 4; r++)
        ensure(g, st, r);
    E(g, 0x79, 5, 10, -8, 0); /* r5 = mem for the callee */
    if (g->nfix < (int)(sizeof g->fix / sizeof g->fix[0]))
        g->fix[g->nfix++] = (struct fixup){g->fn, (int)cur(g), target};
    E(g, 0x85, 0, 1, 0, 0);
    st->k[0] = S;
    for (uint8_t r = 1; r <= 5; r++)
        st->k[r] = U;
}

static void gen_block(struct gen *g, struct state *st, unsigned reserved, int nest, int n);

static void meet(struct state *a, const struct state *b)
{
    for (int r = 0; r < 10; r++)
        if (a->k[r] != b->k[r])
            a->k[r] = U;
}

/* conditional jump with a placeholder offset; returns its index */
static uint32_t gen_cond(struct gen *g, struct state *st)
{
    static const uint8_t conds[] = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60,
                                    0x70, 0xa0, 0xb0, 0xc0, 0xd0};
    uint8_t c = conds[rnd(g, sizeof conds)];
    bool w = rnd(g, 2), x = rnd(g, 2);
    ensure(g, st, pick_src(g, st));
    uint8_t d = pick_src(g, st), s = pick_src(g, st);
    uint32_t at = cur(g);
    E(g, (uint8_t)(c | (w ? 0x05 : 0x06) | (x ? 0x08 : 0)), d, x ? s : 0, 0, x ? 0 : rnd_imm(g));
    return at;
}

static void patch_off(struct gen *g, uint32_t at, uint32_t target)
{
    g->f[g->fn].v[at].off = (int16_t)((int)target - (int)at - 1);
}

static void gen_if(struct gen *g, struct state *st, unsigned reserved, int nest)
{
    uint32_t j = gen_cond(g, st);
    struct state a = *st;
    gen_block(g, &a, reserved, nest + 1, 1 + (int)rnd(g, 6));
    if (rnd(g, 2)) {
        /* else branch: ja or gotol over it */
        uint32_t ja = cur(g);
        bool l = rnd(g, 2);
        E(g, l ? 0x06 : 0x05, 0, 0, 0, 0);
        patch_off(g, j, cur(g));
        struct state b = *st;
        gen_block(g, &b, reserved, nest + 1, 1 + (int)rnd(g, 6));
        int32_t d = (int32_t)cur(g) - (int32_t)ja - 1;
        if (l)
            g->f[g->fn].v[ja].imm = d;
        else
            g->f[g->fn].v[ja].off = (int16_t)d;
        meet(&a, &b);
        *st = a;
    } else {
        patch_off(g, j, cur(g));
        meet(st, &a);
    }
}

static void gen_loop(struct gen *g, struct state *st, unsigned reserved, int nest)
{
    uint8_t c;
    int tries = 0;
    do
        c = (uint8_t)(6 + rnd(g, 4));
    while ((reserved & (1u << c)) && ++tries < 16);
    if (reserved & (1u << c))
        return;
    E(g, 0xb7, c, 0, 0, (int32_t)(1 + rnd(g, 5)));
    st->k[c] = S;
    uint32_t top = cur(g);
    struct state in = *st;
    gen_block(g, st, reserved | (1u << c), nest + 1, 1 + (int)rnd(g, 8));
    /* the next iteration starts from here: re-define what the body undefined */
    for (uint8_t r = 0; r < 10; r++)
        if (in.k[r] == S && st->k[r] != S)
            set_scalar(g, st, r);
    switch (rnd(g, 4)) {
    case 0:
        E(g, 0x07, c, 0, 0, -1);
        E(g, 0x55, c, 0, (int16_t)((int)top - (int)cur(g) - 1), 0);
        break;
    case 1:
        E(g, 0x14, c, 0, 0, 1); /* w32 -= 1 */
        E(g, 0x56, c, 0, (int16_t)((int)top - (int)cur(g) - 1), 0);
        break;
    case 2:
        E(g, 0x17, c, 0, 0, 1);
        E(g, 0x65, c, 0, (int16_t)((int)top - (int)cur(g) - 1), 0); /* s> 0 */
        break;
    default:
        E(g, 0x17, c, 0, 0, 1);
        E(g, 0x25, c, 0, (int16_t)((int)top - (int)cur(g) - 1), 0); /* > 0 */
        break;
    }
}

static void gen_block(struct gen *g, struct state *st, unsigned reserved, int nest, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t r = rnd(g, 100);
        if (g->insns_left <= 0)
            r = 0; /* only straight-line code once the budget is spent */
        if (r < 32)
            gen_alu(g, st, reserved);
        else if (r < 38)
            gen_mov_pair(g, st, reserved);
        else if (r < 42) {
            uint8_t d = pick_dst(g, reserved);
            prog_lddw(&g->f[g->fn], d, rnd_val(g));
            g->insns_left -= 2;
            st->k[d] = S;
        } else if (r < 52)
            gen_store(g, st, reserved);
        else if (r < 62)
            gen_load(g, st, reserved);
        else if (r < 68)
            gen_atomic(g, st, reserved);
        else if (r < 72)
            gen_helper(g, st);
        else if (r < 75 && g->fn < g->nf - 1)
            gen_local_call(g, st);
        else if (r < 88 && nest < 3)
            gen_if(g, st, reserved, nest);
        else if (r < 92 && nest < 2)
            gen_loop(g, st, reserved, nest);
        else
            gen_alu(g, st, reserved);
    }
}

static void init_frame(struct gen *g)
{
    for (int o = STACK_LO; o < STACK_HI; o += 8)
        E(g, 0x7a, 10, 0, (int16_t)o, rnd_imm(g));
}

/* Builds one program into *out. */
static void gen_program(struct gen *g, struct prog *out)
{
    g->nf = 1 + (int)rnd(g, MAXF);
    g->nfix = 0;
    for (int f = 0; f < g->nf; f++) {
        memset(&g->f[f], 0, sizeof g->f[f]);
        g->fn = f;
        g->insns_left = 20 + (int)rnd(g, f == 0 ? 200 : 60);
        struct state st = {{0}};
        if (f == 0) {
            E(g, 0x7b, 10, 1, -8, 0);
            for (uint8_t r = 0; r < 10; r++)
                if (r != 1)
                    set_scalar(g, &st, r);
        } else {
            E(g, 0x7b, 10, 5, -8, 0);
            for (uint8_t r = 1; r <= 4; r++)
                st.k[r] = S;
        }
        init_frame(g);
        while (g->insns_left > 0)
            gen_block(g, &st, 0, 0, 1);
        if (f == 0) {
            /* fold every defined register into r0 */
            ensure(g, &st, 0);
            for (uint8_t r = 1; r < 10; r++) {
                if (st.k[r] != S)
                    continue;
                E(g, 0x27, 0, 0, 0, 0x01000193);
                E(g, 0xaf, 0, r, 0, 0);
            }
        } else {
            ensure(g, &st, 0);
        }
        E(g, 0x95, 0, 0, 0, 0);
    }
    /* concatenate and resolve calls */
    uint32_t startf[MAXF], total = 0;
    for (int f = 0; f < g->nf; f++) {
        startf[f] = total;
        total += g->f[f].n;
    }
    memset(out, 0, sizeof *out);
    for (int f = 0; f < g->nf; f++) {
        for (uint32_t i = 0; i < g->f[f].n; i++) {
            struct ebpf_inst in = g->f[f].v[i];
            prog_emit(out, in.opcode, in.dst, in.src, in.off, in.imm);
        }
    }
    for (int k = 0; k < g->nfix; k++) {
        struct fixup *x = &g->fix[k];
        uint32_t at = startf[x->func] + (uint32_t)x->idx;
        out->v[at].imm = (int32_t)startf[x->target] - (int32_t)at - 1;
    }
    for (int f = 0; f < g->nf; f++)
        prog_free(&g->f[f]);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static void dump_prog(const struct prog *p)
{
    for (uint32_t i = 0; i < p->n; i++) {
        char text[96];
        ebpf_insn_format(p->v, p->n, i, text, sizeof text);
        printf("  %4u: %s\n", i, text);
    }
}

static void run_diff(struct test_ctx *t, uint64_t seed, unsigned count, unsigned opts)
{
    unsigned long insns = 0;
    for (unsigned i = 0; i < count; i++) {
        struct gen g;
        memset(&g, 0, sizeof g);
        g.rng = seed ^ (0x51ed2701ULL * (i + 1));
        struct prog p;
        gen_program(&g, &p);
        insns += p.n;
        _Alignas(16) uint8_t mi[MEMLEN], mj[MEMLEN];
        for (int k = 0; k < MEMLEN; k++)
            mi[k] = mj[k] = (uint8_t)(k * 131 + i);
        struct jt_result r;
        char err[256];
        unsigned o = opts | (i % 4 == 3 ? EBPF_JIT_NO_BMI2 : 0);
        if (jt_run_both(&p, o, mi, mj, MEMLEN, &r, err, sizeof err)) {
            test_fail(t, __FILE__, __LINE__, "seed 0x%" PRIx64 " program %u (%u insns): %s", seed,
                      i, p.n, err);
            if (getenv("BPFTIME_JIT_DUMP"))
                dump_prog(&p);
            prog_free(&p);
            return;
        }
        long d = jt_first_diff(mi, mj, MEMLEN);
        if (r.r_interp != r.r_jit || d >= 0) {
            test_fail(t, __FILE__, __LINE__,
                      "seed 0x%" PRIx64 " program %u (%u insns, opts %u): r0 interp 0x%" PRIx64
                      " jit 0x%" PRIx64 ", first memory difference at %ld",
                      seed, i, p.n, o, r.r_interp, r.r_jit, d);
            if (getenv("BPFTIME_JIT_DUMP"))
                dump_prog(&p);
            prog_free(&p);
            return;
        }
        prog_free(&p);
    }
    printf("# %u programs, %lu instructions, identical on interpreter and JIT\n", count, insns);
}

TEST(jit_differential_random_programs)
{
    run_diff(t, env_u64("BPFTIME_JIT_DIFF_SEED", 0xb9f7e1ULL),
             (unsigned)env_u64("BPFTIME_JIT_DIFF_COUNT", 10000), 0);
}

TEST(jit_differential_no_peephole_abs_calls)
{
    run_diff(t, env_u64("BPFTIME_JIT_DIFF_SEED", 0xb9f7e1ULL) ^ 0x5555,
             (unsigned)env_u64("BPFTIME_JIT_DIFF_COUNT", 10000) / 4,
             EBPF_JIT_NO_PEEPHOLE | EBPF_JIT_NO_REL32);
}
