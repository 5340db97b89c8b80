/* Patcher tests on compiled C functions, libc functions, threads, recursion
 * and register preservation. */
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "patcher/patcher.h"
#include "patcher/tests/worker_calls.h"
#include "test/harness.h"

/* Called through volatile pointers so the compiler cannot inline, clone or
 * constant-fold them away from the hooked address. */
static volatile int body_runs;

__attribute__((noinline)) long target_add(long a, long b)
{
    body_runs++;
    return a * 3 + b;
}
__attribute__((noinline)) long target_mul(long a, long b)
{
    body_runs++;
    return a * b + 1;
}
__attribute__((noinline)) long target_sub(long a, long b)
{
    body_runs++;
    return a - b;
}
static long (*volatile p_add)(long, long) = target_add;
static long (*volatile p_mul)(long, long) = target_mul;
static long (*volatile p_sub)(long, long) = target_sub;

struct rec {
    int enters, leaves;
    uint64_t rdi, rsi, rip, rsp, ret_addr, rax, leave_rip;
};

static int rec_enter(struct bpftime_hook_regs *r, void *u)
{
    struct rec *x = u;
    x->enters++;
    x->rdi = r->rdi;
    x->rsi = r->rsi;
    x->rip = r->rip;
    x->rsp = r->rsp;
    x->ret_addr = *(uint64_t *)r->rsp;
    return BPFTIME_HOOK_CONTINUE;
}
static void rec_leave(struct bpftime_hook_regs *r, void *u)
{
    struct rec *x = u;
    x->leaves++;
    x->rax = r->rax;
    x->leave_rip = r->rip;
}

static const struct bpftime_hook_callbacks rec_cbs = {rec_enter, rec_leave};
static const struct bpftime_hook_callbacks rec_enter_only = {rec_enter, NULL};
static const struct bpftime_hook_callbacks rec_leave_only = {NULL, rec_leave};

#define ATTACH(fn, cbs, user, out) \
    do { \
        int rc_ = bpftime_hook_attach((void *)(fn), (cbs), (user), (out)); \
        if (rc_) \
            test_fail(t, __FILE__, __LINE__, "attach: %s", bpftime_last_error_message()); \
        CHECK_EQ(rc_, 0); \
    } while (0)

TEST(on_enter_sees_arguments_and_on_leave_the_result)
{
    struct rec r = {0};
    struct bpftime_hook *h = NULL;
    ATTACH(target_add, &rec_cbs, &r, &h);
    CHECK_EQ(p_add(5, 7), 22);
    CHECK_EQ(r.enters, 1);
    CHECK_EQ(r.leaves, 1);
    CHECK_EQ(r.rdi, 5);
    CHECK_EQ(r.rsi, 7);
    CHECK_EQ(r.rip, (uint64_t)target_add);
    CHECK_EQ(r.rax, 22);
    CHECK_EQ(r.leave_rip, r.ret_addr); /* on_leave: rip = where the function returns */
    CHECK(r.rsp % 16 == 8);            /* rsp at entry points at the return address */
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

static int override_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    if (r->rdi == 100)
        return bpftime_hook_override_return(r, 12345);
    return BPFTIME_HOOK_CONTINUE;
}

TEST(override_skips_the_body_and_returns_the_value)
{
    struct rec r = {0};
    struct bpftime_hook *h1 = NULL, *h2 = NULL;
    const struct bpftime_hook_callbacks ov = {override_enter, NULL};
    ATTACH(target_add, &ov, NULL, &h1);
    ATTACH(target_add, &rec_leave_only, &r, &h2);
    body_runs = 0;
    CHECK_EQ(p_add(100, 1), 12345);
    CHECK_EQ(body_runs, 0);
    CHECK_EQ(r.leaves, 1); /* on_leave still runs, with the override */
    CHECK_EQ(r.rax, 12345);
    CHECK_EQ(p_add(2, 1), 7);
    CHECK_EQ(body_runs, 1);
    CHECK_EQ(r.leaves, 2);
    CHECK_EQ(r.rax, 7);
    CHECK_EQ(bpftime_hook_detach(h1), 0);
    CHECK_EQ(bpftime_hook_detach(h2), 0);
}

static int change_args(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    r->rdi = 10;
    return BPFTIME_HOOK_CONTINUE;
}
static void change_result(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    r->rax += 1000;
}

TEST(callbacks_can_change_arguments_and_result)
{
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {change_args, change_result};
    ATTACH(target_add, &cbs, NULL, &h);
    CHECK_EQ(p_add(1, 2), 1032);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK_EQ(p_add(1, 2), 5);
}

TEST(detach_restores_the_original_bytes_exactly)
{
    uint8_t before[32];
    memcpy(before, (void *)target_mul, sizeof before);
    struct rec r = {0};
    struct bpftime_hook *h = NULL;
    ATTACH(target_mul, &rec_cbs, &r, &h);
    CHECK(memcmp(before, (void *)target_mul, sizeof before) != 0);
    CHECK_EQ(p_mul(6, 7), 43);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(before, (void *)target_mul, sizeof before) == 0);
    CHECK_EQ(p_mul(6, 7), 43);
    CHECK_EQ(r.enters, 1);
    /* Attach again after a full detach: same behaviour. */
    ATTACH(target_mul, &rec_cbs, &r, &h);
    CHECK_EQ(p_mul(2, 2), 5);
    CHECK_EQ(r.enters, 2);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(before, (void *)target_mul, sizeof before) == 0);
}

