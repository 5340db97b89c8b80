/* See usdt_args.h. The forms are those GNU as emits for <sys/sdt.h> on
 * x86-64 (as libbpf's usdt.c accepts them): SIZE@%REG, SIZE@OFF(%REG),
 * SIZE@(%REG), SIZE@$IMM; SIZE is 1, 2, 4 or 8, negative when signed. */
#include "attach/usdt_args.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

_Static_assert(sizeof(struct bpftime_usdt_arg_spec) == 16, "libbpf's __bpf_usdt_arg_spec");
_Static_assert(sizeof(struct bpftime_usdt_spec) == 208, "libbpf's __bpf_usdt_spec");
_Static_assert(offsetof(struct bpftime_usdt_spec, usdt_cookie) == 192, "__bpf_usdt_spec");
_Static_assert(offsetof(struct bpftime_usdt_spec, arg_cnt) == 200, "__bpf_usdt_spec");

/* Register names (every width) and their offset in the kernel's x86-64
 * struct pt_regs (patcher.h's bpftime_hook_regs has the same layout). */
static const struct {
    const char *names[4];
    int16_t off;
} regs[] = {
    {{"rip", NULL, NULL, NULL}, 128},      {{"rax", "eax", "ax", "al"}, 80},
    {{"rbx", "ebx", "bx", "bl"}, 40},      {{"rcx", "ecx", "cx", "cl"}, 88},
    {{"rdx", "edx", "dx", "dl"}, 96},      {{"rsi", "esi", "si", "sil"}, 104},
    {{"rdi", "edi", "di", "dil"}, 112},    {{"rbp", "ebp", "bp", "bpl"}, 32},
    {{"rsp", "esp", "sp", "spl"}, 152},    {{"r8", "r8d", "r8w", "r8b"}, 72},
    {{"r9", "r9d", "r9w", "r9b"}, 64},     {{"r10", "r10d", "r10w", "r10b"}, 56},
    {{"r11", "r11d", "r11w", "r11b"}, 48}, {{"r12", "r12d", "r12w", "r12b"}, 24},
    {{"r13", "r13d", "r13w", "r13b"}, 16}, {{"r14", "r14d", "r14w", "r14b"}, 8},
    {{"r15", "r15d", "r15w", "r15b"}, 0},
};

static int reg_offset(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++)
        for (int w = 0; w < 4; w++)
            if (regs[i].names[w] && strlen(regs[i].names[w]) == len &&
                memcmp(regs[i].names[w], name, len) == 0)
                return regs[i].off;
    return -1;
}

static int bad(const char *arg, size_t len, const char *why)
{
    return bpftime_set_error(-EINVAL, "USDT argument \"%.*s\": %s", (int)len, arg, why);
}

/* One argument [s, s+len). */
static int parse_one(const char *s, size_t len, struct bpftime_usdt_arg_spec *a)
{
    char buf[128];
    if (len >= sizeof buf)
        return bad(s, len, "too long");
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    long size = strtol(buf, &end, 10);
    if (end == buf || *end != '@')
        return bad(s, len, "expected SIZE@LOCATION");
    long abs_size = size < 0 ? -size : size;
    if (abs_size != 1 && abs_size != 2 && abs_size != 4 && abs_size != 8)
        return bad(s, len, "the size must be 1, 2, 4 or 8 (negative: signed)");
    memset(a, 0, sizeof *a);
    a->arg_signed = size < 0;
    a->arg_bitshift = (int8_t)(64 - abs_size * 8);
    char *loc = end + 1;
    if (*loc == '$') { /* constant */
        errno = 0;
        long long v = strtoll(loc + 1, &end, 0);
        if (end == loc + 1 || *end || errno)
            return bad(s, len, "bad constant");
        a->arg_type = BPFTIME_USDT_ARG_CONST;
        a->val_off = (uint64_t)v;
        return 0;
    }
    if (*loc == '%') { /* register */
        int off = reg_offset(loc + 1, strlen(loc + 1));
        if (off < 0)
            return bad(s, len, "unknown register");
        a->arg_type = BPFTIME_USDT_ARG_REG;
        a->reg_off = (int16_t)off;
        return 0;
    }
    /* [OFF](%REG) */
    long long disp = 0;
    if (*loc != '(') {
        errno = 0;
        disp = strtoll(loc, &end, 0);
        if (end == loc || errno)
            return bad(s, len, "unsupported location (symbolic or absolute address)");
        loc = end;
    }
    char *close = strchr(loc, ')');
    if (loc[0] != '(' || loc[1] != '%' || !close || close[1])
        return bad(s, len, "unsupported location (only OFF(%REG) addressing)");
    int off = reg_offset(loc + 2, (size_t)(close - loc - 2));
    if (off < 0)
        return bad(s, len, "unknown register (index registers are not supported)");
    a->arg_type = BPFTIME_USDT_ARG_REG_DEREF;
    a->reg_off = (int16_t)off;
    a->val_off = (uint64_t)disp;
    return 0;
}

int bpftime_usdt_parse_args(const char *args, struct bpftime_usdt_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    const char *p = args;
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (spec->arg_cnt == BPFTIME_USDT_MAX_ARGS)
            return bpftime_set_error(-EINVAL, "USDT arguments \"%s\": more than %d", args,
                                     BPFTIME_USDT_MAX_ARGS);
        int rc = parse_one(start, (size_t)(p - start), &spec->args[spec->arg_cnt]);
        if (rc < 0)
            return rc;
        spec->arg_cnt++;
    }
    return 0;
}
