/* Uprobes running real eBPF programs through the attach manager (JIT): the
 * hooked function's ymm registers survive a program with no helper call
 * (run with no vector save) and one whose helper clobbers them (glibc's
 * AVX2 memcpy); recursion is counted once per call; a program replaced
 * while 8 threads hit the hook loses no hit and frees the old code. */
#include <cpuid.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "attach/attach_manager.h"
#include "attach/uprobe.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"
#include "vm/tests/insn_macros.h"

TEST_REGION_MAKER("uprun", 8 << 20)
__attribute__((unused)) static void *unused_mk = (void *)mk;

/* 6 bytes, no stack: eax = edi + 1. */
long run_target(long x);
__asm__(".text\n.p2align 4\n.globl run_target\n.type run_target, @function\nrun_target:\n"
        "movl %edi, %eax\naddl $1, %eax\nret\n.size run_target, .-run_target\n");

/* ymm_call(fn, in, out): ymm0-15 from in (16 x 32 bytes), fn(41), ymm0-15 to out. */
void ymm_call(void *fn, const void *in, void *out);
#define YL(i) "vmovdqu " #i "*32(%rsi), %ymm" #i "\n"
#define YS(i) "vmovdqu %ymm" #i ", " #i "*32(%r12)\n"
#define Y16(m) m(0) m(1) m(2) m(3) m(4) m(5) m(6) m(7) m(8) m(9) m(10) m(11) m(12) m(13) m(14) m(15)
__asm__(".text\n.p2align 4\n.globl ymm_call\n.type ymm_call, @function\nymm_call:\n"
        "pushq %rbx\npushq %r12\npushq %r13\nmovq %rdi, %rbx\nmovq %rdx, %r12\n" Y16(
            YL) "movl $41, %edi\ncall *%rbx\n" Y16(YS) "vzeroupper\npopq %r13\npopq %r12\npopq "
                                                       "%rbx\nret\n.size ymm_call, .-ymm_call\n");

/* The environment probe: no AVX, no ymm registers to lose. */
static bool cpu_has_avx(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx");
}
#define AVX_TEST(name) TEST_IF(name, cpu_has_avx(), "this CPU has no AVX")

/* 0, or 1000 + 32 * register + byte of the first ymm byte that changed. */
static int ymm_changed_by_call(void)
{
    uint8_t in[16][32], out[16][32];
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 32; b++)
            in[r][b] = (uint8_t)(0x13 * (r + 1) + 5 * b + 3);
    memset(out, 0, sizeof out);
    ymm_call((void *)run_target, in, out);
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 32; b++)
            if (in[r][b] != out[r][b])
                return 1000 + 32 * r + b;
    return 0;
}

/* counts[0] += 1 on an array map, r0 = 0: the JIT inlines the lookup. */
#define COUNT_AND_EXIT \
    ST_IMM(BPF_W, 10, -4, 0), MOV64_REG(2, 10), ALU64_IMM(BPF_ADD, 2, -4), \
        LDDW_PSEUDO(1, 1, 0, 0), /* map index 0: counts */ \
        CALL_HELPER(1), JMP_IMM(BPF_JEQ, 0, 0, 2), MOV64_IMM(1, 1), \
        ATOMIC(BPF_DW, BPF_ADD, 0, 1, 0), MOV64_IMM(0, 0), EXIT()

/* The counter alone: the code calls nothing, so it runs with no vector
 * save. */
static const struct ebpf_inst count_prog[] = {COUNT_AND_EXIT};

/* blob[0] = 64 bytes from the stack, through bpf_map_update_elem: a 64-byte
 * memcpy in the runtime (glibc's AVX2 version on such machines: ymm
 * scratch, then vzeroupper). Then the counter. */
static const struct ebpf_inst copy_prog[] = {
    ST_IMM(BPF_DW, 10, -72, 1),
    ST_IMM(BPF_DW, 10, -64, 2),
    ST_IMM(BPF_DW, 10, -56, 3),
    ST_IMM(BPF_DW, 10, -48, 4),
    ST_IMM(BPF_DW, 10, -40, 5),
    ST_IMM(BPF_DW, 10, -32, 6),
    ST_IMM(BPF_DW, 10, -24, 7),
    ST_IMM(BPF_DW, 10, -16, 8),
    ST_IMM(BPF_W, 10, -4, 0),
    LDDW_PSEUDO(1, 1, 1, 0), /* map index 1: blob */
    MOV64_REG(2, 10),
    ALU64_IMM(BPF_ADD, 2, -4),
    MOV64_REG(3, 10),
    ALU64_IMM(BPF_ADD, 3, -72),
    MOV64_IMM(4, 0),
    CALL_HELPER(2),
    COUNT_AND_EXIT,
};

struct fixture {
    struct bpftime_region *r;
    struct bpftime_attach_manager *m;
    int counts, blob;
    uint32_t maps[2];
    int link;
};

static uint64_t count_of(struct fixture *f)
{
    uint32_t k = 0;
    uint64_t v = 0;
    if (bpftime_map_lookup(f->r, (uint32_t)f->counts, &k, &v) < 0)
        return UINT64_MAX;
    return v;
}

/* A region with the two maps, a uprobe (or uretprobe) on `sym` of this
 * executable linked to `insns`, instantiated. */
