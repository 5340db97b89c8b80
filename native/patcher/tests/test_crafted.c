/* Patcher tests on hand-assembled functions in an mmap'ed executable page:
 * exact control over the instructions the jump overwrites. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "patcher/patcher.h"
#include "patcher/patcher_internal.h"
#include "test/harness.h"

#define PAGE 4096

static uint8_t *page;

/* Copies `code` to page+off and returns its address. */
static void *emit(size_t off, const uint8_t *code, size_t len)
{
    memcpy(page + off, code, len);
    return page + off;
}

static uint8_t *new_page(void)
{
    void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    memset(p, 0xcc, PAGE);
    return p;
}

static int seal(void)
{
    return mprotect(page, PAGE, PROT_READ | PROT_EXEC);
}

/* Crafted functions (offsets in the page). */
static const uint8_t rip_load[] = {
    0x48, 0x8b, 0x05, 0xf9, 0x07, 0x00, 0x00, /* mov rax, [rip+0x7f9] -> page+0x800 */
    0x48, 0x01, 0xf8,                         /* add rax, rdi */
    0xc3,                                     /* ret */
};
static const uint8_t jcc_fn[] = {
    0x85, 0xff,                   /* test edi, edi */
    0x74, 0x06,                   /* je +6 (outside the patch) */
    0xb8, 0x01, 0x00, 0x00, 0x00, /* mov eax, 1 */
    0xc3,                         /* ret */
    0xb8, 0x02, 0x00, 0x00, 0x00, /* mov eax, 2 */
    0xc3,
};
static const uint8_t jmp_short_fn[] = {
    0xeb, 0x03,       /* jmp +3 */
    0x90, 0x90, 0x90, /* (skipped) */
    0x8d, 0x47, 0x07, /* lea eax, [rdi+7] */
    0xc3,
};
static const uint8_t jrcxz_fn[] = {
    0xe3, 0x02,       /* jrcxz +2 (lands inside the patched bytes) */
    0xff, 0xc7,       /* inc edi */
    0x8d, 0x04, 0x3f, /* lea eax, [rdi+rdi] */
    0xc3,
};
static const uint8_t call_fn[] = {
    0xe8, 0xfb, 0x00, 0x00, 0x00, /* call +0xfb -> helper at fn+0x100 */
    0x01, 0xf8,                   /* add eax, edi */
    0xc3,
};
static const uint8_t helper_fn[] = {0xb8, 0x28, 0x00, 0x00, 0x00, 0xc3}; /* mov eax, 40; ret */
static const uint8_t getpc_fn[] = {
    0xe8, 0x00, 0x00, 0x00, 0x00, /* call next */
    0x58,                         /* pop rax */
    0xc3,
};
static const uint8_t endbr_fn[] = {
    0xf3, 0x0f, 0x1e, 0xfa, /* endbr64 */
    0x8d, 0x04, 0x3f,       /* lea eax, [rdi+rdi] */
    0x83, 0xc0, 0x03,       /* add eax, 3 */
    0xc3,
};
static const uint8_t two_tiny_fns[] = {
    0xc3,                               /* f: ret */
    0xb8, 0x07, 0x00, 0x00, 0x00, 0xc3, /* g: mov eax, 7; ret */
};
static const uint8_t ret_then_padding[] = {
    0x31, 0xc0, 0xc3, /* xor eax, eax; ret */
    0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
};
static const uint8_t branch_back_fn[] = {
    0x31, 0xc0, /* xor eax, eax */
    0xff, 0xc0, /* 2: inc eax */
    0xff, 0xcf, /* dec edi */
    0x75, 0xfa, /* jne 2 (back into the patched bytes) */
    0xc3,
};

static const uint8_t spin_fn[] = {
    0x90,                         /* nop */
    0x80, 0x3f, 0x00,             /* 1: cmp byte [rdi], 0 */
    0x74, 0xfb,                   /* je 1 (inside the patched bytes) */
    0xb8, 0x07, 0x00, 0x00, 0x00, /* mov eax, 7 */
    0xc3,
};
/* RIP-relative memory as the *first* operand (the destination side of the
 * encoding), compared with the data at page+0x800: f(x) = ([data] == x). */
