#!/bin/sh
# Map operations as maps grow: hash and LRU hash maps of 1k, 100k and 1M
# entries, bpftime beside the kernel, the same object run the same way on
# both sides (see bench/maps-scale/bench.ts). Builds one object per
# (type, size) from scale.bpf.c into bench/build/maps-scale.
#   bench/maps-scale/run.sh [--rounds 3] [--repeat 1000] [--sizes 1000,100000,1000000] [--json]
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/build/maps-scale"
mkdir -p "$out"
CLANG=${CLANG:-clang}
for type in HASH LRU_HASH; do
    for n in 1000 100000 1000000; do
        "$CLANG" -O2 -g -target bpf -DMAP_TYPE=BPF_MAP_TYPE_$type -DMAX_ENTRIES=$n \
            -I/usr/include/"$(uname -m)"-linux-gnu -Wall -Werror \
            -c "$root/bench/maps-scale/scale.bpf.c" -o "$out/$(echo $type | tr A-Z a-z)-$n.bpf.o"
    done
done
PATH="$root/node_modules/.bin:$PATH"
exec bun "$root/bench/maps-scale/bench.ts" "$@"
