/* The fast paths (patcher.h, bpftime_hook_fast): the enter stub calling a
 * GPR-only function directly for a single on_enter listener, and the
 * leave-only stub plus dispatch_leave for a single on_leave listener. Each
 * guarantee of the general path is checked again on them: the fallback to
 * the listener, registers and flags, recursion, longjmp, threads, detach
 * waiting for a running call. */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "patcher/patcher.h"
#include "patcher/tests/worker_calls.h"
#include "test/harness.h"

static volatile int body_runs;

__attribute__((noinline)) long fast_target(long a)
{
    body_runs++;
    return a * 3;
}
static long (*volatile p_target)(long) = fast_target;

/* What the fast functions saw. */
static atomic_long fast_hits, listener_hits;
static volatile uint64_t seen_rdi, seen_rax, seen_rip;

/* The descriptor's slot and gates, as the attach manager keeps them. */
static void *volatile fast_slot;
static volatile uint32_t gate_stats, gate_sud;
static const struct bpftime_hook_fast fast = {&fast_slot, {&gate_stats, &gate_sud}};

BPFTIME_GPR_ONLY_BEGIN
static uint64_t record_fast(void *ctx, size_t len)
{
    const struct bpftime_hook_regs *r = ctx;
    (void)len;
    seen_rdi = r->rdi;
    seen_rax = r->rax;
    seen_rip = r->rip;
    atomic_fetch_add_explicit(&fast_hits, 1, memory_order_relaxed);
    return 0;
}

/* A program that calls the hooked function: that call runs unhooked. */
static uint64_t reentering_fast(void *ctx, size_t len)
{
    atomic_fetch_add_explicit(&fast_hits, 1, memory_order_relaxed);
    body_runs += p_target(1) == 3 ? 0 : 1000;
    (void)ctx;
    (void)len;
    return 0;
}

/* Clobbers every caller-saved general-purpose register and the flags, as
 * JIT code may. */
static uint64_t clobber_fast(void *ctx, size_t len)
{
    (void)ctx;
    (void)len;
    atomic_fetch_add_explicit(&fast_hits, 1, memory_order_relaxed);
    __asm__ volatile("xor %%ecx, %%ecx\n\txor %%edx, %%edx\n\txor %%esi, %%esi\n\t"
                     "xor %%edi, %%edi\n\txor %%r8d, %%r8d\n\txor %%r9d, %%r9d\n\t"
                     "xor %%r10d, %%r10d\n\txor %%r11d, %%r11d\n\tcmp $1, %%ecx\n\t" ::
                         : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "cc", "memory");
    return 0;
}

static int listener_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)r;
    (void)u;
    atomic_fetch_add_explicit(&listener_hits, 1, memory_order_relaxed);
    return BPFTIME_HOOK_CONTINUE;
}
static void listener_leave(struct bpftime_hook_regs *r, void *u)
{
    (void)r;
    (void)u;
    atomic_fetch_add_explicit(&listener_hits, 1, memory_order_relaxed);
}
BPFTIME_GPR_ONLY_END

static const struct bpftime_hook_callbacks enter_cbs = {listener_enter, NULL};
static const struct bpftime_hook_callbacks leave_cbs = {NULL, listener_leave};

static int attach_fast(void *func, const struct bpftime_hook_callbacks *cbs, unsigned flags,
                       struct bpftime_hook **h)
{
    const struct bpftime_hook_site site = {.addr = func, .flags = flags, .fast = &fast};
    return bpftime_hook_attach_site(&site, cbs, NULL, h);
}

static void reset(void *fn)
{
    fast_slot = fn;
    gate_stats = gate_sud = 0;
    atomic_store(&fast_hits, 0);
    atomic_store(&listener_hits, 0);
}

