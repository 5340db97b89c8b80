/* Sorting network: each 64-byte block of the buffer is read as 16 u32 keys
 * into a local array, sorted with Batcher's odd-even merge network (63
 * compare-exchanges written out), and folded into a hash. The buffer is not
 * modified. */
#include "bench_prog.h"

#define SORTNET_CX(i, j) \
    do { \
        if (k[i] > k[j]) { \
            u32 sortnet_t = k[i]; \
            k[i] = k[j]; \
            k[j] = sortnet_t; \
        } \
    } while (0)

PROG(sortnet)
{
    u64 h = 0;
    for (u64 off = 0; off + 64 <= len; off += 64) {
        u32 k[16];
        for (int i = 0; i < 16; i++)
            k[i] = load32(mem + off + i * 4);
        SORTNET_CX(0, 1);
        SORTNET_CX(2, 3);
        SORTNET_CX(4, 5);
        SORTNET_CX(6, 7);
        SORTNET_CX(8, 9);
        SORTNET_CX(10, 11);
        SORTNET_CX(12, 13);
        SORTNET_CX(14, 15);
        SORTNET_CX(0, 2);
        SORTNET_CX(1, 3);
        SORTNET_CX(4, 6);
        SORTNET_CX(5, 7);
        SORTNET_CX(8, 10);
        SORTNET_CX(9, 11);
        SORTNET_CX(12, 14);
        SORTNET_CX(13, 15);
        SORTNET_CX(1, 2);
        SORTNET_CX(5, 6);
        SORTNET_CX(9, 10);
        SORTNET_CX(13, 14);
        SORTNET_CX(0, 4);
        SORTNET_CX(1, 5);
        SORTNET_CX(2, 6);
        SORTNET_CX(3, 7);
        SORTNET_CX(8, 12);
        SORTNET_CX(9, 13);
        SORTNET_CX(10, 14);
        SORTNET_CX(11, 15);
        SORTNET_CX(2, 4);
        SORTNET_CX(3, 5);
        SORTNET_CX(10, 12);
        SORTNET_CX(11, 13);
        SORTNET_CX(1, 2);
        SORTNET_CX(3, 4);
        SORTNET_CX(5, 6);
        SORTNET_CX(9, 10);
        SORTNET_CX(11, 12);
        SORTNET_CX(13, 14);
        SORTNET_CX(0, 8);
        SORTNET_CX(1, 9);
        SORTNET_CX(2, 10);
        SORTNET_CX(3, 11);
        SORTNET_CX(4, 12);
        SORTNET_CX(5, 13);
        SORTNET_CX(6, 14);
        SORTNET_CX(7, 15);
        SORTNET_CX(4, 8);
        SORTNET_CX(5, 9);
        SORTNET_CX(6, 10);
        SORTNET_CX(7, 11);
        SORTNET_CX(2, 4);
        SORTNET_CX(3, 5);
        SORTNET_CX(6, 8);
        SORTNET_CX(7, 9);
        SORTNET_CX(10, 12);
        SORTNET_CX(11, 13);
        SORTNET_CX(1, 2);
        SORTNET_CX(3, 4);
        SORTNET_CX(5, 6);
        SORTNET_CX(7, 8);
        SORTNET_CX(9, 10);
        SORTNET_CX(11, 12);
        SORTNET_CX(13, 14);
        for (int i = 0; i < 16; i++)
            h = h * 31 + k[i];
    }
    return h;
}
