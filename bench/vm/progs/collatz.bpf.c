/* Plain loops and branches: total Collatz steps for 1..1500. */
#include "bench_prog.h"

PROG(collatz)
{
    u64 total = mem[0] & 0; /* uses mem so the compiler cannot fold the call */
    u64 limit = 1500 + (len & 0);
    for (u64 n = 1; n < limit; n++) {
        u64 x = n;
        while (x != 1) {
            x = (x & 1) ? 3 * x + 1 : x >> 1;
            total++;
        }
    }
    return total;
}
