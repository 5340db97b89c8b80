#!/bin/sh
# uprobe benchmark: builds bench/uprobe/uprobe_bench.c against libbpftime.so
# into bench/build/uprobe and runs it (ns per call of an empty function:
# unhooked, bpftime uprobe / uretprobe / both, 8 threads on one uprobe, the
# trap path on a 4-byte function, kernel uprobes the same ways when allowed —
# root or CAP_BPF+CAP_PERFMON), then bench/uprobe/patcher_bench.c (the inline
# hook alone, no program). Each figure is the minimum ns/call over short
# rounds (the machine may be shared). Measures, asserts nothing.
#   bench/uprobe/run.sh [CALLS]      (default 2000000 per row, x10 unhooked)
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/build/uprobe"
mkdir -p "$out"
make -s -C "$root/native" >&2
# Linked with the core objects, not libbpftime.so: the attach manager and the
# uprobe implementation are not exported from the library (-fvisibility=hidden).
# shellcheck disable=SC2046
${CC:-cc} -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
    -I"$root/native" -I"$root/native/include" -o "$out/uprobe_bench" \
    "$root/bench/uprobe/uprobe_bench.c" \
    "$root"/native/build/obj/common/*.o "$root"/native/build/obj/vm/*.o \
    "$root"/native/build/obj/runtime/*.o "$root"/native/build/obj/attach/*.o \
    "$root"/native/build/obj/patcher/*.o $(pkg-config --libs capstone) -lpthread -ldl -lrt -lm
"$out/uprobe_bench" "$@"

# The inline hook alone (patcher, no program): ns per call added on entry.
# shellcheck disable=SC2046
${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$root/native" -I"$root/native/include" \
    $(pkg-config --cflags capstone) -o "$out/patcher_bench" "$root/bench/uprobe/patcher_bench.c" \
    "$root"/native/patcher/[a-z]*.c "$root/native/common/log.c" "$root/native/common/error.c" \
    $(pkg-config --libs capstone) -lpthread -ldl
echo
exec "$out/patcher_bench"
