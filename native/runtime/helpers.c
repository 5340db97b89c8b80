/* eBPF helpers with the kernel's ids and semantics (table: helpers.def).
 *
 * Memory of the host process is read and written through
 * process_vm_readv/writev on our own pid, so a bad address gives -EFAULT
 * instead of a crash (no signal handlers involved); where those calls are
 * unavailable (seccomp, old kernels) a pipe write serves as the probe. */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "runtime/runtime_internal.h"
#include "vm/ebpf_vm.h"

#define TRACE_MSG_MAX 1024
#define STR_ARG_MAX 256
#define SNPRINTF_MAX_ARGS 12

/* ---- per-thread invocation context, trace destination ---- */

/* initial-exec: a uprobe sets and restores it on every hit (one %fs-relative
 * access, no __tls_get_addr, which is ordinary C that may touch vector
 * registers the hook must leave alone). */
static _Thread_local struct bpftime_invocation *current_invocation
    __attribute__((tls_model("initial-exec")));
static _Atomic(struct bpftime_region *) trace_region; /* process-wide: the one trace sink */

void bpftime_invocation_set(struct bpftime_invocation *inv)
{
    current_invocation = inv;
}
struct bpftime_invocation *bpftime_invocation_get(void)
{
    return current_invocation;
}

void bpftime_helpers_set_trace_region(struct bpftime_region *r)
{
    atomic_store(&trace_region, r);
}

void helpers_clear_trace_region(struct bpftime_region *r)
{
    struct bpftime_region *expected = r;
    atomic_compare_exchange_strong(&trace_region, &expected, NULL);
}

int rt_current_cpu(uint32_t ncpus)
{
    int c = sched_getcpu();
    if (c < 0)
        c = 0;
    return ncpus ? (int)((uint32_t)c % ncpus) : c;
}

/* ---- safe memory access ---- */

static _Atomic int vm_rw_broken; /* process_vm_* refused: use the pipe probe */

static bool pipe_probe(const void *src, uint64_t len)
{
    static _Thread_local int fds[2] = {-1, -1};
    if (fds[0] < 0 && pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return false;
    const uint8_t *p = src;
    while (len) {
        size_t chunk = len > 4096 ? 4096 : (size_t)len;
        ssize_t n = write(fds[1], p, chunk);
        if (n < 0)
            return false; /* EFAULT */
        char sink[4096];
        while (read(fds[0], sink, sizeof sink) > 0) {}
        p += n;
        len -= (uint64_t)n;
    }
    return true;
}

int bpftime_safe_read(void *dst, const void *src, uint64_t len)
{
    if (len == 0)
        return 0;
    if (!atomic_load_explicit(&vm_rw_broken, memory_order_relaxed)) {
        struct iovec local = {dst, len}, remote = {(void *)src, len};
        ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
        if (n == (ssize_t)len)
            return 0;
        if (n >= 0 || errno == EFAULT) {
            memset(dst, 0, len);
            return -EFAULT;
        }
        if (errno != ENOSYS && errno != EPERM) {
            memset(dst, 0, len);
            return -EFAULT;
        }
        atomic_store(&vm_rw_broken, 1);
    }
    if (!pipe_probe(src, len)) {
        memset(dst, 0, len);
        return -EFAULT;
    }
    memcpy(dst, src, len);
    return 0;
}

int bpftime_safe_write(void *dst, const void *src, uint64_t len)
{
    if (len == 0)
        return 0;
    struct iovec local = {(void *)src, len}, remote = {dst, len};
    ssize_t n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
    if (n == (ssize_t)len)
        return 0;
    return -EFAULT;
}

/* Reads up to `len` bytes at `src` without crossing a page boundary (a
 * string may end just before an unmapped page): how many were read (0 when
 * the first byte is unreadable). */
static uint64_t read_within_page(void *dst, uintptr_t src, uint64_t len)
{
    uint64_t page_left = SHM_PAGE - (src & (SHM_PAGE - 1));
    if (len > page_left)
        len = page_left;
    return bpftime_safe_read(dst, (const void *)src, len) == 0 ? len : 0;
}

/* The kernel's strncpy_from_user_nofault() as bpf_probe_read_*_str() use it
 * (lib/strncpy_from_user.c, x86-64): whole 8-byte words while at least 8
 * bytes remain, the word holding the NUL stored with the bytes after the NUL
 * zeroed and nothing written beyond it; then byte by byte. A word that
 * cannot be read (it crosses into an unmapped page) falls back to bytes.
 * Returns the length including the NUL; a string that fills `len` is cut
 * (last byte NUL, returns len); a fault zeroes all of dst, -EFAULT. */
int bpftime_safe_read_str(char *dst, const void *src, uint64_t len)
{
    if (len == 0)
        return 0;
    uintptr_t s = (uintptr_t)src;
    uint64_t res = 0, max = len;
    uint8_t chunk[256];
    while (max >= 8) {
        /* a batch of whole words, one read for all of them */
        uint64_t want = max & ~(uint64_t)7;
        if (want > sizeof chunk)
            want = sizeof chunk;
        uint64_t got = read_within_page(chunk, s + res, want) & ~(uint64_t)7;
        if (got == 0 && bpftime_safe_read(chunk, (const void *)(s + res), 8) == 0)
            got = 8; /* one word across a page boundary, both pages mapped */
        if (got == 0)
            break;
        for (uint64_t w = 0; w < got; w += 8) {
            uint8_t *nul = memchr(chunk + w, 0, 8);
            if (nul) {
                uint64_t keep = (uint64_t)(nul - (chunk + w));
                memset(nul, 0, 8 - keep);
                memcpy(dst + res, chunk + w, 8);
                return (int)(res + keep) + 1;
            }
            memcpy(dst + res, chunk + w, 8);
            res += 8;
            max -= 8;
        }
    }
    while (max) {
        uint64_t got = read_within_page(chunk, s + res, max < sizeof chunk ? max : sizeof chunk);
        if (got == 0) {
            memset(dst, 0, len);
            return -EFAULT;
        }
        uint8_t *nul = memchr(chunk, 0, got);
        if (nul) {
            uint64_t n = (uint64_t)(nul - chunk) + 1;
            memcpy(dst + res, chunk, n);
            return (int)(res + n);
        }
        memcpy(dst + res, chunk, got);
        res += got;
        max -= got;
    }
    dst[len - 1] = 0;
    return (int)len;
}

/* ---- formatting (trace_printk, snprintf) ---- */

struct out_buf {
    char *p;
    uint32_t cap;
    uint64_t len; /* full length, even past cap */
};

static void out_put(struct out_buf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->cap && o->len < o->cap - 1)
            o->p[o->len] = s[i];
}

