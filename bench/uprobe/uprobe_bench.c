/* uprobe benchmark: ns per call of an empty noinline function, unhooked and
 * with an empty eBPF program attached as a bpftime uprobe, uretprobe and
 * both, then the same with kernel uprobes (perf_event_open + BPF program)
 * when the machine allows. All in one run; ratios against the unhooked call.
 * The trap path (int3 + SIGTRAP, where the 5-byte jump cannot go) is
 * measured on bench_tiny, a 4-byte function with another right after it.
 *
 * The bpftime path is the agent's: a region, a stored program, targets and
 * links, the attach manager with the uprobe/uretprobe implementations, JIT. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "attach/attach_manager.h"
#include "attach/uprobe.h"
#include "runtime/bpftime_runtime.h"

__attribute__((noinline)) int bench_target(int x) {
    __asm__ volatile("" ::: "memory");
    return x;
}

/* 4 bytes (lea; ret) and another function right after: the jump cannot fit. */
__asm__(".text\n.p2align 4\n.globl bench_tiny\n.type bench_tiny, @function\nbench_tiny:\n"
        "lea (%rdi), %eax\nret\n.size bench_tiny, .-bench_tiny\n"
        ".globl bench_tiny_next\n.type bench_tiny_next, @function\nbench_tiny_next:\n"
        "lea 1(%rdi), %eax\nret\n.size bench_tiny_next, .-bench_tiny_next\n");
int bench_tiny(int x);
static int (*volatile bench_fn)(int) = bench_target;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static volatile int sink;

/* Minimum over many short rounds of ns per call: on a machine shared with
 * other jobs a short round often runs undisturbed, a long one rarely does.
 * n calls in all, in rounds of at most `chunk`. */
static long chunk = 10000;
static double measure(long n) {
    double best = 1e18;
    long per = n / 50 < chunk ? (n / 50 > 100 ? n / 50 : 100) : chunk;
    for (long done = 0; done < n; done += per) {
        int acc = 0;
        uint64_t t0 = now_ns();
        if (bench_fn == bench_target)
            for (long i = 0; i < per; i++) acc += bench_target((int)i);
        else
            for (long i = 0; i < per; i++) acc += bench_tiny((int)i);
        uint64_t t1 = now_ns();
        sink = acc;
        double ns = (double)(t1 - t0) / (double)per;
        if (ns < best) best = ns;
    }
    return best;
}

/* The same with `threads` threads calling the hooked function at once
 * (each n calls): the mean over threads of each one's minimum. Shows what
 * threads sharing a hook cost each other (a counter every hit writes on one
 * cache line would bounce between the cores). */
struct thread_arg {
    long n;
    double best;
    pthread_barrier_t *start;
};

static void *thread_main(void *p) {
    struct thread_arg *a = p;
    pthread_barrier_wait(a->start);
    a->best = measure(a->n);
    return NULL;
}

static double measure_threads(int threads, long n) {
    pthread_t tid[64];
    struct thread_arg args[64];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        args[i] = (struct thread_arg){n, 0, &start};
        pthread_create(&tid[i], NULL, thread_main, &args[i]);
    }
    double sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        sum += args[i].best;
    }
    pthread_barrier_destroy(&start);
    return sum / threads;
}

struct row {
    const char *name;
    double ns;
};
static struct row rows[24];
static int nrows;

static void add_row(const char *name, double ns) { rows[nrows++] = (struct row){name, ns}; }

/* ---- bpftime ---- */

struct bt {
    struct bpftime_region *r;
    struct bpftime_attach_manager *m;
    int prog;
    char exe[PATH_MAX];
    char arg[PATH_MAX + 32];
    int links[2];
};

static int bt_setup(struct bt *b, const char *name) {
    ssize_t n = readlink("/proc/self/exe", b->exe, sizeof b->exe - 1);
    if (n <= 0) return -1;
    b->exe[n] = 0;
    bpftime_region_remove(name);
    if (bpftime_region_create(name, 8 << 20, &b->r) < 0) return -1;
    static const uint8_t empty[] = {0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0};
    b->prog = bpftime_prog_create(b->r, "empty", 2, "GPL", "", empty, 2, NULL, 0);
    if (b->prog < 0) return -1;
    b->m = bpftime_attach_manager_create(b->r);
    if (!b->m) return -1;
    bpftime_attach_manager_register_impl(b->m, bpftime_uprobe_impl_create(0));
    bpftime_attach_manager_register_impl(b->m, bpftime_uprobe_impl_create(1));
    return 0;
}

