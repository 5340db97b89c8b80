// Legacy struct bpf_map_def maps in the "maps" section.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def_legacy {
    unsigned int type;
    unsigned int key_size;
    unsigned int value_size;
    unsigned int max_entries;
    unsigned int map_flags;
};

struct bpf_map_def_legacy SEC("maps") legacy_hash = {
    .type = BPF_MAP_TYPE_HASH,
    .key_size = 4,
    .value_size = 8,
    .max_entries = 128,
};

struct bpf_map_def_legacy SEC("maps") legacy_array = {
    .type = BPF_MAP_TYPE_ARRAY,
    .key_size = 4,
    .value_size = 4,
    .max_entries = 2,
    .map_flags = 0,
};

SEC("socket")
int legacy_prog(struct __sk_buff *skb)
{
    int k = 0;
    long *v = bpf_map_lookup_elem(&legacy_hash, &k);
    int *w = bpf_map_lookup_elem(&legacy_array, &k);
    return (v ? 1 : 0) + (w ? 1 : 0);
}

char _license[] SEC("license") = "GPL";
