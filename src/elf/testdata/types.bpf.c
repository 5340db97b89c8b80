// Types of every shape for BTF parsing and value formatting tests.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef unsigned int u32;
typedef unsigned long long u64;

enum color { RED = 0, GREEN = 1, BLUE = 7 };
enum big { SMALL = 1, HUGE = 0x100000000ULL };

struct flags {
    unsigned int a : 3;
    int b : 5;
    unsigned int c : 24;
};

struct point {
    int x;
    int y;
};

struct value {
    u64 big;
    long long neg;
    char name[8];
    unsigned char raw[4];
    enum color color;
    struct flags f;
    struct point pts[2];
    union {
        u32 as_u32;
        float as_float;
    };
    struct {
        short inner;
        _Bool ok;
    } nested;
    double ratio;
    void *ptr;
    const volatile int *cvp;
    int (*fn)(int, char *);
    enum big bigenum;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, struct point);
    __type(value, struct value);
} values SEC(".maps");

#define __user __attribute__((btf_type_tag("user")))
struct fwd_only;

struct tagged {
    int __attribute__((btf_decl_tag("user"))) id;
    int __user *uptr;
    int *restrict r;
    struct fwd_only *f;
};

/* A global in .bss whose BTF includes type tags, restrict and a forward declaration. */
struct tagged tagged_global;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct tagged);
} tags SEC(".maps");

SEC("nginx/url_filter")
int types_prog(void *ctx)
{
    struct point k = {};
    struct value *v = bpf_map_lookup_elem(&values, &k);
    u32 z = 0;
    bpf_map_lookup_elem(&tags, &z);
    return v ? v->f.b : 0;
}

char _license[] SEC("license") = "GPL";
