// BTF-defined maps of several kinds, global data in .rodata/.data/.bss,
// and programs that reference all of them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef unsigned int u32;
typedef unsigned long long u64;

struct event {
    u32 pid;
    char comm[16];
    u64 ts;
    int delta;
};

struct key2 {
    u32 a;
    unsigned short b;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, struct event);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, u32);
    __type(value, u64);
    __uint(map_flags, BPF_F_RDONLY_PROG);
} counters SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} rb SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(key_size, 8);
    __uint(value_size, 16);
    __uint(max_entries, 64);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} sized SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 8);
    __type(key, struct key2);
    __type(value, long);
    __uint(map_flags, BPF_F_NO_PREALLOC);
} percpu SEC(".maps");

const volatile u32 target_pid = 42;
const char greeting[] = "hello from rodata";
u64 hits = 7;
char buf[32];
u32 zero_counter;

/* A subprogram in .text that references a map and global data: every program
 * calling it gets its own relocated copy. */
static __noinline int bump(u32 key)
{
    u64 *v = bpf_map_lookup_elem(&counters, &key);
    if (v)
        *v += hits;
    return v ? 1 : 0;
}

SEC("uprobe//usr/bin/bash:readline")
int handle_readline(void *ctx)
{
    u32 key = 0;
    struct event *e = bpf_map_lookup_elem(&events, &key);
    if (!e)
        return 0;
    if (e->pid != target_pid)
        return 0;
    bpf_printk("%s %d", greeting, e->pid);
    hits++;
    buf[3] = 1;
    zero_counter += 2;
    return bump(0);
}

SEC("uretprobe/libc.so.6:malloc")
int handle_malloc_ret(void *ctx)
{
    u32 key = 1;
    u64 *v = bpf_map_lookup_elem(&counters, &key);
    if (v)
        __sync_fetch_and_add(v, 1);
    struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
    if (e) {
        e->pid = 1;
        bpf_ringbuf_submit(e, 0);
    }
    u64 k8 = 3;
    bpf_map_lookup_elem(&sized, &k8);
    struct key2 k2 = {};
    bpf_map_lookup_elem(&percpu, &k2);
    return bump(1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
