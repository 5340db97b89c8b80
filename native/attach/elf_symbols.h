/* Symbol resolution for uprobe targets: "BINARY:SYMBOL[+OFF]" or
 * "BINARY:0xADDR[+OFF]" to an address in this process.
 *
 * BINARY is matched against the file-backed mappings of /proc/self/maps:
 *   - a path containing '/' matches the mapping of that file (after realpath,
 *     or the same device and inode, so symlinks work);
 *   - a bare name matches a mapping whose file name equals it, or starts with
 *     it followed by '.' or '-' ("libc" and "libc.so.6" both match
 *     /usr/lib/x86_64-linux-gnu/libc.so.6).
 * SYMBOL is looked up in the file's .symtab and .dynsym (STT_FUNC and
 * STT_GNU_IFUNC; "name@VERSION" entries match "name"); an IFUNC resolves to
 * the implementation the dynamic linker chose (dlsym). 0xADDR is a virtual
 * address as the ELF file shows it (nm, objdump); the load bias is added.
 *
 * Errors: negative errno plus the message (bpftime_last_error_message()). -ENOENT with "not loaded" means
 * the binary is not mapped in this process (callers skip such targets); other
 * -ENOENT: no such symbol; -EINVAL: malformed argument, or +OFF not at an
 * instruction boundary (decoded from the symbol's start in the file);
 * -EIO: unreadable ELF. */
#ifndef BPFTIME_ELF_SYMBOLS_H
#define BPFTIME_ELF_SYMBOLS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "attach/usdt_args.h"
#include "bpftime/api.h"

struct bpftime_resolved {
    uint64_t addr;       /* runtime address (symbol + bias + off) */
    uint64_t size;       /* bytes from addr to the symbol's end; 0 = unknown */
    uint64_t bias;       /* load bias of the object */
    int not_loaded;      /* 1: the binary is not mapped in this process */
    char path[PATH_MAX]; /* the mapped file */
    uint64_t func;       /* runtime address of the symbol (addr - off); 0 = unknown */
    uint64_t func_size;  /* the symbol's size; 0 = unknown */
};

/* Resolves arg (arg_len bytes, need not be NUL-terminated) in this process. */
BPFTIME_API int bpftime_resolve_uprobe_target(const char *arg, size_t arg_len,
                                              struct bpftime_resolved *out);

/* Looks SYMBOL up in ELF file `path` (no process involved): *value = st_value,
 * *size = st_size, *is_ifunc = STT_GNU_IFUNC. Returns 0, -ENOENT or -EIO. */
BPFTIME_API int bpftime_elf_lookup_symbol(const char *path, const char *symbol, uint64_t *value,
                                          uint64_t *size, int *is_ifunc);

/* The virtual address of the first PT_LOAD segment of ELF file `path`
 * rounded down to its page (what the mapping with file offset 0 starts at,
 * before bias). Returns 0 or a negative errno. */
int bpftime_elf_first_load_vaddr(const char *path, uint64_t *vaddr);

/* Finds the mapping of BINARY (matched as above) in /proc/<pid>/maps (pid 0 =
 * self): path of the file and the load bias computed from its offset-0
 * mapping. Returns 0, or -ENOENT if not mapped. */
int bpftime_find_mapping(int pid, const char *binary, char *path, size_t path_len, uint64_t *bias);

/* ---- files rather than processes: kernel uprobes take a file and a file offset */

/* The file BINARY names, for probes on a file rather than a process: a path
 * (realpath), else a file of that name mapped in this process (matched as
 * above), else a program on $PATH, else a library of that name (or prefix) in
 * the dynamic linker's default directories. Returns 0 or -ENOENT. */
BPFTIME_API int bpftime_find_binary_file(const char *binary, char *path, size_t path_len);

/* The file offset of virtual address `vaddr` of ELF file `path` (PT_LOAD).
 * Returns 0, -EINVAL (in no loadable segment) or -EIO. */
int bpftime_elf_vaddr_to_offset(const char *path, uint64_t vaddr, uint64_t *offset);

/* Resolves arg like bpftime_resolve_uprobe_target, to a file (path) and the
 * file offset a kernel uprobe takes. An IFUNC resolves, as in a process, to
 * the implementation the dynamic linker picks here (the same in every process
 * of this machine), which may be in another file. */
BPFTIME_API int bpftime_resolve_uprobe_file(const char *arg, size_t arg_len, char *path,
                                            size_t path_len, uint64_t *offset);

/* The function at file offset `offset` of `path` (without "@VERSION") and the
 * distance into it. Returns 0, or -ENOENT when no function covers it. */
BPFTIME_API int bpftime_elf_describe_offset(const char *path, uint64_t offset, char *name,
                                            size_t name_len, uint64_t *delta);

/* ---- USDT probes (.note.stapsdt) ---------------------------------------- */

/* One site of a USDT probe, as the file says it. */
struct bpftime_usdt_site {
    uint64_t pc;                   /* virtual address of the site (the nop) */
    uint64_t semaphore;            /* virtual address of its 2-byte semaphore; 0 = none */
    struct bpftime_usdt_spec spec; /* its arguments (usdt_cookie 0) */
};

/* The sites of probe PROVIDER:NAME in ELF file `path`, in note order: fills
 * out[0..max) and returns how many there are (which may exceed max), or a
 * negative errno: -ENOENT (no such probe; the message says how many the file
 * has), -EINVAL (an argument spec we cannot read), -EIO. A site's pc is
 * adjusted for prelinking through .stapsdt.base, as libbpf and SystemTap do. */
BPFTIME_API int bpftime_usdt_sites(const char *path, const char *provider, const char *name,
                                   struct bpftime_usdt_site *out, int max);

#endif
