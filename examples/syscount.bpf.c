// syscount: how many times each syscall was made — the raw tracepoint
// sys_enter (every syscall; args[1] is its number), run inside the traced
// process by the bpftime agent (or in the kernel with --kernel).
//
//   bpftime load examples/build/syscount.bpf.o
//   bpftime attach count_syscalls syscall    # SEC() says: sys_enter, every syscall
//   bpftime start -- ls /
//   bpftime map dump counts                  # syscall number -> calls
//
// Optional filter: only threads whose name (comm) is in filter_comm[0].
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct comm_name {
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);   /* syscall number */
    __type(value, __u64); /* calls */
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct comm_name);
} filter_comm SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int count_syscalls(struct bpf_raw_tracepoint_args *ctx)
{
    __u32 zero = 0;
    struct comm_name *want = bpf_map_lookup_elem(&filter_comm, &zero);
    if (want && want->comm[0]) {
        char comm[16];
        bpf_get_current_comm(comm, sizeof comm);
        for (int i = 0; i < 16; i++) {
            if (comm[i] != want->comm[i])
                return 0;
            if (!comm[i])
                break;
        }
    }
    __u32 nr = (__u32)ctx->args[1];
    __u64 one = 1;
    __u64 *c = bpf_map_lookup_elem(&counts, &nr);
    if (c)
        __sync_fetch_and_add(c, 1);
    else
        bpf_map_update_elem(&counts, &nr, &one, BPF_NOEXIST);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
