/* Helpers (called through a VM's helper table as programs call them) and
 * programs run through bpftime_prog_load_vm: lddw map relocation, global
 * data, tail calls. */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"
#include "vm/tests/insn_macros.h"

TEST_REGION_MAKER("rt-help", 8 << 20)

static struct ebpf_vm *helper_vm(void)
{
    struct ebpf_vm *vm = ebpf_vm_create();
    if (vm && bpftime_register_helpers(vm) != 0) {
        ebpf_vm_destroy(vm);
        return NULL;
    }
    return vm;
}

#define CALL(vm, id, a, b, c, d, e) \
    (vm)->helpers[id]((uint64_t)(uintptr_t)(a), (uint64_t)(uintptr_t)(b), \
                      (uint64_t)(uintptr_t)(c), (uint64_t)(uintptr_t)(d), \
                      (uint64_t)(uintptr_t)(e))

TEST(every_helper_of_the_table_is_registered)
{
    struct ebpf_vm *vm = helper_vm();
    CHECK(vm);
    int n = 0;
#define BPF_HELPER(id, name, ...) \
    do { \
        CHECK(vm->helpers[id] != NULL); \
        CHECK(strcmp(vm->helper_names[id], "bpf_" #name) == 0); \
        n++; \
    } while (0);
#include "runtime/helpers.def"
#undef BPF_HELPER
    CHECK(n >= 30);
    ebpf_vm_destroy(vm);
}

/* The kernel's strncpy_from_user (x86-64, word at a time): the word holding
 * the NUL is stored with its bytes after the NUL zeroed, nothing after it;
 * below 8 bytes left, byte by byte. Values worked out by hand from
 * lib/strncpy_from_user.c (test/core-helpers.test.ts compares with the kernel). */
TEST(probe_read_user_str_writes_nothing_past_the_nul_word)
{
    struct ebpf_vm *vm = helper_vm();
    CHECK(vm);
    char src[32];
    memset(src, 'J', sizeof src);
    memcpy(src, "abc", 4);
    uint8_t dst[24], want[24];
    memset(dst, 0xaa, sizeof dst);
    CHECK_EQ(CALL(vm, 114, dst, 24, src, 0, 0), 4);
    memset(want, 0xaa, sizeof want);
    memcpy(want, "abc\0\0\0\0\0", 8);
    CHECK(memcmp(dst, want, sizeof dst) == 0);
    /* 5 bytes: byte at a time, nothing after the NUL */
    memset(dst, 0xaa, sizeof dst);
    CHECK_EQ(CALL(vm, 114, dst, 5, src, 0, 0), 4);
    memset(want, 0xaa, sizeof want);
    memcpy(want, "abc", 4);
    CHECK(memcmp(dst, want, sizeof dst) == 0);
    /* NUL in the second word: the first word whole, the second masked */
    memcpy(src, "abcdefghij", 11);
    memset(dst, 0xaa, sizeof dst);
    CHECK_EQ(CALL(vm, 114, dst, 20, src, 0, 0), 11);
    memset(want, 0xaa, sizeof want);
    memcpy(want, "abcdefghij\0\0\0\0\0\0", 16);
    CHECK(memcmp(dst, want, sizeof dst) == 0);
    /* truncated: len bytes, the last one NUL */
    memset(dst, 0xaa, sizeof dst);
    CHECK_EQ(CALL(vm, 114, dst, 9, src, 0, 0), 9);
    CHECK(memcmp(dst, "abcdefgh\0", 9) == 0);
    CHECK_EQ(dst[9], 0xaa);
    /* the empty string */
    memset(dst, 0xaa, sizeof dst);
    CHECK_EQ(CALL(vm, 114, dst, 16, "", 0, 0), 1);
    CHECK_EQ(dst[0], 0);
    /* room for the NUL alone: as the kernel's strncpy_from_user_nofault, 1 */
    memset(dst, 0xaa, sizeof dst);
    CHECK_EQ(CALL(vm, 114, dst, 1, src, 0, 0), 1);
    CHECK_EQ(dst[0], 0);
    CHECK_EQ(dst[1], 0xaa);
    ebpf_vm_destroy(vm);
}

TEST(probe_read_bad_address_gives_efault)
{
    struct ebpf_vm *vm = helper_vm();
    CHECK(vm);
    uint8_t *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED);
    munmap(page + 4096, 4096); /* second page unmapped */
    char dst[16];
    memset(dst, 'z', sizeof dst);
    for (int id = 0; id < 3; id++) {
        uint32_t hid = id == 0 ? 4 : id == 1 ? 112 : 113;
        memset(dst, 'z', sizeof dst);
        CHECK_EQ(CALL(vm, hid, dst, 8, (void *)8, 0, 0), (uint64_t)-EFAULT);
        CHECK_EQ(dst[0], 0); /* zeroed on failure, as the kernel */
        CHECK_EQ(CALL(vm, hid, dst, 16, page + 4090, 0, 0), (uint64_t)-EFAULT);
    }
    strcpy((char *)page, "hello");
    CHECK_EQ(CALL(vm, 4, dst, 6, page, 0, 0), 0);
    CHECK(strcmp(dst, "hello") == 0);
    CHECK_EQ(CALL(vm, 4, dst, 0, (void *)8, 0, 0), 0); /* size 0 */

    /* _str: length including the NUL, truncation, end of a mapped page */
    CHECK_EQ(CALL(vm, 45, dst, sizeof dst, page, 0, 0), 6);
    CHECK(strcmp(dst, "hello") == 0);
    CHECK_EQ(CALL(vm, 114, dst, 3, page, 0, 0), 3);
    CHECK(strcmp(dst, "he") == 0);
    strcpy((char *)page + 4093, "ab");
    CHECK_EQ(CALL(vm, 115, dst, sizeof dst, page + 4093, 0, 0), 3);
    CHECK(strcmp(dst, "ab") == 0);
    page[4095] = 'x'; /* unterminated up to the unmapped page */
    CHECK_EQ(CALL(vm, 114, dst, sizeof dst, page + 4093, 0, 0), (uint64_t)-EFAULT);
    CHECK_EQ(CALL(vm, 45, dst, sizeof dst, NULL, 0, 0), (uint64_t)-EFAULT);

    /* probe_write_user: read-only and unmapped memory refuse */
    CHECK_EQ(CALL(vm, 36, page, "HI", 2, 0, 0), 0);
    CHECK(memcmp(page, "HIllo", 5) == 0);
    mprotect(page, 4096, PROT_READ);
    CHECK_EQ(CALL(vm, 36, page, "no", 2, 0, 0), (uint64_t)-EFAULT);
    CHECK_EQ(CALL(vm, 36, page + 4096, "no", 2, 0, 0), (uint64_t)-EFAULT);
    CHECK(memcmp(page, "HIllo", 5) == 0);
    munmap(page, 4096);
    ebpf_vm_destroy(vm);
}

TEST(snprintf_kernel_semantics)
{
    struct ebpf_vm *vm = helper_vm();
    CHECK(vm);
    char out[64];
    uint64_t args[4] = {(uint64_t)-5, (uint64_t)(uintptr_t) "str", 0xbeef, 'Q'};
    uint64_t n = CALL(vm, 165, out, sizeof out, "a=%d s=%s x=%llx c=%c", args, 32);
    CHECK(strcmp(out, "a=-5 s=str x=beef c=Q") == 0);
    CHECK_EQ(n, strlen("a=-5 s=str x=beef c=Q") + 1);
    /* truncated: still NUL-terminated, returns the full length + 1 */
    n = CALL(vm, 165, out, 5, "a=%d s=%s x=%llx c=%c", args, 32);
    CHECK_EQ(n, strlen("a=-5 s=str x=beef c=Q") + 1);
    CHECK(strcmp(out, "a=-5") == 0);
    n = CALL(vm, 165, NULL, 0, "%u", args, 8);
    CHECK_EQ(n, strlen("4294967291") + 1); /* %u of a 32-bit -5 */
    uint64_t wide[3] = {(uint64_t)-1, 7, 0x1234};
    /* four conversions, three arguments */
    CHECK_EQ(CALL(vm, 165, out, sizeof out, "%ld %5lu|%-4x|%04d", wide, 24), (uint64_t)-EINVAL);
    CHECK_EQ(CALL(vm, 165, out, sizeof out, "%03d|%%", wide + 1, 8), strlen("007|%") + 1);
    CHECK(strcmp(out, "007|%") == 0);
    CHECK_EQ(CALL(vm, 165, out, sizeof out, "%ld %5lu|%-4x|", wide, 24),
             strlen("-1     7|1234|") + 1);
    CHECK(strcmp(out, "-1     7|1234|") == 0);
    /* the kernel's %px: 16 zero-padded hex digits (test/kernel-diff.test.ts
     * compares the whole table with the kernel's bpf_snprintf) */
    CHECK_EQ(CALL(vm, 165, out, sizeof out, "%px", &wide[2], 8), strlen("0000000000001234") + 1);
    CHECK(strcmp(out, "0000000000001234") == 0);
    /* errors: unsupported conversion, too few args, bad data_len */
    CHECK_EQ(CALL(vm, 165, out, sizeof out, "%f", args, 8), (uint64_t)-EINVAL);
    CHECK_EQ(CALL(vm, 165, out, sizeof out, "%d %d", args, 8), (uint64_t)-EINVAL);
    CHECK_EQ(CALL(vm, 165, out, sizeof out, "%d", args, 7), (uint64_t)-EINVAL);
    CHECK_EQ(CALL(vm, 165, out, sizeof out, "%d", args, 13 * 8), (uint64_t)-EINVAL);
    /* %s of a bad pointer does not crash and prints empty, as the kernel */
    uint64_t bad = 8;
    CHECK_EQ(CALL(vm, 165, out, sizeof out, "[%s]", &bad, 8), strlen("[]") + 1);
    CHECK(strcmp(out, "[]") == 0);
    ebpf_vm_destroy(vm);
}

TEST(strncmp_helper)
{
    struct ebpf_vm *vm = helper_vm();
    CHECK(vm);
    CHECK_EQ(CALL(vm, 182, "abc", 3, "abc", 0, 0), 0);
    CHECK_EQ(CALL(vm, 182, "abd", 3, "abc", 0, 0), 1);
    CHECK_EQ(CALL(vm, 182, "abb", 3, "abc", 0, 0), (uint64_t)-1);
    CHECK_EQ(CALL(vm, 182, "abcdef", 3, "abc", 0, 0), 0); /* only s1_sz bytes */
    CHECK_EQ(CALL(vm, 182, "ab", 3, "abc", 0, 0), (uint64_t)-1);
    CHECK_EQ(CALL(vm, 182, "GET /x", 4, "GET ", 0, 0), 0);
    ebpf_vm_destroy(vm);
}

TEST(trace_printk_goes_to_the_trace_ring)
{
    struct bpftime_region *r = mk("trace");
    CHECK(r);
    struct ebpf_vm *vm = helper_vm();
    bpftime_helpers_set_trace_region(r);
    const char fmt[] = "pid %d says %s (%x)\n";
    uint64_t n = CALL(vm, 6, fmt, sizeof fmt, 1234, "hi", 255);
    const char *expect = "pid 1234 says hi (ff)\n";
    CHECK_EQ(n, strlen(expect));
    CHECK_EQ(CALL(vm, 6, "%q", 3, 0, 0, 0), (uint64_t)-EINVAL);
    char buf[256];
    uint32_t len;
    CHECK_EQ(bpftime_trace_read(r, buf, sizeof buf, &len), 1);
    CHECK(strcmp(buf + BPFTIME_TRACE_HDR, expect) == 0);
    CHECK_EQ(bpftime_trace_read(r, buf, sizeof buf, &len), 0);
    ebpf_vm_destroy(vm);
    bpftime_region_close(r); /* also detaches the trace sink */
    vm = helper_vm();
    CHECK_EQ(CALL(vm, 6, "x", 2, 0, 0, 0), 1); /* to the log now */
    ebpf_vm_destroy(vm);
}

TEST(process_and_time_helpers)
{
    struct ebpf_vm *vm = helper_vm();
    CHECK(vm);
    uint64_t pt = CALL(vm, 14, 0, 0, 0, 0, 0);
    CHECK_EQ(pt >> 32, getpid());
    CHECK_EQ(pt & 0xffffffff, gettid());
    uint64_t ug = CALL(vm, 15, 0, 0, 0, 0, 0);
    CHECK_EQ(ug & 0xffffffff, getuid());
    CHECK_EQ(ug >> 32, getgid());
    prctl(PR_SET_NAME, "helpertest", 0, 0, 0);
    char comm[16];
    memset(comm, 'x', sizeof comm);
    CHECK_EQ(CALL(vm, 16, comm, sizeof comm, 0, 0, 0), 0);
    CHECK(strcmp(comm, "helpertest") == 0);
    CHECK_EQ(comm[15], 0);
    CHECK_EQ(CALL(vm, 16, comm, 4, 0, 0, 0), 0);
    CHECK(strcmp(comm, "hel") == 0);
    uint64_t a = CALL(vm, 5, 0, 0, 0, 0, 0), b = CALL(vm, 5, 0, 0, 0, 0, 0);
    CHECK(a > 0 && b >= a);
    CHECK(CALL(vm, 125, 0, 0, 0, 0, 0) >= a / 2);
    CHECK(CALL(vm, 8, 0, 0, 0, 0, 0) < (uint64_t)sysconf(_SC_NPROCESSORS_CONF));
    uint64_t r1 = CALL(vm, 7, 0, 0, 0, 0, 0), r2 = CALL(vm, 7, 0, 0, 0, 0, 0);
    uint64_t r3 = CALL(vm, 7, 0, 0, 0, 0, 0);
    CHECK(r1 <= 0xffffffffu && (r1 != r2 || r2 != r3));
    ebpf_vm_destroy(vm);
}

TEST(invocation_context_helpers)
{
    struct ebpf_vm *vm = helper_vm();
    CHECK(vm);
    CHECK_EQ(CALL(vm, 173, 0, 0, 0, 0, 0), 0);
    CHECK_EQ(CALL(vm, 58, 0, 7, 0, 0, 0), (uint64_t)-EOPNOTSUPP);
    struct bpftime_invocation inv = {.func_ip = 0x401000, .cookie = 77};
    bpftime_invocation_set(&inv);
    CHECK(bpftime_invocation_get() == &inv);
    CHECK_EQ(CALL(vm, 173, 0, 0, 0, 0, 0), 0x401000);
    CHECK_EQ(CALL(vm, 174, 0, 0, 0, 0, 0), 77);
    CHECK_EQ(CALL(vm, 58, 0, (uint64_t)-1, 0, 0, 0), 0);
    CHECK_EQ(inv.override_set, 1);
    CHECK_EQ(inv.override_value, (uint64_t)-1);
    bpftime_invocation_set(NULL);
    ebpf_vm_destroy(vm);
}

TEST(map_and_ringbuf_helpers)
{
    struct bpftime_region *r = mk("maph");
    CHECK(r);
    struct ebpf_vm *vm = helper_vm();
    int hid = bpftime_map_create(r, "h", BPFTIME_MAP_HASH, 4, 8, 4, 0, 0);
    int qid = bpftime_map_create(r, "q", BPFTIME_MAP_QUEUE, 0, 4, 2, 0, 0);
    int rid = bpftime_map_create(r, "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, 0, 0);
    struct bpftime_map *h = bpftime_map_handle(r, hid), *q = bpftime_map_handle(r, qid),
                       *rb = bpftime_map_handle(r, rid);
    uint32_t k = 3;
    uint64_t v = 9;
    CHECK_EQ(CALL(vm, 1, h, &k, 0, 0, 0), 0);
    CHECK_EQ(CALL(vm, 2, h, &k, &v, BPFTIME_NOEXIST, 0), 0);
    CHECK_EQ(CALL(vm, 2, h, &k, &v, BPFTIME_NOEXIST, 0), (uint64_t)-EEXIST);
    uint64_t *p = (uint64_t *)(uintptr_t)CALL(vm, 1, h, &k, 0, 0, 0);
    CHECK(p && *p == 9);
    CHECK_EQ(CALL(vm, 3, h, &k, 0, 0, 0), 0);
    CHECK_EQ(CALL(vm, 3, h, &k, 0, 0, 0), (uint64_t)-ENOENT);
    uint32_t x = 5, y = 0;
    CHECK_EQ(CALL(vm, 87, q, &x, 0, 0, 0), 0);
    CHECK_EQ(CALL(vm, 89, q, &y, 0, 0, 0), 0);
    CHECK_EQ(y, 5);
    CHECK_EQ(CALL(vm, 88, q, &y, 0, 0, 0), 0);
    CHECK_EQ(CALL(vm, 88, q, &y, 0, 0, 0), (uint64_t)-ENOENT);
    /* a wrong handle is refused, not dereferenced blindly */
    uint64_t junk[16] = {0};
    CHECK_EQ(CALL(vm, 1, junk, &k, 0, 0, 0), 0);

    CHECK_EQ(CALL(vm, 131, rb, 8, 1, 0, 0), 0); /* flags must be 0 */
    uint64_t *rec = (uint64_t *)(uintptr_t)CALL(vm, 131, rb, 8, 0, 0, 0);
    CHECK(rec);
    *rec = 0xabcdef;
    CALL(vm, 132, rec, 0, 0, 0, 0);
    rec = (uint64_t *)(uintptr_t)CALL(vm, 131, rb, 8, 0, 0, 0);
    CALL(vm, 133, rec, 0, 0, 0, 0);
    CHECK_EQ(CALL(vm, 130, rb, "xyz", 3, 0, 0), 0);
    CHECK_EQ(CALL(vm, 134, rb, BPFTIME_RB_AVAIL_DATA, 0, 0, 0), 48);
    uint64_t out = 0;
    uint32_t len;
    CHECK_EQ(bpftime_ringbuf_read(r, rid, &out, 8, &len, NULL), 1);
    CHECK_EQ(out, 0xabcdef);
    char s[8];
    CHECK_EQ(bpftime_ringbuf_read(r, rid, s, 8, &len, NULL), 1);
    CHECK_EQ(len, 3);
    ebpf_vm_destroy(vm);
    bpftime_region_close(r);
}

/* ---- programs through bpftime_prog_load_vm ---- */

static int store_prog(struct bpftime_region *r, const struct ebpf_inst *insns, uint32_t n,
                      const uint32_t *maps, uint32_t nmaps)
{
    return bpftime_prog_create(r, "t", 1, "GPL", "", insns, n, maps, nmaps);
}

TEST(program_updates_map_through_lddw)
{
    int arr;
    struct bpftime_region *r = mk_with_map(t, "prog", "counts", BPFTIME_MAP_ARRAY, 4, 8, 1, &arr);
    const struct ebpf_inst prog[] = {
        ST_IMM(BPF_W, 10, -4, 0),
        MOV64_REG(2, 10),
        ALU64_IMM(BPF_ADD, 2, -4),
        LDDW_PSEUDO(1, 5, 0, 0), /* map index 0 */
        CALL_HELPER(1),
        JMP_IMM(BPF_JEQ, 0, 0, 4),
        MOV64_IMM(1, 5),
        ATOMIC(BPF_DW, BPF_ADD, 0, 1, 0),
        MOV64_IMM(0, 1),
        EXIT(),
        MOV64_IMM(0, 2),
        EXIT(),
    };
    uint32_t maps[1] = {(uint32_t)arr};
    int p = store_prog(r, prog, sizeof prog / sizeof prog[0], maps, 1);
    CHECK(p > 0);
    struct ebpf_vm *vm;
    int rc = bpftime_prog_load_vm(r, p, &vm);
    if (rc)
        fprintf(stdout, "load: %s\n", bpftime_last_error_message());
    CHECK_EQ(rc, 0);
    uint64_t ret = 0;
    for (int i = 0; i < 3; i++) {
        rc = ebpf_vm_exec(vm, NULL, 0, &ret);
        if (rc)
            fprintf(stdout, "exec: %s\n", ebpf_vm_error(vm));
        CHECK_EQ(rc, 0);
        CHECK_EQ(ret, 1);
    }
    uint32_t k = 0;
    uint64_t v;
    CHECK_EQ(bpftime_map_lookup(r, arr, &k, &v), 0);
    CHECK_EQ(v, 15);
    bpftime_region_close(r);
}

TEST(program_reads_global_data)
{
    int data;
    struct bpftime_region *r = mk_with_map(t, "gdata", ".data", BPFTIME_MAP_ARRAY, 4, 16, 1, &data);
    uint64_t init[2] = {1, 1234};
    uint32_t k = 0;
    CHECK_EQ(bpftime_map_update(r, data, &k, init, 0), 0);
    const struct ebpf_inst prog[] = {
        LDDW_PSEUDO(1, 6, 0, 8), /* &value + 8 */
        LDX(BPF_DW, 0, 1, 0),
        ST_IMM(BPF_DW, 1, -8, 77), /* write the first u64 */
        EXIT(),
    };
    uint32_t maps[1] = {(uint32_t)data};
    int p = store_prog(r, prog, 5, maps, 1);
    struct ebpf_vm *vm;
    CHECK_EQ(bpftime_prog_load_vm(r, p, &vm), 0);
    uint64_t ret;
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &ret), 0);
    CHECK_EQ(ret, 1234);
    CHECK_EQ(bpftime_map_lookup(r, data, &k, init), 0);
    CHECK_EQ(init[0], 77);
    /* offsets past the value and unknown map indexes fail the load */
    const struct ebpf_inst bad[] = {LDDW_PSEUDO(1, 6, 0, 16), MOV64_IMM(0, 0), EXIT()};
    p = store_prog(r, bad, 4, maps, 1);
    CHECK(bpftime_prog_load_vm(r, p, &vm) < 0);
    const struct ebpf_inst bad2[] = {LDDW_PSEUDO(1, 5, 3, 0), MOV64_IMM(0, 0), EXIT()};
    p = store_prog(r, bad2, 4, maps, 1);
    CHECK(bpftime_prog_load_vm(r, p, &vm) < 0);
    bpftime_region_close(r);
}