static const uint8_t rip_first_op_fn[] = {
    0x48, 0x39, 0x3d, 0x39, 0x04, 0x00, 0x00, /* cmp [rip+0x439], rdi -> page+0x800 */
    0x0f, 0x94, 0xc0,                         /* sete al */
    0x0f, 0xb6, 0xc0,                         /* movzx eax, al */
    0xc3,
};
/* RIP-relative with an immediate after the displacement: the displacement
 * counts from the end of the immediate. g() = ([data] == 0x1000). */
static const uint8_t rip_imm_fn[] = {
    0x48, 0x81, 0x3d, 0xf5, 0x03, 0x00,
    0x00, 0x00, 0x10, 0x00, 0x00, /* cmp qword [rip+0x3f5], 0x1000 */
    0x0f, 0x94, 0xc0,             /* sete al */
    0x0f, 0xb6, 0xc0,             /* movzx eax, al */
    0xc3,
};
enum {
    OFF_RIP = 0x000,
    OFF_JCC = 0x040,
    OFF_JMP = 0x080,
    OFF_JRCXZ = 0x0c0,
    OFF_CALL = 0x100,
    OFF_HELPER = 0x200,
    OFF_GETPC = 0x240,
    OFF_ENDBR = 0x280,
    OFF_TINY = 0x2c0,
    OFF_PAD = 0x300,
    OFF_BACK = 0x340,
    OFF_SPIN = 0x380,
    OFF_RIP_FIRST = 0x3c0,
    OFF_RIP_IMM = 0x400,
    OFF_DATA = 0x800,
};

static void build_page(void)
{
    page = new_page();
    emit(OFF_RIP, rip_load, sizeof rip_load);
    uint64_t data = 0x1000;
    memcpy(page + OFF_DATA, &data, 8);
    emit(OFF_JCC, jcc_fn, sizeof jcc_fn);
    emit(OFF_JMP, jmp_short_fn, sizeof jmp_short_fn);
    emit(OFF_JRCXZ, jrcxz_fn, sizeof jrcxz_fn);
    emit(OFF_CALL, call_fn, sizeof call_fn);
    emit(OFF_HELPER, helper_fn, sizeof helper_fn);
    emit(OFF_GETPC, getpc_fn, sizeof getpc_fn);
    emit(OFF_ENDBR, endbr_fn, sizeof endbr_fn);
    emit(OFF_TINY, two_tiny_fns, sizeof two_tiny_fns);
    emit(OFF_PAD, ret_then_padding, sizeof ret_then_padding);
    emit(OFF_BACK, branch_back_fn, sizeof branch_back_fn);
    emit(OFF_SPIN, spin_fn, sizeof spin_fn);
    emit(OFF_RIP_FIRST, rip_first_op_fn, sizeof rip_first_op_fn);
    emit(OFF_RIP_IMM, rip_imm_fn, sizeof rip_imm_fn);
    seal();
}

typedef uint64_t (*fn1)(uint64_t);
typedef uint64_t (*fn4)(uint64_t, uint64_t, uint64_t, uint64_t);

static int enters, leaves;
static uint64_t last_rdi, last_rip, last_rax;

static int count_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    enters++;
    last_rdi = r->rdi;
    last_rip = r->rip;
    return BPFTIME_HOOK_CONTINUE;
}
static void count_leave(struct bpftime_hook_regs *r, void *u)
{
    (void)u;
    leaves++;
    last_rax = r->rax;
}
static const struct bpftime_hook_callbacks both = {count_enter, count_leave};

/* Hooks fn (size given), checks results before/while/after, and that the
 * original bytes come back exactly. */
#define CHECK_HOOKED(fnaddr, size, call_expr, expect) \
    do { \
        uint8_t saved_[32]; \
        memcpy(saved_, (void *)(fnaddr), 32); \
        CHECK_EQ((call_expr), (expect)); \
        struct bpftime_hook *h_ = NULL; \
        int rc_ = bpftime_hook_attach_ex((void *)(fnaddr), size, &both, NULL, &h_); \
        if (rc_) \
            test_fail(t, __FILE__, __LINE__, "attach: %s", bpftime_last_error_message()); \
        CHECK_EQ(rc_, 0); \
        CHECK(memcmp(saved_, (void *)(fnaddr), 32) != 0); \
        enters = leaves = 0; \
        CHECK_EQ((call_expr), (expect)); \
        CHECK_EQ(enters, 1); \
        CHECK_EQ(leaves, 1); \
        CHECK_EQ(last_rip, (uint64_t)(fnaddr)); \
        CHECK_EQ(last_rax, (expect)); \
        CHECK_EQ(bpftime_hook_detach(h_), 0); \
        CHECK(memcmp(saved_, (void *)(fnaddr), 32) == 0); \
        CHECK_EQ((call_expr), (expect)); \
        CHECK_EQ(enters, 1); \
    } while (0)

