/* Insertion sort of 128 u32 keys: copied from the start of the buffer into
 * a scratch area at its end (so every run sorts the same input), sorted
 * there, then hashed. */
#include "bench_prog.h"

#define N 128

PROG(isort)
{
    if (len < 2048)
        return 0;
    u32 *a = (u32 *)(mem + len - N * 4);
    for (int i = 0; i < N; i++)
        a[i] = load32(mem + i * 4);
    for (int i = 1; i < N; i++) {
        u32 v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
    u64 h = 0;
    for (int i = 0; i < N; i++)
        h = h * 31 + a[i];
    return h;
}
