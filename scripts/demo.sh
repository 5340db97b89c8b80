#!/usr/bin/env bash
# The README's main job: set everything up, then run the nginx URL-filter demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node_modules/.bin/bun scripts/demo.ts
