/* USDT argument specs (attach/usdt_args.c): every form GNU as emits for
 * <sys/sdt.h> on x86-64, into libbpf's __bpf_usdt_spec layout; values
 * worked out by hand from the kernel's struct pt_regs offsets. */
#include <errno.h>

#include "attach/usdt_args.h"
#include "common/error.h"
#include "test/harness.h"

TEST(registers_of_every_width_signed_and_unsigned)
{
    struct bpftime_usdt_spec s;
    CHECK_EQ(bpftime_usdt_parse_args("-4@%edi 8@%rax -1@%dil 2@%r8w -8@%r15 1@%sil", &s), 0);
    CHECK_EQ(s.arg_cnt, 6);
    CHECK_EQ(s.args[0].arg_type, BPFTIME_USDT_ARG_REG);
    CHECK_EQ(s.args[0].reg_off, 112); /* di */
    CHECK_EQ(s.args[0].arg_signed, 1);
    CHECK_EQ(s.args[0].arg_bitshift, 32);
    CHECK_EQ(s.args[1].reg_off, 80); /* ax */
    CHECK_EQ(s.args[1].arg_signed, 0);
    CHECK_EQ(s.args[1].arg_bitshift, 0);
    CHECK_EQ(s.args[2].reg_off, 112);
    CHECK_EQ(s.args[2].arg_bitshift, 56);
    CHECK_EQ(s.args[3].reg_off, 72); /* r8 */
    CHECK_EQ(s.args[3].arg_bitshift, 48);
    CHECK_EQ(s.args[4].reg_off, 0);   /* r15 */
    CHECK_EQ(s.args[5].reg_off, 104); /* si */
}

TEST(memory_and_constants)
{
    struct bpftime_usdt_spec s;
    CHECK_EQ(bpftime_usdt_parse_args("-4@-1204(%rbp) 8@(%rsp) 8@16(%r12) -4@$-9 8@$0x10", &s), 0);
    CHECK_EQ(s.arg_cnt, 5);
    CHECK_EQ(s.args[0].arg_type, BPFTIME_USDT_ARG_REG_DEREF);
    CHECK_EQ(s.args[0].reg_off, 32); /* bp */
    CHECK_EQ((int64_t)s.args[0].val_off, -1204);
    CHECK_EQ(s.args[1].arg_type, BPFTIME_USDT_ARG_REG_DEREF);
    CHECK_EQ(s.args[1].reg_off, 152); /* sp */
    CHECK_EQ(s.args[1].val_off, 0);
    CHECK_EQ(s.args[2].reg_off, 24); /* r12 */
    CHECK_EQ(s.args[2].val_off, 16);
    CHECK_EQ(s.args[3].arg_type, BPFTIME_USDT_ARG_CONST);
    CHECK_EQ((int64_t)s.args[3].val_off, -9);
    CHECK_EQ(s.args[3].arg_signed, 1);
    CHECK_EQ(s.args[4].val_off, 16);
    /* r15, at offset 0 of pt_regs, as a base register */
    CHECK_EQ(bpftime_usdt_parse_args("8@-16(%r15)", &s), 0);
    CHECK_EQ(s.args[0].arg_type, BPFTIME_USDT_ARG_REG_DEREF);
    CHECK_EQ(s.args[0].reg_off, 0);
    CHECK_EQ((int64_t)s.args[0].val_off, -16);
}

TEST(no_arguments_and_spacing)
{
    struct bpftime_usdt_spec s;
    CHECK_EQ(bpftime_usdt_parse_args("", &s), 0);
    CHECK_EQ(s.arg_cnt, 0);
    CHECK_EQ(bpftime_usdt_parse_args("  8@%rax   -4@%edx ", &s), 0);
    CHECK_EQ(s.arg_cnt, 2);
}

TEST(what_cannot_be_read_is_refused_in_one_line)
{
    struct bpftime_usdt_spec s;
    static const char *bad[] = {
        "3@%eax",            /* size */
        "%eax",              /* no size */
        "8@%xmm0",           /* register */
        "8@foo(%rip)",       /* symbolic */
        "8@-8(%rbp,%rax,8)", /* index register */
        "8@$",               /* empty constant */
        "1@%al 1@%al 1@%al 1@%al 1@%al 1@%al 1@%al 1@%al 1@%al 1@%al 1@%al 1@%al 1@%al",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(bpftime_usdt_parse_args(bad[i], &s), -EINVAL);
        CHECK_STR_CONTAINS(bpftime_last_error_message(), "USDT argument");
        CHECK(strchr(bpftime_last_error_message(), '\n') == NULL);
    }
}
