// opensnoop: every openat(2) of a process, with its result — the syscall
// tracepoints syscalls:sys_enter_openat and sys_exit_openat, run inside the
// traced process by the bpftime agent (or in the kernel with --kernel).
//
//   bpftime load examples/build/opensnoop.bpf.o
//   bpftime attach handle_enter syscall      # SEC() says: sys_enter of openat
//   bpftime attach handle_exit syscall       # sys_exit of openat
//   bpftime start -- cat /etc/hostname       # run something with the agent
//   bpftime events events                    # one record per openat
//   bpftime map dump opens                   # per file name: calls, last result, flags
//
// Optional filter: only threads whose name (comm) is in filter_comm[0]
// (`bpftime map update filter_comm 0 …`); empty = every thread.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NAME_LEN 64

/* The tracepoint records (as the kernel's vmlinux.h declares them). */
struct trace_event_raw_sys_enter {
    unsigned long long common; /* type, flags, preempt count, pid */
    long id;
    unsigned long args[6];
};
struct trace_event_raw_sys_exit {
    unsigned long long common;
    long id;
    long ret;
};

struct start_t {
    const char *fname;
    int flags;
    int pad; /* initialised: a map update reads every byte */
};

struct event {
    __u32 pid; /* process */
    __u32 tid;
    int ret; /* fd, or -errno */
    int flags;
    char comm[16];
    char fname[NAME_LEN];
};

struct open_stats {
    __u64 calls;
    int last_ret;
    int flags;
};

struct comm_name {
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32); /* tid */
    __type(value, struct start_t);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(
        key, struct { char name[NAME_LEN]; });
    __type(value, struct open_stats);
} opens SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct comm_name);
} filter_comm SEC(".maps");

static __always_inline int wanted(void)
{
    __u32 zero = 0;
    struct comm_name *want = bpf_map_lookup_elem(&filter_comm, &zero);
    if (!want || !want->comm[0])
        return 1;
    char comm[16];
    bpf_get_current_comm(comm, sizeof comm);
    for (int i = 0; i < 16; i++) {
        if (comm[i] != want->comm[i])
            return 0;
        if (!comm[i])
            break;
    }
    return 1;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int handle_enter(struct trace_event_raw_sys_enter *ctx)
{
    if (!wanted())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct start_t s = {.fname = (const char *)ctx->args[1], .flags = (int)ctx->args[2]};
    bpf_map_update_elem(&start, &tid, &s, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int handle_exit(struct trace_event_raw_sys_exit *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct start_t *s = bpf_map_lookup_elem(&start, &tid);
    if (!s)
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        bpf_map_delete_elem(&start, &tid);
        return 0;
    }
    e->pid = id >> 32;
    e->tid = tid;
    e->ret = (int)ctx->ret;
    e->flags = s->flags;
    bpf_get_current_comm(e->comm, sizeof e->comm);
    __builtin_memset(e->fname, 0, sizeof e->fname);
    bpf_probe_read_user_str(e->fname, sizeof e->fname, s->fname);

    struct open_stats one = {.calls = 1, .last_ret = e->ret, .flags = e->flags};
    struct open_stats *st = bpf_map_lookup_elem(&opens, e->fname);
    if (st) {
        __sync_fetch_and_add(&st->calls, 1);
        st->last_ret = e->ret;
        st->flags = e->flags;
    } else {
        bpf_map_update_elem(&opens, e->fname, &one, BPF_NOEXIST);
    }
    bpf_ringbuf_submit(e, 0);
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
