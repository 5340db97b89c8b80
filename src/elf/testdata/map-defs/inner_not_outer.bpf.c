// An array (not an array or hash of maps) that declares inner maps: refused
// (compiled by map-defs.test.ts, not with the shared testdata objects).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} inner SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __array(values, struct inner);
} not_outer SEC(".maps");

char LICENSE[] SEC("license") = "GPL";