TEST(rip_relative_load_in_prologue)
{
    build_page();
    fn1 f = (fn1)(page + OFF_RIP);
    CHECK_HOOKED(f, sizeof rip_load, f(5), 0x1005);
    CHECK_EQ(last_rdi, 5);
    /* Unknown size: the function is long enough anyway. */
    CHECK_HOOKED(f, 0, f(7), 0x1007);
}

TEST(rip_relative_first_operand_or_with_an_immediate_in_prologue)
{
    build_page();
    fn1 f = (fn1)(page + OFF_RIP_FIRST), g = (fn1)(page + OFF_RIP_IMM);
    CHECK_HOOKED(f, sizeof rip_first_op_fn, f(0x1000), 1);
    CHECK_HOOKED(f, sizeof rip_first_op_fn, f(0x1001), 0);
    CHECK_HOOKED(g, sizeof rip_imm_fn, g(0), 1);
}

TEST(short_jcc_in_prologue)
{
    build_page();
    fn1 f = (fn1)(page + OFF_JCC);
    CHECK_HOOKED(f, sizeof jcc_fn, f(0), 2);
    CHECK_HOOKED(f, sizeof jcc_fn, f(1), 1);
}

TEST(short_jmp_in_prologue_needs_size_for_the_jump)
{
    build_page();
    fn1 f = (fn1)(page + OFF_JMP);
    /* Without a size, the bytes after the jmp might be another function. */
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach((void *)f, &both, NULL, &h), 0);
    CHECK_EQ(bpftime_hook_uses_trap(h), 1);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK_HOOKED(f, sizeof jmp_short_fn, f(1), 8);
}

TEST(jrcxz_to_inside_the_patched_bytes)
{
    build_page();
    fn4 f = (fn4)(page + OFF_JRCXZ);
    CHECK_HOOKED(f, sizeof jrcxz_fn, f(3, 0, 0, 0), 6);
    CHECK_HOOKED(f, sizeof jrcxz_fn, f(3, 0, 0, 1), 8);
}

TEST(call_in_prologue)
{
    build_page();
    fn1 f = (fn1)(page + OFF_CALL);
    CHECK_HOOKED(f, sizeof call_fn, f(2), 42);
}

TEST(call_next_get_pc_idiom)
{
    build_page();
    fn1 f = (fn1)(page + OFF_GETPC);
    /* Returns its own address + 5 even when run from the trampoline. */
    CHECK_HOOKED(f, sizeof getpc_fn, f(0), (uint64_t)f + 5);
}

TEST(endbr64_prologue_is_kept)
{
    build_page();
    fn1 f = (fn1)(page + OFF_ENDBR);
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach((void *)f, &both, NULL, &h), 0);
    CHECK(patcher_is_endbr64((const uint8_t *)f));
    CHECK_EQ(((uint8_t *)f)[4], 0xe9);
    enters = 0;
    CHECK_EQ(f(5), 13);
    CHECK_EQ(enters, 1);
    CHECK_EQ(last_rip, (uint64_t)f);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp((void *)f, endbr_fn, sizeof endbr_fn) == 0);
    CHECK_HOOKED(f, sizeof endbr_fn, f(1), 5);
}