/* The tail-call tests' programs: a callee returning 42 and a caller that
 * tail-calls slot 0 of its map 0 (2 and 6 instructions). */
static const struct ebpf_inst callee[] = {MOV64_IMM(0, 42), EXIT()};
static const struct ebpf_inst caller[] = {
    LDDW_PSEUDO(2, 5, 0, 0),
    MOV64_IMM(3, 0),
    CALL_HELPER(12),
    MOV64_IMM(0, 99), /* reached only if the tail call fails */
    EXIT(),
};

TEST(tail_call_through_prog_array)
{
    int pa;
    struct bpftime_region *r = mk_with_map(t, "tail", "jmp", BPFTIME_MAP_PROG_ARRAY, 4, 4, 2, &pa);
    uint32_t maps[1] = {(uint32_t)pa};
    int target = store_prog(r, callee, 2, NULL, 0);
    int entry = store_prog(r, caller, 6, maps, 1);
    CHECK(target > 0 && entry > 0);
    struct ebpf_vm *vm;
    CHECK_EQ(bpftime_prog_load_vm(r, entry, &vm), 0);
    uint64_t ret;
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &ret), 0);
    CHECK_EQ(ret, 99); /* empty slot: falls through */
    uint32_t k = 0, v = (uint32_t)target;
    CHECK_EQ(bpftime_map_update(r, pa, &k, &v, 0), 0);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &ret), 0);
    CHECK_EQ(ret, 42);
    /* as in the kernel, the next tail call runs what the slot holds now */
    static const struct ebpf_inst callee7[] = {MOV64_IMM(0, 7), EXIT()};
    int other = store_prog(r, callee7, 2, NULL, 0);
    v = (uint32_t)other;
    CHECK_EQ(bpftime_map_update(r, pa, &k, &v, 0), 0);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &ret), 0);
    CHECK_EQ(ret, 7);
    v = (uint32_t)target;
    CHECK_EQ(bpftime_map_update(r, pa, &k, &v, 0), 0);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &ret), 0);
    CHECK_EQ(ret, 42);
    bpftime_region_close(r);
}

