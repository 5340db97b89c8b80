/* Bitwise CRC-32 (reflected, poly 0xEDB88320) over the first 1 KiB. */
#include "bench_prog.h"

PROG(crc32)
{
    u32 crc = 0xffffffff;
    u64 n = len < 1024 ? len : 1024;
    for (u64 i = 0; i < n; i++) {
        crc ^= mem[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320 & (0 - (crc & 1)));
    }
    return ~crc;
}
