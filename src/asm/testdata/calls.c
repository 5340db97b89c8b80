// Helper calls, bpf-to-bpf calls, map references (lddw with relocations).
typedef unsigned long long u64;

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;

struct {
  int type;
  int max_entries;
} counts __attribute__((section(".maps")));

static volatile u64 global_total;

__attribute__((noinline)) static int square(int x) {
  return x * x;
}

__attribute__((noinline)) static int sum_squares(int n) {
  int s = 0;
  for (int i = 0; i < n && i < 16; i++) s += square(i);
  return s;
}

__attribute__((section("uprobe/calls"))) int calls(u64 *ctx) {
  int key = (int)ctx[0];
  u64 *v = bpf_map_lookup_elem(&counts, &key);
  u64 now = bpf_ktime_get_ns();
  if (!v) {
    u64 one = 1;
    bpf_map_update_elem(&counts, &key, &one, 0);
    return 0;
  }
  *v += now & 0xff;
  global_total += 1;
  return sum_squares((int)*v);
}

char _license[] __attribute__((section("license"))) = "GPL";
