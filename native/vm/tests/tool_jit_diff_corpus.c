/* The JIT-vs-interpreter fuzz corpus for the LLVM tier's differential test
 * (test/llvm-tier.test.ts): the programs of test_jit_diff.c's generator,
 * reused as is (same seed, same numbering, same memory, same helpers).
 *
 *   tool_jit_diff_corpus gen DIR COUNT     writes DIR/<i>.bin, programs 0..COUNT-1
 *   tool_jit_diff_corpus check DIR COUNT   for each DIR/<i>.llvm (a blob made from
 *       <i>.bin), runs the program on the interpreter and the blob on copies
 *       of the same memory; prints "same <i>" or "differs <i>: why" per blob
 *       and exits 1 if any differs. */
#include "vm/tests/test_jit_diff.c"

#include "vm/native_code.h"
#include "vm/tests/corpus_tool.h"

static void corpus_program(unsigned i, struct prog *p)
{
    struct gen g;
    memset(&g, 0, sizeof g);
    g.rng = 0xb9f7e1ULL ^ (0x51ed2701ULL * (i + 1)); /* run_diff's default seed */
    gen_program(&g, p);
}

/* 0 same, 1 differs (printed) */
static int check_one(const char *dir, unsigned i)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%u.llvm", dir, i);
    size_t len;
    void *blob = corpus_read_blob(path, &len);
    if (!blob)
        return 0; /* refused by the translator: the JIT runs it */
    struct prog p;
    corpus_program(i, &p);
    struct ebpf_vm *vm = jt_vm(&p, err, sizeof err);
    prog_free(&p);
    struct ebpf_native_code *nc = NULL;
    int bad = 1;
    if (!vm) {
        printf("differs %u: %s\n", i, err);
    } else if (ebpf_native_load(vm, blob, len, &nc) != 0) {
        printf("differs %u: load: %s\n", i, ebpf_vm_error(vm));
    } else {
        _Alignas(16) uint8_t mi[MEMLEN], mn[MEMLEN];
        for (int k = 0; k < MEMLEN; k++)
            mi[k] = mn[k] = (uint8_t)(k * 131 + i); /* as run_diff */
        uint64_t ri = 0;
        int rc = ebpf_vm_exec(vm, mi, MEMLEN, &ri);
        uint64_t rn = ebpf_native_entry(nc)(mn, MEMLEN);
        long d = jt_first_diff(mi, mn, MEMLEN);
        if (rc != 0)
            printf("differs %u: interpreter failed: %s\n", i, ebpf_vm_error(vm));
        else if (ri != rn || d >= 0)
            printf("differs %u: r0 interp 0x%" PRIx64 " llvm 0x%" PRIx64
                   ", first memory difference at %ld\n",
                   i, ri, rn, d);
        else {
            printf("same %u\n", i);
            bad = 0;
        }
    }
    ebpf_native_free(nc);
    if (vm)
        ebpf_vm_destroy(vm);
    free(blob);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "gen") != 0 && strcmp(argv[1], "check") != 0)) {
        fprintf(stderr, "usage: %s gen|check DIR COUNT\n", argv[0]);
        return 2;
    }
    unsigned count = (unsigned)strtoul(argv[3], NULL, 0);
    int bad = 0;
    for (unsigned i = 0; i < count; i++) {
        if (argv[1][0] == 'c') {
            bad |= check_one(argv[2], i);
            continue;
        }
        struct prog p;
        corpus_program(i, &p);
        char path[512];
        snprintf(path, sizeof path, "%s/%u.bin", argv[2], i);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(p.v, sizeof *p.v, p.n, f) != p.n) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        fclose(f);
        prog_free(&p);
    }
    return bad;
}