/* As the kernel: a prog_array's tail calls run programs of one type, the
 * type of the first program that uses the array (else of those it holds). */
TEST(prog_array_refuses_a_program_of_another_type)
{
    int pa;
    struct bpftime_region *r =
        mk_with_map(t, "pa_type", "jmp", BPFTIME_MAP_PROG_ARRAY, 4, 4, 4, &pa);
    uint32_t maps[1] = {(uint32_t)pa};
    /* type 6 (xdp) uses the array; 2 (kprobe) and 6 are candidates */
    int kprobe = bpftime_prog_create(r, "k", 2, "GPL", "", callee, 2, NULL, 0);
    int xdp_target = bpftime_prog_create(r, "x", 6, "GPL", "", callee, 2, NULL, 0);
    int xdp_entry = bpftime_prog_create(r, "e", 6, "GPL", "", caller, 6, maps, 1);
    CHECK(kprobe > 0 && xdp_target > 0 && xdp_entry > 0);
    uint32_t k = 0, v = (uint32_t)kprobe;
    CHECK_EQ(bpftime_map_update(r, pa, &k, &v, 0), -EINVAL);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "kprobe");
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "xdp");
    v = (uint32_t)xdp_target;
    CHECK_EQ(bpftime_map_update(r, pa, &k, &v, 0), 0);

    /* an array nobody uses yet takes the type of what it holds */
    int pa2 = bpftime_map_create(r, "jmp2", BPFTIME_MAP_PROG_ARRAY, 4, 4, 4, 0, 0);
    CHECK_EQ(bpftime_map_update(r, pa2, &k, &v, 0), 0);
    uint32_t k1 = 1, vk = (uint32_t)kprobe;
    CHECK_EQ(bpftime_map_update(r, pa2, &k1, &vk, 0), -EINVAL);
    /* replacing the only entry is not a mix */
    CHECK_EQ(bpftime_map_update(r, pa2, &k, &vk, 0), 0);
    bpftime_region_close(r);
}

