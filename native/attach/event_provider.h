/* The event provider: "create program / create attach target / attach /
 * detach / instantiate / deinstantiate" as one interface, so a host (the
 * syscall server, the agent, the control plane through bun:ffi) does not care
 * where programs live. This file's implementation is the userspace one: the
 * object table in a shared-memory region, instantiated by this process's
 * attach manager. The kernel implementation (bpf() and perf_event_open) lives
 * in the control plane (src/attach/kernel-provider.ts) behind the same
 * TypeScript interface (src/attach/event-provider.ts). */
#ifndef BPFTIME_EVENT_PROVIDER_H
#define BPFTIME_EVENT_PROVIDER_H

#include <stdint.h>

#include "attach/attach_impl.h"
#include "bpftime/api.h"

struct bpftime_region;
struct bpftime_attach_manager;
struct bpftime_event_provider;

struct bpftime_event_provider_ops {
    /* Each returns the new object's id, or a negative errno. */
    int (*create_program)(struct bpftime_event_provider *ep, const char *name, uint32_t type,
                          const void *insns, uint32_t insn_cnt, const uint32_t *map_ids,
                          uint32_t nr_maps);
    int (*create_target)(struct bpftime_event_provider *ep, uint32_t type, const void *arg,
                         uint32_t arg_len);
    int (*attach)(struct bpftime_event_provider *ep, uint32_t prog_id, uint32_t target_id,
                  uint64_t cookie);
    int (*detach)(struct bpftime_event_provider *ep, uint32_t link_id);
    /* Make this process run what is attached (returns links attached), or stop. */
    int (*instantiate)(struct bpftime_event_provider *ep);
    void (*deinstantiate)(struct bpftime_event_provider *ep);
    void (*destroy)(struct bpftime_event_provider *ep);
};

struct bpftime_event_provider {
    const struct bpftime_event_provider_ops *ops;
};

/* The shared-memory provider over an open region (the caller keeps it open
 * for the provider's lifetime). Its attach manager is created empty:
 * register this process's attach implementations before instantiate. */
BPFTIME_API struct bpftime_event_provider *
bpftime_shm_event_provider_create(struct bpftime_region *r);
BPFTIME_API struct bpftime_attach_manager *
bpftime_shm_event_provider_manager(struct bpftime_event_provider *ep);

/* Convenience wrappers (FFI-friendly). */
BPFTIME_API int bpftime_event_provider_instantiate(struct bpftime_event_provider *ep);
BPFTIME_API void bpftime_event_provider_deinstantiate(struct bpftime_event_provider *ep);
BPFTIME_API void bpftime_event_provider_destroy(struct bpftime_event_provider *ep);

#endif
