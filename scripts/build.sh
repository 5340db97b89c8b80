#!/usr/bin/env bash
# Builds the native libraries (make is incremental), the example eBPF
# programs, the nginx module, and dist/bpftime, the
# single binary with the native libraries embedded. Rebuilds the binary only
# when a source it embeds is newer than it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

make -s -C native -j"$(nproc)" >&2
make -s -C examples >&2
bash nginx/build.sh >/dev/null

out=dist/bpftime
if [[ -x $out ]] && [[ -z $(find src native/build package.json package-lock.json -newer "$out" \( -name '*.ts' -o -name '*.so' -o -name '*.json' -o -name '*.def' -o -name '*.h' -o -name '*.html' -o -name '*.css' \) -print -quit 2>/dev/null) ]] \
   && [[ -z $(find native -newer "$out" -name '*.def' -print -quit) ]]; then
  exit 0
fi
printf 'build: compiling %s\n' "$out" >&2
mkdir -p dist
bun build --compile --minify-syntax --sourcemap=none src/cli/main.ts --outfile "$out" >/dev/null
