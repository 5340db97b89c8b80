/* VM benchmark: the same algorithms as eBPF (interpreter, bpftime JIT, the
 * LLVM tier, the kernel's JIT through BPF_PROG_TEST_RUN) and as native C -O2, measured side
 * by side in one run. Prints ns per run and ratios to native, and the
 * geometric mean over the programs.
 *
 *   bench/vm/run.sh            build everything and run
 *   vm_bench <build-dir> [name...]
 *
 * Every program is progs/<name>.bpf.c; run.sh compiles it with
 * `clang -O2 -target bpf -mcpu=v3` and extracts .text into <name>.bin (and
 * an XDP variant for the kernel into <name>.k.bin); this file #includes
 * the same sources to get the native versions. The LLVM tier's code is
 * <name>.llvm, made by bench/vm/llvm-blobs.ts (or <name>.llvm.err: why not). */
#include <errno.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vm/ebpf_vm.h"
#include "vm/native_code.h"

#include "progs/bits.bpf.c"
#include "progs/bytescan.bpf.c"
#include "progs/collatz.bpf.c"
#include "progs/crc32.bpf.c"
#include "progs/fnv1a.bpf.c"
#include "progs/isort.bpf.c"
#include "progs/modhash.bpf.c"
#include "progs/murmur.bpf.c"
#include "progs/strmatch.bpf.c"
/* the set added for issue 15: kinds the JIT had never been measured on */
#include "progs/adler32.bpf.c"
#include "progs/bitops.bpf.c"
#include "progs/bsearch.bpf.c"
#include "progs/calls.bpf.c"
#include "progs/horspool.bpf.c"
#include "progs/inetcsum.bpf.c"
#include "progs/isortrec.bpf.c"
#include "progs/minivm.bpf.c"
#include "progs/pktparse.bpf.c"
#include "progs/siphash.bpf.c"
#include "progs/sortnet.bpf.c"
#include "progs/tokenize.bpf.c"
#include "progs/xxh32.bpf.c"

#define BUF_LEN 2048 /* the kernel's test_run takes at most ~3.5 KiB of packet */

/* OLD: the programs the JIT was tuned on; NEW: added later, written
 * plainly and measured before any tuning for them. Geometric means are
 * printed for each set and for the whole, so a JIT that only does well on
 * the set it was tuned on shows. */
enum bench_set { SET_OLD, SET_NEW, SET_ALL };
static const char *const set_names[] = {"old", "new", "all"};

struct bench {
    const char *name;
    u64 (*native)(u8 *, u64);
    const char *kernel_skip; /* why the kernel column is not measured */
    enum bench_set set;
    void (*prepare)(u8 *buf, u64 len); /* writes the input; NULL: the default text */
};

static const struct bench benches[] = {
    {"fnv1a", native_fnv1a, NULL, SET_OLD, NULL},
    {"murmur", native_murmur, NULL, SET_OLD, NULL},
    /* loading it oopsed a 6.18 kernel (NULL deref in the verifier's
     * maybe_fork_scalars on `0 - (crc & 1)`); BENCH_KERNEL_ALL=1 tries */
    {"crc32", native_crc32, "not loaded: crashes the 6.18 verifier (maybe_fork_scalars)", SET_OLD,
     NULL},
    {"bytescan", native_bytescan, NULL, SET_OLD, NULL},
    {"strmatch", native_strmatch, NULL, SET_OLD, NULL},
    {"bits", native_bits, NULL, SET_OLD, NULL},
    {"isort", native_isort, NULL, SET_OLD, NULL},
    {"collatz", native_collatz, NULL, SET_OLD, NULL},
    {"modhash", native_modhash, NULL, SET_OLD, NULL},
    {"sortnet", native_sortnet, NULL, SET_NEW, NULL},
    {"isortrec", native_isortrec, NULL, SET_NEW, NULL},
    {"bsearch", native_bsearch, NULL, SET_NEW, NULL},
    {"xxh32", native_xxh32, NULL, SET_NEW, NULL},
    {"siphash", native_siphash, NULL, SET_NEW, NULL},
    {"tokenize", native_tokenize, NULL, SET_NEW, NULL},
    {"horspool", native_horspool, NULL, SET_NEW, NULL},
    {"adler32", native_adler32, NULL, SET_NEW, NULL},
    {"inetcsum", native_inetcsum, NULL, SET_NEW, NULL},
    {"bitops", native_bitops, NULL, SET_NEW, NULL},
    {"minivm", native_minivm, NULL, SET_NEW, prepare_minivm},
    {"pktparse", native_pktparse, NULL, SET_NEW, prepare_pktparse},
    {"calls", native_calls, NULL, SET_NEW, NULL},
};
#define NBENCH (sizeof benches / sizeof benches[0])

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void fill(u8 *buf)
{
    /* mostly a 4-letter alphabet (frequent partial matches), some noise */
    uint64_t x = 0x2545f4914f6cdd1dULL;
    for (size_t i = 0; i < BUF_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (x & 0x300) ? "acgt"[x & 3] : (u8)(x >> 24);
    }
}

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = n > 0 ? malloc((size_t)n) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = p ? (size_t)n : 0;
    return p;
}

