/* tool_region_fields REGION: prints, one JSON object a line, where each
 * field the region's readers trust lives in the region file
 * ({"field": "...", "off": N, "width": 4|8}), for the corruption tests
 * (test/region-corruption.test.ts): the runtime is the only code that knows
 * the layout, so the tests ask it instead of hard-coding offsets. */
#include <stdlib.h>

#include "runtime/runtime_internal.h"

static struct bpftime_region *r;

static void field(const char *what, uint32_t id, const char *name, const void *p, size_t width)
{
    printf("{\"field\":\"%s %u.%s\",\"off\":%llu,\"width\":%zu}\n", what, id, name,
           (unsigned long long)((const uint8_t *)p - r->base), width);
}
#define F(what, id, s, member) field(what, id, #member, &(s)->member, sizeof((s)->member))

static void ring_fields(const char *what, uint32_t id, struct shm_ringbuf *rb)
{
    F(what, id, rb, data_size);
    F(what, id, rb, mask);
    F(what, id, rb, wake_delta);
    field(what, id, "consumer_pos", (uint8_t *)rb + SHM_PAGE, 8);
    field(what, id, "producer_pos", (uint8_t *)rb + 2 * SHM_PAGE, 8);
    field(what, id, "first_record_len", (uint8_t *)rb + SHM_RB_HDR_PAGES * SHM_PAGE, 4);
}

int main(int argc, char **argv)
{
    if (argc != 2 || bpftime_region_open(argv[1], &r) != 0) {
        fprintf(stderr, "usage: tool_region_fields REGION (%s)\n", bpftime_last_error_message());
        return 2;
    }
    struct shm_header *h = r->hdr;
    F("header", 0, h, magic);
    F("header", 0, h, layout_version);
    F("header", 0, h, header_size);
    F("header", 0, h, region_size);
    F("header", 0, h, ncpus);
    F("header", 0, h, heap_off);
    F("header", 0, h, heap_end);
    F("header", 0, h, trace_off);
    for (int k = 0; k < KIND_COUNT; k++) {
        char n[32];
        snprintf(n, sizeof n, "table_off[%d]", k);
        field("header", 0, n, &h->table_off[k], 8);
        snprintf(n, sizeof n, "table_cap[%d]", k);
        field("header", 0, n, &h->table_cap[k], 4);
    }
    ring_fields("trace_ring", 0, rt_ptr(r, r->trace_off));
    for (uint32_t i = 0; i < r->table_cap[KIND_PROG]; i++) {
        struct shm_prog *p = table_slot(r, KIND_PROG, i);
        if (!p->id)
            continue;
        F("prog", p->id, p, insns_off);
        F("prog", p->id, p, insn_cnt);
        F("prog", p->id, p, map_ids_off);
        F("prog", p->id, p, nr_maps);
    }
    for (uint32_t i = 0; i < r->table_cap[KIND_MAP]; i++) {
        struct shm_map *m = table_slot(r, KIND_MAP, i);
        if (!m->id)
            continue;
        F("map", m->id, m, type);
        F("map", m->id, m, key_size);
        F("map", m->id, m, value_size);
        F("map", m->id, m, max_entries);
        F("map", m->id, m, data_off);
        F("map", m->id, m, data_size);
        F("map", m->id, m, inner.type);
        F("map", m->id, m, inner.max_entries);
        if (m->type == BPFTIME_MAP_HASH) {
            struct shm_hash *hh = rt_ptr(r, m->data_off);
            F("hash", m->id, hh, n_buckets);
            F("hash", m->id, hh, buckets_off);
            F("hash", m->id, hh, elems_off);
            F("hash", m->id, hh, free_head);
            uint64_t *b = rt_ptr(r, hh->buckets_off);
            for (uint32_t k = 0; k < hh->n_buckets; k++)
                if (!(b[k] & 1)) {
                    field("hash", m->id, "bucket", &b[k], 8);
                    struct shm_hash_elem *e = rt_ptr(r, b[k]);
                    field("hash", m->id, "elem.next", &e->next, 8);
                    break;
                }
        }
        if (m->type == BPFTIME_MAP_RINGBUF)
            ring_fields("ringbuf", m->id, rt_ptr(r, m->data_off));
        if (m->type == BPFTIME_MAP_BLOOM_FILTER) {
            struct shm_bloom *b = rt_ptr(r, m->data_off);
            F("bloom", m->id, b, nr_hash_funcs);
            F("bloom", m->id, b, bitset_mask);
        }
    }
    for (uint32_t i = 0; i < r->table_cap[KIND_TARGET]; i++) {
        struct shm_target *tg = table_slot(r, KIND_TARGET, i);
        if (!tg->id)
            continue;
        F("target", tg->id, tg, arg_off);
        F("target", tg->id, tg, arg_len);
    }
    for (uint32_t i = 0; i < r->table_cap[KIND_LINK]; i++) {
        struct shm_link *l = table_slot(r, KIND_LINK, i);
        if (!l->id)
            continue;
        F("link", l->id, l, prog_id);
        F("link", l->id, l, target_id);
    }
    for (uint32_t i = 0; i < r->table_cap[KIND_INSTANCE]; i++) {
        struct shm_instance *in = table_slot(r, KIND_INSTANCE, i);
        if (!in->id)
            continue;
        F("instance", in->id, in, nr_held_maps);
        F("instance", in->id, in, held_overflow);
    }
    for (uint32_t i = 0; i < r->table_cap[KIND_PIN]; i++) {
        struct shm_pin *pn = table_slot(r, KIND_PIN, i);
        if (!pn->id)
            continue;
        F("pin", pn->id, pn, kind);
        F("pin", pn->id, pn, obj_id);
    }
    bpftime_region_close(r);
    return 0;
}
