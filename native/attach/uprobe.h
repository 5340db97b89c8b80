/* uprobe / uretprobe / usdt attach implementations (target types 2, 3, 6).
 *
 * The target argument is "BINARY:SYMBOL[+OFF]" or "BINARY:0xADDR" (see
 * elf_symbols.h), resolved in the calling process. The function is hooked
 * with the patcher; several links on one function share its patch.
 *   uprobe:    runs the program on entry with ctx = the registers as the
 *              kernel's struct pt_regs (PT_REGS_PARM1() ...); if the program
 *              called bpf_override_return(ctx, v), the function body is
 *              skipped and the caller gets v.
 *   uretprobe: runs the program on return; PT_REGS_RC(ctx) is the result.
 * get_func_ip() is the hooked address, get_attach_cookie() the link's cookie.
 *
 * A target whose binary is not loaded in this process attaches "dormant"
 * (logged at debug level, nothing hooked); bpftime_uprobe_impl_retry() hooks
 * dormant targets whose binary has been loaded since (dlopen). */
#ifndef BPFTIME_UPROBE_H
#define BPFTIME_UPROBE_H

#include "attach/attach_impl.h"

/* retprobe 0: uprobe (type 2); 1: uretprobe (type 3). */
struct bpftime_attach_impl *bpftime_uprobe_impl_create(int retprobe);

/* USDT probes (type 6). The argument is "BINARY:PROVIDER:NAME" (BINARY as
 * for uprobes); every site of the probe in BINARY's .note.stapsdt is hooked
 * through the patcher's trap path (a site is a nop inside a function), and
 * the probe's semaphore, if it has one, is raised while the link is attached
 * in this process (lowered on detach), as a tracer does. The program runs
 * with the registers at the site (pt_regs); get_func_ip() is the site's
 * address and get_attach_cookie() is the link's cookie plus the site's index
 * in note order (the control plane makes the link cookie the first of the
 * spec ids it stored for libbpf's usdt.bpf.h: see src/ops/usdt-target.ts).
 * bpf_override_return is ignored. Dormant and retried like uprobes. */
struct bpftime_attach_impl *bpftime_usdt_impl_create(void);

/* Tries the dormant targets again (any of the three kinds) if the set of loaded objects changed since
 * the last try; returns how many changed state (got hooked, or failed for a
 * new reason, which the attach implementation's waiting() then reports).
 * Call from the thread that drives the attach manager. */
int bpftime_uprobe_impl_retry(struct bpftime_attach_impl *impl);

/* Hooked (non-dormant) attaches. */
int bpftime_uprobe_impl_active(const struct bpftime_attach_impl *impl);

#endif
