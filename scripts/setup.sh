#!/usr/bin/env bash
# One-time (and every-time) set-up: Debian packages, npm packages, the native
# build and dist/bpftime. Idempotent: each step checks first and does nothing
# when its result is already there, so a second run takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------
# clang/llvm: eBPF target and objdump (clang-19 for ISA v4), libbpf-dev: headers
# for eBPF C programs, libcapstone-dev: the patcher's decoder, nginx + nginx-dev:
# the module is built against the installed nginx, wrk: the nginx benchmark,
# bpftool: the kernel baseline in tests and benches, llvm-19: llvm-objdump-19 for
# the ISA v4 disassembly tests, clang-format: the C style check, bpftrace: the
# unmodified-application tests (bpftime load -- bpftrace …), systemtap-sdt-dev:
# <sys/sdt.h> for the USDT tests, python3.11: a real binary with USDT probes,
# chromium: the web console's browser tests (driven by playwright-core),
# linux-perf: cycles per request in bench/nginx.
packages=(clang llvm clang-19 llvm-19 clang-format libbpf-dev libcapstone-dev nginx nginx-dev gcc make pkg-config curl wrk bpftool bpftrace systemtap-sdt-dev python3.11 chromium linux-perf)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bpftime setup: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- npm packages (Bun comes from npm as the `bun` package) ------------------
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.bpftime-lock-hash
if [[ ! -x node_modules/.bin/bun || ! -f $stamp || $(cat "$stamp") != "$lock_hash" ]]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_hash" >"$stamp"
fi
export PATH="$PWD/node_modules/.bin:$PATH"

# --- native libraries and the single binary ----------------------------------
bash scripts/build.sh
