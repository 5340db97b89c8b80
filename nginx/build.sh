#!/usr/bin/env bash
# Builds the bpftime nginx dynamic module against the installed Debian nginx:
#
#   bash nginx/build.sh        ->  nginx/build/ngx_http_bpftime_module.so
#
# Use it with `load_module /abs/path/nginx/build/ngx_http_bpftime_module.so;`
# in the main context of nginx.conf (see nginx/README.md).
#
# The module links libbpftime-syscall-server.so and finds it at run time
# through an absolute rpath fixed at build time:
#
#   BPFTIME_SS_LIB_DIR   directory holding libbpftime-syscall-server.so
#                        (absolute; default: native/build of this checkout,
#                        built by `make -C native`)
#
# Copying the module elsewhere keeps working as long as that directory does;
# to install both somewhere else, rebuild with BPFTIME_SS_LIB_DIR set to the
# library's final directory. Idempotent, quick when up to date.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

default_lib_dir=$repo/native/build
export BPFTIME_SS_LIB_DIR=${BPFTIME_SS_LIB_DIR:-$default_lib_dir}
case $BPFTIME_SS_LIB_DIR in
/*) ;;
*)
    echo "error: BPFTIME_SS_LIB_DIR must be an absolute path (got $BPFTIME_SS_LIB_DIR)" >&2
    exit 2
    ;;
esac

lib=$BPFTIME_SS_LIB_DIR/libbpftime-syscall-server.so
if [ ! -f "$lib" ] && [ "$BPFTIME_SS_LIB_DIR" = "$default_lib_dir" ]; then
    make -s -C "$repo/native" >&2 || true
fi
if [ ! -f "$lib" ]; then
    echo "error: $lib not found: build it with \`make -C native\` (or set BPFTIME_SS_LIB_DIR)" >&2
    exit 1
fi

exec bash "$here/build-module.sh" "$here" "$here/build" ngx_http_bpftime_module
