#!/usr/bin/env bash
# Builds one nginx dynamic module against the INSTALLED Debian nginx.
#
#   nginx/build-module.sh MODULE_DIR BUILD_DIR MODULE_NAME
#
# MODULE_DIR holds the module's `config` and sources; the result is
# BUILD_DIR/MODULE_NAME.so. The Debian way (as dh-nginx does for the
# libnginx-mod-* packages): copy /usr/share/nginx/src (package nginx-dev) to
# BUILD_DIR/nginx-src, run its ./configure with the flags the installed
# binary was built with (conf_flags, which include --with-compat, so the
# module's signature matches /usr/sbin/nginx and `load_module` accepts it)
# plus --add-dynamic-module, then `make modules`.
#
# Idempotent and quick when up to date: the source copy is refreshed only when
# the installed nginx-dev changes, ./configure runs only when its arguments,
# the module's config or the environment the config reads changed, and make
# rebuilds only what changed. Used by nginx/build.sh and bench/nginx/build.sh.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 MODULE_DIR BUILD_DIR MODULE_NAME" >&2
    exit 2
fi
module_dir=$(cd "$1" && pwd)
mkdir -p "$2"
build_dir=$(cd "$2" && pwd)
name=$3

nginx_src=${NGINX_SRC:-/usr/share/nginx/src}
if [ ! -f "$nginx_src/configure" ] || [ ! -f "$nginx_src/conf_flags" ]; then
    echo "error: nginx source tree $nginx_src not found: install it with \`apt-get install nginx-dev\`" >&2
    exit 1
fi

tree=$build_dir/nginx-src
log=$build_dir/build.log

# Several test runs may build at once: one builder per BUILD_DIR at a time.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$build_dir/.lock"
    flock 9
fi

# 1. Private copy of the source tree (configure writes objs/ and Makefile into it).
src_stamp="$(stat -c '%Y %s' "$nginx_src/configure" "$nginx_src/conf_flags" "$nginx_src/src/core/nginx.h" | tr '\n' ' ')"
if [ ! -f "$tree/.bpftime-src-stamp" ] || [ "$(cat "$tree/.bpftime-src-stamp")" != "$src_stamp" ]; then
    rm -rf "$tree"
    mkdir -p "$tree"
    cp -a "$nginx_src/." "$tree/"
    printf '%s' "$src_stamp" >"$tree/.bpftime-src-stamp"
fi

# 2. configure, with the installed binary's flags. conf_flags is a bash array
# definition (NGX_CONF_FLAGS=( ... )). The compiler/linker options are the
# Debian build flags (dpkg-buildflags), as used for the packaged modules.
# shellcheck disable=SC1091
source "$nginx_src/conf_flags"
args=("${NGX_CONF_FLAGS[@]}"
    "--with-cc-opt=-g -O2 -fstack-protector-strong -Wformat -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2"
    "--with-ld-opt=-Wl,-z,relro -Wl,-z,now -fPIC"
    "--add-dynamic-module=$module_dir")
cfg_stamp="$(printf '%s\n' "${args[@]}"; sha256sum "$module_dir/config"; echo "BPFTIME_SS_LIB_DIR=${BPFTIME_SS_LIB_DIR:-}")"
if [ ! -f "$tree/objs/Makefile" ] || [ ! -f "$tree/.bpftime-cfg-stamp" ] ||
    [ "$(cat "$tree/.bpftime-cfg-stamp")" != "$cfg_stamp" ]; then
    rm -f "$tree/.bpftime-cfg-stamp"
    if ! (cd "$tree" && ./configure "${args[@]}") >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "error: nginx ./configure failed for $name (full log: $log)" >&2
        exit 1
    fi
    printf '%s' "$cfg_stamp" >"$tree/.bpftime-cfg-stamp"
fi

# 3. make modules (only the dynamic modules are compiled).
if ! make -C "$tree" -f objs/Makefile -j"$(nproc 2>/dev/null || echo 2)" modules >"$log" 2>&1; then
    grep -E 'error|undefined' "$log" | head -n 30 >&2 || tail -n 30 "$log" >&2
    echo "error: building $name failed (full log: $log)" >&2
    exit 1
fi

out=$build_dir/$name.so
if ! cmp -s "$tree/objs/$name.so" "$out"; then
    # Replace atomically: a running nginx may have the old file mapped.
    cp "$tree/objs/$name.so" "$out.tmp"
    mv -f "$out.tmp" "$out"
fi
echo "$out"
