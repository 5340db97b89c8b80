/* Inline array lookups: `call 1` (bpf_map_lookup_elem) on a map the
 * map_inline callback describes as an array is compiled into a bounds check
 * and an address computation. The JIT's inline code must give what the
 * helper gives (the interpreter and the JIT with EBPF_JIT_NO_INLINE call it):
 * the same pointer for every key < max_entries, NULL for the rest, for
 * strides that take every encoding path (lea scale, shift, imul imm8/imm32),
 * with r6-r9, r10 and the stack intact; and the helper must really be
 * skipped only where r1 is a known constant map in the same basic block. */
#include <stdlib.h>

#include "test/harness.h"
#include "vm/tests/prog_builder.h"
#include "vm/vm_internal.h"
#include "vm/x86_emit.h"

#define FAKE_MAGIC 0x41525259u

/* A stand-in for the runtime's map handle. */
struct fake_array {
    uint32_t magic;
    uint32_t inline_ok; /* the callback describes it (else: like a per-CPU array) */
    uint32_t stride;
    uint32_t max_entries;
    uint8_t *data;
};

static int helper_calls;

static uint64_t fake_lookup(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
    (void)r3, (void)r4, (void)r5;
    helper_calls++;
    const struct fake_array *m = (const struct fake_array *)(uintptr_t)r1;
    uint32_t key;
    memcpy(&key, (const void *)(uintptr_t)r2, 4);
    if (m->magic != FAKE_MAGIC || key >= m->max_entries)
        return 0;
    return (uint64_t)(uintptr_t)(m->data + (size_t)key * m->stride);
}

static int inline_queries;

static bool fake_inline(void *user, uint64_t map, struct ebpf_array_inline *out)
{
    (void)user;
    inline_queries++;
    const struct fake_array *m = (const struct fake_array *)(uintptr_t)map;
    if (!m || m->magic != FAKE_MAGIC || !m->inline_ok)
        return false;
    out->values = (uint64_t)(uintptr_t)m->data;
    out->stride = m->stride;
    out->max_entries = m->max_entries;
    return true;
}

static uint64_t expected(const struct fake_array *m, uint32_t key)
{
    return key < m->max_entries ? (uint64_t)(uintptr_t)(m->data + (size_t)key * m->stride) : 0;
}

/* ctx = { u32 key }. Sets r6-r9, stores the key at [r10-8] with garbage
 * around it, looks it up, checks r6-r9 and the stack, then
 *   mode 0: returns the pointer
 *   mode 1: returns the u64 at the pointer (0xdead for NULL) and stores
 *           the key + 1 into its first byte */