TEST(too_short_function_takes_the_trap_path)
{
    build_page();
    void *tiny = page + OFF_TINY;
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach_ex(tiny, 1, &both, NULL, &h), 0);
    CHECK_EQ(bpftime_hook_uses_trap(h), 1);
    /* Only the `ret` is displaced: g right after it is untouched and unhooked. */
    CHECK_EQ(((uint8_t *)tiny)[0], 0xcc);
    CHECK(memcmp(page + OFF_TINY + 1, two_tiny_fns + 1, sizeof two_tiny_fns - 1) == 0);
    enters = leaves = 0;
    ((fn1)tiny)(4);
    CHECK_EQ(enters, 1);
    CHECK_EQ(leaves, 1);
    CHECK_EQ(last_rdi, 4);
    CHECK_EQ(last_rip, (uint64_t)tiny);
    CHECK_EQ(((fn1)(page + OFF_TINY + 1))(0), 7);
    CHECK_EQ(enters, 1);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(tiny, two_tiny_fns, sizeof two_tiny_fns) == 0);
    ((fn1)tiny)(4);
    CHECK_EQ(enters, 1);
}

TEST(ret_followed_by_padding_is_accepted)
{
    build_page();
    fn1 f = (fn1)(page + OFF_PAD);
    CHECK_HOOKED(f, 0, f(9), 0);
}

/* The same function in the last 16 bytes of a mapping: its padding runs up
 * to the mapping's very end, and still counts. */
TEST(padding_up_to_the_end_of_the_mapping_is_accepted)
{
    uint8_t *two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(two != MAP_FAILED);
    CHECK_EQ(munmap(two + PAGE, PAGE), 0); /* nothing mapped after the page */
    _Static_assert(sizeof ret_then_padding == 16, "fills the page's last 16 bytes");
    memcpy(two + PAGE - 16, ret_then_padding, 16);
    CHECK_EQ(mprotect(two, PAGE, PROT_READ | PROT_EXEC), 0);
    fn1 f = (fn1)(two + PAGE - 16);
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach_ex((void *)f, 0, &both, NULL, &h), 0);
    CHECK_EQ(bpftime_hook_uses_trap(h), 0); /* the jump fits */
    enters = leaves = 0;
    CHECK_EQ(f(9), 0);
    CHECK_EQ(enters, 1);
    CHECK_EQ(leaves, 1);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(two + PAGE - 16, ret_then_padding, 16) == 0);
}

TEST(branch_back_into_patched_bytes_takes_the_trap_path)
{
    build_page();
    void *f = page + OFF_BACK;
    struct bpftime_hook *h = NULL;
    CHECK_EQ(bpftime_hook_attach_ex(f, sizeof branch_back_fn, &both, NULL, &h), 0);
    CHECK_EQ(bpftime_hook_uses_trap(h), 1);
    /* The loop's target (+2) keeps its original bytes. */
    CHECK(memcmp(page + OFF_BACK + 1, branch_back_fn + 1, sizeof branch_back_fn - 1) == 0);
    enters = leaves = 0;
    CHECK_EQ(((fn1)f)(3), 3);
    CHECK_EQ(enters, 1);
    CHECK_EQ(leaves, 1);
    CHECK_EQ(last_rax, 3);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(f, branch_back_fn, sizeof branch_back_fn) == 0);
    CHECK_EQ(((fn1)f)(3), 3);
}

TEST(unmapped_address_is_refused)
{
    void *p = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(p, PAGE);
    struct bpftime_hook *h = NULL;
    CHECK(bpftime_hook_attach(p, &both, NULL, &h) < 0);
    CHECK(strlen(bpftime_last_error_message()) > 0);
}

/* ---- relocation to a far address (beyond rel32 reach) -------------------- */

/* A page 8 GiB or more away from `page`, above or below it: with ASLR the
 * page can sit near the top of the address space, where only below works. */
static uint8_t *far_page(void)
{
    for (int i = 1; i < 128; i++) {
        uint64_t step = (uint64_t)((i + 1) / 2) << 33;
        uint64_t hint = (i & 1) ? (uint64_t)page + step : (uint64_t)page - step;
        hint &= ~(uint64_t)(PAGE - 1);
        if (hint < (1ull << 32) || hint >= (1ull << 47))
            continue;
        void *p = mmap((void *)hint, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED)
            continue;
        if ((uint64_t)p == hint)
            return p;
        munmap(p, PAGE);
    }
    return NULL;
}

/* Relocates the first `need` bytes of fn to a page > 2 GiB away and runs the
 * relocated copy (which jumps back into fn). */