/* BENCH_VM_DUMP=1: the JIT's code into <dir>/<name>.jit, for
 * `objdump -D -b binary -mi386:x86-64 <file>`; its address goes to stderr,
 * to match the samples of `perf record` (perf script -F ip). */
static void dump_jit(const char *dir, const char *name, const struct ebpf_vm *vm)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.jit", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(ebpf_vm_jit_code(vm), 1, ebpf_vm_jit_size(vm), f);
    fclose(f);
    fprintf(stderr, "%s: JIT code at %p (%zu bytes) in %s\n", name, ebpf_vm_jit_code(vm),
            ebpf_vm_jit_size(vm), path);
}

/* The LLVM tier's code for the program loaded in vm, or in *why the reason
 * there is none (the tier's refusal, a missing file, a load error). */
static void load_llvm(const char *dir, const char *name, struct ebpf_vm *vm,
                      struct ebpf_native_code **nc, char *why, size_t whylen)
{
    char path[512];
    size_t len;
    snprintf(path, sizeof path, "%s/%s.llvm", dir, name);
    void *blob = read_file(path, &len);
    if (!blob) {
        snprintf(path, sizeof path, "%s/%s.llvm.err", dir, name);
        char *err = read_file(path, &len);
        size_t n = 0;
        while (err && n < len && err[n] != '\n')
            n++;
        snprintf(why, whylen, "%.*s", err ? (int)n : 40,
                 err ? err : "no blob (run bench/vm/run.sh)");
        free(err);
        return;
    }
    if (ebpf_native_load(vm, blob, len, nc) != 0)
        snprintf(why, whylen, "load: %s", ebpf_vm_error(vm));
    free(blob);
}

typedef uint64_t (*run_fn)(void *arg, u8 *buf);

/* Iterations for one sample of about 200 us. */
static uint64_t calibrate(run_fn fn, void *arg, u8 *buf, uint64_t *result)
{
    uint64_t iters = 1;
    for (;;) {
        double t0 = now_ns();
        for (uint64_t i = 0; i < iters; i++)
            *result = fn(arg, buf);
        double dt = now_ns() - t0;
        if (dt > 200e3 || iters > (1u << 30))
            return iters;
        iters *= 2;
    }
}

static double sample(run_fn fn, void *arg, u8 *buf, uint64_t iters, uint64_t *result)
{
    double t0 = now_ns();
    for (uint64_t i = 0; i < iters; i++)
        *result = fn(arg, buf);
    return (now_ns() - t0) / (double)iters;
}

/* ns per run of `n` engines, their samples interleaved (engine 0, 1, ...,
 * 0, 1, ...): the minimum over many short samples (~200 us each, for at
 * least 300 ms per engine). The machine is shared, and a vCPU's speed
 * changes with what its sibling runs (up to 2x here): interleaving puts
 * every engine through the same stretches, and the minimum keeps the
 * samples that ran undisturbed. Each engine has its own buffer. */
#define MAX_ENGINES 4
static void measure_n(int n, const run_fn *fn, void *const *arg, u8 *const *buf, uint64_t *result,
                      double *best)
{
    uint64_t iters[MAX_ENGINES];
    for (int e = 0; e < n; e++) {
        iters[e] = calibrate(fn[e], arg[e], buf[e], &result[e]);
        best[e] = 1e300;
    }
    double start = now_ns();
    for (int s = 0; s < 5000; s++) {
        for (int e = 0; e < n; e++) {
            double per = sample(fn[e], arg[e], buf[e], iters[e], &result[e]);
            if (per < best[e])
                best[e] = per;
        }
        if (s >= 30 && now_ns() - start > 300e6 * n)
            break;
    }
}

