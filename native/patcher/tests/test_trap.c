/* The trap path (int3 + SIGTRAP handler) on hand-assembled code: sites in
 * the middle of a function, displaced instructions run out of line, register
 * access, override, threads, chaining to an earlier SIGTRAP handler, and the
 * instruction-boundary check. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "patcher/patcher.h"
#include "test/harness.h"

#define PAGE 4096

typedef uint64_t (*fn1)(uint64_t);

/* f(x): a USDT-like nop in the middle, between two instructions that change
 * rdi and rax: at the nop, rdi = x + 1. */
static const uint8_t nop_site_fn[] = {
    0x48, 0xff, 0xc7,       /* 0: inc rdi */
    0x90,                   /* 3: nop (the site) */
    0x48, 0x8d, 0x04, 0x3f, /* 4: lea rax, [rdi+rdi] */
    0xc3,                   /* 8: ret */
};
/* g(x) = [rip data] + x: the displaced instruction is RIP-relative. */
static const uint8_t rip_fn[] = {
    0x48, 0x8b, 0x05, 0xf9, 0x07, 0x00, 0x00, /* mov rax, [rip+0x7f9] -> page+0x800 */
    0x48, 0x01, 0xf8,                         /* add rax, rdi */
    0xc3,
};
/* h(x) = x + 5, four bytes long, another function right after it. */
static const uint8_t short_fn[] = {
    0x8d, 0x47, 0x05,             /* lea eax, [rdi+5] */
    0xc3,                         /* ret */
    0xb8, 0x07, 0x00, 0x00, 0x00, /* next function: mov eax, 7 */
    0xc3,
};
enum { OFF_RIP = 0x000, OFF_NOP = 0x040, OFF_SHORT = 0x080, OFF_DATA = 0x800 };

static uint8_t *page;

static void build_page(void)
{
    page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(page, 0xcc, PAGE);
    memcpy(page + OFF_NOP, nop_site_fn, sizeof nop_site_fn);
    memcpy(page + OFF_RIP, rip_fn, sizeof rip_fn);
    memcpy(page + OFF_SHORT, short_fn, sizeof short_fn);
    uint64_t data = 0x1000;
    memcpy(page + OFF_DATA, &data, 8);
    mprotect(page, PAGE, PROT_READ | PROT_EXEC);
}

static atomic_int enters, leaves;
static uint64_t last_rdi, last_rip, last_rsp, last_rax, last_orig_rax, last_cs, last_ss;
static int64_t set_rdi = -1;
static int64_t override_with = -1;

static int on_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    atomic_fetch_add(&enters, 1);
    last_rdi = r->rdi;
    last_rip = r->rip;
    last_rsp = r->rsp;
    last_orig_rax = r->orig_rax;
    last_cs = r->cs;
    last_ss = r->ss;
    if (set_rdi >= 0)
        r->rdi = (uint64_t)set_rdi;
    if (override_with >= 0)
        return bpftime_hook_override_return(r, (uint64_t)override_with);
    return BPFTIME_HOOK_CONTINUE;
}
static void on_leave(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    atomic_fetch_add(&leaves, 1);
    last_rax = r->rax;
}
static const struct bpftime_hook_callbacks enter_only = {on_enter, NULL};
static const struct bpftime_hook_callbacks both = {on_enter, on_leave};

static int attach_trap(void *addr, void *func, size_t size, const struct bpftime_hook_callbacks *cb,
                       struct bpftime_hook **h)
{
    struct bpftime_hook_site site = {addr, func, size, BPFTIME_HOOK_F_TRAP, NULL};
    return bpftime_hook_attach_site(&site, cb, NULL, h);
}

