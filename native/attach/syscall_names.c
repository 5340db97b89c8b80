/* x86-64 syscall names <-> numbers: see syscall_names.h. */
#include "attach/syscall_names.h"

#include <stddef.h>
#include <string.h>

static const struct {
    long nr;
    const char *name;
} table[] = {
#define SYSCALL(nr, name) {nr, #name},
#include "attach/syscall_names.def"
#undef SYSCALL
};

long bpftime_syscall_nr(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].nr;
    return -1;
}
