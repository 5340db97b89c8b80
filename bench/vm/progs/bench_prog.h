/* Shared by the VM benchmark programs. Each progs/<name>.bpf.c defines one
 * PROG(name) over (mem, len). The same file is compiled twice:
 *   - clang -O2 -target bpf: PROG is the only function in .text, the eBPF
 *     code the interpreter, the JIT (and the kernel) run;
 *   - #included by vm_bench.c: PROG is native_<name>, the native baseline.
 * Helpers must be INLINE so .text holds exactly one function, except
 * SUBPROG functions: real bpf-to-bpf calls, declared before PROG and
 * defined after it (the entry must come first in the section). */
#ifndef BENCH_PROG_H
#define BENCH_PROG_H

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long long s64;

#define INLINE static inline __attribute__((always_inline))

#if defined(__bpf__) && defined(BENCH_KERNEL)
/* The kernel variant: an XDP program running the same body over the packet
 * (BPF_PROG_TEST_RUN data); the one bounds check is what the verifier needs. */
struct xdp_md {
    u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};
#define BENCH_LEN 2048
#define PROG(name) \
    static inline __attribute__((always_inline)) u64 name##_body(u8 *mem, u64 len); \
    __attribute__((section("xdp"), used)) int name##_xdp(struct xdp_md *ctx) \
    { \
        u8 *d = (u8 *)(long)ctx->data, *e = (u8 *)(long)ctx->data_end; \
        if (d + BENCH_LEN > e) \
            return 0; \
        return (int)name##_body(d, BENCH_LEN); \
    } \
    static inline __attribute__((always_inline)) u64 name##_body(u8 *mem, u64 len)
#elif defined(__bpf__)
#define PROG(name) __attribute__((used)) u64 name(u8 *mem, u64 len)
#else
#define PROG(name) __attribute__((noinline)) u64 native_##name(u8 *mem, u64 len)
#endif

/* A bpf-to-bpf subprogram: a call natively too. The kernel variant keeps it
 * in the entry's section so the extracted bytes hold the whole program. */
#if defined(__bpf__) && defined(BENCH_KERNEL)
#define SUBPROG static __attribute__((noinline, section("xdp")))
#else
#define SUBPROG static __attribute__((noinline))
#endif

/* Aligned word loads (the harness passes an aligned buffer and the
 * programs use aligned offsets): one ldxdw/ldxw in eBPF, one mov natively.
 * memcpy would make clang's BPF backend emit byte loads. */
INLINE u64 load64(const u8 *p)
{
    return *(const u64 *)__builtin_assume_aligned(p, 8);
}

INLINE u32 load32(const u8 *p)
{
    return *(const u32 *)__builtin_assume_aligned(p, 4);
}

#endif
