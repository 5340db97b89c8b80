#!/bin/sh
# Builds the map-helper benchmark programs (bench/maps/progs/*.bpf.c) into
# bench/build/maps and runs bench/maps/bench.ts: ns per map helper call in
# bpftime and in the kernel (BPF_PROG_TEST_RUN), and their ratio, measured in
# one run. Not part of `bun test`: it measures, it does not assert timings.
#   bench/maps/run.sh [--rounds 5] [--repeat 20000] [--engine jit|interp] [--json]
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/build/maps"
mkdir -p "$out"
CLANG=${CLANG:-clang}
for src in "$root"/bench/maps/progs/*.bpf.c; do
    n=$(basename "$src" .c)
    "$CLANG" -O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$root/native/include" \
        -I/usr/include/"$(uname -m)"-linux-gnu -Wall -Werror -c "$src" -o "$out/$n.o"
done
PATH="$root/node_modules/.bin:$PATH"
exec bun "$root/bench/maps/bench.ts" "$@"