static int relocate_far(void *fn, size_t size, uint8_t **out)
{
    uint8_t *far = far_page();
    if (!far)
        return -ENOMEM;
    struct patcher_plan plan;
    int rc = patcher_plan_patch((uint64_t)fn, (uint64_t)fn, size, 5, &plan);
    if (rc)
        return rc;
    struct patcher_reloc_map map;
    rc = patcher_relocate(&plan, far, (uint64_t)far, PAGE, &map);
    if (rc < 0)
        return rc;
    *out = far;
    return 0;
}

TEST(far_relocation_rip_relative_uses_scratch_register)
{
    build_page();
    uint8_t *far = NULL;
    CHECK_EQ(relocate_far(page + OFF_RIP, sizeof rip_load, &far), 0);
    uint64_t distance = (uint64_t)far > (uint64_t)page ? (uint64_t)far - (uint64_t)page
                                                       : (uint64_t)page - (uint64_t)far;
    CHECK(distance > (1ull << 32));
    CHECK_EQ(((fn1)far)(5), 0x1005);
}

TEST(far_relocation_jcc_and_call)
{
    build_page();
    uint8_t *far = NULL;
    CHECK_EQ(relocate_far(page + OFF_JCC, sizeof jcc_fn, &far), 0);
    CHECK_EQ(((fn1)far)(0), 2);
    CHECK_EQ(((fn1)far)(1), 1);
    CHECK_EQ(relocate_far(page + OFF_CALL, sizeof call_fn, &far), 0);
    CHECK_EQ(((fn1)far)(2), 42);
    CHECK_EQ(relocate_far(page + OFF_GETPC, sizeof getpc_fn, &far), 0);
    CHECK_EQ(((fn1)far)(0), (uint64_t)page + OFF_GETPC + 5);
    /* RIP-relative memory as the first operand, and followed by an immediate */
    CHECK_EQ(relocate_far(page + OFF_RIP_FIRST, sizeof rip_first_op_fn, &far), 0);
    CHECK_EQ(((fn1)far)(0x1000), 1);
    CHECK_EQ(((fn1)far)(0x1001), 0);
    CHECK_EQ(relocate_far(page + OFF_RIP_IMM, sizeof rip_imm_fn, &far), 0);
    CHECK_EQ(((fn1)far)(0), 1);
    CHECK_EQ(relocate_far(page + OFF_JRCXZ, sizeof jrcxz_fn, &far), 0);
    CHECK_EQ(((fn4)far)(3, 0, 0, 0), 6);
    CHECK_EQ(((fn4)far)(3, 0, 0, 1), 8);
}

TEST(hooks_on_the_same_page_share_it)
{
    build_page();
    struct bpftime_hook *h1 = NULL, *h2 = NULL;
    CHECK_EQ(bpftime_hook_attach_ex(page + OFF_RIP, sizeof rip_load, &both, NULL, &h1), 0);
    CHECK_EQ(bpftime_hook_attach_ex(page + OFF_JCC, sizeof jcc_fn, &both, NULL, &h2), 0);
    enters = 0;
    CHECK_EQ(((fn1)(page + OFF_RIP))(1), 0x1001);
    CHECK_EQ(((fn1)(page + OFF_JCC))(1), 1);
    CHECK_EQ(enters, 2);
    CHECK_EQ(bpftime_hook_detach(h1), 0);
    CHECK_EQ(bpftime_hook_detach(h2), 0);
    CHECK(memcmp(page + OFF_RIP, rip_load, sizeof rip_load) == 0);
    CHECK(memcmp(page + OFF_JCC, jcc_fn, sizeof jcc_fn) == 0);
    /* The page is read+exec again. */
    struct patcher_mapping m;
    CHECK_EQ(patcher_find_mapping((uint64_t)page, &m), 0);
    CHECK_EQ(m.prot, PROT_READ | PROT_EXEC);
}

TEST(hooking_inside_an_existing_patch_is_refused)
{
    build_page();
    struct bpftime_hook *h = NULL, *h2 = NULL;
    CHECK_EQ(bpftime_hook_attach_ex(page + OFF_JCC, sizeof jcc_fn, &both, NULL, &h), 0);
    CHECK_EQ(bpftime_hook_attach(page + OFF_JCC + 2, &both, NULL, &h2), -EBUSY);
    CHECK(h2 == NULL);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(page + OFF_JCC, jcc_fn, sizeof jcc_fn) == 0);
}

