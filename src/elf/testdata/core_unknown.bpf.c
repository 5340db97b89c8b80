// A CO-RE relocation against a kernel type (not a context type the runtime
// provides): resolved against the kernel's BTF, or poisoned without one.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct {
    int pid;
    int tgid;
} __attribute__((preserve_access_index));

SEC("kprobe/do_exit")
int core_task(struct task_struct *t)
{
    return t->tgid;
}

char _license[] SEC("license") = "GPL";