/* Defence in depth: an entry stored before a program of another type began
 * using the array is never run by that program's tail calls. */
TEST(tail_call_into_another_type_falls_through)
{
    int pa;
    struct bpftime_region *r =
        mk_with_map(t, "tc_type", "jmp", BPFTIME_MAP_PROG_ARRAY, 4, 4, 2, &pa);
    uint32_t maps[1] = {(uint32_t)pa};
    int kprobe = bpftime_prog_create(r, "k", 2, "GPL", "", callee, 2, NULL, 0);
    uint32_t k = 0, v = (uint32_t)kprobe;
    CHECK_EQ(bpftime_map_update(r, pa, &k, &v, 0), 0); /* no user yet */
    int xdp_entry = bpftime_prog_create(r, "e", 6, "GPL", "", caller, 6, maps, 1);
    CHECK(xdp_entry > 0);
    struct ebpf_vm *vm;
    CHECK_EQ(bpftime_prog_load_vm(r, xdp_entry, &vm), 0);
    uint64_t ret;
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &ret), 0);
    CHECK_EQ(ret, 99);
    bpftime_region_close(r);
}

TEST(load_vm_is_shared_and_reference_counted)
{
    struct bpftime_region *r = mk("refs");
    CHECK(r);
    const struct ebpf_inst prog[] = {MOV64_IMM(0, 7), EXIT()};
    int p = store_prog(r, prog, 2, NULL, 0);
    struct ebpf_vm *a, *b;
    CHECK_EQ(bpftime_prog_load_vm(r, p, &a), 0);
    CHECK_EQ(bpftime_prog_load_vm(r, p, &b), 0);
    CHECK(a == b);
    bpftime_prog_unload_vm(r, p);
    uint64_t ret = 0;
    CHECK_EQ(ebpf_vm_exec(a, NULL, 0, &ret), 0); /* still held once */
    CHECK_EQ(ret, 7);
    /* deleting the program from the region leaves loaded VMs alone */
    CHECK_EQ(bpftime_prog_delete(r, p), 0);
    CHECK_EQ(ebpf_vm_exec(a, NULL, 0, &ret), 0);
    bpftime_prog_unload_vm(r, p);
    CHECK(bpftime_prog_load_vm(r, p, &a) == -ENOENT);
    bpftime_region_close(r);
}

