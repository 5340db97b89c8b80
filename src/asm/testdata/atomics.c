// Atomic instructions (fetch forms need -mcpu=v3).
typedef unsigned long long u64;
typedef unsigned int u32;

__attribute__((section("kprobe/atomics"))) int atomics(u64 *p) {
  u32 *q = (u32 *)(p + 4);
  __sync_fetch_and_add(p, 1);
  __sync_fetch_and_add(q, 5);
  u64 r = 0;
#if defined(__BPF_CPU_VERSION__) && __BPF_CPU_VERSION__ >= 3
  r += __sync_fetch_and_add(p + 1, 3);
  r += __sync_fetch_and_or(p + 1, 4);
  r += __sync_fetch_and_and(p + 2, 0xff);
  r += __sync_fetch_and_xor(p + 3, 0x10);
  __sync_fetch_and_or(p + 1, 8);
  __sync_fetch_and_and(p + 2, 16);
  __sync_fetch_and_xor(p + 3, 32);
  r += __sync_lock_test_and_set(p + 1, r);
  r += __sync_val_compare_and_swap(p + 2, 4, r);
  r += __sync_fetch_and_or(q, 2);
  r += __sync_lock_test_and_set(q + 1, 9);
  r += __sync_val_compare_and_swap(q + 2, 1, 2);
#endif
  return (int)r;
}