TEST(nop_in_the_middle_of_a_function_sees_its_registers)
{
    build_page();
    fn1 f = (fn1)(page + OFF_NOP);
    struct bpftime_hook *h = NULL;
    CHECK_EQ(attach_trap(page + OFF_NOP + 3, page + OFF_NOP, sizeof nop_site_fn, &enter_only, &h),
             0);
    CHECK_EQ(bpftime_hook_uses_trap(h), 1);
    CHECK_EQ(page[OFF_NOP + 3], 0xcc);
    CHECK(memcmp(page + OFF_NOP, nop_site_fn, 3) == 0);
    CHECK_EQ(f(20), 42);
    CHECK_EQ(enters, 1);
    CHECK_EQ(last_rdi, 21);
    CHECK_EQ(last_rip, (uint64_t)page + OFF_NOP + 3);
    /* pt_regs outside a syscall: orig_rax = -1; cs and ss are this thread's */
    CHECK_EQ(last_orig_rax, (uint64_t)-1);
    uint16_t cs, ss;
    __asm__("movw %%cs, %0" : "=r"(cs));
    __asm__("movw %%ss, %0" : "=r"(ss));
    CHECK_EQ(last_cs, cs);
    CHECK_EQ(last_ss, ss);
    /* A callback's register writes reach the code after the site. */
    set_rdi = 100;
    CHECK_EQ(f(20), 200);
    set_rdi = -1;
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(page + OFF_NOP, nop_site_fn, sizeof nop_site_fn) == 0);
    CHECK_EQ(f(20), 42);
    CHECK_EQ(enters, 2);
}

TEST(rip_relative_instruction_runs_out_of_line)
{
    build_page();
    fn1 g = (fn1)(page + OFF_RIP);
    struct bpftime_hook *h = NULL;
    CHECK_EQ(attach_trap(g, NULL, sizeof rip_fn, &both, &h), 0);
    CHECK_EQ(((uint8_t *)g)[0], 0xcc);
    CHECK_EQ(g(5), 0x1005);
    CHECK_EQ(enters, 1);
    CHECK_EQ(leaves, 1);
    CHECK_EQ(last_rax, 0x1005);
    CHECK_EQ(last_rdi, 5);
    /* rsp at a function's entry points at the return address. */
    CHECK(last_rsp != 0);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(g, rip_fn, sizeof rip_fn) == 0);
}

TEST(override_on_the_trap_path_skips_the_body)
{
    build_page();
    fn1 hfn = (fn1)(page + OFF_SHORT);
    struct bpftime_hook *h = NULL;
    /* Four bytes: the jump cannot fit, the trap path is chosen by itself. */
    CHECK_EQ(bpftime_hook_attach_ex(hfn, 4, &both, NULL, &h), 0);
    CHECK_EQ(bpftime_hook_uses_trap(h), 1);
    CHECK_EQ(hfn(1), 6);
    override_with = 77;
    CHECK_EQ(hfn(1), 77);
    CHECK_EQ(last_rax, 77); /* on_leave saw the overridden value */
    override_with = -1;
    CHECK_EQ(hfn(2), 7);
    CHECK_EQ(enters, 3);
    CHECK_EQ(leaves, 3);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

/* A callback that calls the hooked function: the nested int3 arrives while
 * the handler runs (SA_NODEFER), and the inner call runs unhooked. */
static int nested_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)r;
    atomic_fetch_add(&enters, 1);
    last_rax = ((fn1)u)(10);
    return BPFTIME_HOOK_CONTINUE;
}

TEST(callback_calling_the_trapped_function_does_not_recurse)
{
    build_page();
    fn1 hfn = (fn1)(page + OFF_SHORT);
    static const struct bpftime_hook_callbacks cbs = {nested_enter, NULL};
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach_ex(hfn, 4, &cbs, (void *)hfn, &h), 0);
    CHECK_EQ(hfn(1), 6);
    CHECK_EQ(enters, 1);
    CHECK_EQ(last_rax, 15);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

static atomic_int stop;
static atomic_long calls;
static void *caller(void *arg)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; !atomic_load(&stop); i++) {
        if (((fn1)arg)(i) != i + 5)
            bad++;
        atomic_fetch_add(&calls, 1);
    }
    return (void *)(uintptr_t)bad;
}

/* Waits (bounded) until the callers have made n more calls. */
static void wait_calls(long n)
{
    long target = atomic_load(&calls) + n;
    for (long spins = 0; atomic_load(&calls) < target && spins < 200000000L; spins++)
        sched_yield();
}