/* Links the empty program to the uprobe (entry) and/or uretprobe (ret) on
 * the function bench_fn points at. */
static int bt_config(struct bt *b, int entry, int ret) {
    snprintf(b->arg, sizeof b->arg, "%s:%s", b->exe,
             bench_fn == bench_target ? "bench_target" : "bench_tiny");
    for (int i = 0; i < 2; i++) {
        if (b->links[i] > 0) {
            struct bpftime_link_info li;
            bpftime_link_get(b->r, (uint32_t)b->links[i], &li);
            bpftime_link_delete(b->r, (uint32_t)b->links[i]);
            bpftime_target_delete(b->r, li.target_id);
        }
        b->links[i] = 0;
    }
    int want[2] = {entry, ret};
    for (int i = 0; i < 2; i++) {
        if (!want[i]) continue;
        int t = bpftime_target_create(b->r, i == 0 ? BPFTIME_TARGET_UPROBE : BPFTIME_TARGET_URETPROBE,
                                      b->arg, (uint32_t)strlen(b->arg));
        if (t < 0) return t;
        b->links[i] = bpftime_link_create(b->r, (uint32_t)b->prog, (uint32_t)t, 0);
        if (b->links[i] < 0) return b->links[i];
    }
    int n = bpftime_attach_manager_instantiate(b->m);
    if (n != entry + ret) {
        fprintf(stderr, "bpftime: %d link(s) attached, wanted %d: %s\n", n, entry + ret,
                bpftime_last_error_message());
        return -1;
    }
    return 0;
}

/* ---- kernel ---- */

static int kernel_prog(void) {
    static const struct bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_KPROBE;
    a.insn_cnt = 2;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.license = (uint64_t)(uintptr_t)"GPL";
    return (int)syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof a);
}

/* File offset of bench_target (what the kernel's uprobe wants). */
static int target_file_offset(char *path, size_t len, uint64_t *off) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[PATH_MAX + 128];
    uint64_t addr = (uint64_t)(uintptr_t)bench_fn;
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e, o;
        char perms[5];
        int pos = 0;
        if (sscanf(line, "%lx-%lx %4s %lx %*s %*s %n", &s, &e, perms, &o, &pos) < 4) continue;
        if (addr < s || addr >= e) continue;
        snprintf(path, len, "%s", line + pos);
        path[strcspn(path, "\n")] = 0;
        *off = addr - s + o;
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

