/* USDT argument specs ("-4@%edi 8@-8(%rbp) 8@$5", from .note.stapsdt) parsed
 * into libbpf's `struct __bpf_usdt_spec` layout, byte for byte, so the
 * control plane can store them in the spec map of libbpf's usdt.bpf.h
 * (`__bpf_usdt_specs`) and bpf_usdt_arg() reads them unchanged. */
#ifndef BPFTIME_USDT_ARGS_H
#define BPFTIME_USDT_ARGS_H

#include <stdint.h>

#define BPFTIME_USDT_MAX_ARGS 12 /* BPF_USDT_MAX_ARG_CNT */

enum bpftime_usdt_arg_type {
    BPFTIME_USDT_ARG_CONST = 0,     /* value = val_off */
    BPFTIME_USDT_ARG_REG = 1,       /* value = the register at reg_off in pt_regs */
    BPFTIME_USDT_ARG_REG_DEREF = 2, /* value = *(register + val_off) */
};

/* struct __bpf_usdt_arg_spec (16 bytes). */
struct bpftime_usdt_arg_spec {
    uint64_t val_off;
    uint32_t arg_type;
    int16_t reg_off; /* offsetof(struct pt_regs, reg) */
    uint8_t arg_signed;
    int8_t arg_bitshift; /* 64 - 8 * size */
};

/* struct __bpf_usdt_spec (208 bytes). */
struct bpftime_usdt_spec {
    struct bpftime_usdt_arg_spec args[BPFTIME_USDT_MAX_ARGS];
    uint64_t usdt_cookie;
    int16_t arg_cnt;
};

/* Parses an x86-64 argument string. Returns 0 or -EINVAL (message set). */
int bpftime_usdt_parse_args(const char *args, struct bpftime_usdt_spec *spec);

#endif