TEST(enter_calls_the_fast_function_and_falls_back_to_the_listener)
{
    reset((void *)record_fast);
    struct bpftime_hook *h = NULL, *h2 = NULL;
    CHECK_EQ(attach_fast((void *)fast_target, &enter_cbs, BPFTIME_HOOK_F_GPR_ONLY, &h), 0);
    CHECK_EQ(p_target(6), 18); /* the thread's first hit: through the dispatcher */
    CHECK_EQ(p_target(7), 21); /* then the stub's own */
    CHECK_EQ(atomic_load(&fast_hits), 2);
    CHECK_EQ(atomic_load(&listener_hits), 0);
    CHECK_EQ(seen_rdi, 7);
    CHECK_EQ(seen_rip, (uint64_t)fast_target);
    /* No function, or a gate up: the listener (the general path) instead. */
    fast_slot = NULL;
    CHECK_EQ(p_target(8), 24);
    gate_stats = 1;
    fast_slot = (void *)record_fast;
    CHECK_EQ(p_target(9), 27);
    gate_stats = 0;
    gate_sud = 1;
    CHECK_EQ(p_target(10), 30);
    CHECK_EQ(atomic_load(&fast_hits), 2);
    CHECK_EQ(atomic_load(&listener_hits), 3);
    gate_sud = 0;
    /* A second listener: both run through the dispatcher. */
    CHECK_EQ(bpftime_hook_attach((void *)fast_target, &enter_cbs, NULL, &h2), 0);
    CHECK_EQ(p_target(11), 33);
    CHECK_EQ(atomic_load(&fast_hits), 2);
    CHECK_EQ(atomic_load(&listener_hits), 5);
    CHECK_EQ(bpftime_hook_detach(h2), 0);
    CHECK_EQ(p_target(12), 36);
    CHECK_EQ(p_target(12), 36);
    CHECK_EQ(atomic_load(&fast_hits), 4);
    CHECK_EQ(seen_rdi, 12);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK_EQ(p_target(13), 39);
    CHECK_EQ(atomic_load(&fast_hits), 4);
}

