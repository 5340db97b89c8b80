#!/bin/sh
# Builds the VM benchmark (eBPF programs, their kernel variants, the harness
# with native baselines) into bench/build/vm and runs it. Not part of
# `make test`: it measures, it does not assert timings.
#   bench/vm/run.sh [program...]
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/build/vm"
mkdir -p "$out"
CLANG=${CLANG:-clang}
OBJCOPY=${OBJCOPY:-llvm-objcopy}
for src in "$root"/bench/vm/progs/*.bpf.c; do
    n=$(basename "$src" .bpf.c)
    "$CLANG" -O2 -target bpf -mcpu=v3 -c "$src" -o "$out/$n.o"
    "$OBJCOPY" -O binary --only-section=.text "$out/$n.o" "$out/$n.bin"
    "$CLANG" -O2 -target bpf -mcpu=v3 -DBENCH_KERNEL -c "$src" -o "$out/$n.k.o"
    "$OBJCOPY" -O binary --only-section=xdp "$out/$n.k.o" "$out/$n.k.bin"
done
# the LLVM tier's blobs (<name>.llvm, or <name>.llvm.err with the reason)
"${BUN:-$root/node_modules/.bin/bun}" "$root/bench/vm/llvm-blobs.ts" "$out"
# BENCH_VM_DUMP=1 writes each program's JIT code to $out/<name>.jit (see vm_bench.c)
# native baselines: the same sources, clang -O2 (the compiler that made the eBPF)
"$CLANG" -O2 -std=c11 -D_GNU_SOURCE -fno-strict-aliasing -Wall -Wextra -Werror \
    -I"$root/native" -I"$root/native/include" -I"$root/bench/vm" -o "$out/vm_bench" \
    "$root/bench/vm/vm_bench.c" "$root"/native/vm/*.c "$root"/native/common/*.c $(pkg-config --cflags --libs capstone 2>/dev/null || echo -lcapstone) -lm -lpthread
exec "$out/vm_bench" "$out" "$@"
