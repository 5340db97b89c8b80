/* The batch map commands of an unmodified application (see app_server.h),
 * built on the runtime's element operations. The batch cursor (in_batch /
 * out_batch) is a u32 as the kernel's for hash and array maps: here the
 * number of keys already returned, in get_next_key order (the delete
 * variant always restarts from the first key: what it returned is gone). */
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>

#include "bpftime/api.h"
#include "runtime/bpftime_runtime.h"
#include "syscall-server/app_server.h"

static void *uptr(__u64 p)
{
    return (void *)(uintptr_t)p;
}

/* Walks to the next key after prev (NULL: the first); 0 or -ENOENT at the end. */
static int next_key(struct bpftime_region *r, uint32_t id, const void *prev, void *out)
{
    return bpftime_map_get_next_key(r, id, prev, out);
}

long app_map_batch(int cmd, union bpf_attr *ua)
{
    struct app_fd m;
    if (app_fd_get((int)ua->batch.map_fd, &m) < 0 || m.kind != APP_FD_MAP)
        return -EBADF;
    struct bpftime_region *r = app_region();
    struct bpftime_map_info mi;
    int rc = bpftime_map_get(r, m.id, &mi);
    if (rc < 0)
        return rc;
    if (bpftime_map_type_flags(mi.type) & BPFTIME_MAP_F_KEYLESS)
        return -EINVAL;
    uint32_t count = ua->batch.count, n = 0;
    uint8_t *keys = uptr(ua->batch.keys), *values = uptr(ua->batch.values);
    uint32_t ks = mi.key_size, vs = mi.value_buf_size;
    if (count == 0)
        return 0;
    if (!keys || (cmd != BPF_MAP_DELETE_BATCH && !values))
        return -EFAULT;
    rc = 0;
    if (cmd == BPF_MAP_UPDATE_BATCH || cmd == BPF_MAP_DELETE_BATCH) {
        for (; n < count && rc == 0; n++)
            rc = cmd == BPF_MAP_UPDATE_BATCH
                     ? (int)app_map_update(m.id, mi.type, keys + (size_t)n * ks,
                                           values + (size_t)n * vs, ua->batch.elem_flags)
                     : bpftime_map_delete_elem(r, m.id, keys + (size_t)n * ks);
        ua->batch.count = rc ? n - 1 : n;
        return rc;
    }
    if (cmd != BPF_MAP_LOOKUP_BATCH && cmd != BPF_MAP_LOOKUP_AND_DELETE_BATCH)
        return -EINVAL;
    uint32_t skip = 0;
    if (cmd == BPF_MAP_LOOKUP_BATCH && ua->batch.in_batch)
        memcpy(&skip, uptr(ua->batch.in_batch), 4);
    uint8_t *key = malloc(ks ? ks : 1), *prev = NULL;
    if (!key)
        return -ENOMEM;
    for (uint32_t i = 0; i < skip && rc == 0; i++) {
        rc = next_key(r, m.id, prev, key);
        prev = key;
    }
    while (rc == 0 && n < count) {
        rc = next_key(r, m.id, prev, keys + (size_t)n * ks);
        if (rc < 0)
            break;
        prev = keys + (size_t)n * ks;
        rc = bpftime_map_lookup(r, m.id, prev, values + (size_t)n * vs);
        if (rc == -ENOENT) { /* deleted under us: go on from it */
            rc = 0;
            continue;
        }
        n++;
    }
    if (cmd == BPF_MAP_LOOKUP_AND_DELETE_BATCH)
        for (uint32_t i = 0; i < n; i++)
            (void)bpftime_map_delete_elem(r, m.id, keys + (size_t)i * ks);
    free(key);
    ua->batch.count = n;
    if (ua->batch.out_batch) {
        uint32_t next = cmd == BPF_MAP_LOOKUP_BATCH ? skip + n : 0;
        memcpy(uptr(ua->batch.out_batch), &next, 4);
    }
    return rc; /* -ENOENT: the last key was returned, as the kernel says it */
}
