/* Naive substring search: count the occurrences of an 8-byte pattern taken
 * from the buffer (text over a 4-letter alphabet, so partial matches are
 * frequent). */
#include "bench_prog.h"

PROG(strmatch)
{
    const u64 m = 8;
    const u8 *pat = mem + 1000;
    u64 count = 0;
    if (len < 1008)
        return 0;
    for (u64 i = 0; i + m <= len; i++) {
        u64 j = 0;
        while (j < m && mem[i + j] == pat[j])
            j++;
        if (j == m)
            count += i;
    }
    return count;
}