/* A thread spinning *between* the instructions the jump overwrites while the
 * jump is written: the patcher must move it into the trampoline's copy,
 * otherwise it would execute the middle of the jmp. */
static atomic_int spin_started;
static volatile uint8_t spin_flag;
static void *spin_thread(void *arg)
{
    atomic_store(&spin_started, 1);
    return (void *)(uintptr_t)((fn1)arg)((uint64_t)&spin_flag);
}

TEST(thread_stopped_inside_the_patched_bytes_is_moved)
{
    build_page();
    void *f = page + OFF_SPIN;
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, spin_thread, f), 0);
    while (!atomic_load(&spin_started)) {}
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL); /* it is now looping at +1..+4 */
    struct bpftime_hook *h = NULL;
    enters = 0;
    CHECK_EQ(bpftime_hook_attach_ex(f, sizeof spin_fn, &both, NULL, &h), 0);
    CHECK_EQ(((uint8_t *)f)[0], 0xe9);
    nanosleep(&ts, NULL); /* still looping, now in the trampoline */
    spin_flag = 1;
    void *ret = NULL;
    pthread_join(th, &ret);
    CHECK_EQ((uintptr_t)ret, 7);
    CHECK_EQ(enters, 0); /* that call started before the hook */
    CHECK_EQ(((fn1)f)((uint64_t)&spin_flag), 7);
    CHECK_EQ(enters, 1);
    CHECK_EQ(bpftime_hook_detach(h), 0);
    CHECK(memcmp(f, spin_fn, sizeof spin_fn) == 0);
}

/* patcher_code_write() makes every page the bytes touch writable, also the
 * second page of a write that spills one byte over a page boundary, and
 * leaves them read+exec again. */
TEST(code_write_across_a_page_boundary)
{
    /* two pages, and nothing mapped after them */
    uint8_t *two = mmap(NULL, 3 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(two != MAP_FAILED);
    CHECK_EQ(munmap(two + 2 * PAGE, PAGE), 0);
    static const uint8_t bytes[] = {0xaa, 0xbb};
    CHECK_EQ(patcher_code_write(two + PAGE - 1, bytes, sizeof bytes), 0);
    CHECK_EQ(two[PAGE - 1], 0xaa);
    CHECK_EQ(two[PAGE], 0xbb);
    struct patcher_mapping m;
    CHECK_EQ(patcher_find_mapping((uint64_t)two, &m), 0);
    CHECK_EQ(m.prot, PROT_READ | PROT_EXEC);
    CHECK_EQ(patcher_find_mapping((uint64_t)two + PAGE, &m), 0);
    CHECK_EQ(m.prot, PROT_READ | PROT_EXEC);
    /* exactly up to the boundary: the next page is not touched */
    CHECK_EQ(patcher_code_write(two + PAGE - 2, bytes, sizeof bytes), 0);
    CHECK_EQ(two[PAGE - 2], 0xaa);
    CHECK_EQ(two[PAGE - 1], 0xbb);
    /* the last bytes of the mapping: the (unmapped) page after is not touched */
    CHECK_EQ(patcher_code_write(two + 2 * PAGE - 2, bytes, sizeof bytes), 0);
    CHECK_EQ(two[2 * PAGE - 1], 0xbb);
    munmap(two, 2 * PAGE);
}

/* The [start, end) of the mapping named `name` in /proc/self/maps. */
static bool named_mapping(const char *name, uint64_t *start, uint64_t *end)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long s, e;
        char tail[256] = "";
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &s, &e, tail) >= 2 &&
            strcmp(tail, name) == 0) {
            *start = s;
            *end = e;
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* Trampolines for code near the stack or the heap land near it (in jmp
 * rel32 reach) but leave the 64 MiB below the stack and above the heap
 * free: they grow into those gaps (code_alloc.c: KEEP_CLEAR). */
TEST(trampoline_memory_keeps_clear_of_stack_and_heap)
{
    const uint64_t keep_clear = 64ull << 20;
    uint64_t s_lo, s_hi;
    CHECK(named_mapping("[stack]", &s_lo, &s_hi));
    bool is_near = false;
    uint8_t *p = patcher_code_alloc(s_lo, 64, &is_near);
    CHECK(p != NULL);
    CHECK(is_near);
    CHECK((uint64_t)p >= s_hi || (uint64_t)p + 64 <= s_lo - keep_clear);

    /* make sure there is a heap: grow brk itself, since malloc may not use it
     * (ASan's allocator maps its own memory) */
    CHECK(sbrk(1 << 12) != (void *)-1);
    uint64_t h_lo, h_hi;
    CHECK(named_mapping("[heap]", &h_lo, &h_hi));
    p = patcher_code_alloc(h_hi, 64, &is_near);
    CHECK(p != NULL);
    CHECK(is_near);
    CHECK((uint64_t)p < h_lo || (uint64_t)p >= h_hi + keep_clear);
}

/* Trampoline placement in a gap we make: 1 MiB reserved, its middle 512 KiB
 * unmapped. The slab (64 KiB) goes to the page-aligned address nearest to
 * `near` inside the gap; the first allocation of the process decides it. */
static uint8_t *slab_for_near(uint64_t near_off, uint8_t **gap_base)
{
    uint8_t *r = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED || munmap(r + (256 << 10), 512 << 10) != 0)
        return NULL;
    *gap_base = r;
    bool is_near = false;
    uint8_t *p = patcher_code_alloc((uint64_t)r + near_off, 64, &is_near);
    return p && is_near ? p : NULL;
}

