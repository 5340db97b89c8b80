// An array of maps whose definition does not say what its inner maps are:
// refused (compiled by map-defs.test.ts).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} no_inner SEC(".maps");

char LICENSE[] SEC("license") = "GPL";
