/* Test runs (attach/test_run.c, the BPF_PROG_TEST_RUN of `bpftime run`):
 * the context each program type sees, as the kernel's test run builds it
 * (xdp_md: data, data_end, data_meta = data, ingress_ifindex = 1, the
 * loopback device; __sk_buff: len, data, data_end; the nginx URL filter:
 * the URL, method GET, an empty argument; every other type: the data bytes
 * themselves, zero-padded to 512), in the native layout of one 64-bit slot
 * per field (src/verifier/contexts.ts); --repeat runs and --data-out. The
 * expected values are computed by hand from those definitions. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "runtime/tests/region_fixture.h"
#include "test/harness.h"
#include "vm/tests/insn_macros.h"

TEST_REGION_MAKER("testrun", 4 << 20)

int bpftime_prog_test_run(struct bpftime_region *r, uint32_t prog_id, int use_jit, void *data,
                          uint32_t data_len, uint64_t repeat, uint64_t *ret, uint64_t *total_ns);

#define N(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))
enum { XDP = 6, SOCKET_FILTER = 1, SCHED_CLS = 3, KPROBE = 2, NGINX = 0x1001 };

/* A new region holding one program of `type`; its id. When either cannot be
 * made the test fails and ends here (each test runs in its own child). */
static int prog_in(struct test_ctx *t, struct bpftime_region **r, const char *tag, uint32_t type,
                   const struct ebpf_inst *insns, uint32_t n)
{
    *r = mk(tag);
    int id = *r ? bpftime_prog_create(*r, "p", type, "GPL", "", insns, n, NULL, 0) : -1;
    if (id <= 0) {
        test_fail(t, __FILE__, __LINE__, "cannot store a program of type %u: %s", type,
                  bpftime_last_error_message());
        _exit(1);
    }
    return id;
}

/* r0 = (data_end - data) + 1000 * ingress_ifindex + 1000000 * (data_meta -
 * data) + 10^9 * the last data byte: 3 + 1000 for three bytes ending in 0. */
static const struct ebpf_inst xdp_prog[] = {
    LDX(BPF_DW, 2, 1, 0),
    LDX(BPF_DW, 3, 1, 8),
    LDX(BPF_DW, 4, 1, 16),
    LDX(BPF_DW, 5, 1, 24),
    MOV64_REG(0, 3),
    ALU64_REG(BPF_SUB, 0, 2),
    ALU64_IMM(BPF_MUL, 5, 1000),
    ALU64_REG(BPF_ADD, 0, 5),
    ALU64_REG(BPF_SUB, 4, 2),
    ALU64_IMM(BPF_MUL, 4, 1000000),
    ALU64_REG(BPF_ADD, 0, 4),
    LDX(BPF_B, 6, 3, -1),
    ALU64_IMM(BPF_MUL, 6, 1000000000),
    ALU64_REG(BPF_ADD, 0, 6),
    EXIT(),
};

TEST(xdp_sees_data_end_and_the_loopback_ifindex)
{
    struct bpftime_region *r;
    int id = prog_in(t, &r, "xdp", XDP, xdp_prog, N(xdp_prog));
    for (int jit = 0; jit < 2; jit++) {
        uint8_t data[3] = {7, 8, 0};
        uint64_t ret = 99, ns;
        CHECK_EQ(bpftime_prog_test_run(r, (uint32_t)id, jit, data, 3, 1, &ret, &ns), 0);
        CHECK_EQ(ret, 1003u);
        data[2] = 2;
        CHECK_EQ(bpftime_prog_test_run(r, (uint32_t)id, jit, data, 3, 1, &ret, &ns), 0);
        CHECK_EQ(ret, 2000001003u);
    }
}

/* Reading slot `slot` of the context: the interpreter refuses a read past
 * the context's last field (the kernel's verifier refuses it too). */
