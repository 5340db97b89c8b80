/* The Internet checksum (RFC 1071) of every 64-byte block as if it were a
 * packet: 16-bit big-endian words summed with end-around carry, folded and
 * complemented; the checksums are combined. */
#include "bench_prog.h"

PROG(inetcsum)
{
    u64 acc = 0;
    for (u64 off = 0; off + 64 <= len; off += 64) {
        u32 sum = 0;
        for (int i = 0; i < 64; i += 2)
            sum += ((u32)mem[off + i] << 8) | mem[off + i + 1];
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        acc = acc * 65599 + (u16)~sum;
    }
    return acc;
}
