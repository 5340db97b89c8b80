/* pt_regs reads, probe_read_user into the stack, hash map keyed by pid,
 * trace_printk with a format string in .rodata. */
#include "common.h"
#include <linux/ptrace.h>
#include <bpf/bpf_tracing.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 128);
    __type(key, __u32);
    __type(value, __u64);
} sizes SEC(".maps");

SEC("uprobe/libc.so.6:malloc")
int BPF_KPROBE(on_malloc, __u64 size)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    __u64 *old = bpf_map_lookup_elem(&sizes, &pid);
    __u64 total = size;
    if (old)
        total += *old;
    bpf_map_update_elem(&sizes, &pid, &total, BPF_ANY);
    return 0;
}

SEC("uprobe/libc.so.6:strlen")
int BPF_KPROBE(on_strlen, const char *s)
{
    char buf[32];
    long n = bpf_probe_read_user_str(buf, sizeof(buf), s);
    if (n > 0 && buf[0] == '/')
        bpf_printk("path %s len %ld", buf, n);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
