/* Lookups over the map and program type tables (map_types.def,
 * prog_types.def): the same lines the enums in bpftime_runtime.h and the
 * TypeScript side (src/enums.ts) are made from. */
#include "runtime/bpftime_runtime.h"

#define MAP_F_IMPL BPFTIME_MAP_F_IMPL
#define MAP_F_PERCPU BPFTIME_MAP_F_PERCPU
#define MAP_F_KEYLESS BPFTIME_MAP_F_KEYLESS
#define MAP_F_STREAM BPFTIME_MAP_F_STREAM
#define MAP_F_OUTER BPFTIME_MAP_F_OUTER

const char *bpftime_map_type_name(uint32_t type)
{
    switch (type) {
#define BPF_MAP_TYPE(id, ENUM, name, flags) \
    case id: \
        return #name;
#include "runtime/map_types.def"
#undef BPF_MAP_TYPE
    default: return NULL;
    }
}

uint32_t bpftime_map_type_flags(uint32_t type)
{
    switch (type) {
#define BPF_MAP_TYPE(id, ENUM, name, flags) \
    case id: \
        return (flags);
#include "runtime/map_types.def"
#undef BPF_MAP_TYPE
    default: return 0;
    }
}

const char *bpftime_prog_type_name(uint32_t type)
{
    switch (type) {
#define BPF_PROG_TYPE(id, ENUM, name, runs) \
    case id: \
        return #name;
#define BPF_PROG_FLAVOUR(id, name)
#include "runtime/prog_types.def"
#undef BPF_PROG_TYPE
#undef BPF_PROG_FLAVOUR
    default: return NULL;
    }
}