TEST(several_hooks_share_one_patch)
{
    uint8_t before[32];
    memcpy(before, (void *)target_sub, sizeof before);
    struct rec a = {0}, b = {0};
    struct bpftime_hook *ha = NULL, *hb = NULL;
    ATTACH(target_sub, &rec_enter_only, &a, &ha);
    uint8_t patched[32];
    memcpy(patched, (void *)target_sub, sizeof patched);
    ATTACH(target_sub, &rec_cbs, &b, &hb);
    CHECK(memcmp(patched, (void *)target_sub, sizeof patched) == 0); /* one patch */
    CHECK_EQ(p_sub(9, 4), 5);
    CHECK_EQ(a.enters, 1);
    CHECK_EQ(b.enters, 1);
    CHECK_EQ(b.leaves, 1);
    CHECK_EQ(bpftime_hook_detach(ha), 0);
    CHECK(memcmp(patched, (void *)target_sub, sizeof patched) == 0); /* still hooked */
    CHECK_EQ(p_sub(9, 4), 5);
    CHECK_EQ(a.enters, 1);
    CHECK_EQ(b.enters, 2);
    CHECK_EQ(bpftime_hook_detach(hb), 0);
    CHECK(memcmp(before, (void *)target_sub, sizeof before) == 0);
}

TEST(transaction_batches_patches)
{
    uint8_t b1[16], b2[16];
    memcpy(b1, (void *)target_add, 16);
    memcpy(b2, (void *)target_mul, 16);
    struct rec r = {0};
    struct bpftime_hook *h1 = NULL, *h2 = NULL;
    CHECK_EQ(bpftime_hook_transaction_begin(), 0);
    ATTACH(target_add, &rec_cbs, &r, &h1);
    ATTACH(target_mul, &rec_cbs, &r, &h2);
    CHECK(memcmp(b1, (void *)target_add, 16) == 0); /* nothing written yet */
    CHECK(memcmp(b2, (void *)target_mul, 16) == 0);
    CHECK_EQ(bpftime_hook_transaction_commit(), 0);
    CHECK(memcmp(b1, (void *)target_add, 16) != 0);
    CHECK_EQ(p_add(1, 1), 4);
    CHECK_EQ(p_mul(3, 3), 10);
    CHECK_EQ(r.enters, 2);
    CHECK_EQ(r.leaves, 2);
    CHECK_EQ(bpftime_hook_transaction_begin(), 0);
    CHECK_EQ(bpftime_hook_detach(h1), 0);
    CHECK_EQ(bpftime_hook_detach(h2), 0);
    CHECK_EQ(bpftime_hook_transaction_commit(), 0);
    CHECK(memcmp(b1, (void *)target_add, 16) == 0);
    CHECK(memcmp(b2, (void *)target_mul, 16) == 0);
}

TEST(errors_have_codes_and_messages)
{
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach(NULL, &rec_cbs, NULL, &h), -EINVAL);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "required");
    const struct bpftime_hook_callbacks none = {NULL, NULL};
    CHECK_EQ(bpftime_hook_attach((void *)target_add, &none, NULL, &h), -EINVAL);
    CHECK_EQ(bpftime_hook_transaction_commit(), -EINVAL);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "without begin");
    CHECK_EQ(bpftime_hook_detach(NULL), -EINVAL);
    static long not_code[8]; /* data, not code */
    CHECK(bpftime_hook_attach(not_code, &rec_cbs, NULL, &h) < 0);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "executable");
}

/* A callback calling the hooked function runs it unhooked (no recursion). */
static int reenter_count;
static long reenter_result;
static int reentering_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    (void)r;
    reenter_count++;
    reenter_result = p_add(1, 1);
    return BPFTIME_HOOK_CONTINUE;
}

TEST(callback_calling_the_hooked_function_does_not_recurse)
{
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {reentering_enter, NULL};
    ATTACH(target_add, &cbs, NULL, &h);
    CHECK_EQ(p_add(2, 2), 8);
    CHECK_EQ(reenter_count, 1);
    CHECK_EQ(reenter_result, 4);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

/* ---- libc ----------------------------------------------------------------- */

static atomic_int libc_enters, libc_leaves;
static uint64_t strlen_arg, strlen_ret;
static int libc_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    atomic_fetch_add(&libc_enters, 1);
    strlen_arg = r->rdi;
    return BPFTIME_HOOK_CONTINUE;
}
static void libc_leave(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    atomic_fetch_add(&libc_leaves, 1);
    strlen_ret = r->rax;
}

static void *libc_sym(const char *name)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    return libc ? dlsym(libc, name) : NULL;
}

TEST(hook_libc_getpid)
{
    pid_t (*volatile gp)(void) = (pid_t(*)(void))libc_sym("getpid");
    CHECK(gp != NULL);
    uint8_t before[16];
    memcpy(before, (void *)gp, 16);
    pid_t pid = gp();
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {libc_enter, libc_leave};
    ATTACH(gp, &cbs, NULL, &h);
    atomic_store(&libc_enters, 0);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(gp(), pid);
    CHECK(atomic_load(&libc_enters) >= 10);
    CHECK(atomic_load(&libc_leaves) >= 10);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(before, (void *)gp, 16) == 0);
}

TEST(hook_libc_strlen)
{
    size_t (*volatile sl)(const char *) = (size_t(*)(const char *))libc_sym("strlen");
    CHECK(sl != NULL);
    uint8_t before[16];
    memcpy(before, (void *)sl, 16);
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {libc_enter, libc_leave};
    ATTACH(sl, &cbs, NULL, &h);
    static const char s[] = "hello, patcher";
    atomic_store(&libc_enters, 0);
    CHECK_EQ(sl(s), 14);
    CHECK(atomic_load(&libc_enters) >= 1);
    CHECK_EQ(strlen_arg, (uint64_t)s);
    CHECK_EQ(strlen_ret, 14);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(before, (void *)sl, 16) == 0);
    CHECK_EQ(sl(s), 14);
}

