#!/bin/sh
# Map lookups from an application: bpftime's syscall server (`bpftime load
# -- APP`, answered in-process from the region) against the kernel's bpf()
# syscall, same binary, same run. Prints ns per lookup and the ratio.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d /tmp/bpftime-bench-ss-XXXXXX)
trap 'rm -rf "$out"; "$root/node_modules/.bin/bun" "$root/src/cli/main.ts" shm remove --shm "bench-ss-$$" >/dev/null 2>&1 || true' EXIT
n=${BENCH_LOOKUPS:-1000000}
cc -O2 -o "$out/bench" "$root/bench/syscall-server/map_lookup_bench.c" -lbpf
"$root/node_modules/.bin/bun" "$root/src/cli/main.ts" load --shm "bench-ss-$$" -- "$out/bench" "$n" > "$out/bpftime.txt"
if "$out/bench" "$n" > "$out/kernel.txt" 2> "$out/kernel.err"; then :; else
    echo "kernel: bpf() unavailable here ($(head -n 1 "$out/kernel.err")): bpftime only"
    : > "$out/kernel.txt"
fi
printf '%-8s %14s %14s %8s\n' map "kernel ns/op" "bpftime ns/op" "speedup"
for m in hash array; do
    k=$(awk -v m=$m '$1 == m { print $2 }' "$out/kernel.txt")
    b=$(awk -v m=$m '$1 == m { print $2 }' "$out/bpftime.txt")
    awk -v m=$m -v k="${k:-}" -v b="$b" 'BEGIN {
        if (k == "") printf "%-8s %14s %14.1f %8s\n", m, "-", b, "-";
        else printf "%-8s %14.1f %14.1f %7.1fx\n", m, k, b, k / b }'
done
echo "($n lookups each through libbpf's bpf_map_lookup_elem; lower ns/op is better)"
