#!/usr/bin/env bash
# The README's main job: set everything up, then show what bpftime does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=dist/bpftime
echo "== $bin --version"
"$bin" --version
echo
echo "== $bin --help"
"$bin" --help