/* The patcher itself allocates while the int3 is armed (listing threads):
 * its own call hits the int3 and is redirected to the original code. */
TEST(hook_libc_malloc)
{
    void *(*volatile ma)(size_t) = (void *(*)(size_t))libc_sym("malloc");
    void (*volatile fr)(void *) = (void (*)(void *))libc_sym("free");
    CHECK(ma != NULL && fr != NULL);
    uint8_t before[16];
    memcpy(before, (void *)ma, 16);
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {libc_enter, libc_leave};
    ATTACH(ma, &cbs, NULL, &h);
    atomic_store(&libc_enters, 0);
    void *p = ma(100);
    CHECK(p != NULL);
    CHECK(atomic_load(&libc_enters) >= 1);
    CHECK_EQ(strlen_arg, 100);
    CHECK_EQ(strlen_ret, (uint64_t)p);
    fr(p);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(before, (void *)ma, 16) == 0);
}

/* ---- recursion and longjmp (uretprobe-style on_leave) ------------------- */

__attribute__((noinline)) long fib(long n)
{
    body_runs++;
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
static long fib_ref(long n)
{
    return n < 2 ? n : fib_ref(n - 1) + fib_ref(n - 2);
}

static long arg_stack[64];
static int arg_top, fib_enters, fib_leaves, fib_bad;
static int fib_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    fib_enters++;
    if (arg_top < 64)
        arg_stack[arg_top] = (long)r->rdi;
    arg_top++;
    return BPFTIME_HOOK_CONTINUE;
}
static void fib_leave(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    fib_leaves++;
    arg_top--;
    /* LIFO: the leave matches the innermost pending enter. */
    if (arg_top < 0 || arg_top >= 64 || fib_ref(arg_stack[arg_top]) != (long)r->rax)
        fib_bad++;
}

TEST(recursion_with_on_leave)
{
    long (*volatile pf)(long) = fib;
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {fib_enter, fib_leave};
    ATTACH(fib, &cbs, NULL, &h);
    body_runs = 0;
    CHECK_EQ(pf(15), 610);
    CHECK(fib_enters > 1); /* recursive calls are hooked too */
    CHECK_EQ(fib_enters, fib_leaves);
    CHECK_EQ(fib_bad, 0);
    CHECK_EQ(arg_top, 0);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK_EQ(pf(10), 55);
}

static jmp_buf jb;
__attribute__((noinline)) void thrower(void)
{
    longjmp(jb, 1);
}
static void (*volatile p_thrower)(void) = thrower;
__attribute__((noinline)) long maybe_throw(long x)
{
    body_runs++;
    if (x)
        p_thrower();
    return x + 1;
}

TEST(longjmp_out_of_a_hooked_function)
{
    long (*volatile pf)(long) = maybe_throw;
    struct rec r = {0};
    struct bpftime_hook *h = NULL;
    ATTACH(maybe_throw, &rec_cbs, &r, &h);
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
    CHECK_EQ(r.enters, 5000 + normal);
    CHECK_EQ(r.leaves, normal);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

/* ---- threads --------------------------------------------------------------- */

/* Two instructions under the jump: a thread may be stopped between them
 * while the jump is written (the patcher moves it to the trampoline). */
long stress_target(long x);
__asm__(".text\n.p2align 4\n.globl stress_target\n.type stress_target, @function\n"
        "stress_target:\n"
        "leaq (%rdi,%rdi,1), %rax\n" /* 4 bytes */
        "addq $1, %rax\n"            /* 4 bytes */
        "ret\n"
        ".size stress_target, .-stress_target\n");
static long (*volatile p_stress)(long) = stress_target;
static atomic_bool stop;
static atomic_int stress_enters, stress_leaves;

static int stress_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    atomic_fetch_add_explicit(&stress_enters, 1, memory_order_relaxed);
    /* Sometimes override with the right answer: exercises that path too. */
    if ((r->rdi & 7) == 3)
        return bpftime_hook_override_return(r, r->rdi * 2 + 1);
    return BPFTIME_HOOK_CONTINUE;
}
static void stress_leave(struct bpftime_hook_regs *r, void *u)
{
    (void)r;
    (void)u;
    atomic_fetch_add_explicit(&stress_leaves, 1, memory_order_relaxed);
}

static void *stress_thread(void *arg)
{
    long base = (long)(intptr_t)arg * 1000003;
    for (long i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
        long x = base + i;
        if (p_stress(x) != x * 2 + 1)
            atomic_fetch_add(&wrong, 1);
        atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    }
    return NULL;
}

TEST(eight_threads_while_attaching_and_detaching)
{
    uint8_t before[32];
    memcpy(before, (void *)stress_target, sizeof before);
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, stress_thread, (void *)(intptr_t)i), 0);
    const struct bpftime_hook_callbacks variants[3] = {
        {stress_enter, NULL}, {NULL, stress_leave}, {stress_enter, stress_leave}};
    for (int i = 0; i < 100; i++) {
        struct bpftime_hook *h = NULL, *h2 = NULL;
        ATTACH(stress_target, &variants[i % 3], NULL, &h);
        if (i % 4 == 0)
            ATTACH(stress_target, &variants[(i + 1) % 3], NULL, &h2);
        wait_calls(100);
        CHECK_EQ(bpftime_hook_detach(h), 0);
        if (h2)
            CHECK_EQ(bpftime_hook_detach(h2), 0);
        wait_calls(20);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&wrong), 0);
    CHECK(atomic_load(&stress_enters) > 0);
    CHECK(atomic_load(&stress_leaves) > 0);
    CHECK(memcmp(before, (void *)stress_target, sizeof before) == 0);
}

