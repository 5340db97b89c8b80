/* A packet parser with a bounds check before every read: the buffer is a
 * capture of back-to-back packets, each behind a 2-byte little-endian
 * length (written by prepare_pktparse below). Every packet is parsed as
 * Ethernet (optionally one VLAN tag) / IPv4 (options, fragments) / TCP
 * (options: MSS, window scale, SACK-permitted, timestamps) or UDP, and the
 * program counts SYNs, sums payload bytes, folds the 5-tuples into a hash
 * and counts what it could not parse. */
#include "bench_prog.h"

INLINE u32 pkt_be16(const u8 *p)
{
    return (u32)p[0] << 8 | p[1];
}

INLINE u32 pkt_be32(const u8 *p)
{
    return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

PROG(pktparse)
{
    u64 off = 0, syns = 0, payload = 0, flows = 0, bad = 0, other = 0, mss_sum = 0;
    while (off + 2 <= len) {
        u64 plen = mem[off] | (u64)mem[off + 1] << 8;
        const u8 *p = mem + off + 2;
        if (off + 2 + plen > len)
            break;
        off += 2 + plen;

        if (plen < 14) {
            bad++;
            continue;
        }
        u32 proto = pkt_be16(p + 12);
        u64 l3 = 14;
        if (proto == 0x8100) {
            if (plen < 18) {
                bad++;
                continue;
            }
            proto = pkt_be16(p + 16);
            l3 = 18;
        }
        if (proto != 0x0800) {
            other++;
            continue;
        }
        if (l3 + 20 > plen || (p[l3] >> 4) != 4) {
            bad++;
            continue;
        }
        u64 ihl = (p[l3] & 15) * 4;
        if (ihl < 20 || l3 + ihl > plen || pkt_be16(p + l3 + 2) + l3 > plen) {
            bad++;
            continue;
        }
        if (pkt_be16(p + l3 + 6) & 0x1fff) { /* not the first fragment */
            other++;
            continue;
        }
        u32 ipproto = p[l3 + 9];
        u32 saddr = pkt_be32(p + l3 + 12), daddr = pkt_be32(p + l3 + 16);
        u64 l4 = l3 + ihl;
        u32 sport, dport;
        if (ipproto == 6) {
            if (l4 + 20 > plen) {
                bad++;
                continue;
            }
            sport = pkt_be16(p + l4);
            dport = pkt_be16(p + l4 + 2);
            u64 doff = (p[l4 + 12] >> 4) * 4;
            u32 flags = p[l4 + 13];
            if (doff < 20 || l4 + doff > plen) {
                bad++;
                continue;
            }
            if ((flags & 0x02) && !(flags & 0x10))
                syns++;
            for (u64 o = l4 + 20; o < l4 + doff;) {
                u32 kind = p[o];
                if (kind == 0)
                    break;
                if (kind == 1) {
                    o++;
                    continue;
                }
                if (o + 2 > l4 + doff)
                    break;
                u64 olen = p[o + 1];
                if (olen < 2 || o + olen > l4 + doff)
                    break;
                if (kind == 2 && olen == 4)
                    mss_sum += pkt_be16(p + o + 2);
                else if (kind == 8 && olen == 10)
                    mss_sum ^= pkt_be32(p + o + 2);
                o += olen;
            }
            payload += plen - l4 - doff;
        } else if (ipproto == 17) {
            if (l4 + 8 > plen) {
                bad++;
                continue;
            }
            sport = pkt_be16(p + l4);
            dport = pkt_be16(p + l4 + 2);
            payload += plen - l4 - 8;
        } else {
            other++;
            continue;
        }
        u64 t = ((u64)saddr << 32 | daddr) ^ ((u64)sport << 16 | dport) ^ ((u64)ipproto << 56);
        t *= 0x9e3779b97f4a7c15ULL;
        flows ^= t ^ (t >> 29);
    }
    return flows ^ (syns << 40) ^ (payload << 20) ^ (bad << 12) ^ (other << 4) ^ mss_sum;
}

#ifndef __bpf__
/* The capture: TCP SYNs with options, TCP data, UDP, VLAN-tagged packets,
 * IPv6 (not parsed), fragments and a few truncated ones, from a fixed seed. */
static void prepare_pktparse(u8 *buf, u64 len)
{
    u64 x = 0x9e3779b97f4a7c15ULL, off = 0;
    memset(buf, 0, len);
    for (;;) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        u8 p[128];
        memset(p, 0, sizeof p);
        u64 n = 0, kind = x % 16;
        memcpy(p, "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb", 12);
        n = 12;
        if (kind == 3) { /* VLAN */
            p[n++] = 0x81, p[n++] = 0x00, p[n++] = 0x00, p[n++] = (u8)(x >> 8);
        }
        if (kind == 5) { /* IPv6: counted as other */
            p[n++] = 0x86, p[n++] = 0xdd;
            n += 40 + (x >> 20) % 20;
        } else {
            p[n++] = 0x08, p[n++] = 0x00;
            u64 ip = n, ihl = kind == 7 ? 24 : 20, tcp = kind % 3 != 2;
            u64 l4len = tcp ? (kind % 4 == 0 ? 40 : 20) : 8;
            u64 data = (x >> 24) % 48;
            u64 tot = ihl + l4len + data;
            p[ip] = 0x40 | (u8)(ihl / 4);
            p[ip + 2] = (u8)(tot >> 8), p[ip + 3] = (u8)tot;
            if (kind == 11)
                p[ip + 7] = 0x40; /* a later fragment */
            p[ip + 8] = 64;
            p[ip + 9] = tcp ? 6 : 17;
            for (int i = 12; i < 20; i++)
                p[ip + i] = (u8)(x >> (i * 3));
            u64 l4 = ip + ihl;
            p[l4] = (u8)(x >> 40), p[l4 + 1] = (u8)(x >> 48);
            p[l4 + 2] = 0x01, p[l4 + 3] = 0xbb;
            if (tcp) {
                p[l4 + 12] = (u8)((l4len / 4) << 4);
                p[l4 + 13] = kind % 4 == 0 ? 0x02 : 0x18;
                if (l4len == 40) /* MSS, SACK-permitted, timestamps, NOP, window scale */
                    memcpy(p + l4 + 20,
                           "\x02\x04\x05\xb4\x04\x02\x08\x0a\x12\x34\x56\x78\x00\x00\x00\x00"
                           "\x01\x03\x03\x07",
                           20);
            }
            n = l4 + l4len + data;
        }
        if (kind == 9)
            n = 30; /* truncated IPv4 header */
        if (off + 2 + n > len)
            break;
        buf[off] = (u8)n, buf[off + 1] = (u8)(n >> 8);
        memcpy(buf + off + 2, p, n);
        off += 2 + n;
    }
}
#endif