static void build(struct prog *p, const struct fake_array *m, int mode)
{
    prog_emit(p, 0xbf, 6, 1, 0, 0); /* r6 = r1 */
    prog_lddw(p, 7, 0x7777777777777777ull);
    prog_emit(p, 0xb7, 8, 0, 0, -8);    /* r8 = -8 */
    prog_emit(p, 0xb7, 9, 0, 0, 0x999); /* r9 = 0x999 */
    prog_emit(p, 0x7a, 10, 0, -16, -1); /* *(u64 *)(r10-16) = -1 */
    prog_emit(p, 0x7a, 10, 0, -8, -1);  /* *(u64 *)(r10-8) = -1 */
    prog_emit(p, 0x61, 2, 6, 0, 0);     /* r2 = *(u32 *)(r6+0) */
    prog_emit(p, 0x63, 10, 2, -8, 0);   /* *(u32 *)(r10-8) = r2 */
    prog_emit(p, 0xbf, 2, 10, 0, 0);    /* r2 = r10 */
    prog_emit(p, 0x07, 2, 0, 0, -8);    /* r2 += -8 */
    prog_lddw(p, 1, (uint64_t)(uintptr_t)m);
    prog_emit(p, 0x85, 0, 0, 0, 1); /* call 1 */
    /* callee-saved registers and the stack survive */
    prog_lddw(p, 1, 0x7777777777777777ull);
    prog_emit(p, 0x5d, 7, 1, 12, 0);     /* if r7 != r1 goto bad */
    prog_emit(p, 0x55, 8, 0, 11, -8);    /* if r8 != -8 goto bad */
    prog_emit(p, 0x55, 9, 0, 10, 0x999); /* if r9 != 0x999 goto bad */
    prog_emit(p, 0x79, 1, 10, -16, 0);   /* r1 = *(u64 *)(r10-16) */
    prog_emit(p, 0x55, 1, 0, 8, -1);     /* if r1 != -1 goto bad */
    prog_emit(p, 0x61, 1, 10, -4, 0);    /* r1 = *(u32 *)(r10-4) */
    prog_emit(p, 0x56, 1, 0, 6, -1);     /* if w1 != -1 goto bad */
    prog_emit(p, 0x61, 1, 6, 0, 0);      /* r1 = *(u32 *)(r6+0) */
    prog_emit(p, 0x61, 3, 10, -8, 0);    /* r3 = *(u32 *)(r10-8) */
    prog_emit(p, 0x5d, 1, 3, 3, 0);      /* if r1 != r3 goto bad */
    if (mode == 0) {
        prog_emit(p, 0x95, 0, 0, 0, 0); /* exit */
        prog_emit(p, 0x05, 0, 0, 0, 0); /* (ja +0: keeps offsets equal) */
        prog_emit(p, 0x05, 0, 0, 0, 0);
    } else {
        prog_emit(p, 0x15, 0, 0, 4, 0); /* if r0 == 0 goto null */
        prog_emit(p, 0x07, 1, 0, 0, 1); /* r1 += 1 */
        prog_emit(p, 0x05, 0, 0, 4, 0); /* goto load */
    }
    /* bad: */
    prog_emit(p, 0xb7, 0, 0, 0, 1);
    prog_emit(p, 0x95, 0, 0, 0, 0);
    if (mode == 1) {
        /* null: */
        prog_emit(p, 0xb7, 0, 0, 0, 0xdead);
        prog_emit(p, 0x95, 0, 0, 0, 0);
        /* load: */
        prog_emit(p, 0x79, 3, 0, 0, 0); /* r3 = *(u64 *)(r0+0) */
        prog_emit(p, 0x73, 0, 1, 0, 0); /* *(u8 *)(r0+0) = r1 */
        prog_emit(p, 0xbf, 0, 3, 0, 0); /* r0 = r3 */
        prog_emit(p, 0x95, 0, 0, 0, 0);
    }
}

static struct ebpf_vm *mk_vm(const struct prog *p, const struct fake_array *m)
{
    struct ebpf_vm *vm = ebpf_vm_create();
    if (!vm)
        return NULL;
    ebpf_vm_register_helper(vm, 1, "map_lookup_elem", fake_lookup);
    ebpf_vm_set_map_inline(vm, fake_inline, NULL);
    if (m->data)
        ebpf_vm_add_region(vm, m->data, (size_t)m->stride * m->max_entries + 8, true);
    if (ebpf_vm_load(vm, p->v, p->n * sizeof *p->v) != 0) {
        printf("load: %s\n", ebpf_vm_error(vm));
        ebpf_vm_destroy(vm);
        return NULL;
    }
    return vm;
}

static uint64_t value_of(const struct fake_array *m, uint32_t key)
{
    uint64_t v;
    memcpy(&v, m->data + (size_t)key * m->stride, 8);
    return v;
}

static void fill(struct fake_array *m)
{
    for (size_t i = 0; i < (size_t)m->stride * m->max_entries + 8; i++)
        m->data[i] = (uint8_t)(i * 7 + (i >> 8) + 3);
}