TEST(deleted_map_handle_is_retired_not_freed)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "retire", "h", BPFTIME_MAP_HASH, 4, 4, 4, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    uint32_t k = 1;
    CHECK_EQ(bpftime_map_h_update(h, &k, &k, 0, true), 0);
    CHECK_EQ(bpftime_map_delete(r, id), 0);
    /* a stale handle fails cleanly (ASan would flag a use after free) */
    CHECK(bpftime_map_lookup_ptr(h, &k) == NULL);
    CHECK_EQ(bpftime_map_h_update(h, &k, &k, 0, true), -EINVAL);
    bpftime_region_close(r);
}

TEST(trace_vprintk_and_percpu_lookup_helpers)
{
    struct bpftime_region *r = mk("vprintk");
    CHECK(r);
    struct ebpf_vm *vm = helper_vm();
    bpftime_helpers_set_trace_region(r);
    const char fmt[] = "%d %d %d %d %s";
    uint64_t args[5] = {1, 2, 3, 4, (uint64_t)(uintptr_t) "five"};
    CHECK_EQ(CALL(vm, 177, fmt, sizeof fmt, args, 40, 0), strlen("1 2 3 4 five"));
    CHECK_EQ(CALL(vm, 177, fmt, sizeof fmt, args, 12, 0), (uint64_t)-EINVAL);
    char buf[128];
    uint32_t len;
    CHECK_EQ(bpftime_trace_read(r, buf, sizeof buf, &len), 1);
    CHECK(strcmp(buf + BPFTIME_TRACE_HDR, "1 2 3 4 five") == 0);
    CHECK(CALL(vm, 160, 0, 0, 0, 0, 0) > 0);

    uint32_t n = bpftime_region_ncpus(r);
    int id = bpftime_map_create(r, "pc", BPFTIME_MAP_PERCPU_ARRAY, 4, 4, 1, 0, 0);
    uint8_t *vals = calloc(n, 8);
    for (uint32_t c = 0; c < n; c++)
        vals[c * 8] = (uint8_t)(10 + c);
    uint32_t k = 0;
    CHECK_EQ(bpftime_map_update(r, id, &k, vals, 0), 0);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    for (uint32_t c = 0; c < n; c++) {
        uint8_t *p = (uint8_t *)(uintptr_t)CALL(vm, 195, h, &k, c, 0, 0);
        CHECK(p);
        CHECK_EQ(*p, 10 + c);
    }
    CHECK_EQ(CALL(vm, 195, h, &k, n, 0, 0), 0);
    int plain = bpftime_map_create(r, "a", BPFTIME_MAP_ARRAY, 4, 4, 1, 0, 0);
    CHECK_EQ(CALL(vm, 195, bpftime_map_handle(r, plain), &k, 0, 0, 0), 0);
    free(vals);
    ebpf_vm_destroy(vm);
    bpftime_region_close(r);
}