/* After detach returns, no callback of that hook runs any more: the user
 * data can be freed (ASan would catch a late use). */
struct counter {
    atomic_long n;
};
static int counting_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)r;
    struct counter *c = u;
    atomic_fetch_add(&c->n, 1);
    for (volatile int i = 0; i < 200; i++) {}
    atomic_fetch_add(&c->n, 1);
    return BPFTIME_HOOK_CONTINUE;
}

TEST(detach_waits_for_running_callbacks)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, stress_thread, (void *)(intptr_t)i), 0);
    const struct bpftime_hook_callbacks cbs = {counting_enter, NULL};
    for (int i = 0; i < 50; i++) {
        struct counter *c = calloc(1, sizeof *c);
        struct bpftime_hook *h = NULL;
        ATTACH(stress_target, &cbs, c, &h);
        wait_calls(50);
        CHECK_EQ(bpftime_hook_detach(h), 0);
        long v = atomic_load(&c->n);
        CHECK(v % 2 == 0); /* no callback half-way through */
        free(c);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&wrong), 0);
}

/* ---- register preservation --------------------------------------------------- */

/* pr_check(fn) loads known values into every general-purpose and vector
 * register, calls fn(41) (pr_callee: eax = edi + 1, touches nothing else),
 * and returns 0 if all registers other than rax/rdi survived, else a code
 * naming the first clobbered one (1.. GPRs, 100+n xmm low, 200+n xmm high). */