static int read_ctx_slot(struct test_ctx *t, uint32_t type, int16_t slot, uint64_t *ret)
{
    const struct ebpf_inst prog[] = {LDX(BPF_DW, 0, 1, (int16_t)(slot * 8)), EXIT()};
    struct bpftime_region *r;
    int id = prog_in(t, &r, "slot", type, prog, N(prog));
    uint8_t data[4] = {1, 2, 3, 4};
    uint64_t ns;
    return bpftime_prog_test_run(r, (uint32_t)id, 0, data, sizeof data, 1, ret, &ns);
}

TEST(each_context_ends_at_its_last_field)
{
    uint64_t ret;
    CHECK_EQ(read_ctx_slot(t, XDP, 5, &ret), 0); /* egress_ifindex: 0 */
    CHECK_EQ(ret, 0u);
    CHECK(read_ctx_slot(t, XDP, 6, &ret) < 0);
    CHECK_EQ(read_ctx_slot(t, SOCKET_FILTER, 0, &ret), 0); /* len */
    CHECK_EQ(ret, 4u);
    CHECK_EQ(read_ctx_slot(t, SCHED_CLS, 0, &ret), 0);
    CHECK_EQ(ret, 4u);
    CHECK(read_ctx_slot(t, SOCKET_FILTER, 21, &ret) < 0);
    CHECK_EQ(read_ctx_slot(t, NGINX, 5, &ret), 0); /* arg_end */
    CHECK(read_ctx_slot(t, NGINX, 6, &ret) < 0);
    CHECK_EQ(read_ctx_slot(t, KPROBE, 63, &ret), 0); /* the padding to 512 bytes: zero */
    CHECK_EQ(ret, 0u);
    CHECK(read_ctx_slot(t, KPROBE, 64, &ret) < 0);
}

/* __sk_buff: r0 = len + 1000 * (data_end - data) + 10^6 * first byte. */
static const struct ebpf_inst skb_prog[] = {
    LDX(BPF_DW, 0, 1, 0),        LDX(BPF_DW, 2, 1, 19 * 8),
    LDX(BPF_DW, 3, 1, 20 * 8),   ALU64_REG(BPF_SUB, 3, 2),
    ALU64_IMM(BPF_MUL, 3, 1000), ALU64_REG(BPF_ADD, 0, 3),
    LDX(BPF_B, 4, 2, 0),         ALU64_IMM(BPF_MUL, 4, 1000000),
    ALU64_REG(BPF_ADD, 0, 4),    EXIT(),
};

TEST(socket_filter_and_tc_see_len_data_and_data_end)
{
    uint32_t types[] = {SOCKET_FILTER, SCHED_CLS};
    for (int i = 0; i < 2; i++) {
        struct bpftime_region *r;
        int id = prog_in(t, &r, "skb", types[i], skb_prog, N(skb_prog));
        for (int jit = 0; jit < 2; jit++) {
            uint8_t data[5] = {9, 0, 0, 0, 0};
            uint64_t ret = 0, ns;
            CHECK_EQ(bpftime_prog_test_run(r, (uint32_t)id, jit, data, 5, 1, &ret, &ns), 0);
            CHECK_EQ(ret, 9005005u);
        }
    }
}

/* nginx: r0 = url length + 10 * method length + 100 * arg length + 1000 *
 * (arg == url end): the URL "/ab", GET, no argument. */
static const struct ebpf_inst nginx_prog[] = {
    LDX(BPF_DW, 2, 1, 0),
    LDX(BPF_DW, 0, 1, 8),
    ALU64_REG(BPF_SUB, 0, 2),
    LDX(BPF_DW, 3, 1, 16),
    LDX(BPF_DW, 4, 1, 24),
    ALU64_REG(BPF_SUB, 4, 3),
    ALU64_IMM(BPF_MUL, 4, 10),
    ALU64_REG(BPF_ADD, 0, 4),
    LDX(BPF_DW, 5, 1, 32),
    LDX(BPF_DW, 6, 1, 40),
    ALU64_REG(BPF_SUB, 6, 5),
    ALU64_IMM(BPF_MUL, 6, 100),
    ALU64_REG(BPF_ADD, 0, 6),
    LDX(BPF_DW, 7, 1, 8),
    JMP_REG(BPF_JNE, 5, 7, 1),
    ALU64_IMM(BPF_ADD, 0, 1000),
    EXIT(),
};

