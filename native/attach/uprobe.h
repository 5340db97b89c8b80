/* uprobe / uretprobe attach implementations (target types 2 and 3).
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

/* Tries the dormant targets again if the set of loaded objects changed since
 * the last try; returns how many changed state (got hooked, or failed for a
 * new reason, which the attach implementation's waiting() then reports).
 * Call from the thread that drives the attach manager. */
int bpftime_uprobe_impl_retry(struct bpftime_attach_impl *impl);

/* Hooked (non-dormant) attaches. */
int bpftime_uprobe_impl_active(const struct bpftime_attach_impl *impl);

#endif
