// A CO-RE relocation against a type we do not know: must be refused.
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
