/* Syscall enter / exit attach implementations (target types
 * BPFTIME_TARGET_SYSCALL_ENTER and _EXIT): programs run inside the process
 * when one of its threads makes a syscall, before and after it, on the
 * kernel's context layouts. Syscalls are caught with Syscall User Dispatch
 * (syscall_sud.h), switched on only while at least one link exists.
 *
 * Target argument: "FORMAT:NAME" (written by `bpftime attach`, which picks
 * FORMAT from the program's type)
 *   NAME    a syscall name of syscall_names.def ("openat"), or "all"
 *   FORMAT  the context the program gets:
 *     tp    tracepoint: struct trace_event_raw_sys_enter (8-byte common
 *           header, long id, unsigned long args[6]) or
 *           trace_event_raw_sys_exit (header, long id, long ret);
 *     raw   raw_tracepoint: struct bpf_raw_tracepoint_args, args[0] = a
 *           struct pt_regs of the caller (kernel layout), args[1] = the
 *           syscall number (enter) or its result (exit);
 *     ksys  ksyscall / kretsyscall (kprobe type): a struct pt_regs whose
 *           di points to the syscall's own pt_regs (the x86-64 syscall
 *           wrapper convention libbpf's BPF_KSYSCALL reads), or, at exit,
 *           whose ax is the result.
 * bpf_override_return in an enter program skips the syscall: the caller
 * gets the value, and the exit programs see it as the result. */
#ifndef BPFTIME_SYSCALL_TRACEPOINT_H
#define BPFTIME_SYSCALL_TRACEPOINT_H

#include "attach/attach_impl.h"

/* exit = 0: the enter implementation; 1: the exit one. NULL when out of memory. */
struct bpftime_attach_impl *bpftime_syscall_impl_create(int exit);

#endif
