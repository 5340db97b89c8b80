/* Insertion sort of records in a map value: 48 {u32 key; u32 count}
 * records are copied from the buffer into a stack array (the map value a
 * program would have looked up), sorted by key with ties by count, and
 * the sorted order is hashed. */
#include "bench_prog.h"

struct isortrec_rec {
    u32 key;
    u32 count;
};

PROG(isortrec)
{
    struct isortrec_rec r[48];
    if (len < 48 * 8)
        return 0;
    for (int i = 0; i < 48; i++) {
        r[i].key = load32(mem + i * 8) & 0xffff;
        r[i].count = load32(mem + i * 8 + 4);
    }
    for (int i = 1; i < 48; i++) {
        struct isortrec_rec v = r[i];
        int j = i - 1;
        while (j >= 0 && (r[j].key > v.key || (r[j].key == v.key && r[j].count > v.count))) {
            r[j + 1] = r[j];
            j--;
        }
        r[j + 1] = v;
    }
    u64 h = 0;
    for (int i = 0; i < 48; i++)
        h = (h ^ r[i].key) * 0x100000001b3ULL + r[i].count;
    return h;
}
