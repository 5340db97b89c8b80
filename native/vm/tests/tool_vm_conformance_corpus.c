/* The VM's conformance cases (test_vm_conformance.c, reused as is) for the
 * LLVM tier's test (test/llvm-tier.test.ts).
 *
 *   tool_vm_conformance_corpus gen DIR    writes DIR/<k>.bin for every case the
 *       JIT must also pass (it loads, runs without error, not interpreter-only)
 *       and prints "<k> <name>" for each
 *   tool_vm_conformance_corpus check DIR  for each DIR/<k>.llvm, runs the blob on
 *       the case's memory with the case's helpers: prints "pass <k> <name>" when
 *       r0 and the memory are the expected ones, else "fail <k> <name>: why";
 *       exits 1 if any fails. */
#include "vm/tests/vm_case.h"

#include "vm/native_code.h"
#include "vm/tests/corpus_tool.h"

#define MAX_CASES 1024
static const struct vm_case *cases[MAX_CASES];
static unsigned ncases;

static void corpus_add(const struct vm_case *c)
{
    if (ncases < MAX_CASES)
        cases[ncases++] = c;
}

/* every row lands in cases[] instead of becoming a test */
#undef VM_CASE
#define VM_CASE(name_, ...) \
    static const struct vm_case case_##name_ = {.name = #name_, __VA_ARGS__}; \
    __attribute__((constructor)) static void corpus_add_##name_(void) \
    { \
        corpus_add(&case_##name_); \
    }
#include "vm/tests/test_vm_conformance.c"

static bool eligible(const struct vm_case *c)
{
    return !c->load_err && !c->exec_err && !c->interp_only;
}

/* 0 pass (or no blob: refused by the translator), 1 fail (printed) */
static int check_one(const char *dir, unsigned k)
{
    const struct vm_case *c = cases[k];
    char path[512];
    snprintf(path, sizeof path, "%s/%u.llvm", dir, k);
    size_t len;
    void *blob = corpus_read_blob(path, &len);
    if (!blob)
        return 0;
    struct ebpf_vm *vm = case_vm();
    if (c->budget)
        ebpf_vm_set_budget(vm, c->budget);
    struct ebpf_native_code *nc = NULL;
    int bad = 1;
    if (ebpf_vm_load(vm, c->code, c->n * sizeof(struct ebpf_inst)) != 0 ||
        ebpf_native_load(vm, blob, len, &nc) != 0) {
        printf("fail %u %s: load: %s\n", k, c->name, ebpf_vm_error(vm));
    } else {
        _Alignas(16) uint8_t mem[CASE_MEM_MAX];
        memset(mem, 0, sizeof mem);
        if (c->mem)
            memcpy(mem, c->mem, c->mem_len);
        uint64_t r = ebpf_native_entry(nc)(c->mem ? mem : NULL, c->mem_len);
        if (r != c->expect)
            printf("fail %u %s: r0 0x%" PRIx64 ", expected 0x%" PRIx64 "\n", k, c->name, r,
                   c->expect);
        else if (c->expect_mem && memcmp(mem, c->expect_mem, c->mem_len) != 0)
            printf("fail %u %s: memory differs from expected\n", k, c->name);
        else {
            printf("pass %u %s\n", k, c->name);
            bad = 0;
        }
    }
    ebpf_native_free(nc);
    ebpf_vm_destroy(vm);
    free(blob);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "gen") != 0 && strcmp(argv[1], "check") != 0)) {
        fprintf(stderr, "usage: %s gen|check DIR\n", argv[0]);
        return 2;
    }
    int bad = 0;
    for (unsigned k = 0; k < ncases; k++) {
        if (!eligible(cases[k]))
            continue;
        if (argv[1][0] == 'c') {
            bad |= check_one(argv[2], k);
            continue;
        }
        char path[512];
        snprintf(path, sizeof path, "%s/%u.bin", argv[2], k);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(cases[k]->code, sizeof(struct ebpf_inst), cases[k]->n, f) != cases[k]->n) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        fclose(f);
        printf("%u %s\n", k, cases[k]->name);
    }
    return bad;
}