TEST(inline_array_lookup_matches_helper)
{
    static const uint32_t value_sizes[] = {1, 3, 4, 7, 8, 12, 20, 24, 100, 200, 1000, 4096, 4100};
    static const uint32_t maxes[] = {1, 2, 5, 129};
    for (size_t vi = 0; vi < sizeof value_sizes / sizeof *value_sizes; vi++) {
        for (size_t mi = 0; mi < sizeof maxes / sizeof *maxes; mi++) {
            struct fake_array m = {FAKE_MAGIC, 1, (value_sizes[vi] + 7) & ~7u, maxes[mi], NULL};
            m.data = calloc((size_t)m.stride * m.max_entries + 8, 1);
            CHECK(m.data);
            fill(&m);
            uint32_t max = m.max_entries;
            const uint32_t keys[] = {0,          max - 1,    max,        max + 1,   max / 2,
                                     0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
            for (int mode = 0; mode < 2; mode++) {
                struct prog p = {0};
                build(&p, &m, mode);
                struct ebpf_vm *vi_vm = mk_vm(&p, &m), *vj = mk_vm(&p, &m), *vn = mk_vm(&p, &m);
                CHECK(vi_vm && vj && vn);
                inline_queries = 0;
                CHECK_EQ(ebpf_jit_x86_64_compile_opts(vj, 0), 0);
                CHECK_EQ(inline_queries, 1);
                CHECK_EQ(ebpf_jit_x86_64_compile_opts(vn, EBPF_JIT_NO_INLINE), 0);
                for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
                    uint32_t key = keys[k];
                    uint64_t want = expected(&m, key);
                    if (mode == 1)
                        want = want ? value_of(&m, key) : 0xdead;
                    uint64_t ri = 0, rj, rn;
                    uint32_t ctx = key;
                    helper_calls = 0;
                    CHECK_EQ(ebpf_vm_exec(vi_vm, &ctx, 4, &ri), 0);
                    CHECK_EQ(helper_calls, 1);
                    fill(&m); /* mode 1 writes the value */
                    rn = vn->jit_entry(&ctx, 4);
                    CHECK_EQ(helper_calls, 2);
                    fill(&m);
                    rj = vj->jit_entry(&ctx, 4);
                    CHECK_EQ(helper_calls, 2); /* inline: no call */
                    if (ri != want || rj != want || rn != want)
                        printf("value_size %u max %u key 0x%x mode %d\n", value_sizes[vi], max, key,
                               mode);
                    CHECK_EQ(ri, want);
                    CHECK_EQ(rn, want);
                    CHECK_EQ(rj, want);
                    if (mode == 1 && key < max) /* the store went through the pointer */
                        CHECK_EQ(m.data[(size_t)key * m.stride], (uint8_t)(key + 1));
                    fill(&m);
                }
                ebpf_vm_destroy(vi_vm);
                ebpf_vm_destroy(vj);
                ebpf_vm_destroy(vn);
                prog_free(&p);
            }
            free(m.data);
        }
    }
}

/* The runtime never hands out strides below 8, but the encoding paths for
 * 1, 2 and 4 (lea scale) and 0 exist: check them with pointers only. The
 * same goes for huge max_entries (no storage behind them: nothing is
 * dereferenced), where an imm32 compare must stay unsigned. */
