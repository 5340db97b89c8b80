/* Boyer-Moore-Horspool search: count (and sum the positions of) the
 * occurrences of a 12-byte pattern taken from the buffer, with the 256-entry
 * shift table built on the stack at every run. */
#include "bench_prog.h"

PROG(horspool)
{
    const u64 m = 12;
    u8 shift[256];
    if (len < 1500 + m)
        return 0;
    const u8 *pat = mem + 1500;
    for (int c = 0; c < 256; c++)
        shift[c] = m;
    for (u64 j = 0; j + 1 < m; j++)
        shift[pat[j]] = m - 1 - j;
    u64 count = 0, sum = 0;
    u64 i = 0;
    while (i + m <= len) {
        u8 last = mem[i + m - 1];
        if (last == pat[m - 1]) {
            u64 j = 0;
            while (j + 1 < m && mem[i + j] == pat[j])
                j++;
            if (j + 1 == m) {
                count++;
                sum += i;
            }
        }
        i += shift[last];
    }
    return (count << 32) + sum;
}