long pr_check(void *fn);
long pr_callee(long x);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl pr_callee\n"
        ".type pr_callee, @function\n"
        "pr_callee:\n"
        "movl %edi, %eax\n"
        "addl $1, %eax\n"
        "ret\n"
        ".size pr_callee, .-pr_callee\n"
        ".p2align 4\n"
        ".globl pr_check\n"
        ".type pr_check, @function\n"
        "pr_check:\n"
        "pushq %rbx\n"
        "pushq %rbp\n"
        "pushq %r12\n"
        "pushq %r13\n"
        "pushq %r14\n"
        "pushq %r15\n"
        "subq $8, %rsp\n"
        "movq %rdi, (%rsp)\n"
        "movabsq $0x1111111111111111, %rbx\n"
        "movabsq $0x2322222222222222, %rcx\n"
        "movabsq $0x3133333333333333, %rdx\n"
        "movabsq $0x4744444444444444, %rsi\n"
        "movabsq $0x5155555555555555, %rbp\n"
        "movabsq $0x6366666666666666, %r8\n"
        "movabsq $0x7177777777777777, %r9\n"
        "movabsq $0x8f88888888888888, %r10\n"
        "movabsq $0x9199999999999999, %r11\n"
        "movabsq $0xa3aaaaaaaaaaaaaa, %r12\n"
        "movabsq $0xb1bbbbbbbbbbbbbb, %r13\n"
        "movabsq $0xc7cccccccccccccc, %r14\n"
        "movabsq $0xd1dddddddddddddd, %r15\n"
        "movabsq $0xdfbbbbbbbbbbbbbb, %rax\n"
        "movq %rax, %xmm0\n"
        "punpcklqdq %xmm0, %xmm0\n"
        "movabsq $0xa9cccccccccccccc, %rax\n"
        "movq %rax, %xmm1\n"
        "punpcklqdq %xmm1, %xmm1\n"
        "movabsq $0xbbdddddddddddddd, %rax\n"
        "movq %rax, %xmm2\n"
        "punpcklqdq %xmm2, %xmm2\n"
        "movabsq $0x89eeeeeeeeeeeeee, %rax\n"
        "movq %rax, %xmm3\n"
        "punpcklqdq %xmm3, %xmm3\n"
        "movabsq $0x97ffffffffffffff, %rax\n"
        "movq %rax, %xmm4\n"
        "punpcklqdq %xmm4, %xmm4\n"
        "movabsq $0x7811111111111111, %rax\n"
        "movq %rax, %xmm5\n"
        "punpcklqdq %xmm5, %xmm5\n"
        "movabsq $0x4822222222222222, %rax\n"
        "movq %rax, %xmm6\n"
        "punpcklqdq %xmm6, %xmm6\n"
        "movabsq $0x5833333333333333, %rax\n"
        "movq %rax, %xmm7\n"
        "punpcklqdq %xmm7, %xmm7\n"
        "movabsq $0x2844444444444444, %rax\n"
        "movq %rax, %xmm8\n"
        "punpcklqdq %xmm8, %xmm8\n"
        "movabsq $0x3855555555555555, %rax\n"
        "movq %rax, %xmm9\n"
        "punpcklqdq %xmm9, %xmm9\n"
        "movabsq $0x866666666666666, %rax\n"
        "movq %rax, %xmm10\n"
        "punpcklqdq %xmm10, %xmm10\n"
        "movabsq $0x1877777777777777, %rax\n"
        "movq %rax, %xmm11\n"
        "punpcklqdq %xmm11, %xmm11\n"
        "movabsq $0xf888888888888888, %rax\n"
        "movq %rax, %xmm12\n"
        "punpcklqdq %xmm12, %xmm12\n"
        "movabsq $0xe899999999999999, %rax\n"
        "movq %rax, %xmm13\n"
        "punpcklqdq %xmm13, %xmm13\n"
        "movabsq $0xd8aaaaaaaaaaaaaa, %rax\n"
        "movq %rax, %xmm14\n"
        "punpcklqdq %xmm14, %xmm14\n"
        "movabsq $0xc8bbbbbbbbbbbbbb, %rax\n"
        "movq %rax, %xmm15\n"
        "punpcklqdq %xmm15, %xmm15\n"
        "movl $41, %edi\n"
        "call *(%rsp)\n"
        "cmpq $42, %rax\n"
        "jne 9f\n"
        "movabsq $0x1111111111111111, %rax\n"
        "cmpq %rax, %rbx\n"
        "movl $1, %eax\n"
        "jne 8f\n"
        "movabsq $0x2322222222222222, %rax\n"
        "cmpq %rax, %rcx\n"
        "movl $2, %eax\n"
        "jne 8f\n"
        "movabsq $0x3133333333333333, %rax\n"
        "cmpq %rax, %rdx\n"
        "movl $3, %eax\n"
        "jne 8f\n"
        "movabsq $0x4744444444444444, %rax\n"
        "cmpq %rax, %rsi\n"
        "movl $4, %eax\n"
        "jne 8f\n"
        "movabsq $0x5155555555555555, %rax\n"
        "cmpq %rax, %rbp\n"
        "movl $5, %eax\n"
        "jne 8f\n"
        "movabsq $0x6366666666666666, %rax\n"
        "cmpq %rax, %r8\n"
        "movl $6, %eax\n"
        "jne 8f\n"
        "movabsq $0x7177777777777777, %rax\n"
        "cmpq %rax, %r9\n"
        "movl $7, %eax\n"
        "jne 8f\n"
        "movabsq $0x8f88888888888888, %rax\n"
        "cmpq %rax, %r10\n"
        "movl $8, %eax\n"
        "jne 8f\n"
        "movabsq $0x9199999999999999, %rax\n"
        "cmpq %rax, %r11\n"
        "movl $9, %eax\n"
        "jne 8f\n"
        "movabsq $0xa3aaaaaaaaaaaaaa, %rax\n"
        "cmpq %rax, %r12\n"
        "movl $10, %eax\n"
        "jne 8f\n"
        "movabsq $0xb1bbbbbbbbbbbbbb, %rax\n"
        "cmpq %rax, %r13\n"
        "movl $11, %eax\n"
        "jne 8f\n"
        "movabsq $0xc7cccccccccccccc, %rax\n"
        "cmpq %rax, %r14\n"
        "movl $12, %eax\n"
        "jne 8f\n"
        "movabsq $0xd1dddddddddddddd, %rax\n"
        "cmpq %rax, %r15\n"
        "movl $13, %eax\n"
        "jne 8f\n"
        "movabsq $0xdfbbbbbbbbbbbbbb, %rdi\n"
        "movq %xmm0, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $100, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm0\n"
        "movq %xmm0, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $200, %eax\n"
        "jne 8f\n"
        "movabsq $0xa9cccccccccccccc, %rdi\n"
        "movq %xmm1, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $101, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm1\n"
        "movq %xmm1, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $201, %eax\n"
        "jne 8f\n"
        "movabsq $0xbbdddddddddddddd, %rdi\n"
        "movq %xmm2, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $102, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm2\n"
        "movq %xmm2, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $202, %eax\n"
        "jne 8f\n"
        "movabsq $0x89eeeeeeeeeeeeee, %rdi\n"
        "movq %xmm3, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $103, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm3\n"
        "movq %xmm3, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $203, %eax\n"
        "jne 8f\n"
        "movabsq $0x97ffffffffffffff, %rdi\n"
        "movq %xmm4, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $104, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm4\n"
        "movq %xmm4, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $204, %eax\n"
        "jne 8f\n"
        "movabsq $0x7811111111111111, %rdi\n"
        "movq %xmm5, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $105, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm5\n"
        "movq %xmm5, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $205, %eax\n"
        "jne 8f\n"
        "movabsq $0x4822222222222222, %rdi\n"
        "movq %xmm6, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $106, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm6\n"
        "movq %xmm6, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $206, %eax\n"
        "jne 8f\n"
        "movabsq $0x5833333333333333, %rdi\n"
        "movq %xmm7, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $107, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm7\n"
        "movq %xmm7, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $207, %eax\n"
        "jne 8f\n"
        "movabsq $0x2844444444444444, %rdi\n"
        "movq %xmm8, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $108, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm8\n"
        "movq %xmm8, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $208, %eax\n"
        "jne 8f\n"
        "movabsq $0x3855555555555555, %rdi\n"
        "movq %xmm9, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $109, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm9\n"
        "movq %xmm9, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $209, %eax\n"
        "jne 8f\n"
        "movabsq $0x866666666666666, %rdi\n"
        "movq %xmm10, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $110, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm10\n"
        "movq %xmm10, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $210, %eax\n"
        "jne 8f\n"
        "movabsq $0x1877777777777777, %rdi\n"
        "movq %xmm11, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $111, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm11\n"
        "movq %xmm11, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $211, %eax\n"
        "jne 8f\n"
        "movabsq $0xf888888888888888, %rdi\n"
        "movq %xmm12, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $112, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm12\n"
        "movq %xmm12, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $212, %eax\n"
        "jne 8f\n"
        "movabsq $0xe899999999999999, %rdi\n"
        "movq %xmm13, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $113, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm13\n"
        "movq %xmm13, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $213, %eax\n"
        "jne 8f\n"
        "movabsq $0xd8aaaaaaaaaaaaaa, %rdi\n"
        "movq %xmm14, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $114, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm14\n"
        "movq %xmm14, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $214, %eax\n"
        "jne 8f\n"
        "movabsq $0xc8bbbbbbbbbbbbbb, %rdi\n"
        "movq %xmm15, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $115, %eax\n"
        "jne 8f\n"
        "psrldq $8, %xmm15\n"
        "movq %xmm15, %rax\n"
        "cmpq %rdi, %rax\n"
        "movl $215, %eax\n"
        "jne 8f\n"
        "xorl %eax, %eax\n"
        "jmp 8f\n"
        "9: movl $999, %eax\n"
        "8: addq $8, %rsp\n"
        "popq %r15\n"
        "popq %r14\n"
        "popq %r13\n"
        "popq %r12\n"
        "popq %rbp\n"
        "popq %rbx\n"
        "ret\n"
        ".size pr_check, .-pr_check\n");