/* The JIT inlines bpf_map_lookup_elem on plain arrays through the runtime's
 * map_inline callback: the pointers must be the helper's, for value sizes
 * that are not multiples of 8 and keys at and past max_entries; per-CPU
 * arrays, prog_arrays, hashes and maps the program does not use are never
 * described. */
TEST(jit_inlines_array_lookup_like_the_helper)
{
    struct bpftime_region *r = mk("inline");
    CHECK(r);
    static const uint32_t value_sizes[] = {3, 8, 12, 100};
    for (size_t vi = 0; vi < sizeof value_sizes / sizeof *value_sizes; vi++) {
        const uint32_t max = 5;
        int arr = bpftime_map_create(r, "arr", BPFTIME_MAP_ARRAY, 4, value_sizes[vi], max, 0, 0);
        int pc = bpftime_map_create(r, "pc", BPFTIME_MAP_PERCPU_ARRAY, 4, 8, max, 0, 0);
        int pa = bpftime_map_create(r, "pa", BPFTIME_MAP_PROG_ARRAY, 4, 4, max, 0, 0);
        int hs = bpftime_map_create(r, "hs", BPFTIME_MAP_HASH, 4, 8, max, 0, 0);
        int other = bpftime_map_create(r, "other", BPFTIME_MAP_ARRAY, 4, 8, max, 0, 0);
        CHECK(arr > 0 && pc > 0 && pa > 0 && hs > 0 && other > 0);
        const struct ebpf_inst prog[] = {
            LDX(BPF_W, 2, 1, 0),
            STX(BPF_W, 10, 2, -4),
            MOV64_REG(2, 10),
            ALU64_IMM(BPF_ADD, 2, -4),
            LDDW_PSEUDO(1, 5, 0, 0), /* map index 0: the array */
            CALL_HELPER(1),
            JMP_IMM(BPF_JEQ, 0, 0, 2),
            LDX(BPF_W, 1, 10, -4),
            STX(BPF_B, 0, 1, 0), /* first byte of the value = key */
            EXIT(),
        };
        uint32_t maps[4] = {(uint32_t)arr, (uint32_t)pc, (uint32_t)pa, (uint32_t)hs};
        int p = store_prog(r, prog, sizeof prog / sizeof prog[0], maps, 4);
        CHECK(p > 0);
        struct ebpf_vm *vm;
        CHECK_EQ(bpftime_prog_load_vm(r, p, &vm), 0);
        CHECK(vm->map_inline);
        struct ebpf_array_inline a;
        struct bpftime_map *h = bpftime_map_handle(r, arr);
        CHECK(vm->map_inline(vm->map_inline_user, (uint64_t)(uintptr_t)h, &a));
        CHECK_EQ(a.values, (uint64_t)(uintptr_t)h->data);
        CHECK_EQ(a.stride, (value_sizes[vi] + 7) & ~7u);
        CHECK_EQ(a.max_entries, max);
        const int no[] = {pc, pa, hs, other};
        for (int k = 0; k < 4; k++)
            CHECK(!vm->map_inline(vm->map_inline_user,
                                  (uint64_t)(uintptr_t)bpftime_map_handle(r, (uint32_t)no[k]), &a));
        CHECK(!vm->map_inline(vm->map_inline_user, 0x1000, &a));
        ebpf_jit_fn fn;
        CHECK_EQ(ebpf_vm_compile(vm, &fn), 0);
        const uint32_t keys[] = {0, 1, max - 1, max, max + 1, 0x80000000u, 0xffffffffu};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            uint32_t key = keys[k];
            uint64_t want = (uint64_t)(uintptr_t)bpftime_map_lookup_ptr(h, &key), ri = 1;
            CHECK_EQ(want != 0, key < max);
            CHECK_EQ(ebpf_vm_exec(vm, &key, 4, &ri), 0);
            CHECK_EQ(ri, want);
            if (want) {
                CHECK_EQ(*(uint8_t *)(uintptr_t)want, (uint8_t)key);
                *(uint8_t *)(uintptr_t)want = 0xee;
            }
            CHECK_EQ(fn(&key, 4), want);
            if (want)
                CHECK_EQ(*(uint8_t *)(uintptr_t)want, (uint8_t)key);
        }
        bpftime_prog_unload_vm(r, (uint32_t)p);
        /* the program's maps go with it; the one it never used stays */
        CHECK_EQ(bpftime_prog_delete(r, (uint32_t)p), 0);
        const int used[] = {arr, pc, pa, hs};
        struct bpftime_map_info mi;
        for (int k = 0; k < 4; k++)
            CHECK_EQ(bpftime_map_get(r, (uint32_t)used[k], &mi), -ENOENT);
        CHECK_EQ(bpftime_map_delete(r, (uint32_t)other), 0);
    }
    bpftime_region_close(r);
}

/* get_stack / get_stackid on a synthetic frame chain: rip, then each frame's
 * return address along rbp (the chain ends where a frame pointer cannot be
 * read); skip, short buffers, kernel stacks (empty), one id per stack. */
