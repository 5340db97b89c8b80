/* Binary search: the first KiB read as 256 u32 and turned into a sorted
 * table by prefix sums (in a scratch area at the end of the buffer), then
 * 256 lower_bound searches for keys taken from the second KiB. */
#include "bench_prog.h"

PROG(bsearch)
{
    if (len < 2048)
        return 0;
    u32 *tab = (u32 *)(mem + len - 1024);
    u32 sum = 0;
    for (int i = 0; i < 256; i++) {
        sum += load32(mem + i * 4) & 0xffffff;
        tab[i] = sum;
    }
    u64 acc = 0;
    for (int q = 0; q < 256; q++) {
        u32 key = load32(mem + 1024 + q * 2) % (sum + 1);
        u32 lo = 0, hi = 256;
        while (lo < hi) {
            u32 mid = (lo + hi) / 2;
            if (tab[mid] < key)
                lo = mid + 1;
            else
                hi = mid;
        }
        acc = acc * 257 + lo;
    }
    return acc;
}