TEST(threads_run_while_trap_sites_are_attached_and_detached)
{
    build_page();
    fn1 hfn = (fn1)(page + OFF_SHORT);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, caller, (void *)hfn), 0);
    for (int round = 0; round < 200; round++) {
        struct bpftime_hook *h = NULL;
        CHECK_EQ(bpftime_hook_patched_at(hfn), 0);
        CHECK_EQ(bpftime_hook_attach_ex(hfn, 4, &both, NULL, &h), 0);
        CHECK_EQ(bpftime_hook_uses_trap(h), 1);
        CHECK_EQ(bpftime_hook_patched_at(hfn), 1);
        CHECK_EQ(bpftime_hook_detach(h), 0);
    }
    /* Under load the callers may not have run during the rounds at all: keep
     * one hook attached until a caller has gone through it (a condition, not
     * a sleep; bounded so a broken trap path fails instead of hanging). */
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach_ex(hfn, 4, &both, NULL, &h), 0);
    for (long spins = 0; atomic_load(&enters) == 0 && spins < 200000000L; spins++)
        sched_yield();
    CHECK_EQ(bpftime_hook_detach(h), 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        CHECK_EQ((uintptr_t)bad, 0);
    }
    /* A call that entered before a detach returns unobserved: never more
     * leaves than enters. */
    CHECK(atomic_load(&leaves) <= atomic_load(&enters));
    CHECK(atomic_load(&enters) > 0);
    CHECK(memcmp(page + OFF_SHORT, short_fn, sizeof short_fn) == 0);
}

/* Detach while a callback runs on another thread: when detach returns, no
 * callback is half-way through (the counter is even) and none starts later. */
struct counter {
    atomic_long n;
};
static int counting_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)r;
    struct counter *c = u;
    atomic_fetch_add(&c->n, 1);
    for (volatile int i = 0; i < 2000; i++) {}
    atomic_fetch_add(&c->n, 1);
    return BPFTIME_HOOK_CONTINUE;
}

TEST(detach_waits_for_running_trap_callbacks)
{
    build_page();
    fn1 hfn = (fn1)(page + OFF_SHORT);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, caller, (void *)hfn), 0);
    static const struct bpftime_hook_callbacks cbs = {counting_enter, NULL};
    for (int round = 0; round < 30; round++) {
        struct counter *c = calloc(1, sizeof *c);
        struct bpftime_hook *h = NULL;
        CHECK_EQ(bpftime_hook_attach_ex(hfn, 4, &cbs, c, &h), 0);
        CHECK_EQ(bpftime_hook_uses_trap(h), 1);
        /* until a caller is inside or past the callback (bounded) */
        for (long spins = 0; atomic_load(&c->n) == 0 && spins < 200000000L; spins++)
            sched_yield();
        wait_calls(5); /* and a few more calls race with the detach below */
        CHECK_EQ(bpftime_hook_detach(h), 0);
        long v = atomic_load(&c->n);
        CHECK(v > 0);
        CHECK(v % 2 == 0);
        wait_calls(20);                  /* calls through the unhooked function */
        CHECK_EQ(atomic_load(&c->n), v); /* nothing ran after detach */
        free(c);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        CHECK_EQ((uintptr_t)bad, 0);
    }
}

static atomic_int foreign_traps;
static void foreign_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&foreign_traps, 1);
}

TEST(sigtrap_that_is_not_ours_goes_to_the_previous_handler)
{
    signal(SIGTRAP, foreign_handler);
    build_page();
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach_ex(page + OFF_SHORT, 4, &both, NULL, &h), 0);
    raise(SIGTRAP);           /* not an int3 */
    __asm__ volatile("int3"); /* an int3 at no site of ours */
    CHECK_EQ(atomic_load(&foreign_traps), 2);
    CHECK_EQ(((fn1)(page + OFF_SHORT))(1), 6);
    CHECK_EQ(enters, 1);
    CHECK_EQ(atomic_load(&foreign_traps), 2);
    CHECK_EQ(bpftime_hook_detach(h), 0);
}

