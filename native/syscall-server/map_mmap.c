/* mmap of a map descriptor (see app_server.h). Not yet: ring buffers and
 * BPF_F_MMAPABLE arrays. */
#include <errno.h>
#include <sys/mman.h>

#include "syscall-server/app_server.h"

void *app_map_mmap(const struct app_fd *v, void *addr, size_t len, int prot, int flags, off_t off)
{
    (void)v;
    (void)addr;
    (void)len;
    (void)prot;
    (void)flags;
    (void)off;
    app_refuse(-ENODEV, "mmap of a bpf map descriptor is not supported yet");
    errno = ENODEV;
    return MAP_FAILED;
}
