#include "attach/event_provider.h"

#include <stdlib.h>

#include "attach/attach_manager.h"
#include "runtime/bpftime_runtime.h"

struct shm_provider {
    struct bpftime_event_provider base;
    struct bpftime_region *region;
    struct bpftime_attach_manager *manager;
};

static struct shm_provider *sp(struct bpftime_event_provider *ep)
{
    return (struct shm_provider *)ep;
}

static int shm_create_program(struct bpftime_event_provider *ep, const char *name, uint32_t type,
                              const void *insns, uint32_t insn_cnt, const uint32_t *map_ids,
                              uint32_t nr_maps)
{
    return bpftime_prog_create(sp(ep)->region, name, type, "GPL", "", insns, insn_cnt, map_ids,
                               nr_maps);
}

static int shm_create_target(struct bpftime_event_provider *ep, uint32_t type, const void *arg,
                             uint32_t arg_len)
{
    return bpftime_target_create(sp(ep)->region, type, arg, arg_len);
}

static int shm_attach(struct bpftime_event_provider *ep, uint32_t prog_id, uint32_t target_id,
                      uint64_t cookie)
{
    return bpftime_link_create(sp(ep)->region, prog_id, target_id, cookie);
}

static int shm_detach(struct bpftime_event_provider *ep, uint32_t link_id)
{
    return bpftime_link_delete(sp(ep)->region, link_id);
}

static int shm_instantiate(struct bpftime_event_provider *ep)
{
    return bpftime_attach_manager_instantiate(sp(ep)->manager);
}

static void shm_deinstantiate(struct bpftime_event_provider *ep)
{
    bpftime_attach_manager_deinstantiate(sp(ep)->manager);
}

static void shm_destroy(struct bpftime_event_provider *ep)
{
    bpftime_attach_manager_destroy(sp(ep)->manager);
    free(ep);
}

static const struct bpftime_event_provider_ops shm_ops = {
    .create_program = shm_create_program,
    .create_target = shm_create_target,
    .attach = shm_attach,
    .detach = shm_detach,
    .instantiate = shm_instantiate,
    .deinstantiate = shm_deinstantiate,
    .destroy = shm_destroy,
};

struct bpftime_event_provider *bpftime_shm_event_provider_create(struct bpftime_region *r)
{
    struct shm_provider *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->base.ops = &shm_ops;
    p->region = r;
    p->manager = bpftime_attach_manager_create(r);
    if (!p->manager) {
        free(p);
        return NULL;
    }
    return &p->base;
}

struct bpftime_attach_manager *bpftime_shm_event_provider_manager(struct bpftime_event_provider *ep)
{
    return sp(ep)->manager;
}

int bpftime_event_provider_instantiate(struct bpftime_event_provider *ep)
{
    return ep->ops->instantiate(ep);
}

void bpftime_event_provider_deinstantiate(struct bpftime_event_provider *ep)
{
    ep->ops->deinstantiate(ep);
}

void bpftime_event_provider_destroy(struct bpftime_event_provider *ep)
{
    if (ep)
        ep->ops->destroy(ep);
}