struct fake_regs {
    uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
    uint64_t rax, rcx, rdx, rsi, rdi, orig_rax;
    uint64_t rip, cs, eflags, rsp, ss;
};

TEST(stack_helpers_walk_frame_pointers)
{
    struct bpftime_region *r = mk("stack");
    CHECK(r);
    struct ebpf_vm *vm = helper_vm();
    /* frames: f1 -> f2 -> an unmapped page (the walk stops there) */
    uint8_t *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED);
    munmap(page + 4096, 4096);
    uint64_t *f1 = (uint64_t *)(void *)page, *f2 = f1 + 2;
    f1[0] = (uint64_t)(uintptr_t)f2;
    f1[1] = 0x1111;
    f2[0] = (uint64_t)(uintptr_t)(page + 4096);
    f2[1] = 0x2222;
    struct fake_regs regs = {.rip = 0x4000, .rbp = (uint64_t)(uintptr_t)f1};
    struct bpftime_invocation inv = {.func_ip = 0x3000, .regs = &regs}; /* not an entry probe */
    bpftime_invocation_set(&inv);
    uint64_t buf[6];
    memset(buf, 0xaa, sizeof buf);
    CHECK_EQ(CALL(vm, 67, &regs, buf, sizeof buf, 1ull << 8, 0), 24);
    CHECK_EQ(buf[0], 0x4000);
    CHECK_EQ(buf[1], 0x1111);
    CHECK_EQ(buf[2], 0x2222);
    CHECK_EQ(buf[3], 0);                                            /* the rest zeroed */
    CHECK_EQ(CALL(vm, 67, &regs, buf, 16, (1ull << 8) | 1, 0), 16); /* skip 1, room for 2 */
    CHECK_EQ(buf[0], 0x1111);
    CHECK_EQ(buf[1], 0x2222);
    CHECK_EQ(CALL(vm, 67, &regs, buf, 16, (1ull << 8) | 4, 0), (uint64_t)-EFAULT);
    CHECK_EQ(buf[0], 0);
    CHECK_EQ(CALL(vm, 67, &regs, buf, 12, 1ull << 8, 0), (uint64_t)-EINVAL);
    memset(buf, 0xaa, sizeof buf);
    CHECK_EQ(CALL(vm, 67, &regs, buf, 16, 0, 0), 0); /* kernel stack: empty */
    CHECK_EQ(buf[0], 0);
    CHECK_EQ(buf[1], 0);

    int sid = bpftime_map_create(r, "st", BPFTIME_MAP_STACK_TRACE, 4, 4 * 8, 2, 0, 0);
    CHECK(sid > 0);
    struct bpftime_map *st = bpftime_map_handle(r, sid);
    int64_t id = (int64_t)CALL(vm, 27, &regs, st, 1ull << 8, 0, 0);
    CHECK(id >= 0 && id < 2);
    CHECK_EQ(CALL(vm, 27, &regs, st, 1ull << 8, 0, 0), (uint64_t)id);
    CHECK_EQ(CALL(vm, 27, &regs, st, 0, 0, 0), (uint64_t)-EFAULT); /* kernel stack */
    CHECK_EQ(CALL(vm, 27, &regs, st, (1ull << 8) | 3, 0, 0), (uint64_t)-EFAULT);
    CHECK_EQ(CALL(vm, 27, &regs, st, 1ull << 12, 0, 0), (uint64_t)-EINVAL);
    uint32_t key = (uint32_t)id;
    uint64_t val[4];
    CHECK_EQ(bpftime_map_lookup(r, (uint32_t)sid, &key, val), 0);
    CHECK_EQ(val[0], 0x4000);
    CHECK_EQ(val[2], 0x2222);
    CHECK_EQ(val[3], 0);
    /* another stack in the other bucket or, colliding, -EEXIST / replaced */
    regs.rip = 0x5000;
    int64_t id2 = (int64_t)CALL(vm, 27, &regs, st, 1ull << 8, 0, 0);
    CHECK(id2 == -EEXIST || (id2 >= 0 && id2 != id));
    int64_t id3 = (int64_t)CALL(vm, 27, &regs, st, (1ull << 8) | (1ull << 10), 0, 0);
    CHECK(id3 >= 0);
    CHECK_EQ(bpftime_map_delete_elem(r, (uint32_t)sid, &key), 0);
    CHECK_EQ(bpftime_map_delete_elem(r, (uint32_t)sid, &key), -ENOENT);

    /* no registers (a program type without a probed function): no user stack */
    bpftime_invocation_set(NULL);
    CHECK_EQ(CALL(vm, 67, NULL, buf, 16, 1ull << 8, 0), 0);
    CHECK_EQ(CALL(vm, 35, 0, 0, 0, 0, 0), 0); /* get_current_task: no task_struct */
    munmap(page, 4096);
    ebpf_vm_destroy(vm);
}

/* Eight stacks (rip differs) in a 64-entry stack map, each stored with
 * BPF_F_REUSE_STACKID: every id reads back its own addresses while no later
 * stack took its bucket, and get_next_key visits each id in use once. */
