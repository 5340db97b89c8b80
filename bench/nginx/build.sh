#!/usr/bin/env bash
# Builds the benchmark's baseline module (bench/nginx/baseline, a native C
# prefix filter) against the installed Debian nginx, exactly like the bpftime
# module (nginx/build-module.sh), and the bpftime module itself:
#
#   bash bench/nginx/build.sh
#     -> bench/build/nginx/ngx_http_prefix_filter_module.so
#     -> nginx/build/ngx_http_bpftime_module.so
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bash "$repo/nginx/build-module.sh" "$here/baseline" "$repo/bench/build/nginx" ngx_http_prefix_filter_module
bash "$repo/nginx/build.sh"