/* Callbacks that clobber every caller-saved register. */
static int clobber_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)r;
    (void)u;
    __asm__ volatile(
        "xor %%ecx, %%ecx\n\txor %%edx, %%edx\n\txor %%esi, %%esi\n\txor %%edi, %%edi\n\t"
        "xor %%r8d, %%r8d\n\txor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\txor %%r11d, %%r11d\n\t"
        "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
        "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
        "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\t"
        "pxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
        "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\t"
        "pxor %%xmm15, %%xmm15\n\t" ::
            : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3",
              "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
              "xmm14", "xmm15", "cc", "memory");
    return BPFTIME_HOOK_CONTINUE;
}
static void clobber_leave(struct bpftime_hook_regs *r, void *u)
{
    clobber_enter(r, u);
}

TEST(registers_and_vector_registers_are_preserved)
{
    CHECK_EQ(pr_check((void *)pr_callee), 0); /* the check itself works */
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {clobber_enter, clobber_leave};
    ATTACH(pr_callee, &cbs, NULL, &h);
    CHECK_EQ(pr_check((void *)pr_callee), 0);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK_EQ(pr_check((void *)pr_callee), 0);
}

/* Floating-point arguments and results pass through the hook untouched. */
__attribute__((noinline)) double target_fp(double a, double b, long c)
{
    body_runs++;
    return a * b + (double)c;
}

TEST(floating_point_arguments_and_result)
{
    double (*volatile pf)(double, double, long) = target_fp;
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {clobber_enter, clobber_leave};
    ATTACH(target_fp, &cbs, NULL, &h);
    CHECK(pf(1.5, 4.0, 3) == 9.0);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

/* ---- the upper halves of the AVX registers -------------------------------- */

/* ymm_roundtrip(fn, in, out): loads ymm0-15 from in (16 x 32 bytes), calls
 * fn(41) (pr_callee), stores ymm0-15 to out. A hooked function may take
 * __m256 arguments in ymm0-7, and a caller built with IPA-RA may keep live
 * values in any of them across the call. */
void ymm_roundtrip(void *fn, const void *in, void *out);
#define YMM_LOAD(i) "vmovdqu " #i "*32(%rsi), %ymm" #i "\n"
#define YMM_STORE(i) "vmovdqu %ymm" #i ", " #i "*32(%r12)\n"
#define YMM_ALL(m) \
    m(0) m(1) m(2) m(3) m(4) m(5) m(6) m(7) m(8) m(9) m(10) m(11) m(12) m(13) m(14) m(15)
__asm__(".text\n"
        ".p2align 4\n"
        ".globl ymm_roundtrip\n"
        ".type ymm_roundtrip, @function\n"
        "ymm_roundtrip:\n"
        "pushq %rbx\n"
        "pushq %r12\n"
        "pushq %r13\n"
        "movq %rdi, %rbx\n"
        "movq %rdx, %r12\n" YMM_ALL(YMM_LOAD) "movl $41, %edi\n"
                                              "call *%rbx\n" YMM_ALL(YMM_STORE) "vzeroupper\n"
                                                                                "popq %r13\n"
                                                                                "popq %r12\n"
                                                                                "popq %rbx\n"
                                                                                "ret\n"
                                                                                ".size "
                                                                                "ymm_roundtrip, "
                                                                                ".-ymm_roundtrip"
                                                                                "\n");

/* What glibc's AVX2 string functions leave behind: vzeroupper (the upper
 * halves of every ymm register cleared), and ymm0/ymm1 used as scratch. */
__attribute__((target("avx"))) static int clobber_ymm_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)r;
    (void)u;
    __asm__ volatile("vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n\t"
                     "vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n\t"
                     "vzeroupper\n\t" ::
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                           "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    return BPFTIME_HOOK_CONTINUE;
}
static void clobber_ymm_leave(struct bpftime_hook_regs *r, void *u)
{
    clobber_ymm_enter(r, u);
}

/* The environment probe: no AVX, no ymm registers to lose. */
static bool cpu_has_avx(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx");
}
#define AVX_TEST(name) TEST_IF(name, cpu_has_avx(), "this CPU has no AVX")

static void ymm_patterns(uint8_t in[16][32])
{
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 32; b++)
            in[r][b] = (uint8_t)(0x11 * (r + 1) + 7 * b + 1);
}

/* Returns 0, or 1000 + 32 * register + byte of the first difference. */
static int ymm_first_difference(uint8_t in[16][32], uint8_t out[16][32])
{
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 32; b++)
            if (in[r][b] != out[r][b])
                return 1000 + 32 * r + b;
    return 0;
}

