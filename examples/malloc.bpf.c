// Count malloc calls per process: a uprobe on libc's malloc adds one to the
// calling pid's entry in a hash map (`bpftime map dump malloc_calls`).
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);   /* pid */
    __type(value, __u64); /* calls */
} malloc_calls SEC(".maps");

SEC("uprobe/libc.so.6:malloc")
int BPF_KPROBE(count_malloc, __u64 size)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    __u64 one = 1;
    __u64 *calls = bpf_map_lookup_elem(&malloc_calls, &pid);
    if (calls)
        __sync_fetch_and_add(calls, 1);
    else
        bpf_map_update_elem(&malloc_calls, &pid, &one, BPF_NOEXIST);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