int bpftime_format(char *out, uint32_t out_len, const char *fmt, uint32_t fmt_len,
                   const uint64_t *args, uint32_t nargs)
{
    struct out_buf o = {out, out_len, 0};
    uint32_t argi = 0;
    uint32_t i = 0;
    while (i < fmt_len && fmt[i]) {
        if (fmt[i] != '%') {
            out_put(&o, &fmt[i], 1);
            i++;
            continue;
        }
        i++;
        if (i < fmt_len && fmt[i] == '%') {
            out_put(&o, "%", 1);
            i++;
            continue;
        }
        char spec[32];
        size_t sl = 0;
        spec[sl++] = '%';
        while (i < fmt_len && (fmt[i] == '-' || fmt[i] == '+' || fmt[i] == ' ' || fmt[i] == '0')) {
            if (sl < 8)
                spec[sl++] = fmt[i];
            i++;
        }
        int digits = 0;
        while (i < fmt_len && fmt[i] >= '0' && fmt[i] <= '9') {
            if (++digits > 3)
                return -EINVAL;
            spec[sl++] = fmt[i++];
        }
        if (i < fmt_len && fmt[i] == '.') {
            spec[sl++] = fmt[i++];
            digits = 0;
            while (i < fmt_len && fmt[i] >= '0' && fmt[i] <= '9') {
                if (++digits > 3)
                    return -EINVAL;
                spec[sl++] = fmt[i++];
            }
        }
        int lmod = 0;
        while (i < fmt_len && fmt[i] == 'l' && lmod < 2) {
            lmod++;
            i++;
        }
        if (i >= fmt_len || !fmt[i])
            return -EINVAL;
        char conv = fmt[i++];
        if (argi >= nargs)
            return -EINVAL;
        uint64_t a = args[argi++];
        char tmp[STR_ARG_MAX + 64];
        int n;
        switch (conv) {
        case 'd':
        case 'i':
            spec[sl++] = 'l';
            spec[sl++] = 'l';
            spec[sl++] = 'd';
            spec[sl] = 0;
            n = snprintf(tmp, sizeof tmp, spec, lmod ? (long long)a : (long long)(int32_t)a);
            break;
        case 'u':
        case 'x':
        case 'X':
            spec[sl++] = 'l';
            spec[sl++] = 'l';
            spec[sl++] = conv;
            spec[sl] = 0;
            n = snprintf(tmp, sizeof tmp, spec,
                         lmod ? (unsigned long long)a : (unsigned long long)(uint32_t)a);
            break;
        case 'c':
            if (lmod)
                return -EINVAL;
            spec[sl++] = 'c';
            spec[sl] = 0;
            n = snprintf(tmp, sizeof tmp, spec, (int)(unsigned char)a);
            break;
        case 'p':
            if (lmod)
                return -EINVAL;
            /* %p, %px, %pK: the address itself, as the kernel prints %px
             * (16 zero-padded hex digits, no 0x). The kernel hashes %p and
             * hides %pK; a userspace process has nothing to hide from itself. */
            if (i < fmt_len && (fmt[i] == 'x' || fmt[i] == 'K'))
                i++;
            spec[sl++] = 's';
            spec[sl] = 0;
            {
                char addr[32];
                snprintf(addr, sizeof addr, "%016llx", (unsigned long long)a);
                n = snprintf(tmp, sizeof tmp, spec, addr);
            }
            break;
        case 's': {
            if (lmod)
                return -EINVAL;
            char str[STR_ARG_MAX];
            /* an unreadable string prints as empty, as in the kernel */
            if (bpftime_safe_read_str(str, (const void *)(uintptr_t)a, sizeof str) < 0)
                str[0] = 0;
            spec[sl++] = 's';
            spec[sl] = 0;
            n = snprintf(tmp, sizeof tmp, spec, str);
            break;
        }
        default: return -EINVAL;
        }
        if (n < 0)
            return -EINVAL;
        out_put(&o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
    }
    if (o.cap)
        o.p[o.len < o.cap ? o.len : o.cap - 1] = 0;
    return o.len > INT32_MAX ? -E2BIG : (int)o.len;
}

/* ---- helpers ---- */

#define H(name) \
    static uint64_t bh_##name(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
#define UNUSED_ARGS(...) (void)r1, (void)r2, (void)r3, (void)r4, (void)r5
#define PTR(x) ((void *)(uintptr_t)(x))
#define RET(x) ((uint64_t)(int64_t)(x))

/* map operations from programs: errors without formatted messages */
static uint64_t quiet_end(int rc)
{
    bpftime_error_quiet = 0;
    return RET(rc);
}

H(map_lookup_elem)
{
    UNUSED_ARGS();
    return (uint64_t)(uintptr_t)bpftime_map_lookup_ptr(PTR(r1), PTR(r2));
}
H(map_update_elem)
{
    UNUSED_ARGS();
    bpftime_error_quiet = 1;
    return quiet_end(bpftime_map_h_update(PTR(r1), PTR(r2), PTR(r3), r4, true));
}
H(map_delete_elem)
{
    UNUSED_ARGS();
    bpftime_error_quiet = 1;
    return quiet_end(bpftime_map_h_delete(PTR(r1), PTR(r2)));
}
H(map_push_elem)
{
    UNUSED_ARGS();
    bpftime_error_quiet = 1;
    return quiet_end(bpftime_map_h_push(PTR(r1), PTR(r2), r3));
}
H(map_pop_elem)
{
    UNUSED_ARGS();
    bpftime_error_quiet = 1;
    return quiet_end(bpftime_map_h_pop(PTR(r1), PTR(r2), true));
}
H(map_peek_elem)
{
    UNUSED_ARGS();
    bpftime_error_quiet = 1;
    return quiet_end(bpftime_map_h_pop(PTR(r1), PTR(r2), false));
}

static uint64_t probe_read_impl(uint64_t dst, uint64_t size, uint64_t src)
{
    return RET(bpftime_safe_read(PTR(dst), PTR(src), (uint32_t)size));
}
static uint64_t probe_read_str_impl(uint64_t dst, uint64_t size, uint64_t src)
{
    return RET(bpftime_safe_read_str(PTR(dst), PTR(src), (uint32_t)size));
}
H(probe_read)
{
    UNUSED_ARGS();
    return probe_read_impl(r1, r2, r3);
}
H(probe_read_user)
{
    UNUSED_ARGS();
    return probe_read_impl(r1, r2, r3);
}
H(probe_read_kernel)
{
    UNUSED_ARGS();
    return probe_read_impl(r1, r2, r3);
}
H(probe_read_str)
{
    UNUSED_ARGS();
    return probe_read_str_impl(r1, r2, r3);
}
H(probe_read_user_str)
{
    UNUSED_ARGS();
    return probe_read_str_impl(r1, r2, r3);
}
H(probe_read_kernel_str)
{
    UNUSED_ARGS();
    return probe_read_str_impl(r1, r2, r3);
}
H(probe_write_user)
{
    UNUSED_ARGS();
    return RET(bpftime_safe_write(PTR(r1), PTR(r2), (uint32_t)r3));
}

H(ktime_get_ns)
{
    UNUSED_ARGS();
    return rt_now_ns(CLOCK_MONOTONIC);
}
H(ktime_get_boot_ns)
{
    UNUSED_ARGS();
    return rt_now_ns(CLOCK_BOOTTIME);
}

static uint64_t trace_impl(const char *fmt, uint32_t fmt_len, const uint64_t *args, uint32_t n)
{
    char msg[TRACE_MSG_MAX];
    int len = bpftime_format(msg, sizeof msg, fmt, fmt_len, args, n);
    if (len < 0)
        return RET(len);
    if ((uint32_t)len >= sizeof msg)
        len = (int)sizeof msg - 1;
    struct bpftime_region *r = atomic_load(&trace_region);
    if (r)
        return RET(bpftime_trace_write(r, msg, (uint32_t)len));
    BPFTIME_INFO("trace_printk: %s", msg);
    return (uint64_t)len;
}

H(trace_printk)
{
    UNUSED_ARGS();
    uint64_t args[3] = {r3, r4, r5};
    return trace_impl(PTR(r1), (uint32_t)r2, args, 3);
}
H(trace_vprintk)
{
    /* what libbpf's bpf_printk uses for more than three arguments */
    UNUSED_ARGS();
    uint32_t data_len = (uint32_t)r4;
    if (data_len % 8 || data_len / 8 > SNPRINTF_MAX_ARGS || (data_len && !r3))
        return RET(-EINVAL);
    uint64_t args[SNPRINTF_MAX_ARGS];
    if (data_len)
        memcpy(args, PTR(r3), data_len);
    return trace_impl(PTR(r1), (uint32_t)r2, args, data_len / 8);
}
H(ktime_get_coarse_ns)
{
    UNUSED_ARGS();
    return rt_now_ns(CLOCK_MONOTONIC_COARSE);
}
H(map_lookup_percpu_elem)
{
    UNUSED_ARGS();
    return (uint64_t)(uintptr_t)bpftime_map_lookup_percpu_ptr(PTR(r1), PTR(r2), (uint32_t)r3);
}

static _Thread_local uint32_t prandom_state;
H(get_prandom_u32)
{
    UNUSED_ARGS();
    uint32_t x = prandom_state;
    if (!x) {
        x = (uint32_t)gettid() * 2654435761u ^ (uint32_t)rt_now_ns(CLOCK_MONOTONIC);
        if (!x)
            x = 0x9e3779b9u;
    }
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    prandom_state = x;
    return x;
}
H(get_smp_processor_id)
{
    UNUSED_ARGS();
    return (uint64_t)rt_current_cpu(0);
}
H(tail_call)
{
    /* the VM performs tail calls itself (ebpf_vm_set_tail_call); reaching
     * this means the call could not be made: fall through as the kernel */
    UNUSED_ARGS();
    return RET(-ENOENT);
}
H(get_current_pid_tgid)
{
    UNUSED_ARGS();
    return ((uint64_t)(uint32_t)getpid() << 32) | (uint32_t)gettid();
}
H(get_current_uid_gid)
{
    UNUSED_ARGS();
    return ((uint64_t)(uint32_t)getgid() << 32) | (uint32_t)getuid();
}
H(get_current_comm)
{
    UNUSED_ARGS();
    char comm[17] = {0};
    char *buf = PTR(r1);
    uint32_t size = (uint32_t)r2;
    if (size == 0)
        return RET(-EINVAL);
    prctl(PR_GET_NAME, comm, 0, 0, 0);
    size_t n = strnlen(comm, 16);
    if (n > size - 1)
        n = size - 1;
    memcpy(buf, comm, n);
    memset(buf + n, 0, size - n);
    return 0;
}
H(perf_event_output)
{
    UNUSED_ARGS();
    return RET(bpftime_perf_event_output(PTR(r2), r3, PTR(r4), r5));
}
H(override_return)
{
    UNUSED_ARGS();
    struct bpftime_invocation *inv = current_invocation;
    if (!inv)
        return RET(-EOPNOTSUPP);
    inv->override_set = 1;
    inv->override_value = r2;
    return 0;
}
H(ringbuf_output)
{
    UNUSED_ARGS();
    return RET(bpftime_ringbuf_output(PTR(r1), PTR(r2), r3, r4));
}
H(ringbuf_reserve)
{
    UNUSED_ARGS();
    if (r3 != 0)
        return 0;
    return (uint64_t)(uintptr_t)bpftime_ringbuf_reserve(PTR(r1), r2);
}
H(ringbuf_submit)
{
    UNUSED_ARGS();
    bpftime_ringbuf_submit(PTR(r1), r2, false);
    return 0;
}
H(ringbuf_discard)
{
    UNUSED_ARGS();
    bpftime_ringbuf_submit(PTR(r1), r2, true);
    return 0;
}
H(ringbuf_query)
{
    UNUSED_ARGS();
    return bpftime_ringbuf_query(PTR(r1), r2);
}
H(snprintf)
{
    UNUSED_ARGS();
    char *str = PTR(r1);
    uint32_t size = (uint32_t)r2;
    uint32_t data_len = (uint32_t)r5;
    if (data_len % 8 || data_len / 8 > SNPRINTF_MAX_ARGS || (data_len && !r4))
        return RET(-EINVAL);
    uint64_t args[SNPRINTF_MAX_ARGS];
    if (data_len)
        memcpy(args, PTR(r4), data_len);
    int n = bpftime_format(size ? str : NULL, size, PTR(r3), UINT32_MAX, args, data_len / 8);
    if (n < 0) {
        if (size)
            str[0] = 0;
        return RET(n);
    }
    return (uint64_t)n + 1;
}
H(get_stackid)
{
    UNUSED_ARGS();
    return RET(bpftime_get_stackid(PTR(r2), r3));
}
H(get_stack)
{
    UNUSED_ARGS();
    return RET(bpftime_get_stack(PTR(r2), (uint32_t)r3, r4));
}
/* There is no task_struct in userspace: 0, so reads through it fail
 * (-EFAULT) and BPF_CORE_READ() chains yield 0. The _btf flavour is a
 * plain value too (no BTF-typed pointers here): a program that
 * dereferences it directly is refused by the verifier. */
H(get_current_task)
{
    UNUSED_ARGS();
    return 0;
}
H(get_current_task_btf)
{
    UNUSED_ARGS();
    return 0;
}
H(get_func_ip)
{
    UNUSED_ARGS();
    return current_invocation ? current_invocation->func_ip : 0;
}
H(get_attach_cookie)
{
    UNUSED_ARGS();
    return current_invocation ? current_invocation->cookie : 0;
}
H(strncmp)
{
    UNUSED_ARGS();
    const unsigned char *a = PTR(r1), *b = PTR(r3);
    for (uint64_t i = 0; i < r2; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? RET(-1) : 1;
        if (!a[i])
            break;
    }
    return 0;
}

static const struct {
    uint32_t id;
    const char *name;
    ebpf_helper_fn fn;
} helper_table[] = {
#define BPF_HELPER(id, name, ret, a1, a2, a3, a4, a5, cls) {id, "bpf_" #name, bh_##name},
#include "runtime/helpers.def"
#undef BPF_HELPER
};

int bpftime_register_helpers(struct ebpf_vm *vm)
{
    for (size_t i = 0; i < sizeof helper_table / sizeof helper_table[0]; i++) {
        int rc = ebpf_vm_register_helper(vm, helper_table[i].id, helper_table[i].name,
                                         helper_table[i].fn);
        if (rc)
            return bpftime_set_error(rc, "registering helper %s: %s", helper_table[i].name,
                                     ebpf_vm_error(vm));
    }
    return 0;
}
