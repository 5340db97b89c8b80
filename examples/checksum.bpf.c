// A compute example for `bpftime run`: the Internet checksum (RFC 1071)
// over an XDP packet, returned as the program's value. Runs the same in the
// kernel through BPF_PROG_TEST_RUN.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_BYTES 1500

SEC("xdp")
int checksum(struct xdp_md *ctx)
{
    const __u8 *data = (const __u8 *)(long)ctx->data;
    const __u8 *end = (const __u8 *)(long)ctx->data_end;
    __u32 sum = 0;

    for (int i = 0; i < MAX_BYTES; i += 2) {
        if (data + i + 2 > end) {
            if (data + i + 1 <= end)
                sum += (__u32)data[i] << 8;
            break;
        }
        sum += ((__u32)data[i] << 8) | data[i + 1];
    }
    /* At most 750 16-bit words: two folds bring the sum under 0x10000. */
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return ~sum & 0xffff;
}

char LICENSE[] SEC("license") = "GPL";