static int kernel_probe(int prog, int retprobe, char *why, size_t whylen) {
    FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
    int type = -1;
    if (!f || fscanf(f, "%d", &type) != 1) {
        if (f) fclose(f);
        snprintf(why, whylen, "no uprobe PMU in /sys/bus/event_source/devices");
        return -1;
    }
    fclose(f);
    char path[PATH_MAX];
    uint64_t off;
    if (target_file_offset(path, sizeof path, &off) < 0) {
        snprintf(why, whylen, "cannot find bench_target in /proc/self/maps");
        return -1;
    }
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof pa);
    pa.size = sizeof pa;
    pa.type = (uint32_t)type;
    pa.config = retprobe ? 1 : 0; /* format/retprobe: config:0 */
    pa.config1 = (uint64_t)(uintptr_t)path;
    pa.config2 = off;
    int efd = (int)syscall(__NR_perf_event_open, &pa, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (efd < 0) {
        snprintf(why, whylen, "perf_event_open(uprobe): %s", strerror(errno));
        return -1;
    }
    if (ioctl(efd, PERF_EVENT_IOC_SET_BPF, prog) < 0 || ioctl(efd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
        snprintf(why, whylen, "attach BPF to the uprobe: %s", strerror(errno));
        close(efd);
        return -1;
    }
    return efd;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    printf("uprobe benchmark: empty noinline function, empty eBPF program, %ld calls per row,\n"
           "minimum ns/call over rounds of up to %ld calls\n",
           n, chunk);
    double base = measure(n * 10);
    add_row("no hook", base);

    struct bt b = {0};
    char name[64];
    snprintf(name, sizeof name, "bench-uprobe-%d", (int)getpid());
    if (bt_setup(&b, name) < 0) {
        fprintf(stderr, "bpftime setup: %s\n", bpftime_last_error_message());
        return 1;
    }
    if (bt_config(&b, 1, 0) == 0) {
        add_row("bpftime uprobe", measure(n));
        add_row("bpftime uprobe, 8 threads", measure_threads(8, n / 4));
    }
    if (bt_config(&b, 0, 1) == 0) add_row("bpftime uretprobe", measure(n));
    if (bt_config(&b, 1, 1) == 0) add_row("bpftime uprobe+uretprobe", measure(n));
    /* The trap path: a signal per hit, fewer calls. */
    long tn = n / 10 > 1000 ? n / 10 : 1000;
    bench_fn = bench_tiny;
    bt_config(&b, 0, 0);
    double tiny_base = measure(n * 10);
    add_row("no hook (4-byte function)", tiny_base);
    if (bt_config(&b, 1, 0) == 0) add_row("bpftime uprobe, trap path", measure(tn));
    if (bt_config(&b, 0, 1) == 0) add_row("bpftime uretprobe, trap path", measure(tn));
    bench_fn = bench_target;
    bt_config(&b, 0, 0);
    bpftime_attach_manager_destroy(b.m);
    bpftime_region_close(b.r);
    bpftime_region_remove(name);

    char why[256] = "";
    int prog = kernel_prog();
    if (prog < 0) snprintf(why, sizeof why, "BPF_PROG_LOAD: %s", strerror(errno));
    long kn = n / 10 > 1000 ? n / 10 : 1000;
    chunk = 100; /* ~2 ms rounds: a kernel uprobe costs microseconds */
    if (prog >= 0) {
        int e = kernel_probe(prog, 0, why, sizeof why);
        if (e >= 0) {
            add_row("kernel uprobe", measure(kn));
            add_row("kernel uprobe, 8 threads", measure_threads(8, kn / 8));
            close(e);
            e = kernel_probe(prog, 1, why, sizeof why);
        }
        if (e >= 0) {
            add_row("kernel uretprobe", measure(kn));
            close(e);
            int e1 = kernel_probe(prog, 0, why, sizeof why);
            int e2 = e1 >= 0 ? kernel_probe(prog, 1, why, sizeof why) : -1;
            if (e2 >= 0) add_row("kernel uprobe+uretprobe", measure(kn));
            if (e1 >= 0) close(e1);
            if (e2 >= 0) close(e2);
        }
        bench_fn = bench_tiny;
        e = kernel_probe(prog, 0, why, sizeof why);
        if (e >= 0) {
            add_row("kernel uprobe (4-byte function)", measure(kn));
            close(e);
        }
        bench_fn = bench_target;
    }

    printf("\n%-28s %12s %12s\n", "configuration", "ns/call", "x no hook");
    for (int i = 0; i < nrows; i++)
        printf("%-28s %12.2f %12.1f\n", rows[i].name, rows[i].ns, rows[i].ns / base);
    /* kernel / bpftime for each kind */
    const char *kinds[] = {"uprobe", "uretprobe", "uprobe+uretprobe", "uprobe, 8 threads"};
    int printed = 0;
    for (int k = 0; k < 4; k++) {
        double bn = 0, kns = 0;
        char bname[64], kname[64];
        snprintf(bname, sizeof bname, "bpftime %s", kinds[k]);
        snprintf(kname, sizeof kname, "kernel %s", kinds[k]);
        for (int i = 0; i < nrows; i++) {
            if (strcmp(rows[i].name, bname) == 0) bn = rows[i].ns - base;
            if (strcmp(rows[i].name, kname) == 0) kns = rows[i].ns - base;
        }
        if (bn > 0 && kns > 0) {
            if (!printed) printf("\noverhead per call (minus the unhooked call), kernel / bpftime:\n");
            printed = 1;
            printf("  %-20s kernel %9.1f ns   bpftime %7.1f ns   %6.1fx\n", kinds[k], kns, bn,
                   kns / bn);
        }
    }
    double trap = 0, ktiny = 0, tbase = 0;
    for (int i = 0; i < nrows; i++) {
        if (strcmp(rows[i].name, "no hook (4-byte function)") == 0) tbase = rows[i].ns;
        if (strcmp(rows[i].name, "bpftime uprobe, trap path") == 0) trap = rows[i].ns;
        if (strcmp(rows[i].name, "kernel uprobe (4-byte function)") == 0) ktiny = rows[i].ns;
    }
    if (trap > 0 && ktiny > 0)
        printf("  %-20s kernel %9.1f ns   bpftime %7.1f ns   %6.1fx\n", "uprobe, trap path",
               ktiny - tbase, trap - tbase, (ktiny - tbase) / (trap - tbase));
    if (!printed) printf("\nkernel uprobes: skipped (%s)\n", why[0] ? why : "unavailable");
    return 0;
}