static double measure(run_fn fn, void *arg, u8 *buf, uint64_t *result)
{
    double best;
    measure_n(1, &fn, &arg, &buf, result, &best);
    return best;
}

static uint64_t run_native(void *arg, u8 *buf)
{
    const struct bench *b = arg;
    return b->native(buf, BUF_LEN);
}

static uint64_t run_jit(void *arg, u8 *buf)
{
    ebpf_jit_fn fn = (ebpf_jit_fn)arg;
    return fn(buf, BUF_LEN);
}

static uint64_t run_interp(void *arg, u8 *buf)
{
    uint64_t r = 0;
    if (ebpf_vm_exec(arg, buf, BUF_LEN, &r) != 0)
        return 0xdeadULL;
    return r;
}

/* ---- the kernel: BPF_PROG_LOAD (XDP) + BPF_PROG_TEST_RUN with repeat ---- */

static int prog_load(const void *code, size_t len, char *log, uint32_t log_size)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_XDP;
    a.insns = (uint64_t)(uintptr_t)code;
    a.insn_cnt = (uint32_t)(len / 8);
    a.license = (uint64_t)(uintptr_t) "GPL";
    if (log) {
        a.log_buf = (uint64_t)(uintptr_t)log;
        a.log_size = log_size;
        a.log_level = 1;
        log[0] = 0;
    }
    return (int)syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof a);
}

static int kernel_load(const void *code, size_t len, char *why, size_t whylen)
{
    int fd = prog_load(code, len, NULL, 0);
    if (fd >= 0)
        return fd;
    int err = errno;
    /* again with the verifier log: its last complaint is the useful line */
    static char log[1 << 20];
    if (prog_load(code, len, log, sizeof log) >= 0 || !log[0]) {
        snprintf(why, whylen, "load: %s", strerror(err));
        return -1;
    }
    size_t n = strlen(log);
    while (n && log[n - 1] == '\n')
        log[--n] = 0;
    const char *last = log;
    for (const char *q = log; *q; q++)
        if (*q == '\n' && q[1] && strncmp(q + 1, "processed", 9) != 0 &&
            strncmp(q + 1, "verification time", 17) != 0)
            last = q + 1;
    snprintf(why, whylen, "load: %s: %.70s", strerror(err), last);
    char *nl = strchr(why, '\n');
    if (nl)
        *nl = 0;
    return -1;
}

static int kernel_run(int fd, u8 *buf, uint32_t repeat, uint32_t *retval, uint32_t *duration)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.test.prog_fd = (uint32_t)fd;
    a.test.data_in = (uint64_t)(uintptr_t)buf;
    a.test.data_size_in = BUF_LEN;
    a.test.repeat = repeat;
    int rc = (int)syscall(__NR_bpf, BPF_PROG_TEST_RUN, &a, sizeof a);
    *retval = a.test.retval;
    *duration = a.test.duration;
    return rc;
}

/* ns per run from the kernel's own timing, best of 5 */
static double kernel_measure(int fd, u8 *buf, uint32_t *retval, char *why, size_t whylen)
{
    uint32_t dur;
    if (kernel_run(fd, buf, 1, retval, &dur) != 0) {
        snprintf(why, whylen, "test_run: %s", strerror(errno));
        return -1;
    }
    uint32_t repeat = dur > 0 ? (uint32_t)(25e6 / (dur + 1)) + 1 : 10000;
    if (repeat > 1000000)
        repeat = 1000000;
    double best = 1e300;
    for (int s = 0; s < 5; s++) {
        if (kernel_run(fd, buf, repeat, retval, &dur) != 0) {
            snprintf(why, whylen, "test_run: %s", strerror(errno));
            return -1;
        }
        if (dur < best)
            best = dur;
    }
    return best;
}