/* Leaves non-zero bytes where the next call's locals will live: a message
 * built from an uninitialised buffer then shows. */
__attribute__((noinline)) static void dirty_stack(void)
{
    volatile uint8_t junk[16384];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0x5a;
}

TEST(int3_already_at_the_site_is_refused)
{
    build_page();
    struct bpftime_hook *h = NULL;
    dirty_stack();
    CHECK_EQ(attach_trap(page + 0x100, NULL, 0, &both, &h), -EBUSY); /* int3 filler */
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "int3");
    /* the trap path was asked for: its reason alone, no jump-path prefix */
    CHECK(strstr(bpftime_last_error_message(), "cannot take it either") == NULL);
    CHECK(bpftime_last_error_message()[0] != ';');
    CHECK(h == NULL);
}

/* A fresh page holding `code` at offset 0 and int3 after it. */
static uint8_t *page_with(const uint8_t *code, size_t len, int prot)
{
    uint8_t *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    memset(p, 0xcc, PAGE);
    memcpy(p, code, len);
    mprotect(p, PAGE, prot);
    return p;
}

TEST(undecodable_instruction_is_refused_with_the_reason)
{
    static const uint8_t bad[] = {0x06}; /* push es: invalid in 64-bit mode */
    uint8_t *p = page_with(bad, sizeof bad, PROT_READ | PROT_EXEC);
    CHECK(p != NULL);
    struct bpftime_hook *h = NULL;
    CHECK_EQ(attach_trap(p, NULL, 0, &both, &h), -EINVAL); /* the patcher's first use sets up */
    dirty_stack();
    CHECK_EQ(attach_trap(p, NULL, 0, &both, &h), -EINVAL);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "cannot decode the instruction");
    /* the trap path was asked for: no jump-path reason in front */
    CHECK(bpftime_last_error_message()[0] != ';');
    CHECK(strstr(bpftime_last_error_message(), "cannot take it either") == NULL);
    /* the jump path tried first: both reasons, the trap path's last */
    CHECK(bpftime_hook_attach(p, &both, NULL, &h) < 0);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "the trap path cannot take it either: ");
    CHECK(h == NULL);
    munmap(p, PAGE);
}

TEST(execute_only_page_is_refused)
{
    static const uint8_t ret[] = {0xc3};
    uint8_t *p = page_with(ret, sizeof ret, PROT_EXEC);
    CHECK(p != NULL);
    struct bpftime_hook *h = NULL;
    CHECK_EQ(attach_trap(p, NULL, 0, &both, &h), -EFAULT);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "not in a readable mapping");
    CHECK(h == NULL);
    munmap(p, PAGE);
}

TEST(instruction_boundaries)
{
    uint64_t at = 99;
    /* rip_fn: instructions at 0 (7 bytes), 7 (3 bytes), 10 (ret). */
    CHECK_EQ(bpftime_insn_boundary(rip_fn, sizeof rip_fn, 0x1000, 0, &at), 1);
    CHECK_EQ(bpftime_insn_boundary(rip_fn, sizeof rip_fn, 0x1000, 7, &at), 1);
    CHECK_EQ(bpftime_insn_boundary(rip_fn, sizeof rip_fn, 0x1000, 10, &at), 1);
    CHECK_EQ(bpftime_insn_boundary(rip_fn, sizeof rip_fn, 0x1000, 1, &at), 0);
    CHECK_EQ(at, 0);
    CHECK_EQ(bpftime_insn_boundary(rip_fn, sizeof rip_fn, 0x1000, 6, &at), 0);
    CHECK_EQ(at, 0);
    CHECK_EQ(bpftime_insn_boundary(rip_fn, sizeof rip_fn, 0x1000, 9, &at), 0);
    CHECK_EQ(at, 7);
    CHECK_EQ(bpftime_insn_boundary(rip_fn, sizeof rip_fn, 0x1000, 11, &at), -EINVAL);
}
