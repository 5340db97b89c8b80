/* The kernel's jhash and jhash2 (include/linux/jhash.h: Bob Jenkins'
 * lookup3), bit for bit: the bloom filter and the stack trace map choose
 * bits and buckets with them, so their behaviour (false positives, stack
 * ids) is the kernel's for the same input and seed. */
#include "runtime/runtime_internal.h"

#define JHASH_INITVAL 0xdeadbeefu

static inline uint32_t rol32(uint32_t w, unsigned s)
{
    return (w << s) | (w >> (32 - s));
}

#define JHASH_MIX(a, b, c) \
    do { \
        a -= c; \
        a ^= rol32(c, 4); \
        c += b; \
        b -= a; \
        b ^= rol32(a, 6); \
        a += c; \
        c -= b; \
        c ^= rol32(b, 8); \
        b += a; \
        a -= c; \
        a ^= rol32(c, 16); \
        c += b; \
        b -= a; \
        b ^= rol32(a, 19); \
        a += c; \
        c -= b; \
        c ^= rol32(b, 4); \
        b += a; \
    } while (0)

#define JHASH_FINAL(a, b, c) \
    do { \
        c ^= b; \
        c -= rol32(b, 14); \
        a ^= c; \
        a -= rol32(c, 11); \
        b ^= a; \
        b -= rol32(a, 25); \
        c ^= b; \
        c -= rol32(b, 16); \
        a ^= c; \
        a -= rol32(c, 4); \
        b ^= a; \
        b -= rol32(a, 14); \
        c ^= b; \
        c -= rol32(b, 24); \
    } while (0)

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* jhash(): bytes */
uint32_t bpftime_jhash(const void *key, uint32_t length, uint32_t initval)
{
    const uint8_t *k = key;
    uint32_t a, b, c;
    a = b = c = JHASH_INITVAL + length + initval;
    while (length > 12) {
        a += get32(k);
        b += get32(k + 4);
        c += get32(k + 8);
        JHASH_MIX(a, b, c);
        length -= 12;
        k += 12;
    }
    if (length == 0)
        return c;
    uint32_t t[3] = {0, 0, 0};
    for (uint32_t i = 0; i < length; i++)
        t[i / 4] += (uint32_t)k[i] << (8 * (i % 4));
    a += t[0];
    b += t[1];
    c += t[2];
    JHASH_FINAL(a, b, c);
    return c;
}

/* jhash2(): 32-bit words (value_size a multiple of 4) */
uint32_t bpftime_jhash2(const void *key, uint32_t words, uint32_t initval)
{
    const uint8_t *k = key;
    uint32_t a, b, c;
    a = b = c = JHASH_INITVAL + (words << 2) + initval;
    while (words > 3) {
        a += get32(k);
        b += get32(k + 4);
        c += get32(k + 8);
        JHASH_MIX(a, b, c);
        words -= 3;
        k += 12;
    }
    switch (words) {
    case 3: c += get32(k + 8); /* fall through */
    case 2: b += get32(k + 4); /* fall through */
    case 1:
        a += get32(k);
        JHASH_FINAL(a, b, c);
        break;
    default: break;
    }
    return c;
}