/* Load and run in a child: a verifier bug must not take the benchmark down. */
static double kernel_bench(const char *path, const u8 *ref, uint64_t rn, char *why, size_t whylen)
{
    size_t klen;
    void *kcode = read_file(path, &klen);
    if (!kcode) {
        snprintf(why, whylen, "no %s", path);
        return -1;
    }
    struct {
        double t;
        char why[200];
    } res = {-1, ""};
    int fds[2];
    if (pipe(fds) != 0) {
        free(kcode);
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        static _Alignas(64) u8 kbuf[BUF_LEN];
        int fd = kernel_load(kcode, klen, res.why, sizeof res.why);
        if (fd >= 0) {
            uint32_t kret;
            memcpy(kbuf, ref, BUF_LEN);
            res.t = kernel_measure(fd, kbuf, &kret, res.why, sizeof res.why);
            if (res.t >= 0 && kret != (uint32_t)rn) {
                snprintf(res.why, sizeof res.why, "kernel result 0x%x != 0x%x", kret, (uint32_t)rn);
                res.t = -1;
            }
        }
        if (write(fds[1], &res, sizeof res) != (ssize_t)sizeof res)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    free(kcode);
    ssize_t n = pid > 0 ? read(fds[0], &res, sizeof res) : -1;
    close(fds[0]);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (n != (ssize_t)sizeof res) {
        snprintf(why, whylen, "child died (%s)",
                 WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no result");
        return -1;
    }
    snprintf(why, whylen, "%s", res.why);
    return res.t;
}

/* Log-sums of the ratios to native, per engine, for one set. */
struct geo {
    double lj, ll, li, lk, ljk; /* ljk: the JIT on the programs the kernel ran */
    int nj, nl, ni, nk;
};

/* One engine's column: its time and its ratio to native (with `decimals`);
 * "-" where the engine did not run (t < 0). */
static void print_engine(double t, double tn, int decimals)
{
    if (t < 0)
        printf(" %10s %7s", "-", "");
    else
        printf(" %10.1f %6.*fx", t, decimals, t / tn);
}

static void add_ratio(double t, double tn, double *log_sum, int *n)
{
    if (t < 0)
        return;
    *log_sum += log(t / tn);
    (*n)++;
}

static void print_geomean(const char *set, const struct geo *g)
{
    char label[24];
    snprintf(label, sizeof label, "geomean %s", set);
    printf("%-13s %7s", label, "");
    if (g->nj)
        printf(" %10s %6.2fx", "", exp(g->lj / g->nj));
    else
        printf(" %10s %7s", "", "");
    if (g->nl)
        printf(" %10s %6.2fx", "", exp(g->ll / g->nl));
    else
        printf(" %10s %7s", "", "");
    if (g->ni)
        printf(" %10s %6.1fx", "", exp(g->li / g->ni));
    else
        printf(" %10s %7s", "", "");
    if (g->nk)
        printf(" %10s %6.2fx  (kernel: %d of %d programs; JIT on the same %d: %.2fx)", "",
               exp(g->lk / g->nk), g->nk, g->nj, g->nk, exp(g->ljk / g->nk));
    printf("\n");
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "bench/build/vm";
    setvbuf(stdout, NULL, _IOLBF, 0);
    static _Alignas(64) u8 buf[BUF_LEN], ref[BUF_LEN];

    printf("bpftime VM benchmark: %d-byte buffer, ns per run (min over samples), ratio = time / "
           "native C -O2\n",
           BUF_LEN);
    printf("%-13s %7s %10s %7s %10s %7s %10s %7s %10s %7s  %s\n", "program", "native", "jit", "x",
           "llvm", "x", "interp", "x", "kernel", "x", "notes");
    struct geo geo[3];
    memset(geo, 0, sizeof geo);
    int failures = 0;
    for (size_t bi = 0; bi < NBENCH; bi++) {
        const struct bench *b = &benches[bi];
        bool selected = argc <= 2;
        for (int a = 2; a < argc; a++)
            selected |= strcmp(argv[a], b->name) == 0;
        if (!selected)
            continue;
        fill(ref);
        if (b->prepare)
            b->prepare(ref, BUF_LEN);
        char path[512], note[160] = "";
        uint64_t rn = 0, rj = 0, ri = 0, rl = 0;
        double tn = -1;
        snprintf(path, sizeof path, "%s/%s.bin", dir, b->name);
        size_t clen;
        void *code = read_file(path, &clen);
        double tj = -1, ti = -1, tk = -1, tl = -1;
        struct ebpf_vm *vm = NULL;
        struct ebpf_native_code *nc = NULL;
        char lnote[200] = "";
        if (!code) {
            snprintf(note, sizeof note, "missing %s (run bench/vm/run.sh)", path);
        } else {
            vm = ebpf_vm_create();
            if (ebpf_vm_load(vm, code, clen) != 0) {
                snprintf(note, sizeof note, "load: %s", ebpf_vm_error(vm));
            } else {
                ebpf_jit_fn fn;
                double c0 = now_ns();
                int rc = ebpf_vm_compile(vm, &fn);
                double c1 = now_ns();
                if (rc != 0) {
                    snprintf(note, sizeof note, "compile: %s", ebpf_vm_error(vm));
                    memcpy(buf, ref, BUF_LEN);
                    ti = measure(run_interp, vm, buf, &ri);
                } else {
                    if (getenv("BENCH_VM_DUMP"))
                        dump_jit(dir, b->name, vm);
                    load_llvm(dir, b->name, vm, &nc, lnote, sizeof lnote);
                    static _Alignas(64) u8 jbuf[BUF_LEN], ibuf[BUF_LEN], lbuf[BUF_LEN];
                    memcpy(buf, ref, BUF_LEN);
                    memcpy(jbuf, ref, BUF_LEN);
                    memcpy(ibuf, ref, BUF_LEN);
                    memcpy(lbuf, ref, BUF_LEN);
                    const run_fn fns[4] = {run_native, run_jit, run_interp, run_jit};
                    void *const args[4] = {(void *)b, (void *)fn, vm,
                                           nc ? (void *)ebpf_native_entry(nc) : NULL};
                    u8 *const bufs[4] = {buf, jbuf, ibuf, lbuf};
                    uint64_t res[4];
                    double best[4];
                    measure_n(nc ? 4 : 3, fns, args, bufs, res, best);
                    tn = best[0], rn = res[0], tj = best[1], rj = res[1], ti = best[2], ri = res[2];
                    if (nc)
                        tl = best[3], rl = res[3];
                    snprintf(note, sizeof note, "%zu insns -> %zu bytes in %.0f us", clen / 8,
                             ebpf_vm_jit_size(vm), (c1 - c0) / 1e3);
                }
            }
        }
        if (tn < 0) { /* the JIT did not run: native alone */
            memcpy(buf, ref, BUF_LEN);
            tn = measure(run_native, (void *)b, buf, &rn);
        }

        if (tj >= 0 && rj != rn) {
            snprintf(note, sizeof note, "JIT RESULT MISMATCH 0x%" PRIx64 " != 0x%" PRIx64, rj, rn);
            failures++;
            tj = -1;
        }
        if (tl >= 0 && rl != rn) {
            snprintf(note, sizeof note, "LLVM RESULT MISMATCH 0x%" PRIx64 " != 0x%" PRIx64, rl, rn);
            failures++;
            tl = -1;
        }
        if (ti >= 0 && ri != rn) {
            snprintf(note, sizeof note, "INTERP RESULT MISMATCH 0x%" PRIx64 " != 0x%" PRIx64, ri,
                     rn);
            failures++;
            ti = -1;
        }

        char why[200] = "";
        if (b->kernel_skip && !getenv("BENCH_KERNEL_ALL")) {
            snprintf(why, sizeof why, "%s", b->kernel_skip);
        } else {
            snprintf(path, sizeof path, "%s/%s.k.bin", dir, b->name);
            tk = kernel_bench(path, ref, rn, why, sizeof why);
        }

        printf("%-13s %7.1f", b->name, tn);
        print_engine(tj, tn, 2);
        print_engine(tl, tn, 2);
        print_engine(ti, tn, 1);
        print_engine(tk, tn, 2);
        printf("  %s%s%s%s%s\n", note, *lnote ? "; llvm: " : "", lnote,
               *why ? "; kernel skipped: " : "", why);
        for (int g = 0; g < 3; g++) {
            if (g != SET_ALL && g != (int)b->set)
                continue;
            add_ratio(tj, tn, &geo[g].lj, &geo[g].nj);
            add_ratio(tl, tn, &geo[g].ll, &geo[g].nl);
            add_ratio(ti, tn, &geo[g].li, &geo[g].ni);
            add_ratio(tk, tn, &geo[g].lk, &geo[g].nk);
            if (tk >= 0 && tj >= 0)
                geo[g].ljk += log(tj / tn);
        }
        ebpf_native_free(nc);
        ebpf_vm_destroy(vm);
        free(code);
    }
    for (int g = 0; g < 3; g++)
        print_geomean(set_names[g], &geo[g]);
    return failures ? 1 : 0;
}