static int fixture_up(struct test_ctx *t, struct fixture *f, const char *tag, const char *sym,
                      int ret, const struct ebpf_inst *insns, uint32_t n)
{
    f->r = mk_with_map(t, tag, "counts", BPFTIME_MAP_ARRAY, 4, 8, 1, &f->counts);
    f->blob = bpftime_map_create(f->r, "blob", BPFTIME_MAP_HASH, 4, 64, 4, 0, 0);
    if (f->blob <= 0)
        return -1;
    f->maps[0] = (uint32_t)f->counts;
    f->maps[1] = (uint32_t)f->blob;
    int prog = bpftime_prog_create(f->r, "p", 2, "GPL", "", insns, n, f->maps, 2);
    char exe[PATH_MAX], arg[PATH_MAX + 64];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = 0;
    snprintf(arg, sizeof arg, "%s:%s", exe, sym);
    int tgt = bpftime_target_create(f->r, ret ? BPFTIME_TARGET_URETPROBE : BPFTIME_TARGET_UPROBE,
                                    arg, (uint32_t)strlen(arg));
    if (prog <= 0 || tgt <= 0)
        return -1;
    f->link = bpftime_link_create(f->r, (uint32_t)prog, (uint32_t)tgt, 0);
    f->m = bpftime_attach_manager_create(f->r);
    if (f->link <= 0 || !f->m)
        return -1;
    bpftime_attach_manager_register_impl(f->m, bpftime_uprobe_impl_create(0));
    bpftime_attach_manager_register_impl(f->m, bpftime_uprobe_impl_create(1));
    return bpftime_attach_manager_instantiate(f->m) == 1 ? 0 : -1;
}

static void ymm_case(struct test_ctx *t, const char *tag, int ret, const struct ebpf_inst *insns,
                     uint32_t n)
{
    CHECK_EQ(ymm_changed_by_call(), 0); /* the check itself works */
    struct fixture f = {0};
    int rc = fixture_up(t, &f, tag, "run_target", ret, insns, n);
    if (rc < 0)
        test_fail(t, __FILE__, __LINE__, "setup: %s", bpftime_last_error_message());
    CHECK_EQ(rc, 0);
    int first = ymm_changed_by_call();
    CHECK_EQ(ymm_changed_by_call(), 0);
    CHECK_EQ(first, 0);
    CHECK_EQ(count_of(&f), 2); /* the program ran on both calls */
    bpftime_attach_manager_destroy(f.m);
}

#define N(a) (uint32_t)(sizeof(a) / sizeof(a)[0])

AVX_TEST(ymm_survive_a_program_with_no_helper_call)
{
    ymm_case(t, "nohelper", 0, count_prog, N(count_prog));
}

AVX_TEST(ymm_survive_a_helper_that_clobbers_them)
{
    ymm_case(t, "helper", 0, copy_prog, N(copy_prog));
}

AVX_TEST(ymm_survive_a_uretprobe_whose_helper_clobbers_them)
{
    ymm_case(t, "ret", 1, copy_prog, N(copy_prog));
}

/* Every call of a recursive function is one hit, counted once, however
 * deep (and its uretprobe fires as often). */
long run_recurse(long n);
static long (*volatile recurse_fn)(long) = run_recurse;
__attribute__((noinline)) long run_recurse(long n)
{
    __asm__ volatile("" ::: "memory");
    return n <= 0 ? 0 : 1 + recurse_fn(n - 1);
}

TEST(recursion_is_counted_once_per_call)
{
    for (int ret = 0; ret <= 1; ret++) {
        struct fixture f = {0};
        CHECK_EQ(fixture_up(t, &f, ret ? "recret" : "rec", "run_recurse", ret, count_prog,
                            N(count_prog)),
                 0);
        CHECK_EQ(recurse_fn(9), 9);
        CHECK_EQ(count_of(&f), 10);
        CHECK_EQ(recurse_fn(0), 0);
        CHECK_EQ(count_of(&f), 11);
        bpftime_attach_manager_destroy(f.m);
    }
}

/* The second program counts into counts[0] too, by 1, but also calls a
 * helper: replacing one by the other switches between the no-save and the
 * save path while the threads run. */
struct hitter {
    atomic_bool *stop;
    uint64_t calls;
};

static void *hit_loop(void *p)
{
    struct hitter *h = p;
    while (!atomic_load_explicit(h->stop, memory_order_relaxed)) {
        if (run_target((long)h->calls) != (long)h->calls + 1)
            abort();
        h->calls++;
    }
    return NULL;
}

TEST(replacing_the_program_while_8_threads_hit_the_hook_loses_no_hit)
{
    struct fixture f = {0};
    CHECK_EQ(fixture_up(t, &f, "replace", "run_target", 0, count_prog, N(count_prog)), 0);
    int other = bpftime_prog_create(f.r, "q", 2, "GPL", "", copy_prog, N(copy_prog), f.maps, 2);
    int first = bpftime_prog_create(f.r, "p2", 2, "GPL", "", count_prog, N(count_prog), f.maps, 2);
    CHECK(other > 0 && first > 0);
    atomic_bool stop = false;
    pthread_t tid[8];
    struct hitter h[8];
    for (int i = 0; i < 8; i++) {
        h[i] = (struct hitter){&stop, 0};
        CHECK_EQ(pthread_create(&tid[i], NULL, hit_loop, &h[i]), 0);
    }
    /* Replace back and forth for a little over two grace periods, so that
     * retired programs are freed while the threads run. */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int swaps = 0;
    do {
        int to = swaps % 2 ? first : other;
        CHECK_EQ(bpftime_link_update_prog(f.r, (uint32_t)f.link, (uint32_t)to, 0), 0);
        CHECK(bpftime_attach_manager_refresh(f.m) >= 0);
        swaps++;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL); /* pacing, not synchronisation: let the threads hit */
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - t0.tv_sec < 3);
    atomic_store(&stop, true);
    uint64_t total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(tid[i], NULL);
        total += h[i].calls;
    }
    CHECK(swaps > 10);
    CHECK(total > 0);
    CHECK_EQ(count_of(&f), total);
    bpftime_attach_manager_destroy(f.m);
}
