#!/usr/bin/env bash
# Fetches a current ClickHouse engine for the tests: chDB's libchdb.so
# (ClickHouse 26.5, self-contained) from the npm registry, once, into
# ~/.cache/tessera, and prints the folder that holds it. No current
# ClickHouse server package is reachable here; the embedded engine is, and
# the `chdb` build-tagged test in sql/ runs every migration, view and report
# query through it (make test).
# Usage: scripts/chdb.sh   (installs npm from Debian's packages when missing)
set -euo pipefail

version=26.5.3
cache=${XDG_CACHE_HOME:-$HOME/.cache}/tessera
dir=$cache/chdb-$version

log() { printf 'chdb: %s\n' "$*" >&2; }
die() { printf 'chdb: error: %s\n' "$*" >&2; exit 1; }

if [ ! -s "$dir/libchdb.so" ]; then
  missing=()
  command -v npm >/dev/null || missing+=(npm)
  command -v gcc >/dev/null || missing+=(gcc)
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them as root (apt-get install ${missing[*]})"
    log "installing ${missing[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  log "fetching @chdb/lib-linux-x64-gnu@$version from the npm registry (167 MB, once)"
  (cd "$tmp" && npm pack --silent "@chdb/lib-linux-x64-gnu@$version" >/dev/null) || die "npm pack @chdb/lib-linux-x64-gnu@$version failed"
  tar -xzf "$tmp"/chdb-lib-linux-x64-gnu-"$version".tgz -C "$tmp" package/libchdb.so || die "the package holds no libchdb.so"
  mkdir -p "$dir"
  mv "$tmp/package/libchdb.so" "$dir/libchdb.so.part"
  mv "$dir/libchdb.so.part" "$dir/libchdb.so"
fi
echo "$dir"