TEST(stack_map_keeps_each_stack_in_its_own_element)
{
    struct bpftime_region *r = mk("stacks");
    CHECK(r);
    struct ebpf_vm *vm = helper_vm();
    uint64_t frames[4] = {0, 0x1111, 0, 0x2222}; /* f1 -> f2 -> NULL (the walk stops) */
    frames[0] = (uint64_t)(uintptr_t)&frames[2];
    struct fake_regs regs = {.rbp = (uint64_t)(uintptr_t)frames};
    struct bpftime_invocation inv = {.func_ip = 0x3000, .regs = &regs};
    bpftime_invocation_set(&inv);
    int sid = bpftime_map_create(r, "st", BPFTIME_MAP_STACK_TRACE, 4, 4 * 8, 64, 0, 0);
    CHECK(sid > 0);
    struct bpftime_map *st = bpftime_map_handle(r, sid);
    int64_t ids[8];
    for (int i = 0; i < 8; i++) {
        regs.rip = 0x4000 + 0x10 * (uint64_t)i;
        ids[i] = (int64_t)CALL(vm, 27, &regs, st, (1ull << 8) | (1ull << 10), 0, 0);
        CHECK(ids[i] >= 0 && ids[i] < 64);
    }
    int in_use = 0;
    for (int i = 0; i < 8; i++) {
        bool replaced = false;
        for (int j = i + 1; j < 8; j++)
            replaced |= ids[j] == ids[i];
        if (replaced)
            continue;
        in_use++;
        uint32_t key = (uint32_t)ids[i];
        uint64_t val[4] = {1, 1, 1, 1};
        CHECK_EQ(bpftime_map_lookup(r, (uint32_t)sid, &key, val), 0);
        CHECK_EQ(val[0], 0x4000 + 0x10 * (uint64_t)i);
        CHECK_EQ(val[1], 0x1111);
        CHECK_EQ(val[2], 0x2222);
        CHECK_EQ(val[3], 0);
    }
    CHECK(in_use >= 2);
    int visited = 0;
    uint32_t key, next;
    for (int rc = bpftime_map_get_next_key(r, (uint32_t)sid, NULL, &next); rc == 0;
         rc = bpftime_map_get_next_key(r, (uint32_t)sid, &key, &next)) {
        bool known = false;
        for (int i = 0; i < 8; i++)
            known |= ids[i] == (int64_t)next;
        CHECK(known);
        key = next;
        visited++;
        if (visited > 64)
            break;
    }
    CHECK_EQ(visited, in_use);
    /* one entry: one bucket, id 0 (the kernel's hash & (n_buckets - 1)) */
    int one = bpftime_map_create(r, "st1", BPFTIME_MAP_STACK_TRACE, 4, 4 * 8, 1, 0, 0);
    CHECK(one > 0);
    CHECK_EQ(CALL(vm, 27, &regs, bpftime_map_handle(r, one), 1ull << 8, 0, 0), 0);
    CHECK_EQ(bpftime_map_get_next_key(r, (uint32_t)one, NULL, &next), 0);
    CHECK_EQ(next, 0);
    CHECK_EQ(bpftime_map_get_next_key(r, (uint32_t)one, &next, &key), -ENOENT);
    bpftime_invocation_set(NULL);
    ebpf_vm_destroy(vm);
}

/* Functions whose first instruction, as the file has it, is push %rbp,
 * endbr64, or neither (nop). */
void stack_push_fn(void);
void stack_endbr_fn(void);
void stack_nop_fn(void);
__asm__(".text\n"
        ".globl stack_push_fn\n.type stack_push_fn, @function\nstack_push_fn:\n"
        "pushq %rbp\npopq %rbp\nret\n.size stack_push_fn, .-stack_push_fn\n"
        ".globl stack_endbr_fn\n.type stack_endbr_fn, @function\nstack_endbr_fn:\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa\nret\n.size stack_endbr_fn, .-stack_endbr_fn\n"
        ".globl stack_nop_fn\n.type stack_nop_fn, @function\nstack_nop_fn:\n"
        "nop\nret\n.size stack_nop_fn, .-stack_nop_fn\n");

/* As the kernel's perf_callchain_user at a uprobe on a function's entry
 * (is_uprobe_at_func_entry: push %rbp or endbr64 there): the frame is not
 * set up yet, so the return address is read at rsp before the rbp walk. */
TEST(an_entry_probe_takes_the_return_address_from_the_stack)
{
    struct bpftime_region *r = mk("entry");
    CHECK(r);
    struct ebpf_vm *vm = helper_vm();
    uint64_t frames[4] = {0, 0x1111, 0, 0x2222}; /* f1 -> f2 -> NULL */
    frames[0] = (uint64_t)(uintptr_t)&frames[2];
    uint64_t ret_slot = 0x7777;
    struct fake_regs regs = {.rbp = (uint64_t)(uintptr_t)frames,
                             .rsp = (uint64_t)(uintptr_t)&ret_slot};
    struct bpftime_invocation inv = {.regs = &regs};
    bpftime_invocation_set(&inv);
    const struct {
        void (*fn)(void);
        int off;          /* rip = fn + off */
        uint64_t want[4]; /* the stack get_stack returns */
    } cases[] = {
        {stack_push_fn, 0, {0, 0x7777, 0x1111, 0x2222}},
        {stack_nop_fn, 0, {0, 0x1111, 0x2222, 0}},
        {stack_endbr_fn, 0, {0, 0x7777, 0x1111, 0x2222}},
        {stack_push_fn, 1, {0, 0x1111, 0x2222, 0}}, /* not at the entry */
        {stack_push_fn, 0, {0, 0x7777, 0x1111, 0x2222}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        inv.func_ip = (uint64_t)(uintptr_t)cases[i].fn;
        regs.rip = inv.func_ip + (uint64_t)cases[i].off;
        uint64_t buf[4];
        memset(buf, 0xaa, sizeof buf);
        int64_t want_len = cases[i].want[3] ? 32 : 24;
        CHECK_EQ((int64_t)CALL(vm, 67, &regs, buf, sizeof buf, 1ull << 8, 0), want_len);
        CHECK_EQ(buf[0], regs.rip);
        for (int k = 1; k < 4; k++)
            if (buf[k] != cases[i].want[k])
                test_fail(t, __FILE__, __LINE__, "case %zu frame %d: %#llx, expected %#llx", i, k,
                          (unsigned long long)buf[k], (unsigned long long)cases[i].want[k]);
    }
    /* a stack map of one frame per stack keeps the ip alone */
    inv.func_ip = regs.rip = (uint64_t)(uintptr_t)stack_push_fn;
    int sid = bpftime_map_create(r, "st", BPFTIME_MAP_STACK_TRACE, 4, 8, 4, 0, 0);
    CHECK(sid > 0);
    int64_t id = (int64_t)CALL(vm, 27, &regs, bpftime_map_handle(r, sid), 1ull << 8, 0, 0);
    CHECK(id >= 0 && id < 4);
    uint32_t key = (uint32_t)id;
    uint64_t val = 0;
    CHECK_EQ(bpftime_map_lookup(r, (uint32_t)sid, &key, &val), 0);
    CHECK_EQ(val, regs.rip);
    bpftime_invocation_set(NULL);
    ebpf_vm_destroy(vm);
}