static int ymm_check(void)
{
    uint8_t in[16][32], out[16][32];
    ymm_patterns(in);
    memset(out, 0, sizeof out);
    ymm_roundtrip((void *)pr_callee, in, out);
    return ymm_first_difference(in, out);
}

AVX_TEST(ymm_registers_survive_callbacks_that_clobber_them)
{
    CHECK_EQ(ymm_check(), 0); /* the check itself works */
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {clobber_ymm_enter, clobber_ymm_leave};
    ATTACH(pr_callee, &cbs, NULL, &h);
    CHECK_EQ(ymm_check(), 0);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

/* The same with the xsave path AVX-512 machines take (forced here). */
extern int bpftime_vsave_kind;
extern uint64_t bpftime_vsave_size;
extern uint32_t bpftime_vsave_mask;

static int ymm_check_with_vsave(int kind)
{
    bpftime_vsave_mask = 0x6; /* SSE | AVX */
    bpftime_vsave_size = 1024;
    bpftime_vsave_kind = kind;
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {clobber_ymm_enter, clobber_ymm_leave};
    if (bpftime_hook_attach((void *)pr_callee, &cbs, NULL, &h) != 0)
        return -1;
    int r = ymm_check();
    bpftime_hook_detach(h);
    return r;
}

AVX_TEST(ymm_registers_survive_through_xsave)
{
    CHECK_EQ(ymm_check_with_vsave(3), 0);
}

static bool cpu_has_xsavec(void)
{
    unsigned a, b, c, d;
    __cpuid_count(0xd, 1, a, b, c, d);
    return cpu_has_avx() && (a & 2);
}

TEST_IF(ymm_registers_survive_through_xsavec, cpu_has_xsavec(), "this CPU has no xsavec")
{
    CHECK_EQ(ymm_check_with_vsave(4), 0);
}

/* A callback that promises to stay in general-purpose registers
 * (BPFTIME_HOOK_F_GPR_ONLY) runs with no save around it; the stub and the
 * dispatcher keep the vector registers untouched on their own. */
BPFTIME_GPR_ONLY_BEGIN
static int gpr_enter(struct bpftime_hook_regs *r, void *u)
{
    (*(int *)u)++;
    r->rdi += 0;
    return BPFTIME_HOOK_CONTINUE;
}
static void gpr_leave(struct bpftime_hook_regs *r, void *u)
{
    (*(int *)u)++;
    (void)r;
}
BPFTIME_GPR_ONLY_END

AVX_TEST(ymm_registers_survive_the_hook_itself)
{
    int calls = 0;
    struct bpftime_hook *h = NULL;
    const struct bpftime_hook_callbacks cbs = {gpr_enter, gpr_leave};
    const struct bpftime_hook_site site = {.addr = (void *)pr_callee,
                                           .flags = BPFTIME_HOOK_F_GPR_ONLY};
    CHECK_EQ(bpftime_hook_attach_site(&site, &cbs, &calls, &h), 0);
    CHECK_EQ(ymm_check(), 0);
    CHECK_EQ(calls, 2);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

/* The same through the fast paths (bpftime_hook_fast): the enter stub's
 * direct call and the leave-only stub touch no vector register either. */
static void *volatile ymm_fast_slot;
static volatile uint32_t ymm_fast_gate;
BPFTIME_GPR_ONLY_BEGIN
static uint64_t ymm_fast_fn(void *ctx, size_t len)
{
    (void)ctx;
    (void)len;
    ymm_fast_gate += 0; /* a GPR-only body, as the JIT's */
    return 0;
}
BPFTIME_GPR_ONLY_END

AVX_TEST(ymm_registers_survive_the_fast_paths)
{
    ymm_fast_slot = (void *)ymm_fast_fn;
    const struct bpftime_hook_fast fast = {&ymm_fast_slot, {&ymm_fast_gate, &ymm_fast_gate}};
    const struct bpftime_hook_callbacks enter = {gpr_enter, NULL}, leave = {NULL, gpr_leave};
    const struct bpftime_hook_callbacks *cbs[2] = {&enter, &leave};
    for (int i = 0; i < 2; i++) {
        int calls = 0;
        struct bpftime_hook *h = NULL;
        const struct bpftime_hook_site site = {
            .addr = (void *)pr_callee, .flags = BPFTIME_HOOK_F_GPR_ONLY, .fast = &fast};
        CHECK_EQ(bpftime_hook_attach_site(&site, cbs[i], &calls, &h), 0);
        CHECK_EQ(ymm_check(), 0); /* the thread's first hit may take the dispatcher */
        CHECK_EQ(ymm_check(), 0);
        CHECK_EQ(calls, 0); /* the fast function ran, not the listener */
        CHECK_EQ(bpftime_hook_detach(h), 0);
    }
}

/* ---- flags live across a site in the middle of a function ------------------ */

/* flags_fn(a, b) = CF | OF << 1 | ZF << 2 | SF << 3 of `cmp b, a`, read
 * after flags_site, a hook site between the cmp and the reads: the hook
 * must give the flags back as they were. */
long flags_fn(long a, long b);
extern char flags_site[];
__asm__(".text\n.p2align 4\n.globl flags_fn\n.type flags_fn, @function\nflags_fn:\n"
        "cmpq %rsi, %rdi\n"
        ".globl flags_site\nflags_site:\n"
        "movq %rdi, %r8\nmovq %rsi, %r9\n"
        "setb %al\nseto %cl\nsete %dl\nsets %sil\n"
        "movzbl %al, %eax\nmovzbl %cl, %ecx\nmovzbl %dl, %edx\nmovzbl %sil, %esi\n"
        "shll $1, %ecx\nshll $2, %edx\nshll $3, %esi\n"
        "orl %ecx, %eax\norl %edx, %eax\norl %esi, %eax\nret\n"
        ".size flags_fn, .-flags_fn\n");

static int flags_clobber(struct bpftime_hook_regs *r, void *u)
{
    (void)r;
    (*(int *)u)++;
    __asm__ volatile("xorl %%eax, %%eax\n\tcmpl $1, %%eax" ::: "rax", "cc"); /* CF SF, not ZF */
    return BPFTIME_HOOK_CONTINUE;
}

TEST(status_flags_survive_a_hook_in_the_middle_of_a_function)
{
    long (*volatile f)(long, long) = flags_fn;
    static const long cases[][2] = {{1, 2},          {2, 1},  {5, 5},  {INT64_MIN, 1},
                                    {INT64_MAX, -1}, {-1, 0}, {0, -1}, {-7, -7}};
    long want[8];
    for (int i = 0; i < 8; i++)
        want[i] = f(cases[i][0], cases[i][1]);
    CHECK_EQ(want[0], 1 | 8); /* the check itself works: 1 - 2 borrows, negative */
    CHECK_EQ(want[2], 4);
    CHECK_EQ(want[3], 2); /* INT64_MIN - 1 overflows */
    int calls = 0;
    const struct bpftime_hook_callbacks cbs = {flags_clobber, NULL};
    const struct bpftime_hook_site site = {.addr = flags_site, .func = (void *)flags_fn};
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach_site(&site, &cbs, &calls, &h), 0);
    CHECK_EQ(bpftime_hook_uses_trap(h), 0); /* the jump path */
    for (int i = 0; i < 8; i++)
        CHECK_EQ(f(cases[i][0], cases[i][1]), want[i]);
    CHECK_EQ(calls, 8);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

/* df_fn() = the direction flag after df_site, a hook site reached with DF
 * set (std): the callback runs with DF clear (C requires it; glibc's rep
 * movsb would copy backwards), and the function gets DF back. */
long df_fn(void);
extern char df_site[];
__asm__(".text\n.p2align 4\n.globl df_fn\n.type df_fn, @function\ndf_fn:\n"
        "std\n"
        ".globl df_site\ndf_site:\n"
        "movq %rdi, %r8\nmovq %rsi, %r9\n"
        "pushfq\npopq %rax\ncld\nandl $0x400, %eax\nret\n"
        ".size df_fn, .-df_fn\n");

static int df_copy(struct bpftime_hook_regs *r, void *u)
{
    static char src[8192], dst[8192];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (char)(i * 7 + 1);
    memcpy(dst, src, sizeof dst); /* rep movsb in glibc for this size */
    *(int *)u = memcmp(dst, src, sizeof dst) == 0 && (r->eflags & 0x400) ? 1 : -1;
    return BPFTIME_HOOK_CONTINUE;
}

TEST(direction_flag_is_clear_in_callbacks_and_restored_after)
{
    long (*volatile f)(void) = df_fn;
    CHECK_EQ(f(), 0x400); /* the check itself works */
    int seen = 0;
    const struct bpftime_hook_callbacks cbs = {df_copy, NULL};
    const struct bpftime_hook_site site = {.addr = df_site, .func = (void *)df_fn};
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach_site(&site, &cbs, &seen, &h), 0);
    CHECK_EQ(bpftime_hook_uses_trap(h), 0);
    CHECK_EQ(f(), 0x400);
    CHECK_EQ(seen, 1);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

/* One GPR-only on_enter listener (the uprobe case, the dispatcher's short
 * path): arguments seen, override returns straight to the caller, a second
 * listener takes the general path again. */
BPFTIME_GPR_ONLY_BEGIN
static int gpr_override(struct bpftime_hook_regs *r, void *u)
{
    (*(int *)u)++;
    if (r->rdi == 100)
        return bpftime_hook_override_return(r, r->rsi * 3);
    return BPFTIME_HOOK_CONTINUE;
}
BPFTIME_GPR_ONLY_END

TEST(one_gpr_only_listener_continues_and_overrides)
{
    int calls = 0, calls2 = 0;
    const struct bpftime_hook_callbacks cbs = {gpr_override, NULL};
    const struct bpftime_hook_site site = {.addr = (void *)target_add,
                                           .flags = BPFTIME_HOOK_F_GPR_ONLY};
    struct bpftime_hook *h = NULL, *h2 = NULL;
    CHECK_EQ(bpftime_hook_attach_site(&site, &cbs, &calls, &h), 0);
    body_runs = 0;
    CHECK_EQ(p_add(2, 3), 9); /* a * 3 + b */
    CHECK_EQ(body_runs, 1);
    CHECK_EQ(p_add(100, 7), 21); /* overridden: the body does not run */
    CHECK_EQ(body_runs, 1);
    CHECK_EQ(calls, 2);
    CHECK_EQ(bpftime_hook_attach_site(&site, &cbs, &calls2, &h2), 0);
    CHECK_EQ(p_add(100, 8), 24);
    CHECK_EQ(p_add(4, 5), 17);
    CHECK_EQ(body_runs, 2);
    CHECK_EQ(calls, 4);
    CHECK_EQ(calls2, 2);
    CHECK_EQ(bpftime_hook_detach(h2), 0);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK_EQ(p_add(100, 7), 307);
}
