// CO-RE relocations whose target type changed (compiled by core-patch.test.ts,
// not with the other testdata objects): target.bpf.c is the "kernel" whose
// BTF the relocations resolve against.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct bpftime_resized {
    int counter;        /* signed: the target widens it to 8 bytes */
    unsigned int flags; /* unsigned: widened too, the load size follows */
} __attribute__((preserve_access_index));

enum bpftime_wide { BPFTIME_WIDE = 0x100000001ULL };

SEC("kprobe/signed_field")
int signed_field(struct bpftime_resized *r)
{
    return r->counter;
}

SEC("kprobe/unsigned_field")
int unsigned_field(struct bpftime_resized *r)
{
    return r->flags;
}

SEC("kprobe/wide_enum")
int wide_enum(void *ctx)
{
    __u64 v = bpf_core_enum_value(enum bpftime_wide, BPFTIME_WIDE);
    return v >> 32;
}

char _license[] SEC("license") = "GPL";