TEST(trampoline_slab_at_the_nearest_page_in_the_gap)
{
    uint8_t *r = NULL;
    uint8_t *p = slab_for_near((320 << 10) + 1, &r); /* an odd address inside the gap */
    CHECK(p != NULL);
    CHECK_EQ((uint64_t)p, (uint64_t)r + (320 << 10));
}

TEST(trampoline_slab_at_the_gap_start_for_code_just_below_it)
{
    uint8_t *r = NULL;
    uint8_t *p = slab_for_near((255 << 10) + 3, &r);
    CHECK(p != NULL);
    CHECK_EQ((uint64_t)p, (uint64_t)r + (256 << 10));
}

TEST(trampoline_slab_at_the_gap_end_for_code_just_above_it)
{
    uint8_t *r = NULL;
    uint8_t *p = slab_for_near((769 << 10) + 5, &r);
    CHECK(p != NULL);
    CHECK_EQ((uint64_t)p, (uint64_t)r + (768 << 10) - (64 << 10));
}

/* patcher_find_mapping() merges the VMAs an mprotect split (same protection,
 * touching), and nothing else. */
TEST(find_mapping_merges_only_touching_vmas_of_the_same_protection)
{
    uint8_t *r = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(r != MAP_FAILED);
    /* [r, r+P) R-- | [r+P, r+2P) R-X | [r+2P, r+3P) R-- | [r+3P, r+4P) unmapped */
    CHECK_EQ(munmap(r + 3 * PAGE, PAGE), 0);
    CHECK_EQ(mprotect(r + PAGE, PAGE, PROT_READ | PROT_EXEC), 0);
    struct patcher_mapping m;
    CHECK_EQ(patcher_find_mapping((uint64_t)r, &m), 0);
    CHECK_EQ(m.start, (uint64_t)r);
    CHECK_EQ(m.end, (uint64_t)r + PAGE);
    CHECK_EQ(m.prot, PROT_READ);
    /* split in two by mprotect, then the same protection again: one range */
    CHECK_EQ(mprotect(r + PAGE, PAGE, PROT_READ), 0);
    CHECK_EQ(mprotect(r, PAGE, PROT_READ | PROT_EXEC), 0);
    CHECK_EQ(mprotect(r, PAGE, PROT_READ), 0);
    CHECK_EQ(patcher_find_mapping((uint64_t)r + PAGE, &m), 0);
    CHECK_EQ(m.end, (uint64_t)r + 3 * PAGE);
    /* a gap ends it even when the next mapping has the same protection */
    CHECK_EQ(munmap(r + PAGE, PAGE), 0);
    CHECK_EQ(patcher_find_mapping((uint64_t)r, &m), 0);
    CHECK_EQ(m.end, (uint64_t)r + PAGE);
    CHECK_EQ(patcher_find_mapping((uint64_t)r + PAGE, &m), -ENOENT);
}