TEST(no_fast_path_without_the_gpr_only_promise)
{
    reset((void *)record_fast);
    struct bpftime_hook *h = NULL;
    CHECK_EQ(attach_fast((void *)fast_target, &enter_cbs, 0, &h), 0);
    CHECK_EQ(p_target(2), 6);
    CHECK_EQ(atomic_load(&fast_hits), 0);
    CHECK_EQ(atomic_load(&listener_hits), 1);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

TEST(leave_calls_the_fast_function_with_the_result)
{
    reset((void *)record_fast);
    struct bpftime_hook *h = NULL;
    CHECK_EQ(attach_fast((void *)fast_target, &leave_cbs, BPFTIME_HOOK_F_GPR_ONLY, &h), 0);
    CHECK_EQ(p_target(5), 15);
    CHECK_EQ(atomic_load(&fast_hits), 1);
    CHECK_EQ(atomic_load(&listener_hits), 0);
    CHECK_EQ(seen_rax, 15);
    gate_stats = 1;
    CHECK_EQ(p_target(6), 18);
    CHECK_EQ(atomic_load(&fast_hits), 1);
    CHECK_EQ(atomic_load(&listener_hits), 1);
    gate_stats = 0;
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK_EQ(p_target(6), 18);
    CHECK_EQ(atomic_load(&fast_hits), 1);
}

TEST(a_fast_function_calling_the_hooked_function_does_not_recurse)
{
    const struct bpftime_hook_callbacks *cbs[2] = {&enter_cbs, &leave_cbs};
    for (int i = 0; i < 2; i++) {
        reset((void *)reentering_fast);
        body_runs = 0;
        struct bpftime_hook *h = NULL;
        CHECK_EQ(attach_fast((void *)fast_target, cbs[i], BPFTIME_HOOK_F_GPR_ONLY, &h), 0);
        CHECK_EQ(p_target(4), 12);
        CHECK_EQ(atomic_load(&fast_hits), 1);
        CHECK_EQ(body_runs, 2); /* the call, and the one from inside, unhooked */
        CHECK_EQ(bpftime_hook_detach(h), 0);
    }
}

/* Recursion through a function with a fast on_leave: one leave per call. */
__attribute__((noinline)) long fast_fib(long n);
static long (*volatile p_fib)(long) = fast_fib;
__attribute__((noinline)) long fast_fib(long n)
{
    return n < 2 ? n : p_fib(n - 1) + p_fib(n - 2);
}

TEST(recursion_with_a_fast_leave)
{
    reset((void *)record_fast);
    struct bpftime_hook *h = NULL;
    CHECK_EQ(attach_fast((void *)fast_fib, &leave_cbs, BPFTIME_HOOK_F_GPR_ONLY, &h), 0);
    CHECK_EQ(p_fib(15), 610);
    CHECK_EQ(atomic_load(&fast_hits), 1973); /* calls of fib(15): 2 * fib(16) - 1 */
    CHECK_EQ(seen_rax, 610);                 /* the outermost returns last */
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

static jmp_buf jb;
__attribute__((noinline)) static void thrower(void)
{
    longjmp(jb, 1);
}
static void (*volatile p_thrower)(void) = thrower;
__attribute__((noinline)) long fast_maybe_throw(long x)
{
    body_runs++;
    if (x)
        p_thrower();
    return x + 1;
}

TEST(longjmp_out_of_a_function_with_a_fast_leave)
{
    reset((void *)record_fast);
    long (*volatile pf)(long) = fast_maybe_throw;
    struct bpftime_hook *h = NULL;
    CHECK_EQ(attach_fast((void *)fast_maybe_throw, &leave_cbs, BPFTIME_HOOK_F_GPR_ONLY, &h), 0);
    /* Far more abandoned frames than the shadow stack holds. */
    volatile int normal = 0;
    for (volatile int i = 0; i < 5000; i++) {
        if (setjmp(jb) == 0) {
            pf(1);
            CHECK(0); /* not reached */
        }
        if (i % 7 == 0) {
            CHECK_EQ(pf(0), 1);
            normal++;
        }
    }
    CHECK_EQ(atomic_load(&fast_hits), normal);
    CHECK_EQ(atomic_load(&listener_hits), 0);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

/* ---- registers and flags ---------------------------------------------------- */

/* fx_callee: rax = the status flags it was called with; returns with those
 * flags set again; touches no other register. */
long fx_callee(void);
/* fx_roundtrip(fn, in, out): loads rbx rcx rdx rsi rdi rbp r8-r15 from
 * in[0..13], the flags from in[14], calls fn, stores the same registers to
 * out[0..13], rax to out[14] and the flags after the call to out[15]. */
void fx_roundtrip(void *fn, const uint64_t *in, uint64_t *out);
__asm__(".text\n.p2align 4\n.globl fx_callee\n.type fx_callee, @function\nfx_callee:\n"
        "pushfq\n"
        "popq %rax\n"
        "andl $0x8d5, %eax\n"
        "pushq %rax\n"
        "popfq\n"
        "ret\n"
        ".size fx_callee, .-fx_callee\n"
        ".p2align 4\n.globl fx_roundtrip\n.type fx_roundtrip, @function\nfx_roundtrip:\n"
        "pushq %rbx\npushq %rbp\npushq %r12\npushq %r13\npushq %r14\npushq %r15\n"
        "pushq %rdx\n" /* out: 16(%rsp) at the call */
        "pushq %rdi\n" /* fn: 8(%rsp) */
        "subq $8, %rsp\n"
        "movq 0(%rsi), %rbx\nmovq 16(%rsi), %rdx\nmovq 32(%rsi), %rdi\n"
        "movq 40(%rsi), %rbp\nmovq 48(%rsi), %r8\nmovq 56(%rsi), %r9\nmovq 64(%rsi), %r10\n"
        "movq 72(%rsi), %r11\nmovq 80(%rsi), %r12\nmovq 88(%rsi), %r13\n"
        "movq 96(%rsi), %r14\nmovq 104(%rsi), %r15\nmovq 8(%rsi), %rcx\n"
        "pushq 112(%rsi)\npopfq\n"
        "movq 24(%rsi), %rsi\n"
        "call *8(%rsp)\n"
        "pushfq\n"
        "pushq %rax\n"
        "movq 32(%rsp), %rax\n" /* out */
        "movq %rbx, 0(%rax)\nmovq %rcx, 8(%rax)\nmovq %rdx, 16(%rax)\nmovq %rsi, 24(%rax)\n"
        "movq %rdi, 32(%rax)\nmovq %rbp, 40(%rax)\nmovq %r8, 48(%rax)\nmovq %r9, 56(%rax)\n"
        "movq %r10, 64(%rax)\nmovq %r11, 72(%rax)\nmovq %r12, 80(%rax)\nmovq %r13, 88(%rax)\n"
        "movq %r14, 96(%rax)\nmovq %r15, 104(%rax)\n"
        "popq %rcx\nmovq %rcx, 112(%rax)\n"
        "popq %rcx\nmovq %rcx, 120(%rax)\n"
        "addq $24, %rsp\n"
        "popq %r15\npopq %r14\npopq %r13\npopq %r12\npopq %rbp\npopq %rbx\n"
        "ret\n"
        ".size fx_roundtrip, .-fx_roundtrip\n");

#define STATUS_FLAGS 0x8d5u

/* 0 when every register and the flags came through, else 1 + the index of
 * the first that did not (15: the flags the callee saw, 16: after it). */
static int fx_check(uint64_t flags)
{
    uint64_t in[15], out[16];
    for (int i = 0; i < 14; i++)
        in[i] = 0x1020304050607080ull * (uint64_t)(i + 3) + (uint64_t)i;
    in[14] = 0x202 | flags;
    fx_roundtrip((void *)fx_callee, in, out);
    for (int i = 0; i < 14; i++)
        if (out[i] != in[i])
            return 1 + i;
    if (out[14] != (flags & STATUS_FLAGS))
        return 15;
    if ((out[15] & STATUS_FLAGS) != (flags & STATUS_FLAGS))
        return 16;
    return 0;
}

static int fx_check_all(void)
{
    static const uint64_t cases[] = {0, STATUS_FLAGS, 0x41 /* ZF CF */, 0x880 /* OF SF */, 0x14};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int r = fx_check(cases[i]);
        if (r)
            return (int)i * 100 + r;
    }
    return 0;
}

TEST(registers_and_flags_survive_both_fast_paths)
{
    CHECK_EQ(fx_check_all(), 0); /* the check itself works */
    const struct bpftime_hook_callbacks *cbs[2] = {&enter_cbs, &leave_cbs};
    for (int i = 0; i < 2; i++) {
        reset((void *)clobber_fast);
        struct bpftime_hook *h = NULL;
        CHECK_EQ(attach_fast((void *)fx_callee, cbs[i], BPFTIME_HOOK_F_GPR_ONLY, &h), 0);
        CHECK_EQ(fx_check_all(), 0);
        CHECK_EQ(atomic_load(&fast_hits), 5);
        CHECK_EQ(atomic_load(&listener_hits), 0);
        CHECK_EQ(bpftime_hook_detach(h), 0);
    }
}

/* ---- threads ------------------------------------------------------------------ */

/* A call that takes a while and counts twice: an odd count means one is
 * half-way through. */
static atomic_long *volatile slow_counter;
BPFTIME_GPR_ONLY_BEGIN
static uint64_t slow_fast(void *ctx, size_t len)
{
    (void)ctx;
    (void)len;
    atomic_long *c = slow_counter;
    atomic_fetch_add(c, 1);
    for (volatile int i = 0; i < 300; i++) {}
    atomic_fetch_add(c, 1);
    return 0;
}
BPFTIME_GPR_ONLY_END

static atomic_bool stop;

static void *caller_thread(void *arg)
{
    long base = (long)(intptr_t)arg * 1000003;
    for (long i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
        long x = base + i;
        if (p_target(x) != x * 3)
            atomic_fetch_add(&wrong, 1);
        atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    }
    return NULL;
}

TEST(eight_threads_detach_waits_for_a_running_fast_call)
{
    reset((void *)slow_fast);
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, caller_thread, (void *)(intptr_t)i), 0);
    const struct bpftime_hook_callbacks *cbs[2] = {&enter_cbs, &leave_cbs};
    long ran = 0;
    for (int i = 0; i < 60; i++) {
        atomic_long *c = calloc(1, sizeof *c);
        CHECK(c != NULL);
        slow_counter = c;
        struct bpftime_hook *h = NULL;
        CHECK_EQ(attach_fast((void *)fast_target, cbs[i % 2], BPFTIME_HOOK_F_GPR_ONLY, &h), 0);
        wait_calls(50);
        /* Replaced while calls run: the listener for a while, then back. */
        if (i % 3 == 0) {
            fast_slot = NULL;
            wait_calls(20);
            fast_slot = (void *)slow_fast;
            wait_calls(20);
        }
        CHECK_EQ(bpftime_hook_detach(h), 0);
        long v = atomic_load(c);
        CHECK(v % 2 == 0); /* none half-way through */
        wait_calls(50);
        CHECK_EQ(atomic_load(c), v); /* and none after detach returned */
        ran += v / 2;
        free(c);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&wrong), 0);
    CHECK(ran > 0);
    CHECK(atomic_load(&listener_hits) > 0);
}
