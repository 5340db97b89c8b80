#!/bin/sh
# Ringbuf throughput with 1 and 4 producer processes: one libbpf application
# (ringbuf_bench.c) run on the kernel's ringbuf and under `bpftime load --`
# (the syscall server answers its bpf() calls from a region), same binary,
# same run. Prints records/s consumed and records dropped for a full ring.
#   bench/ringbuf/run.sh [--rounds 3] [--records 2000000]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/build/ringbuf"
mkdir -p "$out"
clang -O2 -g -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -Wall -Werror \
    -c "$root/bench/ringbuf/ringbuf_bench.bpf.c" -o "$out/ringbuf_bench.bpf.o"
cc -O2 -Wall -Wextra -Werror -o "$out/ringbuf_bench" "$root/bench/ringbuf/ringbuf_bench.c" -lbpf
exec "$root/node_modules/.bin/bun" "$root/bench/ringbuf/run.ts" "$@"
