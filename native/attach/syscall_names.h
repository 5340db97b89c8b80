/* x86-64 syscall names <-> numbers (the table: syscall_names.def). */
#ifndef BPFTIME_SYSCALL_NAMES_H
#define BPFTIME_SYSCALL_NAMES_H

/* The number of syscall `name`, or -1 if the table has no such syscall. */
long bpftime_syscall_nr(const char *name);

/* One more than the highest number in the table. */
#define BPFTIME_SYSCALL_MAX 512

#endif
