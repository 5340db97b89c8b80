/* Ringbuf reserve/submit/discard on every path; ringbuf_output. */
#include "common.h"

struct event {
    __u32 pid;
    __u32 kind;
    __u64 ts;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

SEC("uprobe")
int rb_prog(void *ctx)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    e->pid = id >> 32;
    e->ts = bpf_ktime_get_ns();
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    if (e->pid == 1) {
        bpf_ringbuf_discard(e, 0);
        return 1;
    }
    e->kind = 7;
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("uprobe")
int rb_output(void *ctx)
{
    struct event e = {};
    e.pid = bpf_get_current_pid_tgid();
    e.ts = bpf_ktime_get_ns();
    bpf_ringbuf_output(&events, &e, sizeof(e), 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