TEST(inline_array_lookup_odd_strides_and_huge_max_entries)
{
    static const uint32_t strides[] = {0, 1, 2, 4, 8, 16, 24, 40, 128, 136, 1u << 20};
    static const uint32_t maxes[] = {1, 127, 128, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
    static uint8_t storage[8];
    for (size_t si = 0; si < sizeof strides / sizeof *strides; si++) {
        for (size_t mi = 0; mi < sizeof maxes / sizeof *maxes; mi++) {
            struct fake_array m = {FAKE_MAGIC, 1, strides[si], maxes[mi], storage};
            uint32_t max = m.max_entries;
            const uint32_t keys[] = {0,          1,          max - 1,    max,       max + 1,
                                     0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
            struct prog p = {0};
            build(&p, &m, 0);
            struct ebpf_vm *vi_vm = mk_vm(&p, &(struct fake_array){.data = NULL});
            struct ebpf_vm *vj = mk_vm(&p, &(struct fake_array){.data = NULL});
            CHECK(vi_vm && vj);
            CHECK_EQ(ebpf_jit_x86_64_compile_opts(vj, 0), 0);
            for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
                uint32_t ctx = keys[k];
                uint64_t ri = 0, rj;
                helper_calls = 0;
                CHECK_EQ(ebpf_vm_exec(vi_vm, &ctx, 4, &ri), 0);
                rj = vj->jit_entry(&ctx, 4);
                CHECK_EQ(helper_calls, 1);
                if (ri != expected(&m, keys[k]) || rj != ri)
                    printf("stride %u max 0x%x key 0x%x\n", m.stride, max, keys[k]);
                CHECK_EQ(ri, expected(&m, keys[k]));
                CHECK_EQ(rj, ri);
            }
            ebpf_vm_destroy(vi_vm);
            ebpf_vm_destroy(vj);
            prog_free(&p);
        }
    }
}

/* Counts helper calls of one JIT run of p (the key is 0). */
static int jit_calls(struct test_ctx *t, const struct prog *p, const struct fake_array *m,
                     uint64_t *ret)
{
    struct ebpf_vm *vm = mk_vm(p, m);
    if (!vm || ebpf_jit_x86_64_compile_opts(vm, 0) != 0) {
        test_fail(t, __FILE__, __LINE__, "compile: %s", vm ? ebpf_vm_error(vm) : "no vm");
        ebpf_vm_destroy(vm);
        return -1;
    }
    uint32_t ctx = 0;
    helper_calls = 0;
    *ret = vm->jit_entry(&ctx, 4);
    ebpf_vm_destroy(vm);
    return helper_calls;
}

/* prologue of the programs below: key 0 at [r10-4], r2 = r10 - 4, r1 = map */
static void lookup_prologue(struct prog *p, const struct fake_array *map)
{
    prog_emit(p, 0x62, 10, 0, -4, 0); /* *(u32 *)(r10-4) = 0 */
    prog_emit(p, 0xbf, 2, 10, 0, 0);
    prog_emit(p, 0x07, 2, 0, 0, -4);
    prog_lddw(p, 1, (uint64_t)(uintptr_t)map);
}

/* Ends p with the lookup (call 1) and exit, runs it once on the JIT and
 * returns the helper calls it made; p starts over. */
static int lookup_calls(struct test_ctx *t, struct prog *p, const struct fake_array *m,
                        uint64_t *ret)
{
    prog_emit(p, 0x85, 0, 0, 0, 1);
    prog_emit(p, 0x95, 0, 0, 0, 0);
    int calls = jit_calls(t, p, m, ret);
    prog_free(p);
    return calls;
}

TEST(inline_only_when_r1_is_a_known_array_in_the_block)
{
    struct fake_array m = {FAKE_MAGIC, 1, 8, 4, NULL}, pc = {FAKE_MAGIC, 0, 8, 4, NULL};
    m.data = calloc(40, 1);
    pc.data = calloc(40, 1);
    CHECK(m.data && pc.data);
    uint64_t want = (uint64_t)(uintptr_t)m.data, ret = 0;
    struct prog p = {0};

    /* plain: inlined */
    lookup_prologue(&p, &m);
    CHECK_EQ(lookup_calls(t, &p, &m, &ret), 0);
    CHECK_EQ(ret, want);

    /* the callback says no (a per-CPU array, say): the helper is called */
    lookup_prologue(&p, &pc);
    CHECK_EQ(lookup_calls(t, &p, &pc, &ret), 1);
    CHECK_EQ(ret, (uint64_t)(uintptr_t)pc.data);

    /* r1 rewritten after the lddw (here with the same value): not inlined */
    lookup_prologue(&p, &m);
    prog_emit(&p, 0x07, 1, 0, 0, 0); /* r1 += 0 */
    CHECK_EQ(lookup_calls(t, &p, &m, &ret), 1);
    CHECK_EQ(ret, want);

    /* a jump target between the lddw and the call: r1 may come from
     * elsewhere, not inlined */
    lookup_prologue(&p, &m);
    prog_emit(&p, 0x05, 0, 0, 0, 0); /* ja +0: the next insn is a jump target */
    CHECK_EQ(lookup_calls(t, &p, &m, &ret), 1);
    CHECK_EQ(ret, want);

    /* a helper call in between clobbers r1: the second lookup (r1
     * unknown) is a call */
    lookup_prologue(&p, &m);
    prog_emit(&p, 0x85, 0, 0, 0, 1); /* inlined */
    prog_emit(&p, 0xbf, 2, 10, 0, 0);
    prog_emit(&p, 0x07, 2, 0, 0, -4);
    CHECK_EQ(lookup_calls(t, &p, &m, &ret), 1);

    /* writes to other registers and stores keep r1 known; the lookup of a
     * key that is out of range gives NULL */
    prog_lddw(&p, 1, (uint64_t)(uintptr_t)&m);
    prog_emit(&p, 0x62, 10, 0, -4, 4); /* *(u32 *)(r10-4) = 4 = max_entries */
    prog_emit(&p, 0xbf, 2, 10, 0, 0);
    prog_emit(&p, 0x07, 2, 0, 0, -4);
    prog_emit(&p, 0xb7, 3, 0, 0, 1);
    CHECK_EQ(lookup_calls(t, &p, &m, &ret), 0);
    CHECK_EQ(ret, 0);

    /* a constant that is no map the callback knows: the helper path */
    struct fake_array none = {0};
    lookup_prologue(&p, &none);
    CHECK_EQ(lookup_calls(t, &p, &m, &ret), 1);
    CHECK_EQ(ret, 0);

    free(m.data);
    free(pc.data);
}