TEST(nginx_url_filter_sees_the_url_and_get)
{
    struct bpftime_region *r;
    int id = prog_in(t, &r, "ngx", NGINX, nginx_prog, N(nginx_prog));
    for (int jit = 0; jit < 2; jit++) {
        char url[] = "/ab";
        uint64_t ret = 0, ns;
        CHECK_EQ(bpftime_prog_test_run(r, (uint32_t)id, jit, url, 3, 1, &ret, &ns), 0);
        CHECK_EQ(ret, 1000u + 30u + 3u);
    }
}

/* r0 = the method's third byte + 256 * the URL's second byte: 'T' + 256 *
 * 'a' for "GET" and "/ab". Both engines must be able to read the method's
 * bytes (the interpreter only reads memory it was given as a region). */
static const struct ebpf_inst nginx_bytes_prog[] = {
    LDX(BPF_DW, 3, 1, 16),
    LDX(BPF_B, 0, 3, 2),
    LDX(BPF_DW, 2, 1, 0),
    LDX(BPF_B, 4, 2, 1),
    ALU64_IMM(BPF_MUL, 4, 256),
    ALU64_REG(BPF_ADD, 0, 4),
    EXIT(),
};

TEST(nginx_url_filter_reads_the_method_and_url_bytes)
{
    struct bpftime_region *r;
    int id = prog_in(t, &r, "ngb", NGINX, nginx_bytes_prog, N(nginx_bytes_prog));
    for (int jit = 0; jit < 2; jit++) {
        char url[] = "/ab";
        uint64_t ret = 0, ns;
        CHECK_EQ(bpftime_prog_test_run(r, (uint32_t)id, jit, url, 3, 1, &ret, &ns), 0);
        CHECK_EQ(ret, (uint64_t)'T' + 256u * 'a');
    }
}

/* Raw context (a kprobe's pt_regs): the first 8 bytes += 1 per run, r0 =
 * the context length the program was given (r2). */
static const struct ebpf_inst bump_prog[] = {
    LDX(BPF_DW, 3, 1, 0), ALU64_IMM(BPF_ADD, 3, 1), STX(BPF_DW, 1, 3, 0), MOV64_REG(0, 2), EXIT(),
};

TEST(repeat_runs_the_program_that_many_times_and_data_out_sees_the_writes)
{
    struct bpftime_region *r;
    int id = prog_in(t, &r, "rep", KPROBE, bump_prog, N(bump_prog));
    for (int jit = 0; jit < 2; jit++) {
        uint64_t data[2] = {40, 7}, ret = 0, ns;
        CHECK_EQ(bpftime_prog_test_run(r, (uint32_t)id, jit, data, sizeof data, 5, &ret, &ns), 0);
        CHECK_EQ(data[0], 45u);
        CHECK_EQ(data[1], 7u);
        CHECK_EQ(ret, 512u); /* 16 bytes, padded to 512 */
        CHECK_EQ(bpftime_prog_test_run(r, (uint32_t)id, jit, data, sizeof data, 0, &ret, &ns), 0);
        CHECK_EQ(data[0], 46u); /* repeat 0 runs once, as the kernel's */
        uint64_t big[80] = {1};
        CHECK_EQ(bpftime_prog_test_run(r, (uint32_t)id, jit, big, sizeof big, 1, &ret, &ns), 0);
        CHECK_EQ(big[0], 2u);
        CHECK_EQ(ret, sizeof big); /* past 512: the data's own length */
    }
}

TEST(a_missing_program_is_refused)
{
    struct bpftime_region *r = mk("none");
    CHECK(r != NULL);
    uint64_t ret, ns;
    uint8_t data[1] = {0};
    CHECK(bpftime_prog_test_run(r, 77, 0, data, 1, 1, &ret, &ns) < 0);
}
